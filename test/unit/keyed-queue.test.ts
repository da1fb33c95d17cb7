import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedQueue } from '../../src/util/keyed-queue.js';

test('KeyedQueue: one at a time per key, in order, failures do not block; keys run in parallel; idle keys leave no state', async () => {
  const q = new KeyedQueue();
  const log: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const a1 = q.run('a', async () => {
    log.push('a1 start');
    await gate;
    log.push('a1 end');
    throw new Error('a1 failed');
  });
  const a2 = q.run('a', async () => {
    log.push('a2');
    return 2;
  });
  const b1 = q.run('b', async () => {
    log.push('b1');
    return 1;
  });
  assert.equal(await b1, 1);
  assert.deepEqual(log, ['a1 start', 'b1'], 'b runs while a1 waits; a2 waits for a1');
  release();
  await assert.rejects(a1, /a1 failed/);
  assert.equal(await a2, 2);
  assert.deepEqual(log, ['a1 start', 'b1', 'a1 end', 'a2']);
  await new Promise((r) => setImmediate(r));
  assert.equal(q.size, 0);
});
