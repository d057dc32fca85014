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
