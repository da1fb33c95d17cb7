/** src/smart/validate.ts: checks before sending, one row per requirement (OCPP 2.0.1 K01, 1.6 equivalents). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChargingProfile } from '../../src/smart/profile.js';
import { REQUIREMENTS, validateProfile, type OcppVersion, type ValidationContext, type ViolationCode } from '../../src/smart/validate.js';
import { at, profile } from './helpers.js';

const NOW = at('2024-03-01T10:00:00Z');

function ctx(version: OcppVersion, over: Partial<ValidationContext> = {}): ValidationContext {
  return {
    version,
    capabilities: { rateUnits: ['A'], maxStackLevel: 8, maxPeriodsPerSchedule: 24, maxProfilesInstalled: 10, phaseSwitching: false },
    evseIds: [1, 2],
    activeTransactions: [{ transactionId: version === '1.6' ? '101' : 'T1', evseId: 1 }],
    installed: [],
    now: NOW,
    via: 'SetChargingProfile',
    ...over,
  };
}

const txDefault = (over: Partial<Parameters<typeof profile>[0]> = {}): ChargingProfile =>
  profile({ id: 1, evseId: 1, purpose: 'TxDefaultProfile', startSchedule: NOW, periods: '0:16', ...over });
const txProfile = (over: Partial<Parameters<typeof profile>[0]> = {}): ChargingProfile =>
  profile({ id: 2, evseId: 1, purpose: 'TxProfile', kind: 'Relative', transactionId: 'T1', periods: '0:10', ...over });
const stationMax = (over: Partial<Parameters<typeof profile>[0]> = {}): ChargingProfile =>
  profile({ id: 3, evseId: 0, purpose: 'ChargingStationMaxProfile', startSchedule: NOW, periods: '0:32', ...over });

interface Case {
  name: string;
  version: OcppVersion;
  p: ChargingProfile;
  ctx?: Partial<ValidationContext>;
  /** Expected codes (order-insensitive); [] = valid. */
  codes: ViolationCode[];
  /** Expected requirement of the first violation, when the row is about a specific id. */
  requirement?: string;
  /** For valid rows: the installed ids it replaces. */
  replaces?: number[];
}

const caps = ctx('2.0.1').capabilities;
const installedTxDefault = txDefault({ id: 50 });

const cases201: Case[] = [
  { name: 'valid TxDefaultProfile Absolute on EVSE 1', version: '2.0.1', p: txDefault(), codes: [], replaces: [] },
  { name: 'valid TxProfile Relative on the active transaction (TC_K_60 shape)', version: '2.0.1', p: txProfile(), codes: [] },
  { name: 'valid ChargingStationMaxProfile on EVSE 0 (TC_K_03 shape)', version: '2.0.1', p: stationMax(), codes: [] },
  { name: 'K01.FR.31 first startPeriod must be 0', version: '2.0.1', p: txDefault({ periods: '60:16' }), codes: ['FirstPeriodNotZero'], requirement: 'K01.FR.31' },
  { name: 'K01.FR.31 empty period list', version: '2.0.1', p: txDefault({ periods: '' }), codes: ['EmptyPeriods'], requirement: 'K01.FR.31 (chargingSchedulePeriod 1..*)' },
  { name: 'K01.FR.35 equal startPeriods', version: '2.0.1', p: txDefault({ periods: '0:16 600:10 600:8' }), codes: ['PeriodsNotIncreasing'], requirement: 'K01.FR.35' },
  { name: 'K01.FR.35 decreasing startPeriods', version: '2.0.1', p: txDefault({ periods: '0:16 600:10 300:8' }), codes: ['PeriodsNotIncreasing'] },
  { name: 'K01.FR.26 W on a station that only takes A', version: '2.0.1', p: txDefault({ unit: 'W', periods: '0:11000' }), codes: ['UnitNotSupported'], requirement: 'K01.FR.26' },
  { name: 'K01.FR.26 W accepted when RateUnit lists W', version: '2.0.1', p: txDefault({ unit: 'W', periods: '0:11000' }), ctx: { capabilities: { ...caps, rateUnits: ['A', 'W'] } }, codes: [] },
  {
    name: 'K01.FR.19 phaseToUse with numberPhases 3',
    version: '2.0.1',
    p: txDefault({ periods: '0:16@3>1' }),
    ctx: { capabilities: { ...caps, phaseSwitching: true } },
    codes: ['PhaseToUseWithoutSinglePhase'],
    requirement: 'K01.FR.19',
  },
  { name: 'K01.FR.19 phaseToUse without numberPhases (⇒ 3)', version: '2.0.1', p: txDefault({ periods: '0:16>1' }), ctx: { capabilities: { ...caps, phaseSwitching: true } }, codes: ['PhaseToUseWithoutSinglePhase'] },
  { name: 'K01.FR.20/48 phaseToUse without ACPhaseSwitchingSupported', version: '2.0.1', p: txDefault({ periods: '0:16@1>2' }), codes: ['PhaseToUseNotSupported'], requirement: 'K01.FR.20/K01.FR.48' },
  { name: 'K01.FR.19/20 phaseToUse with numberPhases 1 and phase switching is valid', version: '2.0.1', p: txDefault({ periods: '0:16@1>2' }), ctx: { capabilities: { ...caps, phaseSwitching: true } }, codes: [] },
  { name: 'phaseToUse 4 is out of range', version: '2.0.1', p: txDefault({ periods: '0:16@1>4' }), ctx: { capabilities: { ...caps, phaseSwitching: true } }, codes: ['PhaseToUseInvalid'] },
  { name: 'K01.FR.03 ChargingStationMaxProfile only on EVSE 0', version: '2.0.1', p: stationMax({ evseId: 1 }), codes: ['StationMaxNotOnStation'], requirement: 'K01.FR.03' },
  { name: 'K01.FR.38 ChargingStationMaxProfile not Relative', version: '2.0.1', p: stationMax({ kind: 'Relative', startSchedule: undefined }), codes: ['StationMaxRelative'], requirement: 'K01.FR.38' },
  { name: 'K01.FR.40 Absolute needs startSchedule', version: '2.0.1', p: txDefault({ startSchedule: undefined }), codes: ['StartScheduleMissing'], requirement: 'K01.FR.40' },
  { name: 'K01.FR.40 Recurring needs startSchedule', version: '2.0.1', p: txDefault({ kind: 'Recurring', recurrency: 'Daily', startSchedule: undefined }), codes: ['StartScheduleMissing'] },
  { name: 'K01.FR.41 Relative must not have startSchedule', version: '2.0.1', p: txProfile({ startSchedule: NOW }), codes: ['StartScheduleNotAllowed'], requirement: 'K01.FR.41' },
  { name: 'K01.FR.28 unknown EVSE', version: '2.0.1', p: txDefault({ evseId: 9 }), codes: ['EvseUnknown'], requirement: 'K01.FR.28' },
  { name: 'K01.FR.16 TxProfile on EVSE 0', version: '2.0.1', p: txProfile({ evseId: 0 }), codes: ['TxProfileOnStation'], requirement: 'K01.FR.16' },
  { name: 'K01.FR.03 TxProfile without transactionId', version: '2.0.1', p: txProfile({ transactionId: undefined }), codes: ['TxProfileWithoutTransactionId'], requirement: 'K01.FR.03' },
  { name: 'K01.FR.09 TxProfile on an EVSE without transaction', version: '2.0.1', p: txProfile({ evseId: 2 }), codes: ['NoActiveTransaction'], requirement: 'K01.FR.09' },
  { name: 'K01.FR.33 TxProfile for another transaction', version: '2.0.1', p: txProfile({ transactionId: 'T9' }), codes: ['TransactionMismatch'], requirement: 'K01.FR.33' },
  {
    name: 'K01.FR.06 same stackLevel + purpose + EVSE as an installed profile',
    version: '2.0.1',
    p: txDefault(),
    ctx: { installed: [installedTxDefault] },
    codes: ['StackLevelConflict'],
    requirement: 'K01.FR.06',
  },
  { name: 'K01.FR.05/06 same id replaces, no conflict', version: '2.0.1', p: txDefault({ id: 50 }), ctx: { installed: [installedTxDefault] }, codes: [], replaces: [50] },
  { name: 'K01.FR.06 other EVSE: no conflict', version: '2.0.1', p: txDefault({ evseId: 2 }), ctx: { installed: [installedTxDefault] }, codes: [] },
  { name: 'K01.FR.06 installed profile already expired: no conflict', version: '2.0.1', p: txDefault(), ctx: { installed: [txDefault({ id: 50, validTo: at('2024-03-01T09:00:00Z') })] }, codes: [] },
  {
    name: 'K01.FR.06 validity windows do not overlap: no conflict',
    version: '2.0.1',
    p: txDefault({ validFrom: at('2024-03-02T00:00:00Z') }),
    ctx: { installed: [txDefault({ id: 50, validTo: at('2024-03-02T00:00:00Z') })] },
    codes: [],
  },
  {
    name: 'K01.FR.39 TxProfile with the same stackLevel for the same transaction',
    version: '2.0.1',
    p: txProfile(),
    ctx: { installed: [txProfile({ id: 60 })] },
    codes: ['StackLevelConflict'],
    requirement: 'K01.FR.39',
  },
  { name: 'K01.FR.39 TxProfile of an earlier transaction: no conflict', version: '2.0.1', p: txProfile(), ctx: { installed: [txProfile({ id: 60, transactionId: 'T0' })] }, codes: [] },
  {
    name: 'K01.FR.22 the CSMS does not set ChargingStationExternalConstraints',
    version: '2.0.1',
    p: profile({ id: 4, purpose: 'ChargingStationExternalConstraints', startSchedule: NOW, periods: '0:20' }),
    codes: ['ExternalConstraintsByCsms'],
    requirement: 'K01.FR.22',
  },
  { name: 'ProfileStackLevel: stackLevel above the maximum', version: '2.0.1', p: txDefault({ stackLevel: 9 }), codes: ['StackLevelOutOfRange'] },
  { name: 'stackLevel 0 is valid (no truthiness trap)', version: '2.0.1', p: txDefault({ stackLevel: 0 }), codes: [] },
  { name: 'stackLevel −1', version: '2.0.1', p: txDefault({ stackLevel: -1 }), codes: ['StackLevelOutOfRange'] },
  {
    name: 'PeriodsPerSchedule: 25 periods > 24',
    version: '2.0.1',
    p: txDefault({ periods: Array.from({ length: 25 }, (_, i) => `${i * 60}:16`).join(' ') }),
    codes: ['TooManyPeriods'],
  },
  {
    name: 'Entries: one more profile than the station holds',
    version: '2.0.1',
    p: txDefault(),
    ctx: { installed: Array.from({ length: 10 }, (_, i) => txDefault({ id: 100 + i, evseId: 2 })) },
    codes: ['TooManyProfiles'],
  },
  { name: 'recurrencyKind with Absolute', version: '2.0.1', p: txDefault({ recurrency: 'Daily' }), codes: ['RecurrencyKindWithoutRecurring'] },
  { name: 'Recurring without recurrencyKind', version: '2.0.1', p: txDefault({ kind: 'Recurring' }), codes: ['RecurringWithoutRecurrencyKind'] },
  { name: 'limit with two decimals', version: '2.0.1', p: txDefault({ periods: '0:16.05' }), codes: ['LimitNotMultipleOfTenth'] },
  { name: 'limit 8.1 has one decimal (float-safe check)', version: '2.0.1', p: txDefault({ periods: '0:8.1' }), codes: [] },
  { name: 'negative limit', version: '2.0.1', p: txDefault({ periods: '0:-1' }), codes: ['LimitNegative'] },
  { name: 'minChargingRate with two decimals', version: '2.0.1', p: txDefault({ minChargingRate: 6.25 }), codes: ['LimitNotMultipleOfTenth'] },
  { name: 'numberPhases 4', version: '2.0.1', p: txDefault({ periods: '0:16@4' }), codes: ['NumberPhasesInvalid'] },
  {
    name: 'validFrom not before validTo',
    version: '2.0.1',
    p: txDefault({ validFrom: at('2024-03-02T00:00:00Z'), validTo: at('2024-03-02T00:00:00Z') }),
    codes: ['ValidityEmpty'],
  },
  { name: 'validTo already past', version: '2.0.1', p: txDefault({ validTo: at('2024-03-01T09:59:59Z') }), codes: ['ValidToInPast'] },
  { name: 'transactionId on a TxDefaultProfile', version: '2.0.1', p: txDefault({ transactionId: 'T1' }), codes: ['TransactionIdNotAllowed'] },
  { name: 'transactionId longer than 36', version: '2.0.1', p: txProfile({ transactionId: 'x'.repeat(37) }), codes: ['TransactionIdTooLong', 'TransactionMismatch'] },
  { name: 'duration negative', version: '2.0.1', p: txDefault({ duration: -5 }), codes: ['DurationInvalid'] },
  { name: 'RequestStartTransaction: TxProfile without transaction is valid', version: '2.0.1', p: txProfile({ evseId: 2, transactionId: undefined }), ctx: { via: 'RemoteStart' }, codes: [] },
  { name: 'RequestStartTransaction: transactionId not allowed', version: '2.0.1', p: txProfile({ evseId: 2, transactionId: 'T5' }), ctx: { via: 'RemoteStart' }, codes: ['RemoteStartWithTransactionId'] },
  { name: 'RequestStartTransaction: only TxProfile', version: '2.0.1', p: txDefault(), ctx: { via: 'RemoteStart' }, codes: ['RemoteStartNotTxProfile'] },
];

const cases16: Case[] = [
  { name: '1.6 valid TxProfile with integer transactionId (TC_057 shape)', version: '1.6', p: txProfile({ transactionId: '101' }), codes: [] },
  { name: '1.6 §3.13 TxProfile only on connector > 0', version: '1.6', p: txProfile({ evseId: 0, transactionId: '101' }), codes: ['TxProfileOnStation'], requirement: '1.6 §3.13 TxProfile only on connectorId > 0' },
  { name: '1.6 §3.13 TxProfile without a transaction on the connector is discarded', version: '1.6', p: txProfile({ evseId: 2, transactionId: '101' }), codes: ['NoActiveTransaction'] },
  { name: '1.6 §3.13 ChargePointMaxProfile only on connector 0', version: '1.6', p: stationMax({ evseId: 1 }), codes: ['StationMaxNotOnStation'], requirement: '1.6 §3.13 ChargePointMaxProfile only on connectorId 0' },
  { name: '1.6 has no K01.FR.38: a Relative ChargePointMaxProfile passes', version: '1.6', p: stationMax({ kind: 'Relative', startSchedule: undefined }), codes: [] },
  { name: '1.6 §7.8 transactionId must be an integer', version: '1.6', p: txProfile({ transactionId: 'T1' }), codes: ['TransactionIdNotInteger', 'TransactionMismatch'] },
  { name: '1.6 §7.8 recurrencyKind only with Recurring', version: '1.6', p: txDefault({ recurrency: 'Weekly' }), codes: ['RecurrencyKindWithoutRecurring'] },
  { name: '1.6 schema multipleOf 0.1 on limits', version: '1.6', p: txDefault({ periods: '0:7.25' }), codes: ['LimitNotMultipleOfTenth'], requirement: '1.6 schema multipleOf 0.1' },
  { name: '1.6 ChargeProfileMaxStackLevel', version: '1.6', p: txDefault({ stackLevel: 9 }), codes: ['StackLevelOutOfRange'], requirement: '1.6 §9.4 ChargeProfileMaxStackLevel' },
  {
    name: '1.6 ChargingScheduleMaxPeriods',
    version: '1.6',
    p: txDefault({ periods: '0:16 60:10 120:8' }),
    ctx: { capabilities: { ...caps, maxPeriodsPerSchedule: 2 } },
    codes: ['TooManyPeriods'],
    requirement: '1.6 §9.4 ChargingScheduleMaxPeriods',
  },
  { name: '1.6 ChargingScheduleAllowedChargingRateUnit', version: '1.6', p: txDefault({ unit: 'W', periods: '0:11000' }), codes: ['UnitNotSupported'] },
  { name: '1.6 empty period list', version: '1.6', p: txDefault({ periods: '' }), codes: ['EmptyPeriods'] },
  { name: '1.6 has no phaseToUse', version: '1.6', p: txDefault({ periods: '0:16@1>1' }), ctx: { capabilities: { ...caps, phaseSwitching: true } }, codes: ['PhaseToUseNotSupported'] },
  { name: '1.6 has no ExternalConstraints', version: '1.6', p: profile({ id: 4, purpose: 'ChargingStationExternalConstraints', startSchedule: NOW, periods: '0:20' }), codes: ['ExternalConstraintsByCsms'] },
  {
    name: '1.6 one schedule only',
    version: '1.6',
    p: { ...txDefault(), chargingSchedule: [txDefault().chargingSchedule[0]!, { ...txDefault().chargingSchedule[0]!, id: 2 }] },
    codes: ['TooManySchedules'],
  },
  { name: '1.6 Absolute without startSchedule (OCTT TC_057)', version: '1.6', p: txDefault({ startSchedule: undefined }), codes: ['StartScheduleMissing'] },
  {
    name: '1.6 §3.13 same stackLevel + purpose replaces: valid, reports the replaced id',
    version: '1.6',
    p: txDefault(),
    ctx: { installed: [installedTxDefault] },
    codes: [],
    replaces: [50],
  },
  {
    name: '1.6 MaxChargingProfilesInstalled counts the replaced profile out',
    version: '1.6',
    p: txDefault(),
    ctx: { installed: [installedTxDefault], capabilities: { ...caps, maxProfilesInstalled: 1 } },
    codes: [],
    replaces: [50],
  },
  { name: '1.6 RemoteStartTransaction: TxProfile without transactionId', version: '1.6', p: txProfile({ evseId: 2, transactionId: undefined }), ctx: { via: 'RemoteStart' }, codes: [] },
];

function run(cases: Case[]): void {
  for (const c of cases) {
    test(c.name, () => {
      const r = validateProfile(c.p, ctx(c.version, c.ctx));
      if (c.codes.length === 0) {
        assert.deepEqual(r, { ok: true, replaces: c.replaces ?? [] }, JSON.stringify(r));
        return;
      }
      assert.equal(r.ok, false, 'expected violations');
      if (r.ok) return;
      assert.deepEqual(r.violations.map((v) => v.code).sort(), [...c.codes].sort(), JSON.stringify(r.violations));
      if (c.requirement !== undefined) assert.equal(r.violations[0]?.requirement, c.requirement);
      for (const v of r.violations) {
        assert.ok(v.path.length > 0 && v.detail.length > 0);
        if (v.code !== 'StackLevelConflict') assert.equal(v.requirement, REQUIREMENTS[v.code][c.version]);
      }
    });
  }
}

describe('OCPP 2.0.1 K01 checks before SetChargingProfile', () => run(cases201));
describe('OCPP 1.6 equivalents', () => run(cases16));

describe('outcome shape', () => {
  test('all violations are collected, with paths into the model', () => {
    const p = txDefault({ periods: '60:16.05 30:-1', stackLevel: 99, duration: -1 });
    const r = validateProfile(p, ctx('2.0.1'));
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(
      r.violations.map((v) => `${v.code} ${v.path}`),
      [
        'StackLevelOutOfRange stackLevel',
        'DurationInvalid chargingSchedule[0].duration',
        'FirstPeriodNotZero chargingSchedule[0].chargingSchedulePeriod[0].startPeriod',
        'LimitNotMultipleOfTenth chargingSchedule[0].chargingSchedulePeriod[0].limit',
        'PeriodsNotIncreasing chargingSchedule[0].chargingSchedulePeriod[1].startPeriod',
        'LimitNegative chargingSchedule[0].chargingSchedulePeriod[1].limit',
      ],
    );
  });
  test('startPeriod must be a whole number of seconds', () => {
    const r = validateProfile(txDefault({ periods: '0:16 1.5:10' }), ctx('2.0.1'));
    assert.ok(!r.ok);
    assert.deepEqual(r.violations.map((v) => `${v.code} ${v.path}`), ['StartPeriodInvalid chargingSchedule[0].chargingSchedulePeriod[1].startPeriod']);
  });
  test('every code has a requirement text for both versions', () => {
    for (const [code, req] of Object.entries(REQUIREMENTS)) {
      assert.ok(req['2.0.1'].length > 0 && req['1.6'].length > 0, code);
    }
  });
});
