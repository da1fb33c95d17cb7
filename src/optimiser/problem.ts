/**
 * From {@link OptimiserInput} to the normalised {@link Problem} every algorithm works on.
 *
 * Planning grid: the price slots cut to [now, horizon end), where now is truncated to the second.
 * Power is constant within a slot (the schedule may stop charging inside a slot, see below).
 *
 * Session window: the slots lying entirely within [max(arrival, now), departure) — a session cannot
 * charge before it plugs in nor after it leaves, so a slot it only partly covers is not used.
 *
 * Need: E = energyWh − deliveredWh, or (SoC_target − SoC_now) × capacity / η. When the departure lies
 * beyond the horizon (beyond the known prices), what the session could still take after the horizon at
 * full power is not required inside it: E_h = max(0, E − P_max × (departure − horizon end)) — the
 * evcc rule of protocols.md §5.2 ("no plan yet if the unpriced tail suffices, else shrink the
 * requirement"). The plan then delivers exactly E_h (it never plans more than it needs, even at
 * negative prices; the battery could not take more).
 *
 * Power bounds: P ∈ {0} ∪ [P_min, P_max] while on, P_min = 6 A × phases × V unless given; P_min is
 * rounded up and P_max down to 0.1 W so that limits floored to 0.1 W (what OCPP carries) stay inside.
 * A slot may carry less energy than P_min × slot length: the session then charges at P_min from the
 * slot start and stops early (semi-continuity holds for the power; the site limit is checked against
 * the power, not the slot average).
 */
import {
  NOMINAL_VOLTAGE,
  PHASES,
  ceilTenth,
  epochMs,
  floorTenth,
  minimumPower,
  truncateToSecond,
  volts,
  type EpochMs,
  type Phase,
} from '../smart/units.js';
import { validateCurve } from './prices.js';
import { OptimiserInputError, type OptimiserInput, type PlanSlot, type SessionInput, type SessionNote } from './types.js';

/** Default grid → battery efficiency for SoC needs. */
export const DEFAULT_EFFICIENCY = 0.9;
/** Energies below this (Wh) count as zero. */
export const EPS_WH = 1e-6;
/** Shortfall penalty per kWh = this × the largest |price| (see {@link Problem.penaltyPerKWh}). */
export const PENALTY_FACTOR = 10_000;

export interface NormSession {
  index: number;
  id: string;
  arrival: EpochMs;
  /** Window [first, end) in grid slot indices; first === end = empty. */
  first: number;
  end: number;
  /** Energy to deliver inside the horizon (Wh). */
  needWh: number;
  /** Energy to deliver as soon as possible (Wh, ≤ needWh). */
  chargeNowWh: number;
  minW: number;
  maxW: number;
  phases: readonly Phase[];
  voltage: number;
  /** Per-phase current per W on each loaded phase: 1 / (V × phases). */
  ampsPerW: number;
  notes: SessionNote[];
}

export interface Problem {
  start: EpochMs;
  currency: string;
  slots: PlanSlot[];
  /** Slot lengths in hours. */
  hours: Float64Array;
  /** Prices per kWh. */
  price: Float64Array;
  /** Site power per slot (W; Infinity = none). */
  siteW: Float64Array;
  /** Site current per phase per slot (A; Infinity = none), present when any per-phase limit is given. */
  siteA?: Record<Phase, Float64Array>;
  sessions: NormSession[];
  /**
   * Penalty per kWh not delivered: {@link PENALTY_FACTOR} × the largest |price| (at least 1). It must beat
   * more than price differences: with a minimum power, delivering a small remainder can mean moving a
   * whole P_min × slot block of other sessions' energy to dearer slots, so the factor is large.
   */
  penaltyPerKWh: number;
  /** For each slot, the sessions whose window contains it (ascending index). */
  slotSessions: Int32Array[];
}

const fail = (path: string, msg: string): never => {
  throw new OptimiserInputError(`${path}: ${msg}`);
};

function finite(x: unknown, path: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) fail(path, `must be a finite number (got ${JSON.stringify(x)})`);
  return x as number;
}

function nonNegative(x: unknown, path: string): number {
  const v = finite(x, path);
  if (v < 0) fail(path, `must be ≥ 0 (got ${v})`);
  return v;
}

function pct(x: unknown, path: string): number {
  const v = finite(x, path);
  if (v < 0 || v > 100) fail(path, `must be within 0–100 % (got ${v})`);
  return v;
}

/** Builds the grid, the per-slot site limits and the normalised sessions; throws {@link OptimiserInputError}. */
export function buildProblem(input: OptimiserInput): Problem {
  if (input === null || typeof input !== 'object') fail('input', 'must be an object');
  const now = truncateToSecond(epochMs(finite(input.now, 'now')));
  validateCurve(input.prices, 'prices');
  const curve = input.prices.slots;
  const curveEnd = curve[curve.length - 1]!.start + curve[curve.length - 1]!.durationS * 1000;
  const horizonEnd = input.horizonEnd === undefined ? curveEnd : Math.min(finite(input.horizonEnd, 'horizonEnd'), curveEnd);
  if (curve[0]!.start > now) fail('prices', `the curve starts at ${new Date(curve[0]!.start).toISOString()}, after now (${new Date(now).toISOString()})`);
  if (horizonEnd <= now) fail(input.horizonEnd === undefined ? 'prices' : 'horizonEnd', `no time left to plan: it ends at ${new Date(horizonEnd).toISOString()}, not after now (${new Date(now).toISOString()})`);

  // Grid: price slots cut to [now, horizonEnd); fragments shorter than a second are dropped.
  const slots: PlanSlot[] = [];
  for (const s of curve) {
    const a = Math.max(s.start, now);
    const b = Math.min(s.start + s.durationS * 1000, horizonEnd);
    if (b - a < 1000) continue;
    slots.push({ start: epochMs(a), durationS: ((b - a) / 1000) as PlanSlot['durationS'], price: s.price, siteLimitW: Infinity });
  }
  const T = slots.length;
  const hours = Float64Array.from(slots, (s) => s.durationS / 3600);
  const price = Float64Array.from(slots, (s) => s.price);

  const { siteW, siteA } = siteLimits(input, slots);
  slots.forEach((s, t) => {
    s.siteLimitW = siteW[t]!;
    if (siteA) s.siteLimitA = { L1: siteA.L1[t]!, L2: siteA.L2[t]!, L3: siteA.L3[t]! };
  });

  if (!Array.isArray(input.sessions)) fail('sessions', 'must be an array');
  const ids = new Set<string>();
  const defaultVoltage = input.site?.voltage === undefined ? NOMINAL_VOLTAGE : finite(input.site.voltage, 'site.voltage');
  if (defaultVoltage <= 0) fail('site.voltage', 'must be > 0');
  const gridEnd = T === 0 ? now : slots[T - 1]!.start + slots[T - 1]!.durationS * 1000;
  const sessions = input.sessions.map((s, i) => normaliseSession(s, i, slots, now, gridEnd, defaultVoltage, ids));

  const slotSessions: Int32Array[] = [];
  for (let t = 0; t < T; t++) {
    const list: number[] = [];
    for (const s of sessions) if (s.first <= t && t < s.end) list.push(s.index);
    slotSessions.push(Int32Array.from(list));
  }
  let maxAbs = 0;
  for (const p of price) maxAbs = Math.max(maxAbs, Math.abs(p));
  return {
    start: now,
    currency: input.prices.currency,
    slots,
    hours,
    price,
    siteW,
    ...(siteA ? { siteA } : {}),
    sessions,
    penaltyPerKWh: Math.max(1, PENALTY_FACTOR * maxAbs),
    slotSessions,
  };
}

function siteLimits(input: OptimiserInput, slots: PlanSlot[]): { siteW: Float64Array; siteA?: Record<Phase, Float64Array> } {
  const T = slots.length;
  const siteW = new Float64Array(T).fill(Infinity);
  const site = input.site;
  if (site === undefined) return { siteW };
  if (site === null || typeof site !== 'object') fail('site', 'must be an object');
  const steps = site.steps ?? [];
  if (!Array.isArray(steps)) fail('site.steps', 'must be an array');
  let perPhase = site.currentA !== undefined;
  steps.forEach((st, k) => {
    finite(st.from, `site.steps[${k}].from`);
    if (k > 0 && st.from <= steps[k - 1]!.from) fail(`site.steps[${k}].from`, 'steps must be in strictly ascending order of `from`');
    if (st.powerW !== undefined) nonNegative(st.powerW, `site.steps[${k}].powerW`);
    if (st.currentA !== undefined) {
      perPhase = true;
      for (const ph of PHASES) nonNegative(st.currentA[ph], `site.steps[${k}].currentA.${ph}`);
    }
  });
  if (site.powerW !== undefined) nonNegative(site.powerW, 'site.powerW');
  if (site.currentA !== undefined) for (const ph of PHASES) nonNegative(site.currentA[ph], `site.currentA.${ph}`);
  const siteA = perPhase ? { L1: new Float64Array(T).fill(Infinity), L2: new Float64Array(T).fill(Infinity), L3: new Float64Array(T).fill(Infinity) } : undefined;

  for (let t = 0; t < T; t++) {
    const a = slots[t]!.start;
    const b = a + slots[t]!.durationS * 1000;
    let w = site.powerW ?? Infinity;
    const amps = { L1: site.currentA?.L1 ?? Infinity, L2: site.currentA?.L2 ?? Infinity, L3: site.currentA?.L3 ?? Infinity };
    // Every step whose interval [from_k, from_{k+1}) overlaps [a, b) constrains the slot.
    steps.forEach((st, k) => {
      const until = steps[k + 1]?.from ?? Infinity;
      if (st.from >= b || until <= a) return;
      if (st.powerW !== undefined) w = Math.min(w, st.powerW);
      if (st.currentA) for (const ph of PHASES) amps[ph] = Math.min(amps[ph], st.currentA[ph]);
    });
    siteW[t] = w;
    if (siteA) for (const ph of PHASES) siteA[ph][t] = amps[ph];
  }
  return siteA ? { siteW, siteA } : { siteW };
}

function normaliseSession(s: SessionInput, i: number, slots: PlanSlot[], now: EpochMs, gridEnd: number, defaultVoltage: number, ids: Set<string>): NormSession {
  const path = `sessions[${i}]`;
  if (s === null || typeof s !== 'object') fail(path, 'must be an object');
  if (typeof s.id !== 'string' || s.id.length === 0) fail(`${path}.id`, 'must be a non-empty string');
  if (ids.has(s.id)) fail(`${path}.id`, `duplicate id ${JSON.stringify(s.id)}`);
  ids.add(s.id);
  const arrival = finite(s.arrival, `${path}.arrival`);
  const departure = finite(s.departure, `${path}.departure`);
  if (departure <= arrival) fail(`${path}.departure`, 'must be after the arrival');
  const maxIn = finite(s.maxPowerW, `${path}.maxPowerW`);
  if (maxIn <= 0) fail(`${path}.maxPowerW`, `must be > 0 (got ${maxIn})`);
  const phases = s.phases ?? PHASES;
  if (!Array.isArray(phases) || phases.length === 0 || phases.length > 3 || new Set(phases).size !== phases.length || phases.some((p) => !PHASES.includes(p)))
    fail(`${path}.phases`, `must be 1–3 distinct phases of L1, L2, L3 (got ${JSON.stringify(phases)})`);
  const voltage = s.voltage === undefined ? defaultVoltage : finite(s.voltage, `${path}.voltage`);
  if (voltage <= 0) fail(`${path}.voltage`, 'must be > 0');
  const efficiency = s.efficiency === undefined ? DEFAULT_EFFICIENCY : finite(s.efficiency, `${path}.efficiency`);
  if (efficiency <= 0 || efficiency > 1) fail(`${path}.efficiency`, `must be within (0, 1] (got ${efficiency})`);
  const minIn = s.minPowerW === undefined ? minimumPower(phases.length, volts(voltage)) : nonNegative(s.minPowerW, `${path}.minPowerW`);
  const minW = ceilTenth(minIn);
  const maxW = floorTenth(maxIn);
  const notes: SessionNote[] = [];

  // Need (grid side).
  const need = s.need;
  let needWh: number;
  let socPct: number | undefined;
  let capacityWh = 0;
  if (need === null || typeof need !== 'object') fail(`${path}.need`, 'must be {energyWh} or {targetSocPct, socPct, capacityWh}');
  if ('energyWh' in need) {
    needWh = Math.max(0, nonNegative(need.energyWh, `${path}.need.energyWh`) - (s.deliveredWh === undefined ? 0 : nonNegative(s.deliveredWh, `${path}.deliveredWh`)));
  } else if ('targetSocPct' in need) {
    const target = pct(need.targetSocPct, `${path}.need.targetSocPct`);
    socPct = pct(need.socPct, `${path}.need.socPct`);
    capacityWh = finite(need.capacityWh, `${path}.need.capacityWh`);
    if (capacityWh <= 0) fail(`${path}.need.capacityWh`, 'must be > 0');
    needWh = (Math.max(0, target - socPct) / 100) * (capacityWh / efficiency);
  } else {
    return fail(`${path}.need`, 'must be {energyWh} or {targetSocPct, socPct, capacityWh}');
  }
  const fullNeed = needWh;

  let chargeNowWh = 0;
  if (s.chargeNow !== undefined) {
    const cn = s.chargeNow;
    if (cn === null || typeof cn !== 'object') fail(`${path}.chargeNow`, 'must be {energyWh} or {minSocPct}');
    if ('energyWh' in cn) chargeNowWh = nonNegative(cn.energyWh, `${path}.chargeNow.energyWh`);
    else if ('minSocPct' in cn) {
      const minSoc = pct(cn.minSocPct, `${path}.chargeNow.minSocPct`);
      if (socPct === undefined) fail(`${path}.chargeNow.minSocPct`, 'needs an SoC need ({targetSocPct, socPct, capacityWh}) to know the SoC now');
      chargeNowWh = (Math.max(0, minSoc - socPct!) / 100) * (capacityWh / efficiency);
    } else fail(`${path}.chargeNow`, 'must be {energyWh} or {minSocPct}');
    chargeNowWh = Math.min(chargeNowWh, fullNeed);
  }

  // Window: slots entirely inside [max(arrival, now), departure).
  const from = Math.max(arrival, now);
  let first = slots.findIndex((sl) => sl.start >= from);
  if (first < 0) first = slots.length;
  let end = first;
  while (end < slots.length && slots[end]!.start + slots[end]!.durationS * 1000 <= departure) end++;
  if (departure > gridEnd) {
    // Beyond the known prices: the tail after the horizon can still take P_max × its length.
    const tailWh = (maxW * (departure - Math.max(gridEnd, from))) / 3_600_000;
    if (tailWh > 0) {
      notes.push('BeyondHorizon');
      needWh = Math.max(0, needWh - tailWh);
    }
  }
  needWh = Math.max(needWh, chargeNowWh);
  if (maxW < minW) {
    notes.push('MaxBelowMinimum');
    end = first;
  }
  if (end <= first) {
    end = first;
    if (!notes.includes('MaxBelowMinimum')) notes.push('NoWindow');
  }
  return {
    index: i,
    id: s.id,
    arrival: epochMs(arrival),
    first,
    end,
    needWh,
    chargeNowWh,
    minW,
    maxW,
    phases,
    voltage,
    ampsPerW: 1 / (voltage * phases.length),
    notes,
  };
}

/** Energies of one session over its window (Wh), index t − first. */
export type Energies = Float64Array[];

export function emptyEnergies(p: Problem): Energies {
  return p.sessions.map((s) => new Float64Array(s.end - s.first));
}

export function cloneEnergies(e: Energies): Energies {
  return e.map((x) => x.slice());
}

/**
 * The power a session draws in slot t for energy e (Wh): e / h when that reaches P_min, otherwise P_min
 * (for e / P_min hours, then off). 0 for no energy.
 */
export function levelOf(s: NormSession, e: number, h: number): number {
  if (e <= EPS_WH) return 0;
  return Math.max(e / h, s.minW);
}

/** Σ price × energy (currency) and the delivered energy of a plan. */
export function costOf(p: Problem, e: Energies): { cost: number; deliveredWh: number; shortfallWh: number; objective: number } {
  let cost = 0;
  let delivered = 0;
  let shortfall = 0;
  for (const s of p.sessions) {
    const x = e[s.index]!;
    let d = 0;
    for (let k = 0; k < x.length; k++) {
      d += x[k]!;
      cost += (x[k]! / 1000) * p.price[s.first + k]!;
    }
    delivered += d;
    shortfall += Math.max(0, s.needWh - d);
  }
  return { cost, deliveredWh: delivered, shortfallWh: shortfall, objective: cost + (shortfall / 1000) * p.penaltyPerKWh };
}
