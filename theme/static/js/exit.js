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
  // The band stays at the top of the screen, so a form field that takes focus (by Tab, or by a
  // link of the error summary) is brought below it whole: its label, hint and error message,
  // not only its box, which is all the browser's scroll-padding can promise. The error
  // summary's links focus their field themselves, as GOV.UK's do: a fragment link alone
  // scrolls to it but does not always move focus there.
  var band = document.querySelector(".exit-bar");
  function reveal(control) {
    var field = control.closest && control.closest(".field");
    if (!field || !band) {
      return;
    }
    var below = band.getBoundingClientRect().bottom + 8;
    var room = window.innerHeight - below;
    var box = control.getBoundingClientRect();
    // From the top of the field down: the first start (label, hint, error) from which the
    // control still shows at least its first lines; the control itself when none does.
    var starts = [field].concat(Array.prototype.slice.call(field.querySelectorAll(".hint, .error-message")));
    var top = box.top;
    for (var i = 0; i < starts.length; i += 1) {
      var start = starts[i].getBoundingClientRect().top;
      if (box.top - start + Math.min(box.height, 48) <= room) {
        top = start;
        break;
      }
    }
    if (top < below || box.top + Math.min(box.height, 48) > window.innerHeight) {
      window.scrollBy(0, top - below);
    }
  }
  // After the browser's own scrolling to what took focus, which would undo ours.
  function revealSoon(control) {
    window.requestAnimationFrame(function () {
      reveal(control);
    });
  }
  // Not when the field was tapped or clicked: it is then in view already, and must not move
  // under the finger.
  var pointed = false;
  document.addEventListener("pointerdown", function () {
    pointed = true;
  }, true);
  document.addEventListener("focusin", function (event) {
    if (!pointed) {
      revealSoon(event.target);
    }
    pointed = false;
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".error-summary a[href^='#']");
    var control = link && document.getElementById(link.getAttribute("href").slice(1));
    if (!control) {
      return;
    }
    event.preventDefault();
    control.focus({ preventScroll: true });
    reveal(control);
  });

  // Coming back with Back from the next site (bfcache) must not show this page again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && document.documentElement.className.indexOf("leaving") !== -1) {
      window.location.replace(target);
    }
  });
}());
