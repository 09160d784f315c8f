// Progressive enhancement of the delegate form: without this script every category's
// fieldset shows and the server uses only the chosen one.
(function () {
  "use strict";
  var form = document.querySelector(".delegate-form");
  if (!form) return;

  // Show only the chosen category's fields.
  var radios = form.querySelectorAll('input[name="category"]');
  var sections = form.querySelectorAll(".category-section");
  function showCategory() {
    var chosen = form.querySelector('input[name="category"]:checked');
    sections.forEach(function (s) {
      var on = chosen && s.dataset.category === chosen.value;
      s.hidden = !on;
      s.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = !on; });
    });
  }
  // The identity document fields, for the categories the edition asks them of.
  var identity = form.querySelector(".identity-section");
  function showIdentity() {
    var chosen = form.querySelector('input[name="category"]:checked');
    if (!identity) return;
    var on = !chosen || identity.dataset.categories.split(" ").indexOf(chosen.value) !== -1;
    identity.hidden = !on;
    identity.querySelectorAll("input, select").forEach(function (el) { el.disabled = !on; });
  }
  if (radios.length) {  // a form without the category choice shows its sections as they are
    radios.forEach(function (r) {
      r.addEventListener("change", showCategory);
      r.addEventListener("change", showIdentity);
    });
    showCategory();
    showIdentity();
  }

  // Searchable country list: typing filters the options of the select below.
  form.querySelectorAll(".country-search").forEach(function (search) {
    var select = document.getElementById(search.dataset.for);
    if (!select) return;
    var options = Array.prototype.slice.call(select.options);
    search.hidden = false;
    function fold(s) {
      return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
    }
    search.addEventListener("input", function () {
      var q = fold(search.value.trim());
      var first = null;
      options.forEach(function (o) {
        var match = !q || !o.value || fold(o.text).indexOf(q) !== -1 || o.value.toLowerCase() === q;
        o.hidden = !match;
        if (match && o.value && !first) first = o;
      });
      if (first && q) select.value = first.value;
    });
  });

  // The badge name defaults to given + family name: show it as a placeholder.
  var given = form.querySelector("#given_name"), family = form.querySelector("#family_name");
  var badge = form.querySelector("#badge_name");
  function suggest() {
    if (badge) badge.placeholder = [given.value.trim(), family.value.trim()].filter(Boolean).join(" ");
  }
  if (given && family) { given.addEventListener("input", suggest); family.addEventListener("input", suggest); suggest(); }
})();
