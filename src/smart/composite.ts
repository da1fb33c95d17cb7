/**
 * Composite schedule of one EVSE (or of the grid connection, EVSE 0) from the profiles installed on a
 * station: what GetCompositeSchedule should answer (OCPP 1.6 §3.13.5, 2.0.1 K08). Pure: the window
 * starts at the injected `now`; no clock, no I/O. Cases and pictures: composite.md.
 *
 *   limit(t) = floor₀.₁ min( physical max of the EVSE,
 *                            StationMax(t), EvseMax(t), StationExternal(t), EvseExternal(t),
 *                            Tx(t) if a TxProfile of this transaction covers t, else TxDefault(t) )
 *
 * where each term is the profile with the highest stackLevel whose schedule covers t and that is valid
 * at t (validFrom ≤ t < validTo); a term without a covering profile does not constrain.
 */
import { activeSchedule, type ChargingProfile, type ChargingSchedule } from './profile.js';
import {
  DAY_S,
  WEEK_S,
  ceilTenth,
  convertRate,
  epochMs,
  floorTenth,
  phasesOrDefault,
  seconds,
  truncateToSecond,
  type Amps,
  type EpochMs,
  type Rate,
  type RateUnit,
  type Seconds,
  type Volts,
} from './units.js';

/** Physical limits of the EVSE (for EVSE 0: the grid connection of the station). */
export interface EvseLimits {
  maxCurrentA: Amps;
  /** Phases the EVSE is wired for (1–3). */
  phases: number;
  /** Line-to-neutral voltage used for W↔A. */
  voltage: Volts;
}

export interface TransactionContext {
  /** The transaction on this EVSE (2.0.1 id; 1.6 integer as text). */
  id: string;
  /** Start of the transaction: the anchor of Relative profiles. */
  start: EpochMs;
}

export interface CompositeRequest {
  /** Every profile installed on the station (any EVSE); the function picks the ones that apply. */
  profiles: readonly ChargingProfile[];
  /** 0 = the grid connection (Max/External profiles only). */
  evseId: number;
  /** Start of the window (truncated to the second). */
  now: EpochMs;
  duration: Seconds;
  /** Unit of the result (GetCompositeSchedule `chargingRateUnit`; the shell picks the station's when absent). */
  unit: RateUnit;
  /** The transaction on the EVSE, if any. Without it TxProfiles do not apply and Relative starts at `now`. */
  transaction?: TransactionContext;
  evse: EvseLimits;
}

export interface CompositePeriod {
  startPeriod: Seconds;
  /** In the schedule's unit: A per phase or W total; floored to 0.1. */
  limit: Rate;
  /** Phases in use; absent ⇒ 3. */
  numberPhases?: number;
}

/** 2.0.1 CompositeScheduleType-shaped result (plus 1.6's minChargingRate). */
export interface CompositeSchedule {
  evseId: number;
  duration: Seconds;
  scheduleStart: EpochMs;
  chargingRateUnit: RateUnit;
  chargingSchedulePeriod: CompositePeriod[];
  /** Largest minChargingRate of the Tx/TxDefault schedules that govern the window, in `chargingRateUnit`. */
  minChargingRate?: number;
}

/** The stacks that are combined by minimum. Within a stack the highest stack level wins. */
type StackName = 'StationMax' | 'EvseMax' | 'StationExternal' | 'EvseExternal' | 'Tx' | 'TxDefault';

/** One period of one profile, placed on the time line [from, to) in epoch ms. */
interface Segment {
  from: number;
  to: number;
  limit: number;
  unit: RateUnit;
  phases: number;
  minChargingRate: number | undefined;
}

interface ProfileTrack {
  stack: StackName;
  stackLevel: number;
  /** TxDefault on this EVSE (true) or on EVSE 0 (false): the EVSE-specific one wins a stack-level tie. */
  evseSpecific: boolean;
  /** Disjoint, ascending. */
  segments: Segment[];
  /** Sweep cursor. */
  cursor: number;
}

/** Which stack a profile belongs to for this EVSE, or undefined when it does not apply here. */
function stackOf(p: ChargingProfile, req: CompositeRequest): StackName | undefined {
  const onStation = p.evseId === 0;
  const onThis = p.evseId === req.evseId;
  switch (p.chargingProfilePurpose) {
    case 'ChargingStationMaxProfile':
      return onStation ? 'StationMax' : onThis ? 'EvseMax' : undefined;
    case 'ChargingStationExternalConstraints':
      return onStation ? 'StationExternal' : onThis ? 'EvseExternal' : undefined;
    case 'TxDefaultProfile':
      // EVSE 0 = the grid connection: only station limits apply there.
      return req.evseId !== 0 && (onStation || onThis) ? 'TxDefault' : undefined;
    case 'TxProfile':
      if (req.evseId === 0 || !onThis || req.transaction === undefined) return undefined;
      // A TxProfile without transactionId (1.6 remote start) belongs to the EVSE's current transaction.
      return p.transactionId === undefined || p.transactionId === req.transaction.id ? 'Tx' : undefined;
  }
}

/**
 * Places the periods of a schedule on the time line, clipped to [lo, hi).
 * Start: Absolute → startSchedule; Recurring → startSchedule + k × day/week (the anchor also extends
 * backwards, so yesterday's occurrence covers the time before today's start); Relative → transaction
 * start, else `now`. Absolute/Recurring without startSchedule (invalid, K01.FR.40) start at validFrom,
 * else like Relative. A schedule ends at start + duration; without duration the last period runs on
 * (Recurring: until the next occurrence).
 */
function segmentsOf(p: ChargingProfile, s: ChargingSchedule, relativeAnchor: number, lo: number, hi: number): Segment[] {
  const periods = [...s.chargingSchedulePeriod].sort((a, b) => a.startPeriod - b.startPeriod);
  const out: Segment[] = [];
  const durationMs = s.duration === undefined ? Infinity : s.duration * 1000;
  const place = (start: number, spanMs: number): void => {
    const end = start + spanMs;
    periods.forEach((q, i) => {
      const next = periods[i + 1];
      const from = Math.max(start + q.startPeriod * 1000, lo);
      const to = Math.min(next === undefined ? Infinity : start + next.startPeriod * 1000, end, hi);
      if (from < to) {
        out.push({
          from,
          to,
          limit: q.limit,
          unit: s.chargingRateUnit,
          phases: phasesOrDefault(q.numberPhases),
          minChargingRate: s.minChargingRate,
        });
      }
    });
  };
  const fixedStart = truncateToSecond(epochMs(s.startSchedule ?? p.validFrom ?? relativeAnchor));
  switch (p.chargingProfileKind) {
    case 'Relative':
      place(relativeAnchor, durationMs);
      break;
    case 'Absolute':
      place(fixedStart, durationMs);
      break;
    case 'Recurring': {
      // recurrencyKind absent on a Recurring profile (invalid) is read as Daily.
      const periodMs = (p.recurrencyKind === 'Weekly' ? WEEK_S : DAY_S) * 1000;
      const span = Math.min(durationMs, periodMs);
      const kFirst = Math.floor((lo - fixedStart) / periodMs);
      const kLast = Math.floor((hi - 1 - fixedStart) / periodMs);
      for (let k = kFirst; k <= kLast; k++) place(fixedStart + k * periodMs, span);
      break;
    }
  }
  return out;
}

/** Computes the composite schedule. See the module comment and composite.md. */
export function compositeSchedule(req: CompositeRequest): CompositeSchedule {
  const ws = truncateToSecond(req.now);
  const durationS = Math.max(0, Math.floor(req.duration));
  // A zero-length window still reports the limit in force at `now`.
  const we = ws + Math.max(durationS, 1) * 1000;
  const relativeAnchor = req.transaction === undefined ? ws : truncateToSecond(req.transaction.start);

  const tracks: ProfileTrack[] = [];
  const breakpoints = new Set<number>([ws]);
  for (const p of req.profiles) {
    const stack = stackOf(p, req);
    const schedule = activeSchedule(p);
    if (stack === undefined || schedule === undefined) continue;
    const vf = p.validFrom === undefined ? -Infinity : truncateToSecond(p.validFrom);
    const vt = p.validTo === undefined ? Infinity : truncateToSecond(p.validTo);
    const lo = Math.max(ws, vf);
    const hi = Math.min(we, vt);
    if (lo >= hi) continue;
    const segments = segmentsOf(p, schedule, relativeAnchor, lo, hi);
    if (segments.length === 0) continue;
    for (const g of segments) {
      breakpoints.add(g.from);
      if (g.to < we) breakpoints.add(g.to);
    }
    tracks.push({ stack, stackLevel: p.stackLevel, evseSpecific: p.evseId !== 0, segments, cursor: 0 });
  }

  const unit = req.unit;
  const { voltage } = req.evse;
  const times = [...breakpoints].sort((a, b) => a - b);
  const periods: CompositePeriod[] = [];
  let minRate: number | undefined;

  for (const t of times) {
    // Winners per stack at t: highest stackLevel; for TxDefault the EVSE-specific one on a tie; profiles
    // still tied (an invalid state, K01.FR.06) all apply, i.e. the lowest wins.
    const best = new Map<StackName, { level: number; specific: boolean; segments: Segment[] }>();
    for (const tr of tracks) {
      let g = tr.segments[tr.cursor];
      while (g !== undefined && g.to <= t) g = tr.segments[++tr.cursor];
      if (g === undefined || g.from > t) continue;
      const specific = tr.stack === 'TxDefault' && tr.evseSpecific;
      const cur = best.get(tr.stack);
      if (
        cur === undefined ||
        tr.stackLevel > cur.level ||
        (tr.stackLevel === cur.level && specific && !cur.specific)
      ) {
        best.set(tr.stack, { level: tr.stackLevel, specific, segments: [g] });
      } else if (tr.stackLevel === cur.level && specific === cur.specific) {
        cur.segments.push(g);
      }
    }
    // TxProfile overrules TxDefault for its transaction where it has a value (1.6 §3.13.2, 2.0.1 K08).
    if (best.has('Tx')) best.delete('TxDefault');

    const applying: Segment[] = [];
    for (const w of best.values()) applying.push(...w.segments);
    let phases = req.evse.phases;
    for (const g of applying) phases = Math.min(phases, g.phases);

    let limit = convertRate(req.evse.maxCurrentA, 'A', unit, phases, voltage);
    for (const g of applying) limit = Math.min(limit, convertRate(g.limit, g.unit, unit, phases, voltage));
    limit = Math.max(0, floorTenth(limit));

    for (const name of ['Tx', 'TxDefault'] as const) {
      for (const g of best.get(name)?.segments ?? []) {
        if (g.minChargingRate === undefined) continue;
        const m = ceilTenth(convertRate(g.minChargingRate, g.unit, unit, phases, voltage));
        minRate = minRate === undefined ? m : Math.max(minRate, m);
      }
    }

    const startPeriod = seconds(Math.floor((t - ws) / 1000));
    const last = periods[periods.length - 1];
    const numberPhases = phases === 3 ? undefined : phases;
    if (last !== undefined && last.limit === limit && last.numberPhases === numberPhases) continue;
    const period: CompositePeriod = { startPeriod, limit: limit as Rate };
    if (numberPhases !== undefined) period.numberPhases = numberPhases;
    periods.push(period);
  }

  const result: CompositeSchedule = {
    evseId: req.evseId,
    duration: seconds(durationS),
    scheduleStart: epochMs(ws),
    chargingRateUnit: unit,
    chargingSchedulePeriod: periods,
  };
  if (minRate !== undefined) result.minChargingRate = minRate;
  return result;
}

/** The composite's limit at instant t (undefined outside the window). For tests and cross-checks. */
export function limitAt(c: CompositeSchedule, t: EpochMs): CompositePeriod | undefined {
  const elapsed = (t - c.scheduleStart) / 1000;
  if (elapsed < 0 || elapsed >= Math.max(c.duration, 1)) return undefined;
  let found: CompositePeriod | undefined;
  for (const p of c.chargingSchedulePeriod) {
    if (p.startPeriod <= elapsed) found = p;
    else break;
  }
  return found;
}
