"""The scripts the engines run in pages, as WebDriver Classic runs them (``arguments``,
``return``): the long ones are js/ files (pagejs.py)."""

from __future__ import annotations

from worker.engines.challenge import CHALLENGE_FUNCTION
from worker.engines.pagejs import page_script

# Waits for the page after load (js/settle.js says what for) within arguments[0] ms and
# resolves with [outcome, waited]: "ready" or "timeout: <what was still awaited>", and what
# the wait was last held up by ("" for nothing). It reads what js/activity.js, injected
# before the page's own scripts, saw the page do.
SETTLE_SCRIPT = page_script("settle.js")
ACTIVITY_SCRIPT = page_script("activity.js")

# The HTTP status of the main document (0 where the browser does not expose it), or -1 on
# the browser's own error page (Chromium shows one instead of failing the navigation).
STATUS_SCRIPT = """
if (/^(chrome-error|about:neterror|about:certerror)/.test(document.documentURI)) return -1;
const nav = performance.getEntriesByType('navigation')[0];
return nav && nav.responseStatus ? nav.responseStatus : 0;
"""
VIEWPORT_SCRIPT = "return [window.innerWidth, window.innerHeight];"
AGENT_SCRIPT = "return navigator.userAgent;"
# Redirects the main document may take (Firefox: network.http.redirection-limit).
MAX_REDIRECTS = 5

# The page's title, where the browser now is (after redirects and fragment jumps), where
# the viewport is in the page, the bot check the page is, if it is one, and what its first
# screen shows (Shot.content).
CONTENT_FUNCTION = page_script("content.js").strip()
PAGE_SCRIPT = f"""
let content = '';
try {{ content = {CONTENT_FUNCTION}; }} catch (e) {{ /* the page broke the look */ }}
return [(document.title || '').trim().slice(0, 200), location.href, pageXOffset, pageYOffset,
        {CHALLENGE_FUNCTION}, content];
"""

# Whether an element matching arguments[0] is shown (wait_for's final word).
SHOWN_SCRIPT = """
return [...document.querySelectorAll(arguments[0])].some(el =>
  el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden');
"""
# Hides the elements of each selector list in arguments[0] (the image URL's hide values),
# with a style sheet, so elements a script adds later are hidden too. Returns the selectors
# the browser refused.
HIDE_SCRIPT = """
const style = document.createElement('style');
(document.head || document.documentElement).appendChild(style);
const refused = [];
for (const selector of arguments[0]) {
  try {
    const rules = style.sheet.cssRules.length;
    style.sheet.insertRule(`${selector} { display: none !important; }`, rules);
  } catch (error) { refused.push(selector); }
}
return refused;
"""
# The box of the first element matching arguments[0], in CSS pixels of the document
# ([left, top, width, height]), or null.
ELEMENT_SCRIPT = """
const el = document.querySelector(arguments[0]);
if (!el) return null;
const r = el.getBoundingClientRect();
return [Math.round(r.left + pageXOffset), Math.round(r.top + pageYOffset),
        Math.round(r.width), Math.round(r.height)];
"""
