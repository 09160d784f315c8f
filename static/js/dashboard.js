/* The live check-in dashboard: polls /staff/dashboard.json every 5 seconds and redraws the
 * tables and the arrivals chart (SVG built with DOM calls: the CSP allows no inline code). */
(function () {
  "use strict";

  var root = document.getElementById("dashboard");
  if (!root) return;
  var config = JSON.parse(document.getElementById("dashboard-config").textContent);
  var url = root.dataset.url;
  var SVG = "http://www.w3.org/2000/svg";
  var EVERY_MS = 5000;

  var timeFormat = new Intl.DateTimeFormat("en-GB", {
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
    timeZone: config.timezone || "UTC",
  });
  var shortTime = new Intl.DateTimeFormat("en-GB", {
    hour: "2-digit", minute: "2-digit", hour12: false, timeZone: config.timezone || "UTC",
  });

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  function meter(row, value, max) {
    var td = document.createElement("td");
    var m = document.createElement("meter");
    m.min = 0; m.max = max || 1; m.value = value;
    td.appendChild(m);
    row.appendChild(td);
  }

  function fill(tbodyId, rows, render) {
    var tbody = document.getElementById(tbodyId);
    var fresh = document.createElement("tbody");
    fresh.id = tbodyId;
    rows.forEach(function (r) { fresh.appendChild(render(r)); });
    tbody.replaceWith(fresh);
  }

  function svg(name, attrs, text) {
    var el = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function drawChart(buckets) {
    var chart = document.getElementById("dash-chart");
    while (chart.firstChild) chart.removeChild(chart.firstChild);
    var peak = Math.max(1, Math.max.apply(null, buckets.map(function (b) { return b.count; })));
    var w = 680 / (buckets.length || 1);
    buckets.forEach(function (b, i) {
      var h = 160 * b.count / peak;
      var rect = svg("rect", {
        x: (30 + i * w).toFixed(1), y: (170 - h).toFixed(1), width: (w - 2).toFixed(1),
        height: h.toFixed(1), fill: "#0b4f8a",
      });
      rect.appendChild(svg("title", {}, shortTime.format(new Date(b.start)) + ": " + b.count));
      chart.appendChild(rect);
      if (i % 6 === 0) {
        chart.appendChild(svg("text", { x: (30 + i * w).toFixed(1), y: 188, "font-size": 11,
                                        fill: "#5b6675" }, shortTime.format(new Date(b.start))));
      }
    });
    chart.appendChild(svg("line", { x1: 30, y1: 170, x2: 710, y2: 170, stroke: "#5b6675",
                                    "stroke-width": 1 }));
    // The scale's top only once someone has arrived: a lone "1" over an empty chart misleads.
    var arrived = buckets.some(function (b) { return b.count > 0; });
    if (arrived) {
      chart.appendChild(svg("text", { x: 2, y: 16, "font-size": 12, fill: "#5b6675", id: "dash-peak" },
                            String(peak)));
    }
  }

  function render(data) {
    document.getElementById("dash-total").textContent = data.totals.checked_in;
    document.getElementById("dash-accredited").textContent = data.totals.accredited;
    var updated = document.getElementById("dash-updated");
    updated.textContent = timeFormat.format(new Date(data.generated_at));
    updated.dataset.time = data.generated_at;
    fill("dash-categories", data.categories, function (r) {
      var tr = document.createElement("tr");
      cell(tr, r.label); cell(tr, r.checked_in); cell(tr, r.accredited);
      meter(tr, r.checked_in, r.accredited);
      return tr;
    });
    fill("dash-checkpoints", data.checkpoints, function (r) {
      var tr = document.createElement("tr");
      cell(tr, r.name); cell(tr, r.checked_in); cell(tr, r.eligible);
      meter(tr, r.checked_in, r.eligible);
      return tr;
    });
    fill("dash-scans", data.last_scans, function (s) {
      var tr = document.createElement("tr");
      tr.className = "scan-" + s.result;
      cell(tr, timeFormat.format(new Date(s.scanned_at)));
      cell(tr, s.checkpoint_name);
      var labels = config.results || {};
      cell(tr, (labels[s.result] || s.result) +
               (s.offline ? " (" + (labels.offline || "offline") + ")" : ""));
      cell(tr, s.name || "—");
      cell(tr, s.device || "");
      return tr;
    });
    drawChart(data.arrivals.buckets);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store",
                 headers: { Accept: "application/json" } })
      .then(function (res) { if (!res.ok) throw new Error(res.status); return res.json(); })
      .then(render)
      .catch(function () { /* keep the last figures; try again */ })
      .then(function () { setTimeout(poll, EVERY_MS); });
  }

  // Local times for the server-rendered rows, then live updates.
  document.querySelectorAll("[data-time]").forEach(function (el) {
    if (el.dataset.time) el.textContent = timeFormat.format(new Date(el.dataset.time));
  });
  poll();
})();
