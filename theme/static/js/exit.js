/* Quick exit, after GOV.UK's "Exit this page": the button, Esc, or Shift pressed three times
   in a row within three seconds hides this page at once and replaces it with an everyday site.
   location.replace() takes this page out of the tab's history, so Back does not return to it.
   Without JavaScript the button is an ordinary link to the same site. Nothing is stored.

   So that nobody loses a report they are typing: Esc does not leave from a text field (there
   it closes suggestions), and any other key between the Shift presses starts the count again
   (typing capitals is not a signal). */
(function () {
  "use strict";
  var button = document.querySelector("a.quick-exit");
  if (!button) {
    return;
  }
  var target = button.href;
  var shifts = [];

  function leave(event) {
    if (event) {
      event.preventDefault();
    }
    // Hide first: the page must vanish even if the next site is slow to answer.
    document.documentElement.className += " leaving";
    document.title = "";
    window.location.replace(target);
  }

  button.addEventListener("click", leave);
  function typing(element) {
    var tag = element && element.tagName;
    return tag === "TEXTAREA" || (tag === "INPUT" && !/^(checkbox|radio|button|submit)$/.test(element.type));
  }

  document.addEventListener("keydown", function (event) {
    if (event.isComposing || event.keyCode === 229) {
      return;  // a Japanese input method at work: its keys are not signals to leave
    }
    if (event.key === "Escape" || event.key === "Esc") {
      if (!typing(event.target)) {
        leave(event);
      }
    } else if (event.key === "Shift") {
      if (event.repeat) {
        return;
      }
      var now = Date.now();
      shifts = shifts.filter(function (at) { return now - at < 3000; });
      shifts.push(now);
      if (shifts.length >= 3) {
        leave(event);
      }
    } else {
      shifts = [];
    }
  });
  // Coming back with Back from the next site (bfcache) must not show this page again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && document.documentElement.className.indexOf("leaving") !== -1) {
      window.location.replace(target);
    }
  });
}());
