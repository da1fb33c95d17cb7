/**
 * OCTT 2.0.1 CSMS smart-charging cases (functional block K) driven through the CSMS's
 * SmartChargingService (`csms.smart`) against simulated charging stations over real WebSockets.
 *
 * Test case ids follow OCPP 2.0.1 Part 6 (OCTT): K_01 TxDefaultProfile on one EVSE, K_02 TxProfile
 * without a transaction, K_03 ChargingStationMaxProfile, K_04 replace by id, K_05/K_06/K_08 clear by id /
 * by stackLevel+purpose / with nothing set, K_10 TxDefaultProfile on all EVSEs, K_15 NotSupported,
 * K_19 Recurring, K_29–K_36 GetChargingProfiles, K_37 remote start with a profile, K_43/K_44 composite on
 * an EVSE / the station, K_53 NotifyEVChargingNeeds, K_60 TxProfile on a running transaction, K_70
 * several profiles; plus ChargingStationExternalConstraints (K01.FR.22, the K_52 report shape) and bad
 * input.
 *
 * Every step asserts what the CSMS sent (recorded on the station side, schema-checked), the station's
 * answer, the CSMS shadow (`csms.smart.installed`) afterwards and, where it matters, the physical effect
 * (the simulated EV's power) and that GetCompositeSchedule agrees with Ampline's prediction.
 *
 * CSMS and simulators share one ManualClock: time only moves when a test advances it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawClient, type RawClient, type TestCsms } from '../helpers/csms.js';
import { waitFor } from '../helpers/wire.js';
import { validatePayload } from '../../src/ocpp/schemas.js';
import { ChargerCallError } from '../../src/ocpp/errors.js';
import { ProfileRejectedError, type ReportCriteria } from '../../src/services/smart-charging.js';
import type { OCPP20 } from 'typed-ocpp';
import type { ViolationCode } from '../../src/smart/validate.js';
import { EV, MIN, W, iso, octtHarness, periodsOf, type Sent, type Spec, type Station } from './harness.js';

// ── harness (test/smart-io/harness.ts) ──────────────────────────────────────────────────────────

const raws: RawClient[] = [];
let csms: TestCsms;
const h = octtHarness('ocpp2.0.1', { started: (c) => (csms = c), cleanup: () => Promise.all(raws.map((c) => c.close({ force: true }))) });
const { clock, now, invalid, recorder, station, charging, power, shadowIds, inSync, compositeAgrees, mk, set, clear } = h;

async function stop(s: Station, evseId: number, tx: string): Promise<void> {
  clock.advance(MIN);
  await s.cp.stopSession(evseId);
  await waitFor(async () => !(await csms.smart.activeTransactions(s.id)).some((t) => t.transactionId === tx), { timeoutMs: 20_000, what: 'transaction ended at the CSMS' });
}

/** The first schedule of a SetChargingProfileRequest, and its first period. */
const sched0 = (req: OCPP20.SetChargingProfileRequest) => req.chargingProfile.chargingSchedule[0];
const period0 = (req: OCPP20.SetChargingProfileRequest) => sched0(req)?.chargingSchedulePeriod[0];

async function refused(s: Station, run: () => Promise<unknown>, code: ViolationCode, why: string = code): Promise<void> {
  const before = s.sent.length;
  await assert.rejects(
    run(),
    (e: unknown) => {
      assert.ok(e instanceof ProfileRejectedError, `${why}: ${String(e)}`);
      const codes = e.violations.map((v) => v.code);
      assert.ok(codes.includes(code), `${why}: expected ${code}, got ${codes.join(', ')}`);
      assert.ok(e.violations.every((v) => v.requirement.length > 0 && v.path.length > 0));
      return true;
    },
    why,
  );
  assert.deepEqual(s.sent.slice(before), [], `${why}: nothing sent`);
}

/** One ReportChargingProfiles message of a multi-part report. */
interface Part {
  evseId: number;
  tbc: boolean;
  ids: number[];
}

/** The ReportChargingProfiles parts a station sent for a request, in order (as the CSMS recorded them). */
async function reportParts(stationId: string, requestId: number): Promise<Part[]> {
  const rows = await csms.db.kysely
    .selectFrom('station_events')
    .select(['payload'])
    .where('station_id', '=', stationId)
    .where('type', '=', 'ReportChargingProfiles')
    .orderBy('id')
    .execute();
  return rows
    .map((r) => JSON.parse(r.payload) as { requestId: number; evseId: number; tbc?: boolean; chargingProfile: Array<{ id: number }> })
    .filter((r) => r.requestId === requestId)
    .map((r) => ({ evseId: r.evseId, tbc: r.tbc ?? false, ids: r.chargingProfile.map((p) => p.id) }));
}

// ── K_01 / K_10 / K_03 / K_70: SetChargingProfile ────────────────────────────────────────────────

for (const unit of ['A', 'W'] as const) {
  test(`TC_K_01 SetChargingProfile TxDefaultProfile on a specific EVSE (limit 6 ${unit === 'A' ? 'A' : 'kW'})`, async () => {
    const s = await station(`O201-K01-${unit}`, { evses: 2 });
    const t0 = now();
    const limit = unit === 'A' ? 6.0 : 6000.0;
    const p = mk({ id: 11, evseId: 1, stackLevel: 1, purpose: 'TxDefaultProfile', validFrom: t0, validTo: t0 + 3600_000, duration: 3600, unit, periods: [[0, limit]] });
    const { req, res } = await set(s, p);
    // OCTT tool validations.
    assert.equal(period0(req)?.numberPhases, undefined, 'numberPhases omitted for 3 phases');
    assert.deepEqual(req, {
      evseId: 1,
      chargingProfile: {
        id: 11,
        stackLevel: 1,
        chargingProfilePurpose: 'TxDefaultProfile',
        chargingProfileKind: 'Absolute',
        validFrom: iso(t0),
        validTo: iso(t0 + 3600_000),
        chargingSchedule: [{ id: 1, startSchedule: iso(t0), duration: 3600, chargingRateUnit: unit, chargingSchedulePeriod: [{ startPeriod: 0, limit }] }],
      },
    });
    assert.deepEqual(res.replaced, []);
    const [rec] = await csms.smart.installed(s.id);
    assert.deepEqual(rec?.profile, p);
    assert.equal(rec?.source, 'api');
    await inSync(s, [11]);
    // Physical effect: only the configured EVSE is limited.
    await charging(s, 1);
    await charging(s, 2);
    await power(s, 1, unit === 'A' ? W(6) : 6000);
    await power(s, 2, 22_000);
    await compositeAgrees(s, 1, 3600, unit);
    await compositeAgrees(s, 1, 3600, unit === 'A' ? 'W' : 'A');
    await compositeAgrees(s, 2, 3600, unit);
  });
}

test('TC_K_10 SetChargingProfile TxDefaultProfile on all EVSEs (evseId 0); an EVSE-specific one overrides it there', async () => {
  const s = await station('O201-K10', { evses: 2 });
  const { req } = await set(s, mk({ id: 10, evseId: 0, stackLevel: 0, purpose: 'TxDefaultProfile', validFrom: now(), validTo: now() + 3600_000, duration: 3600, periods: [[0, 6]] }));
  assert.equal(req.evseId, 0);
  assert.equal(req.chargingProfile.chargingProfilePurpose, 'TxDefaultProfile');
  assert.equal(period0(req)?.startPeriod, 0);
  await charging(s, 1);
  await charging(s, 2);
  await power(s, 1, W(6));
  await power(s, 2, W(6));
  await compositeAgrees(s, 1, 3600, 'A');
  await compositeAgrees(s, 2, 3600, 'W');
  // EVSE 1 gets its own default at the same stack level: no K01.FR.06 conflict (another EVSE).
  await set(s, mk({ id: 12, evseId: 1, stackLevel: 0, purpose: 'TxDefaultProfile', periods: [[0, 10]] }));
  await inSync(s, [10, 12]);
  await power(s, 1, W(10));
  await power(s, 2, W(6));
  await compositeAgrees(s, 1, 3600, 'A');
  await compositeAgrees(s, 2, 3600, 'A');
});

test('TC_K_03 SetChargingProfile ChargingStationMaxProfile on evseId 0 limits every EVSE and the grid composite (TC_K_44)', async () => {
  const s = await station('O201-K03', { evses: 2 });
  await charging(s, 1);
  await charging(s, 2);
  const { req } = await set(s, mk({ id: 30, evseId: 0, purpose: 'ChargingStationMaxProfile', validFrom: now(), validTo: now() + 7200_000, duration: 7200, periods: [[0, 20], [3600, 12]] }));
  assert.equal(req.evseId, 0);
  assert.equal(req.chargingProfile.chargingProfilePurpose, 'ChargingStationMaxProfile');
  assert.equal(req.chargingProfile.chargingProfileKind, 'Absolute');
  assert.equal(req.chargingProfile.transactionId, undefined);
  await inSync(s, [30]);
  await power(s, 1, W(20));
  await power(s, 2, W(20));
  assert.deepEqual(periodsOf(await compositeAgrees(s, 0, 7200, 'A')), [[0, 20], [3600, 12]]);
  assert.deepEqual(periodsOf(await compositeAgrees(s, 0, 7200, 'W')), [[0, W(20)], [3600, W(12)]]);
  assert.deepEqual(periodsOf(await compositeAgrees(s, 1, 7200, 'A')), [[0, 20], [3600, 12]]);
  clock.advance(60 * MIN);
  s.cp.refresh();
  await power(s, 1, W(12));
  await power(s, 2, W(12));
  // K01.FR.38: not Relative.
  await refused(s, () => csms.smart.set(s.id, mk({ id: 31, evseId: 0, purpose: 'ChargingStationMaxProfile', kind: 'Relative', periods: [[0, 20]] })), 'StationMaxRelative');
  await inSync(s, [30]);
});

test('TC_K_70 several profiles: a TxDefaultProfile and then a ChargingStationMaxProfile with another id, the lower wins', async () => {
  const s = await station('O201-K70');
  await charging(s);
  const a = await set(s, mk({ id: 701, evseId: 1, purpose: 'TxDefaultProfile', periods: [[0, 16]] }));
  const b = await set(s, mk({ id: 702, evseId: 0, purpose: 'ChargingStationMaxProfile', periods: [[0, 8]] }));
  assert.notEqual(a.req.chargingProfile.id, b.req.chargingProfile.id);
  for (const r of [a.req, b.req]) {
    assert.ok(sched0(r)?.startSchedule, 'startSchedule present');
    assert.equal(r.chargingProfile.chargingProfileKind, 'Absolute');
  }
  await inSync(s, [701, 702]);
  await power(s, 1, W(8));
  assert.deepEqual(periodsOf(await compositeAgrees(s, 1, 600, 'A')), [[0, 8]]);
  // Lifting the station maximum lets the default through.
  const { res } = await clear(s, { id: 702 });
  assert.deepEqual([res.status, res.removed], ['Accepted', [702]]);
  await power(s, 1, W(16));
  await inSync(s, [701]);
});

// ── K_02 / K_60: TxProfile ─────────────────────────────────────────────────────────────────────

test('TC_K_02 TxProfile without an ongoing transaction on the EVSE: Ampline refuses it before sending (K01.FR.09)', async () => {
  const s = await station('O201-K02', { evses: 2 });
  await refused(s, () => csms.smart.set(s.id, mk({ id: 20, evseId: 1, purpose: 'TxProfile', kind: 'Relative', transactionId: 'no-such-tx', periods: [[0, 6]] })), 'NoActiveTransaction');
  const tx = await charging(s, 1);
  // A transaction elsewhere does not help.
  await refused(s, () => csms.smart.set(s.id, mk({ id: 20, evseId: 2, purpose: 'TxProfile', kind: 'Relative', transactionId: tx, periods: [[0, 6]] })), 'NoActiveTransaction');
  await inSync(s, []);
});

const k60: Array<{ kind: 'Absolute' | 'Relative'; spec: (tx: string) => Spec; first: number; later: [number, number] }> = [
  {
    kind: 'Relative',
    spec: (tx) => ({ id: 60, evseId: 1, stackLevel: 1, purpose: 'TxProfile', kind: 'Relative', transactionId: tx, periods: [[0, 10], [1800, 6]] }),
    first: W(10),
    // Relative to the transaction start, 10 minutes before the profile.
    later: [20, W(6)],
  },
  {
    kind: 'Absolute',
    spec: (tx) => ({ id: 61, evseId: 1, stackLevel: 1, purpose: 'TxProfile', transactionId: tx, unit: 'W', duration: 3600, periods: [[0, 9000], [600, 5000]] }),
    first: 9000,
    later: [10, 5000],
  },
];

for (const c of k60) {
  test(`TC_K_60 TxProfile (${c.kind}) for the ongoing transaction on the EVSE; it ends with the transaction`, async () => {
    const s = await station(`O201-K60-${c.kind}`);
    await set(s, mk({ id: 1, evseId: 0, purpose: 'TxDefaultProfile', periods: [[0, 16]] }));
    const tx = await charging(s);
    await power(s, 1, W(16));
    clock.advance(10 * MIN);
    const p = mk(c.spec(tx));
    const { req } = await set(s, p);
    // K01.FR.03: the transactionId; K01.FR.31: first startPeriod 0.
    assert.equal(req.evseId, 1);
    assert.equal(req.chargingProfile.chargingProfilePurpose, 'TxProfile');
    assert.equal(req.chargingProfile.transactionId, tx);
    assert.equal(period0(req)?.startPeriod, 0);
    assert.equal(sched0(req)?.startSchedule === undefined, c.kind === 'Relative');
    await inSync(s, [1, p.id]);
    assert.equal(s.cp.chargingProfiles().find((x) => x.id === p.id)?.transactionId, tx);
    await power(s, 1, c.first);
    await compositeAgrees(s, 1, 3600, 'A');
    await compositeAgrees(s, 1, 3600, 'W');
    clock.advance(c.later[0] * MIN);
    s.cp.refresh();
    await power(s, 1, c.later[1]);
    await compositeAgrees(s, 1, 600, 'W');
    // A second TxProfile with the same stack level for the same transaction is a K01.FR.39 conflict.
    await refused(s, () => csms.smart.set(s.id, mk({ ...c.spec(tx), id: p.id + 100 })), 'StackLevelConflict');
    await stop(s, 1, tx);
    await waitFor(async () => (await shadowIds(s.id)).join() === '1', { timeoutMs: 10_000, what: 'TxProfile dropped with its transaction' });
    await inSync(s, [1]);
  });
}

// ── K_04: replace ──────────────────────────────────────────────────────────────────────────────

test('TC_K_04 replace a charging profile with the same id (limit 8 then 6); another id at the same stack level is a conflict', async () => {
  const s = await station('O201-K04');
  await charging(s);
  const base: Spec = { id: 40, evseId: 1, stackLevel: 1, purpose: 'TxDefaultProfile', periods: [[0, 8]] };
  const first = await set(s, mk(base));
  await power(s, 1, W(8));
  clock.advance(MIN);
  const second = await set(s, mk({ ...base, periods: [[0, 6]] }));
  assert.deepEqual(second.res.replaced, [], 'the same id replaces itself; nothing else goes');
  for (const [r, limit] of [[first.req, 8], [second.req, 6]] as const) {
    const sched = sched0(r);
    assert.equal(r.chargingProfile.id, 40);
    assert.equal(r.chargingProfile.stackLevel, 1);
    assert.equal(r.chargingProfile.chargingProfilePurpose, 'TxDefaultProfile');
    assert.equal(r.chargingProfile.chargingProfileKind, 'Absolute');
    assert.equal(r.chargingProfile.recurrencyKind, undefined);
    assert.ok(sched?.startSchedule);
    assert.deepEqual(sched?.chargingSchedulePeriod, [{ startPeriod: 0, limit }]);
  }
  const shadow = await csms.smart.installed(s.id);
  assert.equal(shadow.length, 1);
  assert.equal(shadow[0]?.profile.chargingSchedule[0]?.chargingSchedulePeriod[0]?.limit, 6);
  await inSync(s, [40]);
  assert.equal(s.cp.chargingProfiles()[0]?.schedule.periods[0]?.limit, 6);
  await power(s, 1, W(6));
  await compositeAgrees(s, 1, 600, 'A');
  // K01.FR.06: a different id with the same stackLevel + purpose on the same EVSE.
  await refused(s, () => csms.smart.set(s.id, mk({ ...base, id: 41 })), 'StackLevelConflict');
  await inSync(s, [40]);
});

// ── K_05 / K_06 / K_08: clear ──────────────────────────────────────────────────────────────────

test('TC_K_05 clear with only a chargingProfileId learned from a GetChargingProfiles report', async () => {
  const s = await station('O201-K05');
  // Installed behind the service's back (raw command): the shadow does not know it yet.
  const raw = {
    evseId: 0,
    chargingProfile: {
      id: 777,
      stackLevel: 2,
      chargingProfilePurpose: 'ChargingStationMaxProfile',
      chargingProfileKind: 'Absolute',
      chargingSchedule: [{ id: 1, startSchedule: iso(now()), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }] }],
    },
  };
  assert.equal((await csms.commands.send(s.id, 'SetChargingProfile', raw)).status, 'Accepted');
  assert.deepEqual(await shadowIds(s.id), []);
  // Memory state: GetChargingProfiles → ReportChargingProfiles.
  const rep = await csms.smart.report(s.id, { purpose: 'ChargingStationMaxProfile' });
  assert.equal(rep.status, 'Accepted');
  assert.deepEqual(rep.profiles.map((r) => [r.evseId, r.source, r.profile.id]), [[0, 'CSO', 777]]);
  const [learned] = await csms.smart.installed(s.id);
  assert.deepEqual([learned?.profile.id, learned?.source], [777, 'station']);
  const { res, req } = await clear(s, { id: learned!.profile.id });
  assert.deepEqual(req, { chargingProfileId: 777 }, 'chargingProfileCriteria omitted');
  assert.deepEqual([res.status, res.removed], ['Accepted', [777]]);
  await inSync(s, []);
});

test('TC_K_06 clear with an evseId / stackLevel / purpose combination matching one profile', async () => {
  const s = await station('O201-K06', { evses: 2 });
  await charging(s, 1);
  await set(s, mk({ id: 61, evseId: 1, stackLevel: 2, purpose: 'TxDefaultProfile', periods: [[0, 8]] }));
  await set(s, mk({ id: 62, evseId: 1, stackLevel: 1, purpose: 'TxDefaultProfile', periods: [[0, 12]] }));
  await set(s, mk({ id: 63, evseId: 2, stackLevel: 2, purpose: 'TxDefaultProfile', periods: [[0, 8]] }));
  await power(s, 1, W(8));
  const { res, req } = await clear(s, { evseId: 1, purpose: 'TxDefaultProfile', stackLevel: 2 });
  assert.deepEqual(req, { chargingProfileCriteria: { evseId: 1, chargingProfilePurpose: 'TxDefaultProfile', stackLevel: 2 } }, 'no chargingProfileId');
  assert.deepEqual([res.status, res.removed], ['Accepted', [61]]);
  await inSync(s, [62, 63]);
  await power(s, 1, W(12));
  await compositeAgrees(s, 1, 600, 'A');
});

test('TC_K_08 clear without a previous charging profile: Unknown, the shadow is unchanged', async () => {
  const s = await station('O201-K08');
  const { res, req } = await clear(s, { evseId: 1, purpose: 'TxDefaultProfile', stackLevel: 0 });
  assert.deepEqual(req, { chargingProfileCriteria: { evseId: 1, chargingProfilePurpose: 'TxDefaultProfile', stackLevel: 0 } });
  assert.deepEqual([res.status, res.removed], ['Unknown', []]);
  // A profile elsewhere is not touched by a non-matching clear.
  await set(s, mk({ id: 80, evseId: 0, purpose: 'TxDefaultProfile', periods: [[0, 10]] }));
  const again = await clear(s, { evseId: 1, purpose: 'TxDefaultProfile', stackLevel: 0 });
  assert.deepEqual([again.res.status, again.res.removed], ['Unknown', []]);
  await inSync(s, [80]);
  const all = await clear(s, {});
  assert.deepEqual([all.req, all.res.status, all.res.removed], [{}, 'Accepted', [80]]);
  await inSync(s, []);
});

// ── K_15: NotSupported ─────────────────────────────────────────────────────────────────────────

test('TC_K_15 a station without smart charging answers NotSupported: the caller gets the CALLERROR, the shadow stays empty', async () => {
  const s = await station('O201-K15');
  const rec = recorder(s.id, s.sent);
  s.cp.setResponder((action, payload) => {
    rec(action, payload);
    return action === 'SetChargingProfile' ? { error: { code: 'NotSupported', description: 'no smart charging' } } : undefined;
  });
  const before = s.sent.length;
  await assert.rejects(csms.smart.set(s.id, mk({ id: 15, evseId: 1, purpose: 'TxDefaultProfile', periods: [[0, 6]] })), (e: unknown) => e instanceof ChargerCallError && e.code === 'NotSupported');
  assert.deepEqual(s.sent.slice(before).map((c) => c.action), ['SetChargingProfile']);
  await inSync(s, []);
});

// ── K_19: Recurring ────────────────────────────────────────────────────────────────────────────

test('TC_K_19 Recurring Daily TxDefaultProfile: yesterday\'s occurrence applies before today\'s start; the EV follows the day', async () => {
  const s = await station('O201-K19');
  const noon = Date.parse('2025-03-03T12:00:00Z');
  clock.set(Date.parse('2025-03-03T10:00:00Z'));
  // 12:00–18:00 16 A, 18:00–12:00 8 A, every day.
  const spec: Spec = { id: 19, evseId: 1, stackLevel: 1, purpose: 'TxDefaultProfile', kind: 'Recurring', recurrencyKind: 'Daily', startSchedule: noon, periods: [[0, 16], [6 * 3600, 8]] };
  const p = mk(spec);
  const { req } = await set(s, p);
  assert.equal(req.evseId, 1);
  assert.equal(req.chargingProfile.chargingProfileKind, 'Recurring');
  assert.equal(req.chargingProfile.recurrencyKind, 'Daily');
  assert.equal(sched0(req)?.startSchedule, iso(noon));
  assert.equal(period0(req)?.startPeriod, 0);
  await inSync(s, [19]);
  await charging(s);
  await power(s, 1, W(8)); // 10:00: yesterday's 18:00–12:00 period
  assert.deepEqual(periodsOf(await compositeAgrees(s, 1, 86_400, 'A')), [[0, 8], [7200, 16], [28_800, 8]]);
  clock.set(Date.parse('2025-03-03T13:00:00Z'));
  s.cp.refresh();
  await power(s, 1, W(16));
  assert.deepEqual(periodsOf(await compositeAgrees(s, 1, 86_400, 'W')), [[0, W(16)], [18_000, W(8)], [82_800, W(16)]]);
  clock.set(Date.parse('2025-03-04T11:30:00Z')); // next day, still before noon
  s.cp.refresh();
  await power(s, 1, W(8));
  await compositeAgrees(s, 1, 3600, 'A');
  // Without recurrencyKind it is refused before sending.
  const { recurrencyKind: _, ...noKind } = spec;
  await refused(s, () => csms.smart.set(s.id, mk({ ...noKind, id: 20, stackLevel: 2 })), 'RecurringWithoutRecurrencyKind');
});

// ── K_29–K_36: GetChargingProfiles ─────────────────────────────────────────────────────────────

test('TC_K_29..TC_K_36 GetChargingProfiles variants: the exact request, the multi-part report collected, the shadow kept', async () => {
  const s = await station('O201-K29', { evses: 2 });
  const tx = await charging(s, 1);
  const installed = [
    mk({ id: 1, evseId: 0, stackLevel: 0, purpose: 'ChargingStationMaxProfile', periods: [[0, 32]] }),
    mk({ id: 2, evseId: 0, stackLevel: 1, purpose: 'TxDefaultProfile', periods: [[0, 16]] }),
    mk({ id: 3, evseId: 1, stackLevel: 2, purpose: 'TxDefaultProfile', periods: [[0, 14]] }),
    mk({ id: 4, evseId: 2, stackLevel: 1, purpose: 'TxDefaultProfile', periods: [[0, 12]] }),
    mk({ id: 5, evseId: 1, stackLevel: 1, purpose: 'TxProfile', kind: 'Relative', transactionId: tx, periods: [[0, 10]] }),
  ];
  for (const p of installed) await set(s, p);
  const shadowBefore = await csms.smart.installed(s.id);
  assert.deepEqual(shadowBefore.map((r) => r.source), ['api', 'api', 'api', 'api', 'api']);
  const who = (rs: typeof shadowBefore) => rs.map((r) => ({ profile: r.profile, source: r.source }));

  const TxDefault = 'TxDefaultProfile' as const;
  const cases: Array<{ tc: string; criteria: ReportCriteria; wire: Omit<OCPP20.GetChargingProfilesRequest, 'requestId'>; status: string; parts: Part[] }> = [
    {
      tc: 'TC_K_29 evseId 0',
      criteria: { evseId: 0, purpose: TxDefault },
      wire: { evseId: 0, chargingProfile: { chargingProfilePurpose: TxDefault } },
      status: 'Accepted',
      parts: [{ evseId: 0, tbc: false, ids: [2] }],
    },
    {
      tc: 'TC_K_30 evseId > 0',
      criteria: { evseId: 1, purpose: TxDefault },
      wire: { evseId: 1, chargingProfile: { chargingProfilePurpose: TxDefault } },
      status: 'Accepted',
      parts: [{ evseId: 1, tbc: false, ids: [3] }],
    },
    {
      tc: 'TC_K_31 no evseId: one part per EVSE, all but the last with tbc',
      criteria: { purpose: TxDefault },
      wire: { chargingProfile: { chargingProfilePurpose: TxDefault } },
      status: 'Accepted',
      parts: [
        { evseId: 0, tbc: true, ids: [2] },
        { evseId: 1, tbc: true, ids: [3] },
        { evseId: 2, tbc: false, ids: [4] },
      ],
    },
    {
      tc: 'TC_K_32 by chargingProfileId',
      criteria: { ids: [1, 5] },
      wire: { chargingProfile: { chargingProfileId: [1, 5] } },
      status: 'Accepted',
      parts: [
        { evseId: 0, tbc: true, ids: [1] },
        { evseId: 1, tbc: false, ids: [5] },
      ],
    },
    {
      tc: 'TC_K_33 evseId + stackLevel',
      criteria: { evseId: 1, stackLevel: 1 },
      wire: { evseId: 1, chargingProfile: { stackLevel: 1 } },
      status: 'Accepted',
      parts: [{ evseId: 1, tbc: false, ids: [5] }],
    },
    {
      tc: 'TC_K_34 evseId + chargingLimitSource',
      criteria: { evseId: 1, sources: ['CSO'] },
      wire: { evseId: 1, chargingProfile: { chargingLimitSource: ['CSO'] } },
      status: 'Accepted',
      parts: [{ evseId: 1, tbc: false, ids: [3, 5] }],
    },
    {
      tc: 'TC_K_34 a source without profiles',
      criteria: { evseId: 1, sources: ['EMS'] },
      wire: { evseId: 1, chargingProfile: { chargingLimitSource: ['EMS'] } },
      status: 'NoProfiles',
      parts: [],
    },
    {
      tc: 'TC_K_35 evseId + purpose',
      criteria: { evseId: 1, purpose: 'TxProfile' },
      wire: { evseId: 1, chargingProfile: { chargingProfilePurpose: 'TxProfile' } },
      status: 'Accepted',
      parts: [{ evseId: 1, tbc: false, ids: [5] }],
    },
    {
      tc: 'TC_K_36 evseId + purpose + stackLevel',
      criteria: { evseId: 1, purpose: TxDefault, stackLevel: 2 },
      wire: { evseId: 1, chargingProfile: { chargingProfilePurpose: TxDefault, stackLevel: 2 } },
      status: 'Accepted',
      parts: [{ evseId: 1, tbc: false, ids: [3] }],
    },
    {
      tc: 'nothing matches',
      criteria: { evseId: 2, purpose: 'TxProfile' },
      wire: { evseId: 2, chargingProfile: { chargingProfilePurpose: 'TxProfile' } },
      status: 'NoProfiles',
      parts: [],
    },
  ];
  const byId = new Map(shadowBefore.map((r) => [r.profile.id, r.profile]));
  for (const c of cases) {
    const before = s.sent.length;
    const rep = await csms.smart.report(s.id, c.criteria);
    const calls = s.sent.slice(before);
    assert.equal(calls.length, 1, c.tc);
    const { requestId, ...rest } = calls[0]!.payload as OCPP20.GetChargingProfilesRequest;
    assert.equal(calls[0]!.action, 'GetChargingProfiles');
    assert.ok(Number.isInteger(requestId), c.tc);
    assert.deepEqual(rest, c.wire, c.tc);
    assert.equal(rep.status, c.status, c.tc);
    // Every part was collected before report() returned.
    assert.deepEqual(await reportParts(s.id, requestId), c.parts, c.tc);
    const want = c.parts.flatMap((part) => part.ids.map((id) => [part.evseId, id]));
    assert.deepEqual(rep.profiles.map((r) => [r.evseId, r.profile.id]), want, c.tc);
    // The station reports exactly what Ampline installed.
    for (const r of rep.profiles) assert.deepEqual(r.profile, byId.get(r.profile.id), `${c.tc}: profile ${r.profile.id}`);
    assert.ok(rep.profiles.every((r) => r.source === 'CSO'));
    // A report refreshes the shadow; it does not lose track of who installed what.
    assert.deepEqual(who(await csms.smart.installed(s.id)), who(shadowBefore), c.tc);
  }
});

test('GetChargingProfiles without criteria reconciles the shadow with the station (drift both ways), keeping sources', async () => {
  const s = await station('O201-DRIFT', { evses: 2 });
  await set(s, mk({ id: 1, evseId: 0, purpose: 'TxDefaultProfile', periods: [[0, 16]] }));
  await set(s, mk({ id: 2, evseId: 1, stackLevel: 1, purpose: 'TxDefaultProfile', periods: [[0, 10]] }));
  // Behind the service's back: profile 2 is cleared and the management limit (id 100) appears.
  assert.equal((await csms.commands.send(s.id, 'ClearChargingProfile', { chargingProfileId: 2 })).status, 'Accepted');
  assert.equal((await csms.commands.setChargingLimit(s.id, 2, 11_000, 'W')).status, 'Accepted');
  assert.deepEqual(await shadowIds(s.id), [1, 2]);
  const rep = await csms.smart.report(s.id, {});
  assert.equal(rep.status, 'Accepted');
  assert.deepEqual(rep.profiles.map((r) => [r.evseId, r.profile.id]), [[0, 1], [2, 100]]);
  const shadow = await csms.smart.installed(s.id);
  assert.deepEqual(shadow.map((r) => [r.profile.id, r.source]), [[1, 'api'], [100, 'station']]);
  await inSync(s, [1, 100]);
  await charging(s, 2);
  await power(s, 2, 11_000);
  await compositeAgrees(s, 2, 600, 'W');
  // Nothing installed any more: NoProfiles empties the shadow.
  await clear(s, {});
  assert.equal((await csms.smart.report(s.id, {})).status, 'NoProfiles');
  await inSync(s, []);
});

// ── K_37: remote start with a profile ──────────────────────────────────────────────────────────

test('TC_K_37 RequestStartTransaction with a TxProfile: bound to the new transaction in the shadow, followed by the EV', async () => {
  const s = await station('O201-K37', { evses: 2 });
  await s.cp.plugIn(2, 1, EV);
  const p = mk({ id: 37, evseId: 2, stackLevel: 1, purpose: 'TxProfile', kind: 'Relative', periods: [[0, 12], [3600, 6]] });
  const before = s.sent.length;
  const res = await csms.smart.remoteStartWithProfile(s.id, 2, 'RS-K37', p);
  assert.equal(res.status, 'Accepted');
  const calls = s.sent.slice(before);
  assert.deepEqual(calls.map((c) => c.action), ['RequestStartTransaction']);
  const { remoteStartId, ...req } = calls[0]!.payload as OCPP20.RequestStartTransactionRequest;
  assert.ok(Number.isInteger(remoteStartId));
  assert.equal(req.chargingProfile?.transactionId, undefined, 'transactionId omitted');
  assert.deepEqual(req, {
    evseId: 2,
    idToken: { idToken: 'RS-K37', type: 'ISO14443' },
    chargingProfile: {
      id: 37,
      stackLevel: 1,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Relative',
      chargingSchedule: [{ id: 1, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 12 }, { startPeriod: 3600, limit: 6 }] }],
    },
  });
  const tx = await waitFor(async () => (await csms.smart.activeTransactions(s.id)).find((t) => t.evseId === 2), { timeoutMs: 20_000, what: 'the remotely started transaction' });
  assert.equal(tx.transactionId, s.cp.evse(2).transaction?.id);
  const rec = await waitFor(async () => (await csms.smart.installed(s.id)).find((r) => r.profile.transactionId === tx.transactionId), {
    timeoutMs: 10_000,
    what: 'the profile bound to the transaction in the shadow',
  });
  assert.deepEqual([rec.source, rec.profile.evseId, rec.profile.id], ['remote-start', 2, 37]);
  await waitFor(() => s.cp.chargingProfiles()[0]?.transactionId === tx.transactionId, { timeoutMs: 10_000, what: 'profile on the station' });
  await inSync(s, [37]);
  await power(s, 2, W(12));
  assert.deepEqual(periodsOf(await compositeAgrees(s, 2, 7200, 'A')), [[0, 12], [3600, 6]]);
  // Now a TxProfile can be set for that transaction like any other (same id replaces, K01.FR.05).
  await set(s, mk({ id: 37, evseId: 2, stackLevel: 1, purpose: 'TxProfile', kind: 'Relative', transactionId: tx.transactionId, periods: [[0, 8]] }));
  await power(s, 2, W(8));
  await inSync(s, [37]);
  await stop(s, 2, tx.transactionId);
  await waitFor(async () => (await shadowIds(s.id)).length === 0, { timeoutMs: 10_000, what: 'TxProfile dropped with its transaction' });
  await inSync(s, []);
});

test('TC_K_37: a remote start that never becomes a transaction does not lend its profile to the next one', async () => {
  const s = await station('O201-K37-NOTX');
  const t = clock.now().toISOString();
  await csms.db.kysely
    .insertInto('id_tokens')
    .values({ id_token: 'BLOCKED-K37', type: 'ISO14443', status: 'Blocked', group_id: null, parent_id_tag: null, expiry_date: null, created_at: t, updated_at: t })
    .execute();
  await s.cp.plugIn(1, 1, EV);
  // Accepted, then the station's Authorize of the token fails (AuthorizeRemoteStart): no transaction.
  const res = await csms.smart.remoteStartWithProfile(s.id, 1, 'BLOCKED-K37', mk({ id: 371, evseId: 1, purpose: 'TxProfile', kind: 'Relative', periods: [[0, 6]] }));
  assert.equal(res.status, 'Accepted');
  await waitFor(() => s.logs.some((l) => l.includes('remote start failed')), { timeoutMs: 10_000, what: 'the remote start to fail at the station' });
  assert.equal(s.cp.evse(1).transaction, undefined);
  assert.deepEqual(await shadowIds(s.id), [371], 'recorded, waiting for its transaction');
  clock.advance(5 * MIN);
  const tx = await charging(s);
  await power(s, 1, 22_000);
  await waitFor(async () => (await shadowIds(s.id)).length === 0, { timeoutMs: 10_000, what: 'the stale remote-start profile dropped' });
  assert.ok(!(await csms.smart.installed(s.id)).some((r) => r.profile.transactionId === tx));
  await inSync(s, []);
  await compositeAgrees(s, 1, 600, 'A');
});

test('concurrent set calls for one station are validated one after the other (K01.FR.06 holds under concurrency)', async () => {
  const s = await station('O201-SERIAL');
  await charging(s);
  const a = mk({ id: 501, evseId: 1, stackLevel: 3, purpose: 'TxDefaultProfile', periods: [[0, 10]] });
  const b = mk({ id: 502, evseId: 1, stackLevel: 3, purpose: 'TxDefaultProfile', periods: [[0, 12]] });
  const before = s.sent.length;
  const [ra, rb] = await Promise.allSettled([csms.smart.set(s.id, a), csms.smart.set(s.id, b)]);
  assert.equal(ra.status === 'fulfilled' && ra.value.status, 'Accepted');
  assert.ok(rb.status === 'rejected' && rb.reason instanceof ProfileRejectedError && rb.reason.violations.some((v) => v.code === 'StackLevelConflict'));
  assert.deepEqual(s.sent.slice(before).map((c) => [c.action, (c.payload as OCPP20.SetChargingProfileRequest).chargingProfile.id]), [['SetChargingProfile', 501]]);
  await inSync(s, [501]);
  await power(s, 1, W(10));
});

// ── K_43 / K_44: GetCompositeSchedule ─────────────────────────────────────────────────────────

test('TC_K_43 / TC_K_44 GetCompositeSchedule on an EVSE and on EVSE 0, in A and W, equal to the prediction', async () => {
  const s = await station('O201-K43', { evses: 2 });
  await set(s, mk({ id: 1, evseId: 0, purpose: 'ChargingStationMaxProfile', periods: [[0, 20]] }));
  await set(s, mk({ id: 2, evseId: 1, purpose: 'TxDefaultProfile', duration: 1800, periods: [[0, 10], [300, 25]] }));
  await charging(s, 1);
  const cases: Array<{ tc: string; evseId: number; unit: 'A' | 'W' | undefined; periods: Array<[number, number]> }> = [
    // TxDefault 10 A, then 25 A capped at the 20 A maximum; after its duration only the maximum is left.
    { tc: 'TC_K_43 A', evseId: 1, unit: 'A', periods: [[0, 10], [300, 20]] },
    { tc: 'TC_K_43 W', evseId: 1, unit: 'W', periods: [[0, W(10)], [300, W(20)]] },
    { tc: 'TC_K_43 station unit', evseId: 1, unit: undefined, periods: [[0, 10], [300, 20]] },
    { tc: 'TC_K_43 another EVSE', evseId: 2, unit: 'A', periods: [[0, 20]] },
    { tc: 'TC_K_44 A', evseId: 0, unit: 'A', periods: [[0, 20]] },
    { tc: 'TC_K_44 W', evseId: 0, unit: 'W', periods: [[0, W(20)]] },
    { tc: 'TC_K_44 station unit', evseId: 0, unit: undefined, periods: [[0, W(20)]] }, // the grid connection answers in W
  ];
  for (const { tc, evseId, unit, periods } of cases) {
    const res = await compositeAgrees(s, evseId, 3600, unit);
    assert.deepEqual(periodsOf(res), periods, tc);
    assert.equal(res.schedule?.scheduleStart, now(), tc);
  }
  await power(s, 1, W(10));
  // Refused before sending: unknown EVSE, duration not positive.
  const before = s.sent.length;
  await assert.rejects(csms.smart.composite(s.id, 3, 300, 'A'), (e: unknown) => e instanceof ProfileRejectedError && e.violations[0]?.code === 'EvseUnknown');
  await assert.rejects(csms.smart.composite(s.id, 1, -5, 'W'), (e: unknown) => e instanceof ProfileRejectedError && e.violations[0]?.code === 'DurationInvalid');
  assert.deepEqual(s.sent.slice(before), []);
});

// ── K_53: NotifyEVChargingNeeds ───────────────────────────────────────────────────────────────

/** A bare 2.0.1 station (no simulator logic) for messages the simulator does not send. */
async function bareStation(id: string, answer: (method: string, params: unknown) => unknown): Promise<{ cli: RawClient; calls: Sent[] }> {
  const cli = await rawClient(csms, id, 'ocpp2.0.1');
  raws.push(cli);
  const calls: Sent[] = [];
  cli.handle(({ method, params }) => {
    const v = validatePayload('ocpp2.0.1', method, 'req', params);
    if (!v.ok) invalid.push(`${id} ${method}: ${v.message}`);
    calls.push({ action: method, payload: params });
    return answer(method, params);
  });
  const boot = (await cli.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'Bare', vendorName: 'Ampline tests' } })) as { status: string };
  assert.equal(boot.status, 'Accepted');
  await cli.call('StatusNotification', { timestamp: iso(now()), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
  // Capability discovery now, so that later steps send exactly the calls under test.
  await csms.smart.capabilities(id, 'ocpp2.0.1');
  assert.deepEqual(calls.map((c) => c.action), ['GetVariables']);
  calls.length = 0;
  return { cli, calls };
}

/** GetVariables answer of a station that knows none of the variables (Ampline then uses its defaults). */
function unknownVariables(params: unknown): OCPP20.GetVariablesResponse {
  return {
    getVariableResult: (params as OCPP20.GetVariablesRequest).getVariableData.map((d) => ({ attributeStatus: 'UnknownVariable', component: d.component, variable: d.variable })),
  };
}

test('TC_K_53 NotifyEVChargingNeeds: answered Rejected (no EV schedule computed yet), the needs are kept on the transaction, nothing is sent', async () => {
  const id = 'O201-K53';
  const { cli, calls } = await bareStation(id, (m, p) => (m === 'GetVariables' ? unknownVariables(p) : undefined));
  await cli.call('TransactionEvent', {
    eventType: 'Started',
    timestamp: iso(now()),
    triggerReason: 'CablePluggedIn',
    seqNo: 0,
    transactionInfo: { transactionId: 'K53-TX', chargingState: 'EVConnected' },
    evse: { id: 1, connectorId: 1 },
  });
  const needs = {
    requestedEnergyTransfer: 'AC_three_phase',
    departureTime: iso(now() + 4 * 3600_000),
    acChargingParameters: { energyAmount: 30_000, evMinCurrent: 6, evMaxCurrent: 32, evMaxVoltage: 400 },
  };
  const res = (await cli.call('NotifyEVChargingNeeds', { evseId: 1, chargingNeeds: needs, maxScheduleTuples: 3 })) as { status: string };
  assert.deepEqual(res, { status: 'Rejected' });
  const row = await csms.db.kysely.selectFrom('transactions').select(['charging_needs']).where('station_id', '=', id).where('ocpp_tx_id', '=', 'K53-TX').executeTakeFirstOrThrow();
  assert.deepEqual(JSON.parse(row.charging_needs ?? 'null'), needs);
  const ev = await csms.db.kysely.selectFrom('station_events').select(['payload']).where('station_id', '=', id).where('type', '=', 'NotifyEVChargingNeeds').execute();
  assert.equal(ev.length, 1);
  assert.deepEqual(calls, [], 'no SetChargingProfile follows (TC_K_53 expects Accepted/Processing and a TxProfile)');
  assert.deepEqual(await shadowIds(id), []);
});

// ── ChargingStationExternalConstraints ────────────────────────────────────────────────────────

test('ChargingStationExternalConstraints: reported by the station (source EMS), never set or cleared by the CSMS (K01.FR.22)', async () => {
  const id = 'O201-EXT';
  const external = {
    id: 900,
    stackLevel: 0,
    chargingProfilePurpose: 'ChargingStationExternalConstraints',
    chargingProfileKind: 'Absolute',
    chargingSchedule: [{ id: 1, startSchedule: iso(now()), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 12 }] }],
  };
  let cli: RawClient | undefined;
  const { calls } = await bareStation(id, (method, params) => {
    if (method === 'GetVariables') return unknownVariables(params);
    if (method === 'GetChargingProfiles') {
      // K_52 shape: the EMS limit is reported with chargingLimitSource EMS, after the answer.
      const { requestId } = params as OCPP20.GetChargingProfilesRequest;
      setImmediate(() => void cli?.call('ReportChargingProfiles', { requestId, chargingLimitSource: 'EMS', evseId: 0, chargingProfile: [external] }));
      return { status: 'Accepted' };
    }
    if (method === 'ClearChargingProfile') return { status: 'Accepted' };
    return undefined;
  });
  cli = raws[raws.length - 1];
  const rep = await csms.smart.report(id, { sources: ['EMS'] });
  assert.equal(rep.status, 'Accepted');
  assert.deepEqual(rep.profiles.map((r) => [r.evseId, r.source, r.profile.id]), [[0, 'EMS', 900]]);
  const [rec] = await csms.smart.installed(id);
  assert.deepEqual([rec?.profile.id, rec?.profile.chargingProfilePurpose, rec?.source], [900, 'ChargingStationExternalConstraints', 'external:EMS']);
  // Ampline's prediction includes the external limit.
  const predicted = await csms.smart.predictComposite(id, 1, 600, 'A');
  assert.deepEqual(predicted.chargingSchedulePeriod.map((p) => [p.startPeriod, p.limit]), [[0, 12]]);

  const n = calls.length;
  const refusedHere = async (run: () => Promise<unknown>, why: string) => {
    await assert.rejects(run(), (e: unknown) => e instanceof ProfileRejectedError && e.violations.some((v) => v.code === 'ExternalConstraintsByCsms'), why);
  };
  await refusedHere(() => csms.smart.set(id, mk({ id: 901, evseId: 0, purpose: 'ChargingStationExternalConstraints', periods: [[0, 10]] })), 'set');
  await refusedHere(() => csms.smart.clear(id, { purpose: 'ChargingStationExternalConstraints' }), 'clear by purpose');
  await refusedHere(() => csms.smart.clear(id, { id: 900 }), 'clear by the id of an external profile');
  assert.equal(calls.length, n, 'nothing sent');
  // Clearing everything the CSMS set leaves the external constraint in the shadow.
  const all = await csms.smart.clear(id, {});
  assert.deepEqual([all.status, all.removed], ['Accepted', []]);
  assert.deepEqual(calls.slice(n).map((c) => [c.action, c.payload]), [['ClearChargingProfile', {}]]);
  assert.deepEqual(await shadowIds(id), [900]);
});

// ── bad input ───────────────────────────────────────────────────────────────────────────────────

test('2.0.1 capabilities are read from SmartChargingCtrlr', async () => {
  const s = await station('O201-CAPS', {
    config: { 'SmartChargingCtrlr.RateUnit': 'A', 'SmartChargingCtrlr.ProfileStackLevel': '3', 'SmartChargingCtrlr.PeriodsPerSchedule': '4' },
  });
  assert.deepEqual(s.sent, [
    {
      action: 'GetVariables',
      payload: {
        getVariableData: [
          { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'RateUnit' } },
          { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'ProfileStackLevel' } },
          { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'PeriodsPerSchedule' } },
          { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'Entries', instance: 'ChargingProfiles' } },
          { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'ACPhaseSwitchingSupported' } },
        ],
      },
    },
  ]);
  assert.deepEqual(await csms.smart.capabilities(s.id, 'ocpp2.0.1'), { rateUnits: ['A'], maxStackLevel: 3, maxPeriodsPerSchedule: 4, maxProfilesInstalled: 16, phaseSwitching: false });
});

test('2.0.1 bad input: K01 rules and station limits are checked before anything is sent', async () => {
  const s = await station('O201-BAD', {
    evses: 2,
    config: { 'SmartChargingCtrlr.RateUnit': 'A', 'SmartChargingCtrlr.ProfileStackLevel': '3', 'SmartChargingCtrlr.PeriodsPerSchedule': '4' },
  });
  const tx = await charging(s, 1);
  await set(s, mk({ id: 1, evseId: 1, stackLevel: 1, purpose: 'TxDefaultProfile', periods: [[0, 16]] }));
  const ok: Spec = { id: 90, evseId: 1, purpose: 'TxDefaultProfile', periods: [[0, 10]] };
  const cases: Array<{ why: string; spec: Spec; code: ViolationCode }> = [
    { why: 'stack level above ProfileStackLevel', spec: { ...ok, stackLevel: 4 }, code: 'StackLevelOutOfRange' },
    { why: 'more periods than PeriodsPerSchedule', spec: { ...ok, periods: [[0, 10], [60, 11], [120, 12], [180, 13], [240, 14]] }, code: 'TooManyPeriods' },
    { why: 'W when RateUnit is A only (K01.FR.26)', spec: { ...ok, unit: 'W', periods: [[0, 7000]] }, code: 'UnitNotSupported' },
    { why: 'Absolute without startSchedule (K01.FR.40)', spec: { ...ok, startSchedule: null }, code: 'StartScheduleMissing' },
    { why: 'Relative with startSchedule (K01.FR.41)', spec: { ...ok, kind: 'Relative', startSchedule: now() }, code: 'StartScheduleNotAllowed' },
    { why: 'first period not at 0 (K01.FR.31)', spec: { ...ok, periods: [[30, 10]] }, code: 'FirstPeriodNotZero' },
    { why: 'periods not increasing (K01.FR.35)', spec: { ...ok, periods: [[0, 10], [60, 8], [60, 6]] }, code: 'PeriodsNotIncreasing' },
    { why: 'TxProfile on evse 0 (K01.FR.16)', spec: { ...ok, evseId: 0, purpose: 'TxProfile', kind: 'Relative', transactionId: tx }, code: 'TxProfileOnStation' },
    { why: 'TxProfile without transactionId (K01.FR.03)', spec: { ...ok, purpose: 'TxProfile', kind: 'Relative' }, code: 'TxProfileWithoutTransactionId' },
    { why: 'TxProfile for another transaction (K01.FR.33)', spec: { ...ok, purpose: 'TxProfile', kind: 'Relative', transactionId: 'not-this-one' }, code: 'TransactionMismatch' },
    { why: 'TxProfile on an EVSE without a transaction (K01.FR.09)', spec: { ...ok, evseId: 2, purpose: 'TxProfile', kind: 'Relative', transactionId: tx }, code: 'NoActiveTransaction' },
    { why: 'transactionId longer than 36', spec: { ...ok, purpose: 'TxProfile', kind: 'Relative', transactionId: 'x'.repeat(37) }, code: 'TransactionIdTooLong' },
    { why: 'ChargingStationMaxProfile on an EVSE (K01.FR.03)', spec: { ...ok, purpose: 'ChargingStationMaxProfile' }, code: 'StationMaxNotOnStation' },
    { why: 'ChargingStationExternalConstraints (K01.FR.22)', spec: { ...ok, evseId: 0, purpose: 'ChargingStationExternalConstraints' }, code: 'ExternalConstraintsByCsms' },
    { why: 'unknown EVSE (K01.FR.28)', spec: { ...ok, evseId: 7 }, code: 'EvseUnknown' },
    { why: 'same stackLevel + purpose on the EVSE (K01.FR.06)', spec: { ...ok, stackLevel: 1 }, code: 'StackLevelConflict' },
    { why: 'four schedules', spec: { ...ok, schedules: 4 }, code: 'TooManySchedules' },
    { why: 'numberPhases 4', spec: { ...ok, periods: [[0, 10, 4]] }, code: 'NumberPhasesInvalid' },
    { why: 'validFrom after validTo', spec: { ...ok, validFrom: now() + 7200_000, validTo: now() + 3600_000 }, code: 'ValidityEmpty' },
  ];
  for (const { why, spec, code } of cases) await refused(s, () => csms.smart.set(s.id, mk(spec)), code, why);
  // phaseToUse needs numberPhases 1 (K01.FR.19) and a station that switches phases (K01.FR.20/48).
  const ptu = mk({ ...ok, periods: [[0, 10, 1]] });
  (ptu.chargingSchedule[0]!.chargingSchedulePeriod[0] as { phaseToUse?: number }).phaseToUse = 2;
  await refused(s, () => csms.smart.set(s.id, ptu), 'PhaseToUseNotSupported', 'phaseToUse without ACPhaseSwitchingSupported');
  const ptu3 = mk(ok);
  (ptu3.chargingSchedule[0]!.chargingSchedulePeriod[0] as { phaseToUse?: number }).phaseToUse = 2;
  await refused(s, () => csms.smart.set(s.id, ptu3), 'PhaseToUseWithoutSinglePhase', 'phaseToUse with three phases');
  // Remote start: a TxProfile without transactionId only.
  await refused(s, () => csms.smart.remoteStartWithProfile(s.id, 2, 'RS', mk({ ...ok, evseId: 2, kind: 'Relative' })), 'RemoteStartNotTxProfile');
  await refused(s, () => csms.smart.remoteStartWithProfile(s.id, 2, 'RS', mk({ ...ok, evseId: 2, kind: 'Relative', purpose: 'TxProfile', transactionId: tx })), 'RemoteStartWithTransactionId');
  await refused(s, () => csms.smart.remoteStartWithProfile(s.id, 2, 'RS', mk({ ...ok, evseId: 2, purpose: 'TxProfile', unit: 'W', kind: 'Relative' })), 'UnitNotSupported');
  await inSync(s, [1]);
  assert.equal(s.cp.evse(2).transaction, undefined, 'no transaction was started');
  await power(s, 1, W(16));
  // A composite in a unit the station does not support is not a profile: it is asked, and the station refuses.
  const before = s.sent.length;
  const comp = await csms.smart.composite(s.id, 1, 600, 'W');
  assert.deepEqual(s.sent.slice(before).map((c) => c.action), ['GetCompositeSchedule']);
  assert.deepEqual([comp.status, comp.schedule, comp.differences], ['Rejected', undefined, []]);
  assert.equal(comp.statusInfo?.reasonCode, 'UnsupportedRateUnit');
});
