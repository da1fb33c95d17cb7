/**
 * Partners that take session data as OCPI Sessions (`scsp_partners.session_data` = `ocpi`, migration
 * 0008) get no OCPP-format events: the outbox hook writes no rows for stations paired with them, the
 * meter repeat sweep leaves their transactions alone, and rows written before a partner switched to
 * `ocpi` are cancelled, not sent. A station paired with an `ocpp` partner next to them forwards as usual.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimChargePoint, type Amps, type Watts, type WattHours } from '../src/sim/index.js';
import type { SessionData } from '../src/scsp-link/partners.js';
import { startTestCsms, type TestCsms } from './helpers/csms.js';
import { startScspPeer, type ScspPeer } from './helpers/scsp-peer.js';
import { sleep, uniqueId, waitFor } from './helpers/wire.js';

const EV = { batteryWh: 60_000 as WattHours, socPercent: 20, maxPowerW: 22_000 as Watts, phases: 3 };
const LONG = 60_000;

async function addPartner(csms: TestCsms, peer: ScspPeer, id: string, sessionData: SessionData): Promise<void> {
  await csms.scsp.partners.upsert({
    id,
    name: id,
    baseUrl: peer.url,
    tokenUrl: peer.tokenUrl,
    clientId: peer.clientId,
    clientSecret: peer.clientSecret,
    apiKey: peer.apiKey,
    payloadProtocol: 'ocpp2.0.1',
    inboundToken: `inbound-${id}-0123456789abcdef`,
    sessionData,
    ...(sessionData === 'ocpi' ? { ocpiPartnerId: `ocpi-${id}` } : {}),
  });
}

async function pair(csms: TestCsms, stationId: string, partnerId: string): Promise<void> {
  await csms.db.kysely
    .insertInto('pairings')
    .values({ station_id: stationId, partner_id: partnerId, payload_protocol: 'ocpp2.0.1', origin: 'cpo-code', paired_at: new Date().toISOString() })
    .execute();
}

async function charger(csms: TestCsms, sims: SimChargePoint[], id: string, protocol: 'ocpp1.6' | 'ocpp2.0.1'): Promise<SimChargePoint> {
  const cp = new SimChargePoint({
    url: csms.ocppUrl,
    identity: id,
    protocol,
    evses: [{ id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 32 as Amps }] }],
    meterIntervalS: 1,
    reconnect: false,
  });
  sims.push(cp);
  await cp.connect();
  await waitFor(async () => (await csms.db.kysely.selectFrom('connectors').select('evse_id').where('station_id', '=', id).execute()).length > 0, {
    what: `${id} connector`,
    timeoutMs: LONG,
  });
  return cp;
}

test('session data "ocpi": no outbox rows for its stations; rows written before a switch to "ocpi" are cancelled', async () => {
  const peer = await startScspPeer();
  const csms = await startTestCsms({
    env: { AMPLINE_SCSP_METER_INTERVAL_S: '0', AMPLINE_SCSP_METER_MAX_GAP_S: '1' },
    tweak: (c) => {
      c.scspForwarding = { ...c.scspForwarding, retryBaseMs: 100, retryMaxS: 1, pollIntervalMs: 250, sweepIntervalMs: 200 };
    },
  });
  const sims: SimChargePoint[] = [];
  try {
    const db = csms.db.kysely;
    await addPartner(csms, peer, 'ocpi-only', 'ocpi');
    await addPartner(csms, peer, 'events', 'ocpp');
    await addPartner(csms, peer, 'switcher', 'ocpp');
    const o201 = uniqueId('O201');
    const o16 = uniqueId('O16');
    const e201 = uniqueId('E201');
    const sw = uniqueId('SW16');
    await pair(csms, o201, 'ocpi-only');
    await pair(csms, o16, 'ocpi-only');
    await pair(csms, e201, 'events');
    await pair(csms, sw, 'switcher');
    const cps = [await charger(csms, sims, o201, 'ocpp2.0.1'), await charger(csms, sims, o16, 'ocpp1.6'), await charger(csms, sims, e201, 'ocpp2.0.1'), await charger(csms, sims, sw, 'ocpp1.6')];
    for (const [i, cp] of cps.entries()) await cp.startSession({ evseId: 1, idTag: `TAG-${i}`, ev: EV });

    const eventsOf = (id: string) => peer.events.filter((e) => e.uid === id);
    await waitFor(() => eventsOf(e201).filter((e) => e.action === 'MeterValues').length >= 3 && eventsOf(sw).filter((e) => e.action === 'MeterValues').length >= 2, {
      what: 'readings forwarded for the ocpp partners',
      timeoutMs: LONG,
    });

    // The switcher's SCSP is unreachable for a while: rows pile up, then the partner switches to OCPI Sessions.
    peer.faults.down = true;
    const pending = () => db.selectFrom('outbox').select(['id', 'state', 'last_error']).where('station_id', '=', sw).where('state', '=', 'pending').execute();
    await waitFor(async () => (await pending()).length >= 3, { what: 'a backlog for the switcher', timeoutMs: LONG });
    await addPartner(csms, peer, 'switcher', 'ocpi');
    const switchedAt = (await db.selectFrom('outbox').select((eb) => eb.fn.max('id').as('max')).executeTakeFirstOrThrow()).max;
    await sleep(1500); // readings keep coming; the meter repeat sweep runs every 200 ms
    peer.faults.down = false;

    for (const cp of cps) await cp.stopSession(1, 'Local');
    await waitFor(() => eventsOf(e201).some((e) => e.action === 'TransactionEvent' && (e.body as { eventType?: string }).eventType === 'Ended'), {
      what: 'Ended forwarded for the ocpp partner',
      timeoutMs: LONG,
    });
    await waitFor(async () => (await db.selectFrom('outbox').select('id').where('state', '=', 'pending').execute()).length === 0, { what: 'outbox drained', timeoutMs: LONG });

    // Stations of the "ocpi" partner: nothing written, nothing sent.
    for (const id of [o201, o16]) {
      assert.deepEqual(await db.selectFrom('outbox').select('id').where('station_id', '=', id).execute(), [], `${id}: no outbox rows`);
      assert.deepEqual(eventsOf(id), [], `${id}: nothing sent`);
    }
    // The "ocpp" partner's station: forwarded as usual.
    const rowsE = await db.selectFrom('outbox').select(['state']).where('station_id', '=', e201).execute();
    assert.ok(rowsE.length >= 5 && rowsE.every((r) => r.state === 'delivered'));
    // The switcher: the backlog written before the switch is cancelled, nothing written after it.
    const rowsSw = await db.selectFrom('outbox').select(['id', 'state', 'last_error', 'idempotency_key']).where('station_id', '=', sw).orderBy('id').execute();
    const cancelled = rowsSw.filter((r) => r.state === 'cancelled');
    assert.ok(cancelled.length >= 3, `${cancelled.length} rows cancelled`);
    assert.ok(cancelled.every((r) => /OCPI Sessions/.test(r.last_error ?? '')), cancelled.map((r) => r.last_error).join('; '));
    assert.ok(rowsSw.every((r) => r.id <= Number(switchedAt)), 'no rows written after the switch');
    const sent = new Set(eventsOf(sw).map((e) => e.idempotencyKey));
    assert.ok(cancelled.every((r) => !sent.has(r.idempotency_key)), 'cancelled rows were never sent');
    assert.deepEqual(peer.refused.filter((r) => r.status !== 503), []);
  } finally {
    for (const s of sims) await s.close().catch(() => undefined);
    await csms.destroy();
    await peer.close();
  }
});
