/**
 * Composite schedules on the wire: the model of composite.ts to and from OCPP 1.6
 * `GetCompositeSchedule.conf` and 2.0.1 `CompositeScheduleType`, and a comparison for cross-checking a
 * station's answer against the CSMS's own prediction (protocols.md §3.3: "verify with
 * GetCompositeSchedule").
 */
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import { limitAt, type CompositePeriod, type CompositeSchedule } from './composite.js';
import { epochToIso, isoToEpoch, seconds, type EpochMs, type Rate } from './units.js';

export type CompositeSchedule201 = NonNullable<OCPP20.GetCompositeScheduleResponse['schedule']>;

function periodsToWire(c: CompositeSchedule): Array<{ startPeriod: number; limit: number; numberPhases?: number }> {
  return c.chargingSchedulePeriod.map((p) => {
    const out: { startPeriod: number; limit: number; numberPhases?: number } = { startPeriod: p.startPeriod, limit: p.limit };
    if (p.numberPhases !== undefined) out.numberPhases = p.numberPhases;
    return out;
  });
}

function periodsFromWire(periods: ReadonlyArray<{ startPeriod: number; limit: number; numberPhases?: number }>): CompositePeriod[] {
  return periods.map((p) => {
    const out: CompositePeriod = { startPeriod: seconds(p.startPeriod), limit: p.limit as Rate };
    // numberPhases 3 and absent mean the same (absent ⇒ 3); normalise to absent.
    if (p.numberPhases !== undefined && p.numberPhases !== 3) out.numberPhases = p.numberPhases;
    return out;
  });
}

/** → 2.0.1 `GetCompositeScheduleResponse.schedule`. (2.0.1 has no minChargingRate in a composite.) */
export function toOcpp201Composite(c: CompositeSchedule): CompositeSchedule201 {
  return {
    evseId: c.evseId,
    duration: c.duration,
    scheduleStart: epochToIso(c.scheduleStart),
    chargingRateUnit: c.chargingRateUnit,
    chargingSchedulePeriod: periodsToWire(c),
  };
}

/** → 1.6 `GetCompositeSchedule.conf` (Accepted; startSchedule = scheduleStart). */
export function toOcpp16Composite(c: CompositeSchedule): OCPP16.GetCompositeScheduleResponse {
  const chargingSchedule: NonNullable<OCPP16.GetCompositeScheduleResponse['chargingSchedule']> = {
    duration: c.duration,
    startSchedule: epochToIso(c.scheduleStart),
    chargingRateUnit: c.chargingRateUnit,
    chargingSchedulePeriod: periodsToWire(c),
  };
  if (c.minChargingRate !== undefined) chargingSchedule.minChargingRate = c.minChargingRate;
  return { status: 'Accepted', connectorId: c.evseId, scheduleStart: epochToIso(c.scheduleStart), chargingSchedule };
}

export function fromOcpp201Composite(s: CompositeSchedule201): CompositeSchedule {
  return {
    evseId: s.evseId,
    duration: seconds(s.duration),
    scheduleStart: isoToEpoch(s.scheduleStart),
    chargingRateUnit: s.chargingRateUnit,
    chargingSchedulePeriod: periodsFromWire(s.chargingSchedulePeriod),
  };
}

/**
 * 1.6 `GetCompositeSchedule.conf` → model; undefined when Rejected or without a schedule.
 * `connectorId` is the request's when the answer omits it; `scheduleStart` falls back to
 * `chargingSchedule.startSchedule`; a missing duration to `requestedDuration`.
 */
export function fromOcpp16Composite(
  res: OCPP16.GetCompositeScheduleResponse,
  request: { connectorId: number; duration: number },
): CompositeSchedule | undefined {
  const cs = res.chargingSchedule;
  const start = res.scheduleStart ?? cs?.startSchedule;
  if (res.status !== 'Accepted' || cs === undefined || start === undefined) return undefined;
  const out: CompositeSchedule = {
    evseId: res.connectorId ?? request.connectorId,
    duration: seconds(cs.duration ?? request.duration),
    scheduleStart: isoToEpoch(start),
    chargingRateUnit: cs.chargingRateUnit,
    chargingSchedulePeriod: periodsFromWire(cs.chargingSchedulePeriod),
  };
  if (cs.minChargingRate !== undefined) out.minChargingRate = cs.minChargingRate;
  return out;
}

export interface CompositeDifference {
  /** Absolute time of the first second where the two disagree in this run. */
  at: EpochMs;
  expected: { limit: number; numberPhases: number } | undefined;
  actual: { limit: number; numberPhases: number } | undefined;
}

function valueAt(c: CompositeSchedule, t: number): { limit: number; numberPhases: number } | undefined {
  const p = limitAt(c, t as EpochMs);
  return p === undefined ? undefined : { limit: p.limit, numberPhases: p.numberPhases ?? 3 };
}

/**
 * Where two composites (same unit) disagree by more than `toleranceLimit` on the overlap of their
 * windows, evaluated at every period start of either. Different units → one difference at the start.
 * Use it to compare the CSMS prediction with a station's GetCompositeSchedule answer (which may start a
 * second later and differ by rounding).
 */
export function compareComposites(
  expected: CompositeSchedule,
  actual: CompositeSchedule,
  toleranceLimit = 0,
): CompositeDifference[] {
  if (expected.chargingRateUnit !== actual.chargingRateUnit) {
    return [{ at: expected.scheduleStart, expected: valueAt(expected, expected.scheduleStart), actual: valueAt(actual, actual.scheduleStart) }];
  }
  const from = Math.max(expected.scheduleStart, actual.scheduleStart);
  const to = Math.min(expected.scheduleStart + expected.duration * 1000, actual.scheduleStart + actual.duration * 1000);
  const times = new Set<number>([from]);
  for (const c of [expected, actual]) {
    for (const p of c.chargingSchedulePeriod) {
      const t = c.scheduleStart + p.startPeriod * 1000;
      if (t > from && t < to) times.add(t);
    }
  }
  const out: CompositeDifference[] = [];
  for (const t of [...times].sort((a, b) => a - b)) {
    const e = valueAt(expected, t);
    const a = valueAt(actual, t);
    const same =
      e !== undefined && a !== undefined ? Math.abs(e.limit - a.limit) <= toleranceLimit + 1e-9 && e.numberPhases === a.numberPhases : e === a;
    if (!same) out.push({ at: t as EpochMs, expected: e, actual: a });
  }
  return out;
}
