import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makePage, startOn, settle, h } from './helpers/fake.js';

async function sent(page, type) {
  page.pagehide();
  await settle();
  return page.ofType(type);
}

test('pageview: path and query (never the hash), referrer, title', async () => {
  const page = makePage({ path: '/p', search: '?q=1', title: 'T' });
  page.w.location.hash = '#access_token=secret';
  startOn(page);
  const [pv] = await sent(page, 'pageview');
  assert.deepEqual([pv.url, pv.ref, pv.title], ['/p?q=1', 'https://www.google.com/', 'T']);
  assert.ok(!JSON.stringify(page.batches).includes('secret'));
});

test('long and non-BMP strings are clipped to the contract without splitting characters', async () => {
  const page = makePage({ path: '/' + '😀'.repeat(3000), title: 'x' + '😀'.repeat(300) });
  const api = startOn(page);
  api.event('e', { k: 'a' + '😀'.repeat(200) });
  const [pv] = await sent(page, 'pageview');
  assert.ok(pv.url.length <= 2048 && !/[\ud800-\udbff]$/.test(pv.url));
  assert.ok(pv.title.length <= 256 && !/[\ud800-\udbff]$/.test(pv.title));
  assert.ok(page.ofType('custom')[0].props.k.length <= 256);
});

test('vernier.track(name, {value, currency}) is a conversion', async () => {
  const page = makePage();
  const api = startOn(page);
  api.track('purchase', { value: 62.5, currency: 'usd', other: 'ignored' });
  api.track('signup');
  api.track('bad', { value: -1, currency: 'EURO' });
  api.track('', { value: 1 });
  api.track(42);
  api.track('big', { value: 2e9 });
  api.track('n'.repeat(100));
  const conv = await sent(page, 'conversion');
  assert.deepEqual(conv.map(({ name, value, currency }) => ({ name, value, currency })), [
    { name: 'purchase', value: 62.5, currency: 'USD' },
    { name: 'signup', value: undefined, currency: undefined },
    { name: 'bad', value: undefined, currency: undefined },
    { name: 'big', value: undefined, currency: undefined },
    { name: 'n'.repeat(64), value: undefined, currency: undefined },
  ]);
});

test('vernier.event(name, props) is a custom event with flat, bounded props', async () => {
  const page = makePage();
  const api = startOn(page);
  const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, i]));
  api.event('video_play', { video: 'intro', muted: true, at_s: 3, nested: { a: 1 }, nan: NaN, inf: Infinity, nul: null, fn() {}, ['x'.repeat(65)]: 1 });
  api.event('many', many);
  api.event('none');
  api.event('str', 'not an object');
  const custom = await sent(page, 'custom');
  assert.deepEqual(custom[0].props, { video: 'intro', muted: true, at_s: 3 });
  assert.equal(Object.keys(custom[1].props).length, 20);
  assert.equal('props' in custom[2], false);
  assert.equal('props' in custom[3], false);
});

test('configured conversions: by selector presence (with value), by URL, by click; once per page view', async () => {
  const confirmation = h('div', { id: 'order-confirmation', 'data-order-value': '129.90' });
  const buy = h('button', { class: 'buy-now' }, h('span'));
  const config = {
    conversions: [
      { name: 'purchase', selector: '#order-confirmation', value_attr: 'data-order-value', currency: 'EUR' },
      { name: 'landing', url: '/products' },
      { name: 'buy_click', selector: '.buy-now', on: 'click' },
      { name: 'later', selector: '#rendered-later' },
      { name: 'broken', selector: '[[[' },
      { name: '', url: '/products' },
      null,
      'junk',
    ],
  };
  const page = makePage({ path: '/products', body: [confirmation, buy], config });
  startOn(page);
  page.on(buy.children[0], 'click');
  page.on(buy, 'click'); // once per page view
  page.html.children[0].append(h('div', { id: 'rendered-later' }));
  page.clock.advance(5000); // found at the next flush
  const conv = await sent(page, 'conversion');
  assert.deepEqual(conv.map(({ name, value, currency }) => [name, value, currency]), [
    ['purchase', 129.9, 'EUR'],
    ['landing', undefined, undefined],
    ['buy_click', undefined, undefined],
    ['later', undefined, undefined],
  ]);
  assert.equal(page.ofType('custom').length, 0, 'a broken selector is no tracker_error');
});

test('an invalid or absent configuration falls back to defaults', async () => {
  for (const config of ['{not json', 'null', '[]', '{"flush_ms": -5, "engaged_idle_ms": "x"}']) {
    const page = makePage({ config });
    startOn(page);
    page.clock.advance(4999);
    await settle();
    assert.equal(page.requests.length, 0, config);
    page.clock.advance(1);
    await settle();
    assert.equal(page.ofType('pageview').length, 1, `flushes after the default 5 s (${config})`);
  }
});

test('flush_ms sets the send interval', async () => {
  const page = makePage({ config: { flush_ms: 2000 } });
  startOn(page);
  page.clock.advance(2000);
  await settle();
  assert.equal(page.requests.length, 1);
});

test('the endpoint is on the page\'s own address, whatever a <base href> says or a sandbox does to its origin', async () => {
  const page = makePage();
  page.w.location.origin = 'null'; // a sandboxed page's; its address is still the page's
  startOn(page);
  page.clock.advance(5000);
  await settle();
  assert.deepEqual(page.requests.map((r) => r.url), ['https://shop.example/__vernier/e']);
});

test('transport: fetch with keepalive while the page lives, sendBeacon when it goes away', async () => {
  const page = makePage();
  const api = startOn(page);
  page.clock.advance(5000);
  await settle();
  const [f] = page.requests;
  assert.equal(f.via, 'fetch');
  assert.equal(f.url, 'https://shop.example/__vernier/e');
  assert.equal(f.contentType, 'text/plain;charset=UTF-8'); // fetch's default, like sendBeacon's
  assert.equal(f.init.keepalive, true);
  assert.equal(f.init.credentials, undefined); // fetch's default: same-origin
  assert.equal(f.init.method, 'POST');
  api.track('x');
  page.hide();
  await settle();
  assert.equal(page.requests[1].via, 'beacon');
  page.pagehide(); // nothing left: no empty beacon
  await settle();
  assert.equal(page.requests.length, 2);
});

test('a refused beacon falls back to fetch keepalive', async () => {
  const page = makePage({ beacon: () => false });
  const api = startOn(page);
  api.track('x');
  page.pagehide();
  await settle();
  assert.deepEqual(page.requests.map((r) => r.via), ['fetch']);
});

test('a 503 keeps the batch; it is retried later with the same ids', async () => {
  let status = 503;
  const page = makePage({ respond: () => ({ ok: status < 300, status }) });
  startOn(page);
  page.clock.advance(5000);
  await settle();
  const first = page.batches[0].events.map((e) => e.id);
  status = 202;
  page.clock.advance(60000);
  await settle();
  const batches = page.batches;
  assert.ok(batches.length >= 2);
  assert.deepEqual(batches[1].events.map((e) => e.id).slice(0, first.length), first);
  assert.equal(batches[1].page, batches[0].page);
  assert.equal(page.storage.getItem('vernier:q'), null);
});

test('a batch left by an earlier page view is sent by the next one', async () => {
  const first = makePage({ respond: () => ({ ok: false, status: 429 }), beacon: () => false });
  startOn(first);
  first.pagehide();
  await settle();
  const stranded = first.batches[0].events.map((e) => e.id);
  const second = makePage({ storage: first.storage });
  startOn(second);
  second.clock.advance(5000);
  await settle();
  const ids = second.events.map((e) => e.id);
  for (const id of stranded) assert.ok(ids.includes(id));
  assert.equal(second.batches.length, 2, 'one batch per page view');
});

test('50 events trigger a send at once', async () => {
  const page = makePage();
  const api = startOn(page);
  for (let i = 0; i < 49; i++) api.track('t' + i);
  await settle();
  assert.equal(page.requests.length, 1);
  assert.equal(page.batches[0].events.length, 50);
});

test('a stub queue defined before the script loaded is replayed (main.js)', async () => {
  // main.js reads globals: emulate them for one import
  const page = makePage();
  const saved = {};
  for (const k of ['window', 'document', 'navigator']) saved[k] = Object.getOwnPropertyDescriptor(globalThis, k);
  const stub = { q: [['track', 'early', { value: 5 }], ['event', 'e1']] };
  page.w.vernier = stub;
  Object.defineProperty(globalThis, 'window', { value: page.w, configurable: true });
  Object.defineProperty(globalThis, 'document', { value: Object.assign(page.d, { currentScript: page.env.script }), configurable: true });
  Object.defineProperty(globalThis, 'navigator', { value: page.n, configurable: true });
  globalThis.TRIGGERS_URL = '/__vernier/triggers.js'; // a constant the build defines
  try {
    await import('../src/main.js?replay');
  } finally {
    for (const [k, d] of Object.entries(saved)) d ? Object.defineProperty(globalThis, k, d) : delete globalThis[k];
    delete globalThis.TRIGGERS_URL;
  }
  assert.equal(typeof page.w.vernier.track, 'function');
  assert.equal(page.w.vernier.q, undefined);
  page.pagehide();
  await settle();
  assert.deepEqual(page.ofType('conversion').map((e) => [e.name, e.value]), [['early', 5]]);
  assert.deepEqual(page.ofType('custom').map((e) => e.name), ['e1']);
});

test('startup: evaluation only records the page view; observers attach when the browser is idle', async () => {
  const el = h('div', { 'data-vernier-slot': 's', 'data-vernier-variant': 'v', 'data-vernier-decision': 'd_1' });
  const page = makePage({ body: [el] });
  let queries = 0;
  const qsa = page.d.querySelectorAll;
  page.d.querySelectorAll = (sel) => (queries++, qsa(sel));
  const t0 = page.clock.t;
  const api = startOn(page, { idle: false });
  assert.equal(page.idle.length, 1);
  assert.equal(page.idle[0].options.timeout, 2000);
  assert.deepEqual(page.d.listeners.map((l) => l.type).concat(page.w.listeners.map((l) => l.type)), ['visibilitychange', 'pagehide']);
  assert.equal(queries, 0, 'no DOM query at evaluation');
  assert.equal(page.storage.reads + page.storage.writes, 0, 'no storage access at evaluation');
  assert.equal(page.clock.timers.size, 0);
  api.track('early');
  page.clock.advance(300);
  page.runIdle();
  assert.equal(queries, 1, 'personalised elements queried once, in idle time');
  assert.ok(page.d.count() + page.w.count() > 2);
  assert.equal(page.storage.reads + page.storage.writes, 0, 'no storage access when attaching');
  page.clock.advance(1700);
  page.w.dispatch('mousemove');
  page.clock.advance(60000);
  page.pagehide();
  await settle();
  const [pv] = page.ofType('pageview');
  assert.equal(pv.ts, t0, 'the page view keeps the evaluation time');
  assert.deepEqual(page.ofType('conversion').map((e) => e.name), ['early']);
  assert.equal(page.ofType('engaged').reduce((sum, e) => sum + e.ms, 0), 7000, 'engaged time counts from the evaluation');
});

test('startup: a visitor leaving before the idle callback still sends the page view', async () => {
  const page = makePage({ beacon: () => true });
  startOn(page, { idle: false });
  page.pagehide();
  await settle();
  assert.equal(page.ofType('pageview').length, 1);
  assert.equal(page.requests[0].via, 'beacon');
});

test('startup: setTimeout without requestIdleCallback; consent(false) before it attaches nothing', async () => {
  const page = makePage();
  page.w.requestIdleCallback = undefined;
  startOn(page, { idle: false });
  page.clock.advance(1);
  assert.ok(page.d.count('click') > 0, 'attached by the setTimeout fallback');

  const early = makePage();
  const api = startOn(early, { idle: false });
  await api.consent(false);
  assert.equal(early.runIdle(), 1);
  assert.equal(early.d.count() + early.w.count(), 0, 'stopped before attaching: nothing attached');
  early.pagehide();
  await settle();
  assert.equal(early.ofType('pageview').length, 0);
});
