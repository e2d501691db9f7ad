// Batching, delivery and retry. Events wait in memory until a flush; a flush first writes them to
// the retry store (write-ahead: a page that dies mid-request loses nothing), then sends them in
// batches of one page view each (≤ maxEvents events, body ≤ maxBytes) and removes them from the
// store once the collector has answered (stored, or rejected for good). Retryable failures stay
// stored and go out again with the same event ids (the collector deduplicates by id) after an
// exponential back-off, or from the next page view.
import { RETRY } from './transport.js';

const MAX_PENDING = 500;
const encoder = new TextEncoder();
const bytes = (s) => encoder.encode(s).length;

/** [pageId, event] pairs → [{ids, body}]: one page view per body, ≤ maxEvents events, ≤ maxBytes. */
export function splitBatches(items, maxEvents, maxBytes) {
  const pages = new Map();
  for (const [page, ev] of items) pages.set(page, (pages.get(page) || []).concat([ev]));
  const out = [];
  pages.forEach((events, page) => {
    const head = '{"v":1,"page":' + JSON.stringify(page) + ',"events":[';
    const room = maxBytes - bytes(head) - 2; // "]}"
    let parts = [];
    let ids = [];
    let size = -1; // no comma before the first event
    const close = () => parts.length && out.push({ ids, body: head + parts.join(',') + ']}' });
    for (const ev of events) {
      const json = JSON.stringify(ev);
      const len = bytes(json) + 1;
      if (parts.length >= maxEvents || size + len > room) {
        close();
        parts = [];
        ids = [];
        size = -1;
      }
      size += len;
      parts.push(json);
      ids.push(ev.id);
    }
    close();
  });
  return out;
}

export function createQueue(store, send, now, maxEvents, maxBytes, backoffMs) {
  let pending = [];
  const inflight = new Set();
  let failures = 0;
  let retryAt = 0;

  const settle = (ids, result) => {
    for (const id of ids) inflight.delete(id);
    if (result === RETRY) {
      retryAt = now() + backoffMs * 2 ** Math.min(++failures, 6);
    } else {
      failures = retryAt = 0;
      store.save(store.load().filter(([, ev]) => !ids.includes(ev.id)));
    }
  };

  return {
    add(page, ev) {
      if (pending.push([page, ev]) > MAX_PENDING) pending.shift();
      return pending.length;
    },
    /** Send what is pending or stored; `unloading`: the page is going away (sendBeacon, no back-off). */
    flush(unloading) {
      if (!unloading && now() < retryAt) return;
      const seen = new Set();
      const all = store.load().concat(pending).filter(([, ev]) => !seen.has(ev.id) && seen.add(ev.id));
      pending = [];
      if (!all.length) return;
      store.save(all);
      for (const { ids, body } of splitBatches(
        all.filter(([, ev]) => !inflight.has(ev.id)),
        maxEvents,
        maxBytes,
      )) {
        for (const id of ids) inflight.add(id);
        new Promise((resolve) => resolve(send(body, unloading))).then(
          (result) => settle(ids, result),
          () => settle(ids, RETRY),
        );
      }
    },
    /** Forget everything, stored batches included (consent withdrawn). */
    clear() {
      pending = [];
      store.save([]);
    },
  };
}
