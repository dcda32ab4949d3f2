"""Bot checks: what the common interstitials put in a page, so a wall is never stored as a
preview (worker/quality.py rejects it).

Recognised by what each vendor's wall serves, never by a title ("Just a moment..." is also
an article's headline) and never by what real pages carry too: Cloudflare injects
``/cdn-cgi/challenge-platform/scripts/jsd/...`` into pages it lets through, sites embed a
Turnstile or reCAPTCHA widget in their own forms, reCAPTCHA v3 shows its badge on every
page. tests/pages/challenges/ holds a page modelled on each wall and each such real page.
"""

from __future__ import annotations

# Visible text longer than this is a page, whatever widget it has. The walls say a line or
# two (Google's /sorry page, the longest, ~700 characters).
WALL_TEXT = 1500

# A JavaScript function expression: called in the page once it is ready, it returns the
# family of the wall the page is ("cloudflare", "datadome", "perimeterx", "akamai",
# "hcaptcha", "recaptcha", "turnstile") or "". DOM only (no page globals), so it runs in
# Marionette's sandbox as well as in the page.
_FUNCTION = r"""
(() => {
  const scripts = [...document.scripts];
  const inline = scripts.filter(s => !s.src).map(s => s.text).join('\n');
  const sources = [...scripts, ...document.querySelectorAll('iframe')].map(e => e.src || '');
  const from = pattern => sources.some(src => pattern.test(src));
  const has = selector => document.querySelector(selector) !== null;
  let text = null;
  const wall = () => {
    if (text === null) text = document.body ? document.body.innerText.trim() : '';
    return text.length < WALL_TEXT;
  };
  // Cloudflare's interstitial: its options object and orchestration script are served only
  // on the challenge page (pages let through carry .../scripts/jsd/main.js instead).
  if (/\b_cf_chl_opt\b/.test(inline)
      || from(/\/cdn-cgi\/challenge-platform\/.*\/orchestrate\//)
      || has('#challenge-form, #challenge-stage, #cf-challenge-running')) return 'cloudflare';
  // DataDome's block page loads its captcha from captcha-delivery.com (its tag on pages it
  // lets through comes from js.datadome.co).
  if (from(/^https?:\/\/([^\/]+\.)?captcha-delivery\.com\//)) return 'datadome';
  // HUMAN (PerimeterX): the block page's "Press & Hold" mounts in #px-captcha.
  if (has('#px-captcha') && wall()) return 'perimeterx';
  // Akamai: its edge's bare "Access Denied" (a handful of elements, a reference number and
  // its errors.edgesuite.net link), or Bot Manager's challenge frame.
  if (has('#sec-if-cpt-container, #sec-cpt-if')) return 'akamai';
  if (wall() && document.querySelectorAll('body *').length < 20
      && /Reference #[0-9]+\.[0-9a-f]+\.[0-9]+\.[0-9a-f]+/.test(text)
      && /errors\.edgesuite\.net\//.test(text)) return 'akamai';
  // A CAPTCHA wall: the widget is the page (little text, nothing to fill in). A form with
  // a widget has fields; the reCAPTCHA v3 badge and invisible reCAPTCHA are not widgets.
  const widgets = [
    ['hcaptcha', '.h-captcha, iframe[src*="hcaptcha.com/"]'],
    ['recaptcha', '.g-recaptcha:not([data-size="invisible"]), '
      + 'iframe[src*="/recaptcha/api2/anchor"]:not([src*="size=invisible"])'],
    ['turnstile', '.cf-turnstile, iframe[src^="https://challenges.cloudflare.com/"]'],
  ];
  const found = widgets.find(([, selector]) => [...document.querySelectorAll(selector)]
    .some(e => !e.closest('.grecaptcha-badge')));
  if (!found || !wall()) return '';
  const fields = [...document.querySelectorAll('input, textarea, select')].filter(e =>
    !['hidden', 'submit', 'button', 'image', 'reset'].includes(e.type)
    && !e.closest(found[1])
    && e.getClientRects().length > 0);
  return fields.length === 0 ? found[0] : '';
})()
"""
CHALLENGE_FUNCTION = _FUNCTION.replace("WALL_TEXT", str(WALL_TEXT))
