// The tracker: wires the observers, the queue and the privacy gates together. Everything it touches
// in the browser comes in through `env` — {w: window, d: document, n: navigator, now: clock,
// script: our <script> element, tt: the URL of the triggers asset} — so the whole tracker runs
// in Node tests against fakes.
//
// Startup is split so that the script's own evaluation does almost nothing: it records the page
// view (its `ts` is the evaluation time) and adds the two lifecycle listeners that send it if the
// visitor leaves at once; the observers, the other listeners and the flush timer are attached
// later, in an idle callback (setTimeout without requestIdleCallback). Storage is first touched by
// a flush. In-page triggers are a second script, loaded then only if the page has any.
//
// Robustness rule: no exception ever leaves the tracker. Every listener, timer, observer callback
// and API call runs through `safe`, which swallows the error and reports the first one as a
// `custom` event named `tracker_error`.
import { makeId } from './ids.js';
import { createStore } from './storage.js';
import { createQueue } from './queue.js';
import { createTransport } from './transport.js';
import { readConfig } from './config.js';
import { optedOut, consentPending, postConsent } from './privacy.js';
import { clip, LONG_CHARS, SHORT_CHARS } from './dom.js';
import { conversionFields, customFields } from './values.js';
import { engaged } from './observe/engaged.js';
import { impressions } from './observe/impressions.js';
import { clicks } from './observe/clicks.js';
import { scroll } from './observe/scroll.js';
import { hover } from './observe/hover.js';
import { forms } from './observe/forms.js';
import { conversions } from './observe/conversions.js';
import { spa } from './observe/spa.js';

export const STORE_KEY = 'vernier:q';
export const MAX_STORED_EVENTS = 100;
export const MAX_BATCH_EVENTS = 50;
export const MAX_BODY_BYTES = 60000; // collector cap 65536; browsers allow 64 KiB of keepalive in flight

const OBSERVERS = [engaged, impressions, clicks, scroll, hover, forms, conversions, spa];

/** The tracker on one page; starts unless consent is pending. Returns the page API (window.vernier). */
export function init(env) {
  const { w, d } = env;
  // Vernier's endpoints (POST /__vernier/e, /__vernier/consent) on the page's own address:
  // fetch and sendBeacon resolve a path against the document's base URL, which a <base href>
  // may point at another origin (a CDN). From location, not location.origin ("null" in a
  // sandboxed page). A URL object: `endpoint + 'e'` is its href and 'e'.
  const endpoint = new URL('/__vernier/', w.location);
  const cfg = readConfig(d);
  const blocked = optedOut(env.n);
  const queue = createQueue(
    createStore(() => w.localStorage, STORE_KEY, MAX_STORED_EVENTS),
    createTransport(env.n, w, endpoint + 'e'),
    env.now,
    MAX_BATCH_EVENTS,
    MAX_BODY_BYTES,
    cfg.flushMs,
  );
  let running = false;
  let reported = false;
  let page;
  let stops = [];
  let mods = [];
  let timer;
  let tz; // the visitor's IANA time zone, until the first page view reports it

  const safe = (fn) =>
    function () {
      try {
        return fn.apply(this, arguments);
      } catch (e) {
        if (!reported) {
          reported = true;
          safe(emit)('custom', { name: 'tracker_error', props: { message: clip(String((e && e.message) || e), SHORT_CHARS) } });
        }
      }
    };
  const emit = (type, fields) => {
    if (running && queue.add(page, { id: makeId(w.crypto), type, ts: env.now(), ...fields }) >= MAX_BATCH_EVENTS) {
      queue.flush();
    }
  };
  const on = (target, type, fn, capture) => {
    const handler = safe(fn);
    const options = { passive: true, capture };
    target.addEventListener(type, handler, options);
    stops.push(() => target.removeEventListener(type, handler, options));
  };
  const each = (name, arg) => mods.forEach((m) => m[name] && safe(m[name])(arg));
  const newPage = (ref) => {
    const loc = w.location;
    page = makeId(w.crypto);
    emit('pageview', {
      url: clip(loc.pathname + loc.search, LONG_CHARS),
      ref: ref && clip(ref, LONG_CHARS),
      title: clip(d.title, SHORT_CHARS),
      tz,
    });
    tz = undefined;
  };
  const navigate = (ref) => {
    if (!running) return;
    each('collect', true); // close the old page view: its scroll, engaged time, hover
    newPage(ref);
    each('page');
  };
  const leave = () => {
    each('collect', true);
    queue.flush(true);
  };
  const tick = safe(() => {
    timer = w.setTimeout(tick, cfg.flushMs);
    each('collect');
    queue.flush();
  });

  /** Start: the page view and the lifecycle listeners now, the rest when the browser is idle. */
  const start = safe(() => {
    if (running || blocked) return;
    running = true;
    const t0 = env.now();
    // the visitor's IANA time zone goes with the first page view of each page load (the proxy's
    // rules and bandit then use the visitor's clock). Not once per session: remembering that it
    // was sent (sessionStorage) measured 26 bytes gzipped over t.js's budget.
    tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    safe(newPage)(d.referrer);
    on(d, 'visibilitychange', () => d.hidden && leave());
    on(w, 'pagehide', leave);
    const attach = safe(() => {
      if (!running || mods[0]) return; // stopped, or attached by an earlier start's callback
      // what an observer gets: env's w, d, n, now; `each(hook, arg)` calls the observers' hooks
      const ctx = { ...env, cfg, t0, emit, on, safe, navigate, each, onStop: (fn) => stops.push(fn), flush: queue.flush };
      mods = OBSERVERS.map((observe) => safe(observe)(ctx) || {});
      on(w, 'pageshow', (e) => e.persisted && navigate()); // restored from the back/forward cache
      each('page');
      timer = w.setTimeout(tick, cfg.flushMs);
      if (d.querySelector('[data-vernier-trigger]')) {
        // in-page triggers (observe/triggers.js) are a second asset, imported only by pages that
        // have a template; it starts as an observer if this run's page view is still the same
        const p = page;
        import(env.tt).then((m) => running && p == page && mods.push(safe(m.triggers)(ctx) || {}), () => 0);
      }
    });
    w.requestIdleCallback ? w.requestIdleCallback(attach, { timeout: 2000 }) : w.setTimeout(attach, 1);
  });

  /** Stop collecting and forget everything not yet sent, stored batches included. */
  const stop = safe(() => {
    running = false;
    stops.forEach((fn) => safe(fn)());
    stops = [];
    mods = [];
    w.clearTimeout(timer);
    queue.clear();
  });

  if (!consentPending(env.script)) start();
  return {
    /** A conversion: vernier.track('purchase', {value: 62.5, currency: 'USD'}). */
    track: safe((name, props) => {
      const fields = conversionFields(name, props);
      if (fields) emit('conversion', fields);
    }),
    /** A custom event: vernier.event('video_play', {video: 'intro', muted: true}). */
    event: safe((name, props) => {
      const fields = customFields(name, props);
      if (fields) emit('custom', fields);
    }),
    /**
     * The visitor's choice. true: tell the proxy, then start if it accepted (and no GPC/DNT).
     * false: stop, drop everything unsent, tell the proxy. Resolves to whether the proxy
     * accepted; never rejects.
     */
    consent: (granted) => {
      const yes = granted === true;
      if (!yes) stop();
      return postConsent(w, endpoint + 'consent', yes).then(safe((ok) => (ok && yes && start(), ok)));
    },
  };
}
