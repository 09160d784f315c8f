// Desk helpers: job progress polling (batch print, big imports) and reloading the
// delegate page after a print form opened its PDF in a new tab.
(function () {
  "use strict";

  function pollJob(box) {
    var url = box.getAttribute("data-status-url");
    var bar = document.getElementById("job-progress");
    var count = document.getElementById("job-count");
    var state = document.getElementById("job-state");
    var message = document.getElementById("job-message");
    var download = document.getElementById("job-download");
    var link = document.getElementById("job-download-link");
    var delay = 500;

    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) { throw new Error("HTTP " + r.status); }
          return r.json();
        })
        .then(function (job) {
          bar.value = job.percent;
          bar.textContent = job.percent + "%";
          count.textContent = job.done + " / " + job.total;
          state.textContent = job.state_label || job.state;
          message.textContent = job.message || "";
          if (job.state === "done" && job.download_url) {
            link.href = job.download_url;
            download.hidden = false;
          }
          if (job.finished) {
            // A finished import shows its report; a failed job its reason and "start again".
            if (job.kind === "import" || job.state === "failed") { window.location.reload(); }
            return;
          }
          setTimeout(tick, delay);
        })
        .catch(function (err) {
          message.textContent = (box.getAttribute("data-retry-text") || "Progress unavailable; retrying…") +
            " (" + err.message + ")";
          delay = Math.min(delay * 2, 5000);
          setTimeout(tick, delay);
        });
    }
    if (box.getAttribute("data-state") !== "done" && box.getAttribute("data-state") !== "failed") {
      tick();
    }
  }

  function reloadAfterSubmit(form) {
    form.addEventListener("submit", function () {
      // The PDF opens in a new tab; refresh this page so it shows the new status.
      setTimeout(function () { window.location.reload(); }, 1500);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("job");
    if (box && box.getAttribute("data-status-url")) { pollJob(box); }
    var forms = document.querySelectorAll("form[data-reload-after-submit]");
    for (var i = 0; i < forms.length; i++) { reloadAfterSubmit(forms[i]); }
  });
})();
