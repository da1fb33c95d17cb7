/**
 * After an SCSP outage, the first successful delivery to the partner ends the backoff waits of its
 * other stations (forwarder.ts "Wake-ups"): their head rows become due at once and the backlog drains
 * without waiting for each station's own retry timer. Rows are written straight into the outbox (the
 * mapping is tested in scsp-forwarder.test.ts); the backoff is made long (first retry after 10–20 s)
 * so that only the recovery wake-up can explain a quick drain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startTestCsms, type TestCsms } from './helpers/csms.js';
import { startScspPeer, type ScspPeer } from './helpers/scsp-peer.js';
import { uniqueId, waitFor } from './helpers/wire.js';
import { testDatabaseUrl } from './helpers/services.js';

const pgTarget = await testDatabaseUrl();

async function rig(body: (csms: TestCsms, peer: ScspPeer) => Promise<void>, postgres?: string): Promise<void> {
  const schema = postgres ? `ampline_rec_${randomBytes(4).toString('hex')}` : undefined;
  const peer = await startScspPeer();
  const csms = await startTestCsms({
    env: { AMPLINE_SCSP_METER_INTERVAL_S: '0', ...(postgres && schema ? { DATABASE_URL: postgres, AMPLINE_PG_SCHEMA: schema } : {}) },
    tweak: (c) => {
      c.scspForwarding = { ...c.scspForwarding, retryBaseMs: 20_000, retryMaxS: 300, pollIntervalMs: 250 };
    },
  });
  try {
    await csms.scsp.partners.upsert({
      id: 'jedlix',
      name: 'jedlix',
      baseUrl: peer.url,
      tokenUrl: peer.tokenUrl,
      clientId: peer.clientId,
      clientSecret: peer.clientSecret,
      apiKey: peer.apiKey,
      payloadProtocol: 'ocpp2.0.1',
      inboundToken: 'inbound-jedlix-0123456789abcdef',
    });
    await body(csms, peer);
  } finally {
    await csms.destroy();
    await peer.close();
    if (postgres && schema) {
      const c = new pg.Client({ connectionString: postgres });
      await c.connect();
      try {
        await c.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await c.end();
      }
    }
  }
}

async function pairAndWrite(csms: TestCsms, stationId: string, rows: number): Promise<void> {
  const db = csms.db.kysely;
  await db.insertInto('pairings').values({ station_id: stationId, partner_id: 'jedlix', payload_protocol: 'ocpp2.0.1', origin: 'cpo-code', paired_at: new Date().toISOString() }).execute();
  for (let i = 0; i < rows; i++) {
    const now = new Date(Date.now() + i).toISOString();
    const payload = { evseId: 1, meterValue: [{ timestamp: now, sampledValue: [{ value: 1000 + i, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }] }] };
    await db
      .insertInto('outbox')
      .values({
        partner_id: 'jedlix',
        station_id: stationId,
        kind: 'MeterValues',
        path: `/v1/scsp/chargingstations/${stationId}/events/ocpp2.0.1/MeterValues`,
        payload: JSON.stringify(payload),
        idempotency_key: `${stationId}|${i}`,
        state: 'pending',
        attempts: 0,
        next_attempt_at: now,
        last_error: null,
        created_at: now,
        delivered_at: null,
      })
      .execute();
  }
  csms.scsp.forwarding.forwarder.wake(stationId);
}

async function outageThenRecovery(postgres?: string): Promise<void> {
  await rig(async (csms, peer) => {
    const db = csms.db.kysely;
    const stations = Array.from({ length: 6 }, (_, i) => uniqueId(`REC${i}`));
    peer.faults.down = true;
    for (const id of stations) await pairAndWrite(csms, id, 3);
    // Each station's head row failed once and waits 10–20 s for its retry.
    await waitFor(
      async () => {
        const heads = await db.selectFrom('outbox').select(['station_id', 'attempts']).where('station_id', 'in', stations).where('attempts', '>=', 1).execute();
        return heads.length === stations.length;
      },
      { what: 'every head row failed once', timeoutMs: 20_000 },
    );
    const waiting = await db.selectFrom('outbox').select(['next_attempt_at']).where('station_id', 'in', stations).where('attempts', '>=', 1).execute();
    assert.ok(waiting.every((r) => Date.parse(r.next_attempt_at) - Date.now() > 5000), 'retries are far off');

    // The SCSP is back; a station with nothing in backoff delivers first.
    peer.faults.down = false;
    const recovered = Date.now();
    const trigger = uniqueId('RECT');
    await pairAndWrite(csms, trigger, 1);
    await waitFor(
      async () => (await db.selectFrom('outbox').select('id').where('station_id', 'in', [...stations, trigger]).where('state', '!=', 'delivered').execute()).length === 0,
      { what: 'backlog drained', timeoutMs: 6000 },
    );
    assert.ok(Date.now() - recovered < 6000, 'drained long before the first backoff would have ended (≥ 10 s)');

    for (const id of stations) {
      const rows = await db.selectFrom('outbox').selectAll().where('station_id', '=', id).orderBy('id').execute();
      const seen = [...new Set(peer.events.filter((e) => e.uid === id).map((e) => e.idempotencyKey))];
      assert.deepEqual(seen, rows.map((r) => r.idempotency_key), `${id}: in order`);
      // The head row's retry was moved to the recovery, not left at its backoff.
      assert.ok(Date.parse(rows[0]!.next_attempt_at) <= Date.now(), `${id}: next_attempt_at moved forward`);
    }
  }, postgres);
}

test('the first success after an outage wakes the partner’s backed-off stations: the backlog drains at once, in order', () => outageThenRecovery());

test('on PostgreSQL: the first success after an outage wakes the backed-off stations', { skip: 'skip' in pgTarget ? pgTarget.skip : false }, async () => {
  if ('skip' in pgTarget) return;
  await outageThenRecovery(pgTarget.url);
});

test('a partner still failing: its stations keep their backoff (no wake-up without a success)', async () => {
  await rig(async (csms, peer) => {
    const db = csms.db.kysely;
    peer.faults.down = true;
    const a = uniqueId('RECX');
    const b = uniqueId('RECY');
    await pairAndWrite(csms, a, 2);
    await waitFor(async () => (await db.selectFrom('outbox').select('id').where('station_id', '=', a).where('attempts', '>=', 1).execute()).length === 1, {
      what: 'a failed once',
      timeoutMs: 20_000,
    });
    // Another station's first try fails too: nothing is woken.
    await pairAndWrite(csms, b, 1);
    await waitFor(async () => (await db.selectFrom('outbox').select('id').where('station_id', '=', b).where('attempts', '>=', 1).execute()).length === 1, {
      what: 'b failed once',
      timeoutMs: 20_000,
    });
    await new Promise((r) => setTimeout(r, 1500));
    const rows = await db.selectFrom('outbox').select(['station_id', 'attempts']).where('station_id', 'in', [a, b]).where('attempts', '>', 0).execute();
    assert.deepEqual(rows.map((r) => r.attempts), [1, 1], 'one try each, the retries wait');
    assert.equal(peer.events.length, 0);
  });
});
