/**
 * Units used by the simulator. Plain aliases: they document what a number means at every signature
 * (watts vs amps, seconds vs milliseconds) without runtime cost.
 */
export type Watts = number;
export type Amps = number;
export type Volts = number;
export type WattHours = number;
export type Seconds = number;
/** Milliseconds since the Unix epoch (what `Date.getTime()` returns). */
export type EpochMs = number;
export type RateUnit = 'A' | 'W';

/** Nominal line-to-neutral voltage when a connector does not say (OCPP 1.6 / 2.0.1 examples use 230 V). */
export const DEFAULT_VOLTAGE_V: Volts = 230;
/** Nominal DC link voltage used to convert DC amps ↔ watts. */
export const DEFAULT_DC_VOLTAGE_V: Volts = 400;
/** IEC 61851-1: an AC EV cannot charge below 6 A per phase; lower non-zero limits pause charging. */
export const MIN_AC_CURRENT_A: Amps = 6;

/**
 * Round down to one decimal. OCPP limits are `multipleOf 0.1` (1.6) / "at most one digit fraction"
 * (2.0.1), and a converted limit must never exceed the original, so W→A rounds down (protocols §3.5).
 * The small epsilon keeps 15.999999999 (float noise for 16) from becoming 15.9.
 */
export function floorTenth(x: number): number {
  return Math.floor(x * 10 + 1e-6) / 10;
}

export function ampsToWatts(a: Amps, phases: number, voltageV: Volts): Watts {
  return a * voltageV * phases;
}

export function wattsToAmps(w: Watts, phases: number, voltageV: Volts): Amps {
  return w / (voltageV * phases);
}

/** Convert a limit between units; `phases` is the number of phases the limit applies to. */
export function convertLimit(value: number, from: RateUnit, to: RateUnit, phases: number, voltageV: Volts): number {
  if (from === to) return value;
  return from === 'A' ? ampsToWatts(value, phases, voltageV) : wattsToAmps(value, phases, voltageV);
}
