/**
 * Builders for the smart-charging tests: a time literal, a period DSL and a profile builder with named
 * fields, so table rows read like the spec's examples.
 *
 * Period DSL: `'0:16 3600:10@1'` = period at 0 s with limit 16, period at 3600 s with limit 10 and
 * numberPhases 1. The same notation renders composite results ({@link render}).
 */
import type { CompositeSchedule } from '../../src/smart/composite.js';
import type { ChargingProfile, ChargingSchedule, ProfileKind, ProfilePurpose, RecurrencyKind, SchedulePeriod } from '../../src/smart/profile.js';
import { isoToEpoch, seconds, type EpochMs, type Rate, type RateUnit } from '../../src/smart/units.js';

/** Time literal: `at('2024-03-01T10:00:00Z')`. */
export const at = (iso: string): EpochMs => isoToEpoch(iso);

/** Parses the period DSL. */
export function periods(dsl: string): Array<SchedulePeriod<Rate>> {
  return dsl
    .trim()
    .split(/\s+/)
    .filter((x) => x.length > 0)
    .map((tok) => {
      const m = /^([\d.]+):(-?[\d.]+)(?:@(\d+))?(?:>(\d+))?$/.exec(tok);
      if (m === null) throw new Error(`bad period ${tok}`);
      const p: SchedulePeriod<Rate> = { startPeriod: seconds(Number(m[1])), limit: Number(m[2]) as Rate };
      if (m[3] !== undefined) p.numberPhases = Number(m[3]);
      if (m[4] !== undefined) p.phaseToUse = Number(m[4]);
      return p;
    });
}

/** Renders composite periods in the period DSL. */
export function render(c: CompositeSchedule): string {
  return c.chargingSchedulePeriod.map((p) => `${p.startPeriod}:${p.limit}${p.numberPhases === undefined ? '' : `@${p.numberPhases}`}`).join(' ');
}

export interface ProfileSpec {
  id?: number;
  evseId?: number;
  stackLevel?: number;
  purpose: ProfilePurpose;
  kind?: ProfileKind;
  recurrency?: RecurrencyKind;
  validFrom?: EpochMs;
  validTo?: EpochMs;
  transactionId?: string;
  unit?: RateUnit;
  /** Period DSL. */
  periods: string;
  startSchedule?: EpochMs;
  duration?: number;
  minChargingRate?: number;
  scheduleId?: number;
}

let nextId = 1000;

/** Profile builder: Absolute, stack level 0, EVSE 0, unit A unless stated. */
export function profile(s: ProfileSpec): ChargingProfile {
  const id = s.id ?? nextId++;
  const schedule = {
    id: s.scheduleId ?? id,
    chargingRateUnit: s.unit ?? 'A',
    chargingSchedulePeriod: periods(s.periods),
  } as ChargingSchedule;
  if (s.startSchedule !== undefined) schedule.startSchedule = s.startSchedule;
  if (s.duration !== undefined) schedule.duration = seconds(s.duration);
  if (s.minChargingRate !== undefined) schedule.minChargingRate = s.minChargingRate as never;
  const p: ChargingProfile = {
    id,
    evseId: s.evseId ?? 0,
    stackLevel: s.stackLevel ?? 0,
    chargingProfilePurpose: s.purpose,
    chargingProfileKind: s.kind ?? 'Absolute',
    chargingSchedule: [schedule],
  };
  if (s.recurrency !== undefined) p.recurrencyKind = s.recurrency;
  if (s.validFrom !== undefined) p.validFrom = s.validFrom;
  if (s.validTo !== undefined) p.validTo = s.validTo;
  if (s.transactionId !== undefined) p.transactionId = s.transactionId;
  return p;
}

/** mulberry32: a small seeded PRNG so property tests are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(r: () => number, xs: readonly T[]): T {
  const x = xs[Math.floor(r() * xs.length)];
  if (x === undefined) throw new Error('pick from empty');
  return x;
}

export function int(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}
