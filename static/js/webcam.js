// Desk webcam capture for badge photos: getUserMedia → canvas (cropped to the badge's
// photo shape) → JPEG blob POSTed to the same endpoint as the upload form.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("webcam");
    var form = document.getElementById("photo-form");
    if (!box || !form) { return; }
    var video = document.getElementById("webcam-video");
    var canvas = document.getElementById("webcam-canvas");
    var start = document.getElementById("webcam-start");
    var capture = document.getElementById("webcam-capture");
    var stop = document.getElementById("webcam-stop");
    var error = document.getElementById("webcam-error");
    var aspect = parseFloat(box.getAttribute("data-aspect")) || 0.75;
    var stream = null;

    function showError(text) {
      error.textContent = text;
      error.hidden = false;
    }

    function setRunning(running) {
      video.hidden = !running;
      capture.hidden = !running;
      stop.hidden = !running;
      start.hidden = running;
    }

    function stopCamera() {
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
      stream = null;
      setRunning(false);
    }

    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      start.disabled = true;
      showError("This browser cannot use a webcam here (it needs HTTPS or localhost).");
      return;
    }

    start.addEventListener("click", function () {
      error.hidden = true;
      navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 960 } }, audio: false })
        .then(function (s) {
          stream = s;
          video.srcObject = s;
          setRunning(true);
        })
        .catch(function (err) {
          showError("The camera could not be started: " + (err && err.name ? err.name : err));
        });
    });

    stop.addEventListener("click", stopCamera);

    capture.addEventListener("click", function () {
      var vw = video.videoWidth, vh = video.videoHeight;
      if (!vw || !vh) { showError("The camera is not ready yet; try again."); return; }
      // Centre crop to the badge photo's width/height ratio.
      var sw = vw, sh = vh;
      if (vw / vh > aspect) { sw = Math.round(vh * aspect); } else { sh = Math.round(vw / aspect); }
      var sx = Math.round((vw - sw) / 2), sy = Math.round((vh - sh) / 2);
      canvas.width = Math.min(sw, 600);
      canvas.height = Math.round(canvas.width / aspect);
      canvas.getContext("2d").drawImage(video, sx, sy, sw, sh, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(function (blob) {
        if (!blob) { showError("The photo could not be taken; try again."); return; }
        var data = new FormData();
        data.append("csrf_token", form.querySelector("input[name=csrf_token]").value);
        data.append("source", "webcam");
        data.append("photo", blob, "webcam.jpg");
        // The desk's reason for keeping a photo the face check refuses (if given).
        var override = form.querySelector("input[name=face_override]");
        if (override && override.value.trim()) data.append("face_override", override.value);
        capture.disabled = true;
        fetch(form.action, {
          method: "POST", body: data, credentials: "same-origin",
          headers: { Accept: "application/json" }
        })
          .then(function (r) {
            return r.json().then(function (body) { return { ok: r.ok, body: body }; });
          })
          .then(function (res) {
            if (res.ok) { stopCamera(); window.location.reload(); return; }
            showError(res.body.message || "The photo was refused.");
            // Refused by the face check: open the desk's override (reason) field.
            var details = form.querySelector("details.face-override");
            if (res.body.override_allowed && details) details.open = true;
          })
          .catch(function (err) { showError("The photo could not be sent: " + err.message); })
          .then(function () { capture.disabled = false; });
      }, "image/jpeg", 0.9);
    });
  });
})();
