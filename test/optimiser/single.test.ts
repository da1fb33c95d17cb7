/**
 * src/optimiser/single.ts (planSingle, one EV, greedy): hand-computed plans, schedules, the uncontrolled
 * comparison, and input errors. Defaults: 3φ EV, 11 040 W maximum, 6 A × 3 × 230 V = 4 140 W minimum.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OptimiserInputError, planSingle, type SingleInput } from '../../src/optimiser/index.js';
import { amps, epochMs, watts } from '../../src/smart/units.js';
import { T0, at, checkPlan, curve, energies, powers, session } from './helpers.js';

interface Case {
  name: string;
  input: SingleInput;
  /** Energy per slot (Wh, 0.1 Wh). */
  energies?: number[];
  powers?: number[];
  cost?: number;
  check?: (r: ReturnType<typeof planSingle>) => void;
}

const base = (prices: number[], s: Parameters<typeof session>[0], extra: Partial<SingleInput> = {}): SingleInput => ({ now: T0, prices: curve(prices), session: session(s), ...extra });

const cases: Case[] = [
  {
    name: 'cheapest slots first; the remainder at P_min for part of the next cheapest slot',
    // 11 040 Wh at 0.10, then 2 070 Wh at 0.20 = 4 140 W for 1 800 s.
    input: base([0.3, 0.1, 0.2, 0.4], { id: 'a', to: 4, wh: 13_110 }),
    energies: [0, 11_040, 2_070, 0],
    powers: [0, 11_040, 4_140, 0],
    cost: 11.04 * 0.1 + 2.07 * 0.2,
    check: (r) => {
      assert.deepEqual(r.sessions[0]!.schedule, {
        start: T0,
        duration: 14_400,
        chargingRateUnit: 'W',
        periods: [
          { startPeriod: 0, limit: 0 },
          { startPeriod: 3600, limit: 11_040 },
          { startPeriod: 7200, limit: 4_140 },
          { startPeriod: 9000, limit: 0 },
        ],
      });
      // Uncontrolled: 11 040 Wh at 0.30 then 2 070 Wh at 0.10.
      const u = 11.04 * 0.3 + 2.07 * 0.1;
      assert.ok(Math.abs(r.summary.uncontrolled.cost - u) < 1e-9, `uncontrolled ${r.summary.uncontrolled.cost} ≠ ${u}`);
      assert.ok(Math.abs(r.summary.savings! - (1 - (11.04 * 0.1 + 2.07 * 0.2) / u)) < 1e-9, `savings ${r.summary.savings}`);
      assert.equal(r.method, 'greedy');
    },
  },
  {
    name: 'equal prices: the earlier slot wins',
    input: base([0.2, 0.1, 0.1, 0.1], { id: 'a', to: 4, wh: 22_080 }),
    energies: [0, 11_040, 11_040, 0],
  },
  {
    name: 'charge-now first (as soon as possible, whatever the price), then the cheapest slots',
    input: base([0.4, 0.1, 0.3, 0.2], { id: 'a', to: 4, wh: 15_000, chargeNowWh: 5_000 }),
    energies: [5_000, 10_000, 0, 0],
    powers: [5_000, 10_000, 0, 0],
    check: (r) => {
      assert.equal(r.sessions[0]!.chargeNowWh, 5_000);
      assert.equal(r.sessions[0]!.chargeNowDeliveredWh, 5_000);
    },
  },
  {
    name: 'site limit per slot (steps): 3 000 W is below the minimum → unusable; 8 000 W caps the next slot',
    input: base([0.1, 0.2, 0.3], { id: 'a', to: 3, wh: 15_000 }, { site: { steps: [{ from: at(0), powerW: watts(3_000) }, { from: at(1), powerW: watts(8_000) }, { from: at(2) }] } }),
    energies: [0, 8_000, 7_000],
    check: (r) => assert.deepEqual(r.slots.map((s) => s.siteLimitW), [3_000, 8_000, Infinity]),
  },
  {
    name: 'per-phase site limit: a 1φ EV on L2 under a 10 A L2 limit draws at most 2 300 W',
    input: base([0.1, 0.2], { id: 'a', to: 2, wh: 4_000, maxW: 7_360, phases: ['L2'] }, { site: { currentA: { L1: amps(32), L2: amps(10), L3: amps(32) } } }),
    energies: [2_300, 1_700],
    powers: [2_300, 1_700],
    check: (r) => assert.equal(r.sessions[0]!.minPowerW, 1_380),
  },
  {
    name: 'SoC need: (80 − 20) % × 50 kWh ÷ 0.9 = 33 333.3 Wh',
    input: base([0.1, 0.1, 0.1, 0.1], { id: 'a', to: 4, extra: { need: { targetSocPct: 80, socPct: 20, capacityWh: 50_000 } } }),
    // The tail of 213.3 Wh runs at 4 140 W for round(213.33 / 4 140 × 3 600 s) = 186 s = 213.9 Wh.
    energies: [11_040, 11_040, 11_040, 213.9],
    check: (r) => {
      assert.ok(Math.abs(r.sessions[0]!.needWh - 100_000 / 3) < 1e-6, `need ${r.sessions[0]!.needWh}`);
      assert.equal(r.sessions[0]!.slots[3]!.onS, 186);
    },
  },
  {
    name: 'window: arrival 00:20 and departure 03:40 leave the whole slots 01:00–03:00',
    input: base([0.1, 0.1, 0.1, 0.1, 0.1], { id: 'a', from: 1 / 3, to: 11 / 3, wh: 30_000 }),
    energies: [0, 11_040, 11_040, 0, 0],
    check: (r) => {
      assert.deepEqual(r.sessions[0]!.window, { first: 1, end: 3 });
      assert.ok(Math.abs(r.sessions[0]!.shortfallWh - (30_000 - 22_080)) < 1e-6, `shortfall ${r.sessions[0]!.shortfallWh}`);
    },
  },
  {
    name: 'departure 2 h after the last price: the need shrinks by 2 h at full power (30 000 − 22 080)',
    input: base([0.3, 0.1, 0.2], { id: 'a', to: 5, wh: 30_000 }),
    energies: [0, 7_920, 0],
    check: (r) => {
      assert.ok(Math.abs(r.sessions[0]!.needWh - 7_920) < 1e-6, `need ${r.sessions[0]!.needWh}`);
      assert.deepEqual(r.sessions[0]!.notes, ['BeyondHorizon']);
    },
  },
  {
    name: 'maximum below the minimum (1φ, 1 000 W < 1 380 W): no charging, all shortfall',
    input: base([0.1, 0.2], { id: 'a', to: 2, wh: 1_000, maxW: 1_000, phases: ['L1'] }),
    energies: [0, 0],
    check: (r) => {
      assert.deepEqual(r.sessions[0]!.notes, ['MaxBelowMinimum']);
      assert.equal(r.sessions[0]!.shortfallWh, 1_000);
      assert.deepEqual(r.sessions[0]!.schedule.periods, [{ startPeriod: 0, limit: 0 }]);
    },
  },
  {
    name: 'negative prices first, and never more than the need',
    input: base([0.1, -0.05, -0.02, 0.2], { id: 'a', to: 4, wh: 15_000 }),
    // 3 960 Wh < 4 140 Wh: 4 140 W for round(3 960 / 4 140 × 3 600 s) = 3 443 s = 3 959.5 Wh.
    energies: [0, 11_040, 3_959.5, 0],
    cost: 11.04 * -0.05 + ((4_140 * 3_443) / 3_600 / 1000) * -0.02,
  },
  {
    name: '15-minute slots: 2 760 Wh per slot at 11 040 W; tie at 0.1 → earlier first',
    input: { now: T0, prices: curve([0.3, 0.1, 0.2, 0.1], 900), session: session({ id: 'a', to: 1, wh: 4_000 }) },
    energies: [0, 2_760, 0, 1_240],
    powers: [0, 11_040, 0, 4_960],
  },
  {
    name: 'now in the middle of a slot: the grid starts at now (00:30), the schedule too',
    input: { now: epochMs(T0 + 1_800_000), prices: curve([0.1, 0.2]), session: session({ id: 'a', to: 2, wh: 5_520 + 2_070 }) },
    energies: [5_520, 2_070],
    check: (r) => {
      assert.equal(r.slots[0]!.durationS, 1800);
      assert.deepEqual(r.sessions[0]!.schedule, {
        start: epochMs(T0 + 1_800_000),
        duration: 5400,
        chargingRateUnit: 'W',
        periods: [
          { startPeriod: 0, limit: 11_040 },
          { startPeriod: 1800, limit: 4_140 },
          { startPeriod: 3600, limit: 0 },
        ],
      });
    },
  },
  {
    name: 'nothing needed: an all-zero schedule and zero cost',
    input: base([0.1, 0.2], { id: 'a', to: 2, wh: 0 }),
    energies: [0, 0],
    cost: 0,
    check: (r) => assert.equal(r.summary.savings, null),
  },
];

describe('planSingle: hand-computed plans', () => {
  for (const c of cases)
    test(c.name, () => {
      const r = planSingle(c.input);
      checkPlan(r, { sessions: [c.input.session], ...(c.input.site ? { site: c.input.site } : {}) });
      if (c.energies) assert.deepEqual(energies(r, c.input.session.id), c.energies);
      if (c.powers) assert.deepEqual(powers(r, c.input.session.id), c.powers);
      if (c.cost !== undefined) assert.ok(Math.abs(r.summary.totalCost - c.cost) < 1e-9, `cost ${r.summary.totalCost} ≠ ${c.cost}`);
      // Never dearer than uncontrolled charging (give or take the on-time rounding: ≤ 2 Wh at the highest price).
      const pmax = Math.max(...c.input.prices.slots.map((x) => Math.abs(x.price)));
      assert.ok(r.summary.totalCost <= r.summary.uncontrolled.cost + (2 / 1000) * pmax + 1e-9, `cost ${r.summary.totalCost} > uncontrolled ${r.summary.uncontrolled.cost}`);
      c.check?.(r);
    });
});

describe('planSingle: input errors name the field', () => {
  const ok = base([0.1, 0.2], { id: 'a', to: 2 });
  const cases: Array<{ name: string; input: SingleInput; error: RegExp }> = [
    { name: 'departure not after arrival', input: { ...ok, session: { ...ok.session, departure: ok.session.arrival } }, error: /sessions\[0\].departure: must be after the arrival/ },
    { name: 'maximum power 0', input: { ...ok, session: { ...ok.session, maxPowerW: watts(0) } }, error: /sessions\[0\].maxPowerW: must be > 0/ },
    { name: 'unknown phase', input: { ...ok, session: { ...ok.session, phases: ['L4' as 'L1'] } }, error: /sessions\[0\].phases: must be 1–3 distinct phases/ },
    { name: 'efficiency above 1', input: { ...ok, session: { ...ok.session, efficiency: 1.5 } }, error: /sessions\[0\].efficiency: must be within \(0, 1\]/ },
    { name: 'SoC above 100 %', input: { ...ok, session: { ...ok.session, need: { targetSocPct: 120, socPct: 10, capacityWh: 1 } } }, error: /sessions\[0\].need.targetSocPct: must be within 0–100 %/ },
    { name: 'charge-now SoC without an SoC need', input: { ...ok, session: { ...ok.session, chargeNow: { minSocPct: 30 } } }, error: /sessions\[0\].chargeNow.minSocPct: needs an SoC need/ },
    { name: 'negative delivered energy', input: { ...ok, session: { ...ok.session, deliveredWh: -1 } }, error: /sessions\[0\].deliveredWh: must be ≥ 0/ },
    { name: 'prices start after now', input: { ...ok, now: epochMs(T0 - 60_000) }, error: /prices: the curve starts at 2025-09-17T00:00:00.000Z, after now/ },
    { name: 'prices end before now', input: { ...ok, now: at(3) }, error: /prices: no time left to plan/ },
    { name: 'site steps out of order', input: { ...ok, site: { steps: [{ from: at(1), powerW: watts(1) }, { from: at(0), powerW: watts(1) }] } }, error: /site.steps\[1\].from: steps must be in strictly ascending order/ },
    { name: 'a non-finite site power', input: { ...ok, site: { powerW: watts(NaN) } }, error: /site.powerW: must be a finite number/ },
  ];
  for (const c of cases) test(c.name, () => assert.throws(() => planSingle(c.input), (err: unknown) => err instanceof OptimiserInputError && c.error.test(err.message)));
});
