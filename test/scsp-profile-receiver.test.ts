/**
 * OCPP-format profile receiver end to end (issue 6 §4; protocols.md §1.6): an SCSP POSTs a
 * station-level SetChargingProfileRequest to a real CSMS; real simulated chargers (1.6 and 2.0.1) end
 * up charging at the limit received. Assertions are on the charger's state (its installed profiles,
 * offered current, power), not on timings. Every answer of the route is checked, including the seed's
 * `{message}` error shape.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SimChargePoint, type Amps, type EvseConfig, type Watts, type WattHours } from '../src/sim/index.js';
import type { Profile } from '../src/sim/composite.js';
import type { OcppProtocol } from '../src/ocpp/protocol.js';
import { parseSites } from '../src/services/load-balancer.js';
import { startTestCsms, type TestCsms } from './helpers/csms.js';
import { startScspPeer, type ScspPeer } from './helpers/scsp-peer.js';
import { waitFor } from './helpers/wire.js';

const TOKEN = 'jedlix-inbound-token-0123456789';
const OTHER_TOKEN = 'other-scsp-inbound-token-9876543210';

let csms: TestCsms;
let peer: ScspPeer;
const sims: SimChargePoint[] = [];

interface Answer {
  status: number;
  body: Record<string, unknown> & { message?: unknown };
}

async function post(path: string, body: unknown, opts: { token?: string | null; raw?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${csms.url}${path}`, { method: 'POST', headers, body: opts.raw ?? JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Answer['body']) };
}

const route = (uid: string, protocol: string, singular = false): string =>
  `/v1/cpo/${singular ? 'chargingstation' : 'chargingstations'}/${uid}/events/${protocol}/SetChargingProfile`;

/** The seed's error shape: `{message}` (+ debugging fields), never the /api/v1 `{error, message}` catalogue. */
function assertSeedError(a: Answer, status: number, contains?: RegExp): void {
  assert.equal(a.status, status, JSON.stringify(a.body));
  assert.equal(typeof a.body.message, 'string');
  assert.ok(!('error' in a.body), `not the /api/v1 shape: ${JSON.stringify(a.body)}`);
  if (contains) assert.match(a.body.message as string, contains);
}

/** What Jedlix sends (2.0.1): EVSE 0, TxProfile, Absolute, W, stack level 1. */
function jedlix201(limits: number[], opts: { startPeriodStep?: number; first?: number; validTo?: string } = {}) {
  const step = opts.startPeriodStep ?? 1800;
  return {
    evseId: 0,
    chargingProfile: {
      id: 1,
      stackLevel: 1,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Absolute',
      ...(opts.validTo ? { validTo: opts.validTo } : {}),
      chargingSchedule: [
        {
          id: 1,
          chargingRateUnit: 'W',
          startSchedule: new Date(Date.now() - 1000).toISOString(),
          chargingSchedulePeriod: limits.map((limit, i) => ({ startPeriod: i === 0 ? (opts.first ?? 0) : i * step, limit })),
        },
      ],
    },
  };
}

/** The same in the 1.6 shape (payload-protocol ocpp1.6). */
function jedlix16(limits: number[]) {
  const b = jedlix201(limits);
  const s = b.chargingProfile.chargingSchedule[0]!;
  return {
    connectorId: 0,
    csChargingProfiles: {
      chargingProfileId: 1,
      stackLevel: 1,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Absolute',
      chargingSchedule: { chargingRateUnit: 'W', startSchedule: s.startSchedule, chargingSchedulePeriod: s.chargingSchedulePeriod },
    },
  };
}

async function pair(uid: string, partnerId: string, protocol: string): Promise<void> {
  // The pairing flow is built concurrently (issue 6 §2): the row is written directly.
  await csms.db.kysely
    .insertInto('pairings')
    .values({ station_id: uid, partner_id: partnerId, payload_protocol: protocol, origin: 'cpo-code', paired_at: new Date().toISOString() })
    .execute();
}

const threePhase = (id: number, maxCurrentA = 32): EvseConfig => ({ id, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: maxCurrentA as Amps }] });

/** A paired, booted simulated station. */
async function station(uid: string, protocol: OcppProtocol, opts: { evses?: EvseConfig[]; config?: Record<string, string>; partner?: string } = {}): Promise<SimChargePoint> {
  await pair(uid, opts.partner ?? 'jedlix', protocol);
  const cp = new SimChargePoint({
    url: csms.ocppUrl,
    identity: uid,
    protocol,
    evses: opts.evses ?? [threePhase(1)],
    meterIntervalS: 0,
    reconnect: false,
    ...(opts.config ? { config: opts.config } : {}),
  });
  sims.push(cp);
  await cp.connect();
  const n = (opts.evses ?? [threePhase(1)]).length;
  await waitFor(async () => (await csms.db.kysely.selectFrom('connectors').select('evse_id').where('station_id', '=', uid).where('evse_id', '>', 0).execute()).length >= n, {
    what: `${uid} connectors`,
  });
  return cp;
}

/** Start a session and wait until the CSMS has it; returns the transaction id as the CSMS sends it. */
async function session(cp: SimChargePoint, evseId: number): Promise<string> {
  const id = await cp.startSession({ evseId, idTag: `TAG-${cp.identity}-${evseId}`, ev: { batteryWh: 60000 as WattHours, socPercent: 20, maxPowerW: 22000 as Watts, phases: 3 } });
  await waitFor(async () => (await csms.smart.activeTransactions(cp.identity)).some((t) => t.evseId === evseId && t.transactionId === String(id)), {
    what: `${cp.identity} transaction on EVSE ${evseId}`,
  });
  return String(id);
}

/** The SCSP profile the charger has installed on an EVSE. */
const scspProfile = (cp: SimChargePoint, evseId: number): Profile | undefined => cp.chargingProfiles().find((p) => p.evseId === evseId && p.id === 8000 + evseId);

before(async () => {
  peer = await startScspPeer();
  // Short command timeout: the timeout case waits for it.
  csms = await startTestCsms({ env: { AMPLINE_API_COMMAND_TIMEOUT_S: '2' } });
  const common = { baseUrl: peer.url, tokenUrl: peer.tokenUrl, clientId: peer.clientId, clientSecret: peer.clientSecret, apiKey: peer.apiKey };
  await csms.scsp.partners.upsert({ id: 'jedlix', name: 'Jedlix', payloadProtocol: 'ocpp2.0.1', inboundToken: TOKEN, ...common });
  await csms.scsp.partners.upsert({ id: 'other', name: 'Other SCSP', payloadProtocol: 'ocpp2.0.1', inboundToken: OTHER_TOKEN, ...common });
});

after(async () => {
  for (const cp of sims) await cp.close().catch(() => undefined);
  await csms?.destroy();
  await peer?.close();
});

describe('the charger ends up charging at the limit received', () => {
  for (const protocol of ['ocpp2.0.1', 'ocpp1.6'] as const) {
    test(`${protocol} station, ${protocol} payload: W kept, EVSE 0 retargeted with the transaction id`, async () => {
      const uid = `RCV-W-${protocol}`;
      const cp = await station(uid, protocol);
      const txId = await session(cp, 1);
      const a = await post(route(uid, protocol), protocol === 'ocpp1.6' ? jedlix16([7000, 3000]) : jedlix201([7000, 3000]));
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(typeof a.body.message, 'string');
      const [sent] = a.body.evses as Array<Record<string, unknown>>;
      assert.deepEqual(
        { evseId: sent!.evseId, transactionId: sent!.transactionId, id: sent!.chargingProfileId, unit: sent!.chargingRateUnit, limits: sent!.limits, status: sent!.status },
        { evseId: 1, transactionId: txId, id: 8001, unit: 'W', limits: [{ startPeriod: 0, limit: 7000 }, { startPeriod: 1800, limit: 3000 }], status: 'Accepted' },
      );
      // On the charger: one TxProfile on EVSE 1, bound to the transaction, W, at stack level 1 …
      const p = scspProfile(cp, 1);
      assert.ok(p, 'profile installed on the charger');
      assert.equal(p.purpose, 'TxProfile');
      assert.equal(p.transactionId, txId);
      assert.equal(p.stackLevel, 1);
      assert.equal(p.schedule.chargingRateUnit, 'W');
      assert.deepEqual(p.schedule.periods.map((x) => x.limit), [7000, 3000]);
      // … and the EV draws what the plan allows now.
      await waitFor(() => cp.evse(1).powerW <= 7000 && cp.evse(1).powerW > 6900, { timeoutMs: 5000, what: `${uid} power ≈ 7000 W (is ${cp.evse(1).powerW})` });
      // The CSMS shadow records it as the SCSP's.
      const mine = (await csms.smart.installed(uid)).filter((r) => r.source === 'scsp');
      assert.deepEqual(mine.map((r) => r.profile.id), [8001]);
    });
  }

  test('a new plan replaces the previous one (same profile id)', async () => {
    const uid = 'RCV-REPLACE';
    const cp = await station(uid, 'ocpp2.0.1');
    const txId = await session(cp, 1);
    assert.equal((await post(route(uid, 'ocpp2.0.1'), jedlix201([7000]))).status, 200);
    await waitFor(() => cp.evse(1).powerW > 6900 && cp.evse(1).powerW <= 7000, { timeoutMs: 5000 });
    const a = await post(route(uid, 'ocpp2.0.1'), jedlix201([4200, 8000]));
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const installed = cp.chargingProfiles().filter((p) => p.evseId === 1);
    assert.equal(installed.length, 1, 'exactly one profile on the EVSE');
    assert.equal(installed[0]!.id, 8001);
    assert.equal(installed[0]!.transactionId, txId);
    assert.deepEqual(installed[0]!.schedule.periods.map((x) => x.limit), [4200, 8000]);
    await waitFor(() => cp.evse(1).powerW > 4100 && cp.evse(1).powerW <= 4200, { timeoutMs: 5000, what: `power ≈ 4200 W (is ${cp.evse(1).powerW})` });
    assert.deepEqual((await csms.smart.installed(uid)).map((r) => [r.profile.id, r.source]), [[8001, 'scsp']]);
  });
});

describe('W → A where the charger only takes A', () => {
  const cases: Array<{ protocol: OcppProtocol; config: Record<string, string>; payload: string; singular: boolean }> = [
    // 1.6: ChargingScheduleAllowedChargingRateUnit = Current; the SCSP speaks 2.0.1 through the older singular path.
    { protocol: 'ocpp1.6', config: { ChargingScheduleAllowedChargingRateUnit: 'Current' }, payload: 'ocpp2.0.1', singular: true },
    // 2.0.1: SmartChargingCtrlr.RateUnit = A.
    { protocol: 'ocpp2.0.1', config: { 'SmartChargingCtrlr.RateUnit': 'A' }, payload: 'ocpp2.0.1', singular: false },
  ];
  for (const c of cases) {
    test(`${c.protocol} station taking only A: 7000 W → 10.1 A per phase; 22 kW clamped to the 16 A connector`, async () => {
      const uid = `RCV-A-${c.protocol}`;
      const cp = await station(uid, c.protocol, { config: c.config, evses: [threePhase(1, 16)] });
      assert.equal(cp.getConfiguration(c.protocol === 'ocpp1.6' ? 'ChargingScheduleAllowedChargingRateUnit' : 'SmartChargingCtrlr.RateUnit'), c.protocol === 'ocpp1.6' ? 'Current' : 'A');
      const txId = await session(cp, 1);
      const a = await post(route(uid, c.payload, c.singular), jedlix201([7000]));
      assert.equal(a.status, 200, JSON.stringify(a.body));
      const p = scspProfile(cp, 1)!;
      assert.equal(p.transactionId, txId);
      assert.equal(p.schedule.chargingRateUnit, 'A');
      assert.deepEqual(p.schedule.periods.map((x) => x.limit), [10.1], '7000 / (3 × 230) floored to 0.1');
      await waitFor(() => cp.evse(1).offered.limit === 10.1, { timeoutMs: 5000, what: `offered 10.1 A (is ${cp.evse(1).offered.limit})` });
      await waitFor(() => Math.abs(cp.evse(1).powerW - 10.1 * 230 * 3) < 1, { timeoutMs: 5000, what: `power 6969 W (is ${cp.evse(1).powerW})` });

      // The connector's maximum as the operator recorded it: the plan is clamped to it before sending.
      await csms.db.kysely.updateTable('connectors').set({ max_current_a: 16, phases: 3 }).where('station_id', '=', uid).where('evse_id', '=', 1).execute();
      const b = await post(route(uid, c.payload, c.singular), jedlix201([22000, 7000]));
      assert.equal(b.status, 200, JSON.stringify(b.body));
      assert.deepEqual(scspProfile(cp, 1)!.schedule.periods.map((x) => x.limit), [16, 10.1]);
      await waitFor(() => cp.evse(1).offered.limit === 16, { timeoutMs: 5000 });
    });
  }
});

describe('a station-level limit shared by two charging EVSEs (equal split)', () => {
  test('2.0.1 station taking W: 11 kW → 5.5 kW each, each with its own transaction', async () => {
    const uid = 'RCV-SPLIT-W';
    const cp = await station(uid, 'ocpp2.0.1', { evses: [threePhase(1), threePhase(2)] });
    const tx1 = await session(cp, 1);
    const tx2 = await session(cp, 2);
    const a = await post(route(uid, 'ocpp2.0.1'), jedlix201([11000]));
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.deepEqual(
      (a.body.evses as Array<{ evseId: number; transactionId: string; limits: unknown }>).map((e) => [e.evseId, e.transactionId, e.limits]),
      [
        [1, tx1, [{ startPeriod: 0, limit: 5500 }]],
        [2, tx2, [{ startPeriod: 0, limit: 5500 }]],
      ],
    );
    for (const [evseId, tx] of [[1, tx1], [2, tx2]] as const) {
      const p = scspProfile(cp, evseId)!;
      assert.equal(p.transactionId, tx);
      assert.deepEqual(p.schedule.periods.map((x) => x.limit), [5500]);
    }
    await waitFor(() => [1, 2].every((e) => cp.evse(e).powerW > 5400 && cp.evse(e).powerW <= 5500), { timeoutMs: 5000, what: 'both EVSEs ≈ 5500 W' });
    assert.ok(cp.evse(1).powerW + cp.evse(2).powerW <= 11000);

    // EVSE 2 turns out to be a 6 A connector (operator data): water-filling gives it 6 A × 3 × 230 V = 4140 W and
    // EVSE 1 the rest. The decrease goes out before the increase, so the total never exceeds 11 kW meanwhile.
    await csms.db.kysely.updateTable('connectors').set({ max_current_a: 6 }).where('station_id', '=', uid).where('evse_id', '=', 2).execute();
    const order: number[] = [];
    cp.setResponder((action, payload) => {
      if (action === 'SetChargingProfile') order.push((payload as { evseId: number }).evseId);
      return undefined;
    });
    try {
      assert.equal((await post(route(uid, 'ocpp2.0.1'), jedlix201([11000]))).status, 200);
    } finally {
      cp.setResponder(undefined);
    }
    assert.deepEqual(order, [2, 1], 'decrease (EVSE 2) before increase (EVSE 1)');
    assert.deepEqual([1, 2].map((e) => scspProfile(cp, e)!.schedule.periods[0]!.limit), [6860, 4140]);
  });

  test('1.6 station taking only A: 11 kW → 5.5 kW each → 7.9 A per phase each', async () => {
    const uid = 'RCV-SPLIT-A';
    const cp = await station(uid, 'ocpp1.6', { evses: [threePhase(1), threePhase(2)], config: { ChargingScheduleAllowedChargingRateUnit: 'Current' } });
    await session(cp, 1);
    await session(cp, 2);
    const a = await post(route(uid, 'ocpp1.6'), jedlix16([11000]));
    assert.equal(a.status, 200, JSON.stringify(a.body));
    for (const evseId of [1, 2]) assert.deepEqual(scspProfile(cp, evseId)!.schedule.periods.map((x) => x.limit), [7.9]);
    await waitFor(() => [1, 2].every((e) => cp.evse(e).offered.limit === 7.9), { timeoutMs: 5000 });
    assert.ok(cp.evse(1).powerW + cp.evse(2).powerW <= 11000);
  });
});

describe('under site load balancing', () => {
  test('the balancer reads the SCSP plan (stack level 1) as the session plan: its TxProfile = min(plan, allocation)', async () => {
    const uid = 'RCV-SITE';
    csms.balancer.setSite(parseSites([{ id: 'rcv-site', limit: { perPhaseA: 32 }, tickS: 1, stations: [{ id: uid }] }])[0]!);
    const cp = await station(uid, 'ocpp2.0.1');
    await session(cp, 1);
    // Without a plan the site allocation governs (the EV draws well above 6 A).
    await waitFor(() => cp.evse(1).powerW > 10_000, { timeoutMs: 10_000, what: `allocation in force (power ${cp.evse(1).powerW})` });
    const a = await post(route(uid, 'ocpp2.0.1'), jedlix201([4140]));
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(scspProfile(cp, 1)?.stackLevel, 1);
    // The balancer follows the plan: its own TxProfile (id 9001, the station's maximum stack level) drops to 6 A.
    await waitFor(() => {
      const lb = cp.chargingProfiles().find((p) => p.id === 9001);
      return lb !== undefined && lb.stackLevel > 1 && lb.schedule.periods[0]?.limit === 6;
    }, { timeoutMs: 10_000, what: 'balancer TxProfile at min(plan, allocation) = 6 A' });
    await waitFor(() => Math.abs(cp.evse(1).powerW - 4140) < 1, { timeoutMs: 10_000, what: `power 4140 W (is ${cp.evse(1).powerW})` });
    // A new plan: the balancer follows again (7000 W → 10.1 A per phase).
    assert.equal((await post(route(uid, 'ocpp2.0.1'), jedlix201([7000]))).status, 200);
    await waitFor(() => Math.abs(cp.evse(1).powerW - 10.1 * 230 * 3) < 1, { timeoutMs: 10_000, what: `power 6969 W (is ${cp.evse(1).powerW})` });
  });
});

describe('every error answer', () => {
  let uid: string;
  let cp: SimChargePoint;
  before(async () => {
    uid = 'RCV-ERR';
    cp = await station(uid, 'ocpp2.0.1');
    await session(cp, 1);
  });

  test('401 without a token, with a wrong token, and before the body is read', async () => {
    assertSeedError(await post(route(uid, 'ocpp2.0.1'), jedlix201([7000]), { token: null }), 401);
    assertSeedError(await post(route(uid, 'ocpp2.0.1'), jedlix201([7000]), { token: 'not-a-partner-token-000000' }), 401);
    assertSeedError(await post(route(uid, 'ocpp2.0.1'), undefined, { token: 'not-a-partner-token-000000', raw: '{not json' }), 401);
    assert.equal(scspProfile(cp, 1), undefined, 'nothing reached the charger');
  });

  test('404 for an unknown uid and for a uid paired with another partner', async () => {
    assertSeedError(await post(route('NO-SUCH-STATION', 'ocpp2.0.1'), jedlix201([7000])), 404, /NO-SUCH-STATION/);
    const theirs = await station('RCV-OTHERS', 'ocpp2.0.1', { partner: 'other' });
    await session(theirs, 1);
    assertSeedError(await post(route('RCV-OTHERS', 'ocpp2.0.1'), jedlix201([7000])), 404);
    assert.equal(scspProfile(theirs, 1), undefined);
    // The partner it is paired with is served.
    assert.equal((await post(route('RCV-OTHERS', 'ocpp2.0.1'), jedlix201([7000]), { token: OTHER_TOKEN })).status, 200);
    assert.ok(scspProfile(theirs, 1));
  });

  test('400 for an unknown payload-protocol, malformed JSON and schema-invalid bodies', async () => {
    assertSeedError(await post(route(uid, 'ocpp9.9'), jedlix201([7000])), 400, /payload-protocol/);
    assertSeedError(await post(route(uid, 'ocpp2.0.1'), undefined, { raw: '{not json' }), 400);
    const extra = jedlix201([7000]);
    (extra.chargingProfile as Record<string, unknown>).colour = 'blue';
    assertSeedError(await post(route(uid, 'ocpp2.0.1'), extra), 400, /colour/);
    assertSeedError(await post(route(uid, 'ocpp2.0.1'), { evseId: 0 }), 400, /chargingProfile/);
    // A 2.0.1 body on the 1.6 path is not a 1.6 SetChargingProfile.req.
    assertSeedError(await post(route(uid, 'ocpp1.6'), jedlix201([7000])), 400);
    assertSeedError(await post(route(uid, 'ocpp2.0.1'), undefined, { raw: '' }), 400);
    assert.equal(scspProfile(cp, 1), undefined);
  });

  test('400 when no transaction is active', async () => {
    await station('RCV-IDLE', 'ocpp2.0.1');
    assertSeedError(await post(route('RCV-IDLE', 'ocpp2.0.1'), jedlix201([7000])), 400, /no active transaction/);
  });

  test('400 for an invalid profile: first period not at 0 (translation), validTo in the past (K01 checks)', async () => {
    const a = await post(route(uid, 'ocpp2.0.1'), jedlix201([7000, 3000], { first: 60 }));
    assertSeedError(a, 400, /K01\.FR\.31/);
    const b = await post(route(uid, 'ocpp2.0.1'), jedlix201([7000], { validTo: new Date(Date.now() - 60_000).toISOString() }));
    assertSeedError(b, 400, /ValidToInPast/);
    assert.equal(scspProfile(cp, 1), undefined, 'nothing reached the charger');
  });

  test('400 when the charger answers Rejected (2.0.1) or NotSupported (1.6, or as a CALLERROR)', async () => {
    cp.setResponder((action) => (action === 'SetChargingProfile' ? { result: { status: 'Rejected', statusInfo: { reasonCode: 'TxNotFound' } } } : undefined));
    try {
      assertSeedError(await post(route(uid, 'ocpp2.0.1'), jedlix201([7000])), 400, /Rejected \(TxNotFound\)/);
      assert.equal(scspProfile(cp, 1), undefined, 'the charger has nothing installed');
      assert.deepEqual((await csms.smart.installed(uid)).filter((r) => r.source === 'scsp'), []);
    } finally {
      cp.setResponder(undefined);
    }
    cp.setResponder((action) => (action === 'SetChargingProfile' ? { error: { code: 'NotSupported', description: 'no smart charging' } } : undefined));
    try {
      assertSeedError(await post(route(uid, 'ocpp2.0.1'), jedlix201([7000])), 400, /NotSupported/);
    } finally {
      cp.setResponder(undefined);
    }
    const old = await station('RCV-NOSUP', 'ocpp1.6');
    await session(old, 1);
    old.setResponder((action) => (action === 'SetChargingProfile' ? { result: { status: 'NotSupported' } } : undefined));
    try {
      assertSeedError(await post(route('RCV-NOSUP', 'ocpp1.6'), jedlix16([7000])), 400, /NotSupported/);
      assert.equal(scspProfile(old, 1), undefined);
    } finally {
      old.setResponder(undefined);
    }
  });

  test('500 when the charger does not answer in time', async () => {
    const slow = await station('RCV-SLOW', 'ocpp1.6');
    await session(slow, 1);
    slow.setResponder((action) => (action === 'SetChargingProfile' ? 'noreply' : undefined));
    try {
      assertSeedError(await post(route('RCV-SLOW', 'ocpp1.6'), jedlix16([7000])), 500, /in time/);
      assert.equal(scspProfile(slow, 1), undefined);
      assert.deepEqual(await csms.smart.installed('RCV-SLOW'), []);
    } finally {
      slow.setResponder(undefined);
    }
  });

  test('503 when the charger is offline', async () => {
    const gone = await station('RCV-GONE', 'ocpp2.0.1');
    await session(gone, 1);
    await gone.close();
    await waitFor(() => csms.transport.get('RCV-GONE') === undefined, { what: 'CSMS sees RCV-GONE disconnected' });
    assertSeedError(await post(route('RCV-GONE', 'ocpp2.0.1'), jedlix201([7000])), 503, /offline/);
  });

  test('after the errors, a valid plan on the same station is accepted', async () => {
    assert.equal((await post(route(uid, 'ocpp2.0.1'), jedlix201([5000]))).status, 200);
    await waitFor(() => cp.evse(1).powerW > 4900 && cp.evse(1).powerW <= 5000, { timeoutMs: 5000 });
  });
});
