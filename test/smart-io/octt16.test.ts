/**
 * OCTT 1.6 CSMS smart-charging cases (TC_056, TC_057, TC_059, TC_066, TC_067) driven through the CSMS's
 * SmartChargingService (`csms.smart`) against simulated charge points over real WebSockets.
 *
 * Every step asserts: what the CSMS sent (recorded on the simulator side, schema-checked), the station's
 * answer, the CSMS shadow (`csms.smart.installed`) afterwards and, where it matters, the physical effect
 * (the simulated EV's power follows the composite limit) and that GetCompositeSchedule agrees with
 * Ampline's own prediction. Bad input is refused with ProfileRejectedError before anything is sent.
 *
 * CSMS and simulators share one ManualClock: time only moves when a test advances it, so limits,
 * schedules and composites are exact and nothing depends on how fast the machine is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProfileRejectedError, type ClearSelector } from '../../src/services/smart-charging.js';
import type { OCPP16 } from 'typed-ocpp';
import type { ViolationCode } from '../../src/smart/validate.js';
import type { TestCsms } from '../helpers/csms.js';
import { waitFor } from '../helpers/wire.js';
import { EV, MIN, W, iso, octtHarness, periodsOf, type Spec } from './harness.js';

// ── harness (test/smart-io/harness.ts) ──────────────────────────────────────────────────────────

let csms: TestCsms;
const h = octtHarness('ocpp1.6', { started: (c) => (csms = c) });
const { clock, now, station, charging, power, shadowIds, simIds, inSync, compositeAgrees, mk, set, clear } = h;

/** OCTT TC_057 tool validation of a 1.6 TxProfile request. */
function octtTxProfile(req: OCPP16.SetChargingProfileRequest, connectorId: number, transactionId: number): void {
  const cs = req.csChargingProfiles;
  assert.equal(req.connectorId, connectorId);
  assert.equal(cs.chargingProfilePurpose, 'TxProfile');
  assert.equal(cs.transactionId, transactionId, 'the generated transactionId');
  assert.equal(cs.recurrencyKind, undefined, 'recurrencyKind omitted');
  assert.ok(['Absolute', 'Relative'].includes(cs.chargingProfileKind));
  if (cs.chargingProfileKind === 'Absolute') {
    assert.notEqual(cs.validFrom, undefined, 'validFrom present (Absolute)');
    assert.notEqual(cs.validTo, undefined, 'validTo present (Absolute)');
    assert.notEqual(cs.chargingSchedule.startSchedule, undefined, 'startSchedule present (Absolute)');
    assert.notEqual(cs.chargingSchedule.duration, undefined, 'duration present (Absolute)');
  } else {
    assert.equal(cs.chargingSchedule.startSchedule, undefined, 'startSchedule omitted (Relative)');
  }
  assert.equal(cs.chargingSchedule.chargingSchedulePeriod[0]?.startPeriod, 0);
}

// ── TC_056 ──────────────────────────────────────────────────────────────────────────────────────

test('TC_056 central smart charging, TxDefaultProfile: set before the transaction, the new transaction follows it', async () => {
  const s = await station('O16-056', { evses: 2 });
  const t0 = now();
  const p = mk({ id: 56, evseId: 0, purpose: 'TxDefaultProfile', validFrom: t0, validTo: t0 + 24 * 60 * MIN, periods: [[0, 16], [1800, 10]] });
  const { res, req } = await set(s, p);
  assert.deepEqual(req, {
    connectorId: 0,
    csChargingProfiles: {
      chargingProfileId: 56,
      stackLevel: 0,
      chargingProfilePurpose: 'TxDefaultProfile',
      chargingProfileKind: 'Absolute',
      validFrom: iso(t0),
      validTo: iso(t0 + 24 * 60 * MIN),
      chargingSchedule: { startSchedule: iso(t0), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }, { startPeriod: 1800, limit: 10 }] },
    },
  });
  assert.deepEqual(res.replaced, []);
  const [rec] = await csms.smart.installed(s.id);
  assert.deepEqual(rec?.profile, p, 'the shadow holds the profile as sent');
  assert.equal(rec?.source, 'api');
  await inSync(s, [56]);

  // A new transaction on either connector is limited by the default.
  await charging(s, 1);
  await power(s, 1, W(16));
  const a = await compositeAgrees(s, 1, 3600, 'A');
  assert.deepEqual(periodsOf(a), [[0, 16], [1800, 10]]);
  const w = await compositeAgrees(s, 1, 3600, 'W');
  assert.deepEqual(periodsOf(w), [[0, W(16)], [1800, W(10)]]);
  clock.advance(30 * MIN);
  s.cp.refresh();
  await power(s, 1, W(10));

  // A connector-specific TxDefault at the same stack level: kept beside the connector-0 one (1.6 replaces
  // by stackLevel + purpose per connector) and it wins on its connector only.
  const own = mk({ id: 57, evseId: 1, purpose: 'TxDefaultProfile', periods: [[0, 8]] });
  assert.deepEqual((await set(s, own)).res.replaced, []);
  await inSync(s, [56, 57]);
  await power(s, 1, W(8));
  await compositeAgrees(s, 1, 1800, 'A');
  await charging(s, 2);
  await power(s, 2, W(10));
  await compositeAgrees(s, 2, 1800, 'A');

  // Same connector, stack level and purpose but a new id replaces it, on the station and in the shadow.
  const again = mk({ id: 58, evseId: 1, purpose: 'TxDefaultProfile', periods: [[0, 12]] });
  assert.deepEqual((await set(s, again)).res.replaced, [57]);
  await inSync(s, [56, 58]);
  await power(s, 1, W(12));
  await compositeAgrees(s, 1, 1800, 'W');
});

// ── TC_057 ──────────────────────────────────────────────────────────────────────────────────────

const tc057: Array<{
  kind: 'Absolute' | 'Relative';
  spec: (tx: number) => Spec;
  wire: (tx: number, t0: number) => OCPP16.SetChargingProfileRequest;
  /** Power right after the profile arrives. */
  watts: number;
  /** Power `afterMin` minutes later (the next period). */
  later: { afterMin: number; watts: number };
}> = [
  {
    kind: 'Absolute',
    spec: (tx) => ({ id: 70, evseId: 1, stackLevel: 1, purpose: 'TxProfile', transactionId: tx, validFrom: now(), validTo: now() + 60 * MIN, duration: 3600, periods: [[0, 10], [900, 14]] }),
    wire: (tx, t0) => ({
      connectorId: 1,
      csChargingProfiles: {
        chargingProfileId: 70,
        transactionId: tx,
        stackLevel: 1,
        chargingProfilePurpose: 'TxProfile',
        chargingProfileKind: 'Absolute',
        validFrom: iso(t0),
        validTo: iso(t0 + 60 * MIN),
        chargingSchedule: { duration: 3600, startSchedule: iso(t0), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }, { startPeriod: 900, limit: 14 }] },
      },
    }),
    watts: W(10),
    later: { afterMin: 15, watts: W(14) },
  },
  {
    kind: 'Relative',
    spec: (tx) => ({ id: 71, evseId: 1, stackLevel: 1, purpose: 'TxProfile', kind: 'Relative', transactionId: tx, unit: 'W', periods: [[0, 9000], [1200, 4500]] }),
    wire: (tx) => ({
      connectorId: 1,
      csChargingProfiles: {
        chargingProfileId: 71,
        transactionId: tx,
        stackLevel: 1,
        chargingProfilePurpose: 'TxProfile',
        chargingProfileKind: 'Relative',
        chargingSchedule: { chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 9000 }, { startPeriod: 1200, limit: 4500 }] },
      },
    }),
    // Relative: anchored at the transaction start, 5 min before the profile arrives.
    watts: 9000,
    later: { afterMin: 15, watts: 4500 },
  },
];

for (const c of tc057) {
  test(`TC_057 central smart charging, TxProfile (${c.kind}) for the running transaction`, async () => {
    const s = await station(`O16-057-${c.kind}`);
    const tx = await charging(s);
    await power(s, 1, 22_000);
    clock.advance(5 * MIN);
    const t0 = now();
    const p = mk(c.spec(tx));
    const { req } = await set(s, p);
    octtTxProfile(req, 1, tx);
    assert.deepEqual(req, c.wire(tx, t0));
    const [rec] = await csms.smart.installed(s.id);
    assert.equal(rec?.profile.transactionId, String(tx));
    await inSync(s, [p.id]);
    assert.equal(s.cp.chargingProfiles()[0]?.transactionId, String(tx));
    await power(s, 1, c.watts);
    await compositeAgrees(s, 1, 3600, 'A');
    await compositeAgrees(s, 1, 3600, 'W');
    clock.advance(c.later.afterMin * MIN);
    s.cp.refresh();
    await power(s, 1, c.later.watts);
    await compositeAgrees(s, 1, 600, 'W');
    // The profile ends with its transaction, on the station and in the shadow.
    clock.advance(MIN);
    await s.cp.stopSession(1);
    await waitFor(async () => (await shadowIds(s.id)).length === 0, { timeoutMs: 10_000, what: 'TxProfile dropped from the shadow' });
    await inSync(s, []);
  });
}

test('TC_057: a TxProfile overrules the TxDefaultProfile for its transaction, also upwards; the default returns after it', async () => {
  const s = await station('O16-057-OVR');
  await set(s, mk({ id: 1, evseId: 0, purpose: 'TxDefaultProfile', periods: [[0, 10]] }));
  const tx = await charging(s);
  await power(s, 1, W(10));
  await set(s, mk({ id: 2, evseId: 1, stackLevel: 0, purpose: 'TxProfile', kind: 'Relative', transactionId: tx, periods: [[0, 20]] }));
  await power(s, 1, W(20));
  await compositeAgrees(s, 1, 1800, 'A');
  await inSync(s, [1, 2]);
  clock.advance(MIN);
  await s.cp.stopSession(1);
  await waitFor(async () => (await shadowIds(s.id)).join() === '1', { timeoutMs: 10_000, what: 'only the TxDefault left' });
  await inSync(s, [1]);
  await charging(s);
  await power(s, 1, W(10));
  await compositeAgrees(s, 1, 1800, 'A');
});

// ── TC_059 ──────────────────────────────────────────────────────────────────────────────────────

test('TC_059 remote start transaction with a charging profile: the TxProfile is bound to the new transaction', async () => {
  const s = await station('O16-059');
  await s.cp.plugIn(1, 1, EV);
  const p = mk({ id: 59, evseId: 1, stackLevel: 1, purpose: 'TxProfile', kind: 'Relative', periods: [[0, 10], [1800, 6]] });
  const before = s.sent.length;
  const res = await csms.smart.remoteStartWithProfile(s.id, 1, 'RS-059', p);
  assert.equal(res.status, 'Accepted');
  assert.deepEqual(s.sent.slice(before), [
    {
      action: 'RemoteStartTransaction',
      payload: {
        connectorId: 1,
        idTag: 'RS-059',
        chargingProfile: {
          chargingProfileId: 59,
          stackLevel: 1,
          chargingProfilePurpose: 'TxProfile',
          chargingProfileKind: 'Relative',
          chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }, { startPeriod: 1800, limit: 6 }] },
        },
      },
    },
  ]);
  const [tx] = await waitFor(async () => {
    const a = await csms.smart.activeTransactions(s.id);
    return a.length === 1 ? a : undefined;
  }, { timeoutMs: 20_000, what: 'the remotely started transaction' });
  assert.ok(tx);
  const rec = await waitFor(async () => (await csms.smart.installed(s.id)).find((r) => r.profile.transactionId === tx.transactionId), {
    timeoutMs: 10_000,
    what: 'the remote-start profile bound to the transaction in the shadow',
  });
  assert.equal(rec.source, 'remote-start');
  assert.equal(rec.profile.evseId, 1);
  assert.deepEqual({ ...rec.profile, transactionId: undefined }, { ...p, transactionId: undefined });
  await waitFor(() => s.cp.chargingProfiles()[0]?.transactionId === tx.transactionId, { timeoutMs: 10_000, what: 'profile installed on the station for the transaction' });
  await inSync(s, [59]);
  assert.equal(s.cp.evse(1).transaction?.idTag, 'RS-059');
  await power(s, 1, W(10));
  const a = await compositeAgrees(s, 1, 3600, 'A');
  assert.deepEqual(periodsOf(a), [[0, 10], [1800, 6]]);
  clock.advance(MIN);
  await s.cp.stopSession(1);
  await waitFor(async () => (await shadowIds(s.id)).length === 0, { timeoutMs: 10_000, what: 'TxProfile dropped with its transaction' });
  await inSync(s, []);
});

test('TC_059: a remote start that never becomes a transaction does not lend its profile to the next one', async () => {
  const s = await station('O16-059-NOTX');
  const t = clock.now().toISOString();
  await csms.db.kysely
    .insertInto('id_tokens')
    .values({ id_token: 'BLOCKED-059', type: 'ISO14443', status: 'Blocked', group_id: null, parent_id_tag: null, expiry_date: null, created_at: t, updated_at: t })
    .execute();
  await s.cp.plugIn(1, 1, EV);
  // The station accepts the request, then its Authorize of the tag fails: no transaction starts.
  const res = await csms.smart.remoteStartWithProfile(s.id, 1, 'BLOCKED-059', mk({ id: 591, evseId: 1, purpose: 'TxProfile', kind: 'Relative', periods: [[0, 6]] }));
  assert.equal(res.status, 'Accepted');
  await waitFor(() => s.logs.some((l) => l.includes('remote start failed')), { timeoutMs: 10_000, what: 'the remote start to fail at the station' });
  assert.equal(s.cp.evse(1).transaction, undefined);
  assert.deepEqual(simIds(s), []);
  // Later the driver starts locally with another card: the remote-start profile is not theirs.
  clock.advance(5 * MIN);
  const tx = await charging(s);
  await power(s, 1, 22_000);
  await waitFor(async () => !(await csms.smart.installed(s.id)).some((r) => r.profile.id === 591 && r.profile.transactionId === undefined), {
    timeoutMs: 10_000,
    what: 'the unbound remote-start profile resolved',
  });
  const shadow = await csms.smart.installed(s.id);
  assert.ok(!shadow.some((r) => r.profile.transactionId === String(tx)), `the shadow binds profile 591 to transaction ${tx}`);
  await inSync(s, []);
  await compositeAgrees(s, 1, 600, 'A');
});

// ── TC_066 ──────────────────────────────────────────────────────────────────────────────────────

test('TC_066 get composite schedule: per connector and for the grid connection, in A and W, equal to the prediction', async () => {
  const s = await station('O16-066');
  await set(s, mk({ id: 1, evseId: 0, purpose: 'ChargingStationMaxProfile', periods: [[0, 20]] }));
  await set(s, mk({ id: 2, evseId: 0, purpose: 'TxDefaultProfile', periods: [[0, 16], [1800, 24]] }));
  await charging(s);
  const cases: Array<{ connectorId: number; unit: 'A' | 'W' | undefined; periods: Array<[number, number]> }> = [
    { connectorId: 1, unit: 'A', periods: [[0, 16], [1800, 20]] }, // min(Max 20 A, TxDefault)
    { connectorId: 1, unit: 'W', periods: [[0, W(16)], [1800, W(20)]] },
    { connectorId: 1, unit: undefined, periods: [[0, 16], [1800, 20]] }, // AC connector: the station answers in A
    { connectorId: 0, unit: 'A', periods: [[0, 20]] }, // grid connection: only the ChargePointMaxProfile applies
    { connectorId: 0, unit: 'W', periods: [[0, W(20)]] },
    { connectorId: 0, unit: undefined, periods: [[0, W(20)]] }, // the grid connection answers in W
  ];
  for (const { connectorId, unit, periods } of cases) {
    const res = await compositeAgrees(s, connectorId, 3600, unit);
    assert.deepEqual(periodsOf(res), periods, `connector ${connectorId} in ${unit ?? 'the station unit'}`);
    assert.equal(res.schedule?.evseId, connectorId);
    assert.equal(res.schedule?.duration, 3600);
    assert.equal(res.schedule?.scheduleStart, Math.floor(now() / 1000) * 1000);
  }
  await power(s, 1, W(16));
  // A TxProfile joins the composite.
  const tx = (await csms.smart.activeTransactions(s.id))[0]!.transactionId;
  await set(s, mk({ id: 3, evseId: 1, purpose: 'TxProfile', kind: 'Relative', transactionId: tx, periods: [[0, 32]] }));
  assert.deepEqual(periodsOf(await compositeAgrees(s, 1, 3600, 'A')), [[0, 20]]);
  await power(s, 1, W(20));

  // Requests Ampline refuses before sending.
  const before = s.sent.length;
  await assert.rejects(csms.smart.composite(s.id, 7, 600, 'A'), (e: unknown) => e instanceof ProfileRejectedError && e.violations[0]?.code === 'EvseUnknown');
  await assert.rejects(csms.smart.composite(s.id, 1, 0, 'A'), (e: unknown) => e instanceof ProfileRejectedError && e.violations[0]?.code === 'DurationInvalid');
  assert.equal(s.sent.length, before, 'nothing sent');
});

// ── TC_067 ──────────────────────────────────────────────────────────────────────────────────────

test('TC_067 clear charging profile: by id, by criteria, all (three profiles, the first a ChargePointMaxProfile on connector 0)', async () => {
  const s = await station('O16-067');
  const tx = await charging(s);
  const max = mk({ id: 1, evseId: 0, stackLevel: 1, purpose: 'ChargingStationMaxProfile', periods: [[0, 24]] });
  const { req } = await set(s, max);
  // OCTT: profile 1 on connector 0, ChargePointMaxProfile, configured stack level, no transactionId.
  assert.equal(req.connectorId, 0);
  assert.equal(req.csChargingProfiles.chargingProfilePurpose, 'ChargePointMaxProfile');
  assert.equal(req.csChargingProfiles.stackLevel, 1);
  assert.equal(req.csChargingProfiles.transactionId, undefined);
  await set(s, mk({ id: 2, evseId: 1, stackLevel: 1, purpose: 'TxDefaultProfile', periods: [[0, 10]] }));
  await set(s, mk({ id: 3, evseId: 1, stackLevel: 2, purpose: 'TxProfile', kind: 'Relative', transactionId: tx, periods: [[0, 16]] }));
  await inSync(s, [1, 2, 3]);
  await power(s, 1, W(16));

  const steps: Array<{ what: string; sel: ClearSelector; wire: OCPP16.ClearChargingProfileRequest; removed: number[]; left: number[]; watts: number }> = [
    { what: 'by id', sel: { id: 1 }, wire: { id: 1 }, removed: [1], left: [2, 3], watts: W(16) },
    {
      what: 'by criteria',
      sel: { evseId: 1, purpose: 'TxProfile', stackLevel: 2 },
      wire: { connectorId: 1, chargingProfilePurpose: 'TxProfile', stackLevel: 2 },
      removed: [3],
      left: [2],
      watts: W(10), // back to the TxDefault
    },
    { what: 'all', sel: {}, wire: {}, removed: [2], left: [], watts: 22_000 },
  ];
  for (const step of steps) {
    const { res, req: wire } = await clear(s, step.sel);
    assert.deepEqual(wire, step.wire, step.what);
    assert.equal(res.status, 'Accepted', step.what);
    assert.deepEqual(res.removed, step.removed, step.what);
    await inSync(s, step.left);
    await power(s, 1, step.watts);
    await compositeAgrees(s, 1, 600, 'A');
  }
  // Nothing left to clear: the station answers Unknown and the shadow does not change.
  const { res } = await clear(s, {});
  assert.deepEqual([res.status, res.removed], ['Unknown', []]);
  const { res: byId } = await clear(s, { id: 1 });
  assert.deepEqual([byId.status, byId.removed], ['Unknown', []]);
});

// ── bad input ───────────────────────────────────────────────────────────────────────────────────

test('1.6 capabilities are read from the configuration keys', async () => {
  const s = await station('O16-CAPS', {
    config: { ChargingScheduleAllowedChargingRateUnit: 'Current', ChargeProfileMaxStackLevel: '3', ChargingScheduleMaxPeriods: '4', MaxChargingProfilesInstalled: '5' },
  });
  assert.deepEqual(s.of('GetConfiguration'), [
    { key: ['ChargeProfileMaxStackLevel', 'ChargingScheduleAllowedChargingRateUnit', 'ChargingScheduleMaxPeriods', 'MaxChargingProfilesInstalled', 'ConnectorSwitch3to1PhaseSupported'] },
  ]);
  assert.deepEqual(await csms.smart.capabilities(s.id, 'ocpp1.6'), { rateUnits: ['A'], maxStackLevel: 3, maxPeriodsPerSchedule: 4, maxProfilesInstalled: 5, phaseSwitching: false });
  assert.equal(s.sent.length, 1, 'asked once');
});

test('1.6 bad input: profiles breaking the rules or the station limits are refused before anything is sent', async () => {
  const s = await station('O16-BAD', {
    evses: 2,
    config: { ChargingScheduleAllowedChargingRateUnit: 'Current', ChargeProfileMaxStackLevel: '3', ChargingScheduleMaxPeriods: '4' },
  });
  const tx = await charging(s, 1);
  const sentBefore = s.sent.length;
  const ok: Spec = { id: 90, evseId: 1, purpose: 'TxDefaultProfile', periods: [[0, 10]] };
  const cases: Array<{ why: string; spec: Spec; code: ViolationCode }> = [
    { why: 'stack level above ChargeProfileMaxStackLevel', spec: { ...ok, stackLevel: 4 }, code: 'StackLevelOutOfRange' },
    { why: 'more periods than ChargingScheduleMaxPeriods', spec: { ...ok, periods: [[0, 10], [60, 11], [120, 12], [180, 13], [240, 14]] }, code: 'TooManyPeriods' },
    { why: 'W when only Current is allowed', spec: { ...ok, unit: 'W', periods: [[0, 7000]] }, code: 'UnitNotSupported' },
    { why: 'Absolute without startSchedule', spec: { ...ok, startSchedule: null }, code: 'StartScheduleMissing' },
    { why: 'Relative with startSchedule', spec: { ...ok, kind: 'Relative', startSchedule: now() }, code: 'StartScheduleNotAllowed' },
    { why: 'first period not at 0', spec: { ...ok, periods: [[60, 10]] }, code: 'FirstPeriodNotZero' },
    { why: 'periods not increasing', spec: { ...ok, periods: [[0, 10], [600, 8], [300, 6]] }, code: 'PeriodsNotIncreasing' },
    { why: 'limit not a multiple of 0.1', spec: { ...ok, periods: [[0, 10.05]] }, code: 'LimitNotMultipleOfTenth' },
    { why: 'TxProfile on connector 0', spec: { ...ok, evseId: 0, purpose: 'TxProfile', transactionId: tx }, code: 'TxProfileOnStation' },
    { why: 'TxProfile without transactionId', spec: { ...ok, purpose: 'TxProfile' }, code: 'TxProfileWithoutTransactionId' },
    { why: 'TxProfile for another transaction', spec: { ...ok, purpose: 'TxProfile', transactionId: tx + 1000 }, code: 'TransactionMismatch' },
    { why: 'TxProfile on a connector without a transaction', spec: { ...ok, evseId: 2, purpose: 'TxProfile', transactionId: tx }, code: 'NoActiveTransaction' },
    { why: 'non-integer 1.6 transactionId', spec: { ...ok, purpose: 'TxProfile', transactionId: 'abc' }, code: 'TransactionIdNotInteger' },
    { why: 'ChargePointMaxProfile on connector 1', spec: { ...ok, purpose: 'ChargingStationMaxProfile' }, code: 'StationMaxNotOnStation' },
    { why: 'ChargingStationExternalConstraints (not in 1.6)', spec: { ...ok, evseId: 0, purpose: 'ChargingStationExternalConstraints' }, code: 'ExternalConstraintsByCsms' },
    { why: 'unknown connector', spec: { ...ok, evseId: 9 }, code: 'EvseUnknown' },
    { why: 'Recurring without recurrencyKind', spec: { ...ok, kind: 'Recurring' }, code: 'RecurringWithoutRecurrencyKind' },
    { why: 'validTo in the past', spec: { ...ok, validTo: now() - MIN }, code: 'ValidToInPast' },
    { why: 'transactionId on a TxDefaultProfile', spec: { ...ok, transactionId: tx }, code: 'TransactionIdNotAllowed' },
  ];
  for (const { why, spec, code } of cases) {
    await assert.rejects(
      csms.smart.set(s.id, mk(spec)),
      (e: unknown) => {
        assert.ok(e instanceof ProfileRejectedError, `${why}: ${String(e)}`);
        const codes = e.violations.map((v) => v.code);
        assert.ok(codes.includes(code), `${why}: expected ${code}, got ${codes.join(', ')}`);
        assert.ok(e.violations.every((v) => v.requirement.length > 0 && v.path.length > 0));
        return true;
      },
      why,
    );
  }
  // phaseToUse does not exist in 1.6 (mapping issue, reported as a violation too).
  const ptu = mk(ok);
  (ptu.chargingSchedule[0]!.chargingSchedulePeriod[0] as { phaseToUse?: number }).phaseToUse = 1;
  await assert.rejects(csms.smart.set(s.id, ptu), (e: unknown) => e instanceof ProfileRejectedError && e.violations.some((v) => v.code === 'PhaseToUseNotSupported'));
  // Remote start: only a TxProfile, and without a transactionId.
  const remote: Array<{ why: string; spec: Spec; code: ViolationCode }> = [
    { why: 'TxDefaultProfile in a remote start', spec: { ...ok, kind: 'Relative' }, code: 'RemoteStartNotTxProfile' },
    { why: 'transactionId in a remote start', spec: { ...ok, kind: 'Relative', purpose: 'TxProfile', transactionId: tx }, code: 'RemoteStartWithTransactionId' },
  ];
  for (const { why, spec, code } of remote) {
    await assert.rejects(csms.smart.remoteStartWithProfile(s.id, 2, 'RS', mk(spec)), (e: unknown) => e instanceof ProfileRejectedError && e.violations.some((v) => v.code === code), why);
  }
  // ChargingStationExternalConstraints do not exist in 1.6: no clear of them either.
  await assert.rejects(csms.smart.clear(s.id, { purpose: 'ChargingStationExternalConstraints' }), (e: unknown) => e instanceof ProfileRejectedError && e.violations[0]?.code === 'ExternalConstraintsByCsms');
  assert.deepEqual(s.sent.slice(sentBefore), [], 'nothing was sent for any refused request');
  await inSync(s, []);
  assert.equal(s.cp.evse(2).transaction, undefined, 'no transaction was started');
  await power(s, 1, 22_000);
});

test('1.6 a station refusal leaves the shadow alone; MaxChargingProfilesInstalled is respected', async () => {
  const s = await station('O16-REFUSE', { config: { MaxChargingProfilesInstalled: '1' } });
  // The station refuses what Ampline considered valid: nothing is recorded.
  s.cp.setResponder((action, payload) => {
    s.sent.push({ action, payload });
    return action === 'SetChargingProfile' ? { result: { status: 'Rejected' } } : undefined;
  });
  const { res } = await set(s, mk({ id: 5, evseId: 0, purpose: 'TxDefaultProfile', periods: [[0, 10]] }), 'Rejected');
  assert.deepEqual(res.replaced, []);
  assert.deepEqual(await shadowIds(s.id), []);
  s.cp.setResponder((action, payload) => {
    s.sent.push({ action, payload });
    return undefined;
  });
  await set(s, mk({ id: 5, evseId: 0, purpose: 'TxDefaultProfile', periods: [[0, 10]] }));
  await inSync(s, [5]);
  const before = s.sent.length;
  await assert.rejects(csms.smart.set(s.id, mk({ id: 6, evseId: 1, purpose: 'TxDefaultProfile', periods: [[0, 10]] })), (e: unknown) => e instanceof ProfileRejectedError && e.violations.some((v) => v.code === 'TooManyProfiles'));
  assert.equal(s.sent.length, before, 'nothing sent');
  // Replacing the installed one (same id) does not count as one more.
  await set(s, mk({ id: 5, evseId: 0, purpose: 'TxDefaultProfile', periods: [[0, 12]] }));
  await inSync(s, [5]);
  assert.equal((await csms.smart.installed(s.id))[0]?.profile.chargingSchedule[0]?.chargingSchedulePeriod[0]?.limit, 12);
});
