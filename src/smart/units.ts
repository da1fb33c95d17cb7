/**
 * Units for smart charging: branded numbers so that watts are never passed where amps are expected,
 * milliseconds never where seconds are, and the W↔A conversion in one place.
 *
 * Conventions (protocols.md §3.5, §2.8):
 * - `A` limits are **per phase**, `W` limits are **total** over all phases.
 * - I = P / (V_LN × phases), P = I × V_LN × phases, V_LN = line-to-neutral voltage.
 * - `numberPhases` absent ⇒ 3 (OCPP 1.6 §7.14, OCPP 2.0.1 ChargingSchedulePeriodType).
 * - Conversions toward a limit are floored to 0.1 (a limit carries at most one decimal: 1.6 schema
 *   `multipleOf 0.1`, 2.0.1 "at most one digit fraction"); flooring never lets a converted limit exceed
 *   the original.
 * - The minimum executable AC current is 6 A per phase (IEC 61851-1 PWM); a non-zero limit below it
 *   pauses the EV (policy: pause rather than switch phases; phase switching is a separate decision).
 */
import type { PowerType } from '../domain/model.js';

declare const unitBrand: unique symbol;
/** A number tagged with its unit at compile time; zero cost at run time. */
export type Quantity<U extends string> = number & { readonly [unitBrand]: U };

export type Watts = Quantity<'W'>;
export type Amps = Quantity<'A'>;
export type Volts = Quantity<'V'>;
export type Seconds = Quantity<'s'>;
/** Milliseconds since 1970-01-01T00:00:00Z (what `Date.parse` returns). */
export type EpochMs = Quantity<'epoch-ms'>;

export const watts = (n: number): Watts => n as Watts;
export const amps = (n: number): Amps => n as Amps;
export const volts = (n: number): Volts => n as Volts;
export const seconds = (n: number): Seconds => n as Seconds;
export const epochMs = (n: number): EpochMs => n as EpochMs;

/** The OCPP charging-rate unit: `A` per phase or `W` total. */
export type RateUnit = 'A' | 'W';
/** The branded type of a limit expressed in unit `U`. */
export type RateOf<U extends RateUnit> = U extends 'A' ? Amps : Watts;
/** A limit whose unit is carried beside it (in a schedule's `chargingRateUnit`). */
export type Rate = Amps | Watts;

export type Phase = 'L1' | 'L2' | 'L3';
export const PHASES: readonly Phase[] = ['L1', 'L2', 'L3'];
export type PerPhase<T> = Readonly<Record<Phase, T>>;

/** numberPhases absent ⇒ 3 (OCPP 1.6 §7.14, 2.0.1 ChargingSchedulePeriodType). */
export const DEFAULT_NUMBER_PHASES = 3;
/** Nominal line-to-neutral voltage when nothing better is known (protocols.md §2.8 interpretation). */
export const NOMINAL_VOLTAGE: Volts = volts(230);
/** Minimum AC charging current per phase (IEC 61851-1). */
export const MIN_CURRENT: Amps = amps(6);

export const DAY_S: Seconds = seconds(86_400);
export const WEEK_S: Seconds = seconds(7 * 86_400);

/** `numberPhases` with the OCPP default applied. */
export function phasesOrDefault(numberPhases: number | undefined): number {
  return numberPhases ?? DEFAULT_NUMBER_PHASES;
}

/** P = I × V_LN × phases. */
export function ampsToWatts(current: Amps, phases: number, voltage: Volts): Watts {
  return watts(current * voltage * phases);
}

/** I = P / (V_LN × phases). Unrounded; floor with {@link floorTenth} when it becomes a limit. */
export function wattsToAmps(power: Watts, phases: number, voltage: Volts): Amps {
  if (phases <= 0 || voltage <= 0) throw new RangeError(`wattsToAmps: phases ${phases}, voltage ${voltage}`);
  return amps(power / (voltage * phases));
}

/** Converts a limit between units at a given phase count and voltage (unrounded). */
export function convertRate(value: number, from: RateUnit, to: RateUnit, phases: number, voltage: Volts): number {
  if (from === to) return value;
  return from === 'A' ? ampsToWatts(amps(value), phases, voltage) : wattsToAmps(watts(value), phases, voltage);
}

/**
 * Floors to one decimal. Float noise is removed first so that 1.1 × 10 = 11.000000000000002 stays 1.1
 * and 15.94 becomes 15.9.
 */
export function floorTenth<T extends number>(x: T): T {
  const tenths = Math.floor(Math.round(x * 10 * 1e6) / 1e6);
  return (tenths / 10) as T;
}

/** Rounds up to one decimal (for minimums: a minimum rounded down would be below the real one). */
export function ceilTenth<T extends number>(x: T): T {
  const tenths = Math.ceil(Math.round(x * 10 * 1e6) / 1e6);
  return (tenths / 10) as T;
}

/** True when x has at most one decimal (1.6 schema `multipleOf 0.1`; 2.0.1 "at most one digit fraction"). */
export function isMultipleOfTenth(x: number): boolean {
  const scaled = x * 10;
  return Math.abs(scaled - Math.round(scaled)) < 1e-6;
}

/** The power of the minimum current: 6 A × phases × V (6 A 1φ at 230 V = 1 380 W; 3φ = 4 140 W). */
export function minimumPower(phases: number, voltage: Volts, minimum: Amps = MIN_CURRENT): Watts {
  return ampsToWatts(minimum, phases, voltage);
}

/** A current limit is executable when it is 0 (pause) or at least the minimum. */
export function isExecutableCurrent(limit: Amps, minimum: Amps = MIN_CURRENT): boolean {
  return limit === 0 || limit >= minimum;
}

/** Below the minimum ⇒ 0 (pause); otherwise unchanged. */
export function pauseBelowMinimum(limit: Amps, minimum: Amps = MIN_CURRENT): Amps {
  return limit < minimum ? amps(0) : limit;
}

/** Power version of {@link pauseBelowMinimum}: below 6 A × phases × V ⇒ 0 W. */
export function pauseBelowMinimumPower(limit: Watts, phases: number, voltage: Volts, minimum: Amps = MIN_CURRENT): Watts {
  return limit < minimumPower(phases, voltage, minimum) - 1e-9 ? watts(0) : limit;
}

/** A power limit as an executable per-phase current: W → A, floored to 0.1, paused below the minimum. */
export function executableAmpsFromWatts(power: Watts, phases: number, voltage: Volts, minimum: Amps = MIN_CURRENT): Amps {
  return pauseBelowMinimum(floorTenth(wattsToAmps(power, phases, voltage)), minimum);
}

/** OCPI PowerType → phase count; `undefined` for DC (use W). Split-phase counts its two legs. */
export function phasesOfPowerType(powerType: PowerType): 1 | 2 | 3 | undefined {
  switch (powerType) {
    case 'AC_1_PHASE':
      return 1;
    case 'AC_2_PHASE':
    case 'AC_2_PHASE_SPLIT':
      return 2;
    case 'AC_3_PHASE':
      return 3;
    case 'DC':
      return undefined;
  }
}

export function addSeconds(t: EpochMs, s: number): EpochMs {
  return epochMs(t + s * 1000);
}

/** (to − from) in seconds. */
export function secondsBetween(from: EpochMs, to: EpochMs): Seconds {
  return seconds((to - from) / 1000);
}

/** Truncates to the whole second (OCPP periods and durations are whole seconds). */
export function truncateToSecond(t: EpochMs): EpochMs {
  return epochMs(Math.floor(t / 1000) * 1000);
}

/**
 * ISO 8601 / RFC 3339 date-time → epoch ms. Throws RangeError on text `Date.parse` cannot read; payloads
 * reaching the mappers have passed the OCPP schemas (`format: date-time`), so this only fires on bypass.
 */
export function isoToEpoch(iso: string): EpochMs {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new RangeError(`not a date-time: ${JSON.stringify(iso)}`);
  return epochMs(t);
}

/** Epoch ms → `YYYY-MM-DDTHH:mm:ss.sssZ` (UTC, valid for OCPP and OCPI). */
export function epochToIso(t: EpochMs): string {
  return new Date(t).toISOString();
}
