/* The report form: choosing "someone else" shows what they can do instead (the style sheet
   hides the rest of the form with :has(), with or without JavaScript). On a phone the panel
   then opens below the fold, where only its top border shows: this brings it into view below
   the quick-exit band and moves focus to it, so that a screen reader reads it too. */
(function () {
  "use strict";
  var choice = document.getElementById("role-other");
  var panel = document.getElementById("role-other-panel");
  if (!choice || !panel) {
    return;
  }
  var band = document.querySelector(".exit-bar");
  panel.setAttribute("tabindex", "-1");
  choice.addEventListener("change", function () {
    if (!choice.checked) {
      return;
    }
    panel.focus({ preventScroll: true });
    // In the frame after focus moved, after exit.js's own answer to it (queued first), so
    // that the panel's top, not the field's, ends just below the band.
    window.requestAnimationFrame(function () {
      var below = band ? band.getBoundingClientRect().bottom + 8 : 8;
      window.scrollBy(0, panel.getBoundingClientRect().top - below);
    });
  });
}());
