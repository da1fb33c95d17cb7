/**
 * Sending plans to the CPO over the OCPP-format route (protocols.md §1.6): the SetChargingProfileRequest
 * of each payload protocol, every CPO answer (200, 400, 404, 401, 500, 503, no answer) with retries and
 * giving up visible in the admin API, re-planning on session updates and preference changes, unchanged
 * plans not re-sent, nothing sent after a session ends, shared site limits, and fresh plans after a
 * restart. The CPO is a fake written from the seeds; the clock is manual, so plans are exact.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/util/clock.js';
import { validatePayload } from '../../src/ocpp/schemas.js';
import { waitFor } from '../helpers/wire.js';
import {
  CpoCaller,
  admin,
  iso,
  mv201,
  pairStation,
  registerCpo,
  sessionsOf,
  startFakeCpo,
  startTestScsp,
  te201,
  tempDir,
  type FakeCpo,
  type TestScsp,
} from './helpers.js';

const T0 = Date.parse('2025-06-02T18:00:00Z');
const clock = new ManualClock(T0);
let scsp: TestScsp;
let fake: FakeCpo;
let cpo: CpoCaller;
let cpo16: CpoCaller;
/** Seed station EVSE: 3 phases × 220 V × 16 A. */
const EVSE_MAX_W = 3 * 220 * 16;

before(async () => {
  [scsp, fake] = await Promise.all([startTestScsp({ deps: { clock }, env: { AMPLINE_SCSP_SEND_MAX_ATTEMPTS: '3' } }), startFakeCpo()]);
  cpo = new CpoCaller(scsp, await registerCpo(scsp, 'cpo-a', { baseUrl: fake.url, cpoToken: fake.token }));
  cpo16 = new CpoCaller(scsp, await registerCpo(scsp, 'cpo-16', { baseUrl: fake.url, cpoToken: fake.token, payloadProtocol: 'ocpp1.6' }));
});
after(async () => {
  await scsp.idle();
  await Promise.all([scsp.destroy(), fake.close()]);
});

const profilesFor = (uid: string) => fake.profiles.filter((p) => p.uid === uid);
const deliveries = async (uid: string) => (await admin(scsp, 'GET', `/api/v1/profile-deliveries?uid=${encodeURIComponent(uid)}`)).body.data as any[];

/** Pair a station and start a transaction on EVSE 1 at the clock's time; wait until the plan went out. */
async function startSession(uid: string, opts: { caller?: CpoCaller; pp?: 'ocpp2.0.1' | 'ocpp1.6'; tx?: string; evse?: number; energyWh?: number; pair?: boolean } = {}) {
  const caller = opts.caller ?? cpo;
  if (opts.pair !== false) await pairStation(scsp, caller, uid, opts.pp ?? 'ocpp2.0.1');
  const r = await caller.event(uid, 'ocpp2.0.1', 'TransactionEvent', te201({ eventType: 'Started', tx: opts.tx ?? `tx-${uid}`, seqNo: 0, at: clock.now().getTime(), evse: opts.evse ?? 1, chargingState: 'Charging', energyWh: opts.energyWh ?? 0 }));
  assert.equal(r.status, 200, r.text);
  await scsp.idle();
}

test('2.0.1 CPO: a session start sends one SetChargingProfile (evseId 0, TxProfile, Absolute, stackLevel 1, W, startSchedule) → 200 delivered', async () => {
  clock.set(T0);
  await startSession('s-ok');
  const [p] = profilesFor('s-ok');
  assert.ok(p, 'the CPO got a profile');
  assert.equal(p.pp, 'ocpp2.0.1');
  assert.equal(p.status, 200);
  assert.ok(validatePayload('ocpp2.0.1', 'SetChargingProfile', 'req', p.body).ok);
  const needS = Math.ceil((20_000 / EVSE_MAX_W) * 3600); // default need 20 kWh at full power
  assert.deepEqual(p.body, {
    evseId: 0,
    chargingProfile: {
      id: 1,
      stackLevel: 1,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Absolute',
      chargingSchedule: [
        {
          id: 1,
          startSchedule: '2025-06-02T18:00:00Z',
          chargingRateUnit: 'W',
          chargingSchedulePeriod: [
            { startPeriod: 0, limit: EVSE_MAX_W },
            { startPeriod: needS, limit: 0 },
          ],
        },
      ],
    },
  });
  const [d] = await deliveries('s-ok');
  assert.deepEqual({ status: d.status, attempts: d.attempts, http: d.httpStatus, error: d.lastError }, { status: 'delivered', attempts: 1, http: 200, error: null });
  assert.deepEqual(d.request, p.body);
  // The session keeps its own plan.
  const [s] = await sessionsOf(scsp, 'cpo-a', 's-ok');
  assert.deepEqual(s.plan.schedule, [
    { start: iso(T0), powerW: EVSE_MAX_W },
    { start: iso(T0 + needS * 1000), powerW: 0 },
  ]);
  assert.equal(fake.refused.length, 0, 'the SCSP presented the CPO\'s bearer token');
});

test('1.6 CPO: the 1.6 SetChargingProfile.req shape (connectorId 0, csChargingProfiles)', async () => {
  clock.set(T0);
  await startSession('s-16', { caller: cpo16, pp: 'ocpp1.6' });
  const [p] = profilesFor('s-16');
  assert.equal(p?.pp, 'ocpp1.6');
  assert.ok(validatePayload('ocpp1.6', 'SetChargingProfile', 'req', p!.body).ok);
  assert.equal(p!.body.connectorId, 0);
  assert.deepEqual(
    { ...p!.body.csChargingProfiles, chargingSchedule: { ...p!.body.csChargingProfiles.chargingSchedule, chargingSchedulePeriod: undefined } },
    {
      chargingProfileId: 1,
      stackLevel: 1,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Absolute',
      chargingSchedule: { startSchedule: '2025-06-02T18:00:00Z', chargingRateUnit: 'W', chargingSchedulePeriod: undefined },
    },
  );
  assert.equal(p!.body.csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit, EVSE_MAX_W);
});

test('CPO answers 400, 404, 401: given up at once (one attempt), visible in the admin API', async () => {
  for (const [i, status] of [400, 404, 401].entries()) {
    clock.set(T0);
    const uid = `s-refused-${status}`;
    fake.profileAnswers.push(status);
    await startSession(uid);
    assert.equal(profilesFor(uid).length, 1, `${status}: not retried`);
    const [d] = await deliveries(uid);
    assert.deepEqual({ status: d.status, attempts: d.attempts, http: d.httpStatus }, { status: 'failed', attempts: 1, http: status }, `case ${i}`);
    assert.equal(typeof d.lastError, 'string');
  }
  const failed = await admin(scsp, 'GET', '/api/v1/profile-deliveries?status=failed&cpoId=cpo-a');
  assert.ok(failed.body.data.length >= 3);
  // The station view shows the last delivery too.
  const st = await admin(scsp, 'GET', '/api/v1/cpos/cpo-a/stations/s-refused-404');
  assert.equal(st.body.recentDeliveries[0].status, 'failed');
  assert.equal(st.body.recentDeliveries[0].lastError, 'Unknown charging station uid.');
});

test('CPO answers 503 (charger offline), 500, no answer: retried with backoff until delivered', async () => {
  const cases: Array<{ uid: string; answers: number[] }> = [
    { uid: 's-retry-503', answers: [503] },
    { uid: 's-retry-500', answers: [500, 503] },
    { uid: 's-retry-net', answers: [0] },
  ];
  for (const c of cases) {
    clock.set(T0);
    fake.profileAnswers.push(...c.answers);
    await startSession(c.uid);
    const got = profilesFor(c.uid);
    assert.deepEqual(got.map((p) => p.status), [...c.answers, 200], c.uid);
    assert.ok(got.every((p) => JSON.stringify(p.body) === JSON.stringify(got[0]!.body)), `${c.uid}: the same request is re-sent`);
    const [d] = await deliveries(c.uid);
    assert.deepEqual({ status: d.status, attempts: d.attempts, http: d.httpStatus }, { status: 'delivered', attempts: c.answers.length + 1, http: 200 }, c.uid);
  }
});

test('retryable answers until AMPLINE_SCSP_SEND_MAX_ATTEMPTS (3): failed, "gave up"', async () => {
  clock.set(T0);
  fake.profileAnswers.push(503, 500, 503);
  await startSession('s-giveup');
  assert.deepEqual(profilesFor('s-giveup').map((p) => p.status), [503, 500, 503]);
  const [d] = await deliveries('s-giveup');
  assert.deepEqual({ status: d.status, attempts: d.attempts, http: d.httpStatus }, { status: 'failed', attempts: 3, http: 503 });
  assert.match(d.lastError, /^gave up after 3 attempts: Charging station is offline\./);
  const m = await fetch(`${scsp.url}/metrics`).then((r) => r.text());
  assert.match(m, /ampline_scsp_profile_deliveries_total\{outcome="failed"\} 1/);
});

test('re-plan on session updates: an unchanged plan is not re-sent; a changed one is; nothing after the session ends', async () => {
  clock.set(T0);
  const uid = 's-updates';
  await startSession(uid);
  assert.equal(profilesFor(uid).length, 1);
  // 10 minutes at full power, exactly as planned: the plan's future is the same (±60 s) → not sent.
  clock.set(T0 + 600_000);
  const delivered = Math.round((EVSE_MAX_W * 600) / 3600);
  assert.equal((await cpo.event(uid, 'ocpp2.0.1', 'MeterValues', mv201(1, T0 + 600_000, { energyWh: delivered, powerW: EVSE_MAX_W }))).status, 200);
  await scsp.idle();
  assert.equal(profilesFor(uid).length, 1, 'unchanged plan not re-sent');
  // The EV drew nothing for 20 more minutes: the need is met 20 minutes later → a new plan.
  clock.set(T0 + 1_800_000);
  assert.equal((await cpo.event(uid, 'ocpp2.0.1', 'MeterValues', mv201(1, T0 + 1_800_000, { energyWh: delivered, powerW: 0 }))).status, 200);
  await scsp.idle();
  const sent = profilesFor(uid);
  assert.equal(sent.length, 2);
  const sched = sent[1]!.body.chargingProfile.chargingSchedule[0];
  assert.equal(sched.startSchedule, '2025-06-02T18:30:00Z');
  assert.deepEqual(sched.chargingSchedulePeriod, [
    { startPeriod: 0, limit: EVSE_MAX_W },
    { startPeriod: Math.ceil(((20_000 - delivered) / EVSE_MAX_W) * 3600), limit: 0 },
  ]);
  // The session ends: the SCSP sends nothing (the CPO drops the TxProfile with its transaction).
  clock.set(T0 + 3_600_000);
  assert.equal((await cpo.event(uid, 'ocpp2.0.1', 'TransactionEvent', te201({ eventType: 'Ended', tx: `tx-${uid}`, seqNo: 1, at: T0 + 3_600_000, stoppedReason: 'EVDisconnected' }))).status, 200);
  await scsp.idle();
  assert.equal(profilesFor(uid).length, 2, 'nothing sent at session end');
});

test('a plan waiting for a retry is dropped when the session ends (cancelled), and replaced by a newer plan (superseded)', async () => {
  const s = await startTestScsp({ deps: { clock }, tweak: (c) => ((c.delivery.retryBaseMs = 3_600_000), (c.delivery.retryMaxMs = 3_600_000)) });
  try {
    const caller = new CpoCaller(s, await registerCpo(s, 'cpo-slow', { baseUrl: fake.url, cpoToken: fake.token }));
    clock.set(T0);
    const uid = 's-cancel';
    await pairStation(s, caller, uid);
    const statuses = async () => ((await admin(s, 'GET', `/api/v1/profile-deliveries?uid=${uid}`)).body.data as any[]).map((x) => x.status as string);
    fake.profileAnswers.push(503);
    assert.equal((await caller.event(uid, 'ocpp2.0.1', 'TransactionEvent', te201({ eventType: 'Started', tx: 'tx-c', seqNo: 0, at: T0, evse: 1, energyWh: 0 }))).status, 200);
    // The first try gets 503; its retry is an hour away (idle() would wait for it, so poll the record).
    await waitFor(async () => (await statuses()).join() === 'retrying', { timeoutMs: 10_000, what: 'first plan retrying' });
    // A preference change makes a new plan, which replaces the waiting one and goes out at once.
    const sess = (await sessionsOf(s, 'cpo-slow', uid))[0];
    fake.profileAnswers.push(503);
    assert.equal((await admin(s, 'PUT', `/api/v1/sessions/${sess.id}/preferences`, { maxPowerW: 7000 })).status, 200);
    await waitFor(async () => (await statuses()).join() === 'retrying,superseded', { timeoutMs: 10_000, what: 'second plan retrying' });
    let d = (await admin(s, 'GET', `/api/v1/profile-deliveries?uid=${uid}`)).body.data as any[];
    assert.equal(d[0].request.chargingProfile.chargingSchedule[0].chargingSchedulePeriod[0].limit, 7000);
    assert.ok(d[0].nextAttemptAt);
    // The session ends: the waiting plan is dropped and nothing is pending any more.
    assert.equal((await caller.event(uid, 'ocpp2.0.1', 'TransactionEvent', te201({ eventType: 'Ended', tx: 'tx-c', seqNo: 1, at: T0 + 60_000 }))).status, 200);
    await s.idle();
    d = (await admin(s, 'GET', `/api/v1/profile-deliveries?uid=${uid}`)).body.data;
    assert.deepEqual(d.map((x) => x.status), ['cancelled', 'superseded']);
    assert.equal(profilesFor(uid).length, 2);
  } finally {
    await s.destroy();
  }
});

test('preferences: energy need, target SoC and max power shape the plan; defaults when absent', async () => {
  clock.set(T0);
  const uid = 's-prefs';
  await pairStation(scsp, cpo, uid);
  // Station default: 11 kWh and at most 7 kW; EVSE 1: departure 07:00 Amsterdam time.
  assert.equal((await admin(scsp, 'PUT', `/api/v1/cpos/cpo-a/stations/${uid}/preferences`, { energyNeedWh: 11_000, maxPowerW: 7_000 })).status, 200);
  assert.equal((await admin(scsp, 'PUT', `/api/v1/cpos/cpo-a/stations/${uid}/evses/1/preferences`, { departureTimeOfDay: '07:00', timeZone: 'Europe/Amsterdam' })).status, 200);
  await startSession(uid, { pair: false, energyWh: 500, evse: 1 });
  let periods = profilesFor(uid).at(-1)!.body.chargingProfile.chargingSchedule[0].chargingSchedulePeriod;
  assert.deepEqual(periods, [
    { startPeriod: 0, limit: 7000 },
    { startPeriod: Math.ceil((11_000 / 7000) * 3600), limit: 0 },
  ]);
  const [s] = await sessionsOf(scsp, 'cpo-a', uid);
  const view = (await admin(scsp, 'GET', `/api/v1/sessions/${s.id}`)).body;
  assert.equal(view.planInput.departure, '2025-06-03T05:00:00.000Z', '07:00 CEST the next morning');
  assert.equal(view.planInput.departureSource, 'timeOfDay');
  assert.equal(view.planInput.energySource, 'energyNeedWh');
  // Session level: target SoC with battery capacity (the CPO reports SoC 40 %): (80 − 40) % × 50 kWh = 20 kWh.
  assert.equal((await admin(scsp, 'PUT', `/api/v1/sessions/${s.id}/preferences`, { targetSoc: 80, batteryCapacityWh: 50_000, departureAt: '2025-06-02T22:00:00+02:00' })).status, 200);
  await scsp.idle();
  assert.equal((await cpo.event(uid, 'ocpp2.0.1', 'MeterValues', mv201(1, T0, { soc: 40 }))).status, 200);
  await scsp.idle();
  periods = profilesFor(uid).at(-1)!.body.chargingProfile.chargingSchedule[0].chargingSchedulePeriod;
  assert.deepEqual(periods, [
    { startPeriod: 0, limit: 7000 },
    { startPeriod: Math.ceil((20_000 / 7000) * 3600), limit: 0 },
  ]);
  const input = (await admin(scsp, 'GET', `/api/v1/sessions/${s.id}`)).body.planInput;
  assert.deepEqual({ dep: input.departure, src: input.departureSource, need: input.energyNeedWh, e: input.energySource }, { dep: '2025-06-02T20:00:00.000Z', src: 'session', need: 20_000, e: 'targetSoc' });
  // Bad preferences are 400 and change nothing.
  for (const bad of [{ targetSoc: 120 }, { departureAt: 'tomorrow' }, { colour: 'red' }, { timeZone: 'Mars/Olympus' }]) {
    const r = await admin(scsp, 'PUT', `/api/v1/sessions/${s.id}/preferences`, bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
  }
  assert.equal((await admin(scsp, 'PUT', `/api/v1/cpos/cpo-a/stations/${uid}/preferences`, { departureAt: '2025-06-02T22:00:00Z' })).status, 400, 'departureAt is per session');
  assert.deepEqual((await admin(scsp, 'GET', `/api/v1/sessions/${s.id}/preferences`)).body.preferences.targetSoc, 80);
  assert.equal((await admin(scsp, 'DELETE', `/api/v1/sessions/${s.id}/preferences`)).status, 204);
  await scsp.idle();
  assert.equal((await admin(scsp, 'GET', `/api/v1/sessions/nope/preferences`)).status, 404);
});

test('two sessions at one station: the station limit is the sum of their plans', async () => {
  clock.set(T0);
  const uid = 's-two';
  await startSession(uid, { tx: 'tx-two-1', evse: 1 });
  await startSession(uid, { tx: 'tx-two-2', evse: 2, pair: false });
  const last = profilesFor(uid).at(-1)!;
  assert.equal(last.body.chargingProfile.chargingSchedule[0].chargingSchedulePeriod[0].limit, 2 * EVSE_MAX_W);
});

test('site limit: stations of one site share it (water-filled)', async () => {
  clock.set(T0);
  await pairStation(scsp, cpo, 'site-1');
  await pairStation(scsp, cpo, 'site-2');
  const put = await admin(scsp, 'PUT', '/api/v1/sites/depot', { name: 'Depot', maxPowerW: 12_000, stations: [{ cpoId: 'cpo-a', uid: 'site-1' }, { cpoId: 'cpo-a', uid: 'site-2' }] });
  assert.equal(put.status, 201, put.text);
  await startSession('site-1', { pair: false });
  assert.equal(profilesFor('site-1').at(-1)!.body.chargingProfile.chargingSchedule[0].chargingSchedulePeriod[0].limit, EVSE_MAX_W, 'alone it gets its maximum');
  await startSession('site-2', { pair: false });
  const first = (uid: string) => profilesFor(uid).at(-1)!.body.chargingProfile.chargingSchedule[0].chargingSchedulePeriod[0].limit as number;
  assert.equal(first('site-1'), 6000);
  assert.equal(first('site-2'), 6000);
  const conflict = await admin(scsp, 'PUT', '/api/v1/sites/other', { maxPowerW: 5000, stations: [{ cpoId: 'cpo-a', uid: 'site-1' }] });
  assert.equal(conflict.status, 400, 'a station belongs to one site');
  assert.equal((await admin(scsp, 'GET', '/api/v1/sites')).body.data[0].stations.length, 2);
  assert.equal((await admin(scsp, 'DELETE', '/api/v1/sites/depot')).status, 204);
  await scsp.idle();
  assert.equal(first('site-1'), EVSE_MAX_W, 'without the site each station gets its maximum again');
});

test('after a restart, stations with running sessions get a fresh plan; unanswered deliveries are abandoned', async () => {
  const dataDir = tempDir();
  const slowRetries = (c: import('../../src/scsp/config.js').ScspConfig) => ((c.delivery.retryBaseMs = 3_600_000), (c.delivery.retryMaxMs = 3_600_000));
  let s = await startTestScsp({ dataDir, deps: { clock }, tweak: slowRetries });
  const creds = await registerCpo(s, 'cpo-r', { baseUrl: fake.url, cpoToken: fake.token });
  const caller = new CpoCaller(s, creds);
  const statuses = async (x: TestScsp) => ((await admin(x, 'GET', '/api/v1/profile-deliveries?uid=s-restart')).body.data as any[]).map((d) => d.status as string);
  clock.set(T0);
  await pairStation(s, caller, 's-restart');
  fake.profileAnswers.push(503);
  assert.equal((await caller.event('s-restart', 'ocpp2.0.1', 'TransactionEvent', te201({ eventType: 'Started', tx: 'tx-r', seqNo: 0, at: T0, evse: 1, energyWh: 0 }))).status, 200);
  await waitFor(async () => (await statuses(s)).join() === 'retrying', { timeoutMs: 10_000, what: 'plan retrying' });
  await s.stop();
  clock.set(T0 + 3_600_000);
  s = await startTestScsp({ dataDir, deps: { clock } });
  try {
    await s.idle();
    assert.deepEqual(await statuses(s), ['delivered', 'abandoned']);
    const got = profilesFor('s-restart');
    assert.deepEqual(got.map((p) => p.status), [503, 200], 'a fresh plan after the restart');
    assert.equal(got[1]!.body.chargingProfile.chargingSchedule[0].startSchedule, '2025-06-02T19:00:00Z');
    // The CPO's credentials survived the restart (same database).
    const again = new CpoCaller(s, creds);
    assert.equal((await again.post('/v1/scsp/chargingstations/nobody/unpair')).status, 404);
  } finally {
    await s.destroy();
  }
});

test('throttle: at most one re-plan per station per AMPLINE_SCSP_REPLAN_INTERVAL_S; updates in between wait for one trailing run', async () => {
  const s = await startTestScsp({ deps: { clock }, env: { AMPLINE_SCSP_REPLAN_INTERVAL_S: '3600' } });
  try {
    const caller = new CpoCaller(s, await registerCpo(s, 'cpo-t', { baseUrl: fake.url, cpoToken: fake.token }));
    clock.set(T0);
    const uid = 's-throttle';
    await pairStation(s, caller, uid);
    // The pairing planned the (still empty) station at once — the first trigger runs without delay, so
    // idle() resolves — and that run starts the interval.
    await s.idle();
    assert.equal(s.driver.waiting, 0);
    assert.equal((await caller.event(uid, 'ocpp2.0.1', 'TransactionEvent', te201({ eventType: 'Started', tx: 'tx-t', seqNo: 0, at: T0, evse: 1, energyWh: 0 }))).status, 200);
    await waitFor(() => s.driver.waiting === 1, { what: 'the start waits for the interval' });
    for (let i = 1; i <= 3; i++) {
      assert.equal((await caller.event(uid, 'ocpp2.0.1', 'MeterValues', mv201(1, T0 + i * 60_000, { energyWh: i * 100, powerW: 0 }))).status, 200);
    }
    await waitFor(() => s.driver.waiting === 1, { what: 'still one waiting run' });
    assert.equal(profilesFor(uid).length, 0, 'nothing planned within the interval');
  } finally {
    await s.destroy();
  }
});
