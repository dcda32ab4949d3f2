// Waits (within arguments[0] ms) until an element matching arguments[1] (the image URL's
// wait_for), if given, is shown; the work the page started is done and it stopped changing
// (activity.js: timers due soon after load, idle callbacks, requests, DOM changes, canvas
// drawing); the first screen's images (lazy ones included) are decoded, web fonts are
// ready, a page's own window.ogshotReady, if it sets one, is true and autoconsent
// (worker/engines/consent.py), if it was injected, is done with the banner it found; then,
// budget or not, brings animations to their end and lets two frames paint.
// Resolves with [outcome, waited]: outcome "ready" or "timeout: <what was still awaited>",
// waited what the wait was last held up by ("" for nothing).
const done = arguments[arguments.length - 1];
const deadline = Date.now() + arguments[0];
// The page has not changed for this long: the frames of an animation it draws come every
// 16 ms, the steps of a request chain within a few.
const QUIET_MS = 100;
let awaiting = 'images';
let waited = '';
const activity = window.__ogshotActivity;
const nextFrame = () => new Promise(resolve => requestAnimationFrame(resolve));
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
const inFirstScreen = el => {
  const r = el.getBoundingClientRect();
  return r.bottom >= 0 && r.right >= 0 && r.top < innerHeight && r.left < innerWidth;
};
const jumpToFragment = () => {
  // A page with `scroll-behavior: smooth` would be caught mid-scroll: jump instead.
  document.documentElement.style.setProperty('scroll-behavior', 'auto', 'important');
  const id = decodeURIComponent(location.hash.slice(1));
  const target = id && (document.getElementById(id) || document.getElementsByName(id)[0]);
  if (target) target.scrollIntoView({behavior: 'instant'});
};
// autoconsent has not yet looked for a consent manager, or found one and is refusing consent.
const consentBusy = () => {
  const consent = window.autoconsentStandalone;
  if (!consent) return false;
  const state = consent.instance.state;
  return state.findCmpAttempts === 0
    || ['cmpDetected', 'openPopupDetected', 'runningOptOut'].includes(state.lifecycle);
};
// The image URL's wait_for: an element matching it, rendered and not hidden.
const waitFor = arguments.length > 2 ? arguments[1] : '';
const shown = selector => [...document.querySelectorAll(selector)].some(el =>
  el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden');
// Waits while `busy()` names something, within the deadline; says whether it waited.
const waitWhile = async (what, busy) => {
  let held = false;
  for (let now = busy(); now; now = busy()) {
    awaiting = what(now);
    waited = now;
    held = true;
    if (Date.now() >= deadline) throw new Error('late');
    await sleep(20);
  }
  return held;
};
const pageWork = () => activity ? activity.busy(QUIET_MS) : '';
const firstScreen = async () => {
  // load does not wait for lazy images: load those of the first screen now, and decode them.
  const images = [...document.images].filter(inFirstScreen);
  for (const img of images) if (img.loading === 'lazy') img.loading = 'eager';
  if (activity) activity.ours();
  awaiting = 'images';
  if (images.some(img => !img.complete)) waited = 'images';
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  awaiting = 'web fonts';
  if (document.fonts) {
    if (document.fonts.status === 'loading') waited = 'web fonts';
    await document.fonts.ready;
  }
  await waitWhile(() => 'window.ogshotReady', () => window.ogshotReady === false ? 'window.ogshotReady' : '');
  await waitWhile(() => 'the consent banner', () => consentBusy() ? 'the consent banner' : '');
};
const settle = async () => {
  jumpToFragment();
  if (activity) activity.ours();
  if (waitFor) {
    await waitWhile(() => `an element matching wait_for (${waitFor})`, () => shown(waitFor) ? '' : 'the wait_for element');
  }
  // The page's own work first, then the first screen; what the first screen waited for can
  // start more work (a font swap re-lays the page, a banner closes): look again, a few times.
  for (let round = 0; round < 5; round += 1) {
    await waitWhile(now => `the page's activity (${now})`, pageWork);
    await firstScreen();
    if (!pageWork()) break;
  }
  return 'ready';
};
const finish = async () => {
  // Animations and transitions at their end state, as a visitor sees them a moment later;
  // endless ones frozen where they are.
  for (const animation of document.getAnimations ? document.getAnimations() : []) {
    try {
      const timing = animation.effect && animation.effect.getComputedTiming();
      if (timing && timing.endTime === Infinity) animation.pause(); else animation.finish();
    } catch (e) { /* an animation the page removed meanwhile */ }
  }
  await nextFrame();
  await nextFrame();
};
const late = sleep(Math.max(0, deadline - Date.now())).then(() => 'late');
const settled = settle().catch(error => error.message === 'late' ? 'late' : `error: ${error}`);
Promise.race([settled, late]).then(async outcome => {
  await Promise.race([finish().catch(() => null), sleep(500)]);
  done([outcome === 'late' ? `timeout: ${awaiting} still awaited` : outcome, waited]);
}).catch(error => done([`error: ${error}`, waited]));
