// Keeps each `<time>`'s relative part ("3 min ago", "in 18 min") true while a page stays open:
// the server writes it once (app/web/presentation.py `when`); this recomputes it each 15 s from
// the element's datetime, in the same words (app/domain/text.py duration_text).
(function () {
  "use strict";
  var UNITS = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];
  function duration(seconds) {
    var remaining = Math.max(0, Math.round(seconds));
    if (remaining === 0) return "0 s";
    var parts = [];
    for (var i = 0; i < UNITS.length && parts.length < 2; i++) {
      var count = Math.floor(remaining / UNITS[i][1]);
      remaining -= count * UNITS[i][1];
      if (count) parts.push(count + " " + UNITS[i][0]);
      else if (parts.length) break;
    }
    return parts.join(" ");
  }
  function relative(seconds) {
    if (Math.abs(seconds) < 1) return "just now";
    return seconds > 0 ? "in " + duration(seconds) : duration(-seconds) + " ago";
  }
  function refresh() {
    var now = Date.now();
    document.querySelectorAll("time[datetime] .relative").forEach(function (span) {
      var moment = Date.parse(span.parentNode.getAttribute("datetime"));
      if (!isNaN(moment)) span.textContent = relative((moment - now) / 1000);
    });
  }
  setInterval(refresh, 15000);
})();
