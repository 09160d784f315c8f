/* The door scanner's service worker: served by /checkin/sw.js (registration/checkin/views.py
 * puts `self.CHECKIN` above this file: the page, the snapshot URL and the static files),
 * scope /checkin.
 *
 * A phone whose browser restarts during a network outage must still open the scanner. The
 * page, its scripts and styles and the last snapshot are cached; every request goes to the
 * network first (the server stays the truth: fresh page, fresh list, new scripts after a
 * deployment) and falls back to the cached copy when the network fails or hangs.
 *
 * The page and the snapshot name delegates and carry the session's CSRF token: they live in
 * a cache of their own that signing out deletes (static/js/staff.js). Scans (POSTs) and
 * photos are never cached here; the page itself keeps the photos' small copies for offline
 * use (scanner.js, cache "checkin-photos-v1", also deleted on sign-out).
 */
"use strict";

var CHECKIN = self.CHECKIN;
var STATIC_CACHE = "checkin-static-v1";
var PRIVATE_CACHE = "checkin-private-v1"; // static/js/staff.js deletes it on sign-out
var PHOTO_CACHE = "checkin-photos-v1"; // filled by the page (scanner.js), not here
var NETWORK_WAIT_MS = 4000; // then the cached copy, if there is one

function cacheFor(path) {
  if (CHECKIN.static.indexOf(path) >= 0) return STATIC_CACHE;
  if (path === CHECKIN.page || path === CHECKIN.snapshot) return PRIVATE_CACHE;
  return null;
}

function keep(cacheName, path, response) {
  if (!response || !response.ok || response.type !== "basic" || response.redirected) {
    return Promise.resolve();
  }
  var copy = response.clone();
  return caches.open(cacheName).then(function (cache) { return cache.put(path, copy); });
}

self.addEventListener("install", function (event) {
  var privateCopies = [CHECKIN.page, CHECKIN.snapshot].map(function (path) {
    return fetch(path, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return keep(PRIVATE_CACHE, path, response); })
      .catch(function () { /* the page keeps them on its next visit */ });
  });
  event.waitUntil(Promise.all([
    caches.open(STATIC_CACHE).then(function (cache) { return cache.addAll(CHECKIN.static); }),
  ].concat(privateCopies)).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  var current = [STATIC_CACHE, PRIVATE_CACHE, PHOTO_CACHE];
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("checkin-") === 0 && current.indexOf(name) < 0;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function networkFirst(request, cacheName, path) {
  var network = fetch(request).then(function (response) {
    keep(cacheName, path, response);
    return response;
  });
  return caches.open(cacheName).then(function (cache) {
    return cache.match(path);
  }).then(function (cached) {
    if (!cached) return network;
    var late = new Promise(function (resolve) {
      setTimeout(function () { resolve(cached); }, NETWORK_WAIT_MS);
    });
    return Promise.race([network.catch(function () { return cached; }), late]);
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var cacheName = cacheFor(url.pathname);
  if (!cacheName) return;
  event.respondWith(networkFirst(request, cacheName, url.pathname));
});
