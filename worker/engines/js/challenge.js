// The family of the bot-check wall the page is ("cloudflare", "datadome", "perimeterx",
// "akamai", "hcaptcha", "recaptcha", "turnstile") or "". DOM only (no page globals), so it
// runs in Marionette's sandbox as well as in the page.
//
// Two questions, in this order. Whose page is it? A page that carries its site's own layout
// (a navigation or banner landmark, or links to two other pages of its site) is the site's,
// whatever widget it shows: a confirm, unsubscribe or download form with a CAPTCHA is a page.
// Is it a vendor's wall? Each vendor is known by several markers, drawn from what its pages
// carry (tests/pages/challenges/README.md names the sources), so that one missing or renamed
// marker still leaves the others; the markers that real pages carry too (a widget, a
// sensor's globals, a "Ray ID") count only on a page of little text.
(() => {
  // Visible text longer than this is a page. The walls say a line or two (Google's /sorry
  // page, the longest, ~700 characters).
  const WALL_TEXT = 1500;
  const body = document.body;
  const text = body ? body.innerText.trim() : '';
  const little = text.length < WALL_TEXT;
  const has = selector => document.querySelector(selector) !== null;
  const scripts = [...document.scripts];
  const inline = scripts.filter(s => !s.src).map(s => s.text).join('\n');
  const sources = [...scripts, ...document.querySelectorAll('iframe, img')]
    .map(e => e.src || '').concat([...document.forms].map(f => f.action || ''));
  const from = pattern => sources.some(src => pattern.test(src));

  // The site's own layout (SITE_LAYOUT in docs/pages.md).
  const siteLayout = () => {
    const site = location.host.replace(/^www\./, '');
    const pages = new Set();
    for (const a of document.querySelectorAll('a[href]')) {
      let url;
      try { url = new URL(a.getAttribute('href'), location.href); } catch (e) { continue; }
      if (!/^https?:$/.test(url.protocol) || url.host.replace(/^www\./, '') !== site) continue;
      if (url.pathname !== location.pathname) pages.add(url.pathname);
    }
    const banner = [...document.querySelectorAll('header')]
      .some(h => !h.closest('article, aside, main, nav, section, [role="main"]'));
    return pages.size >= 2 || banner || has('nav, [role="navigation"], [role="banner"]');
  };
  if (siteLayout()) return '';

  // Cloudflare (cloudscraper's detection and Cloudflare's served interstitials): the
  // challenge options object and orchestration script, the challenge form and its token
  // URLs, the interstitial's element ids and classes, and the Ray ID footer.
  const cloudflare = [
    () => /\b_cf_chl_opt\b/.test(inline),
    () => from(/\/cdn-cgi\/challenge-platform\/.*\/orchestrate\//),
    () => from(/[?&]__cf_chl_(f_tk|jschl_tk__|captcha_tk__|tk|rt_tk)=/),
    () => from(/\/cdn-cgi\/images\/trace\/(jsch|captcha|managed)\//),
    () => has('#challenge-form, #challenge-stage, #challenge-running, #cf-challenge-running,'
      + ' #challenge-body-text, #challenge-spinner, #trk_jschal_js, .cf-browser-verification,'
      + ' #cf-browser-verification, .cf-im-under-attack, #cf-please-wait, #cf-spinner-please-wait,'
      + ' #cf-error-details, .cf-error-code'),
    () => little && /\bRay ID:?\s*[0-9a-f]{16}\b/i.test(text),
  ];
  if (cloudflare.some(marker => marker())) return 'cloudflare';
  // DataDome's block page: its `dd` options object and the captcha from captcha-delivery.com
  // (its tag on pages it lets through comes from js.datadome.co).
  if (from(/^https?:\/\/([^\/]+\.)?captcha-delivery\.com\//)
      || /\bdd\s*=\s*\{[^}]*['"]cid['"]/.test(inline)
      || (little && /captcha-delivery\.com/.test(inline))) return 'datadome';
  // HUMAN (PerimeterX): the block page's "Press & Hold" in #px-captcha, its first-party
  // captcha.js, the _px globals a block page sets.
  if (little && (has('#px-captcha')
      || from(/\/captcha\/captcha\.js\?a=c&/) || from(/captcha\.px-cdn\.net\//)
      || /\b_pxUuid\b/.test(inline) && /\b_pxAppId\b/.test(inline)
      || /Press\s*&\s*Hold/i.test(text))) return 'perimeterx';
  // Akamai: Bot Manager's challenge frame, or its edge's bare "Access Denied" (a handful of
  // elements, a reference number, its errors.edgesuite.net link).
  if (has('#sec-if-cpt-container, #sec-cpt-if') || from(/\/_sec\/cp_challenge\//)) return 'akamai';
  if (little && document.querySelectorAll('body *').length < 20 && [
    /Reference #[0-9]+\.[0-9a-f]+\.[0-9]+\.[0-9a-f]+/.test(text),
    /errors\.edgesuite\.net\//.test(text),
    /^Access Denied\b/.test(text) && /permission to access .* on this server/.test(text),
  ].filter(Boolean).length >= 2) return 'akamai';
  // A CAPTCHA wall: the widget, its script or its response field, on a page of little text
  // that is not the site's own. The reCAPTCHA v3 badge and invisible reCAPTCHA are no widget.
  if (!little) return '';
  const widgets = [
    ['hcaptcha', '.h-captcha, iframe[src*="hcaptcha.com/"], [name="h-captcha-response"],'
      + ' script[src*="hcaptcha.com/1/api.js"]'],
    ['recaptcha', '.g-recaptcha:not([data-size="invisible"]), #captcha-form,'
      + ' iframe[src*="/recaptcha/api2/anchor"]:not([src*="size=invisible"]),'
      + ' script[src*="/recaptcha/api.js"]:not([src*="render="])'],
    ['turnstile', '.cf-turnstile, iframe[src^="https://challenges.cloudflare.com/"],'
      + ' [name="cf-turnstile-response"], script[src*="challenges.cloudflare.com/turnstile/"]'],
  ];
  const found = widgets.find(([, selector]) => [...document.querySelectorAll(selector)]
    .some(e => !e.closest('.grecaptcha-badge')));
  return found ? found[0] : '';
})()
