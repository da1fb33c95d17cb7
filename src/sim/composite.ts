/**
 * Charger-side composite schedule maths (pure: every function takes `now`; no clock, no I/O).
 *
 * Written from the OCPP texts (1.6 §3.13 "Smart Charging", 2.0.1 Part 2 K08 "Get Composite Schedule")
 * and independently of Ampline's CSMS code, so that it can serve as a cross-check oracle.
 * See composite.md beside this file for pictures of the cases.
 *
 * Rules implemented:
 * - A profile is *valid* at t when validFrom ≤ t < validTo (absent bounds are open).
 * - Its schedule *covers* t when start ≤ t < start + duration (no duration: forever), where start is
 *   `startSchedule` (Absolute), the current recurrence of `startSchedule` (Recurring Daily/Weekly,
 *   also backwards in time, so at 11:50 a Daily profile starting 12:00 is in yesterday's last period),
 *   or the transaction start (Relative; `now` when no transaction, as for a GetCompositeSchedule).
 * - Per purpose, the highest stackLevel among valid, covering profiles wins (1.6 §3.13 stacking; 2.0.1 K08).
 *   On a tie between a profile on EVSE 0 and one on the EVSE itself, the EVSE-specific one wins
 *   (interpretation: the spec's "connector-specific TxDefault overrules connector 0").
 * - TxProfile overrules TxDefaultProfile for the transaction it belongs to (1.6 §3.13.1, K01).
 * - Composite = min(ChargingStationMax, ExternalConstraints, Tx-or-TxDefault, physical maximum)
 *   (1.6 §3.13.3, K08). Where no profile defines a limit the physical maximum applies.
 * - W ↔ A with phases = min(numberPhases ?? 3, physical phases) and line-to-neutral voltage;
 *   reported limits are rounded down to 0.1 (protocols §3.5).
 */
import { convertLimit, floorTenth, type EpochMs, type RateUnit, type Seconds, type Volts } from './units.js';

export type ProfilePurpose =
  | 'ChargingStationMaxProfile'
  | 'ChargingStationExternalConstraints'
  | 'TxDefaultProfile'
  | 'TxProfile';
export type ProfileKind = 'Absolute' | 'Recurring' | 'Relative';
export type RecurrencyKind = 'Daily' | 'Weekly';

export interface SchedulePeriod {
  /** Seconds from the start of the schedule. */
  startPeriod: Seconds;
  limit: number;
  numberPhases?: number;
  phaseToUse?: number;
}

export interface Schedule {
  startSchedule?: EpochMs;
  duration?: Seconds;
  chargingRateUnit: RateUnit;
  periods: SchedulePeriod[];
  minChargingRate?: number;
}

/** Version-neutral installed charging profile (2.0.1-shaped; 1.6 maps ChargePointMax → ChargingStationMax). */
export interface Profile {
  /** EVSE the profile is installed on; 0 = the whole station (1.6 connector 0). */
  evseId: number;
  id: number;
  stackLevel: number;
  purpose: ProfilePurpose;
  kind: ProfileKind;
  recurrencyKind?: RecurrencyKind;
  validFrom?: EpochMs;
  validTo?: EpochMs;
  /** 2.0.1 string id; 1.6 integer id as a decimal string. */
  transactionId?: string;
  schedule: Schedule;
  /** When the station accepted it; the start of a 1.6 Absolute profile without startSchedule. */
  installedAt: EpochMs;
}

export interface LimitValue {
  limit: number;
  unit: RateUnit;
  numberPhases?: number;
}

export interface CompositeInput {
  profiles: readonly Profile[];
  /** 0 = the station's grid connection (only station-wide purposes apply). */
  evseId: number;
  /** Physical phases available for conversion (EVSE phases, or the phases the EV is using). */
  phases: number;
  voltageV: Volts;
  /** Active transaction on the EVSE, if any (TxProfiles and Relative profiles use it). */
  transaction?: { id: string; startedAt: EpochMs };
  /** Hardware maximum of the EVSE (or station for evseId 0): caps the result and fills gaps. */
  physicalMax: LimitValue;
}

export interface CompositeSegment {
  from: EpochMs;
  to: EpochMs;
  limit: number;
  numberPhases?: number;
}

export interface CompositePeriod {
  startPeriod: Seconds;
  limit: number;
  numberPhases?: number;
}

export interface CompositeSchedule {
  evseId: number;
  scheduleStart: EpochMs;
  duration: Seconds;
  chargingRateUnit: RateUnit;
  chargingSchedulePeriod: CompositePeriod[];
}

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

function recurrenceMs(kind: RecurrencyKind | undefined): number {
  return kind === 'Weekly' ? WEEK_MS : DAY_MS;
}

/** Start of the schedule occurrence that applies at `t` (may be after `t` for non-recurring kinds). */
export function scheduleStartAt(p: Profile, t: EpochMs, relativeStart: EpochMs): EpochMs {
  switch (p.kind) {
    case 'Relative':
      return relativeStart;
    case 'Absolute':
      return p.schedule.startSchedule ?? p.installedAt;
    case 'Recurring': {
      const anchor = p.schedule.startSchedule ?? p.installedAt;
      const period = recurrenceMs(p.recurrencyKind);
      return anchor + Math.floor((t - anchor) / period) * period;
    }
  }
}

function effectiveDurationMs(p: Profile): number {
  const d = p.schedule.duration === undefined ? Infinity : p.schedule.duration * 1000;
  return p.kind === 'Recurring' ? Math.min(d, recurrenceMs(p.recurrencyKind)) : d;
}

/** The limit a single profile imposes at `t`, or undefined when it is not valid or does not cover `t`. */
export function profileLimitAt(p: Profile, t: EpochMs, relativeStart: EpochMs): LimitValue | undefined {
  if (p.validFrom !== undefined && t < p.validFrom) return undefined;
  if (p.validTo !== undefined && t >= p.validTo) return undefined;
  const start = scheduleStartAt(p, t, relativeStart);
  const elapsedMs = t - start;
  if (elapsedMs < 0 || elapsedMs >= effectiveDurationMs(p)) return undefined;
  let chosen: SchedulePeriod | undefined;
  for (const period of p.schedule.periods) {
    if (period.startPeriod * 1000 <= elapsedMs) chosen = period;
    else break;
  }
  if (!chosen) return undefined; // first period starts after 0: not allowed by validation, treated as a gap
  const v: LimitValue = { limit: chosen.limit, unit: p.schedule.chargingRateUnit };
  if (chosen.numberPhases !== undefined) v.numberPhases = chosen.numberPhases;
  return v;
}

function appliesTo(p: Profile, input: CompositeInput): boolean {
  if (input.evseId === 0) {
    return p.evseId === 0 && (p.purpose === 'ChargingStationMaxProfile' || p.purpose === 'ChargingStationExternalConstraints');
  }
  if (p.purpose === 'TxProfile') {
    // TxProfile: only on its EVSE, only for its transaction (1.6: transactionId optional = current tx).
    if (p.evseId !== input.evseId || !input.transaction) return false;
    return p.transactionId === undefined || p.transactionId === input.transaction.id;
  }
  return p.evseId === 0 || p.evseId === input.evseId;
}

/** Highest stack level wins; on a tie the EVSE-specific profile beats the station-wide one. */
function beats(a: Profile, b: Profile): boolean {
  if (a.stackLevel !== b.stackLevel) return a.stackLevel > b.stackLevel;
  return a.evseId !== 0 && b.evseId === 0;
}

function winnerFor(
  purpose: ProfilePurpose,
  candidates: readonly Profile[],
  t: EpochMs,
  relativeStart: EpochMs,
): LimitValue | undefined {
  let best: Profile | undefined;
  let bestLimit: LimitValue | undefined;
  for (const p of candidates) {
    if (p.purpose !== purpose) continue;
    const l = profileLimitAt(p, t, relativeStart);
    if (l && (!best || beats(p, best))) {
      best = p;
      bestLimit = l;
    }
  }
  return bestLimit;
}

function relevantProfiles(input: CompositeInput): Profile[] {
  return input.profiles.filter((p) => appliesTo(p, input));
}

/** Composite limit at `t` in `unit` (unrounded), with the numberPhases of the winning limit if it had one. */
export function compositeLimitAt(
  input: CompositeInput,
  t: EpochMs,
  unit: RateUnit,
  now: EpochMs,
  relevant: readonly Profile[] = relevantProfiles(input),
): { limit: number; numberPhases?: number } {
  const relativeStart = input.transaction?.startedAt ?? now;
  const tx = winnerFor('TxProfile', relevant, t, relativeStart);
  const limits: LimitValue[] = [];
  const max = winnerFor('ChargingStationMaxProfile', relevant, t, relativeStart);
  if (max) limits.push(max);
  const ext = winnerFor('ChargingStationExternalConstraints', relevant, t, relativeStart);
  if (ext) limits.push(ext);
  const txOrDefault = tx ?? winnerFor('TxDefaultProfile', relevant, t, relativeStart);
  if (txOrDefault) limits.push(txOrDefault);
  limits.push(input.physicalMax); // last: on a tie the profile's limit (and its numberPhases) is reported

  // Every limit is converted with the phases actually in force: the fewest any applicable period allows
  // (absent ⇒ 3) and the EVSE has. A 24 A per-phase cap on a single-phase EV is 24 A × 1 × V, not × 3.
  const explicit = limits.filter((l) => l.numberPhases !== undefined).map((l) => l.numberPhases!);
  const inForce = Math.min(input.phases, ...limits.map((l) => l.numberPhases ?? 3));
  let best = Infinity;
  for (const l of limits) best = Math.min(best, convertLimit(l.limit, l.unit, unit, inForce, input.voltageV));
  const out: { limit: number; numberPhases?: number } = { limit: Math.max(0, best) };
  if (explicit.length > 0) out.numberPhases = Math.min(...limits.map((l) => l.numberPhases ?? 3));
  return out;
}

/** Every instant in [from, to) at which some relevant profile may change its limit. */
function breakpoints(profiles: readonly Profile[], from: EpochMs, to: EpochMs, relativeStart: EpochMs): EpochMs[] {
  const pts = new Set<EpochMs>([from]);
  const add = (t: EpochMs) => {
    if (t > from && t < to) pts.add(t);
  };
  for (const p of profiles) {
    if (p.validFrom !== undefined) add(p.validFrom);
    if (p.validTo !== undefined) add(p.validTo);
    const dur = effectiveDurationMs(p);
    const occurrence = (start: EpochMs) => {
      add(start);
      for (const period of p.schedule.periods) add(start + period.startPeriod * 1000);
      if (Number.isFinite(dur)) add(start + dur);
    };
    if (p.kind === 'Recurring') {
      const step = recurrenceMs(p.recurrencyKind);
      for (let s = scheduleStartAt(p, from, relativeStart); s < to; s += step) occurrence(s);
    } else {
      occurrence(scheduleStartAt(p, from, relativeStart));
    }
  }
  return [...pts].sort((a, b) => a - b);
}

/**
 * Piecewise-constant composite limit over [from, from + durationS), in `unit`, unrounded, with
 * millisecond boundaries (the meter model integrates over these). Adjacent equal segments are merged.
 */
export function compositeSegments(
  input: CompositeInput,
  from: EpochMs,
  durationS: Seconds,
  unit: RateUnit,
): CompositeSegment[] {
  const to = from + durationS * 1000;
  if (to <= from) return [];
  const relevant = relevantProfiles(input);
  const relativeStart = input.transaction?.startedAt ?? from;
  const pts = breakpoints(relevant, from, to, relativeStart);
  const out: CompositeSegment[] = [];
  for (let i = 0; i < pts.length; i++) {
    const t = pts[i] as EpochMs;
    const end = pts[i + 1] ?? to;
    const l = compositeLimitAt(input, t, unit, from, relevant);
    const last = out[out.length - 1];
    if (last && last.limit === l.limit && last.numberPhases === l.numberPhases) {
      last.to = end;
      continue;
    }
    const seg: CompositeSegment = { from: t, to: end, limit: l.limit };
    if (l.numberPhases !== undefined) seg.numberPhases = l.numberPhases;
    out.push(seg);
  }
  return out;
}

/**
 * The composite schedule as OCPP reports it (GetCompositeSchedule): periods relative to `now` in whole
 * seconds, limits rounded down to 0.1, adjacent equal periods merged.
 */
export function compositeSchedule(input: CompositeInput, now: EpochMs, durationS: Seconds, unit: RateUnit): CompositeSchedule {
  const periods: CompositePeriod[] = [];
  for (const seg of compositeSegments(input, now, durationS, unit)) {
    const period: CompositePeriod = { startPeriod: Math.round((seg.from - now) / 1000), limit: floorTenth(seg.limit) };
    if (seg.numberPhases !== undefined) period.numberPhases = seg.numberPhases;
    const last = periods[periods.length - 1];
    if (last && last.startPeriod === period.startPeriod) periods.pop();
    const prev = periods[periods.length - 1];
    if (prev && prev.limit === period.limit && prev.numberPhases === period.numberPhases) continue;
    periods.push(period);
  }
  return { evseId: input.evseId, scheduleStart: now, duration: durationS, chargingRateUnit: unit, chargingSchedulePeriod: periods };
}
