"""Keys reach the app from the moment the page loads: a keyboard-wedge scanner types, it never touches the screen.

textual-serve's page gives its terminal (xterm.js, whose keys arrive in a hidden textarea) no focus until someone taps
it, so every scan after a page load was lost until then. `with_focus` adds a small script to that page: it focuses the
terminal's textarea as soon as the terminal exists and gives the focus back whenever it is lost (a tap elsewhere, the
tab hidden and shown again, the window refocused). Nothing else on the kiosk's page takes typed input.
"""

from __future__ import annotations

FOCUS_SCRIPT = """<script>
(function () {
  "use strict";
  function keys() { return document.querySelector(".xterm-helper-textarea"); }
  function focusKeys() {
    var input = keys();
    if (input && document.activeElement !== input) { input.focus({ preventScroll: true }); }
  }
  function soon() { setTimeout(focusKeys, 0); }
  // The terminal is built by textual.js on load; look for it until it exists (at most 30 s).
  var started = Date.now();
  var waiting = setInterval(function () {
    if (keys() || Date.now() - started > 30000) { clearInterval(waiting); focusKeys(); }
  }, 50);
  window.addEventListener("load", soon);
  window.addEventListener("focus", soon);
  document.addEventListener("focusout", function (event) { if (event.target === keys()) { soon(); } }, true);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { soon(); } });
  document.addEventListener("pointerup", soon, true);
})();
</script>
"""


def with_focus(page: str) -> str:
    """The served page with `FOCUS_SCRIPT` before its closing body tag (or at its end, if it has none)."""
    at = page.rfind("</body>")
    if at < 0:
        return page + FOCUS_SCRIPT
    return page[:at] + FOCUS_SCRIPT + page[at:]
