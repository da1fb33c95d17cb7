/**
 * Site load balancing (protocols.md §5.3): one tick as a pure function of (group, sessions, params, now).
 * The shell calls it every 10–60 s and on start/stop/status/meter/limit events, sends the allocations
 * flagged `send`, and stores `allocatedA`/`stateSince` for the next tick. Cases and pictures: balancer.md.
 *
 * 1. Budget for EVs per phase H_φ = limit_φ − base load_φ − margin (or, for a total-power limit, one
 *    budget in phase-amperes). A base-load reading older than `maxBaseLoadAgeS` counts as overloaded:
 *    the static worst-case `fallbackBaseLoadA` is used instead.
 * 2. Admission by priority: each session needs its minimum (6 A) on every phase it loads; a paused
 *    session needs `hysteresisA` more to resume. If all minimums fit, everyone is admitted; otherwise
 *    the order decides (explicit level; then running sessions still inside their rotation slot; then
 *    paused sessions that have waited a full slot, longest first; then running sessions whose slot
 *    expired; then paused sessions not yet due) and the rest are paused.
 * 3. Water-fill (max-min fair): the admitted sessions rise together from their minimum until they hit
 *    their own maximum or a phase/total budget is exhausted. A session drawing much less than it was
 *    given is capped near its draw, so the capacity goes to the others in the same tick.
 * 4. Anti-flooding: a running session keeps its current allocation when the change is below
 *    `minChangeA` and keeping it is safe; only real changes are flagged `send`.
 */
import type { ChargingProfile } from './profile.js';
import {
  MIN_CURRENT,
  PHASES,
  amps,
  floorTenth,
  seconds,
  type Amps,
  type EpochMs,
  type PerPhase,
  type Phase,
  type Seconds,
  type Volts,
  type Watts,
} from './units.js';

export type GroupLimit =
  /** Fuse per phase; margin per phase. */
  | { kind: 'perPhase'; limitA: PerPhase<Amps>; marginA: Amps }
  /** Connection power over all phases; margin in W. */
  | { kind: 'totalPower'; limitW: Watts; marginW: Watts };

export interface BaseLoadReading {
  /** Measured non-EV load per phase. */
  perPhaseA: PerPhase<Amps>;
  at: EpochMs;
}

export interface SiteGroup {
  id: string;
  limit: GroupLimit;
  /** Line-to-neutral voltage, for the total-power limit. */
  voltage: Volts;
  baseLoad?: BaseLoadReading;
  /** A reading older than this is stale. */
  maxBaseLoadAgeS: Seconds;
  /**
   * Worst-case non-EV load per phase, assumed when the reading is stale or absent and for the offline
   * fallback: the static budget is limit − fallbackBaseLoadA − margin.
   */
  fallbackBaseLoadA: PerPhase<Amps>;
}

/** The session's maximum is the smallest of these (absent = no constraint from that source). */
export interface SessionMax {
  evseA: Amps;
  cableA?: Amps;
  /** EV-reported (ISO 15118 / observed) maximum. */
  evA?: Amps;
  /** The SCSP plan's limit now. */
  planA?: Amps;
}

export interface BalancerSession {
  key: string;
  /** Phases the session loads: one for a 1φ EV (on the phase it is wired to), all three for 3φ. */
  phases: readonly Phase[];
  /** Minimum per phase (6 A, IEC 61851-1). */
  minA: Amps;
  max: SessionMax;
  /** Measured draw per phase (the highest of its phases); absent = unknown. */
  measuredA?: Amps;
  priority: {
    /** Higher first (fleet, paid priority). Absent = 0. */
    level?: number;
    departure?: EpochMs;
    arrival: EpochMs;
  };
  /** Allocation in force (0 = paused). */
  currentA: Amps;
  /** When the session last switched between paused and running (a new session: its arrival). */
  stateSince: EpochMs;
}

export interface BalancerParams {
  /** Extra headroom a paused session needs before it resumes (against pause/resume flapping). */
  hysteresisA: Amps;
  /** Changes smaller than this are not sent while keeping the old value is safe. */
  minChangeA: Amps;
  /** A running session keeps its slot this long before it may be rotated out (use ≥ the tick interval). */
  rotationPeriodS: Seconds;
  /** Allocation − draw above this ⇒ reclaim: cap at draw + 2 × threshold (never below the minimum). */
  reclaimThresholdA: Amps;
}

export type AllocationChange = 'start' | 'pause' | 'increase' | 'decrease' | 'none';

export interface SessionAllocation {
  key: string;
  /** In force after this tick; 0 = paused. */
  allocatedA: Amps;
  previousA: Amps;
  /** The computed value before small changes were suppressed. */
  targetA: Amps;
  /** The session's maximum after reclaim. */
  effectiveMaxA: Amps;
  /** True when `allocatedA` differs from `previousA` (to be sent to the station). */
  send: boolean;
  change: AllocationChange;
  /** Why a session is at 0. */
  pausedBecause?: 'MaxBelowMinimum' | 'NoCapacity';
  /** The session's state timestamp for the next tick (changes when it starts or pauses). */
  stateSince: EpochMs;
}

export interface TickResult {
  /** Sorted by key. */
  allocations: SessionAllocation[];
  /** EV budget used this tick: per phase (perPhase limit) or in phase-amperes (totalPower limit). */
  budget: { perPhaseA?: PerPhase<number>; totalPhaseA?: number };
  baseLoad: 'measured' | 'stale-fallback';
  /** Every session that can charge got at least its minimum. */
  minimumsFit: boolean;
}

/** A linear capacity constraint Σ weight_s × a_s ≤ capacity over the sessions. */
interface Constraint {
  capacity: number;
  /** weight per session index (0 = not a member). */
  weight: number[];
}

const EPS = 1e-9;

/** min(EVSE, cable, EV, plan). */
export function sessionMaxA(m: SessionMax): Amps {
  let x: number = m.evseA;
  for (const v of [m.cableA, m.evA, m.planA]) if (v !== undefined) x = Math.min(x, v);
  return amps(x);
}

function budgetOf(group: SiteGroup, base: PerPhase<number>): { constraints: (sessions: readonly BalancerSession[]) => Constraint[]; budget: TickResult['budget'] } {
  const lim = group.limit;
  if (lim.kind === 'perPhase') {
    const perPhase = {
      L1: lim.limitA.L1 - base.L1 - lim.marginA,
      L2: lim.limitA.L2 - base.L2 - lim.marginA,
      L3: lim.limitA.L3 - base.L3 - lim.marginA,
    };
    return {
      budget: { perPhaseA: perPhase },
      constraints: (ss) => PHASES.map((ph) => ({ capacity: perPhase[ph], weight: ss.map((s) => (s.phases.includes(ph) ? 1 : 0)) })),
    };
  }
  const baseW = (base.L1 + base.L2 + base.L3) * group.voltage;
  const totalPhaseA = (lim.limitW - baseW - lim.marginW) / group.voltage;
  return {
    budget: { totalPhaseA },
    constraints: (ss) => [{ capacity: totalPhaseA, weight: ss.map((s) => new Set(s.phases).size) }],
  };
}

/**
 * The breakpoints of every admitted session's clamp(L, lo, hi), sorted once per water-fill: at lo the
 * session starts rising with the level (+1), at hi it stops (−1).
 */
interface Breakpoints {
  x: Float64Array;
  session: Int32Array;
  sign: Int8Array;
}

function breakpointsOf(admitted: readonly number[], lo: number[], hi: number[]): Breakpoints {
  const evs: Array<{ x: number; i: number; sign: 1 | -1 }> = [];
  for (const i of admitted) if (hi[i]! > lo[i]!) evs.push({ x: lo[i]!, i, sign: 1 }, { x: hi[i]!, i, sign: -1 });
  evs.sort((a, b) => a.x - b.x || a.sign - b.sign || a.i - b.i);
  return { x: Float64Array.from(evs, (e) => e.x), session: Int32Array.from(evs, (e) => e.i), sign: Int8Array.from(evs, (e) => e.sign) };
}

/**
 * Largest water level L with Σ_frozen w·a + Σ_free w·clamp(L, lo, hi) ≤ capacity; Infinity if every free
 * member can reach its hi (or the budget has no free member); −Infinity if even the minimums do not fit.
 */
function levelFor(c: Constraint, free: readonly number[], isFree: Uint8Array, frozenLoad: number, lo: number[], bp: Breakpoints): number {
  let f = frozenLoad;
  let members = 0;
  for (const i of free) {
    const w = c.weight[i]!;
    if (w === 0) continue;
    members++;
    f += w * lo[i]!;
  }
  // A budget nobody still rising is on cannot hold anyone back (even when it is negative).
  if (members === 0) return Infinity;
  if (f > c.capacity + EPS) return -Infinity;
  let slope = 0;
  let prev = -Infinity;
  for (let e = 0; e < bp.x.length; e++) {
    const i = bp.session[e]!;
    const w = c.weight[i]!;
    if (w === 0 || isFree[i] === 0) continue;
    const x = bp.x[e]!;
    const next = slope === 0 ? f : f + slope * (x - prev);
    if (next > c.capacity + EPS) return prev + (c.capacity - f) / slope;
    f = next;
    prev = x;
    slope += bp.sign[e]! * w;
  }
  return Infinity;
}

/** Max-min fair water-fill of the admitted sessions between lo (minimum) and hi (effective maximum). */
function waterFill(constraints: readonly Constraint[], admitted: readonly number[], lo: number[], hi: number[]): Map<number, number> {
  const alloc = new Map<number, number>();
  const bp = breakpointsOf(admitted, lo, hi);
  const isFree = new Uint8Array(lo.length);
  for (const i of admitted) isFree[i] = 1;
  let free = [...admitted];
  const frozenLoad = constraints.map(() => 0);
  const tight = new Set<number>();
  while (free.length > 0) {
    const levels = constraints.map((c, k) => (tight.has(k) ? Infinity : levelFor(c, free, isFree, frozenLoad[k]!, lo, bp)));
    const level = Math.min(Infinity, ...levels);
    if (level === Infinity) {
      for (const i of free) alloc.set(i, hi[i]!);
      break;
    }
    const freeze = new Set<number>();
    levels.forEach((l, k) => {
      if (l <= level + EPS) {
        tight.add(k);
        for (const i of free) if (constraints[k]!.weight[i]! > 0) freeze.add(i);
      }
    });
    if (freeze.size === 0) for (const i of free) freeze.add(i);
    for (const i of freeze) {
      const a = Math.min(hi[i]!, Math.max(lo[i]!, level));
      alloc.set(i, a);
      isFree[i] = 0;
      constraints.forEach((c, k) => (frozenLoad[k] = frozenLoad[k]! + c.weight[i]! * a));
    }
    free = free.filter((i) => isFree[i] === 1);
  }
  return alloc;
}

function compareOptional(a: number | undefined, b: number | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  return a - b;
}

/** One balancing tick. Deterministic: the result does not depend on the order of `sessions`. */
export function balance(group: SiteGroup, sessions: readonly BalancerSession[], params: BalancerParams, now: EpochMs): TickResult {
  const ss = [...sessions].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const reading = group.baseLoad;
  const stale = reading === undefined || now - reading.at > group.maxBaseLoadAgeS * 1000;
  const base = stale ? group.fallbackBaseLoadA : reading.perPhaseA;
  const { constraints: build, budget } = budgetOf(group, base);
  const constraints = build(ss);

  const hardMax = ss.map((s) => sessionMaxA(s.max) as number);
  const lo = ss.map((s) => s.minA as number);
  const hi = ss.map((s, i) => {
    const max = hardMax[i]!;
    const m = s.measuredA;
    if (s.currentA > 0 && m !== undefined && s.currentA - m > params.reclaimThresholdA) {
      return Math.max(s.minA, Math.min(max, m + 2 * params.reclaimThresholdA));
    }
    return max;
  });
  const eligible = ss.map((s, i) => s.phases.length > 0 && hardMax[i]! >= s.minA && s.minA >= 0);

  // ── admission order ──
  // Rank groups: 0 running inside its slot, 1 paused and due (waited a full slot), 2 running with its
  // slot expired, 3 paused but not yet due. A session paused a moment ago does not outrank the session
  // that kept the slot, so a tick repeated at the same instant, or the next one, does not flip them back.
  const rotationMs = params.rotationPeriodS * 1000;
  const rankOf = (s: BalancerSession): number => {
    const since = now - s.stateSince;
    if (s.currentA > 0) return since < rotationMs || since <= 0 ? 0 : 2;
    return since >= rotationMs && since > 0 ? 1 : 3;
  };
  const rank = ss.map(rankOf);
  const order = ss
    .map((_, i) => i)
    .filter((i) => eligible[i])
    .sort((ia, ib) => {
      const a = ss[ia]!;
      const b = ss[ib]!;
      const level = (b.priority.level ?? 0) - (a.priority.level ?? 0);
      if (level !== 0) return level;
      const ga = rank[ia]!;
      const g = ga - rank[ib]!;
      if (g !== 0) return g;
      // paused: longest waiting first; slot expired: most recently started first
      const waited = ga === 1 || ga === 3 ? a.stateSince - b.stateSince : ga === 2 ? b.stateSince - a.stateSince : 0;
      if (waited !== 0) return waited;
      return (
        compareOptional(a.priority.departure, b.priority.departure) ||
        a.priority.arrival - b.priority.arrival ||
        ia - ib // ss is sorted by key
      );
    });

  const remaining = constraints.map((c) => c.capacity);
  const admitted: number[] = [];
  for (const i of order) {
    const s = ss[i]!;
    const extra = s.currentA > 0 ? 0 : params.hysteresisA;
    const fits = constraints.every((c, k) => c.weight[i]! === 0 || c.weight[i]! * (s.minA + extra) <= remaining[k]! + EPS);
    if (!fits) continue;
    admitted.push(i);
    constraints.forEach((c, k) => (remaining[k] = remaining[k]! - c.weight[i]! * s.minA));
  }

  const admittedSet = new Set(admitted);

  // ── water-fill, floor to 0.1 ──
  const filled = waterFill(constraints, admitted, lo, hi);
  const target = ss.map((s, i) => {
    const a = filled.get(i);
    if (a === undefined) return 0;
    return Math.max(s.minA, floorTenth(a));
  });

  // ── suppress small changes where safe: increases first (they free capacity), then decreases ──
  const alloc = [...target];
  const small = (i: number): boolean => {
    const s = ss[i]!;
    return (
      s.currentA > 0 &&
      target[i]! > 0 &&
      Math.abs(target[i]! - s.currentA) < params.minChangeA &&
      s.currentA >= s.minA &&
      s.currentA <= hardMax[i]!
    );
  };
  for (let i = 0; i < ss.length; i++) if (small(i) && target[i]! > ss[i]!.currentA) alloc[i] = ss[i]!.currentA;
  const load = constraints.map((c) => c.weight.reduce((x, w, i) => x + w * alloc[i]!, 0));
  for (let i = 0; i < ss.length; i++) {
    if (!small(i) || target[i]! >= ss[i]!.currentA) continue;
    const delta = ss[i]!.currentA - target[i]!;
    if (constraints.every((c, k) => load[k]! + c.weight[i]! * delta <= c.capacity + EPS)) {
      alloc[i] = ss[i]!.currentA;
      constraints.forEach((c, k) => (load[k] = load[k]! + c.weight[i]! * delta));
    }
  }

  const allocations = ss.map((s, i): SessionAllocation => {
    const a = alloc[i]!;
    const prev = s.currentA as number;
    const change: AllocationChange =
      a === prev ? 'none' : prev === 0 ? 'start' : a === 0 ? 'pause' : a > prev ? 'increase' : 'decrease';
    const out: SessionAllocation = {
      key: s.key,
      allocatedA: amps(a),
      previousA: s.currentA,
      targetA: amps(target[i]!),
      effectiveMaxA: amps(hi[i]!),
      send: change !== 'none',
      change,
      stateSince: change === 'start' || change === 'pause' ? now : s.stateSince,
    };
    if (a === 0) out.pausedBecause = eligible[i] ? 'NoCapacity' : 'MaxBelowMinimum';
    return out;
  });

  return {
    allocations,
    budget,
    baseLoad: stale ? 'stale-fallback' : 'measured',
    minimumsFit: eligible.every((e, i) => !e || admittedSet.has(i)),
  };
}

// ───────────────────────────── offline fallback ─────────────────────────────

export interface StationEvses {
  stationId: string;
  evses: ReadonlyArray<{ evseId: number; /** phases the EVSE is wired to */ phases: readonly Phase[] }>;
}

export interface FallbackLimit {
  stationId: string;
  evseId: number;
  /** Per phase; 0 when the share would be below the minimum. */
  limitA: Amps;
  numberPhases: number;
}

/**
 * Safe per-EVSE limits for when every station is offline and nothing is measured: the static budget
 * (limit − fallbackBaseLoadA − margin) shared equally among the EVSEs on each phase; an EVSE gets the
 * smallest share of the phases it is wired to (for a total-power limit: the budget in phase-amperes over
 * all EVSE phases). Floored to 0.1; a share below `minimumA` becomes 0. Σ over any phase ≤ its budget.
 */
export function fallbackLimits(group: SiteGroup, stations: readonly StationEvses[], minimumA: Amps = MIN_CURRENT): FallbackLimit[] {
  const evses = stations.flatMap((st) => st.evses.map((e) => ({ stationId: st.stationId, evseId: e.evseId, phases: [...new Set(e.phases)] })));
  const { budget } = budgetOf(group, group.fallbackBaseLoadA);
  const perPhaseCount: Record<Phase, number> = { L1: 0, L2: 0, L3: 0 };
  let phaseSlots = 0;
  for (const e of evses) {
    for (const ph of e.phases) perPhaseCount[ph]++;
    phaseSlots += e.phases.length;
  }
  return evses.map((e) => {
    let share = Infinity;
    if (budget.perPhaseA !== undefined) for (const ph of e.phases) share = Math.min(share, budget.perPhaseA[ph] / perPhaseCount[ph]);
    if (budget.totalPhaseA !== undefined && phaseSlots > 0) share = Math.min(share, budget.totalPhaseA / phaseSlots);
    let limit = e.phases.length === 0 || !Number.isFinite(share) ? 0 : Math.max(0, floorTenth(share));
    if (limit < minimumA) limit = 0;
    return { stationId: e.stationId, evseId: e.evseId, limitA: amps(limit), numberPhases: e.phases.length };
  });
}

/**
 * The fallback as TxDefault profiles (Relative, one period, in A) per EVSE, with the given id and stack
 * level. They protect the site only if the load balancer's TxProfiles expire while a station is
 * offline: send those with a bounded duration (see {@link allocationProfile}).
 */
export function fallbackProfile(
  group: SiteGroup,
  stations: readonly StationEvses[],
  ids: { profileId: number; stackLevel: number },
  minimumA: Amps = MIN_CURRENT,
): Array<FallbackLimit & { profile: ChargingProfile }> {
  return fallbackLimits(group, stations, minimumA).map((f) => {
    const period: ChargingProfile['chargingSchedule'][number]['chargingSchedulePeriod'][number] = { startPeriod: seconds(0), limit: f.limitA };
    if (f.numberPhases !== 3) period.numberPhases = f.numberPhases;
    return {
      ...f,
      profile: {
        id: ids.profileId,
        evseId: f.evseId,
        stackLevel: ids.stackLevel,
        chargingProfilePurpose: 'TxDefaultProfile',
        chargingProfileKind: 'Relative',
        chargingSchedule: [{ id: ids.profileId, chargingRateUnit: 'A', chargingSchedulePeriod: [period] }],
      },
    };
  });
}

/**
 * A load-balancer allocation as a TxProfile (Absolute from `now`, one period, in A) that ends after
 * `ttlS` (duration and validTo), so that a station that loses the CSMS falls back to its safe TxDefault.
 * The shell renews it every tick it sends; it should be ≥ 2–3 ticks.
 */
export function allocationProfile(
  a: { evseId: number; transactionId: string; limitA: Amps; numberPhases: number },
  opts: { profileId: number; stackLevel: number; now: EpochMs; ttlS: Seconds },
): ChargingProfile {
  const start = (Math.floor(opts.now / 1000) * 1000) as EpochMs;
  const period: ChargingProfile['chargingSchedule'][number]['chargingSchedulePeriod'][number] = { startPeriod: seconds(0), limit: a.limitA };
  if (a.numberPhases !== 3) period.numberPhases = a.numberPhases;
  return {
    id: opts.profileId,
    evseId: a.evseId,
    stackLevel: opts.stackLevel,
    chargingProfilePurpose: 'TxProfile',
    chargingProfileKind: 'Absolute',
    validFrom: start,
    validTo: (start + opts.ttlS * 1000) as EpochMs,
    transactionId: a.transactionId,
    chargingSchedule: [
      { id: opts.profileId, startSchedule: start, duration: opts.ttlS, chargingRateUnit: 'A', chargingSchedulePeriod: [period] },
    ],
  };
}
