// Fakes of the browser objects the tracker uses: a tiny DOM (elements with attributes, closest,
// querySelector over a small selector subset), window/document/navigator, a manual clock with
// timers and animation frames, a recording fetch/sendBeacon, localStorage and IntersectionObserver.
// No DOM emulator: only what the tracker touches, so the tests also pin down that surface.
import { webcrypto } from 'node:crypto';
import assert from 'node:assert/strict';
import { bodyErrors } from './contract.js';
import { init } from '../../src/tracker.js';

// ---------- selectors: comma lists of compounds of tag, #id, .class, [attr], [attr=v], :not([…])
function parseCompound(sel) {
  const parts = [];
  const re = /^(?:([a-zA-Z][\w-]*)|#([\w-]+)|\.([\w-]+)|\[([\w-]+)(?:=(?:"([^"]*)"|([\w-]*)))?\]|:not\(\[([\w-]+)(?:=(?:"([^"]*)"|([\w-]*)))?\]\))/;
  let rest = sel.trim();
  while (rest) {
    const m = re.exec(rest);
    if (!m) throw new SyntaxError(`unsupported selector ${sel}`);
    if (m[1]) parts.push((el) => el.tagName.toLowerCase() === m[1].toLowerCase());
    else if (m[2]) parts.push((el) => el.getAttribute('id') === m[2]);
    else if (m[3]) parts.push((el) => (el.getAttribute('class') || '').split(/\s+/).includes(m[3]));
    else if (m[4]) {
      const v = m[5] ?? m[6];
      parts.push((el) => el.hasAttribute(m[4]) && (v === undefined || el.getAttribute(m[4]) === v));
    } else {
      const v = m[8] ?? m[9];
      parts.push((el) => !(el.hasAttribute(m[7]) && (v === undefined || el.getAttribute(m[7]) === v)));
    }
    rest = rest.slice(m[0].length);
  }
  return (el) => parts.every((p) => p(el));
}
export function matcher(selector) {
  if (typeof selector !== 'string' || !selector.trim()) throw new SyntaxError(`bad selector ${selector}`);
  const list = selector.split(',').map(parseCompound);
  return (el) => list.some((m) => m(el));
}

export class FakeElement {
  constructor(tagName, attrs = {}, children = []) {
    this.tagName = tagName.toUpperCase();
    this.attrs = new Map(Object.entries(attrs));
    this.parentNode = null;
    this.children = [];
    this.readLog = null; // set by tests that check which attributes are read
    for (const c of children) this.append(c);
  }
  append(child) {
    child.parentNode = this;
    this.children.push(child);
    return child;
  }
  getAttribute(name) {
    if (this.readLog) this.readLog.push(name);
    return this.attrs.has(name) ? String(this.attrs.get(name)) : null;
  }
  hasAttribute(name) {
    return this.attrs.has(name);
  }
  setAttribute(name, value) {
    this.attrs.set(name, String(value));
  }
  matches(selector) {
    return matcher(selector)(this);
  }
  closest(selector) {
    const m = matcher(selector);
    for (let el = this; el instanceof FakeElement; el = el.parentNode) if (m(el)) return el;
    return null;
  }
  cloneNode(deep) {
    const copy = new FakeElement(this.tagName, Object.fromEntries(this.attrs));
    if (deep) for (const c of this.children) copy.append(c.cloneNode(true));
    return copy;
  }
  remove() {
    if (this.parentNode) this.parentNode.children = this.parentNode.children.filter((c) => c !== this);
    this.parentNode = null;
  }
  replaceWith(other) {
    const parent = this.parentNode;
    other.remove();
    parent.children[parent.children.indexOf(this)] = other;
    other.parentNode = parent;
    this.parentNode = null;
  }
  contains(other) {
    for (let el = other; el; el = el.parentNode) if (el === this) return true;
    return false;
  }
  *walk() {
    for (const c of this.children) {
      yield c;
      yield* c.walk();
    }
  }
}
export const h = (tag, attrs, ...children) => new FakeElement(tag, attrs || {}, children);

/**
 * A <template> holding `root`: like a browser's, its content is outside the document (no query
 * or event reaches it) until the tracker clones it in.
 */
export function template(attrs, root) {
  const el = new FakeElement('template', attrs);
  el.content = { firstElementChild: root || null };
  return el;
}

/** The URL t.js imports in-page triggers from; in the tests, the module's source. */
export const TRIGGERS_URL = new URL('../../src/observe/triggers.js', import.meta.url).href;

/** Object.assign that keeps getters as getters. */
const define = (obj, props) => Object.defineProperties(obj, Object.getOwnPropertyDescriptors(props));

class FakeTarget {
  constructor() {
    this.listeners = [];
  }
  addEventListener(type, fn, options) {
    assert.equal(typeof options, 'object', `listener for ${type} must pass options`);
    assert.equal(options.passive, true, `listener for ${type} must be passive`);
    this.listeners.push({ type, fn, options });
  }
  removeEventListener(type, fn) {
    this.listeners = this.listeners.filter((l) => !(l.type === type && l.fn === fn));
  }
  dispatch(type, props = {}) {
    const event = { type, target: this, ...props };
    for (const l of this.listeners.slice()) if (l.type === type) l.fn.call(this, event);
    return event;
  }
  count(type) {
    return this.listeners.filter((l) => !type || l.type === type).length;
  }
}

export class FakeClock {
  constructor(start = 1732250000000) {
    this.t = start;
    this.timers = new Map();
    this.nextId = 1;
    this.now = () => this.t;
  }
  setTimeout(fn, ms = 0, ...args) {
    const id = this.nextId++;
    this.timers.set(id, { fn, args, at: this.t + Math.max(0, ms) });
    return id;
  }
  clearTimeout(id) {
    this.timers.delete(id);
  }
  /** Move time forward, running due timers in order. */
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let next = null;
      for (const [id, tm] of this.timers) if (tm.at <= end && (!next || tm.at < next[1].at)) next = [id, tm];
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn(...next[1].args);
    }
    this.t = end;
  }
}

export class FakeStorage {
  constructor() {
    this.map = new Map();
    this.writes = 0;
    this.reads = 0;
  }
  getItem(k) {
    this.reads++;
    return this.map.has(k) ? this.map.get(k) : null;
  }
  setItem(k, v) {
    this.writes++;
    this.map.set(k, String(v));
  }
  removeItem(k) {
    this.map.delete(k);
  }
}

const ratios = new WeakMap(); // element -> how much of it is in view (shared by all observers)

export class FakeIntersectionObserver {
  static instances = [];
  constructor(callback, options) {
    this.callback = callback;
    this.options = options;
    this.observed = new Set();
    FakeIntersectionObserver.instances.push(this);
  }
  /** Like a browser, observing an element reports where it is now (here at once, not in a frame). */
  observe(el) {
    this.observed.add(el);
    this.report(el, ratios.get(el) || 0);
  }
  unobserve(el) {
    this.observed.delete(el);
  }
  disconnect() {
    this.observed.clear();
  }
  /** Report that `el` is now `ratio` in view. */
  report(el, ratio) {
    ratios.set(el, ratio);
    if (this.observed.has(el)) this.callback([{ target: el, isIntersecting: ratio > 0, intersectionRatio: ratio }], this);
  }
}

/**
 * A page: window, document, navigator, clock, network. `body`: FakeElement children of <body>.
 * Every body POSTed to the event endpoint is checked against the contract.
 */
export function makePage({
  path = '/products',
  search = '',
  referrer = 'https://www.google.com/',
  title = 'Products',
  body = [],
  config,
  gpc,
  dnt,
  consent,
  storage = new FakeStorage(),
  respond = () => ({ ok: true, status: 202 }),
  beacon = () => true,
  withIO = true,
  triggersUrl = TRIGGERS_URL,
} = {}) {
  const clock = new FakeClock();
  const html = h('html', {}, h('body', {}, ...body));
  const requests = []; // {via, url, body, contentType}
  const frames = [];
  const idle = []; // requestIdleCallback callbacks not yet run
  const reads = { scrollY: 0, innerHeight: 0, scrollHeight: 0 };
  let scrollY = 0;
  let scrollHeight = 3000;
  const forms = () => [...html.walk()].filter((e) => e.tagName === 'FORM');

  const d = new FakeTarget();
  define(d, {
    visibilityState: 'visible',
    get hidden() {
      return this.visibilityState === 'hidden';
    },
    title,
    referrer,
    get forms() {
      return forms();
    },
    documentElement: {
      get scrollHeight() {
        reads.scrollHeight++;
        return scrollHeight;
      },
    },
    getElementById(id) {
      if (id === 'vernier-config' && config !== undefined) {
        return { textContent: typeof config === 'string' ? config : JSON.stringify(config) };
      }
      return [...html.walk()].find((e) => e.getAttribute('id') === id) || null;
    },
    querySelector(sel) {
      const m = matcher(sel);
      return [...html.walk()].find(m) || null;
    },
    querySelectorAll(sel) {
      if (sel === ':hover') return page.hovered; // the elements under the pointer, outermost first
      const m = matcher(sel);
      return [...html.walk()].filter(m);
    },
  });

  const location = {
    origin: 'https://shop.example',
    pathname: path,
    search,
    hash: '',
    get href() {
      return 'https://shop.example' + this.pathname + this.search + this.hash; // not origin: see api.test.js
    },
    toString() {
      return this.href;
    },
  };
  const go = (url) => {
    if (url == null) return;
    const u = new URL(url, location.origin + location.pathname);
    Object.assign(location, { pathname: u.pathname, search: u.search, hash: u.hash });
  };
  const history = {
    pushState(state, unused, url) {
      go(url);
    },
    replaceState(state, unused, url) {
      go(url);
    },
  };

  const w = new FakeTarget();
  define(w, {
    location,
    history,
    localStorage: storage,
    crypto: webcrypto,
    get scrollY() {
      reads.scrollY++;
      return scrollY;
    },
    get innerHeight() {
      reads.innerHeight++;
      return 1000;
    },
    setTimeout: (fn, ms, ...args) => clock.setTimeout(fn, ms, ...args),
    clearTimeout: (id) => clock.clearTimeout(id),
    requestAnimationFrame: (fn) => frames.push(fn),
    requestIdleCallback: (fn, options) => idle.push({ fn, options }),
    IntersectionObserver: withIO ? FakeIntersectionObserver : undefined,
    fetch: (url, init) => {
      // like fetch: a string body without a Content-Type header is sent as text/plain
      const contentType = (init.headers && init.headers['Content-Type']) || 'text/plain;charset=UTF-8';
      requests.push({ via: 'fetch', url, body: init.body, contentType, init });
      return Promise.resolve(respond(url, init));
    },
  });

  const n = {
    globalPrivacyControl: gpc,
    doNotTrack: dnt,
    sendBeacon(url, data) {
      const ok = beacon(url, data);
      if (ok) requests.push({ via: 'beacon', url, body: data, contentType: 'text/plain;charset=UTF-8' });
      return ok;
    },
  };
  const script = h('script', consent ? { 'data-vernier-consent': consent } : {});
  const env = { w, d, n, now: clock.now, script, tt: triggersUrl };

  const page = {
    w,
    d,
    n,
    env,
    clock,
    html,
    storage,
    requests,
    reads,
    hovered: [],
    /** Bodies POSTed to the event endpoint, parsed (each already checked against the contract). */
    get batches() {
      return requests
        .filter((r) => r.url === 'https://shop.example/__vernier/e')
        .map((r) => {
          assert.deepEqual(bodyErrors(r.body), [], `invalid body sent: ${r.body}`);
          return JSON.parse(r.body);
        });
    },
    /** All events sent, in order, with their page id as `_page` (duplicates kept). */
    get events() {
      return this.batches.flatMap((b) => b.events.map((e) => ({ ...e, _page: b.page })));
    },
    ofType(type) {
      return this.events.filter((e) => e.type === type);
    },
    setScroll(y, height = scrollHeight) {
      scrollY = y;
      scrollHeight = height;
    },
    runFrames() {
      const fns = frames.splice(0);
      for (const fn of fns) fn(clock.t);
      return fns.length;
    },
    get pendingFrames() {
      return frames.length;
    },
    /** Idle callbacks waiting (the tracker attaches its observers in one). */
    idle,
    /** Let the browser go idle: run the waiting idle callbacks; returns how many ran. */
    runIdle() {
      const cbs = idle.splice(0);
      for (const { fn } of cbs) fn({ didTimeout: false, timeRemaining: () => 50 });
      return cbs.length;
    },
    hide() {
      d.visibilityState = 'hidden';
      d.dispatch('visibilitychange');
    },
    show() {
      d.visibilityState = 'visible';
      d.dispatch('visibilitychange');
    },
    /** Send everything now, as the page going away would. */
    pagehide() {
      w.dispatch('pagehide', { persisted: false });
    },
    /** Dispatch `type` as if it happened on `target` (the tracker listens on document/window). */
    on(target, type, props = {}) {
      const event = { type, target, ...props };
      const captureFirst = [...d.listeners.filter((l) => l.options.capture), ...d.listeners.filter((l) => !l.options.capture)];
      for (const l of captureFirst) if (l.type === type) l.fn.call(d, event);
      for (const l of w.listeners.slice()) if (l.type === type) l.fn.call(w, event);
      return event;
    },
  };
  return page;
}

/**
 * Start the tracker on a page as main.js does and let the browser go idle (observers attached);
 * returns the window.vernier API. `{idle: false}`: stop after the script's evaluation.
 */
export function startOn(page, { idle = true } = {}) {
  FakeIntersectionObserver.instances = [];
  const api = init(page.env);
  if (idle) page.runIdle();
  return api;
}

/** Let promise callbacks (fetch answers) run. */
export const settle = () => new Promise((r) => setImmediate(r));
