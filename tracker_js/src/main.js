// Entry point of /__vernier/t.js: binds the browser's globals and exposes window.vernier.
// Calls queued by a stub defined before the script ran (window.vernier = {q: [['track', …]]}) are
// replayed.
import { init } from './tracker.js';

try {
  const prior = window.vernier;
  if (!prior || prior.q) {
    const api = (window.vernier = init({
      w: window,
      d: document,
      n: navigator,
      now: Date.now,
      script: document.currentScript || document.querySelector('script[src^="/__vernier/t.js"]'),
      tt: TRIGGERS_URL, // set by the build: /__vernier/triggers.js?v=<its version>
    }));
    if (prior) for (const [method, ...args] of prior.q) api[method] && api[method](...args);
  }
} catch (e) {
  /* never break the page */
}
