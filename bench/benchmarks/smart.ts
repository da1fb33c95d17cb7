/**
 * 6. Smart charging: composite schedules per second and load-balancer tick time (in-process).
 *
 * Both are pure functions of src/smart (no clock, no I/O), so they run in the bench process itself; no
 * CSMS child is started.
 *
 * Composite: one station with two EVSEs (EVSE 1 wired 3φ, EVSE 2 wired 1φ) and the profiles a real site
 * carries: a ChargingStationMaxProfile (W, day/night), a TxDefault Recurring Daily with 24 hourly
 * periods (A), and per EVSE a TxProfile Absolute with a 15-minute plan for 24 h (96 periods; EVSE 1 in W
 * with 1φ periods at low power, EVSE 2 in A). Six GetCompositeSchedule-shaped requests (EVSE 0/1/2,
 * unit A and W, with and without transaction) for an 86,400 s window are computed in rotation. Two
 * baselines run in the same rounds: a trivial composite (one TxDefault, one period) and a JSON clone of
 * a realistic request. Rounds rotate the order of the workloads; figures are medians over rounds.
 *
 * Balancer: `balance()` ticks over 100 / 1,000 / 10,000 sessions (mixed 1φ on L1/L2/L3 and 3φ, measured
 * draws, some EVs tapering, a few with a plan limit below the minimum) on a per-phase 63 A × N site, with
 * N chosen so the minimums do not fit (rotation) and so that they fit. Between ticks the clock advances
 * by the tick interval and the allocations are applied back (current, state timestamp, new measured
 * draw), as the shell would; only the `balance()` call is timed. The two cases alternate in blocks.
 */
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { balance, type BalancerParams, type BalancerSession, type SiteGroup, type TickResult } from '../../src/smart/balancer.js';
import { compositeSchedule, type CompositeRequest } from '../../src/smart/composite.js';
import type { ChargingProfile, SchedulePeriod } from '../../src/smart/profile.js';
import { type Amps, type EpochMs, type Phase, type Watts, amps, epochMs, isoToEpoch, seconds, volts, watts } from '../../src/smart/units.js';
import { type BenchSection, type TargetRow, table, targetTable } from '../lib/report.js';
import { fmt, median, ms, quantile } from '../lib/stats.js';

export interface SmartOptions {
  /** Rounds of the composite workloads (each round runs every workload once, rotated order). */
  compositeRounds: number;
  /** Measured time per workload per round. */
  sliceMs: number;
  /** Session counts, measured ticks per case and unmeasured warm-up ticks per case. */
  balancer: Array<{ sessions: number; ticks: number; warmupTicks: number }>;
  /** Ticks per block (the two cases alternate block by block). */
  blockTicks: number;
}

export const TARGET_COMPOSITES_PER_S = 1000;
export const TARGET_TICK_P99_MS = 50;
/** The session count the tick target applies to. */
export const TARGET_SESSIONS = 1000;

const WINDOW_S = 86_400;
const TICK_S = 30;
const PARAMS: BalancerParams = { hysteresisA: amps(1), minChangeA: amps(0.5), rotationPeriodS: seconds(900), reclaimThresholdA: amps(2) };
/** Feeders of 63 A per phase: N = sessions ÷ divisor. */
const FEEDER_A = 63;
const CASES = [
  { key: 'rotate', label: 'minimums do not fit (rotation)', sessionsPerFeeder: 25, expectFit: false },
  { key: 'fit', label: 'minimums fit', sessionsPerFeeder: 8, expectFit: true },
] as const;
type CaseKey = (typeof CASES)[number]['key'];

/** Deterministic PRNG (mulberry32), so every run benchmarks the same inputs. */
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

// ───────────────────────────── composite inputs ─────────────────────────────

const NOW = isoToEpoch('2024-03-01T10:00:07Z');
const MIDNIGHT = isoToEpoch('2024-02-26T00:00:00Z');

function stationProfiles(): ChargingProfile[] {
  // Grid connection: 43.5 kW by day, 33 kW in the evening peak, 43.5 kW again at night (W, total).
  const stationMax: ChargingProfile = {
    id: 1,
    evseId: 0,
    stackLevel: 0,
    chargingProfilePurpose: 'ChargingStationMaxProfile',
    chargingProfileKind: 'Recurring',
    recurrencyKind: 'Daily',
    chargingSchedule: [
      {
        id: 1,
        startSchedule: MIDNIGHT,
        chargingRateUnit: 'W',
        chargingSchedulePeriod: [
          { startPeriod: seconds(0), limit: watts(43_470) },
          { startPeriod: seconds(17 * 3600), limit: watts(33_120) },
          { startPeriod: seconds(21 * 3600), limit: watts(43_470) },
        ],
      },
    ],
  };
  // Station-wide default: 24 hourly periods, 10–32 A per phase, a 6 A floor at night.
  const txDefault: ChargingProfile = {
    id: 2,
    evseId: 0,
    stackLevel: 0,
    chargingProfilePurpose: 'TxDefaultProfile',
    chargingProfileKind: 'Recurring',
    recurrencyKind: 'Daily',
    chargingSchedule: [
      {
        id: 2,
        startSchedule: MIDNIGHT,
        chargingRateUnit: 'A',
        chargingSchedulePeriod: Array.from({ length: 24 }, (_, h): SchedulePeriod<Amps> => ({ startPeriod: seconds(h * 3600), limit: amps(10 + ((h * 7) % 23)) })),
        minChargingRate: amps(6),
      },
    ],
  };
  const r = rng(42);
  const planStart = epochMs(Date.parse('2024-03-01T09:45:00Z'));
  // EVSE 1 (3φ): a price-optimised 15-minute plan in W; low-power slots on one phase, some slots paused.
  const tx1Periods = Array.from({ length: 96 }, (_, q): SchedulePeriod<Watts> => {
    const x = r();
    if (x < 0.15) return { startPeriod: seconds(q * 900), limit: watts(0) };
    if (x < 0.4) return { startPeriod: seconds(q * 900), limit: watts(1380 + Math.round(r() * 20) * 100), numberPhases: 1 };
    return { startPeriod: seconds(q * 900), limit: watts(4140 + Math.round(r() * 180) * 100) };
  });
  const tx1: ChargingProfile = {
    id: 11,
    evseId: 1,
    stackLevel: 1,
    chargingProfilePurpose: 'TxProfile',
    chargingProfileKind: 'Absolute',
    transactionId: 'TX-1',
    chargingSchedule: [{ id: 11, startSchedule: planStart, duration: seconds(WINDOW_S), chargingRateUnit: 'W', chargingSchedulePeriod: tx1Periods, minChargingRate: watts(1380) }],
  };
  // EVSE 2 (1φ): the same kind of plan in A, one phase.
  const tx2Periods = Array.from({ length: 96 }, (_, q): SchedulePeriod<Amps> => ({
    startPeriod: seconds(q * 900),
    limit: amps(r() < 0.1 ? 0 : 6 + Math.round(r() * 260) / 10),
    numberPhases: 1,
  }));
  const tx2: ChargingProfile = {
    id: 12,
    evseId: 2,
    stackLevel: 1,
    chargingProfilePurpose: 'TxProfile',
    chargingProfileKind: 'Absolute',
    transactionId: 'TX-2',
    chargingSchedule: [{ id: 12, startSchedule: planStart, duration: seconds(WINDOW_S), chargingRateUnit: 'A', chargingSchedulePeriod: tx2Periods }],
  };
  return [stationMax, txDefault, tx1, tx2];
}

interface Variant {
  label: string;
  req: CompositeRequest;
}

function variants(): Variant[] {
  const profiles = stationProfiles();
  const evse3 = { maxCurrentA: amps(32), phases: 3, voltage: volts(230) };
  const evse1 = { maxCurrentA: amps(32), phases: 1, voltage: volts(230) };
  const grid = { maxCurrentA: amps(63), phases: 3, voltage: volts(230) };
  const start = isoToEpoch('2024-03-01T09:46:12Z');
  const base = { profiles, now: NOW, duration: seconds(WINDOW_S) };
  return [
    { label: 'EVSE 1 (3φ), W, TxProfile (W, 1φ/3φ periods)', req: { ...base, evseId: 1, unit: 'W', evse: evse3, transaction: { id: 'TX-1', start } } },
    { label: 'EVSE 1 (3φ), A, TxProfile (W → A)', req: { ...base, evseId: 1, unit: 'A', evse: evse3, transaction: { id: 'TX-1', start } } },
    { label: 'EVSE 2 (1φ), A, TxProfile (A)', req: { ...base, evseId: 2, unit: 'A', evse: evse1, transaction: { id: 'TX-2', start } } },
    { label: 'EVSE 2 (1φ), W, TxProfile (A → W)', req: { ...base, evseId: 2, unit: 'W', evse: evse1, transaction: { id: 'TX-2', start } } },
    { label: 'EVSE 1 (3φ), A, no transaction (TxDefault)', req: { ...base, evseId: 1, unit: 'A', evse: evse3 } },
    { label: 'EVSE 0 (grid), W, station max only', req: { ...base, evseId: 0, unit: 'W', evse: grid } },
  ];
}

function trivialRequest(): CompositeRequest {
  return {
    profiles: [
      {
        id: 1,
        evseId: 1,
        stackLevel: 0,
        chargingProfilePurpose: 'TxDefaultProfile',
        chargingProfileKind: 'Relative',
        chargingSchedule: [{ id: 1, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: seconds(0), limit: amps(16) }] }],
      },
    ],
    evseId: 1,
    now: NOW,
    duration: seconds(WINDOW_S),
    unit: 'A',
    evse: { maxCurrentA: amps(32), phases: 3, voltage: volts(230) },
  };
}

interface Workload {
  key: string;
  label: string;
  /** Does one unit of work; returns a number so the work cannot be optimised away. */
  op: (i: number) => number;
}

interface SliceResult {
  opsPerS: number;
  cpuUsPerOp: number;
}

/** Runs `op` back to back for `sliceMs` (the clock is read every 8 ops). */
function runSlice(w: Workload, sliceMs: number, sink: { v: number }): SliceResult {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + sliceMs;
  let n = 0;
  let t = t0;
  while (t < end) {
    for (let k = 0; k < 8; k++) sink.v += w.op(n++);
    t = performance.now();
  }
  const c = process.cpuUsage(c0);
  return { opsPerS: n / ((t - t0) / 1000), cpuUsPerOp: (c.user + c.system) / n };
}

// ───────────────────────────── balancer inputs ─────────────────────────────

interface SimSession {
  s: BalancerSession;
  /** What the EV would draw if allowed (tapering, 1φ on-board charger limits, …). */
  acceptsA: number;
}

function makeSessions(n: number, seed: number, now: EpochMs): SimSession[] {
  const r = rng(seed);
  const phases1: Phase[][] = [['L1'], ['L2'], ['L3']];
  const three: Phase[] = ['L1', 'L2', 'L3'];
  return Array.from({ length: n }, (_, i): SimSession => {
    const is3 = r() < 0.55;
    const evseA = is3 ? (r() < 0.6 ? 16 : 32) : r() < 0.5 ? 16 : 32;
    const arrival = epochMs(now - Math.floor(r() * 8 * 3600) * 1000);
    const max: BalancerSession['max'] = { evseA: amps(evseA) };
    if (r() < 0.2) max.cableA = amps(20);
    if (!is3 && r() < 0.5) max.evA = amps(r() < 0.5 ? 16 : 32);
    const plan = r();
    if (plan < 0.05) max.planA = amps(0); // the plan says "not now": MaxBelowMinimum
    else if (plan < 0.15) max.planA = amps(6 + Math.round(r() * 100) / 10);
    const priority: BalancerSession['priority'] = { arrival };
    if (r() < 0.05) priority.level = 1;
    if (r() < 0.4) priority.departure = epochMs(arrival + Math.round((2 + r() * 8) * 3600) * 1000);
    const taper = r();
    const acceptsA = taper < 0.1 ? 2 + r() * 3 : taper < 0.3 ? evseA * (0.6 + r() * 0.3) : evseA;
    return {
      s: {
        key: `s${String(i).padStart(5, '0')}`,
        phases: is3 ? three : phases1[Math.floor(r() * 3)]!,
        minA: amps(6),
        max,
        priority,
        currentA: amps(0),
        stateSince: arrival,
      },
      acceptsA,
    };
  });
}

function siteGroup(feeders: number, now: EpochMs): SiteGroup {
  const limit = feeders * FEEDER_A;
  const per = (x: number) => ({ L1: amps(x), L2: amps(x), L3: amps(x) });
  return {
    id: 'site',
    limit: { kind: 'perPhase', limitA: per(limit), marginA: amps(Math.round(limit * 0.02)) },
    voltage: volts(230),
    baseLoad: { perPhaseA: { L1: amps(limit * 0.1), L2: amps(limit * 0.12), L3: amps(limit * 0.08) }, at: now },
    maxBaseLoadAgeS: seconds(120),
    fallbackBaseLoadA: per(limit * 0.3),
  };
}

/**
 * What the shell does after a tick: store the allocation and its state time; the EV draws what it
 * accepts. Updated in place (balance() keeps no reference), so the harness makes little garbage of its
 * own that a collection inside a timed tick would have to clean up.
 */
function apply(sim: SimSession[], res: TickResult, r: () => number): void {
  // Allocations come back sorted by key; the sessions were created in key order.
  for (let i = 0; i < sim.length; i++) {
    const x = sim[i]!;
    const a = res.allocations[i]!;
    if (a.key !== x.s.key) throw new Error(`allocation order: ${a.key} ≠ ${x.s.key}`);
    const allocated = a.allocatedA as number;
    const draw = allocated === 0 ? 0 : Math.max(0, Math.min(allocated, x.acceptsA) - r() * 0.3);
    x.s.currentA = a.allocatedA;
    x.s.stateSince = a.stateSince;
    x.s.measuredA = amps(Math.round(draw * 10) / 10);
  }
}

interface CaseRun {
  key: CaseKey;
  label: string;
  sessions: number;
  feeders: number;
  /** Wall time of each measured tick (ms). */
  times: number[];
  /** Process CPU time of each measured tick (ms): not inflated when another process takes the core. */
  cpu: number[];
  /** [start, end] of each measured tick on the performance clock, to attribute GC pauses. */
  spans: number[];
  fitTicks: number;
  sends: number[];
  /** Sessions that were charging at some measured tick / eligible sessions. */
  everCharged: Set<string>;
  maxConcurrent: number;
  eligible: number;
  sim: SimSession[];
  /** The same session objects as `sim`, in an array that is reused every tick. */
  list: BalancerSession[];
  group: SiteGroup;
  now: EpochMs;
  r: () => number;
}

function newCase(c: (typeof CASES)[number], n: number): CaseRun {
  const now = NOW;
  const sim = makeSessions(n, 1000 + n, now);
  const feeders = Math.max(1, Math.round(n / c.sessionsPerFeeder));
  return {
    key: c.key,
    label: c.label,
    sessions: n,
    feeders,
    times: [],
    cpu: [],
    spans: [],
    fitTicks: 0,
    sends: [],
    everCharged: new Set(),
    maxConcurrent: 0,
    eligible: 0,
    sim,
    list: sim.map((x) => x.s),
    group: siteGroup(feeders, now),
    now,
    r: rng(7 + n),
  };
}

function tick(c: CaseRun, measure: boolean): void {
  c.group.baseLoad!.at = c.now; // a fresh reading every tick
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const res = balance(c.group, c.list, PARAMS, c.now);
  const t1 = performance.now();
  const cpu = process.cpuUsage(c0);
  if (measure) {
    c.times.push(t1 - t0);
    c.cpu.push((cpu.user + cpu.system) / 1000);
    c.spans.push(t0, t1);
    if (res.minimumsFit) c.fitTicks++;
    let sends = 0;
    let running = 0;
    for (const a of res.allocations) {
      if (a.send) sends++;
      if (a.allocatedA > 0) {
        running++;
        c.everCharged.add(a.key);
      }
    }
    c.sends.push(sends);
    c.maxConcurrent = Math.max(c.maxConcurrent, running);
    c.eligible = res.allocations.filter((a) => a.pausedBecause !== 'MaxBelowMinimum').length;
  }
  apply(c.sim, res, c.r);
  c.now = epochMs(c.now + TICK_S * 1000);
}

/** The unavoidable floor of a tick: copy the sessions and sort them by key (balance() does this first). */
function floorMs(sim: SimSession[], reps: number): number {
  const sessions = sim.map((x) => x.s).reverse();
  const out: number[] = [];
  let sink = 0;
  for (let k = 0; k < reps; k++) {
    const t0 = performance.now();
    const ss = [...sessions].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    out.push(performance.now() - t0);
    sink += ss.length;
  }
  if (sink < 0) throw new Error('unreachable');
  return median(out);
}

// ───────────────────────────── benchmark ─────────────────────────────

/** ms(), but sub-millisecond values in µs. */
function msFine(n: number): string {
  return Number.isFinite(n) && n < 1 ? `${fmt(n * 1000)} µs` : ms(n);
}

export async function smartBenchmark(o: SmartOptions, log: (s: string) => void): Promise<BenchSection> {
  const t0 = performance.now();
  const sink = { v: 0 };

  // ── composite ──
  const vs = variants();
  const trivial = trivialRequest();
  const cloneSource = vs[0]!.req;
  const shapes = vs.map((v) => {
    const c = compositeSchedule(v.req);
    if (c.chargingSchedulePeriod.length === 0) throw new Error(`${v.label}: empty composite`);
    return { periods: c.chargingSchedulePeriod.length, min: c.minChargingRate };
  });
  const inputPeriods = cloneSource.profiles.reduce((x, p) => x + p.chargingSchedule[0]!.chargingSchedulePeriod.length, 0);
  const cloneBytes = JSON.stringify(cloneSource).length;
  const workloads: Workload[] = [
    { key: 'mix', label: `realistic mix (the ${vs.length} requests in rotation)`, op: (i) => compositeSchedule(vs[i % vs.length]!.req).chargingSchedulePeriod.length },
    { key: 'trivial', label: 'baseline: trivial composite (1 TxDefault, 1 period)', op: () => compositeSchedule(trivial).chargingSchedulePeriod.length },
    { key: 'clone', label: `baseline: JSON clone of one realistic request (${fmt(cloneBytes / 1024, 1)} KiB)`, op: () => (JSON.parse(JSON.stringify(cloneSource)) as CompositeRequest).profiles.length },
    ...vs.map((v, k): Workload => ({ key: `v${k}`, label: v.label, op: () => compositeSchedule(v.req).chargingSchedulePeriod.length })),
  ];
  // Warm-up (JIT): every workload once for a slice.
  for (const w of workloads) runSlice(w, Math.min(o.sliceMs, 200), sink);
  const results = new Map<string, SliceResult[]>(workloads.map((w) => [w.key, []]));
  for (let round = 0; round < o.compositeRounds; round++) {
    const shift = round % workloads.length;
    const order = [...workloads.slice(shift), ...workloads.slice(0, shift)];
    if (round % 2 === 1) order.reverse();
    for (const w of order) results.get(w.key)!.push(runSlice(w, o.sliceMs, sink));
    const m = results.get('mix')!.at(-1)!;
    log(`  smart: composite round ${round + 1}/${o.compositeRounds}: mix ${fmt(m.opsPerS)}/s (${fmt(1e6 / m.opsPerS, 1)} µs), trivial ${fmt(results.get('trivial')!.at(-1)!.opsPerS)}/s`);
  }
  const med = (key: string) => {
    const rs = results.get(key)!;
    const perS = median(rs.map((x) => x.opsPerS));
    return { perS, us: 1e6 / perS, cpuUs: median(rs.map((x) => x.cpuUsPerOp)), lo: Math.min(...rs.map((x) => x.opsPerS)), hi: Math.max(...rs.map((x) => x.opsPerS)) };
  };
  const mix = med('mix');
  const triv = med('trivial');
  const clone = med('clone');

  // ── balancer ──
  // GC pauses (main-thread part), to tell how much of the tick time was garbage collection.
  const gcs: Array<[number, number]> = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries() as PerformanceEntry[]) gcs.push([e.startTime, e.startTime + e.duration]);
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const yieldToObserver = () => new Promise<void>((r) => setImmediate(r));
  const runs: CaseRun[][] = [];
  for (const size of o.balancer) {
    const cs = CASES.map((c) => newCase(c, size.sessions));
    for (const c of cs) for (let k = 0; k < size.warmupTicks; k++) tick(c, false);
    let done = 0;
    let block = 0;
    while (done < size.ticks) {
      const n = Math.min(o.blockTicks, size.ticks - done);
      const order = block % 2 === 0 ? cs : [...cs].reverse();
      for (const c of order) for (let k = 0; k < n; k++) tick(c, true);
      done += n;
      block++;
      await yieldToObserver();
    }
    for (const c of cs) {
      const expect = CASES.find((x) => x.key === c.key)!.expectFit;
      if (expect && c.fitTicks !== c.times.length) throw new Error(`balancer ${c.sessions}/${c.key}: minimums did not fit in ${c.times.length - c.fitTicks} ticks (bad set-up)`);
      if (!expect && c.fitTicks !== 0) throw new Error(`balancer ${c.sessions}/${c.key}: minimums fit in ${c.fitTicks} ticks (bad set-up: no rotation)`);
      const s = [...c.times].sort((a, b) => a - b);
      log(`  smart: balance() ${fmt(c.sessions)} sessions, ${c.key}: p50 ${ms(quantile(s, 0.5))}  p99 ${ms(quantile(s, 0.99))}  (${s.length} ticks)`);
    }
    runs.push(cs);
  }
  await yieldToObserver();
  gcObserver.disconnect();
  /** Share of the measured tick time during which a GC pause was in progress. */
  const gcShare = (c: CaseRun): number => {
    let gc = 0;
    let total = 0;
    for (let k = 0; k < c.spans.length; k += 2) {
      const a = c.spans[k]!;
      const b = c.spans[k + 1]!;
      total += b - a;
      for (const [ga, gb] of gcs) gc += Math.max(0, Math.min(b, gb) - Math.max(a, ga));
    }
    return total > 0 ? gc / total : NaN;
  };
  const stat = (c: CaseRun) => {
    const s = Float64Array.from(c.times).sort();
    const cpu = Float64Array.from(c.cpu).sort();
    return { p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1]!, n: s.length, cpuP50: quantile(cpu, 0.5), cpuP99: quantile(cpu, 0.99), gc: gcShare(c) };
  };
  const main = runs.find((cs) => cs[0]!.sessions === TARGET_SESSIONS);
  const mainStat = (key: CaseKey) => {
    const c = main?.find((x) => x.key === key);
    return c ? stat(c) : undefined;
  };
  const rot = mainStat('rotate');
  const fit = mainStat('fit');

  const targets: TargetRow[] = [
    {
      metric: `Composite schedules per second (realistic mix, ${fmt(WINDOW_S)} s window; median of ${o.compositeRounds} rounds)`,
      measured: `**${fmt(mix.perS)}**/s`,
      target: `≥ ${fmt(TARGET_COMPOSITES_PER_S)}/s`,
      met: mix.perS >= TARGET_COMPOSITES_PER_S,
    },
    { metric: 'Time per composite (wall / CPU)', measured: `${fmt(mix.us, 1)} µs / ${fmt(mix.cpuUs, 1)} µs`, target: '(reported)', met: undefined },
    {
      metric: 'Same run, baselines: trivial composite; JSON clone of one request',
      measured: `${fmt(triv.us, 1)} µs; ${fmt(clone.us, 1)} µs (one realistic composite costs ${fmt(mix.us / triv.us, 1)} × the trivial one, ${fmt(mix.us / clone.us, 2)} × the clone)`,
      target: '(reported)',
      met: undefined,
    },
  ];
  if (rot && fit) {
    targets.push(
      {
        metric: `Balancer tick, ${fmt(TARGET_SESSIONS)} sessions, minimums do not fit (rotation): p99 wall time (CPU time)`,
        measured: `**${ms(rot.p99)}** (${ms(rot.cpuP99)})`,
        target: `< ${TARGET_TICK_P99_MS} ms`,
        met: rot.p99 < TARGET_TICK_P99_MS,
      },
      {
        metric: `Balancer tick, ${fmt(TARGET_SESSIONS)} sessions, minimums fit: p99 wall time (CPU time)`,
        measured: `**${ms(fit.p99)}** (${ms(fit.cpuP99)})`,
        target: `< ${TARGET_TICK_P99_MS} ms`,
        met: fit.p99 < TARGET_TICK_P99_MS,
      },
      { metric: `Balancer tick, ${fmt(TARGET_SESSIONS)} sessions: p50 wall time (rotation / fit)`, measured: `${ms(rot.p50)} / ${ms(fit.p50)}`, target: '(reported)', met: undefined },
    );
  }
  for (const cs of runs) {
    if (cs[0]!.sessions === TARGET_SESSIONS) continue;
    const [a, b] = cs.map(stat);
    targets.push({
      metric: `Balancer tick, ${fmt(cs[0]!.sessions)} sessions: p50 / p99 wall time (rotation; fit)`,
      measured: `${msFine(a!.p50)} / ${msFine(a!.p99)}; ${msFine(b!.p50)} / ${msFine(b!.p99)}`,
      target: '(reported)',
      met: undefined,
    });
  }

  const spread = (key: string) => {
    const m = med(key);
    return `${fmt(m.lo)}–${fmt(m.hi)}`;
  };
  const compositeRows = workloads.map((w) => {
    const m = med(w.key);
    const k = /^v(\d+)$/.exec(w.key);
    const shape = k ? shapes[Number(k[1])]! : undefined;
    return [
      w.label,
      fmt(m.perS),
      spread(w.key),
      fmt(m.us, 1),
      fmt(m.cpuUs, 1),
      shape ? fmt(shape.periods) : w.key === 'mix' ? `${fmt(median(shapes.map((x) => x.periods)))} (median)` : '—',
    ];
  });
  const balancerRows = runs.flatMap((cs) => {
    const floor = floorMs(cs[0]!.sim, 20);
    return cs.map((c) => {
      const s = stat(c);
      const perPhaseA = c.feeders * FEEDER_A;
      return [
        fmt(c.sessions),
        c.label,
        `63 A × ${fmt(c.feeders)} = ${fmt(perPhaseA)} A`,
        `${fmt(c.fitTicks)}/${fmt(s.n)}`,
        `${msFine(s.p50)} / ${msFine(s.p99)}`,
        msFine(s.max),
        `${msFine(s.cpuP50)} / ${msFine(s.cpuP99)}`,
        `${fmt(s.gc * 100, 1)}%`,
        fmt((s.cpuP50 * 1000) / c.sessions, 2),
        `${fmt(c.maxConcurrent)} / ${fmt(c.everCharged.size)} / ${fmt(c.eligible)}`,
        `${fmt(c.sends.reduce((x, y) => x + y, 0) / c.sends.length, 1)} / ${fmt(Math.max(...c.sends))}`,
        msFine(floor),
      ];
    });
  });
  const size = o.balancer.map((b) => `${fmt(b.sessions)}: ${b.ticks} ticks per case after ${b.warmupTicks} warm-up ticks`).join('; ');

  const body = [
    `In-process (no CSMS child): \`compositeSchedule()\` and \`balance()\` from src/smart are pure functions and are called directly ` +
      `from the bench process, so these figures are the CPU cost of the algorithms alone (one core, no I/O, garbage collection included).`,
    '',
    targetTable(targets),
    '',
    `**Composite schedules.** One station, ${cloneSource.profiles.length} profiles with ${inputPeriods} periods in all: ChargingStationMaxProfile on ` +
      `EVSE 0 (Recurring Daily, W, 3 periods), TxDefaultProfile on EVSE 0 (Recurring Daily, A, 24 hourly periods, minChargingRate 6 A), ` +
      `TxProfile Absolute on EVSE 1 (96 × 15 min, W, 25% of the periods 1φ, 15% paused, minChargingRate 1,380 W) and on EVSE 2 ` +
      `(96 × 15 min, A, 1φ), both starting 09:45 with a 24 h duration. EVSE 1 is wired 3φ 32 A, EVSE 2 1φ 32 A, the grid connection 3φ 63 A, ` +
      `230 V. Window: now = ${new Date(NOW).toISOString()} (not on a period boundary), duration ${fmt(WINDOW_S)} s. ` +
      `Each workload runs back to back for ${o.sliceMs} ms per round (after one warm-up slice each); ${o.compositeRounds} rounds, ` +
      `the order rotated every round and reversed every other round; figures are medians over rounds, the range is min–max of the rounds. ` +
      `CPU µs is process CPU time (user + system) per call, which other tenants of the machine do not inflate.`,
    '',
    table(['Workload', 'per second (median)', 'range over rounds', 'µs (wall)', 'µs (CPU)', 'output periods'], compositeRows, ['l', 'r', 'r', 'r', 'r', 'r']),
    '',
    `**Load-balancer tick.** \`balance(group, sessions, params, now)\` on a per-phase site of 63 A × N per phase (base load 10/12/8% of the ` +
      `limit, measured and fresh; margin 2%), N = sessions ÷ ${CASES[0].sessionsPerFeeder} (minimums do not fit) and sessions ÷ ${CASES[1].sessionsPerFeeder} ` +
      `(minimums fit). Sessions (seeded): 55% 3φ, 45% 1φ spread over L1/L2/L3; EVSE max 16 or 32 A, 20% with a 20 A cable, half the 1φ EVs ` +
      `with an EV maximum, 10% with a plan limit (5% of all at 0 A: not eligible), 5% priority level 1, 40% with a departure time; 10% of the ` +
      `EVs draw only 2–5 A (nearly full, reclaimed), 20% 60–90% of their maximum. Params: hysteresis ${PARAMS.hysteresisA} A, ` +
      `minimum change ${PARAMS.minChangeA} A, rotation ${PARAMS.rotationPeriodS} s, reclaim threshold ${PARAMS.reclaimThresholdA} A. Between ticks the clock ` +
      `advances ${TICK_S} s and the result is applied (allocation, state time, new measured draw), untimed. The two cases alternate in blocks of ` +
      `${o.blockTicks} ticks. Sizes: ${size}. Percentiles are nearest-rank (p99 = max with fewer than 100 ticks). Wall = performance.now() ` +
      `around the call (what the shell waits); CPU = process CPU time over the call (not inflated when another process holds the core; ` +
      `includes GC helper threads); GC share = part of the tick wall time during which a GC pause (perf_hooks \`gc\` entries) was in progress. "Charging" = ` +
      `most at once / ever during the measured ticks / eligible (rotation shows as ever > at once); "sends" = allocations flagged \`send\`; ` +
      `"floor" = copying and sorting the session array by key (median of 20), the first step of every tick, for scale.`,
    '',
    table(
      ['Sessions', 'Case', 'Limit per phase', 'ticks with minimums fit', 'wall p50 / p99', 'wall max', 'CPU p50 / p99', 'GC share', 'CPU µs per session (p50)', 'charging: at once / ever / eligible', 'sends per tick (mean / max)', 'floor'],
      balancerRows,
      ['r', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'r'],
    ),
  ].join('\n');
  if (sink.v === 42) log(''); // keep the results alive
  return { name: 'smart', title: '6. Smart charging (in-process): composite schedules and balancer tick', targets, body, durationS: (performance.now() - t0) / 1000 };
}
