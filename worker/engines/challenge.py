"""Bot checks: what the common interstitials put in a page, so a wall is never stored as a
preview (worker/quality.py rejects it).

A wall is a vendor's page, not the site's: a page with the site's own layout (navigation
or banner landmarks, links to the site's other pages) is never one, whatever widget its
form carries. Each vendor is then recognised by several of the markers its walls serve, so
that one renamed marker leaves the others, never by a title ("Just a moment..." is also an
article's headline) and never by what real pages carry too on their own: Cloudflare injects
``/cdn-cgi/challenge-platform/scripts/jsd/...`` into pages it lets through, sites embed a
Turnstile or reCAPTCHA widget in their own forms, reCAPTCHA v3 shows its badge on every
page. tests/pages/challenges/ holds a page modelled on each wall and each such real page,
and its README names the source of each marker.
"""

from __future__ import annotations

from worker.engines.pagejs import page_script

# A JavaScript function expression: called in the page once it is ready, it returns the
# family of the wall the page is, or "" (js/challenge.js says how it decides).
CHALLENGE_FUNCTION = page_script("challenge.js").strip()
