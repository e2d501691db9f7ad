// In-page triggers: the loader in t.js (tracker.js) and the module it imports
// (observe/triggers.js), run together against the fakes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makePage, startOn, settle, h, template, FakeIntersectionObserver, TRIGGERS_URL } from './helpers/fake.js';
import { readTrigger } from '../src/observe/triggers.js';

await import(TRIGGERS_URL); // loaded once here, so the tracker's import() resolves at the next turn

const SLOT = { 'data-vernier-slot': 'hero', 'data-vernier-variant': 'a', 'data-vernier-decision': 'd_old' };
const hero = () => h('section', { ...SLOT }, h('h1', {}));
const variant = () =>
  h('section', { 'data-vernier-slot': 'hero', 'data-vernier-variant': 'c', 'data-vernier-decision': 'd_new' }, h('h1', { class: 'new' }));
const tpl = (when, extra = {}, root = variant()) =>
  template(
    {
      'data-vernier-trigger': 'dwell',
      'data-vernier-slot': 'hero',
      'data-vernier-variant': 'c',
      'data-vernier-decision': 'd_new',
      'data-vernier-when': typeof when == 'string' ? when : JSON.stringify(when),
      ...extra,
    },
    root,
  );

/** A page with the hero, its template, a product image and an add-to-cart button. */
async function setup(when, { body, idleAt = 0, ...options } = {}) {
  const image = h('img', { class: 'product-image' });
  const cart = h('button', { id: 'add-to-cart' }, h('span', {}));
  const elsewhere = h('p', {});
  const page = makePage({ body: body || [hero(), tpl(when), image, cart, elsewhere], ...options });
  page.setScroll(0, 10000); // the viewport shows 10 % of the page
  const api = startOn(page, { idle: false });
  page.clock.advance(idleAt);
  page.runIdle();
  await settle(); // the import of the triggers module
  const sent = async () => {
    page.pagehide();
    await settle();
    return page.ofType('trigger');
  };
  const slotNow = () => page.d.querySelector('[data-vernier-slot]');
  return { page, api, image, cart, elsewhere, sent, slotNow };
}

test('a dwell trigger fires after after_ms of visible time: the variant replaces the slot, once', async () => {
  const { page, sent, slotNow } = await setup({ after_ms: 1500 });
  page.clock.advance(1499);
  assert.equal(slotNow().getAttribute('data-vernier-decision'), 'd_old');
  page.clock.advance(1);
  const now = slotNow();
  assert.equal(now.getAttribute('data-vernier-decision'), 'd_new');
  assert.equal(now.children[0].getAttribute('class'), 'new');
  assert.equal(page.d.querySelector('template'), null, 'the template is removed');
  assert.equal(page.d.querySelectorAll('[data-vernier-slot]').length, 1);
  const events = await sent();
  assert.equal(events.length, 1);
  const { slot, variant, decision, trigger, ts } = events[0];
  assert.deepEqual({ slot, variant, decision, trigger, ts }, { slot: 'hero', variant: 'c', decision: 'd_new', trigger: 'dwell', ts: page.clock.t });
  page.clock.advance(60000);
  assert.equal((await sent()).length, 1, 'once per page view');
});

test('dwell counts from the script start, not from the idle attach', async () => {
  const { page, sent } = await setup({ after_ms: 1500 }, { idleAt: 1000 });
  page.clock.advance(499);
  assert.equal((await sent()).length, 0);
  page.clock.advance(1);
  assert.equal((await sent()).length, 1);
});

test('time while the page is hidden does not count; no activity is needed', async () => {
  const { page, sent } = await setup({ after_ms: 1500 });
  page.clock.advance(1000);
  page.hide();
  page.clock.advance(60000);
  assert.equal((await sent()).length, 0);
  page.show();
  page.clock.advance(499);
  assert.equal((await sent()).length, 0);
  page.clock.advance(1);
  assert.equal((await sent()).length, 1);
});

test('max_scroll: scrolling to it first cancels the trigger for the page view', async () => {
  const { page, sent, slotNow } = await setup({ after_ms: 1500, max_scroll: 0.25 });
  page.clock.advance(500);
  page.setScroll(1600); // (1600 + 1000) / 10000 = 0.26
  page.on(page.d, 'scroll');
  page.runFrames();
  page.setScroll(0); // scrolling back up does not restore it
  page.clock.advance(60000);
  assert.equal((await sent()).length, 0);
  assert.equal(slotNow().getAttribute('data-vernier-decision'), 'd_old');
  assert.ok(page.d.querySelector('template'), 'a cancelled template stays inert in the page');
});

test('max_scroll: scrolling less than it does not cancel; a depth already past it at load does', async () => {
  const { page, sent } = await setup({ after_ms: 1500, max_scroll: 0.25 });
  page.setScroll(1400); // 0.24
  page.on(page.d, 'scroll');
  page.runFrames();
  page.clock.advance(1500);
  assert.equal((await sent()).length, 1);

  const short = makePage({ body: [hero(), tpl({ after_ms: 1500, max_scroll: 0.25 })] });
  short.setScroll(0, 2000); // half the page in view at load
  startOn(short);
  await settle();
  short.clock.advance(5000);
  short.pagehide();
  await settle();
  assert.equal(short.ofType('trigger').length, 0);
});

test('a hover trigger counts cumulative pointer time over matches (and their children)', async () => {
  const inner = h('span', {});
  const image = h('div', { class: 'product-image' }, inner);
  const elsewhere = h('p', {});
  const { page, sent } = await setup({ after_ms: 1000, hover: '.product-image' }, { body: [hero(), tpl({ after_ms: 1000, hover: '.product-image' }), image, elsewhere] });
  page.clock.advance(5000); // visible, but the pointer is not on the image
  assert.equal((await sent()).length, 0);
  page.on(image, 'mouseover');
  page.clock.advance(300);
  page.on(image, 'mouseout', { relatedTarget: inner }); // into a child: still over the image
  page.on(inner, 'mouseover');
  page.clock.advance(300);
  page.on(inner, 'mouseout', { relatedTarget: elsewhere });
  page.on(elsewhere, 'mouseover');
  page.clock.advance(5000);
  assert.equal((await sent()).length, 0);
  page.on(elsewhere, 'mouseout', { relatedTarget: image });
  page.on(image, 'mouseover');
  page.clock.advance(399);
  assert.equal((await sent()).length, 0);
  page.clock.advance(1);
  assert.equal((await sent()).length, 1);
});

test('a pointer already resting on a match when the module starts counts at once', async () => {
  const image = h('div', { class: 'product-image' }, h('span', {}));
  const when = { after_ms: 1000, hover: '.product-image' };
  const page = makePage({ body: [hero(), tpl(when), image] });
  page.hovered = [page.html, page.html.children[0], image, image.children[0]];
  startOn(page);
  await settle();
  page.clock.advance(1000);
  page.pagehide();
  await settle();
  assert.equal(page.ofType('trigger').length, 1);
});

test('leaving the window stops hover time', async () => {
  const { page, image, sent } = await setup({ after_ms: 1000, hover: '.product-image' });
  page.on(image, 'mouseover');
  page.clock.advance(600);
  page.on(image, 'mouseout', { relatedTarget: null });
  page.clock.advance(5000);
  assert.equal((await sent()).length, 0);
});

test('without_click: a click on (or inside) the element cancels the trigger', async () => {
  const { page, cart, image, sent } = await setup({ after_ms: 1000, hover: '.product-image', without_click: '#add-to-cart' });
  page.on(image, 'mouseover');
  page.clock.advance(500);
  page.on(cart.children[0], 'click');
  page.clock.advance(5000);
  assert.equal((await sent()).length, 0);

  const other = await setup({ after_ms: 1000, without_click: '#add-to-cart' });
  other.page.on(other.elsewhere, 'click'); // a click elsewhere changes nothing
  other.page.clock.advance(1000);
  assert.equal((await other.sent()).length, 1);
});

test('the applied element is observed like any slot: impression, click and hover carry the new decision', async () => {
  const { page, sent, slotNow } = await setup({ after_ms: 1500 });
  page.clock.advance(1500);
  const el = slotNow();
  const io = FakeIntersectionObserver.instances.at(-1);
  assert.ok(io.observed.has(el));
  io.report(el, 1);
  page.clock.advance(1000);
  page.on(el.children[0], 'click');
  page.on(el, 'mouseover');
  page.clock.advance(400);
  page.on(el, 'mouseout', { relatedTarget: null });
  await sent();
  const of = (type) => page.ofType(type).map((e) => e.decision);
  assert.deepEqual(of('impression'), ['d_new']);
  assert.deepEqual(of('click'), ['d_new']);
  assert.deepEqual(of('hover'), ['d_new']);
});

test('no element of the slot in the page: nothing happens and the template is dropped', async () => {
  const other = h('div', { 'data-vernier-slot': 'other', 'data-vernier-variant': 'a', 'data-vernier-decision': 'd_x' });
  // the other template carries data-vernier-slot="hero" too: it is not the slot's element
  const later = tpl({ after_ms: 60000 }, { 'data-vernier-trigger': 'later' });
  const { page, sent } = await setup({ after_ms: 1000 }, { body: [later, other, tpl({ after_ms: 1000 })] });
  page.clock.advance(1000);
  assert.equal((await sent()).length, 0);
  assert.deepEqual(page.html.children[0].children, [later, other], 'the dwell template is dropped, nothing else changes');
});

test('the live element is found before or after its template, never the template itself', async () => {
  const { page, sent, slotNow } = await setup({ after_ms: 1000 }, { body: [tpl({ after_ms: 1000 }), h('p', {}), hero()] });
  page.clock.advance(1000);
  assert.equal((await sent()).length, 1);
  assert.equal(slotNow().getAttribute('data-vernier-decision'), 'd_new');
  assert.deepEqual(page.html.children[0].children.map((e) => e.tagName), ['P', 'SECTION']);
});

test('malformed templates are ignored', () => {
  const d = makePage().d;
  const ok = { after_ms: 1000 };
  assert.ok(readTrigger(d, tpl(ok)));
  assert.ok(readTrigger(d, tpl({ after_ms: 3600000, hover: '.x', max_scroll: 1, without_click: '#y', other: 1 })));
  assert.ok(readTrigger(d, tpl({ after_ms: 1000, hover: null, max_scroll: null })), 'null: no condition');
  const bad = {
    'not JSON': tpl('{after_ms: 1000'),
    'JSON null': tpl('null'),
    'no when': tpl(ok, { 'data-vernier-when': undefined }),
    'no after_ms': tpl({ hover: '.x' }),
    'after_ms 0': tpl({ after_ms: 0 }),
    'after_ms negative': tpl({ after_ms: -5 }),
    'after_ms a string': tpl({ after_ms: '1000' }),
    'after_ms over an hour': tpl({ after_ms: 3600001 }),
    'after_ms NaN-like': tpl('{"after_ms": 1e999}'),
    'max_scroll 0': tpl({ after_ms: 1000, max_scroll: 0 }),
    'max_scroll over 1': tpl({ after_ms: 1000, max_scroll: 1.5 }),
    'max_scroll a string': tpl({ after_ms: 1000, max_scroll: '0.5' }),
    'hover not a string': tpl({ after_ms: 1000, hover: 5 }),
    'hover empty': tpl({ after_ms: 1000, hover: '' }),
    'hover unparsable': tpl({ after_ms: 1000, hover: 'img[[' }),
    'without_click unparsable': tpl({ after_ms: 1000, without_click: '#' }),
    'no content': tpl(ok, {}, null),
    'no trigger id': tpl(ok, { 'data-vernier-trigger': '' }),
    'no slot': tpl(ok, { 'data-vernier-slot': undefined }),
    'no variant': tpl(ok, { 'data-vernier-variant': undefined }),
    'no decision': tpl(ok, { 'data-vernier-decision': '' }),
  };
  for (const el of Object.values(bad)) for (const [k, v] of el.attrs) if (v === undefined) el.attrs.delete(k);
  for (const [why, el] of Object.entries(bad)) assert.equal(readTrigger(d, el), undefined, why);
});

test('a malformed template next to a good one changes nothing and reports no error', async () => {
  const body = [hero(), tpl('{oops'), tpl({ after_ms: -1 }), tpl({ after_ms: 1000 })];
  const { page, sent } = await setup(null, { body });
  page.clock.advance(1000);
  assert.equal((await sent()).length, 1);
  assert.equal(page.ofType('custom').length, 0, 'no tracker_error');
});

test('two templates: each fires on its own condition, once', async () => {
  const side = h('aside', { 'data-vernier-slot': 'side', 'data-vernier-variant': 'a', 'data-vernier-decision': 'd_s1' });
  const sideTpl = template(
    { 'data-vernier-trigger': 'late', 'data-vernier-slot': 'side', 'data-vernier-variant': 'b', 'data-vernier-decision': 'd_s2', 'data-vernier-when': '{"after_ms": 3000}' },
    h('aside', { 'data-vernier-slot': 'side', 'data-vernier-variant': 'b', 'data-vernier-decision': 'd_s2' }),
  );
  const { page, sent } = await setup(null, { body: [hero(), tpl({ after_ms: 1000 }), side, sideTpl] });
  page.clock.advance(1000);
  assert.deepEqual((await sent()).map((e) => e.trigger), ['dwell']);
  page.clock.advance(2000);
  assert.deepEqual((await sent()).map((e) => e.trigger), ['dwell', 'late']);
});

test('a client-side navigation cancels the pending triggers of the old page view', async () => {
  const { page, sent, slotNow } = await setup({ after_ms: 1500 });
  page.clock.advance(1000);
  page.w.history.pushState(null, '', '/products/2');
  page.clock.advance(60000);
  assert.equal((await sent()).length, 0);
  assert.equal(slotNow().getAttribute('data-vernier-decision'), 'd_old');
});

test('the module arriving after a navigation, or after consent was withdrawn, arms nothing', async () => {
  const page = makePage({ body: [hero(), tpl({ after_ms: 1000 })] });
  startOn(page);
  page.w.history.pushState(null, '', '/elsewhere'); // before the import resolved
  await settle();
  page.clock.advance(5000);
  page.pagehide();
  await settle();
  assert.equal(page.ofType('trigger').length, 0);

  const withdrawn = makePage({ body: [hero(), tpl({ after_ms: 1000 })] });
  const api = startOn(withdrawn);
  api.consent(false);
  await settle();
  withdrawn.clock.advance(5000);
  assert.equal(withdrawn.d.querySelector('[data-vernier-slot]').getAttribute('data-vernier-decision'), 'd_old');
  assert.equal(withdrawn.d.count() + withdrawn.w.count(), 0, 'no listener left');
});

test('consent withdrawn: pending triggers stop with everything else', async () => {
  const { page, api, slotNow } = await setup({ after_ms: 1500 });
  page.clock.advance(1000);
  api.consent(false);
  page.clock.advance(60000);
  assert.equal(slotNow().getAttribute('data-vernier-decision'), 'd_old');
  assert.equal(page.clock.timers.size, 0, 'no timer left');
});

test('no template: the triggers module is never loaded', async () => {
  globalThis.__triggersLoaded = 0;
  const url = 'data:text/javascript,globalThis.__triggersLoaded=1;export const triggers=()=>({})';
  const page = makePage({ body: [hero()], triggersUrl: url });
  startOn(page);
  await settle();
  assert.equal(globalThis.__triggersLoaded, 0);
  const withTpl = makePage({ body: [hero(), tpl({ after_ms: 1000 })], triggersUrl: url });
  startOn(withTpl);
  for (let i = 0; i < 200 && !globalThis.__triggersLoaded; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(globalThis.__triggersLoaded, 1);
  delete globalThis.__triggersLoaded;
});

test('a module that cannot load, or that throws, never reaches the page', async () => {
  const missing = makePage({ body: [hero(), tpl({ after_ms: 1000 })], triggersUrl: 'data:text/javascript,syntax error(' });
  startOn(missing);
  for (let i = 0; i < 5; i++) await settle();
  missing.clock.advance(5000);
  missing.pagehide();
  await settle();
  assert.equal(missing.ofType('trigger').length, 0);

  const broken = template(Object.fromEntries(tpl({ after_ms: 1000 }).attrs), variant());
  broken.content.firstElementChild.cloneNode = () => {
    throw new Error('clone failed');
  };
  const { page, sent, slotNow } = await setup(null, { body: [hero(), broken] });
  assert.doesNotThrow(() => page.clock.advance(1000));
  assert.equal((await sent()).length, 0);
  assert.equal(slotNow().getAttribute('data-vernier-decision'), 'd_old');
  assert.deepEqual(page.ofType('custom').map((e) => [e.name, e.props.message]), [['tracker_error', 'clone failed']]);
});
