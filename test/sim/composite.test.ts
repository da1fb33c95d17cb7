/**
 * Charger-side composite schedule (src/sim/composite.ts): table tests with hand-computed expectations.
 * Times are UTC on 2025-01-01 unless a case says otherwise; 230 V line-to-neutral.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compositeSchedule,
  compositeSegments,
  type CompositeInput,
  type CompositePeriod,
  type Profile,
  type ProfilePurpose,
} from '../../src/sim/composite.js';
import { floorTenth, type RateUnit } from '../../src/sim/units.js';

/** '10:00' → epoch ms on 2025-01-01; a full ISO string is taken as is. */
const t = (hhmm: string) => Date.parse(hhmm.includes('T') ? hhmm : `2025-01-01T${hhmm}:00Z`);

let nextId = 1;
/** Profile builder: periods as [startPeriod s, limit, numberPhases?]; `start` = startSchedule. */
function profile(
  p: Omit<Partial<Profile>, 'schedule'> & {
    purpose: ProfilePurpose;
    periods: [number, number, number?][];
    unit?: RateUnit;
    start?: string | number;
    duration?: number;
  },
): Profile {
  const { periods, unit, start, duration, ...rest } = p;
  const out: Profile = {
    evseId: 1,
    id: nextId++,
    stackLevel: 0,
    kind: 'Absolute',
    installedAt: t('00:00'),
    ...rest,
    schedule: {
      chargingRateUnit: unit ?? 'A',
      periods: periods.map(([startPeriod, limit, numberPhases]) => (numberPhases ? { startPeriod, limit, numberPhases } : { startPeriod, limit })),
    },
  };
  if (start !== undefined) out.schedule.startSchedule = typeof start === 'number' ? start : t(start);
  if (duration !== undefined) out.schedule.duration = duration;
  return out;
}

function input(profiles: Profile[], extra: Partial<CompositeInput> = {}): CompositeInput {
  return { profiles, evseId: 1, phases: 3, voltageV: 230, physicalMax: { limit: 32, unit: 'A' }, ...extra };
}

interface Case {
  name: string;
  profiles: Profile[];
  now: string;
  durationS: number;
  unit?: RateUnit;
  input?: Partial<CompositeInput>;
  expect: CompositePeriod[];
}

const P = (startPeriod: number, limit: number, numberPhases?: number): CompositePeriod =>
  numberPhases === undefined ? { startPeriod, limit } : { startPeriod, limit, numberPhases };

const cases: Case[] = [
  {
    name: 'no profile: the physical maximum applies',
    profiles: [],
    now: '10:00',
    durationS: 3600,
    expect: [P(0, 32)],
  },
  {
    name: 'K08 stacking: SL1 [10:30, 11:00) over SL0 — |16|10|16|',
    profiles: [
      profile({ purpose: 'TxDefaultProfile', stackLevel: 0, periods: [[0, 16]], start: '10:00' }),
      profile({ purpose: 'TxDefaultProfile', stackLevel: 1, periods: [[0, 10]], start: '10:30', duration: 1800 }),
    ],
    now: '10:00',
    durationS: 7200,
    expect: [P(0, 16), P(1800, 10), P(3600, 16)],
  },
  {
    name: 'TxProfile overrules TxDefault even at a lower stack level (1.6 §3.13.1)',
    profiles: [
      profile({ purpose: 'TxDefaultProfile', stackLevel: 5, periods: [[0, 10]], start: '09:00' }),
      profile({ purpose: 'TxProfile', stackLevel: 0, transactionId: 'tx-1', kind: 'Relative', periods: [[0, 20]] }),
    ],
    now: '10:00',
    durationS: 600,
    input: { transaction: { id: 'tx-1', startedAt: t('09:50') } },
    expect: [P(0, 20)],
  },
  {
    name: 'TxProfile of another transaction does not apply',
    profiles: [
      profile({ purpose: 'TxDefaultProfile', periods: [[0, 10]], start: '09:00' }),
      profile({ purpose: 'TxProfile', transactionId: 'tx-old', kind: 'Relative', periods: [[0, 20]] }),
    ],
    now: '10:00',
    durationS: 600,
    input: { transaction: { id: 'tx-1', startedAt: t('09:50') } },
    expect: [P(0, 10)],
  },
  {
    name: 'TxProfile ends after its duration: TxDefault applies again — |6|13|',
    profiles: [
      profile({ purpose: 'TxDefaultProfile', periods: [[0, 13]], start: '09:00' }),
      profile({ purpose: 'TxProfile', kind: 'Relative', periods: [[0, 6]], duration: 900 }),
    ],
    now: '10:00',
    durationS: 1800,
    input: { transaction: { id: '7', startedAt: t('10:00') } },
    expect: [P(0, 6), P(900, 13)],
  },
  {
    name: 'ChargingStationMax on EVSE 0 caps the EVSE: min(12, 16)',
    profiles: [
      profile({ evseId: 0, purpose: 'ChargingStationMaxProfile', periods: [[0, 12]], start: '00:00' }),
      profile({ purpose: 'TxDefaultProfile', periods: [[0, 16]], start: '00:00' }),
    ],
    now: '10:00',
    durationS: 600,
    expect: [P(0, 12)],
  },
  {
    name: 'TxDefault on EVSE 0 applies to EVSE 1; an EVSE-specific one wins the tie',
    profiles: [
      profile({ evseId: 0, purpose: 'TxDefaultProfile', periods: [[0, 16]], start: '00:00' }),
      profile({ evseId: 1, purpose: 'TxDefaultProfile', periods: [[0, 10]], start: '00:00' }),
    ],
    now: '10:00',
    durationS: 600,
    expect: [P(0, 10)],
  },
  {
    name: 'TxDefault on EVSE 0 at a higher stack level beats the EVSE-specific one',
    profiles: [
      profile({ evseId: 0, purpose: 'TxDefaultProfile', stackLevel: 1, periods: [[0, 16]], start: '00:00' }),
      profile({ evseId: 1, purpose: 'TxDefaultProfile', stackLevel: 0, periods: [[0, 10]], start: '00:00' }),
    ],
    now: '10:00',
    durationS: 600,
    expect: [P(0, 16)],
  },
  {
    name: 'Recurring Daily from 22:00 across midnight: |6 (22–00)|16 (00–06)|10 (06–22)| seen at 23:00',
    profiles: [
      profile({
        purpose: 'TxDefaultProfile',
        kind: 'Recurring',
        recurrencyKind: 'Daily',
        periods: [
          [0, 6],
          [7200, 16],
          [28800, 10],
        ],
        start: '2025-01-01T22:00:00Z',
      }),
    ],
    now: '2025-01-02T23:00:00Z',
    durationS: 8 * 3600,
    expect: [P(0, 6), P(3600, 16), P(25200, 10)],
  },
  {
    name: 'Recurring Daily at 21:50: the previous occurrence\'s last period applies until 22:00',
    profiles: [
      profile({
        purpose: 'TxDefaultProfile',
        kind: 'Recurring',
        recurrencyKind: 'Daily',
        periods: [
          [0, 6],
          [7200, 16],
          [28800, 10],
        ],
        start: '2025-01-01T22:00:00Z',
      }),
    ],
    now: '2025-01-02T21:50:00Z',
    durationS: 1200,
    expect: [P(0, 10), P(600, 6)],
  },
  {
    name: 'Recurring Daily with a 2 h duration: a gap (physical max) outside 12:00–14:00',
    profiles: [
      profile({
        purpose: 'TxDefaultProfile',
        kind: 'Recurring',
        recurrencyKind: 'Daily',
        periods: [[0, 8]],
        start: '2024-12-30T12:00:00Z', duration: 7200,
      }),
    ],
    now: '11:00',
    durationS: 4 * 3600,
    expect: [P(0, 32), P(3600, 8), P(10800, 32)],
  },
  {
    name: 'Recurring Weekly: Wednesday 2025-01-01 pattern seen a week later',
    profiles: [
      profile({
        purpose: 'TxDefaultProfile',
        kind: 'Recurring',
        recurrencyKind: 'Weekly',
        periods: [
          [0, 10],
          [86400, 20],
        ],
        start: '2025-01-01T00:00:00Z',
      }),
    ],
    now: '2025-01-08T23:00:00Z',
    durationS: 7200,
    expect: [P(0, 10), P(3600, 20)],
  },
  {
    name: 'Relative TxProfile runs from the transaction start (started 10:00, asked at 10:20)',
    profiles: [
      profile({
        purpose: 'TxProfile',
        kind: 'Relative',
        periods: [
          [0, 10],
          [1800, 16],
        ],
      }),
    ],
    now: '10:20',
    durationS: 1800,
    input: { transaction: { id: '42', startedAt: t('10:00') } },
    expect: [P(0, 10), P(600, 16)],
  },
  {
    name: 'Relative TxDefault without a transaction runs from now',
    profiles: [
      profile({
        purpose: 'TxDefaultProfile',
        kind: 'Relative',
        periods: [
          [0, 10],
          [1800, 16],
        ],
      }),
    ],
    now: '10:20',
    durationS: 3600,
    expect: [P(0, 10), P(1800, 16)],
  },
  {
    name: 'validFrom in the future: lower stack level until then — |16|8|',
    profiles: [
      profile({ purpose: 'TxDefaultProfile', stackLevel: 0, periods: [[0, 16]], start: '00:00' }),
      profile({ purpose: 'TxDefaultProfile', stackLevel: 1, validFrom: t('10:30'), periods: [[0, 8]], start: '00:00' }),
    ],
    now: '10:00',
    durationS: 3600,
    expect: [P(0, 16), P(1800, 8)],
  },
  {
    name: 'validTo ends a profile — |8|16|',
    profiles: [
      profile({ purpose: 'TxDefaultProfile', stackLevel: 0, periods: [[0, 16]], start: '00:00' }),
      profile({ purpose: 'TxDefaultProfile', stackLevel: 1, validTo: t('10:30'), periods: [[0, 8]], start: '00:00' }),
    ],
    now: '10:00',
    durationS: 3600,
    expect: [P(0, 8), P(1800, 16)],
  },
  {
    name: 'W→A: 11 000 W on 3 phases = 15.942 A, rounded down to 15.9 A',
    profiles: [profile({ purpose: 'TxDefaultProfile', unit: 'W', periods: [[0, 11000]], start: '00:00' })],
    now: '10:00',
    durationS: 600,
    expect: [P(0, 15.9)],
  },
  {
    name: 'A→W: 16 A on 3 phases = 11 040 W',
    profiles: [profile({ purpose: 'TxDefaultProfile', periods: [[0, 16]], start: '00:00' })],
    now: '10:00',
    durationS: 600,
    unit: 'W',
    expect: [P(0, 11040)],
  },
  {
    name: 'numberPhases 1: 7 360 W → 32 A on one phase',
    profiles: [profile({ purpose: 'TxDefaultProfile', unit: 'W', periods: [[0, 7360, 1]], start: '00:00' })],
    now: '10:00',
    durationS: 600,
    expect: [P(0, 32, 1)],
  },
  {
    name: 'single-phase EVSE: 3 680 W → 16 A (numberPhases absent ⇒ 3, capped by the EVSE\'s 1 phase)',
    profiles: [profile({ purpose: 'TxDefaultProfile', unit: 'W', periods: [[0, 3680]], start: '00:00' })],
    now: '10:00',
    durationS: 600,
    input: { phases: 1 },
    expect: [P(0, 16)],
  },
  {
    name: 'Jedlix example on 3×16 A: 22 kW clamps to 16 A, 0 W pauses, 10 kW → 14.4 A',
    profiles: [
      profile({
        purpose: 'TxProfile',
        unit: 'W',
        transactionId: 'tx',
        periods: [
          [0, 22000],
          [1800, 0],
          [3600, 10000],
        ],
        start: '10:00',
      }),
    ],
    now: '10:00',
    durationS: 5400,
    input: { transaction: { id: 'tx', startedAt: t('09:55') }, physicalMax: { limit: 16, unit: 'A' } },
    expect: [P(0, 16), P(1800, 0), P(3600, 14.4)],
  },
  {
    name: 'grid composite (EVSE 0) uses station-wide purposes only',
    profiles: [
      profile({ evseId: 0, purpose: 'ChargingStationMaxProfile', unit: 'W', periods: [[0, 40000]], start: '00:00' }),
      profile({ evseId: 0, purpose: 'TxDefaultProfile', unit: 'W', periods: [[0, 1000]], start: '00:00' }),
    ],
    now: '10:00',
    durationS: 600,
    unit: 'W',
    input: { evseId: 0, physicalMax: { limit: 44160, unit: 'W' } },
    expect: [P(0, 40000)],
  },
];

for (const c of cases) {
  test(`composite: ${c.name}`, () => {
    const s = compositeSchedule(input(c.profiles, c.input), t(c.now), c.durationS, c.unit ?? 'A');
    assert.deepEqual(s.chargingSchedulePeriod, c.expect);
    assert.equal(s.scheduleStart, t(c.now));
    assert.equal(s.duration, c.durationS);
  });
}

test('composite segments keep millisecond boundaries for energy integration', () => {
  const p = profile({
    purpose: 'TxDefaultProfile',
    periods: [
      [0, 16],
      [90, 8],
    ],
    start: t('10:00') + 500,
  });
  const segs = compositeSegments(input([p]), t('10:00'), 120, 'A');
  assert.deepEqual(segs, [
    { from: t('10:00'), to: t('10:00') + 500, limit: 32 },
    { from: t('10:00') + 500, to: t('10:00') + 90_500, limit: 16 },
    { from: t('10:00') + 90_500, to: t('10:02'), limit: 8 },
  ]);
});

const tenths = [
  { x: 15.942028985507246, expect: 15.9 },
  { x: 16, expect: 16 },
  { x: 15.999999999999, expect: 16 },
  { x: 14.49275, expect: 14.4 },
  { x: 0.05, expect: 0 },
  { x: 6, expect: 6 },
];
for (const c of tenths) {
  test(`floorTenth(${c.x}) = ${c.expect} (limits round down to 0.1)`, () => assert.equal(floorTenth(c.x), c.expect));
}
