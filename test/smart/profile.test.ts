/** src/smart/profile.ts: one model, mappers to/from OCPP 1.6 and 2.0.1, round trips. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import { fromOcpp16, fromOcpp201, replacedBy, toOcpp16, toOcpp201, type ChargingProfile, type MappingIssue } from '../../src/smart/profile.js';
import { at, profile } from './helpers.js';

const wire16: Array<{ name: string; req: OCPP16.SetChargingProfileRequest }> = [
  {
    name: 'TxDefaultProfile Absolute on connector 0 with validity, duration, numberPhases and minChargingRate',
    req: {
      connectorId: 0,
      csChargingProfiles: {
        chargingProfileId: 7,
        stackLevel: 0,
        chargingProfilePurpose: 'TxDefaultProfile',
        chargingProfileKind: 'Absolute',
        validFrom: '2024-03-01T10:00:00.000Z',
        validTo: '2024-03-02T10:00:00.000Z',
        chargingSchedule: {
          duration: 86_400,
          startSchedule: '2024-03-01T10:00:00.000Z',
          chargingRateUnit: 'A',
          chargingSchedulePeriod: [
            { startPeriod: 0, limit: 16 },
            { startPeriod: 3600, limit: 8.5, numberPhases: 1 },
          ],
          minChargingRate: 6,
        },
      },
    },
  },
  {
    name: 'TxProfile Relative with integer transactionId (OCTT TC_057 shape)',
    req: {
      connectorId: 1,
      csChargingProfiles: {
        chargingProfileId: 8,
        transactionId: 42,
        stackLevel: 1,
        chargingProfilePurpose: 'TxProfile',
        chargingProfileKind: 'Relative',
        chargingSchedule: { chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 11_000 }] },
      },
    },
  },
  {
    name: 'ChargePointMaxProfile Recurring Daily',
    req: {
      connectorId: 0,
      csChargingProfiles: {
        chargingProfileId: 1,
        stackLevel: 2,
        chargingProfilePurpose: 'ChargePointMaxProfile',
        chargingProfileKind: 'Recurring',
        recurrencyKind: 'Daily',
        chargingSchedule: {
          startSchedule: '2024-01-01T00:00:00.000Z',
          chargingRateUnit: 'A',
          chargingSchedulePeriod: [
            { startPeriod: 0, limit: 32 },
            { startPeriod: 28_800, limit: 20 },
          ],
        },
      },
    },
  },
];

const wire201: Array<{ name: string; evseId: number; cp: OCPP20.SetChargingProfileRequest['chargingProfile'] }> = [
  {
    name: 'TxProfile with string transactionId, two schedules and phaseToUse',
    evseId: 2,
    cp: {
      id: 11,
      stackLevel: 3,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Absolute',
      transactionId: 'b3f1c7e0-tx',
      chargingSchedule: [
        {
          id: 1,
          startSchedule: '2024-03-01T12:00:00.000Z',
          duration: 7200,
          chargingRateUnit: 'W',
          chargingSchedulePeriod: [
            { startPeriod: 0, limit: 22_000 },
            { startPeriod: 1800, limit: 3680, numberPhases: 1, phaseToUse: 2 },
          ],
        },
        { id: 2, startSchedule: '2024-03-01T12:00:00.000Z', chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }] },
      ],
    },
  },
  {
    name: 'ChargingStationExternalConstraints Weekly with validity',
    evseId: 0,
    cp: {
      id: 12,
      stackLevel: 0,
      chargingProfilePurpose: 'ChargingStationExternalConstraints',
      chargingProfileKind: 'Recurring',
      recurrencyKind: 'Weekly',
      validFrom: '2024-01-01T00:00:00.000Z',
      validTo: '2025-01-01T00:00:00.000Z',
      chargingSchedule: [
        { id: 5, startSchedule: '2024-01-01T00:00:00.000Z', chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 40 }], minChargingRate: 6 },
      ],
    },
  },
];

describe('OCPP 1.6 round trip: wire → model → wire', () => {
  for (const c of wire16) {
    test(c.name, () => {
      const model = fromOcpp16(c.req.connectorId, c.req.csChargingProfiles);
      assert.deepEqual(toOcpp16(model), { ok: true, value: c.req });
    });
  }
  test('ChargePointMaxProfile ↔ ChargingStationMaxProfile; connector n ↔ EVSE n; integer ↔ decimal-text transactionId', () => {
    const [max, tx] = [wire16[2]!, wire16[1]!];
    const m = fromOcpp16(max.req.connectorId, max.req.csChargingProfiles);
    assert.equal(m.chargingProfilePurpose, 'ChargingStationMaxProfile');
    assert.equal(m.evseId, 0);
    const t = fromOcpp16(tx.req.connectorId, tx.req.csChargingProfiles);
    assert.equal(t.transactionId, '42');
    assert.equal(t.evseId, 1);
    assert.equal(t.chargingSchedule[0]?.id, 8, '1.6 has no schedule id: the profile id is used');
  });
  test('ISO strings become epoch ms and come back normalised', () => {
    const m = fromOcpp16(0, { ...wire16[0]!.req.csChargingProfiles, validFrom: '2024-03-01T11:00:00+01:00' });
    assert.equal(m.validFrom, at('2024-03-01T10:00:00Z'));
    const back = toOcpp16(m);
    assert.ok(back.ok);
    assert.equal(back.value.csChargingProfiles.validFrom, '2024-03-01T10:00:00.000Z');
  });
});

describe('OCPP 2.0.1 round trip: wire → model → wire', () => {
  for (const c of wire201) {
    test(c.name, () => {
      const model = fromOcpp201(c.evseId, c.cp);
      assert.deepEqual(toOcpp201(model), { evseId: c.evseId, chargingProfile: c.cp });
    });
  }
});

describe('model → wire → model', () => {
  const models: Array<{ name: string; p: ChargingProfile }> = [
    {
      name: 'TxDefault Relative on EVSE 3 (schedule id = profile id so 1.6 can carry it)',
      p: profile({ id: 21, evseId: 3, purpose: 'TxDefaultProfile', kind: 'Relative', periods: '0:6 600:16@1', duration: 3600 }),
    },
    {
      name: 'TxProfile with transactionId "77" and validity',
      p: profile({
        id: 22,
        evseId: 1,
        purpose: 'TxProfile',
        transactionId: '77',
        startSchedule: at('2024-03-01T10:00:00Z'),
        validFrom: at('2024-03-01T10:00:00Z'),
        validTo: at('2024-03-01T12:00:00Z'),
        unit: 'W',
        periods: '0:11000 1800:0',
        minChargingRate: 4140,
      }),
    },
  ];
  for (const c of models) {
    test(`${c.name} via 1.6`, () => {
      const w = toOcpp16(c.p);
      assert.ok(w.ok);
      assert.deepEqual(fromOcpp16(w.value.connectorId, w.value.csChargingProfiles), c.p);
    });
    test(`${c.name} via 2.0.1`, () => {
      const w = toOcpp201(c.p);
      assert.deepEqual(fromOcpp201(w.evseId, w.chargingProfile), c.p);
    });
  }
  test('1.6 → model → 2.0.1: the same profile in the other version', () => {
    const m = fromOcpp16(1, wire16[1]!.req.csChargingProfiles);
    assert.deepEqual(toOcpp201(m), {
      evseId: 1,
      chargingProfile: {
        id: 8,
        stackLevel: 1,
        chargingProfilePurpose: 'TxProfile',
        chargingProfileKind: 'Relative',
        transactionId: '42',
        chargingSchedule: [{ id: 8, chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 11_000 }] }],
      },
    });
  });
});

describe('what 1.6 cannot express → enumerated mapping issues', () => {
  const base = profile({ id: 30, evseId: 1, purpose: 'TxProfile', transactionId: '5', kind: 'Relative', periods: '0:16' });
  const second = base.chargingSchedule[0]!;
  const cases: Array<{ name: string; p: ChargingProfile; issues: MappingIssue[] }> = [
    { name: 'ChargingStationExternalConstraints', p: profile({ id: 32, purpose: 'ChargingStationExternalConstraints', kind: 'Relative', periods: '0:16' }), issues: ['ExternalConstraintsNotIn16'] },
    { name: 'two schedules', p: { ...base, chargingSchedule: [second, { ...second, id: 2 }] }, issues: ['MultipleSchedulesNotIn16'] },
    { name: 'phaseToUse', p: profile({ id: 31, evseId: 1, purpose: 'TxDefaultProfile', kind: 'Relative', periods: '0:16@1>2' }), issues: ['PhaseToUseNotIn16'] },
    { name: 'non-integer transactionId', p: { ...base, transactionId: 'abc-1' }, issues: ['TransactionIdNotInteger'] },
    { name: 'no schedule', p: { ...base, chargingSchedule: [] }, issues: ['NoSchedule'] },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(toOcpp16(c.p), { ok: false, issues: c.issues }));
  }
});

describe('replacedBy: what an install replaces in the shadow store', () => {
  const installed = [
    profile({ id: 1, evseId: 1, stackLevel: 0, purpose: 'TxDefaultProfile', periods: '0:16' }),
    profile({ id: 2, evseId: 1, stackLevel: 1, purpose: 'TxDefaultProfile', periods: '0:16' }),
    profile({ id: 3, evseId: 2, stackLevel: 1, purpose: 'TxDefaultProfile', periods: '0:16' }),
  ];
  const cases: Array<{ name: string; p: ChargingProfile; version: '1.6' | '2.0.1'; replaces: number[] }> = [
    { name: 'K01.FR.05 same id replaces (2.0.1)', p: profile({ id: 2, evseId: 1, stackLevel: 5, purpose: 'TxDefaultProfile', periods: '0:6' }), version: '2.0.1', replaces: [2] },
    { name: '1.6 §3.13 same stackLevel + purpose on the connector replaces', p: profile({ id: 9, evseId: 1, stackLevel: 1, purpose: 'TxDefaultProfile', periods: '0:6' }), version: '1.6', replaces: [2] },
    { name: '2.0.1: same stackLevel + purpose does not replace (it is a K01.FR.06 error)', p: profile({ id: 9, evseId: 1, stackLevel: 1, purpose: 'TxDefaultProfile', periods: '0:6' }), version: '2.0.1', replaces: [] },
    { name: '1.6: other connector is not replaced', p: profile({ id: 9, evseId: 3, stackLevel: 1, purpose: 'TxDefaultProfile', periods: '0:6' }), version: '1.6', replaces: [] },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(replacedBy(installed, c.p, c.version), c.replaces));
});
