// The approval panel: "Approve & Continue" stays disabled until every confirmation is ticked
// and the phrase typed exactly (and always for the starter of a four-eyes step, marked
// data-four-eyes by the server); "Reject" until a reason is given. The server checks the same
// again, so without this script the forms still work (the server answers with the reason).
(function () {
  "use strict";

  function sync(form) {
    var approve = form.querySelector('button[value="approved"]');
    var reject = form.querySelector('button[value="rejected"]');
    var boxes = form.querySelectorAll('input[name="confirmation"]');
    var phrase = form.querySelector('input[name="typed_confirmation"]');
    var reason = form.querySelector('[name="reason"]');
    var ticked = Array.prototype.every.call(boxes, function (box) { return box.checked; });
    var typed = !phrase || phrase.value === phrase.getAttribute("data-phrase");
    var barred = approve && approve.hasAttribute("data-four-eyes");
    if (approve) { approve.disabled = barred || !(ticked && typed); }
    if (reject && reason) { reject.disabled = reason.value.trim() === ""; }
  }

  function syncAll() {
    document.querySelectorAll("form.decision-form").forEach(sync);
  }

  function onEdit(event) {
    var form = event.target.closest && event.target.closest("form.decision-form");
    if (form) { sync(form); }
  }

  document.addEventListener("input", onEdit);
  document.addEventListener("change", onEdit);
  document.addEventListener("DOMContentLoaded", syncAll);
  // New content from htmx (a decision's answer or a live update) brings fresh forms.
  document.addEventListener("htmx:load", syncAll);
})();
