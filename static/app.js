// Failed htmx requests say so in place: an error answer that is not a page fragment (JSON from
// the error handler: CSRF, sign-in, a server error) is never swapped into the page; its message
// is shown at the top of the form (or element) that sent the request. Ours, not third-party.
(function () {
  "use strict";

  function show(elt, text) {
    var host = (elt && elt.closest && elt.closest("form")) || elt || document.getElementById("main");
    if (!host) { return; }
    var note = host.querySelector(":scope > .request-error");
    if (!note) {
      note = document.createElement("p");
      note.className = "error request-error";
      note.setAttribute("role", "alert");
      host.insertBefore(note, host.firstChild);
    }
    note.textContent = text;
  }

  function detailOf(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.detail) { return String(body.detail); }
    } catch (ignored) { /* not JSON */ }
    return xhr.statusText || "the server refused the request";
  }

  // beforeSwap fires on the target; the message belongs to the element that sent the request.
  function sender(event) {
    var config = event.detail.requestConfig;
    return (config && config.elt) || event.detail.elt || event.target;
  }

  function isFragment(xhr) {
    return (xhr.getResponseHeader("content-type") || "").indexOf("text/html") === 0;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 400 && !isFragment(xhr)) {
      event.detail.shouldSwap = false;
      event.detail.isError = false;  // handled here: htmx:responseError would say it twice
      show(sender(event), "Not done (" + xhr.status + "): " + detailOf(xhr));
    }
  });
  document.addEventListener("htmx:responseError", function (event) {
    show(sender(event), "Not done (" + event.detail.xhr.status + "): " + detailOf(event.detail.xhr));
  });
  document.addEventListener("htmx:sendError", function (event) {
    show(sender(event), "Not done: the server did not answer. Check your connection and try again.");
  });
})();

// The approvals inbox: ticks on the bulk checkboxes survive the live list's swaps, and the
// relative times ("waiting 12 min · expires in 18 min") keep counting between swaps.
(function () {
  "use strict";
  var ticked = [];
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    var host = event.target;
    if (!host || host.id !== "approval-inbox") { return; }
    ticked = Array.prototype.map.call(host.querySelectorAll("input.bulk-select:checked"),
      function (box) { return box.value; });
  });
  document.addEventListener("htmx:sseMessage", function (event) {
    var host = event.target;
    if (!host || host.id !== "approval-inbox") { return; }
    host.querySelectorAll("input.bulk-select").forEach(function (box) {
      if (ticked.indexOf(box.value) >= 0) { box.checked = true; }
    });
  });

  var UNITS = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];
  function durationText(seconds) {  // as app/domain/text.py duration_text writes it
    var remaining = Math.max(0, Math.round(seconds)), parts = [];
    if (remaining === 0) { return "0 s"; }
    for (var i = 0; i < UNITS.length && parts.length < 2; i++) {
      var count = Math.floor(remaining / UNITS[i][1]);
      remaining -= count * UNITS[i][1];
      if (count) { parts.push(count + " " + UNITS[i][0]); } else if (parts.length) { break; }
    }
    return parts.join(" ");
  }
  setInterval(function () {
    var now = Date.now();
    document.querySelectorAll("time[data-since], time[data-until]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (isNaN(at)) { return; }
      var seconds = el.hasAttribute("data-since") ? (now - at) / 1000 : (at - now) / 1000;
      el.textContent = durationText(seconds);
    });
  }, 15000);
})();

// A live timeline event carrying the version the page already shows (the htmx answer to this
// page's own decision rendered it a moment ago) is not swapped in again: one render per change.
document.addEventListener("htmx:sseBeforeMessage", function (event) {
  var message = event.detail;
  if (!message || message.type !== "timeline" || !message.lastEventId) { return; }
  var shown = document.querySelector("#live #timeline");
  if (shown && shown.getAttribute("data-version") === message.lastEventId) {
    event.preventDefault();
  }
});

// The answer to this page's own decision is swapped into the timeline on screen now, not the one
// it was sent from: a live update may have replaced that one meanwhile (the request is slower
// than the push on a busy server). Left alone, htmx would "swap" into the detached element,
// which inserts nothing but does move the fields the person is typing in (hx-preserve, matched
// by id) out of the page and drop them. An answer older than what the live update already
// showed is not swapped at all: it would turn the page back, and the stream would not send the
// newer version again. Refusals are always shown. The listener sits on the timeline element
// itself, from the request on: events on a detached element never reach `document`.
(function () {
  "use strict";

  function beforeSwap(event) {
    var detail = event.detail;
    var current = document.querySelector("#live #timeline");
    if (!current) { return; }
    if (!detail.target.isConnected) { detail.target = current; }
    var answered = /data-version="(-?\d+)"/.exec(detail.serverResponse || "");
    var ok = detail.xhr && detail.xhr.status < 300;
    if (ok && answered && Number(current.getAttribute("data-version")) > Number(answered[1])) {
      detail.shouldSwap = false;
    }
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "timeline" || target.stepladderGuarded) { return; }
    target.stepladderGuarded = true;
    target.addEventListener("htmx:beforeSwap", beforeSwap);
  });
})();
