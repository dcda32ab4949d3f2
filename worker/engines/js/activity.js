// ogshot's readiness hook: run in the page before any of its own scripts (each engine injects
// it its own way: worker/engines/pagejs.py), it only watches. It keeps what work the page
// has started that will change it soon (a timer due shortly after load, an idle callback, a
// fetch or XHR in flight) and when the page last changed (DOM mutations, canvas drawing, a
// resource arriving); settle.js waits on it, content.js asks which canvases were drawn.
(() => {
  if (window.__ogshotActivity) return;
  const clock = () => performance.now();
  // A timer is waited for when it is due within this many ms of load: what a framework's
  // boot or a deferred data request does. Later timers (a clock's tick, an analytics
  // beacon, a poll) are the page running on, not the page getting ready.
  const SOON_AFTER_LOAD = 1200;
  // A page that drew on a canvas this recently and has an animation frame requested is
  // still animating, however far apart its frames come: on a busy machine (renders at
  // once) they come more than `quiet` apart, and a chart was caught mid-growth.
  const ANIMATING_MS = 1000;
  // The same for the DOM: a page that changed it in an animation frame this recently and
  // has another frame requested is still animating (a count-up number caught at 550 of
  // 1000 with renders at once on a loaded machine). Shorter than a canvas's: a clock that a
  // frame loop ticks once a second is the page running on, not getting ready.
  const STEPPING_MS = 500;
  const state = {last: 0, kind: '', loadedAt: null, requests: 0, drewAt: -Infinity,
    framedAt: -Infinity};
  const frames = new Set();
  const timers = new Map();
  const idle = new Set();
  const drawn = new WeakMap();
  const touch = kind => { state.last = clock(); state.kind = kind; };
  // Wrappers keep the native functions' names and source text, so page code that checks
  // them (bot detection, polyfill tests) sees what it expects.
  const disguise = (wrapper, original) => {
    try {
      Object.defineProperty(wrapper, 'name', {value: original.name});
      Object.defineProperty(wrapper, 'toString', {value: () => Function.prototype.toString.call(original)});
    } catch (e) { /* a frozen function: leave it */ }
    return wrapper;
  };
  const wrap = (owner, name, make) => {
    const original = owner && owner[name];
    if (typeof original !== 'function') return;
    try { owner[name] = disguise(make(original), original); } catch (e) { /* read-only */ }
  };

  // Dialogs: a renderer has no one to answer them, and an open one stops the page and the
  // driver's next command. Answered as a visitor who dismisses them would.
  const answers = {alert: undefined, confirm: false, prompt: null, print: undefined};
  for (const [name, answer] of Object.entries(answers)) {
    wrap(window, name, () => function () { return answer; });
  }

  window.addEventListener('load', event => {
    if (event.target === document && state.loadedAt === null) state.loadedAt = clock();
  }, true);

  wrap(window, 'setTimeout', original => function (handler, delay, ...rest) {
    if (typeof handler !== 'function') return original.call(this, handler, delay, ...rest);
    const due = clock() + Math.max(0, Number(delay) || 0);
    let id;
    const run = function () {
      timers.delete(id);
      return handler.apply(this, arguments);
    };
    id = original.call(this, run, delay, ...rest);
    timers.set(id, due);
    return id;
  });
  wrap(window, 'clearTimeout', original => function (id) {
    timers.delete(id);
    return original.call(this, id);
  });
  wrap(window, 'requestAnimationFrame', original => function (callback) {
    if (typeof callback !== 'function') return original.call(this, callback);
    let id;
    const run = function () {
      frames.delete(id);
      try {
        return callback.apply(this, arguments);
      } finally {
        // What the callback changed (its records, not yet delivered to the observer).
        if (observer.takeRecords().length) {
          touch('changes to the page');
          state.framedAt = state.last;
        }
      }
    };
    id = original.call(this, run);
    frames.add(id);
    return id;
  });
  wrap(window, 'cancelAnimationFrame', original => function (id) {
    frames.delete(id);
    return original.call(this, id);
  });
  wrap(window, 'requestIdleCallback', original => function (callback, ...rest) {
    if (typeof callback !== 'function') return original.call(this, callback, ...rest);
    let id;
    const run = function () {
      idle.delete(id);
      return callback.apply(this, arguments);
    };
    id = original.call(this, run, ...rest);
    idle.add(id);
    return id;
  });
  wrap(window, 'cancelIdleCallback', original => function (id) {
    idle.delete(id);
    return original.call(this, id);
  });

  // Requests a script waits on: fetch until its response and the body the script reads,
  // XHR until it ends. (Images, styles and fonts are the engine's network watch and the
  // settle script's.)
  const during = promise => {
    state.requests += 1;
    touch('a request');
    const end = () => { state.requests -= 1; touch('a request'); };
    promise.then(end, end);
    return promise;
  };
  wrap(window, 'fetch', original => function () { return during(original.apply(this, arguments)); });
  const body = window.Response && Response.prototype;
  for (const name of ['json', 'text', 'arrayBuffer', 'blob', 'formData']) {
    wrap(body, name, original => function () { return during(original.apply(this, arguments)); });
  }
  const xhr = window.XMLHttpRequest && XMLHttpRequest.prototype;
  wrap(xhr, 'send', original => function () {
    const end = () => { state.requests -= 1; touch('a request'); };
    state.requests += 1;
    touch('a request');
    this.addEventListener('loadend', end, {once: true});
    try {
      return original.apply(this, arguments);
    } catch (error) {  // not sent (not opened, sent twice): no loadend will come
      this.removeEventListener('loadend', end);
      end();
      throw error;
    }
  });

  // Drawing: what a chart library's requestAnimationFrame loop does each frame.
  const draws = {
    CanvasRenderingContext2D: ['fill', 'stroke', 'fillRect', 'strokeRect', 'clearRect', 'fillText',
      'strokeText', 'drawImage', 'putImageData'],
    WebGLRenderingContext: ['drawArrays', 'drawElements', 'clear'],
    WebGL2RenderingContext: ['drawArrays', 'drawElements', 'clear', 'drawArraysInstanced',
      'drawElementsInstanced'],
  };
  for (const [type, names] of Object.entries(draws)) {
    const proto = window[type] && window[type].prototype;
    for (const name of names) {
      wrap(proto, name, original => function () {
        touch('drawing on a canvas');
        state.drewAt = state.last;
        if (this.canvas) drawn.set(this.canvas, state.last);
        return original.apply(this, arguments);
      });
    }
  }

  // DOM changes, from the end of parsing on (the parser's own insertions are the load).
  const observer = new MutationObserver(() => touch('changes to the page'));
  const observe = () => observer.observe(document, {
    childList: true, subtree: true, attributes: true, characterData: true});
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', observe, {once: true});
  else observe();
  try {
    new PerformanceObserver(() => touch('the network')).observe({type: 'resource'});
  } catch (e) { /* no resource timing here */ }

  const api = {
    // What the page is still busy with: '' when it has nothing pending and has not changed
    // for `quiet` ms, else what it waits on.
    busy(quiet) {
      const now = clock();
      const soon = (state.loadedAt === null ? now : state.loadedAt) + SOON_AFTER_LOAD;
      for (const due of timers.values()) if (due <= soon) return 'a timer the page set';
      if (idle.size) return 'an idle callback';
      if (state.requests > 0) return 'a request the page started';
      if (frames.size && now - state.drewAt < ANIMATING_MS) return 'drawing on a canvas';
      if (frames.size && now - state.framedAt < STEPPING_MS) return 'changes to the page';
      return now - state.last < quiet ? state.kind : '';
    },
    // Forget the DOM changes ogshot's own scripts just made (hide, lazy images, fragment).
    ours() { observer.takeRecords(); },
    // When a canvas was last drawn on (0: never since the page started).
    drawnAt(canvas) { return drawn.get(canvas) || 0; },
    now: clock,
  };
  Object.defineProperty(window, '__ogshotActivity', {value: Object.freeze(api)});
})();
