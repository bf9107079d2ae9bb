// Time the client spends on the quote: every 15 s while the page is visible, one small beacon.
(function () {
  var script = document.currentScript;
  var url = script && script.getAttribute("data-beacon");
  if (!url) { return; }
  var INTERVAL = 15;
  function send(seconds) {
    var body = new FormData();
    body.append("seconds", String(seconds));
    if (navigator.sendBeacon) { navigator.sendBeacon(url, body); }
    else { fetch(url, { method: "POST", body: body, keepalive: true }); }
  }
  var since = Date.now();
  setInterval(function () {
    if (document.visibilityState === "visible") { send(INTERVAL); }
    since = Date.now();
  }, INTERVAL * 1000);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      var seconds = Math.round((Date.now() - since) / 1000);
      if (seconds > 0 && seconds < INTERVAL) { send(seconds); }
      since = Date.now();
    } else { since = Date.now(); }
  });
})();
