// Checks of the committed build, proxy/tracker/static/t.js: size budget, forbidden constructs, and
// a smoke run of the minified bundle itself against the fakes (what the browser will execute).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import vm from 'node:vm';
import { createHash } from 'node:crypto';
import { makePage, settle, h, template } from './helpers/fake.js';

const ASSET = new URL('../../proxy/tracker/static/t.js', import.meta.url);
const TRIGGERS_ASSET = new URL('../../proxy/tracker/static/triggers.js', import.meta.url);
const source = readFileSync(ASSET, 'utf8');
const triggersSource = readFileSync(TRIGGERS_ASSET, 'utf8');
export const GZIP_BUDGET_BYTES = 4096;
export const TRIGGERS_GZIP_BUDGET_BYTES = 1536;

test(`t.js is at most ${GZIP_BUDGET_BYTES} bytes gzipped`, (t) => {
  const gz = gzipSync(Buffer.from(source), { level: 9 }).length;
  t.diagnostic(`t.js: ${Buffer.byteLength(source)} bytes, ${gz} bytes gzipped`);
  assert.ok(gz <= GZIP_BUDGET_BYTES, `${gz} bytes gzipped`);
});

test(`triggers.js is at most ${TRIGGERS_GZIP_BUDGET_BYTES} bytes gzipped`, (t) => {
  const gz = gzipSync(Buffer.from(triggersSource), { level: 9 }).length;
  t.diagnostic(`triggers.js: ${Buffer.byteLength(triggersSource)} bytes, ${gz} bytes gzipped`);
  assert.ok(gz <= TRIGGERS_GZIP_BUDGET_BYTES, `${gz} bytes gzipped`);
});

test('t.js and triggers.js use no innerHTML, eval, Function, document.write or onerror, and are ASCII', () => {
  for (const [name, text] of [['t.js', source], ['triggers.js', triggersSource]]) {
    for (const bad of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'eval(', 'Function(', 'document.write', 'onerror', 'setInterval("']) {
      assert.ok(!text.includes(bad), `${name}: ${bad}`);
    }
    assert.ok(/^[\x09\x0a\x0d\x20-\x7e]*$/.test(text), `${name}: ASCII only`);
  }
  assert.match(source, /^\/\*! Vernier tracker /);
  assert.match(triggersSource, /^\/\*! Vernier triggers /);
});

test('t.js names triggers.js by its version, as the proxy computes it', () => {
  const version = createHash('sha256').update(readFileSync(TRIGGERS_ASSET)).digest('hex').slice(0, 12);
  const urls = source.match(/"\/__vernier\/triggers\.js\?v=[0-9a-f]+"/g);
  assert.deepEqual(urls, [`"/__vernier/triggers.js?v=${version}"`]);
});

function run(page) {
  page.d.currentScript = page.env.script;
  const imported = [];
  // import() of a script run by node:vm needs --experimental-vm-modules: the bundle's one
  // import() is pointed at this function instead, which loads the committed triggers.js
  const loadModule = (url) => (imported.push(url), (page.importing = import(TRIGGERS_ASSET.href)));
  const context = vm.createContext({ window: page.w, document: page.d, navigator: page.n, TextEncoder, URL, loadModule });
  page.imported = imported;
  // timers and the clock: the bundle uses window.setTimeout and Date.now
  vm.runInContext(`Date.now = () => window.__now()`, context);
  page.w.__now = page.clock.now;
  assert.equal(source.split('import(').length, 2, 'one import() in t.js');
  vm.runInContext(source.replace('import(', 'loadModule('), context, { filename: 't.js' });
  page.runIdle(); // the observers are attached in an idle callback
  return page.w.vernier;
}

test('the built bundle runs: page view, slot click, impression, conversion, SPA, beacon', async () => {
  const hero = h('div', { 'data-vernier-slot': 'hero', 'data-vernier-variant': 'b', 'data-vernier-decision': 'd_1' }, h('a', { class: 'cta' }));
  const page = makePage({ body: [hero], config: { conversions: [{ name: 'signup', url: '/welcome' }] } });
  const api = run(page);
  assert.equal(typeof api.track, 'function');
  assert.equal(typeof api.consent, 'function');
  const io = page.w.IntersectionObserver.instances.at(-1);
  io.report(hero, 1);
  page.clock.advance(1000);
  page.on(hero.children[0], 'click');
  page.on(hero, 'mouseover');
  page.clock.advance(500);
  page.on(hero, 'mouseout', { relatedTarget: null });
  page.runFrames();
  api.track('purchase', { value: 3 });
  api.event('custom_one', { a: 1 });
  page.w.history.pushState(null, '', '/welcome');
  page.on(page.html.children[0], 'focusin');
  page.pagehide();
  await settle();
  const types = page.events.map((e) => e.type);
  for (const t of ['pageview', 'impression', 'click', 'hover', 'scroll', 'engaged', 'conversion', 'custom']) {
    assert.ok(types.includes(t), t);
  }
  assert.equal(page.ofType('pageview').length, 2);
  assert.deepEqual(page.ofType('conversion').map((e) => e.name), ['purchase', 'signup']);
  assert.equal(page.requests.at(-1).via, 'beacon');
  assert.deepEqual(page.ofType('custom').map((e) => e.name), ['custom_one'], 'no tracker_error');
});

test('the built bundle honours GPC and consent pending, and loads twice harmlessly', async () => {
  const gpc = makePage({ gpc: true });
  run(gpc).track('x');
  gpc.pagehide();
  await settle();
  assert.equal(gpc.requests.length, 0);

  const pending = makePage({ consent: 'pending' });
  const api = run(pending);
  api.track('x');
  pending.pagehide();
  await settle();
  assert.equal(pending.requests.length, 0);
  assert.equal(await api.consent(true), true);
  pending.pagehide();
  await settle();
  assert.deepEqual(pending.requests.map((r) => r.url), ['https://shop.example/__vernier/consent', 'https://shop.example/__vernier/e']);

  const twice = makePage();
  const first = run(twice);
  const listeners = twice.d.count() + twice.w.count();
  run(twice);
  assert.equal(twice.w.vernier, first);
  assert.equal(twice.d.count() + twice.w.count(), listeners);
});

test('the built bundles apply an in-page trigger: variant in, trigger event, then its impression', async () => {
  const hero = h('div', { 'data-vernier-slot': 'hero', 'data-vernier-variant': 'a', 'data-vernier-decision': 'd_1' });
  const tpl = template(
    { 'data-vernier-trigger': 'dwell', 'data-vernier-slot': 'hero', 'data-vernier-variant': 'c', 'data-vernier-decision': 'd_2', 'data-vernier-when': '{"after_ms":1500,"max_scroll":0.5}' },
    h('div', { 'data-vernier-slot': 'hero', 'data-vernier-variant': 'c', 'data-vernier-decision': 'd_2' }),
  );
  const page = makePage({ body: [hero, tpl] });
  run(page);
  assert.deepEqual(page.imported, [source.match(/\/__vernier\/triggers\.js\?v=[0-9a-f]+/)[0]]);
  await page.importing;
  await settle(); // t.js's callback of the import
  page.runFrames();
  page.clock.advance(1500);
  const now = page.d.querySelector('[data-vernier-slot]');
  assert.equal(now.getAttribute('data-vernier-decision'), 'd_2');
  const io = page.w.IntersectionObserver.instances.at(-1);
  io.report(now, 1);
  page.clock.advance(1000);
  page.pagehide();
  await settle();
  assert.deepEqual(page.ofType('trigger').map((e) => [e.slot, e.variant, e.decision, e.trigger]), [['hero', 'c', 'd_2', 'dwell']]);
  assert.deepEqual(page.ofType('impression').map((e) => e.decision), ['d_2']);
  assert.equal(page.ofType('custom').length, 0, 'no tracker_error');

  const plain = makePage({ body: [hero] });
  run(plain);
  await settle();
  assert.deepEqual(plain.imported, [], 'no template, no import');
});
