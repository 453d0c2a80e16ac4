"""The staff kit's interface in a real browser: the checks every page of it passes.

- ``check(page, where)``: the page holds no script of its own; axe finds no violation (every
  default rule, and WCAG 2.2's target size, orientation and label-in-name, which axe leaves off
  by default) at 1280 px and at 390 px (``WIDTHS``); nothing scrolls sideways at either.
  axe is a script the test injects, so ``page`` must be in a context with JavaScript on.
- ``SCROLLS_SIDEWAYS``: a function for ``page.evaluate``: None when the page does not scroll
  sideways, else the widths and the first elements that pass the window's right edge.
"""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

AXE = Axe()
# As tests/browser/test_accessibility.py: every default rule, and WCAG 2.2's target size,
# orientation and label-in-name, which axe leaves off by default.
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "rules": {name: {"enabled": True}
              for name in ("target-size", "css-orientation-lock", "label-content-name-mismatch")},
}
WIDTHS = {"1280 px": (1280, 800), "390 px": (390, 844)}
SCROLLS_SIDEWAYS = """() => {
  const root = document.documentElement;
  if (root.scrollWidth <= root.clientWidth) return null;
  return [root.scrollWidth, root.clientWidth, Array.from(document.body.querySelectorAll('*'))
    .filter((e) => e.getBoundingClientRect().right > root.clientWidth + 0.5)
    .slice(0, 5).map((e) => e.tagName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''))];
}"""


def check(page, where: str) -> None:
    """axe with no violation at each width, and nothing that scrolls sideways."""
    assert page.evaluate("document.scripts.length") == 0  # the page has no script of its own
    for name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        results = AXE.run(page, options=AXE_OPTIONS)
        if results.violations_count:
            print(f"{where} at {name}:\n{results.generate_report()}")
        assert results.violations_count == 0, (where, name, [v["id"] for v in results.response["violations"]])
        ran = {rule["id"] for kind in ("passes", "incomplete", "inapplicable", "violations")
               for rule in results.response[kind]}
        assert {"color-contrast", "label", "region", "target-size", "html-has-lang"} <= ran
        assert page.evaluate(SCROLLS_SIDEWAYS) is None, f"{where} scrolls sideways at {name}"
    page.set_viewport_size({"width": 1280, "height": 800})
