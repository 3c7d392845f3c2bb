// The vendor portal's small script (the pages work without it): keeps "last seen" ages
// current, and asks before a form marked data-confirm (revoking a customer) is sent.
(function () {
  "use strict";
  function age(ms) {
    var s = Math.max(0, Math.floor((Date.now() - ms) / 1000));
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " days ago";
  }
  function tick() {
    var ts = document.querySelectorAll("time[data-ms]");
    for (var i = 0; i < ts.length; i++) {
      var ms = parseInt(ts[i].getAttribute("data-ms"), 10);
      if (ms > 0) ts[i].textContent = age(ms);
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector("time[data-ms]")) setInterval(tick, 30000);
    var forms = document.querySelectorAll("form[data-confirm]");
    for (var i = 0; i < forms.length; i++) {
      forms[i].addEventListener("submit", function (e) {
        if (!window.confirm(this.getAttribute("data-confirm"))) e.preventDefault();
      });
    }
  });
})();
