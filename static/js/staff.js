// The staff desk's small enhancements. Every page works without this script.
(function () {
  "use strict";

  // Forms with data-confirm ask before submitting (disable an account, sign out everywhere).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  // Signing out forgets the scanner's offline copy of the delegate list (names on a shared
  // phone), but keeps scans still waiting to be synced: they are not personal data and
  // must not be lost.
  document.querySelectorAll("form.sign-out").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented) return; // "sign out everywhere?" answered no
      try {
        Object.keys(localStorage).forEach(function (key) {
          if (key === "checkin.snapshot" || key.indexOf("checkin.admitted.") === 0) {
            localStorage.removeItem(key);
          }
        });
      } catch (e) { /* storage unavailable: nothing kept */ }
      // The scanner's service worker (checkin-sw.js) keeps the page and the list too.
      if (window.caches && !form.dataset.cachesCleared) {
        event.preventDefault();
        var send = function () { form.dataset.cachesCleared = "1"; form.submit(); };
        // ... and the scanner page keeps the delegates' photo thumbnails (scanner.js).
        Promise.all(["checkin-private-v1", "checkin-photos-v1"].map(function (name) {
          return window.caches.delete(name);
        })).then(send, send);
      }
    });
  });

  // "Select all on this page" for the bulk actions.
  document.querySelectorAll("input.select-all").forEach(function (all) {
    var form = all.closest("form");
    var boxes = form.querySelectorAll('input[name="selected"]');
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
      updateCount(form);
    });
    boxes.forEach(function (box) {
      box.addEventListener("change", function () { updateCount(form); });
    });
    updateCount(form);
  });

  function updateCount(form) {
    var n = form.querySelectorAll('input[name="selected"]:checked').length;
    form.querySelectorAll(".bulk-actions button").forEach(function (button) {
      button.disabled = n === 0;
      var base = button.getAttribute("data-label") || button.textContent;
      button.setAttribute("data-label", base);
      button.textContent = n ? base + " (" + n + ")" : base;
    });
  }

  // Bulk reject needs a reason: say so before sending the form.
  document.querySelectorAll("button[data-needs-reason]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      var input = document.getElementById(button.getAttribute("data-needs-reason"));
      if (input && !input.value.trim()) {
        event.preventDefault();
        input.setCustomValidity(input.labels && input.labels[0] ? input.labels[0].textContent : "");
        input.reportValidity();
        input.focus();
        input.addEventListener("input", function () { input.setCustomValidity(""); },
                               { once: true });
      }
    });
  });

  // The printing partial opens the PDF in a new tab; reload this page so it shows "printed".
  document.querySelectorAll("form[data-reload-after-submit]").forEach(function (form) {
    form.addEventListener("submit", function () {
      window.setTimeout(function () { window.location.reload(); }, 1500);
    });
  });
})();
