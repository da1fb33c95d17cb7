/**
 * src/smart/composite.ts: composite schedules with hand-computed expectations (period DSL, see helpers),
 * the protocols.md §3.1 edge cases, OCTT-shaped fixtures, and a seeded property test.
 *
 * Defaults unless a row says otherwise: now = Fri 2024-03-01T10:00:00Z, EVSE 1, 3φ 32 A 230 V, unit A.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compositeSchedule, limitAt, type CompositeRequest, type EvseLimits, type TransactionContext } from '../../src/smart/composite.js';
import { fromOcpp16, fromOcpp201, type ChargingProfile } from '../../src/smart/profile.js';
import { amps, convertRate, epochMs, floorTenth, seconds, volts, type EpochMs, type RateUnit } from '../../src/smart/units.js';
import { at, int, pick, profile, render, rng } from './helpers.js';

const NOW = at('2024-03-01T10:00:00Z');
const EVSE_3P: EvseLimits = { maxCurrentA: amps(32), phases: 3, voltage: volts(230) };
const EVSE_1P: EvseLimits = { maxCurrentA: amps(32), phases: 1, voltage: volts(230) };
const GRID: EvseLimits = { maxCurrentA: amps(63), phases: 3, voltage: volts(230) };
const TX: TransactionContext = { id: 'T1', start: at('2024-03-01T09:30:00Z') };
const EARLIER = at('2024-03-01T09:00:00Z');

interface Case {
  name: string;
  profiles: ChargingProfile[];
  expect: string;
  evseId?: number;
  now?: EpochMs;
  duration: number;
  unit?: RateUnit;
  tx?: TransactionContext;
  evse?: EvseLimits;
  minChargingRate?: number;
}

function run(c: Case) {
  const req: CompositeRequest = {
    profiles: c.profiles,
    evseId: c.evseId ?? 1,
    now: c.now ?? NOW,
    duration: seconds(c.duration),
    unit: c.unit ?? 'A',
    evse: c.evse ?? EVSE_3P,
  };
  if (c.tx !== undefined) req.transaction = c.tx;
  return compositeSchedule(req);
}

function table(cases: Case[]): void {
  for (const c of cases) {
    test(c.name, () => {
      const r = run(c);
      assert.equal(render(r), c.expect);
      assert.equal(r.minChargingRate, c.minChargingRate);
    });
  }
}

const txDefault = (o: Partial<Parameters<typeof profile>[0]> & { periods: string }) =>
  profile({ evseId: 1, purpose: 'TxDefaultProfile', startSchedule: EARLIER, ...o });

describe('basics: physical maximum, Absolute, gaps', () => {
  table([
    { name: 'no profile: the physical maximum (a gap has no profile value)', profiles: [], duration: 3600, expect: '0:32' },
    { name: 'no profile, W on 3φ: 32 A × 230 V × 3 = 22080 W', profiles: [], duration: 3600, unit: 'W', expect: '0:22080' },
    { name: 'no profile, W on a 1φ EVSE: 7360 W, numberPhases 1', profiles: [], duration: 3600, unit: 'W', evse: EVSE_1P, expect: '0:7360@1' },
    { name: 'no profile, A on a 1φ EVSE', profiles: [], duration: 3600, evse: EVSE_1P, expect: '0:32@1' },
    { name: 'Absolute TxDefault 16 A from now', profiles: [txDefault({ startSchedule: NOW, periods: '0:16' })], duration: 3600, expect: '0:16' },
    {
      name: 'Absolute starting in 10 min for 1 h: physical maximum before and after',
      profiles: [txDefault({ startSchedule: at('2024-03-01T10:10:00Z'), duration: 3600, periods: '0:16' })],
      duration: 7200,
      expect: '0:32 600:16 4200:32',
    },
    {
      name: 'first startPeriod > 0 (invalid, K01.FR.31): no value before it',
      profiles: [txDefault({ startSchedule: NOW, periods: '600:10' })],
      duration: 3600,
      expect: '0:32 600:10',
    },
    { name: 'physical maximum caps a profile above it', profiles: [txDefault({ periods: '0:40' })], duration: 600, expect: '0:32' },
    { name: 'limit 0 is a pause and stays 0', profiles: [txDefault({ periods: '0:0' })], duration: 600, expect: '0:0' },
    { name: 'equal adjacent periods merge', profiles: [txDefault({ startSchedule: NOW, periods: '0:16 600:16 1200:10' })], duration: 3600, expect: '0:16 1200:10' },
    { name: 'window shorter than the next change: one period', profiles: [txDefault({ startSchedule: NOW, periods: '0:16 900:10' })], duration: 600, expect: '0:16' },
    { name: 'TxDefault on EVSE 2 does not apply to EVSE 1', profiles: [txDefault({ evseId: 2, periods: '0:10' })], duration: 600, expect: '0:32' },
  ]);

  test('duration 0: the limit in force at now', () => {
    const r = run({ name: '', profiles: [txDefault({ periods: '0:16' })], duration: 0, expect: '' });
    assert.equal(r.duration, 0);
    assert.equal(render(r), '0:16');
  });
  test('now with milliseconds: scheduleStart truncated to the second', () => {
    const r = run({ name: '', profiles: [], duration: 60, now: epochMs(NOW + 600), expect: '' });
    assert.equal(r.scheduleStart, NOW);
    assert.equal(r.evseId, 1);
    assert.equal(r.chargingRateUnit, 'A');
  });
});

describe('stacking within a purpose', () => {
  table([
    {
      name: '1.6 §3.13 stackLevel 1 over 0 while its duration lasts, then back to 0',
      profiles: [
        txDefault({ stackLevel: 0, periods: '0:20' }),
        txDefault({ stackLevel: 1, startSchedule: at('2024-03-01T10:30:00Z'), duration: 1800, periods: '0:10' }),
      ],
      duration: 7200,
      expect: '0:20 1800:10 3600:20',
    },
    {
      name: '1.6 §3.13 no duration at the top level: never falls back',
      profiles: [txDefault({ stackLevel: 0, periods: '0:20' }), txDefault({ stackLevel: 1, startSchedule: at('2024-03-01T10:30:00Z'), periods: '0:10' })],
      duration: 7200,
      expect: '0:20 1800:10',
    },
    {
      name: 'a higher stack level wins even when its limit is higher (stacking is not a minimum)',
      profiles: [txDefault({ stackLevel: 0, periods: '0:8' }), txDefault({ stackLevel: 3, periods: '0:24' })],
      duration: 600,
      expect: '0:24',
    },
    {
      name: 'validTo cuts the top profile; the lower level applies after',
      profiles: [txDefault({ stackLevel: 0, periods: '0:20' }), txDefault({ stackLevel: 1, validTo: at('2024-03-01T10:30:00Z'), periods: '0:10' })],
      duration: 3600,
      expect: '0:10 1800:20',
    },
    {
      name: 'validFrom in the future: the lower level until then',
      profiles: [txDefault({ stackLevel: 0, periods: '0:20' }), txDefault({ stackLevel: 1, validFrom: at('2024-03-01T10:30:00Z'), periods: '0:10' })],
      duration: 3600,
      expect: '0:20 1800:10',
    },
    {
      name: 'interpretation: EVSE-specific TxDefault wins a stack-level tie with the station-wide one (even if higher)',
      profiles: [txDefault({ evseId: 0, stackLevel: 1, periods: '0:10' }), txDefault({ evseId: 1, stackLevel: 1, periods: '0:14' })],
      duration: 600,
      expect: '0:14',
    },
    {
      name: 'interpretation: a station-wide TxDefault with a higher stack level beats an EVSE-specific one',
      profiles: [txDefault({ evseId: 0, stackLevel: 2, periods: '0:20' }), txDefault({ evseId: 1, stackLevel: 1, periods: '0:14' })],
      duration: 600,
      expect: '0:20',
    },
    {
      name: 'interpretation: a station-wide TxDefault fills the gaps of a higher EVSE-specific one',
      profiles: [
        txDefault({ evseId: 0, stackLevel: 0, periods: '0:20' }),
        txDefault({ evseId: 1, stackLevel: 1, startSchedule: NOW, duration: 600, periods: '0:14' }),
      ],
      duration: 1200,
      expect: '0:14 600:20',
    },
    {
      name: 'two profiles tied on level and scope (invalid, K01.FR.06): the lower applies',
      profiles: [txDefault({ stackLevel: 1, periods: '0:14' }), txDefault({ stackLevel: 1, periods: '0:12' })],
      duration: 600,
      expect: '0:12',
    },
  ]);
});

describe('TxProfile over TxDefault, minimum across purposes', () => {
  const txp = (o: Partial<Parameters<typeof profile>[0]> & { periods: string }) =>
    profile({ evseId: 1, purpose: 'TxProfile', kind: 'Relative', transactionId: 'T1', ...o });
  table([
    {
      name: 'TxProfile overrules TxDefault for its transaction, whatever the stack levels',
      profiles: [txDefault({ stackLevel: 5, periods: '0:10' }), txp({ stackLevel: 0, periods: '0:16' })],
      tx: TX,
      duration: 600,
      expect: '0:16',
    },
    { name: 'TxProfile of another transaction does not apply', profiles: [txDefault({ periods: '0:10' }), txp({ transactionId: 'T2', periods: '0:16' })], tx: TX, duration: 600, expect: '0:10' },
    { name: 'TxProfile without a transaction does not apply', profiles: [txDefault({ periods: '0:10' }), txp({ periods: '0:16' })], duration: 600, expect: '0:10' },
    {
      name: 'Relative TxProfile from transaction start (09:30) for 45 min, then TxDefault again',
      profiles: [txDefault({ periods: '0:10' }), txp({ duration: 2700, periods: '0:16' })],
      tx: TX,
      duration: 3600,
      expect: '0:16 900:10',
    },
    {
      name: 'Relative period chosen by time since transaction start: 30 min in at now',
      profiles: [txp({ periods: '0:6 3600:16' })],
      tx: TX,
      duration: 3600,
      expect: '0:6 1800:16',
    },
    { name: 'highest TxProfile stack level', profiles: [txp({ stackLevel: 0, periods: '0:16' }), txp({ stackLevel: 2, periods: '0:8' })], tx: TX, duration: 600, expect: '0:8' },
    {
      name: '1.6 remote-start TxProfile without transactionId belongs to the current transaction',
      profiles: [txDefault({ periods: '0:10' }), txp({ transactionId: undefined, periods: '0:16' })],
      tx: TX,
      duration: 600,
      expect: '0:16',
    },
    {
      name: 'min(StationMax 12, TxDefault 16) = 12',
      profiles: [profile({ purpose: 'ChargingStationMaxProfile', startSchedule: EARLIER, periods: '0:12' }), txDefault({ periods: '0:16' })],
      duration: 600,
      expect: '0:12',
    },
    {
      name: 'ExternalConstraints below StationMax and TxDefault',
      profiles: [
        profile({ purpose: 'ChargingStationMaxProfile', startSchedule: EARLIER, periods: '0:20' }),
        profile({ purpose: 'ChargingStationExternalConstraints', startSchedule: EARLIER, periods: '0:8' }),
        txDefault({ periods: '0:16' }),
      ],
      duration: 600,
      expect: '0:8',
    },
    {
      name: 'EVSE-specific External and station Max both apply on the EVSE',
      profiles: [
        profile({ purpose: 'ChargingStationMaxProfile', startSchedule: EARLIER, periods: '0:20' }),
        profile({ evseId: 1, purpose: 'ChargingStationExternalConstraints', startSchedule: EARLIER, periods: '0:9' }),
      ],
      duration: 600,
      expect: '0:9',
    },
    {
      name: 'EVSE 0 is the grid connection: Max/External only, TxDefault ignored',
      profiles: [profile({ purpose: 'ChargingStationMaxProfile', startSchedule: EARLIER, periods: '0:40' }), txDefault({ evseId: 0, periods: '0:10' })],
      evseId: 0,
      evse: GRID,
      duration: 600,
      expect: '0:40',
    },
    {
      name: 'EVSE 0: an EVSE-specific External does not limit the grid connection',
      profiles: [profile({ evseId: 1, purpose: 'ChargingStationExternalConstraints', startSchedule: EARLIER, periods: '0:5' })],
      evseId: 0,
      evse: GRID,
      duration: 600,
      expect: '0:63',
    },
  ]);
});

describe('protocols.md §3.1 edge cases', () => {
  const daily = (o: Partial<Parameters<typeof profile>[0]>) =>
    txDefault({ stackLevel: 1, kind: 'Recurring', recurrency: 'Daily', startSchedule: at('2024-02-28T12:00:00Z'), periods: '0:16 21600:8', ...o });
  table([
    {
      name: 'Relative TxDefault with future validFrom, in a transaction since 09:30: from 10:20 at its 50-min period',
      profiles: [
        txDefault({ kind: 'Relative', startSchedule: undefined, periods: '0:20' }),
        txDefault({ stackLevel: 1, kind: 'Relative', startSchedule: undefined, validFrom: at('2024-03-01T10:20:00Z'), periods: '0:6 1800:10' }),
      ],
      tx: TX,
      duration: 3600,
      expect: '0:20 1200:10',
    },
    {
      name: 'Relative TxDefault with future validFrom, no transaction: Relative starts now, valid from 10:20',
      profiles: [
        txDefault({ kind: 'Relative', startSchedule: undefined, periods: '0:20' }),
        txDefault({ stackLevel: 1, kind: 'Relative', startSchedule: undefined, validFrom: at('2024-03-01T10:20:00Z'), periods: '0:6 1800:10' }),
      ],
      duration: 3600,
      expect: '0:20 1200:6 1800:10',
    },
    {
      name: 'Daily Recurring 12:00, plug-in 11:50: yesterday’s last period (8 A) until 12:00, then 16 A',
      profiles: [daily({})],
      now: at('2024-03-01T11:50:00Z'),
      duration: 3600,
      expect: '0:8 600:16',
    },
    {
      name: 'Daily Recurring with an anchor in the future recurs backwards too (interpretation; validFrom bounds it)',
      profiles: [daily({ startSchedule: at('2024-03-05T12:00:00Z') })],
      now: at('2024-03-01T11:50:00Z'),
      duration: 3600,
      expect: '0:8 600:16',
    },
    {
      name: 'duration (8 h) shorter than the recurrence (24 h): gap 20:00–12:00 filled by the lower level',
      profiles: [txDefault({ stackLevel: 0, periods: '0:20' }), daily({ duration: 28_800 })],
      now: at('2024-03-01T11:50:00Z'),
      duration: 32_400,
      expect: '0:20 600:16 22200:8 29400:20',
    },
    {
      name: 'Weekly Recurring anchored Monday 00:00: Friday 22:00 weekday limit, Saturday 00:00 weekend limit',
      profiles: [txDefault({ kind: 'Recurring', recurrency: 'Weekly', startSchedule: at('2024-02-26T00:00:00Z'), periods: '0:10 432000:16' })],
      now: at('2024-03-01T22:00:00Z'),
      duration: 14_400,
      expect: '0:10 7200:16',
    },
    {
      name: 'Daily Recurring across midnight with two occurrences in the window',
      profiles: [txDefault({ kind: 'Recurring', recurrency: 'Daily', startSchedule: at('2024-01-01T00:00:00Z'), periods: '0:10 25200:16 79200:10' })],
      now: at('2024-03-01T20:00:00Z'),
      duration: 43_200,
      expect: '0:16 7200:10 39600:16',
    },
  ]);
});

describe('W ↔ A with phases and voltage, floor 0.1, minChargingRate', () => {
  table([
    { name: 'W TxDefault → A on 3φ: 11 000 W / (230 V × 3) = 15.94 → 15.9', profiles: [txDefault({ unit: 'W', periods: '0:11000' })], duration: 600, expect: '0:15.9' },
    { name: 'W TxDefault numberPhases 1 → A: 7360 W / 230 V = 32 A on one phase', profiles: [txDefault({ unit: 'W', periods: '0:7360@1' })], duration: 600, expect: '0:32@1' },
    { name: 'A TxDefault → W on a 1φ EVSE: 16 A × 230 V × 1 = 3680 W', profiles: [txDefault({ periods: '0:16' })], evse: EVSE_1P, unit: 'W', duration: 600, expect: '0:3680@1' },
    { name: 'A TxDefault numberPhases 1 on a 3φ EVSE → W: 3680 W on one phase', profiles: [txDefault({ periods: '0:16@1' })], unit: 'W', duration: 600, expect: '0:3680@1' },
    { name: 'W on a 1φ EVSE → A: 11 000 W / 230 V = 47.8 → capped at 32', profiles: [txDefault({ unit: 'W', periods: '0:11000' })], evse: EVSE_1P, duration: 600, expect: '0:32@1' },
    {
      name: 'mixed units in A: StationMax 16 A vs TxDefault 7000 W (10.14 A) → 10.1',
      profiles: [profile({ purpose: 'ChargingStationMaxProfile', startSchedule: EARLIER, periods: '0:16' }), txDefault({ unit: 'W', periods: '0:7000' })],
      duration: 600,
      expect: '0:10.1',
    },
    {
      name: 'mixed units in W: StationMax 16 A (11 040 W) vs TxDefault 7000 W → 7000',
      profiles: [profile({ purpose: 'ChargingStationMaxProfile', startSchedule: EARLIER, periods: '0:16' }), txDefault({ unit: 'W', periods: '0:7000' })],
      unit: 'W',
      duration: 600,
      expect: '0:7000',
    },
    {
      name: 'phases switch 3 → 1 mid-window: W limit re-converted per period',
      profiles: [txDefault({ startSchedule: NOW, unit: 'W', periods: '0:6900 600:6900@1' })],
      duration: 1200,
      expect: '0:10 600:30@1',
    },
    { name: 'a W limit below 6 A is reported as is (1000 W → 1.4 A; pausing is the sender’s policy)', profiles: [txDefault({ unit: 'W', periods: '0:1000' })], duration: 600, expect: '0:1.4' },
    { name: 'minChargingRate carried through (A)', profiles: [txDefault({ periods: '0:16', minChargingRate: 6 })], duration: 600, expect: '0:16', minChargingRate: 6 },
    { name: 'minChargingRate converted: 6 A → 4140 W on 3φ', profiles: [txDefault({ periods: '0:16', minChargingRate: 6 })], unit: 'W', duration: 600, expect: '0:11040', minChargingRate: 4140 },
    {
      name: 'minChargingRate W → A rounded up: 1500 W / 690 = 2.17 → 2.2',
      profiles: [txDefault({ unit: 'W', periods: '0:11000', minChargingRate: 1500 })],
      duration: 600,
      expect: '0:15.9',
      minChargingRate: 2.2,
    },
  ]);
});

describe('OCTT-shaped fixtures as composite expectations (values ours, shapes per protocols.md §6)', () => {
  const iso = (t: EpochMs) => new Date(t).toISOString();
  const plus = (s: number) => epochMs(NOW + s * 1000);

  test('TC_056 (1.6) TxDefaultProfile on connector 1 → GetCompositeSchedule(1, 600, A)', () => {
    const p = fromOcpp16(1, {
      chargingProfileId: 1,
      stackLevel: 0,
      chargingProfilePurpose: 'TxDefaultProfile',
      chargingProfileKind: 'Absolute',
      validFrom: iso(NOW),
      validTo: iso(plus(300)),
      chargingSchedule: { duration: 300, startSchedule: iso(NOW), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 6 }] },
    });
    assert.equal(render(run({ name: '', profiles: [p], duration: 600, expect: '' })), '0:6 300:32');
  });

  test('TC_057 (1.6) TxProfile Relative with the generated transactionId → composite in A and W', () => {
    const p = fromOcpp16(1, {
      chargingProfileId: 2,
      transactionId: 101,
      stackLevel: 0,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Relative',
      chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 8 }] },
    });
    const tx = { id: '101', start: plus(-60) };
    assert.equal(render(run({ name: '', profiles: [p], tx, duration: 300, expect: '' })), '0:8');
    assert.equal(render(run({ name: '', profiles: [p], tx, duration: 300, unit: 'W', expect: '' })), '0:5520');
  });

  test('TC_066 (1.6) GetCompositeSchedule with ChargePointMax + TxDefault on connector 0: connector 1 and the grid', () => {
    const max = fromOcpp16(0, {
      chargingProfileId: 3,
      stackLevel: 0,
      chargingProfilePurpose: 'ChargePointMaxProfile',
      chargingProfileKind: 'Absolute',
      chargingSchedule: { startSchedule: iso(NOW), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }] },
    });
    const def = fromOcpp16(0, {
      chargingProfileId: 4,
      stackLevel: 0,
      chargingProfilePurpose: 'TxDefaultProfile',
      chargingProfileKind: 'Absolute',
      chargingSchedule: {
        startSchedule: iso(NOW),
        chargingRateUnit: 'A',
        chargingSchedulePeriod: [
          { startPeriod: 0, limit: 10 },
          { startPeriod: 120, limit: 20 },
        ],
      },
    });
    assert.equal(render(run({ name: '', profiles: [max, def], duration: 400, expect: '' })), '0:10 120:16');
    assert.equal(render(run({ name: '', profiles: [max, def], evseId: 0, evse: GRID, duration: 400, expect: '' })), '0:16');
  });

  const k01 = (limit: number, unit: RateUnit, evseId = 1) =>
    fromOcpp201(evseId, {
      id: 1,
      stackLevel: 0,
      chargingProfilePurpose: 'TxDefaultProfile',
      chargingProfileKind: 'Absolute',
      validFrom: iso(NOW),
      validTo: iso(plus(300)),
      chargingSchedule: [{ id: 1, startSchedule: iso(NOW), duration: 300, chargingRateUnit: unit, chargingSchedulePeriod: [{ startPeriod: 0, limit }] }],
    });

  test('TC_K_01 TxDefault on one EVSE, 6.0 A → 6 A for 300 s, then the EVSE maximum', () => {
    assert.equal(render(run({ name: '', profiles: [k01(6, 'A')], duration: 600, expect: '' })), '0:6 300:32');
  });
  test('TC_K_01 TxDefault 6000.0 W → A: 6000 / 690 = 8.69 → 8.6; in W: 6000 then 22080', () => {
    assert.equal(render(run({ name: '', profiles: [k01(6000, 'W')], duration: 600, expect: '' })), '0:8.6 300:32');
    assert.equal(render(run({ name: '', profiles: [k01(6000, 'W')], duration: 600, unit: 'W', expect: '' })), '0:6000 300:22080');
  });
  test('TC_K_10 TxDefault on EVSE 0 applies to every EVSE, not to the grid connection', () => {
    const p = k01(6, 'A', 0);
    for (const evseId of [1, 2]) assert.equal(render(run({ name: '', profiles: [p], evseId, duration: 600, expect: '' })), '0:6 300:32');
    assert.equal(render(run({ name: '', profiles: [p], evseId: 0, evse: GRID, duration: 600, expect: '' })), '0:63');
  });
  const k03 = fromOcpp201(0, {
    id: 3,
    stackLevel: 0,
    chargingProfilePurpose: 'ChargingStationMaxProfile',
    chargingProfileKind: 'Absolute',
    chargingSchedule: [{ id: 3, startSchedule: iso(NOW), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }] }],
  });
  test('TC_K_03 ChargingStationMaxProfile 16 A: grid connection and EVSE', () => {
    assert.equal(render(run({ name: '', profiles: [k03], evseId: 0, evse: GRID, duration: 600, expect: '' })), '0:16');
    assert.equal(render(run({ name: '', profiles: [k03], duration: 600, expect: '' })), '0:16');
  });
  const k60 = fromOcpp201(1, {
    id: 60,
    stackLevel: 0,
    chargingProfilePurpose: 'TxProfile',
    chargingProfileKind: 'Relative',
    transactionId: 'T1',
    chargingSchedule: [{ id: 60, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 13 }, { startPeriod: 2400, limit: 8 }] }],
  });
  test('TC_K_60 Relative TxProfile on the ongoing transaction overrules the K_01 TxDefault', () => {
    // transaction started 09:30 → at 10:00 it is 1800 s in; 2400 s is 10:10
    assert.equal(render(run({ name: '', profiles: [k01(6, 'A'), k60], tx: TX, duration: 1200, expect: '' })), '0:13 600:8');
  });
  test('TC_K_43 composite of an EVSE with StationMax, TxDefault and TxProfile (A and W)', () => {
    const profiles = [k03, k01(6, 'A', 0), k60];
    assert.equal(render(run({ name: '', profiles, tx: TX, duration: 1200, expect: '' })), '0:13 600:8');
    assert.equal(render(run({ name: '', profiles, tx: TX, duration: 1200, unit: 'W', expect: '' })), '0:8970 600:5520');
    // without the transaction: TxDefault 6 A for 300 s, then StationMax 16 A
    assert.equal(render(run({ name: '', profiles, duration: 1200, expect: '' })), '0:6 300:16');
  });
  test('TC_K_44 composite of the station (EVSE 0): only the StationMax', () => {
    assert.equal(render(run({ name: '', profiles: [k03, k01(6, 'A', 0), k60], tx: TX, evseId: 0, evse: GRID, duration: 1200, expect: '' })), '0:16');
  });
});

// ───────────────────────────── property test ─────────────────────────────

/**
 * Independent point-wise oracle: for an instant t, every profile that applies (highest valid stack level
 * covering t per stack; Tx hides TxDefault) and the resulting limit. Written without segments, sweeps or
 * merging, directly from the rules.
 */
function oracle(req: CompositeRequest, t: number): { limit: number; phases: number; applying: Array<{ limit: number; unit: RateUnit; phases: number }> } {
  const tx = req.transaction;
  const anchorRel = tx?.start ?? req.now;
  type Hit = { stack: string; level: number; specific: boolean; limit: number; unit: RateUnit; phases: number };
  const hits: Hit[] = [];
  for (const p of req.profiles) {
    const s = p.chargingSchedule[0]!;
    let stack: string | undefined;
    const mine = p.evseId === req.evseId;
    if (p.chargingProfilePurpose === 'ChargingStationMaxProfile') stack = p.evseId === 0 ? 'SM' : mine ? 'EM' : undefined;
    if (p.chargingProfilePurpose === 'ChargingStationExternalConstraints') stack = p.evseId === 0 ? 'SE' : mine ? 'EE' : undefined;
    if (p.chargingProfilePurpose === 'TxDefaultProfile' && req.evseId !== 0 && (p.evseId === 0 || mine)) stack = 'D';
    if (p.chargingProfilePurpose === 'TxProfile' && req.evseId !== 0 && mine && tx !== undefined && (p.transactionId ?? tx.id) === tx.id) stack = 'T';
    if (stack === undefined) continue;
    if (p.validFrom !== undefined && t < p.validFrom) continue;
    if (p.validTo !== undefined && t >= p.validTo) continue;
    let start: number;
    let span = s.duration === undefined ? Infinity : s.duration;
    if (p.chargingProfileKind === 'Relative') start = anchorRel;
    else if (p.chargingProfileKind === 'Absolute') start = s.startSchedule!;
    else {
      const period = p.recurrencyKind === 'Weekly' ? 604_800 : 86_400;
      const k = Math.floor((t - s.startSchedule!) / (period * 1000));
      start = s.startSchedule! + k * period * 1000;
      span = Math.min(span, period);
    }
    const elapsed = (t - start) / 1000;
    if (elapsed < 0 || elapsed >= span) continue;
    let q: (typeof s.chargingSchedulePeriod)[number] | undefined;
    for (const x of s.chargingSchedulePeriod) if (x.startPeriod <= elapsed) q = x;
    if (q === undefined) continue;
    hits.push({ stack, level: p.stackLevel, specific: stack === 'D' && p.evseId !== 0, limit: q.limit, unit: s.chargingRateUnit, phases: q.numberPhases ?? 3 });
  }
  const hasTx = hits.some((h) => h.stack === 'T');
  const applying: Hit[] = [];
  for (const stack of ['SM', 'EM', 'SE', 'EE', hasTx ? 'T' : 'D']) {
    const inStack = hits.filter((h) => h.stack === stack);
    const top = Math.max(...inStack.map((h) => h.level));
    let best = inStack.filter((h) => h.level === top);
    if (best.some((h) => h.specific)) best = best.filter((h) => h.specific);
    applying.push(...best);
  }
  const phases = Math.min(req.evse.phases, ...applying.map((h) => h.phases));
  let limit = convertRate(req.evse.maxCurrentA, 'A', req.unit, phases, req.evse.voltage);
  for (const h of applying) limit = Math.min(limit, convertRate(h.limit, h.unit, req.unit, phases, req.evse.voltage));
  return { limit, phases, applying };
}

function randomProfile(r: () => number, base: number, id: number): ChargingProfile {
  const purpose = pick(r, ['ChargingStationMaxProfile', 'ChargingStationExternalConstraints', 'TxDefaultProfile', 'TxDefaultProfile', 'TxProfile', 'TxProfile'] as const);
  const kind = purpose === 'ChargingStationMaxProfile' ? pick(r, ['Absolute', 'Recurring'] as const) : pick(r, ['Absolute', 'Recurring', 'Relative'] as const);
  const unit = pick(r, ['A', 'W'] as const);
  let sp = 0;
  const tokens: string[] = [];
  for (let i = 0, n = int(r, 1, 4); i < n; i++) {
    const limit = unit === 'A' ? int(r, 0, 400) / 10 : int(r, 0, 250) * 100;
    const phases = pick(r, ['', '', '@1', '@3', '@2']);
    tokens.push(`${sp}:${limit}${phases}`);
    sp += int(r, 1, 120) * 60;
  }
  const hour = 3_600_000;
  const spec: Parameters<typeof profile>[0] = {
    id,
    evseId: purpose === 'TxProfile' ? 1 : pick(r, [0, 1, 2]),
    stackLevel: int(r, 0, 3),
    purpose,
    kind,
    unit,
    periods: tokens.join(' '),
  };
  if (kind === 'Recurring') spec.recurrency = pick(r, ['Daily', 'Weekly'] as const);
  if (kind !== 'Relative') spec.startSchedule = epochMs(base + int(r, -72, 24) * hour + int(r, 0, 59) * 60_000);
  if (r() < 0.5) spec.duration = int(r, 1, 48) * 1800;
  if (r() < 0.3) spec.validFrom = epochMs(base + int(r, -24, 24) * hour);
  if (r() < 0.3) spec.validTo = epochMs((spec.validFrom ?? base) + int(r, 1, 48) * hour);
  if (purpose === 'TxProfile') spec.transactionId = pick(r, ['T1', 'T1', 'T2']);
  if (r() < 0.3) spec.minChargingRate = unit === 'A' ? 6 : 1380;
  return profile(spec);
}

describe('property: the composite never exceeds any applicable limit (seeded)', () => {
  test('300 random stations × 150 instants: limit ≤ every applying profile and the physical max, = floor of the oracle', () => {
    const r = rng(0x5eed_c0de);
    for (let n = 0; n < 300; n++) {
      const now = epochMs(NOW + int(r, 0, 7 * 24 * 60) * 60_000);
      const profiles = Array.from({ length: int(r, 0, 6) }, (_, i) => randomProfile(r, now, i + 1));
      const req: CompositeRequest = {
        profiles,
        evseId: pick(r, [0, 1, 1, 1]),
        now,
        duration: seconds(int(r, 1, 96) * 1800),
        unit: pick(r, ['A', 'W'] as const),
        evse: { maxCurrentA: amps(pick(r, [16, 32, 63])), phases: pick(r, [1, 3, 3]), voltage: volts(pick(r, [230, 220])) },
      };
      if (r() < 0.7) req.transaction = { id: 'T1', start: epochMs(now - int(r, 0, 600) * 60_000) };
      const c = compositeSchedule(req);
      const ctx = `case ${n}: ${JSON.stringify({ req })}`;

      // well-formed: starts at 0, strictly increasing, adjacent periods differ
      assert.equal(c.chargingSchedulePeriod[0]?.startPeriod, 0, ctx);
      c.chargingSchedulePeriod.forEach((p, i) => {
        const prev = c.chargingSchedulePeriod[i - 1];
        if (prev === undefined) return;
        assert.ok(p.startPeriod > prev.startPeriod, ctx);
        assert.ok(p.limit !== prev.limit || p.numberPhases !== prev.numberPhases, `${ctx}: unmerged periods`);
      });

      const instants = new Set<number>();
      for (const p of c.chargingSchedulePeriod) {
        instants.add(c.scheduleStart + p.startPeriod * 1000);
        if (p.startPeriod > 0) instants.add(c.scheduleStart + (p.startPeriod - 1) * 1000);
      }
      for (let i = 0; i < 150; i++) instants.add(c.scheduleStart + int(r, 0, c.duration - 1) * 1000);
      for (const t of instants) {
        const got = limitAt(c, epochMs(t));
        assert.ok(got !== undefined, ctx);
        const o = oracle(req, t);
        const tag = `${ctx} at +${(t - c.scheduleStart) / 1000}s: composite ${got.limit}, oracle ${o.limit}`;
        for (const a of o.applying) {
          const bound = convertRate(a.limit, a.unit, req.unit, o.phases, req.evse.voltage);
          assert.ok(got.limit <= bound + 1e-9, `${tag} exceeds an applying profile (${bound})`);
        }
        assert.ok(got.limit <= convertRate(req.evse.maxCurrentA, 'A', req.unit, o.phases, req.evse.voltage) + 1e-9, `${tag} exceeds the EVSE`);
        assert.equal(got.limit, Math.max(0, floorTenth(o.limit)), tag);
        assert.equal(got.numberPhases ?? 3, o.phases, tag);
      }
    }
  });
});
