// Printers page: each printer's live state; print job page: the job's state until the
// printer reports it completed or failed.
(function () {
  "use strict";

  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); });
  }

  var table = document.getElementById("printers");
  if (table) {
    var refresh = function () {
      getJson(table.getAttribute("data-status-url")).then(function (data) {
        data.printers.forEach(function (p) {
          var row = table.querySelector('tr[data-printer="' + p.id + '"] .printer-state');
          if (row) {
            row.textContent = p.state_label + (p.reasons_label ? " (" + p.reasons_label + ")" : "");
            row.className = "printer-state " + (p.ready ? "ok" : "error");
          }
        });
      }).catch(function () { /* next round */ }).then(function () { setTimeout(refresh, 5000); });
    };
    refresh();
  }

  var box = document.getElementById("print-job");
  if (box && box.getAttribute("data-state") === "sent") {
    var poll = function () {
      getJson(box.getAttribute("data-status-url")).then(function (job) {
        document.getElementById("print-job-state").textContent = job.state_label;
        var message = document.getElementById("print-job-message");
        message.textContent = job.message || "";
        if (job.state === "failed") {
          message.className = "error";
          document.getElementById("print-job-failed").hidden = false;
        }
        if (job.state === "sent") { setTimeout(poll, 700); }
      }).catch(function () { setTimeout(poll, 2000); });
    };
    setTimeout(poll, 300);
  }
})();

// Batch to a printer: rendering and printing progress side by side.
(function () {
  "use strict";
  var box = document.getElementById("print-batch");
  if (!box) { return; }
  var poll = function () {
    fetch(box.getAttribute("data-status-url"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (b) {
        document.getElementById("batch-rendered").value = b.rendered;
        document.getElementById("batch-rendered-count").textContent = b.rendered + " / " + b.total;
        document.getElementById("batch-printed").value = b.printed;
        document.getElementById("batch-printed-count").textContent = b.printed + " / " + b.total;
        document.getElementById("batch-state").textContent = b.state_label;
        document.getElementById("batch-message").textContent = b.message || b.error || "";
        if (b.state === "queued" || b.state === "running") { setTimeout(poll, 700); }
      }).catch(function () { setTimeout(poll, 2000); });
  };
  setTimeout(poll, 300);
})();
