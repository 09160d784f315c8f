// The badge-name hint shows how a long name will print, as computed by the server for the
// name last submitted. Once the name is edited that preview is out of date: hide it.
(function () {
  "use strict";
  var preview = document.querySelector(".badge-name-preview");
  if (!preview) return;
  ["given_name", "family_name", "honorific", "badge_name"].forEach(function (id) {
    var el = document.getElementById(id);
    if (!el) return;
    el.addEventListener(el.tagName === "SELECT" ? "change" : "input", function () {
      preview.hidden = true;
    });
  });
})();
