/** Charger-side profile validation, mapping and store (src/sim/profiles.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Profile, ProfilePurpose } from '../../src/sim/composite.js';
import {
  ProfileStore,
  from16,
  from201,
  validateProfile,
  type ProfileRejectReason,
  type ProfileRules,
} from '../../src/sim/profiles.js';

const NOW = Date.parse('2025-01-01T10:00:00Z');

function rules(r: Partial<ProfileRules> = {}): ProfileRules {
  return {
    protocol: 'ocpp2.0.1',
    evseIds: [1, 2],
    activeTransactionId: (evseId) => (evseId === 1 ? 'tx-1' : undefined),
    maxStackLevel: 8,
    rateUnits: ['A', 'W'],
    maxPeriods: 5,
    maxProfiles: 3,
    phaseSwitching: false,
    ...r,
  };
}

let nextId = 1;
function p(x: Partial<Profile> & { purpose?: ProfilePurpose } = {}): Profile {
  return {
    evseId: 1,
    id: nextId++,
    stackLevel: 0,
    purpose: 'TxDefaultProfile',
    kind: 'Absolute',
    installedAt: NOW,
    schedule: { startSchedule: NOW, chargingRateUnit: 'A', periods: [{ startPeriod: 0, limit: 16 }] },
    ...x,
  };
}

const relative = (x: Partial<Profile>) => p({ kind: 'Relative', schedule: { chargingRateUnit: 'A', periods: [{ startPeriod: 0, limit: 10 }] }, ...x });

interface Case {
  name: string;
  profile: Profile;
  rules?: Partial<ProfileRules>;
  installed?: Profile[];
  remoteStart?: boolean;
  expect: 'ok' | ProfileRejectReason;
}

const cases: Case[] = [
  { name: 'TxDefault on EVSE 0, Absolute with startSchedule', profile: p({ evseId: 0 }), expect: 'ok' },
  { name: 'K01.FR.28 unknown EVSE', profile: p({ evseId: 3 }), expect: 'UnknownEvse' },
  { name: 'K01.FR.03 / 1.6: ChargingStationMax only on EVSE 0', profile: p({ purpose: 'ChargingStationMaxProfile' }), expect: 'StationProfileOnEvse' },
  { name: 'K01.FR.38 ChargingStationMax not Relative', profile: relative({ evseId: 0, purpose: 'ChargingStationMaxProfile' }), expect: 'RelativeStationMax' },
  { name: 'K01.FR.16 TxProfile not on EVSE 0', profile: relative({ evseId: 0, purpose: 'TxProfile', transactionId: 'tx-1' }), expect: 'TxProfileOnStation' },
  { name: 'K01.FR.09 TxProfile without a transaction on the EVSE', profile: relative({ evseId: 2, purpose: 'TxProfile', transactionId: 'tx-1' }), expect: 'NoActiveTransaction' },
  { name: 'K01.FR.16 TxProfile without transactionId (2.0.1)', profile: relative({ purpose: 'TxProfile' }), expect: 'TransactionIdMissing' },
  {
    name: '1.6: TxProfile without transactionId applies to the running transaction',
    profile: relative({ purpose: 'TxProfile' }),
    rules: { protocol: 'ocpp1.6' },
    expect: 'ok',
  },
  { name: 'K01.FR.33 TxProfile with a wrong transactionId', profile: relative({ purpose: 'TxProfile', transactionId: 'tx-9' }), expect: 'TransactionIdMismatch' },
  { name: 'TxProfile with the running transaction', profile: relative({ purpose: 'TxProfile', transactionId: 'tx-1' }), expect: 'ok' },
  {
    name: 'RemoteStart profile is checked without a transaction',
    profile: relative({ evseId: 2, purpose: 'TxProfile' }),
    remoteStart: true,
    expect: 'ok',
  },
  { name: 'K01.FR.22 ExternalConstraints are not set by the CSMS', profile: p({ evseId: 0, purpose: 'ChargingStationExternalConstraints' }), expect: 'ExternalConstraintsNotAllowed' },
  {
    name: 'K01.FR.40 Absolute without startSchedule (2.0.1)',
    profile: p({ schedule: { chargingRateUnit: 'A', periods: [{ startPeriod: 0, limit: 16 }] } }),
    expect: 'MissingStartSchedule',
  },
  {
    name: '1.6 accepts Absolute without startSchedule (starts when installed)',
    profile: p({ schedule: { chargingRateUnit: 'A', periods: [{ startPeriod: 0, limit: 16 }] } }),
    rules: { protocol: 'ocpp1.6' },
    expect: 'ok',
  },
  {
    name: 'K01.FR.41 Relative with startSchedule',
    profile: p({ kind: 'Relative' }),
    expect: 'UnexpectedStartSchedule',
  },
  { name: 'Recurring needs recurrencyKind', profile: p({ kind: 'Recurring' }), expect: 'MissingRecurrencyKind' },
  { name: 'Recurring Daily', profile: p({ kind: 'Recurring', recurrencyKind: 'Daily' }), expect: 'ok' },
  {
    name: 'K01.FR.31 first startPeriod must be 0',
    profile: p({ schedule: { startSchedule: NOW, chargingRateUnit: 'A', periods: [{ startPeriod: 60, limit: 16 }] } }),
    expect: 'FirstPeriodNotZero',
  },
  {
    name: 'K01.FR.35 startPeriods increase',
    profile: p({
      schedule: {
        startSchedule: NOW,
        chargingRateUnit: 'A',
        periods: [
          { startPeriod: 0, limit: 16 },
          { startPeriod: 600, limit: 8 },
          { startPeriod: 600, limit: 6 },
        ],
      },
    }),
    expect: 'PeriodsNotIncreasing',
  },
  {
    name: 'K01.FR.26 unsupported rate unit',
    profile: p({ schedule: { startSchedule: NOW, chargingRateUnit: 'W', periods: [{ startPeriod: 0, limit: 11000 }] } }),
    rules: { rateUnits: ['A'] },
    expect: 'UnsupportedRateUnit',
  },
  { name: 'stack level above ChargeProfileMaxStackLevel / ProfileStackLevel', profile: p({ stackLevel: 9 }), expect: 'StackLevelTooHigh' },
  {
    name: 'more periods than ChargingScheduleMaxPeriods / PeriodsPerSchedule',
    profile: p({
      schedule: {
        startSchedule: NOW,
        chargingRateUnit: 'A',
        periods: [0, 1, 2, 3, 4, 5].map((i) => ({ startPeriod: i * 60, limit: 16 })),
      },
    }),
    expect: 'TooManyPeriods',
  },
  {
    name: 'more profiles than MaxChargingProfilesInstalled / Entries',
    profile: p({ stackLevel: 4 }),
    installed: [p({ stackLevel: 1 }), p({ stackLevel: 2 }), p({ stackLevel: 3 })],
    expect: 'TooManyProfiles',
  },
  {
    name: 'a replacement does not count against the maximum',
    profile: p({ stackLevel: 3 }),
    installed: [p({ stackLevel: 1 }), p({ stackLevel: 2 }), p({ stackLevel: 3 })],
    expect: 'ok',
  },
  { name: 'validTo in the past', profile: p({ validTo: NOW - 1000 }), expect: 'InvalidValidity' },
  { name: 'validTo before validFrom', profile: p({ validFrom: NOW + 2000, validTo: NOW + 1000 }), expect: 'InvalidValidity' },
  {
    name: 'K01.FR.19/20 phaseToUse without phase switching',
    profile: p({ schedule: { startSchedule: NOW, chargingRateUnit: 'A', periods: [{ startPeriod: 0, limit: 16, numberPhases: 1, phaseToUse: 2 }] } }),
    expect: 'PhaseToUseNotAllowed',
  },
];

for (const c of cases) {
  test(`validateProfile: ${c.name}`, () => {
    const r = validateProfile(c.profile, c.installed ?? [], rules(c.rules), NOW, { remoteStart: c.remoteStart ?? false });
    assert.equal(r.ok ? 'ok' : r.reason, c.expect, r.ok ? '' : r.detail);
  });
}

test('store: same id replaces across EVSEs (K01.FR.05)', () => {
  const s = new ProfileStore();
  s.install(p({ id: 500, evseId: 1 }));
  s.install(p({ id: 500, evseId: 2, stackLevel: 3 }));
  assert.deepEqual(
    s.all().map((x) => [x.id, x.evseId, x.stackLevel]),
    [[500, 2, 3]],
  );
});

test('store: same stackLevel + purpose on the same EVSE replaces; on another EVSE it does not', () => {
  const s = new ProfileStore();
  s.install(p({ id: 1, evseId: 1, stackLevel: 2 }));
  s.install(p({ id: 2, evseId: 2, stackLevel: 2 }));
  s.install(p({ id: 3, evseId: 1, stackLevel: 2 }));
  assert.deepEqual(s.all().map((x) => x.id).sort(), [2, 3]);
});

test('store: ClearChargingProfile by id, by criteria, all (TC_067 / K10)', () => {
  const s = new ProfileStore();
  s.install(p({ id: 1, evseId: 0, purpose: 'ChargingStationMaxProfile' }));
  s.install(p({ id: 2, evseId: 1, stackLevel: 1 }));
  s.install(p({ id: 3, evseId: 1, stackLevel: 2 }));
  s.install(p({ id: 4, evseId: 2, stackLevel: 1 }));
  assert.equal(s.clear({ id: 99 }), 0, 'unknown id → Unknown');
  assert.equal(s.clear({ id: 1 }), 1);
  assert.equal(s.clear({ purpose: 'TxDefaultProfile', stackLevel: 1 }), 2, 'AND of criteria across EVSEs');
  assert.deepEqual(s.all().map((x) => x.id), [3]);
  assert.equal(s.clear({ evseId: 2 }), 0);
  assert.equal(s.clear({}), 1, 'no criteria clears all');
  assert.equal(s.all().length, 0);
});

test('store: TxProfiles go with their transaction', () => {
  const s = new ProfileStore();
  s.install(relative({ id: 1, purpose: 'TxProfile', transactionId: 'tx-1' }));
  s.install(p({ id: 2 }));
  assert.equal(s.removeTransactionProfiles(1), 1);
  assert.deepEqual(s.all().map((x) => x.id), [2]);
});

test('from16 maps ChargePointMaxProfile, the integer transaction id and dates', () => {
  const m = from16(
    0,
    {
      chargingProfileId: 7,
      stackLevel: 1,
      chargingProfilePurpose: 'ChargePointMaxProfile',
      chargingProfileKind: 'Absolute',
      validFrom: '2025-01-01T09:00:00Z',
      chargingSchedule: { startSchedule: '2025-01-01T10:00:00Z', chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 22000.5 }] },
    },
    NOW,
  );
  assert.ok(m.ok);
  assert.equal(m.profile.purpose, 'ChargingStationMaxProfile');
  assert.equal(m.profile.validFrom, Date.parse('2025-01-01T09:00:00Z'));
  assert.equal(m.profile.schedule.startSchedule, NOW);
  const tx = from16(1, { chargingProfileId: 8, transactionId: 42, stackLevel: 0, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Relative', chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 6 }] } }, NOW);
  assert.ok(tx.ok && tx.profile.transactionId === '42');
  const bad = from16(1, { chargingProfileId: 9, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute', validTo: 'yesterday', chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 6 }] } }, NOW);
  assert.equal(bad.ok, false);
});

test('from201 executes the first schedule and keeps the CSMS object for reports', () => {
  const raw = {
    id: 3,
    stackLevel: 0,
    chargingProfilePurpose: 'TxDefaultProfile' as const,
    chargingProfileKind: 'Absolute' as const,
    chargingSchedule: [
      { id: 1, startSchedule: '2025-01-01T10:00:00Z', chargingRateUnit: 'A' as const, chargingSchedulePeriod: [{ startPeriod: 0, limit: 10, numberPhases: 1 }] },
      { id: 2, startSchedule: '2025-01-01T10:00:00Z', chargingRateUnit: 'A' as const, chargingSchedulePeriod: [{ startPeriod: 0, limit: 20 }] },
    ],
  };
  const m = from201(1, raw, NOW);
  assert.ok(m.ok);
  assert.deepEqual(m.profile.schedule.periods, [{ startPeriod: 0, limit: 10, numberPhases: 1 }]);
  assert.equal(m.profile.raw201, raw);
});
