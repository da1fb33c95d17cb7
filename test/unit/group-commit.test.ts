import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { openDb } from '../../src/store/db.js';
import { GroupCommit } from '../../src/store/group-commit.js';
import { tempDir } from '../helpers/csms.js';

test('group commit: concurrent units share a transaction; a failing unit fails alone and loses nothing else', async () => {
  const dir = tempDir();
  const db = await openDb({ dataDir: dir });
  try {
    const gc = new GroupCommit(db.kysely);
    const now = new Date().toISOString();
    const ok = (i: number) =>
      gc.run(async (trx) => {
        await trx.insertInto('station_events').values({ station_id: `S${i}`, type: 't', timestamp: now, payload: '{}' }).execute();
        return i;
      });
    const bad = gc.run(async (trx) => {
      await trx.insertInto('station_events').values({ station_id: 'BAD', type: 't', timestamp: now, payload: '{}' }).execute();
      throw new Error('boom');
    });
    const results = await Promise.allSettled([ok(1), ok(2), bad, ok(3)]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value), [1, 2, 3]);
    const rows = await db.kysely.selectFrom('station_events').select('station_id').orderBy('station_id').execute();
    assert.deepEqual(rows.map((r) => r.station_id), ['S1', 'S2', 'S3'], 'the failing unit left nothing behind, the others are all there');
    // Many units at once are answered, in order, after they are durable.
    const many = await Promise.all(Array.from({ length: 600 }, (_, i) => ok(100 + i)));
    assert.equal(many.length, 600);
    const n = await db.kysely.selectFrom('station_events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(n.n), 603);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
