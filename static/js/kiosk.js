// The self-service kiosk: welcome (camera scan) → optional typing (on-screen keyboard) →
// the delegate → print → the job's state; any refusal says "see the desk" in both
// languages. Back to the welcome screen after `idle_seconds` without a touch.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("kiosk-config").textContent);
  var texts = JSON.parse(document.getElementById("kiosk-texts").textContent);
  var TOKEN_KEY = "kiosk-token";
  var screens = ["setup", "welcome", "typing", "found", "printing", "done", "refused"];
  var $ = function (id) { return document.getElementById(id); };
  var state = { body: null, busy: false, idle: null, stream: null, decode: null, active: "" };

  function show(name) {
    state.active = name;
    screens.forEach(function (s) { $("k-" + s).hidden = s !== name; });
    if (name === "welcome") { startCamera(); } else { stopCamera(); }
  }

  // Both languages are always shown; the switch picks the one that leads (and the page's
  // language), until the next person.
  function setLang(lang) {
    document.body.setAttribute("data-lang", lang);
    document.documentElement.lang = lang;
    Array.prototype.forEach.call(document.querySelectorAll(".lang-switch button"), function (b) {
      b.setAttribute("aria-pressed", String(b.getAttribute("data-lang") === lang));
    });
  }

  function token() { return localStorage.getItem(TOKEN_KEY) || ""; }

  function api(url, body) {
    var options = { headers: { Authorization: "Bearer " + token(), Accept: "application/json" } };
    if (body) {
      options.method = "POST";
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (r) {
      return r.json().then(function (data) { return { status: r.status, data: data }; });
    });
  }

  function refuse(en, zh) {
    $("k-refusal-en").textContent = en;
    $("k-refusal-zh").textContent = zh;
    show("refused");
  }

  function networkError() { refuse(texts.network.message, texts.network.message_zh); }

  function answer(res, onOk) {
    if (res.status === 401 || (res.status === 403 && res.data.error === "not_a_kiosk")) {
      localStorage.removeItem(TOKEN_KEY);
      $("k-setup-error").hidden = false;
      show("setup");
    } else if (res.data && res.data.message_zh !== undefined && res.status >= 400) {
      refuse(res.data.message, res.data.message_zh);
    } else if (res.status >= 400) {
      networkError();
    } else {
      onOk(res.data);
    }
  }

  function lookUp(body) {
    if (state.busy) return;
    state.busy = true;
    state.body = body;
    api(config.lookup, body).then(function (res) {
      answer(res, function (data) {
        var d = data.delegate;
        $("k-name").textContent = (d.honorific ? d.honorific + " " : "") + d.name;
        $("k-native").textContent = d.native_name;
        $("k-category").textContent = d.category_label + " · " + d.category_label_zh;
        if (d.photo) { $("k-photo").src = d.photo; $("k-photo").hidden = false; }
        else { $("k-photo").hidden = true; }
        show("found");
      });
    }, networkError).then(function () { state.busy = false; });
  }

  function follow(jobId) {
    api(config.job + jobId).then(function (res) {
      answer(res, function (job) {
        if (job.status === "printing") { setTimeout(function () { follow(jobId); }, 500); }
        else if (job.status === "printed") { show("done"); }
        else { refuse(job.message, job.message_zh); }
      });
    }, networkError);
  }

  function printBadge() {
    if (state.busy || !state.body) return;
    state.busy = true;
    show("printing");
    api(config.print, state.body).then(function (res) {
      answer(res, function (data) { follow(data.job); });
    }, networkError).then(function () { state.busy = false; });
  }

  // ------------------------------------------------------------------ camera
  function decoder() {
    if ("BarcodeDetector" in window) {
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      return Promise.resolve(function (video) {
        return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
      });
    }
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = config.jsqr; s.onload = resolve; s.onerror = reject;
      document.head.appendChild(s);
    }).then(function () {
      var canvas = document.createElement("canvas");
      var ctx = canvas.getContext("2d", { willReadFrequently: true });
      return function (video) {
        var w = video.videoWidth, h = video.videoHeight;
        if (!w || !h) return Promise.resolve(null);
        canvas.width = w; canvas.height = h;
        ctx.drawImage(video, 0, 0, w, h);
        var found = window.jsQR(ctx.getImageData(0, 0, w, h).data, w, h);
        return Promise.resolve(found ? found.data : null);
      };
    });
  }

  function scanLoop() {
    if (!state.stream || state.active !== "welcome") return;
    var next = function () { setTimeout(scanLoop, 150); };
    var video = $("k-video");
    if (video.readyState < 2 || !state.decode) { next(); return; }
    state.decode(video).then(function (text) {
      if (text && !state.busy) { lookUp({ code: text }); }
    }, function () {}).then(next);
  }

  function startCamera() {
    if (state.stream) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      $("k-camera-off").hidden = false; return;
    }
    navigator.mediaDevices.getUserMedia({ audio: false, video: { facingMode: "user" } })
      .then(function (stream) {
        if (state.active !== "welcome") { stream.getTracks().forEach(function (t) { t.stop(); }); return; }
        state.stream = stream;
        $("k-video").srcObject = stream;
        $("k-video").play().catch(function () {});
        return decoder().then(function (d) { state.decode = d; scanLoop(); });
      }).catch(function () { $("k-camera-off").hidden = false; });
  }

  function stopCamera() {
    if (state.stream) { state.stream.getTracks().forEach(function (t) { t.stop(); }); }
    state.stream = null;
  }

  // ------------------------------------------------------------------ keyboard
  var focused = null;
  function buildKeyboard() {
    var keys = "1234567890QWERTYUIOPASDFGHJKL-ZXCVBNM".split("");
    var board = $("k-keyboard");
    keys.forEach(function (k) {
      var b = document.createElement("button");
      b.type = "button"; b.textContent = k;
      b.addEventListener("click", function () { type(k); });
      board.appendChild(b);
    });
    // Space (two keys wide) and Delete (⌫, named in both languages) end the last row.
    [["space", " ", null], ["delete", null, "\u232B"]].forEach(function (key) {
      var b = document.createElement("button"), name = texts[key[0]];
      b.type = "button"; b.className = key[0];
      b.textContent = key[2] || name.message + " " + name.message_zh;
      if (key[2]) { b.setAttribute("aria-label", name.message + " " + name.message_zh); }
      b.addEventListener("click", function () { type(key[1]); });
      board.appendChild(b);
    });
    ["k-reference", "k-family"].forEach(function (id) {
      $(id).addEventListener("focus", function () { focused = $(id); });
    });
  }
  function type(key) {
    var input = focused || $("k-reference");
    input.value = key === null ? input.value.slice(0, -1) : input.value + key;
    input.focus();
  }

  // ------------------------------------------------------------------ idle + wiring
  function touched() {
    clearTimeout(state.idle);
    state.idle = setTimeout(function () {
      if (state.active !== "setup" && state.active !== "printing") { reset(); }
    }, config.idle_seconds * 1000);
  }

  function reset() {
    state.body = null; state.busy = false;
    $("k-reference").value = ""; $("k-family").value = "";
    setLang("en");
    show(token() ? "welcome" : "setup");
  }

  ["click", "touchstart", "keydown"].forEach(function (e) { document.addEventListener(e, touched); });
  $("k-save").addEventListener("click", function () {
    localStorage.setItem(TOKEN_KEY, $("k-token").value.trim());
    $("k-setup-error").hidden = true;
    reset();
  });
  $("k-type").addEventListener("click", function () { show("typing"); $("k-reference").focus(); });
  $("k-find").addEventListener("click", function () {
    lookUp({ reference: $("k-reference").value, family_name: $("k-family").value });
  });
  $("k-print").addEventListener("click", printBadge);
  Array.prototype.forEach.call(document.querySelectorAll(".lang-switch button"), function (b) {
    b.addEventListener("click", function () { setLang(b.getAttribute("data-lang")); });
  });
  Array.prototype.forEach.call(document.querySelectorAll(".k-restart"), function (b) {
    b.addEventListener("click", reset);
  });
  buildKeyboard();
  reset();
  touched();
})();
