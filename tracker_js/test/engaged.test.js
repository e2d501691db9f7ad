import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makePage, startOn, settle } from './helpers/fake.js';

const IDLE = 5000;
function setup(config = { engaged_idle_ms: IDLE, flush_ms: 60000 }) {
  const page = makePage({ config });
  startOn(page);
  const act = (type = 'mousemove') => page.w.dispatch(type);
  const engaged = async () => {
    page.pagehide();
    await settle();
    return page.ofType('engaged').reduce((sum, e) => sum + e.ms, 0);
  };
  return { page, act, engaged };
}

test('loading the page counts as activity, then the idle cut-off ends engagement', async () => {
  const { page, engaged } = setup();
  page.clock.advance(60000);
  assert.equal(await engaged(), IDLE);
});

test('activity keeps the page engaged; each quiet gap counts up to the cut-off', async () => {
  const { page, act, engaged } = setup();
  page.clock.advance(2000);
  act(); // engaged 0..2000 + until 7000
  page.clock.advance(3000);
  act('keydown'); // 2000..5000 + until 10000
  page.clock.advance(20000); // only 5000 of it
  act('scroll');
  page.clock.advance(1000);
  assert.equal(await engaged(), 2000 + 3000 + IDLE + 1000);
});

test('hidden time never counts, and coming back is activity', async () => {
  const { page, act, engaged } = setup();
  page.clock.advance(1000);
  page.hide(); // 1000 so far; reported on hide
  page.clock.advance(30000);
  act(); // activity in a hidden tab (should not happen, but must not count)
  page.clock.advance(1000);
  page.show();
  page.clock.advance(2000);
  assert.equal(await engaged(), 1000 + 2000);
});

test('engaged events are sent on hide, and every 15 s of engagement while open', async () => {
  const { page, act } = setup({ engaged_idle_ms: IDLE, flush_ms: 5000 });
  for (let i = 0; i < 20; i++) {
    page.clock.advance(1000);
    act();
  }
  await settle();
  const sent = page.ofType('engaged').map((e) => e.ms);
  assert.ok(sent.length >= 1 && sent.every((ms) => ms >= 15000), `sent ${sent}`);
  page.hide();
  await settle();
  const total = page.ofType('engaged').reduce((s, e) => s + e.ms, 0);
  assert.equal(total, 20000);
  for (const e of page.ofType('engaged')) assert.ok(Number.isInteger(e.ms) && e.ms <= 3600000);
});

test('the idle cut-off comes from the page configuration, with a 5 s default', async () => {
  const custom = setup({ engaged_idle_ms: 30000 });
  custom.page.clock.advance(60000);
  assert.equal(await custom.engaged(), 30000);
  const dflt = setup(undefined);
  dflt.page.clock.advance(60000);
  assert.equal(await dflt.engaged(), 5000);
});
