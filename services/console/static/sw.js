// Caches the app's shell only (styles, script, icon, the offline page): never a page or an answer with patient data.
var SHELL = 'peerbridge-shell-v2';
var FILES = ['/static/app.css', '/static/app.js', '/static/icon.svg', '/offline'];

self.addEventListener('install', function (event) {
  event.waitUntil(caches.open(SHELL).then(function (c) { return c.addAll(FILES); }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener('activate', function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== SHELL; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener('fetch', function (event) {
  var req = event.request;
  if (req.method !== 'GET') { return; }  // taps always go to the network; the page says when one was not sent
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname.indexOf('/static/') === 0) {
    event.respondWith(fetch(req).then(function (res) {
      var copy = res.clone();
      caches.open(SHELL).then(function (c) { c.put(req, copy); });
      return res;
    }).catch(function () { return caches.match(req); }));
  } else if (req.mode === 'navigate') {
    event.respondWith(fetch(req).catch(function () { return caches.match('/offline'); }));
  }
});
