import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contract, batchErrors, TYPE_NAMES } from './helpers/contract.js';

test('the validator knows exactly the contract types', () => {
  assert.deepEqual(TYPE_NAMES.sort(), Object.keys(contract.types).sort());
  assert.equal(contract.version, 1);
  assert.equal(contract.endpoint, '/__vernier/e');
});

test('the validator accepts every valid example of the contract', () => {
  assert.ok(contract.valid_examples.length > 0);
  for (const batch of contract.valid_examples) assert.deepEqual(batchErrors(batch), []);
  // and every type appears in them
  const seen = new Set(contract.valid_examples.flatMap((b) => b.events.map((e) => e.type)));
  assert.deepEqual([...seen].sort(), TYPE_NAMES.sort());
});

test('the validator rejects every invalid example of the contract', () => {
  assert.ok(contract.invalid_examples.length > 0);
  for (const { why, batch } of contract.invalid_examples) {
    assert.notDeepEqual(batchErrors(batch), [], `should be rejected: ${why}`);
  }
});

test('the validator enforces the limits it reads from the contract', () => {
  const L = contract.limits;
  const ev = (i) => ({ id: `e_${String(i).padStart(8, '0')}`, type: 'scroll', ts: 1, depth: 0.5 });
  const batch = (n) => ({ v: 1, page: 'p_3fa9c1d2e4', events: Array.from({ length: n }, (_, i) => ev(i)) });
  assert.deepEqual(batchErrors(batch(L.max_events_per_batch)), []);
  assert.notDeepEqual(batchErrors(batch(L.max_events_per_batch + 1)), []);
  const long = { ...batch(1) };
  long.events = [{ id: 'e_00000001', type: 'custom', ts: 1, name: 'x'.repeat(L.max_name_chars + 1) }];
  assert.notDeepEqual(batchErrors(long), []);
  long.events = [{ id: 'x'.repeat(L.max_id_chars + 1), type: 'scroll', ts: 1, depth: 0 }];
  assert.notDeepEqual(batchErrors(long), []);
  long.events = [{ id: 'e_00000001', type: 'engaged', ts: 1, ms: L.max_engaged_ms + 1 }];
  assert.notDeepEqual(batchErrors(long), []);
});
