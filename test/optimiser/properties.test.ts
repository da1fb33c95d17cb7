/**
 * Property tests (fast-check, fixed seeds so CI is reproducible; FC_SEED=<n> to explore): small random
 * instances — 15-min or hourly slots, prices −20…300 EUR/MWh, 1–4 sessions of 3.7 kW 1φ / 7.4 kW 1φ /
 * 11 kW 3φ / 22 kW 3φ (some without a minimum), optional charge-now, an optional total or per-phase
 * site limit. For every plan (planSingle, and planMulti by flow, lp-round and milp):
 *
 * - the site limit holds in every slot, every power is 0 or within [min, max], schedules match (checkPlan);
 * - cost + penalty never above uncontrolled charging's;
 * - never below the HiGHS LP optimum of the relaxed problem, and equal to it where the relaxation is
 *   tight (no site limit, or no minimum power; one EV);
 * - the relaxed flow equals the LP optimum exactly (the greedy is exact for a total-power limit);
 * - when a plan meeting every need exists (instances built around such a plan), the need is met by the
 *   exact methods (milp, auto on small instances, planSingle).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planMulti, planSingle, relaxedOptimum, type MultiDiagnostics, type MultiMethod, type OptimiserInput, type SessionInput } from '../../src/optimiser/index.js';
import { amps, epochMs, minimumPower, volts, watts, type Phase } from '../../src/smart/units.js';
import { T0, checkPlan, curve, tolWh } from './helpers.js';

const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const opts = (numRuns: number, seed: number) => ({ numRuns, seed: SEED ?? seed, endOnFailure: true });

const EVSE: Array<{ maxW: number; phases: Phase[] }> = [
  { maxW: 3_680, phases: ['L1'] },
  { maxW: 7_360, phases: ['L2'] },
  { maxW: 11_040, phases: ['L1', 'L2', 'L3'] },
  { maxW: 22_080, phases: ['L1', 'L2', 'L3'] },
];

interface Raw {
  slotS: 900 | 3600;
  prices: number[];
  sessions: Array<{ from: number; len: number; type: number; needPct: number; noMin: boolean; chargeNowPct: number | undefined }>;
  site: { kind: 'none' } | { kind: 'power'; kw: number } | { kind: 'phase'; a: number };
}

const rawArb: fc.Arbitrary<Raw> = fc.record({
  slotS: fc.constantFrom(900 as const, 3600 as const),
  prices: fc.array(fc.integer({ min: -20, max: 300 }), { minLength: 3, maxLength: 8 }),
  sessions: fc.array(
    fc.record({
      from: fc.integer({ min: 0, max: 7 }),
      len: fc.integer({ min: 1, max: 8 }),
      type: fc.integer({ min: 0, max: 3 }),
      needPct: fc.integer({ min: 0, max: 120 }),
      noMin: fc.boolean(),
      chargeNowPct: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  site: fc.oneof(
    fc.constant({ kind: 'none' as const }),
    fc.record({ kind: fc.constant('power' as const), kw: fc.integer({ min: 3, max: 40 }) }),
    fc.record({ kind: fc.constant('phase' as const), a: fc.integer({ min: 4, max: 40 }) }),
  ),
});

function toInput(r: Raw, { noMin = false, noSite = false } = {}): OptimiserInput {
  const T = r.prices.length;
  const h = r.slotS / 3600;
  const sessions: SessionInput[] = r.sessions.map((s, i) => {
    const from = Math.min(s.from, T - 1);
    const to = Math.min(T, from + s.len);
    const ev = EVSE[s.type]!;
    const capacity = (to - from) * h * ev.maxW;
    const need = Math.round((capacity * s.needPct) / 100);
    return {
      id: `s${i}`,
      arrival: epochMs(T0 + from * r.slotS * 1000),
      departure: epochMs(T0 + to * r.slotS * 1000),
      need: { energyWh: need },
      maxPowerW: watts(ev.maxW),
      phases: ev.phases,
      ...(noMin || s.noMin ? { minPowerW: watts(0) } : {}),
      ...(s.chargeNowPct !== undefined ? { chargeNow: { energyWh: Math.round((need * s.chargeNowPct) / 100) } } : {}),
    };
  });
  const site = noSite || r.site.kind === 'none' ? undefined : r.site.kind === 'power' ? { powerW: watts(r.site.kw * 1000) } : { currentA: { L1: amps(r.site.a), L2: amps(r.site.a), L3: amps(r.site.a) } };
  return { now: T0, prices: curve(r.prices.map((p) => p / 1000), r.slotS), sessions, ...(site ? { site } : {}) };
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1, Math.abs(b));

async function plan(input: OptimiserInput, method: MultiMethod) {
  const diag: MultiDiagnostics = {};
  const r = await planMulti(input, { method, diagnostics: diag, timeLimitS: 10, mipRelGap: 1e-9 });
  return { r, diag };
}

describe('optimiser properties', () => {
  test('planMulti (flow, lp-round, milp): feasible, ≤ uncontrolled, ≥ LP optimum; flow relaxation = LP', async () => {
    await fc.assert(
      fc.asyncProperty(rawArb, async (raw) => {
        const input = toInput(raw);
        const lp = await relaxedOptimum(input);
        const methods: MultiMethod[] = raw.site.kind === 'phase' ? ['lp-round', 'milp'] : ['flow', 'lp-round', 'milp'];
        for (const method of methods) {
          const { r, diag } = await plan(input, method);
          checkPlan(r, input);
          // Rounding to 0.1 W / whole seconds may leave ≤ tolWh per session short: allow its penalty.
          const slack = (tolWh(r) * input.sessions.length * r.summary.penaltyPerKWh) / 1000;
          assert.ok(r.summary.objective <= r.summary.uncontrolled.objective + slack + 1e-9, `${method}: objective ${r.summary.objective} > uncontrolled ${r.summary.uncontrolled.objective}`);
          assert.ok(diag.objective! >= lp.objective - 1e-6 * Math.max(1, Math.abs(lp.objective)), `${method}: objective ${diag.objective} < LP ${lp.objective}`);
          if (method === 'flow') assert.ok(rel(diag.relaxedObjective!, lp.objective) < 1e-7, `flow relaxation ${diag.relaxedObjective} ≠ LP ${lp.objective}`);
          // Tight relaxation: without a site limit each EV is a knapsack of its own.
          if (raw.site.kind === 'none') assert.ok(rel(diag.objective!, lp.objective) < 1e-6, `${method}: ${diag.objective} ≠ LP ${lp.objective} without a site limit`);
        }
      }),
      opts(60, 20250917),
    );
  });

  test('no minimum power: every method reaches the LP optimum under the site limit', async () => {
    await fc.assert(
      fc.asyncProperty(rawArb, async (raw) => {
        const input = toInput(raw, { noMin: true });
        const lp = await relaxedOptimum(input);
        for (const method of (raw.site.kind === 'phase' ? ['lp-round', 'milp'] : ['flow', 'milp']) as MultiMethod[]) {
          const { r, diag } = await plan(input, method);
          checkPlan(r, input);
          assert.ok(rel(diag.objective!, lp.objective) < 1e-6, `${method}: ${diag.objective} ≠ LP ${lp.objective}`);
        }
      }),
      opts(40, 17),
    );
  });

  // Only the exact methods promise this. The flow heuristic can come up short on a site packed to its
  // limit, where making room for one more minimum-power block takes a rearrangement of many sessions
  // (found by stress runs with 25 sessions on a 4–6 kW site); `auto` uses the MILP for small instances.
  test('when a plan meeting every need exists, the need is met (milp, auto, planSingle)', async () => {
    // Build the instance around a witness plan: each session's per-slot power is 0 or within [min, max]
    // and fits what the site has left; its need is the witness's energy.
    const witnessArb = fc.record({ raw: rawArb, picks: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 64, maxLength: 64 }) });
    await fc.assert(
      fc.asyncProperty(witnessArb, async ({ raw, picks }) => {
        if (raw.site.kind === 'phase') raw.site = { kind: 'power', kw: raw.site.a };
        const input = toInput(raw);
        const T = raw.prices.length;
        const h = raw.slotS / 3600;
        const left = new Array<number>(T).fill(input.site?.powerW ?? Infinity);
        let k = 0;
        const sessions = input.sessions.map((s) => {
          const ev = EVSE.find((e) => e.maxW === s.maxPowerW)!;
          const minW = s.minPowerW ?? minimumPower(ev.phases.length, volts(230));
          let wh = 0;
          for (let t = 0; t < T; t++) {
            const slotStart = T0 + t * raw.slotS * 1000;
            if (slotStart < s.arrival || slotStart + raw.slotS * 1000 > s.departure) continue;
            const pick = picks[k++ % picks.length]!;
            const cap = Math.min(ev.maxW, left[t]!);
            if (pick < 30 || cap < minW) continue;
            const level = Math.round(minW + ((cap - minW) * (pick - 30)) / 70);
            left[t] = left[t]! - level;
            wh += level * h;
          }
          return { ...s, need: { energyWh: Math.floor(wh) } };
        });
        const feasible: OptimiserInput = { ...input, sessions: sessions.map(({ chargeNow: _, ...s }) => s) };
        for (const method of ['milp', 'auto'] as MultiMethod[]) {
          const { r } = await plan(feasible, method);
          checkPlan(r, feasible);
          for (const s of r.sessions) assert.ok(s.shortfallWh <= tolWh(r), `${method}: ${s.id} short by ${s.shortfallWh} Wh (need ${s.needWh})`);
        }
        const one = feasible.sessions[0]!;
        const single = planSingle({ now: feasible.now, prices: feasible.prices, session: one, ...(feasible.site ? { site: feasible.site } : {}) });
        assert.ok(single.sessions[0]!.shortfallWh <= tolWh(single), `planSingle: short by ${single.sessions[0]!.shortfallWh} Wh`);
      }),
      opts(60, 4242),
    );
  });

  test('planSingle: the greedy is optimal (= LP), ≤ uncontrolled, and feasible', async () => {
    await fc.assert(
      fc.asyncProperty(rawArb, async (raw) => {
        const input = toInput({ ...raw, sessions: raw.sessions.slice(0, 1) });
        const s = input.sessions[0]!;
        const r = planSingle({ now: input.now, prices: input.prices, session: s, ...(input.site ? { site: input.site } : {}) });
        checkPlan(r, input);
        const lp = await relaxedOptimum(input);
        // The greedy's raw energies are optimal; compare after rounding with the rounding slack.
        const slack = (tolWh(r) * r.summary.penaltyPerKWh) / 1000;
        // Equal to the LP unless the site leaves some slot below the EV's minimum (the LP may use it).
        const sp = r.sessions[0]!;
        const tight = r.slots.every((sl, t) => t < sp.window.first || t >= sp.window.end || Math.min(sl.siteLimitW, ...(sl.siteLimitA ? (s.phases ?? []).map((ph) => sl.siteLimitA![ph] * 230 * (s.phases ?? []).length) : [])) >= sp.minPowerW);
        if (tight) assert.ok(Math.abs(r.summary.objective - lp.objective) <= slack + 1e-6, `greedy ${r.summary.objective} ≠ LP ${lp.objective}`);
        else assert.ok(r.summary.objective >= lp.objective - 1e-6, `greedy ${r.summary.objective} < LP ${lp.objective}`);
        assert.ok(r.summary.objective <= r.summary.uncontrolled.objective + slack + 1e-9, `greedy ${r.summary.objective} > uncontrolled ${r.summary.uncontrolled.objective}`);
      }),
      opts(150, 99),
    );
  });
});
