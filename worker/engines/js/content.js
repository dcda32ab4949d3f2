// What the page's first screen shows of its own, for the quality gate (worker/quality.py):
// "content" (text, an image, a drawn canvas, SVG, video, an embedded frame or a form field
// that a visitor sees), "placeholder" (only what a page shows before it is ready: spinners,
// progress bars, skeletons, aria-busy regions, a lone "Loading..." line) or "empty". Stops
// at the first piece of content, so a real page costs a few elements' look.
(() => {
  const width = innerWidth, height = innerHeight;
  // Seen from Marionette's sandbox, the page's own objects are behind wrappedJSObject.
  const activity = window.__ogshotActivity
    || (window.wrappedJSObject && window.wrappedJSObject.__ogshotActivity);
  // Words of loading indicators and skeleton screens, in class names, ids and image file names.
  const LOADER_WORDS = /(^|[^a-z0-9])(spinner|spin|loader|loading|throbber|preloader|skeleton|shimmer|placeholder-glow|placeholder-wave)($|[^a-z0-9])/i;
  // A line that only says the page is not there yet.
  const LOADING_TEXT = /^(loading|please wait|one moment|just a moment|wait|chargement|cargando|carregando|caricamento|laden|wird geladen|bezig met laden|загрузка)(\s*(, )?please wait)?[\s.…!]*$/i;
  const endless = new Set();
  for (const animation of document.getAnimations ? document.getAnimations() : []) {
    try {
      const timing = animation.effect.getComputedTiming();
      if (timing.endTime === Infinity && animation.effect.target) endless.add(animation.effect.target);
    } catch (e) { /* an animation without an element */ }
  }
  const seen = el => {
    const r = el.getBoundingClientRect();
    return r.width >= 4 && r.height >= 4 && r.bottom > 0 && r.right > 0 && r.top < height
      && r.left < width && (!el.checkVisibility
        || el.checkVisibility({opacityProperty: true, visibilityProperty: true}));
  };
  const small = el => {
    const r = el.getBoundingClientRect();
    return r.width <= 200 && r.height <= 200;
  };
  const words = el => `${typeof el.className === 'string' ? el.className
    : (el.className && el.className.baseVal) || ''} ${el.id || ''}`;
  // An element that says the page is still loading, or lies inside one (up to <body>).
  const placeholder = el => {
    for (let e = el; e && e !== document.body && e !== document.documentElement;
         e = e.parentElement || (e.getRootNode() && e.getRootNode().host)) {
      if (e.matches('[aria-busy="true"], [role="progressbar"], progress')) return true;
      if (LOADER_WORDS.test(words(e))) return true;
      if (endless.has(e) && small(e)) return true;  // a spinner turning forever
      if (e.matches('svg') && small(e)
          && e.querySelector('animate[repeatCount="indefinite"], animateTransform[repeatCount="indefinite"]')) return true;
    }
    return false;
  };
  // The text of the line an inline element stands in.
  const line = el => {
    let block = el;
    while (block.parentElement && block !== document.body
           && getComputedStyle(block).display.startsWith('inline')) block = block.parentElement;
    return (block.innerText || block.textContent || '').trim();
  };
  // Whether `el` is on top at the middle of the part of `rect` in the viewport, not under
  // an overlay (a preloader that covers the page while it loads).
  const onTop = (root, el, rect) => {
    const x = (Math.max(0, rect.left) + Math.min(width, rect.right)) / 2;
    const y = (Math.max(0, rect.top) + Math.min(height, rect.bottom)) / 2;
    const top = (root.elementFromPoint ? root : document).elementFromPoint(x, y);
    return !top || top === el || el.contains(top) || top.contains(el);
  };
  let waiting = false;  // a placeholder was seen
  const judge = (el, isContent) => {
    if (placeholder(el)) { waiting = true; return false; }
    return isContent;
  };
  const scan = root => {
    const texts = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = texts.nextNode(), n = 0; node && n < 5000; node = texts.nextNode(), n += 1) {
      const text = node.data.trim();
      const el = node.parentElement;
      if (!text || !el || el.closest('script, style, noscript, template, title')) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const shown = [...range.getClientRects()].find(r => r.width > 0 && r.height > 0
        && r.bottom > 0 && r.right > 0 && r.top < height && r.left < width);
      if (!shown || !onTop(root, el, shown) || (el.checkVisibility
          && !el.checkVisibility({opacityProperty: true, visibilityProperty: true}))) continue;
      if (!/[\p{L}\p{N}]/u.test(text)) continue;  // punctuation, an ellipsis: no content
      if (LOADING_TEXT.test(line(el))) { waiting = true; continue; }
      if (judge(el, true)) return true;
    }
    const media = 'img, svg, canvas, video, iframe, embed, object, input:not([type="hidden"]), textarea, select';
    for (const el of root.querySelectorAll(media)) {
      if (el.matches('svg svg') || !seen(el) || !onTop(root, el, el.getBoundingClientRect())) continue;
      let shows = true;
      if (el.matches('img')) {
        const loader = LOADER_WORDS.test(`${el.getAttribute('src') || ''} ${el.alt || ''}`);
        if (loader) waiting = true;
        shows = !loader && el.complete && el.naturalWidth > 0;
      } else if (el.matches('canvas') && activity) {
        const at = activity.drawnAt(el);
        // Never drawn: an empty canvas. Still drawing now, and small: a canvas spinner.
        shows = at > 0 && !(small(el) && activity.now() - at < 200);
        if (at > 0 && !shows) waiting = true;
      }
      if (shows && judge(el, true)) return true;
    }
    const all = root.querySelectorAll(root === document ? 'body *' : '*');
    for (let i = 0; i < all.length && i < 5000; i += 1) {
      const el = all[i];
      if (el.shadowRoot && scan(el.shadowRoot)) return true;
      const image = getComputedStyle(el).backgroundImage;
      if (image && image.includes('url(') && seen(el) && onTop(root, el, el.getBoundingClientRect())
          && judge(el, true)) return true;
      if (!waiting && (endless.has(el) || placeholder(el)) && seen(el)) waiting = true;
    }
    return false;
  };
  if (!document.body) return 'empty';
  const backdrop = [document.documentElement, document.body].some(el =>
    getComputedStyle(el).backgroundImage.includes('url('));
  if (backdrop || scan(document)) return 'content';
  return waiting ? 'placeholder' : 'empty';
})()
