// PeerBridge console: taps that survive a flaky connection, the live Now list, the signature pad.
(function () {
  'use strict';
  var net = document.getElementById('net');
  var pending = null;

  function say(message, retry) {
    net.hidden = false;
    net.textContent = '';
    var p = document.createElement('p');
    p.textContent = message;
    net.appendChild(p);
    if (retry) {
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'big';
      b.textContent = 'Send again now';
      b.addEventListener('click', function () { if (pending) { send(pending); } });
      net.appendChild(b);
    }
  }

  function show(html) {
    document.open();
    document.write(html);
    document.close();
  }

  // A tap is sent once, with its key; when the network fails it stays pending on screen, said plainly, and is
  // sent again (same key, same body: pairing does it at most once) when the phone is back online or on a tap.
  function send(tap) {
    if (tap.sending) { return; }  // one request at a time: a second would race the first for the same key
    tap.sending = true;
    tap.buttons.forEach(function (b) { b.disabled = true; });
    say('Sending…', false);
    fetch(tap.action, {method: 'POST', body: tap.body, credentials: 'same-origin',
                       headers: {'Content-Type': 'application/x-www-form-urlencoded'}})
      .then(function (res) {
        pending = null;
        if (res.redirected) { window.location.assign(res.url); return null; }
        return res.text().then(show);
      })
      .catch(function () {
        tap.sending = false;
        pending = tap;
        tap.buttons.forEach(function (b) { b.disabled = false; });
        document.body.classList.add('is-offline');
        say('Offline: not sent. Your tap is kept here and is sent when the connection is back.', true);
      });
  }

  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!form.hasAttribute('data-send') || !window.fetch) { return; }
    event.preventDefault();
    if (pending) { say('An earlier tap is still waiting to be sent; send it first.', true); return; }
    var sentAt = form.querySelector('input[name="sent_at"]');
    if (sentAt && !sentAt.value) { sentAt.value = new Date().toISOString(); }
    var body = new URLSearchParams(new FormData(form)).toString();
    send({action: form.action, body: body, buttons: Array.prototype.slice.call(form.querySelectorAll('button'))});
  });

  window.addEventListener('online', function () {
    document.body.classList.remove('is-offline');
    if (pending) { send(pending); }
  });
  window.addEventListener('beforeunload', function (event) {
    if (pending) { event.preventDefault(); event.returnValue = ''; }
  });

  document.querySelectorAll('input[data-tz]').forEach(function (el) {
    el.value = String(new Date().getTimezoneOffset());
  });

  // The Now list (and the supervisor's board) asks for itself every few seconds; the header says it is not the
  // user's activity.
  var live = document.querySelector('[data-live]');
  var stale = document.getElementById('stale');
  if (live) {
    var seconds = Number(document.body.getAttribute('data-poll')) || 5;
    var last = new Date();
    setInterval(function () {
      fetch(live.getAttribute('data-live'), {credentials: 'same-origin', headers: {'X-Console-Poll': '1'}})
        .then(function (res) {
          if (res.status === 401) { window.location.assign('/?expired=1&next=' + encodeURIComponent(window.location.pathname)); return null; }
          if (!res.ok) { throw new Error(String(res.status)); }
          return res.text().then(function (html) {
            last = new Date();
            stale.hidden = true;
            if (html.trim() !== live.innerHTML.trim()) { live.innerHTML = html; }
          });
        })
        .catch(function () {
          stale.hidden = false;
          stale.textContent = 'Offline: this list may be out of date (last updated ' +
            last.toLocaleTimeString() + ').';
        });
    }, seconds * 1000);
  }

  // The patient's signature, drawn with a finger; kept as a PNG in the form.
  var pad = document.getElementById('pad');
  if (pad) {
    var ctx = pad.getContext('2d');
    var field = document.getElementById('signature');
    var drawing = false;
    ctx.lineWidth = 2.5;
    ctx.lineCap = 'round';
    ctx.strokeStyle = '#111';
    var at = function (e) {
      var r = pad.getBoundingClientRect();
      return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
    };
    pad.addEventListener('pointerdown', function (e) {
      drawing = true;
      pad.setPointerCapture(e.pointerId);
      var p = at(e);
      ctx.beginPath();
      ctx.moveTo(p[0], p[1]);
    });
    pad.addEventListener('pointermove', function (e) {
      if (!drawing) { return; }
      var p = at(e);
      ctx.lineTo(p[0], p[1]);
      ctx.stroke();
    });
    var end = function () {
      if (!drawing) { return; }
      drawing = false;
      field.value = pad.toDataURL('image/png');
    };
    pad.addEventListener('pointerup', end);
    pad.addEventListener('pointercancel', end);
    document.getElementById('pad-clear').addEventListener('click', function () {
      ctx.clearRect(0, 0, pad.width, pad.height);
      field.value = '';
    });
  }

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch(function () { /* the app works without it */ });
  }
}());
