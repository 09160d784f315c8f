// After a failed submit the page opens with an error summary: move the focus to it, so a
// keyboard or screen reader user hears how many problems there are, and make each of its
// links put the focus in the field it names (not only scroll to it).
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (!summary) return;
  summary.focus();
  summary.querySelectorAll("a[href^='#']").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) return;
      event.preventDefault();
      target.focus();
      target.scrollIntoView({ block: "center" });
    });
  });
})();
