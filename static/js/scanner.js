/* The scanner page at the doors (/checkin).
 *
 * - Pick a checkpoint once (remembered in localStorage), then scan.
 * - Camera: rear camera via getUserMedia; BarcodeDetector where the browser has it (Android
 *   Chrome), else jsQR (vendored in /static/vendor/jsqr). Continuous; the same code seen
 *   again within a few seconds is not re-submitted.
 * - Handheld USB scanners type the code and Enter into the focused input (kept focused; its
 *   inputmode is "none" so no phone keyboard covers the page). "Type a code" switches it to a
 *   keyboard for the reference printed under the QR (GPS-Y8ZG-CY7J).
 * - A typed reference never admits on its own: the server (or, offline, the snapshot's
 *   reference map) names the delegate, the page shows photo, names, category, organisation
 *   and country, and staff press "Confirm and admit" (sent again with identity_confirmed
 *   true: a manual check-in) or "Refuse" (identity_confirmed false: a refused scan).
 * - The same code again within a few seconds is not sent again: its answer is shown again.
 * - A service worker (/checkin/sw.js, static/js/checkin-sw.js) keeps the page, its scripts
 *   and the last snapshot, so the page reloads without network.
 * - Online: POST /api/v1/checkins (X-CSRFToken, 3 s timeout) and show the answer full screen.
 * - Offline (network error, timeout, 5xx; later scans skip the network until the queue has
 *   synced, so each still answers at once): verify the Ed25519 signature locally (WebCrypto,
 *   else vendored tweetnacl), look the badge up in the snapshot (GET /api/v1/checkin-snapshot,
 *   refreshed every 5 minutes, kept in localStorage), show a provisional answer marked
 *   offline, queue the scan with its nonce and time, and sync when the server is back
 *   (retry every few seconds and on the `online` event). After a sync, duplicates made
 *   offline (the server answers already_checked_in) are listed: the earliest scan wins.
 * - Photos: shown large beside the answer and first in the identity check. Online the
 *   server's photo; offline the small copy (at most 8 KB, the snapshot's thumb_url) kept in
 *   the Cache Storage "checkin-photos-v1" whenever a snapshot arrives: copies of photos no
 *   longer listed are dropped, new or changed ones (their address carries a version) are
 *   fetched a few at a time. Signing out deletes the cache (staff.js).
 */
(function () {
  "use strict";

  var root = document.getElementById("scanner");
  if (!root) return;
  var config = JSON.parse(document.getElementById("scanner-config").textContent);
  var T = JSON.parse(document.getElementById("scanner-strings").textContent);

  var KEY_CHECKPOINT = "checkin.checkpoint";
  var KEY_QUEUE = "checkin.queue";
  var KEY_SNAPSHOT = "checkin.snapshot";
  var KEY_ADMITTED = "checkin.admitted.";
  // A code seen again this soon is not sent again (a scanner held over a badge reads it
  // several times); CHECKIN_REPEAT_SECONDS on the server.
  var DEDUP_MS = (config.repeatSeconds || 4) * 1000;
  var MARKS = { ok: "\u2713", warn: "!", bad: "\u2715" }; // ✓ ! ✕: not by colour alone
  var POST_TIMEOUT_MS = 3000;
  var SNAPSHOT_EVERY_MS = 5 * 60 * 1000;
  var SYNC_EVERY_MS = 4000;
  var PHOTO_CACHE = "checkin-photos-v1"; // staff.js deletes it on sign-out
  var PHOTO_FETCHES = 4; // thumbnails fetched at once

  var $ = function (id) { return document.getElementById(id); };
  var els = {
    setup: $("setup"), scan: $("scan"), select: $("checkpoint-select"), start: $("start"),
    cpName: $("checkpoint-name"), change: $("change-checkpoint"), queue: $("queue-status"),
    video: $("video"), camMsg: $("camera-message"), camStart: $("camera-start"),
    form: $("manual"), input: $("code-input"), snap: $("snapshot-status"),
    result: $("result"), rTitle: $("result-title"), rPhoto: $("result-photo"),
    rName: $("result-name"), rNative: $("result-native"), rMeta: $("result-meta"),
    rDetail: $("result-detail"), rOffline: $("result-offline"), net: $("net-status"),
    report: $("sync-report"), reportSummary: $("sync-summary"), reportList: $("sync-duplicates"),
    reportClose: $("sync-report-close"), rMark: $("result-mark"), rRepeat: $("result-repeat"),
    typeCode: $("type-code"), confirm: $("confirm"), cTitle: $("confirm-title"),
    cOffline: $("confirm-offline"), cPhoto: $("confirm-photo"), cNoPhoto: $("confirm-no-photo"),
    cName: $("confirm-name"), cNative: $("confirm-native"), cCategory: $("confirm-category"),
    cOrg: $("confirm-organisation"), cOrgLabel: $("confirm-organisation-label"),
    cCountry: $("confirm-country"), cCode: $("confirm-code"), cAdmit: $("confirm-admit"),
    cRefuse: $("confirm-refuse"), cCancel: $("confirm-cancel"),
  };

  var state = {
    checkpoint: null, snapshot: null, index: new Map(), queue: [], recent: new Map(),
    online: true, syncing: false, decoder: null, stream: null, hideTimer: null,
    chain: Promise.resolve(), keys: new Map(), shown: new Map(), pending: null,
    photoSync: null, photoShown: new Map(),
  };

  // ------------------------------------------------------------------ small helpers

  function fmt(template, vars) {
    return String(template).replace(/\{(\w+)\}/g, function (_, k) {
      return vars[k] === undefined ? "" : String(vars[k]);
    });
  }

  var timeFormat = new Intl.DateTimeFormat("en-GB", {
    hour: "2-digit", minute: "2-digit", hour12: false, timeZone: config.timezone || "UTC",
  });
  function clock(iso) { return iso ? timeFormat.format(new Date(iso)) : ""; }

  function load(key, fallback) {
    try {
      var raw = localStorage.getItem(key);
      return raw ? JSON.parse(raw) : fallback;
    } catch (e) { return fallback; }
  }
  function save(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* full: memory only */ }
  }

  function randomNonce() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? "0" : "") + b.toString(16);
    }).join("");
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src; s.async = true;
      s.onload = resolve; s.onerror = function () { reject(new Error("cannot load " + src)); };
      document.head.appendChild(s);
    });
  }

  // ------------------------------------------------------------------ sound and vibration

  var audio = null;
  function unlockAudio() {
    if (!audio && (window.AudioContext || window.webkitAudioContext)) {
      audio = new (window.AudioContext || window.webkitAudioContext)();
    }
    if (audio && audio.state === "suspended") audio.resume();
  }
  document.addEventListener("pointerdown", unlockAudio, true);
  document.addEventListener("keydown", unlockAudio, true);

  function tone(freq, start, length, type) {
    var osc = audio.createOscillator();
    var gain = audio.createGain();
    osc.type = type; osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.3, start + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
    osc.connect(gain); gain.connect(audio.destination);
    osc.start(start); osc.stop(start + length + 0.02);
  }

  var SIGNALS = {
    ok: { tones: [[880, 0, 0.12], [1320, 0.13, 0.18]], wave: "sine", vibrate: [80] },
    warn: { tones: [[660, 0, 0.15], [660, 0.22, 0.15]], wave: "triangle", vibrate: [120, 80, 120] },
    bad: { tones: [[220, 0, 0.6]], wave: "square", vibrate: [400] },
  };

  function signal(kind) {
    var s = SIGNALS[kind];
    if (navigator.vibrate) { try { navigator.vibrate(s.vibrate); } catch (e) { /* ignore */ } }
    if (!audio || audio.state !== "running") return;
    var t = audio.currentTime + 0.01;
    s.tones.forEach(function (x) { tone(x[0], t + x[1], x[2], s.wave); });
  }

  // ------------------------------------------------------------------ photos

  function absolute(url) { return new URL(url, location.href).href; }

  // Keep the thumbnail of every delegate in the snapshot (see the header).
  function cachePhotos(snap) {
    if (!window.caches || state.photoSync) return state.photoSync || Promise.resolve();
    var wanted = new Set(), kept = 0;
    snap.delegates.forEach(function (d) { if (d.thumb_url) wanted.add(absolute(d.thumb_url)); });
    state.photoSync = caches.open(PHOTO_CACHE).then(function (cache) {
      return cache.keys().then(function (keys) {
        var have = new Set();
        keys.forEach(function (req) {
          if (wanted.has(req.url)) have.add(req.url); else cache.delete(req);
        });
        kept = have.size;
        var missing = Array.from(wanted).filter(function (u) { return !have.has(u); });
        var next = 0;
        var worker = function () {
          if (next >= missing.length) return Promise.resolve();
          var url = missing[next++];
          return fetch(url, { credentials: "same-origin" }).then(function (res) {
            var type = res.headers.get("Content-Type") || "";
            // Not a photo (signed out: the login page) is not kept.
            if (res.ok && !res.redirected && type.indexOf("image/") === 0) {
              return cache.put(url, res).then(function () { kept++; });
            }
          }).catch(function () { /* offline again: the next snapshot tries again */ })
            .then(worker);
        };
        var workers = [];
        for (var i = 0; i < PHOTO_FETCHES; i++) workers.push(worker());
        return Promise.all(workers);
      });
    }).catch(function () { /* no Cache Storage here: no offline photos */ })
      .then(function () {
        state.photoSync = null;
        root.dataset.photosCached = String(kept); // how many the device holds now
      });
    return state.photoSync;
  }

  // Show delegate d's photo in img (online: the server's; offline: the kept copy). Calls
  // onMissing(true/false) with whether there is no photo to show.
  function showPhoto(img, d, offline, onMissing) {
    var turn = (state.photoShown.get(img) || { n: 0 }).n + 1;
    var old = state.photoShown.get(img);
    if (old && old.blob) URL.revokeObjectURL(old.blob);
    state.photoShown.set(img, { n: turn, d: d });
    img.removeAttribute("src");
    img.dataset.source = "";
    var none = function () { img.hidden = true; onMissing(true); };
    if (d && d.photo_url && !offline) {
      img.src = d.photo_url; img.dataset.source = "server";
      img.hidden = false; onMissing(false);
      return;
    }
    var thumb = d && (d.thumb_url || ((state.index.get(d.public_id) || {}).thumb_url));
    if (!thumb || !window.caches) { none(); return; }
    caches.open(PHOTO_CACHE).then(function (cache) { return cache.match(absolute(thumb)); })
      .then(function (res) { return res ? res.blob() : null; })
      .then(function (blob) {
        if (state.photoShown.get(img).n !== turn) return; // another answer since
        if (!blob) { none(); return; }
        var url = URL.createObjectURL(blob);
        state.photoShown.set(img, { n: turn, d: d, blob: url });
        img.src = url; img.dataset.source = "offline";
        img.hidden = false; onMissing(false);
      }, none);
  }

  // The server's photo did not load (the network went): the kept copy, if there is one.
  function photoFailed(img, onMissing) {
    var shown = state.photoShown.get(img);
    if (img.dataset.source === "server" && shown && shown.d) {
      showPhoto(img, Object.assign({}, shown.d, { photo_url: null }), true, onMissing);
    } else {
      img.hidden = true; onMissing(true);
    }
  }

  // ------------------------------------------------------------------ result screen

  function kindOf(status) {
    if (status === "checked_in") return "ok";
    if (status === "already_checked_in") return "warn";
    return "bad";
  }

  // `code`: remember the answer for a repeat; `repeat`: this is one (no new beep if the
  // answer is still on screen, e.g. a badge held in front of the camera).
  function showResult(r, offline, code, repeat) {
    var kind = kindOf(r.status);
    var onScreen = !els.result.hidden;
    if (code) {
      state.shown.set(dedupKey(code), function (again) { showResult(r, offline, null, again); });
    }
    els.rRepeat.hidden = !repeat;
    els.result.dataset.repeat = repeat ? "1" : "0";
    els.rMark.textContent = MARKS[kind];
    var d = r.delegate;
    var title = T[r.status] || r.status;
    if (r.status === "already_checked_in" && r.checked_in_at) {
      title = fmt(T.already_at, { time: clock(r.checked_in_at), place: r.checkpoint_name || "" });
    }
    els.rTitle.textContent = title;
    els.rName.textContent = d ? [d.honorific, d.name].filter(Boolean).join(" ") : "";
    els.rNative.textContent = d && d.native_name && d.native_name !== d.name ? d.native_name : "";
    els.rMeta.textContent = d ? [d.category_label || d.category, d.delegation_name,
      d.country_name || d.country].filter(Boolean).join(" · ") : "";
    var detail = [];
    if (r.error) detail.push(r.error);
    if (r.superseded_at) detail.push(T.time_corrected);
    if (r.reason === "other_edition") detail.push(T.other_edition);
    if (r.reason === "vetting") detail.push(T.vetting);
    els.rDetail.textContent = detail.join(" ");
    showPhoto(els.rPhoto, d, offline, function () {});
    els.rOffline.hidden = !offline;
    els.confirm.hidden = true;
    els.result.className = "result result-" + kind + (offline ? " result-provisional" : "");
    els.result.dataset.status = r.status;
    els.result.dataset.reason = r.reason || "";
    els.result.dataset.offline = offline ? "1" : "0";
    els.result.hidden = false;
    if (!(repeat && onScreen)) signal(kind);
    clearTimeout(state.hideTimer);
    state.hideTimer = setTimeout(hideResult, kind === "ok" ? 2500 : 5000);
    els.input.focus();
  }

  function showError(message) {
    showResult({ status: "error", error: message }, false);
    els.rTitle.textContent = message;
    els.rDetail.textContent = "";
  }

  function hideResult() {
    els.result.hidden = true;
    if (els.confirm.hidden) els.input.focus();
  }

  // The answer to a code seen again within DEDUP_MS, shown again and marked so.
  function showAgain(code) {
    var again = state.shown.get(code);
    if (again) again(true); // none yet: the first answer is still on its way
  }

  // ------------------------------------------------------------------ identity check

  // The key of a typed reference code (as text.reference_key on the server), or null.
  function referenceKey(code) {
    var text = String(code || "");
    if (text.normalize) text = text.normalize("NFKC");
    text = text.replace(/[\s\-\u2010-\u2015\u2212_.\u00b7]+/g, "").toUpperCase();
    if (text.indexOf("GP1") === 0) return null;
    return /^[A-Z0-9]{9,16}$/.test(text) ? text : null;
  }

  function dedupKey(code) { return referenceKey(code) || code; }

  function showConfirm(code, d, offline) {
    clearTimeout(state.hideTimer);
    els.result.hidden = true;
    state.pending = { code: code, delegate: d, offline: offline };
    state.shown.set(dedupKey(code), function () { showConfirm(code, d, offline); });
    els.confirm.dataset.code = code;
    els.cOffline.hidden = !offline;
    els.cName.textContent = [d.honorific, d.name].filter(Boolean).join(" ");
    els.cNative.textContent = d.native_name && d.native_name !== d.name ? d.native_name : "";
    els.cCategory.textContent = d.category_label || d.category || "";
    els.cOrg.textContent = d.organisation || "";
    els.cOrg.hidden = els.cOrgLabel.hidden = !d.organisation;
    els.cCountry.textContent = [d.delegation_name, d.country_name || d.country]
      .filter(Boolean).join(" · ");
    els.cCode.textContent = code;
    showPhoto(els.cPhoto, d, offline, function (missing) { els.cNoPhoto.hidden = !missing; });
    els.confirm.dataset.offline = offline ? "1" : "0";
    var onScreen = !els.confirm.hidden;
    els.confirm.hidden = false;
    if (!onScreen) signal("warn");
    els.cTitle.focus();
  }

  function closeConfirm() {
    state.pending = null;
    els.confirm.hidden = true;
    els.input.focus();
  }

  function answerConfirm(confirmed) {
    var p = state.pending;
    if (!p) return;
    state.pending = null;
    els.confirm.hidden = true;
    state.recent.set(dedupKey(p.code), Date.now()); // a repeat now shows this answer
    state.chain = state.chain.then(function () {
      return submit(p.code, { confirmed: confirmed, delegate: p.delegate });
    }).catch(function (e) { showError(String(e)); });
  }
  els.cAdmit.addEventListener("click", function () { answerConfirm(true); });
  els.cRefuse.addEventListener("click", function () { answerConfirm(false); });
  els.cCancel.addEventListener("click", closeConfirm);
  els.cPhoto.addEventListener("error", function () {
    photoFailed(els.cPhoto, function (missing) { els.cNoPhoto.hidden = !missing; });
  });
  els.rPhoto.addEventListener("error", function () { photoFailed(els.rPhoto, function () {}); });
  els.result.addEventListener("click", hideResult);

  // ------------------------------------------------------------------ online / offline UI

  function setOnline(online) {
    state.online = online;
    els.net.dataset.state = online ? "online" : "offline";
    els.net.textContent = online ? T.online : T.offline;
    renderQueue();
  }

  function renderQueue() {
    var n = state.queue.length;
    els.queue.hidden = n === 0;
    els.queue.textContent = fmt(T.queued, { n: n });
    els.queue.dataset.count = String(n);
  }

  function renderSnapshotStatus() {
    if (!state.snapshot) { els.snap.textContent = T.no_snapshot; return; }
    els.snap.textContent = fmt(T.snapshot_age, {
      n: state.snapshot.delegates.length, time: clock(state.snapshot.generated_at),
    });
  }

  // ------------------------------------------------------------------ snapshot

  function useSnapshot(snap) {
    state.snapshot = snap;
    state.index = new Map();
    snap.delegates.forEach(function (d) { state.index.set(d.public_id, d); });
    renderSnapshotStatus();
  }

  function refreshSnapshot() {
    return fetch(config.snapshotUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (res) {
        if (!res.ok) throw new Error("snapshot " + res.status);
        return res.json();
      })
      .then(function (snap) { useSnapshot(snap); save(KEY_SNAPSHOT, snap); cachePhotos(snap); })
      .catch(function () { /* keep the copy we have */ });
  }

  // ------------------------------------------------------------------ local verification

  var B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  function base32decode(text) {
    var bits = 0, value = 0, out = [];
    for (var i = 0; i < text.length; i++) {
      var v = B32.indexOf(text[i]);
      if (v < 0) return null;
      value = (value << 5) | v; bits += 5;
      if (bits >= 8) { out.push((value >>> (bits - 8)) & 255); bits -= 8; }
      value &= (1 << bits) - 1;
    }
    if (value !== 0) return null; // non-canonical: unused trailing bits must be zero
    return new Uint8Array(out);
  }

  function base64url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function uuidOf(bytes) {
    var h = Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? "0" : "") + b.toString(16);
    }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" +
      h.slice(16, 20) + "-" + h.slice(20);
  }

  var webCryptoEd25519 = null; // null: untested, true/false after the first try

  function verifyWithKey(keyB64, sig, body) {
    var raw = base64url(keyB64);
    function viaNacl() {
      if (!window.nacl) return Promise.reject(new Error("no Ed25519 verifier"));
      return Promise.resolve(window.nacl.sign.detached.verify(body, sig, raw));
    }
    if (webCryptoEd25519 === false || !(window.crypto && crypto.subtle)) return viaNacl();
    var cached = state.keys.get(keyB64);
    var keyPromise = cached || crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false,
                                                       ["verify"]);
    state.keys.set(keyB64, keyPromise);
    return keyPromise.then(function (key) {
      webCryptoEd25519 = true;
      return crypto.subtle.verify({ name: "Ed25519" }, key, sig, body);
    }, function () {
      webCryptoEd25519 = false;
      state.keys.delete(keyB64);
      return viaNacl();
    });
  }

  function publicKeys() {
    return (state.snapshot && state.snapshot.public_keys) || config.publicKeys || [];
  }

  // Signature check, then the same serial rules as the server (badge_token.verify).
  function verifyLocally(code) {
    var text = code.trim().toUpperCase();
    // 136 characters: version 1 (no edition); 139: version 2 with the edition id.
    if ((text.length !== 136 && text.length !== 139) || text.indexOf("GP1") !== 0) {
      return Promise.resolve({ status: "invalid", reason: "malformed" });
    }
    var raw = base32decode(text.slice(3));
    if (!raw || !((raw.length === 83 && raw[0] === 1) || (raw.length === 85 && raw[0] === 2))) {
      return Promise.resolve({ status: "invalid", reason: "malformed" });
    }
    var body = raw.slice(0, raw.length - 64), sig = raw.slice(raw.length - 64);
    var keys = publicKeys();
    var cannotVerify = false;
    var tryKey = function (i) {
      if (i >= keys.length) return Promise.resolve(false);
      return verifyWithKey(keys[i], sig, body).then(function (ok) {
        return ok ? true : tryKey(i + 1);
      }, function () { cannotVerify = true; return tryKey(i + 1); });
    };
    return tryKey(0).then(function (signed) {
      if (!signed && !cannotVerify) return { status: "invalid", reason: "bad_signature" };
      var badgeId = uuidOf(body.slice(1, 17));
      var serial = (body[17] << 8) | body[18];
      var edition = body.length > 19 ? (body[19] << 8) | body[20] : null;
      var decision = otherEdition(edition) || decideFromSnapshot(badgeId, serial);
      // No Ed25519 in this browser and the fallback did not load: say so, decide on the list.
      if (!signed) decision.error = T.unverified;
      return decision;
    });
  }

  function admittedHere() { return load(KEY_ADMITTED + state.checkpoint.id, {}); }
  function markAdmitted(publicId, iso) {
    var seen = admittedHere();
    if (!seen[publicId]) { seen[publicId] = iso; save(KEY_ADMITTED + state.checkpoint.id, seen); }
  }

  function withLabels(d) {
    var snap = state.snapshot || {};
    return Object.assign({}, d, {
      category_label: d.category_label || (snap.category_labels || {})[d.category] || d.category,
      country_name: d.country_name || (snap.country_names || {})[d.country] || d.country,
    });
  }

  // A badge of another edition of the forum (old badges without one: the first edition's).
  function otherEdition(edition) {
    var snap = state.snapshot;
    if (!snap || snap.edition == null) return null;
    var belongs = edition === null ? snap.legacy_edition : edition;
    if (belongs == null || belongs === snap.edition) return null;
    var cp = state.checkpoint;
    return { checkpoint: cp.id, checkpoint_name: cp.name, delegate: null, status: "invalid",
             reason: "other_edition" };
  }

  function decideFromSnapshot(badgeId, serial) {
    var cp = state.checkpoint;
    var base = { checkpoint: cp.id, checkpoint_name: cp.name, delegate: null };
    if (!state.snapshot) {
      // Signed by us, but nobody to compare with: admit provisionally.
      return Object.assign(base, { status: "checked_in", error: T.no_snapshot });
    }
    var d = state.index.get(badgeId);
    if (!d || serial > d.badge_serial) {
      return Object.assign(base, { status: "invalid", reason: "unknown_badge" });
    }
    if (d.refused) {
      // Rejected, cancelled or not cleared by vetting: the snapshot carries no name, only
      // what refuses the badge (and why: "vetting" is said at the door).
      if (serial < d.badge_serial) return Object.assign(base, { status: "revoked" });
      return Object.assign(base, { status: "not_accredited",
                                   reason: d.reason === "vetting" ? "vetting" : null });
    }
    if (serial < d.badge_serial) {
      return Object.assign(base, { status: "revoked", delegate: withLabels(d) });
    }
    return decideForDelegate(d);
  }

  // The server's rules for a known delegate at this checkpoint, on the local list.
  function decideForDelegate(d) {
    var cp = state.checkpoint;
    var snap = state.snapshot || {};
    var base = { checkpoint: cp.id, checkpoint_name: cp.name, delegate: withLabels(d) };
    var accredited = snap.accredited_statuses || ["approved", "badge_printed", "checked_in"];
    if (accredited.indexOf(d.status) < 0) {
      return Object.assign(base, { status: "not_accredited" });
    }
    var zone = (snap.checkpoints || []).find(function (c) { return c.id === cp.id; }) || cp;
    if (zone.allowed_categories && zone.allowed_categories.indexOf(d.category) < 0 &&
        !(zone.admit_heads_of_delegation && d.head_of_delegation)) {
      return Object.assign(base, { status: "zone_denied" });
    }
    var first = admittedHere()[d.public_id];
    if (first) return Object.assign(base, { status: "already_checked_in", checked_in_at: first });
    return Object.assign(base, { status: "checked_in" });
  }

  // The delegate of a typed reference in the offline list (accredited delegates only).
  function delegateByReference(code) {
    var key = referenceKey(code);
    var refs = (state.snapshot && state.snapshot.references) || {};
    var publicId = key && refs[key];
    return publicId ? state.index.get(publicId) || null : null;
  }

  // ------------------------------------------------------------------ sending scans

  function postScan(entry, timeoutMs) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, timeoutMs);
    var payload = { code: entry.code, checkpoint: entry.checkpoint, nonce: entry.nonce };
    if (entry.scanned_at) payload.scanned_at = entry.scanned_at;
    if (typeof entry.identity_confirmed === "boolean") {
      payload.identity_confirmed = entry.identity_confirmed;
    }
    return fetch(config.checkinUrl, {
      method: "POST", credentials: "same-origin", signal: controller.signal,
      headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrf },
      body: JSON.stringify(payload),
    }).then(function (res) {
      clearTimeout(timer);
      return res.json().catch(function () { return {}; }).then(function (data) {
        return { status: res.status, data: data };
      });
    }, function (err) { clearTimeout(timer); throw err; });
  }

  // `answer`: staff's answer to the identity check of a typed code ({confirmed, delegate}).
  function submit(code, answer) {
    var entry = {
      code: code, checkpoint: state.checkpoint.id, nonce: randomNonce(),
      scanned_at: new Date().toISOString(),
    };
    if (answer) entry.identity_confirmed = answer.confirmed;
    if (!state.online && state.queue.length) {
      // Known to be offline: answer from the local list at once (no 3 s wait per badge);
      // the sync loop probes the server every few seconds and switches back.
      return offline(entry, answer);
    }
    var online = { code: entry.code, checkpoint: entry.checkpoint, nonce: entry.nonce,
                   identity_confirmed: entry.identity_confirmed };
    return postScan(online, POST_TIMEOUT_MS).then(function (res) {
      if (res.status === 200) {
        setOnline(true);
        var r = res.data;
        if (r.status === "confirm_identity" && r.delegate) {
          showConfirm(code, r.delegate, false);
        } else {
          if (r.delegate && (r.status === "checked_in" || r.status === "already_checked_in")) {
            markAdmitted(r.delegate.public_id, r.checked_in_at);
          }
          showResult(r, false, code);
        }
        if (state.queue.length) syncQueue();
        return;
      }
      if (res.status >= 500) return offline(entry, answer);
      if (res.status === 401 || res.status === 403) {
        showError(T.signed_out);
        return;
      }
      showError(fmt(T.error, { msg: (res.data && res.data.message) || res.status }));
    }, function () { return offline(entry, answer); });
  }

  function queueOffline(entry, r) {
    entry.provisional = r.status;
    entry.name = r.delegate ? r.delegate.name : "";
    state.queue.push(entry);
    save(KEY_QUEUE, state.queue);
    if (r.status === "checked_in" && r.delegate) markAdmitted(r.delegate.public_id, entry.scanned_at);
    renderQueue();
    showResult(r, true, entry.code);
  }

  function offline(entry, answer) {
    setOnline(false);
    if (referenceKey(entry.code)) return offlineTyped(entry, answer);
    return verifyLocally(entry.code).then(function (r) { queueOffline(entry, r); });
  }

  // A typed reference offline: find the delegate in the list, ask staff, then decide
  // provisionally and queue the answer (the server decides again when it is synced).
  function offlineTyped(entry, answer) {
    var cp = state.checkpoint;
    var known = answer && answer.delegate;
    var d = delegateByReference(entry.code) ||
      (known && (state.index.get(known.public_id) || known)) || null;
    if (!answer) {
      if (d) { showConfirm(entry.code, withLabels(d), true); return; }
      // Not accredited, or not in the list: nothing to compare with, nothing to queue.
      showResult({ status: "invalid", reason: "unknown_reference", checkpoint: cp.id,
                   checkpoint_name: cp.name, delegate: null, error: T.unknown_reference },
                 true, entry.code);
      return;
    }
    var r = answer.confirmed ? decideForDelegate(d) :
      { status: "refused", checkpoint: cp.id, checkpoint_name: cp.name, delegate: withLabels(d) };
    queueOffline(entry, r);
  }

  // ------------------------------------------------------------------ sync

  function syncQueue() {
    if (state.syncing || !state.queue.length) return Promise.resolve();
    state.syncing = true;
    var done = [];
    var step = function () {
      if (!state.queue.length) return Promise.resolve(true);
      var entry = state.queue[0];
      return postScan(entry, 5000).then(function (res) {
        if (res.status === 401 || res.status === 403) return false;
        if (res.status >= 500) return false;
        done.push({ entry: entry, status: res.status, data: res.data });
        state.queue.shift();
        save(KEY_QUEUE, state.queue);
        renderQueue();
        return step();
      }, function () { return false; });
    };
    return step().then(function (complete) {
      state.syncing = false;
      if (complete) setOnline(true);
      if (done.length) report(done);
      if (complete) refreshSnapshot();
    });
  }

  function report(done) {
    els.reportSummary.textContent = fmt(T.synced, { n: done.length });
    els.reportList.textContent = "";
    var lines = [];
    done.forEach(function (x) {
      var r = x.data || {};
      var name = (r.delegate && r.delegate.name) || x.entry.name || x.entry.code.slice(0, 12);
      if (x.status !== 200) {
        lines.push(["rejected", fmt(T.rejected, { name: name, status: r.error || x.status })]);
      } else if (r.status === "already_checked_in") {
        lines.push(["dup", fmt(T.dup, { name: name, time: clock(r.checked_in_at) })]);
      } else if (r.superseded_at) {
        lines.push(["corrected", fmt(T.corrected, { name: name, time: clock(r.superseded_at) })]);
      } else if (r.status !== x.entry.provisional) {
        lines.push(["changed", fmt(T.rejected, { name: name, status: T[r.status] || r.status })]);
      }
    });
    if (!lines.length) lines.push(["none", T.no_dups]);
    lines.forEach(function (line) {
      var li = document.createElement("li");
      li.className = "sync-" + line[0];
      li.textContent = line[1];
      els.reportList.appendChild(li);
    });
    els.report.hidden = false;
  }
  els.reportClose.addEventListener("click", function () {
    els.report.hidden = true; els.input.focus();
  });

  // ------------------------------------------------------------------ codes in

  function handleCode(raw) {
    var code = String(raw || "").trim();
    if (!code || !state.checkpoint) return;
    var key = dedupKey(code);
    var now = Date.now();
    var last = state.recent.get(key);
    if (last && now - last < DEDUP_MS) {
      // Not sent again, but never silence: staff would think the device froze.
      showAgain(key);
      return;
    }
    state.recent.set(key, now);
    state.recent.forEach(function (t, k) { if (now - t > DEDUP_MS) state.recent.delete(k); });
    state.shown.forEach(function (_, k) { if (!state.recent.has(k)) state.shown.delete(k); });
    state.chain = state.chain.then(function () { return submit(code); })
      .catch(function (e) { showError(String(e)); });
  }

  // "Type a code": the phone keyboard for a code read off a badge; back to "none" (a
  // handheld scanner's keystrokes, no keyboard over the page) once it is sent.
  function keyboard(on) {
    els.input.setAttribute("inputmode", on ? "text" : "none");
    els.input.placeholder = on ? T.type_hint : "";
    els.typeCode.setAttribute("aria-pressed", on ? "true" : "false");
  }
  els.typeCode.addEventListener("click", function () {
    keyboard(els.input.getAttribute("inputmode") === "none");
    els.input.blur(); // a focused input keeps its old keyboard until focused again
    els.input.focus();
  });

  els.form.addEventListener("submit", function (event) {
    event.preventDefault();
    var value = els.input.value;
    els.input.value = "";
    if (els.input.getAttribute("inputmode") !== "none") {
      keyboard(false); // the keyboard goes away so that the answer can be seen
      els.input.blur();
    }
    handleCode(value);
    els.input.focus();
  });

  // Keep the scanner input focused: a handheld scanner "types" into whatever has focus.
  els.input.addEventListener("blur", function () {
    setTimeout(function () {
      var a = document.activeElement;
      if (els.scan.hidden || !els.confirm.hidden || (a && a !== document.body && a !== els.input &&
          /^(SELECT|INPUT|TEXTAREA|BUTTON|A)$/.test(a.tagName))) return;
      els.input.focus();
    }, 150);
  });

  // ------------------------------------------------------------------ camera

  function prepareDecoder() {
    if ("BarcodeDetector" in window) {
      return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
        if (formats.indexOf("qr_code") >= 0) {
          var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
          return function (video) {
            return detector.detect(video).then(function (codes) {
              return codes.length ? codes[0].rawValue : null;
            });
          };
        }
        return jsqrDecoder();
      }, jsqrDecoder);
    }
    return jsqrDecoder();
  }

  function jsqrDecoder() {
    var ready = window.jsQR ? Promise.resolve() : loadScript(config.vendor.jsqr);
    return ready.then(function () {
      var canvas = document.createElement("canvas");
      var ctx = canvas.getContext("2d", { willReadFrequently: true });
      return function (video) {
        var w = video.videoWidth, h = video.videoHeight;
        if (!w || !h) return Promise.resolve(null);
        var scale = Math.min(1, 800 / Math.max(w, h));
        canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
        ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
        var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
        var found = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
        return Promise.resolve(found ? found.data : null);
      };
    });
  }

  function scanLoop() {
    if (!state.stream || !state.decoder) return;
    var video = els.video;
    var next = function () { setTimeout(scanLoop, 120); };
    if (video.readyState < 2 || els.scan.hidden) { next(); return; }
    state.decoder(video).then(function (text) {
      if (text) handleCode(text);
    }, function () { /* a frame that failed to decode */ }).then(next);
  }

  function startCamera() {
    els.camMsg.hidden = true;
    els.camStart.hidden = true;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      els.camMsg.textContent = T.camera_denied; els.camMsg.hidden = false;
      return;
    }
    navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    }).then(function (stream) {
      state.stream = stream;
      els.video.srcObject = stream;
      return els.video.play().catch(function () { /* autoplay muted: fine */ });
    }).then(function () {
      return state.decoder || prepareDecoder().then(function (d) { state.decoder = d; });
    }).then(function () {
      if (state.stream) scanLoop();
    }).catch(function () {
      els.camMsg.textContent = T.camera_denied; els.camMsg.hidden = false;
      els.camStart.hidden = false;
    });
  }
  els.camStart.addEventListener("click", startCamera);

  // ------------------------------------------------------------------ checkpoint choice

  function chooseCheckpoint(id) {
    var cp = config.checkpoints.find(function (c) { return c.id === id; });
    if (!cp) return false;
    state.checkpoint = cp;
    try { localStorage.setItem(KEY_CHECKPOINT, id); } catch (e) { /* ignore */ }
    els.cpName.textContent = cp.name;
    els.change.hidden = false;
    els.setup.hidden = true;
    els.scan.hidden = false;
    root.dataset.state = "scanning";
    root.dataset.checkpoint = cp.id;
    if (!state.stream) startCamera();
    els.input.focus();
    return true;
  }

  if (els.start) {
    els.start.addEventListener("click", function () { chooseCheckpoint(els.select.value); });
  }
  els.change.addEventListener("click", function () {
    els.scan.hidden = true;
    els.change.hidden = true;
    els.setup.hidden = false;
    root.dataset.state = "setup";
    if (els.select && state.checkpoint) els.select.value = state.checkpoint.id;
  });

  // ------------------------------------------------------------------ start

  // The service worker keeps this page, its scripts and the last snapshot for a reload
  // without network (a phone whose browser restarts during an outage).
  if (config.serviceWorker && "serviceWorker" in navigator) {
    navigator.serviceWorker.register(config.serviceWorker.url, { scope: config.serviceWorker.scope })
      .catch(function () { /* no offline reload: scanning still works */ });
  }
  if (navigator.onLine === false) setOnline(false);

  state.queue = load(KEY_QUEUE, []);
  var cached = load(KEY_SNAPSHOT, null);
  if (cached && cached.delegates) useSnapshot(cached); else renderSnapshotStatus();
  renderQueue();
  refreshSnapshot();
  setInterval(refreshSnapshot, SNAPSHOT_EVERY_MS);
  setInterval(function () { if (state.queue.length) syncQueue(); }, SYNC_EVERY_MS);
  window.addEventListener("online", function () { syncQueue(); });
  window.addEventListener("offline", function () { setOnline(false); });

  // Offline verification must work without the network: load the fallback verifier now if
  // this browser's WebCrypto has no Ed25519.
  (function probeEd25519() {
    var key = (config.publicKeys || [])[0];
    var fallback = function () { webCryptoEd25519 = false; loadScript(config.vendor.nacl).catch(function () {}); };
    if (!key || !(window.crypto && crypto.subtle)) { fallback(); return; }
    crypto.subtle.importKey("raw", base64url(key), { name: "Ed25519" }, false, ["verify"])
      .then(function () { webCryptoEd25519 = true; }, fallback);
  })();
  // The camera decoder too (jsQR is only needed where BarcodeDetector is missing).
  prepareDecoder().then(function (d) { state.decoder = state.decoder || d; }, function () {});

  var saved = null;
  try { saved = localStorage.getItem(KEY_CHECKPOINT); } catch (e) { /* ignore */ }
  if (!(saved && chooseCheckpoint(saved)) && els.select && config.checkpoints.length === 1) {
    els.select.value = config.checkpoints[0].id;
  }
})();
