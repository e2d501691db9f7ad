// The retry store: events not yet acknowledged, as [pageId, event] pairs, in localStorage (shared by
// the origin's tabs, so a failed batch is retried by the next page view), bounded to `max` events
// (oldest dropped). Falls back to memory when storage is missing, blocked (it can throw on access)
// or full.
export function createStore(getStorage, key, max) {
  let mem = [];
  let ls; // opened by the first load or save (a flush), never while the page loads: it can take ms
  return {
    load() {
      try {
        const items = (ls = ls === undefined ? getStorage() : ls) ? JSON.parse(ls.getItem(key)) || [] : mem;
        return items.filter((it) => typeof it[0] == 'string' && it[1] && typeof it[1].id == 'string');
      } catch (e) {
        return []; // corrupt, or storage blocked (the save after it falls back to memory)
      }
    },
    save(items) {
      mem = items.slice(-max);
      try {
        if ((ls = ls === undefined ? getStorage() : ls)) mem.length ? ls.setItem(key, JSON.stringify(mem)) : ls.removeItem(key);
      } catch (e) {
        ls = null; // quota exceeded or blocked: keep going in memory
      }
    },
  };
}
