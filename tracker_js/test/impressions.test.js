import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makePage, startOn, settle, h, FakeIntersectionObserver } from './helpers/fake.js';

const slotEl = (decision = 'd_1', extra = {}) =>
  h('section', { 'data-vernier-slot': 'hero', 'data-vernier-variant': 'b', 'data-vernier-decision': decision, ...extra });

function setup(body) {
  const page = makePage({ body });
  startOn(page);
  const io = FakeIntersectionObserver.instances[0];
  const impressions = async () => {
    page.pagehide();
    await settle();
    return page.ofType('impression');
  };
  return { page, io, impressions };
}

test('observes personalised elements with a 50 % threshold', () => {
  const a = slotEl('d_1');
  const incomplete = h('div', { 'data-vernier-slot': 'x' }); // no variant/decision: nothing to attribute
  const empty = h('div', { 'data-vernier-slot': '', 'data-vernier-variant': 'a', 'data-vernier-decision': 'd_2' });
  const { io } = setup([a, incomplete, empty]);
  assert.equal(io.options.threshold, 0.5);
  assert.deepEqual([...io.observed], [a]);
});

test('≥ 50 % visible for 1 s → one impression with slot, variant and decision', async () => {
  const el = slotEl('d_77aa88bb');
  const { page, io, impressions } = setup([el]);
  io.report(el, 0.5);
  page.clock.advance(999);
  assert.equal(page.requests.length, 0);
  page.clock.advance(1);
  const imps = await impressions();
  assert.equal(imps.length, 1);
  assert.deepEqual(
    { slot: imps[0].slot, variant: imps[0].variant, decision: imps[0].decision, ts: imps[0].ts },
    { slot: 'hero', variant: 'b', decision: 'd_77aa88bb', ts: page.clock.t },
  );
  assert.equal(io.observed.size, 0, 'unobserved once counted');
});

test('less than 50 %, or less than 1 s in a row, is no impression', async () => {
  const el = slotEl();
  const { page, io, impressions } = setup([el]);
  io.report(el, 0.49);
  page.clock.advance(5000);
  io.report(el, 0.8);
  page.clock.advance(600);
  io.report(el, 0.3); // scrolled away: the timer restarts from zero
  page.clock.advance(600);
  io.report(el, 0.6);
  page.clock.advance(600);
  io.report(el, 0);
  page.clock.advance(5000);
  assert.equal((await impressions()).length, 0);
});

test('the 1 s restarts after an interruption and then counts', async () => {
  const el = slotEl();
  const { page, io, impressions } = setup([el]);
  io.report(el, 0.7);
  page.clock.advance(900);
  io.report(el, 0.2);
  io.report(el, 0.7);
  page.clock.advance(900);
  assert.equal(page.clock.timers.size > 0, true);
  page.clock.advance(100);
  assert.equal((await impressions()).length, 1);
});

test('once per decision: two elements of one decision, and coming back into view, count once', async () => {
  const a = slotEl('d_same');
  const b = slotEl('d_same');
  const c = slotEl('d_other');
  const { page, io, impressions } = setup([a, b, c]);
  io.report(a, 1);
  io.report(b, 1);
  io.report(c, 1);
  page.clock.advance(1000);
  io.report(a, 0);
  io.report(a, 1);
  page.clock.advance(5000);
  const imps = await impressions();
  assert.deepEqual(imps.map((e) => e.decision).sort(), ['d_other', 'd_same']);
});

test('time while the page is hidden does not count', async () => {
  const el = slotEl();
  const { page, io, impressions } = setup([el]);
  io.report(el, 1);
  page.clock.advance(500);
  page.hide();
  page.clock.advance(10000);
  assert.equal((await impressions()).length, 0);
  page.show();
  page.clock.advance(999);
  assert.equal((await impressions()).length, 0);
  page.clock.advance(1);
  assert.equal((await impressions()).length, 1);
});

test('without IntersectionObserver the tracker still runs (no impressions)', async () => {
  const page = makePage({ body: [slotEl()], withIO: false });
  startOn(page);
  page.pagehide();
  await settle();
  assert.equal(page.ofType('pageview').length, 1);
  assert.equal(page.ofType('custom').length, 0, 'no tracker_error');
});
