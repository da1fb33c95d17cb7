/**
 * 7. Optimiser (in-process): plan time for 1,000 sessions × 96 slots under a site limit, its cost against
 * the LP optimum, savings against uncontrolled charging on the shipped real price day, and the exact
 * MILP on small instances.
 *
 * Prices: the shipped day (src/optimiser/prices/nl-2025-09-17.json: SDAC day-ahead, bidding zone NL,
 * 17 September 2025, hourly), split into 96 quarter-hours at the hourly price. Fleet (seeded, the same
 * every run), relative to the delivery day in local time (CEST):
 * - 45 % workplace: arrive 06:30–09:15, leave 16:00–18:45;
 * - 25 % overnight: plugged in since the evening before (present at 00:00), leave 06:30–07:45;
 * - 30 % daytime visitors: arrive 10:00–15:45, stay 1–4 h (not after midnight).
 * EVs: a quarter each of 3.7 kW 1φ, 7.4 kW 1φ, 11 kW 3φ and 22 kW 3φ (minimum 6 A × phases × 230 V);
 * need = min(30–90 % of what the window takes at full power, 5–50 kWh). Site limit: 2.5 kW per session
 * (2.5 MW for 1,000), total power. Only the `planMulti` call is timed; the LP optimum (HiGHS) is computed
 * once for comparison.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  parsePriceFile,
  planMulti,
  planSingle,
  relaxedOptimum,
  resampleCurve,
  type MultiDiagnostics,
  type OptimiserInput,
  type PlanResult,
  type SessionInput,
} from '../../src/optimiser/index.js';
import { epochMs, watts, type Phase } from '../../src/smart/units.js';
import { REPO_ROOT } from '../lib/proc.js';
import { type BenchSection, type TargetRow, table, targetTable } from '../lib/report.js';
import { fmt, median, ms } from '../lib/stats.js';

export interface OptimiserOptions {
  /** Sessions of the large instance (the target is stated for 1,000). */
  sessions: number;
  /** Unmeasured runs first, then measured runs. */
  warmupRuns: number;
  runs: number;
  /** Small instances solved by the MILP. */
  small: { instances: number; sessions: number };
}

export const TARGET_SESSIONS = 1000;
export const TARGET_PLAN_MS = 1000;
export const TARGET_COST_RATIO = 1.001;
export const TARGET_SAVINGS = 0.3;
const SITE_W_PER_SESSION = 2_500;
export const PRICE_FILE = 'src/optimiser/prices/nl-2025-09-17.json';

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EVS: Array<{ maxW: number; phases: Phase[]; label: string }> = [
  { maxW: 3_680, phases: ['L1'], label: '3.7 kW 1φ' },
  { maxW: 7_360, phases: ['L2'], label: '7.4 kW 1φ' },
  { maxW: 11_040, phases: ['L1', 'L2', 'L3'], label: '11 kW 3φ' },
  { maxW: 22_080, phases: ['L1', 'L2', 'L3'], label: '22 kW 3φ' },
];
type Segment = 'workplace' | 'overnight' | 'daytime';
const SEGMENTS: Segment[] = ['workplace', 'overnight', 'daytime'];

/** The fleet on the delivery day; `day0` = 00:00 local, quarter-hour q = day0 + q × 15 min. */
export function fleet(n: number, day0: number, seed = 7): { sessions: SessionInput[]; segment: Map<string, Segment> } {
  const r = rng(seed);
  const Q = 900_000;
  const sessions: SessionInput[] = [];
  const segment = new Map<string, Segment>();
  for (let i = 0; i < n; i++) {
    const u = r();
    let a: number;
    let d: number;
    let seg: Segment;
    if (u < 0.45) {
      seg = 'workplace';
      a = 26 + Math.floor(r() * 12);
      d = 64 + Math.floor(r() * 12);
    } else if (u < 0.7) {
      seg = 'overnight';
      a = 0;
      d = 26 + Math.floor(r() * 6);
    } else {
      seg = 'daytime';
      a = 40 + Math.floor(r() * 24);
      d = Math.min(96, a + 4 + Math.floor(r() * 12));
    }
    const ev = EVS[Math.floor(r() * EVS.length)]!;
    const windowWh = (d - a) * 0.25 * ev.maxW;
    const need = Math.min(windowWh * (0.3 + 0.6 * r()), 5_000 + r() * 45_000);
    const id = `ev${i}`;
    segment.set(id, seg);
    sessions.push({ id, arrival: epochMs(day0 + a * Q), departure: epochMs(day0 + d * Q), need: { energyWh: Math.round(need) }, maxPowerW: watts(ev.maxW), phases: ev.phases });
  }
  return { sessions, segment };
}

function loadDay() {
  const f = parsePriceFile(readFileSync(join(REPO_ROOT, PRICE_FILE), 'utf8'), PRICE_FILE);
  return { meta: f.meta, hourly: f.curve, quarter: resampleCurve(f.curve, 900), day0: f.curve.slots[0]!.start };
}

interface Timed {
  wallMs: number;
  cpuMs: number;
  result: PlanResult;
  diag: MultiDiagnostics;
}

async function timedPlan(input: OptimiserInput, options: Parameters<typeof planMulti>[1] = {}): Promise<Timed> {
  const diag: MultiDiagnostics = {};
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await planMulti(input, { ...options, diagnostics: diag });
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000, result, diag };
}

const pct = (x: number, digits = 1) => `${fmt(x * 100, digits)} %`;
const eur = (x: number) => `€${fmt(x, 2)}`;
const eurPerMWh = (cost: number, wh: number) => (wh > 0 ? `${fmt((cost / wh) * 1e6, 1)} €/MWh` : 'n/a');

/** Per-segment costs of a plan and of uncontrolled charging. */
function bySegment(r: PlanResult, segment: Map<string, Segment>) {
  return SEGMENTS.map((seg) => {
    const ss = r.sessions.filter((s) => segment.get(s.id) === seg);
    const cost = ss.reduce((a, s) => a + s.cost, 0);
    const wh = ss.reduce((a, s) => a + s.deliveredWh, 0);
    const uCost = ss.reduce((a, s) => a + s.uncontrolled.cost, 0);
    const uWh = ss.reduce((a, s) => a + s.uncontrolled.deliveredWh, 0);
    return { seg, n: ss.length, cost, wh, uCost, uWh, savings: uCost > 0 && wh > 0 ? 1 - cost / wh / (uCost / uWh) : NaN };
  });
}

export async function optimiserBenchmark(o: OptimiserOptions, log: (line: string) => void): Promise<BenchSection> {
  const t0 = performance.now();
  const day = loadDay();
  const { sessions, segment } = fleet(o.sessions, day.day0);
  const siteW = SITE_W_PER_SESSION * o.sessions;
  const input: OptimiserInput = { now: epochMs(day.day0), prices: day.quarter, sessions, site: { powerW: watts(siteW) } };

  // 1. Time: the first call (cold: JIT, nothing cached), warm-up, then measured runs.
  log(`  large instance: ${fmt(o.sessions)} sessions × ${day.quarter.slots.length} slots, site ${fmt(siteW / 1000)} kW`);
  const cold = await timedPlan(input);
  for (let k = 0; k < o.warmupRuns; k++) await timedPlan(input);
  const runs: Timed[] = [];
  for (let k = 0; k < o.runs; k++) runs.push(await timedPlan(input));
  const wall = runs.map((x) => x.wallMs);
  const cpu = runs.map((x) => x.cpuMs);
  const last = runs[runs.length - 1]!;
  const plan = last.result;
  log(`  plan (${plan.method}): median ${ms(median(wall))}, max ${ms(Math.max(...wall))}, cold ${ms(cold.wallMs)}`);

  // 2. Quality: the LP optimum of the relaxed problem (HiGHS).
  const lpT0 = performance.now();
  const lp = await relaxedOptimum(input);
  const lpMs = performance.now() - lpT0;
  const ratio = plan.summary.totalCost / lp.cost;
  const rawRatio = last.diag.objective! / lp.objective;
  log(`  LP optimum ${eur(lp.cost)} (${lp.status}, ${ms(lpMs)}); plan ${eur(plan.summary.totalCost)} → ratio ${fmt(ratio, 6)}`);

  // 3. Savings on the shipped day: with the site limit (the instance above) and without it.
  const free = await planMulti({ ...input, site: undefined });
  const savings = plan.summary.savings ?? NaN;
  const segs = bySegment(plan, segment);
  const segsFree = bySegment(free, segment);
  const commuter = planSingle({
    now: epochMs(day.day0),
    prices: day.quarter,
    session: { id: 'commuter', arrival: epochMs(day.day0 + 8 * 3_600_000), departure: epochMs(day.day0 + 17 * 3_600_000), need: { energyWh: 20_000 }, maxPowerW: watts(11_040) },
  });

  // 4. Small instances: the exact MILP (auto) against the LP, and the heuristic alone.
  const smallRows: string[][] = [];
  const smallTimes: number[] = [];
  let optimal = 0;
  let milpWorse = 0;
  let worstMilpRatio = 1;
  let worstFlowRatio = 1;
  for (let k = 0; k < o.small.instances; k++) {
    const f = fleet(o.small.sessions, day.day0, 100 + k);
    const inp: OptimiserInput = { now: epochMs(day.day0), prices: day.quarter, sessions: f.sessions, site: { powerW: watts(SITE_W_PER_SESSION * o.small.sessions) } };
    const m = await timedPlan(inp);
    const h = await timedPlan(inp, { method: 'flow' });
    const l = await relaxedOptimum(inp);
    smallTimes.push(m.wallMs);
    if (m.result.solver?.status === 'Optimal') optimal++;
    if (m.result.method !== 'milp') milpWorse++;
    worstMilpRatio = Math.max(worstMilpRatio, m.diag.objective! / l.objective);
    worstFlowRatio = Math.max(worstFlowRatio, h.diag.objective! / l.objective);
    if (k < 5)
      smallRows.push([
        String(k + 1),
        fmt(f.sessions.length),
        `${m.result.method} (${m.result.solver?.status ?? '—'})`,
        ms(m.wallMs),
        fmt(m.diag.objective! / l.objective, 6),
        ms(h.wallMs),
        fmt(h.diag.objective! / l.objective, 6),
      ]);
  }
  log(`  small instances: ${optimal}/${o.small.instances} MILP optimal; worst MILP ÷ LP ${fmt(worstMilpRatio, 6)}, flow ÷ LP ${fmt(worstFlowRatio, 6)}`);

  const rep = last.diag.repair!;
  const flow = last.diag.flow!;
  const bindingSlots = plan.slots.filter((s, t) => plan.sessions.reduce((a, x) => a + x.slots[t]!.powerW, 0) >= s.siteLimitW - 1).length;
  const peakUnc = Math.max(...plan.slots.map((_, t) => plan.sessions.reduce((a, s) => a + (t >= s.window.first && t < s.window.end ? s.maxPowerW : 0), 0)));

  const targets: TargetRow[] = [
    {
      metric: `Optimiser time, ${fmt(o.sessions)} sessions × 96 slots under a site limit: slowest of ${o.runs} warm runs (median)`,
      measured: `**${ms(Math.max(...wall))}** (${ms(median(wall))})`,
      target: `< ${fmt(TARGET_PLAN_MS / 1000)} s`,
      met: o.sessions >= TARGET_SESSIONS ? Math.max(...wall) < TARGET_PLAN_MS : undefined,
    },
    { metric: 'Same: first call in a fresh process (JIT cold) / CPU time per warm run (median)', measured: `${ms(cold.wallMs)} / ${ms(median(cpu))}`, target: '(reported)', met: undefined },
    {
      metric: 'Cost ÷ HiGHS LP optimum of the relaxed problem (same instance, every need met)',
      measured: `**${fmt(ratio, 5)}** (${eur(plan.summary.totalCost)} vs ${eur(lp.cost)})`,
      target: `≤ ${TARGET_COST_RATIO}`,
      met: ratio <= TARGET_COST_RATIO && lp.shortfallWh < 1 && plan.summary.shortfallWh <= plan.sessions.length * 5,
    },
    {
      metric: `Savings vs uncontrolled charging, shipped price day (NL day-ahead ${day.meta.deliveryDay}), fleet above with the site limit`,
      measured: `**${pct(savings)}** (${eurPerMWh(plan.summary.totalCost, plan.summary.deliveredWh)} vs ${eurPerMWh(plan.summary.uncontrolled.cost, plan.summary.uncontrolled.deliveredWh)})`,
      target: `≥ ${pct(TARGET_SAVINGS, 0)}`,
      met: savings >= TARGET_SAVINGS,
    },
    { metric: 'Same fleet without a site limit', measured: `${pct(free.summary.savings ?? NaN)}`, target: '(reported)', met: undefined },
    {
      metric: `Exact MILP (auto), ${o.small.instances} instances of ${o.small.sessions} sessions × 96 slots: proven optimal / median time / worst ÷ LP`,
      measured: `${optimal}/${o.small.instances} / ${ms(median(smallTimes))} / ${fmt(worstMilpRatio, 5)}`,
      target: '(reported)',
      met: undefined,
    },
  ];

  const segRows = SEGMENTS.map((seg, k) => {
    const a = segs[k]!;
    const b = segsFree[k]!;
    return [seg, fmt(a.n), fmt(a.wh / 1000, 0), eurPerMWh(a.uCost, a.uWh), eurPerMWh(a.cost, a.wh), pct(a.savings), pct(b.savings)];
  });
  const prices = day.hourly.slots.map((s) => s.price * 1000);
  const body = [
    `In-process, no server: \`planMulti\` and \`planSingle\` of \`src/optimiser\` on a seeded fleet. **Prices**: ${PRICE_FILE} — ` +
      `${day.meta.market.split(';')[0]}, bidding zone ${day.meta.biddingZone} (${day.meta.biddingZoneEic ?? ''}), delivery day ${day.meta.deliveryDay} ` +
      `(${day.meta.timeZone}), hourly, source ENTSO-E Transparency Platform (A44); min ${fmt(Math.min(...prices), 2)}, mean ${fmt(prices.reduce((a, b) => a + b, 0) / prices.length, 2)}, ` +
      `max ${fmt(Math.max(...prices), 2)} €/MWh; split into 96 quarter-hours at the hourly price (energy price only: no grid fees, taxes or supplier margin). ` +
      `**Fleet** (seeded): 45 % workplace (arrive 06:30–09:15, leave 16:00–18:45), 25 % overnight (plugged in before 00:00, leave 06:30–07:45), ` +
      `30 % daytime visitors (arrive 10:00–15:45, 1–4 h); a quarter each 3.7 kW 1φ, 7.4 kW 1φ, 11 kW 3φ, 22 kW 3φ, minimum 6 A × phases × 230 V; ` +
      `need = min(30–90 % of what the window takes at full power, 5–50 kWh). **Site limit** ${fmt(SITE_W_PER_SESSION / 1000, 1)} kW per session ` +
      `(${fmt(siteW / 1000)} kW; the EVs present could draw up to ${fmt(peakUnc / 1000)} kW at once; the plan runs at the limit in ${bindingSlots} of 96 slots). ` +
      `**Uncontrolled** = every EV at full power from arrival until full, first come first served under the site limit.`,
    '',
    targetTable(targets),
    '',
    `**Method.** With ${fmt(o.sessions)} sessions \`auto\` picks \`${plan.method}\`: the exact relaxed optimum by a polymatroid greedy with ` +
      `max-flow re-routing (${flow.dinicSlots} slots needed re-routing, ${fmt(flow.augmentations)} augmenting paths), then the minimum-power repair ` +
      `(${fmt(rep.violations)} session-slots below their minimum in a full slot; ${fmt(rep.swaps)} cost-neutral swaps, ${rep.evictions} evictions, ${rep.shaves} shaves, ` +
      `${fmt(rep.movedWh / 1000, 1)} kWh moved to dearer slots, ${fmt(rep.unplacedWh, 0)} Wh unplaced). The plan's raw objective (before powers are floored ` +
      `to 0.1 W and on-times rounded to seconds) ÷ the LP objective = ${fmt(rawRatio, 6)}; delivered ${fmt(plan.summary.deliveredWh / 1000, 1)} of ` +
      `${fmt(plan.summary.needWh / 1000, 1)} kWh (the ${fmt(plan.summary.shortfallWh, 0)} Wh difference is that rounding). The LP itself (HiGHS, ` +
      `${fmt(lp.deliveredWh / 1000, 1)} kWh) took ${ms(lpMs)} — too slow for the 1 s budget on this instance, which is why the fast path does not use it. ` +
      `Wall = performance.now() around the awaited call; CPU = process CPU time over it.`,
    '',
    `**Savings by segment** (per kWh: 1 − optimised €/MWh ÷ uncontrolled €/MWh):`,
    '',
    table(['Segment', 'Sessions', 'Energy (kWh)', 'Uncontrolled', 'Optimised', 'Savings (site limit)', 'Savings (no limit)'], segRows, ['l', 'r', 'r', 'r', 'r', 'r', 'r']),
    '',
    `One 11 kW commuter EV alone (\`planSingle\`: 08:00–17:00, 20 kWh): ${eurPerMWh(commuter.summary.totalCost, commuter.summary.deliveredWh)} vs ` +
      `${eurPerMWh(commuter.summary.uncontrolled.cost, commuter.summary.uncontrolled.deliveredWh)} uncontrolled → ${pct(commuter.summary.savings ?? NaN)}.`,
    '',
    `**Against the published figures (protocols.md §5.4).** Zethmayr & Kolata (2019) report 52–59 % lower energy cost for price-responsive ` +
      `charging on ComEd hourly prices than for flat-rate charging; Juul et al. (2015) attribute 29 % of the savings over uncontrolled charging to ` +
      `simple delay. The figures here are of the same kind (energy price only, one day, perfect knowledge of departure and need) and depend on ` +
      `the day's spread: on 17 September 2025 the NL midday solar dip (25 €/MWh at 14:00) sits inside the workplace window while the arrival ` +
      `hours are the morning peak (119 €/MWh at 07:00), so workplace charging saves most; overnight sessions save little because the night was ` +
      `already cheap; short daytime stays have little room to move. On a whole retail bill — where fixed grid fees and taxes dominate — the ` +
      `percentage would be several times smaller.`,
    '',
    `**Small instances** (${o.small.sessions} sessions × 96 slots, seeded fleets, same site rule; \`auto\` = MILP on HiGHS with a 1 s limit, started from the ` +
      `heuristic): ${optimal}/${o.small.instances} proven optimal within the limit, ${milpWorse} where the heuristic's plan was kept (the MILP found nothing better in time); worst ` +
      `MILP ÷ LP ${fmt(worstMilpRatio, 6)}, worst heuristic ÷ LP ${fmt(worstFlowRatio, 6)} (the LP is a lower bound; the gap that remains is what the ` +
      `minimum power costs). First five:`,
    '',
    table(['#', 'Sessions', 'auto → method (status)', 'auto time', 'auto ÷ LP', 'flow time', 'flow ÷ LP'], smallRows, ['r', 'r', 'l', 'r', 'r', 'r', 'r']),
  ].join('\n');
  return { name: 'optimiser', title: '7. Optimiser (in-process): 1,000 sessions × 96 slots, and savings on a real price day', targets, body, durationS: (performance.now() - t0) / 1000 };
}
