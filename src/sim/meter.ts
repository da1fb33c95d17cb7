/**
 * Electrical model of an EVSE and the EV plugged into it (pure): how much power the EV draws under a
 * limit, how energy and SoC advance over time, and which sampled values a meter reading contains.
 */
import {
  MIN_AC_CURRENT_A,
  type Amps,
  type RateUnit,
  type Seconds,
  type Volts,
  type WattHours,
  type Watts,
} from './units.js';

export interface EvSpec {
  batteryWh: WattHours;
  socPercent: number;
  maxPowerW: Watts;
  /** AC phases the on-board charger uses (1, 2 or 3). */
  phases: number;
  /** Charging stops (SuspendedEV) at this SoC; default 100. */
  targetSocPercent?: number;
}

export interface EvseElectrical {
  dc: boolean;
  /** Physical AC phases (1 or 3); 1 for DC. */
  phases: number;
  /** Line-to-neutral voltage (AC) or DC link voltage (DC). */
  voltageV: Volts;
  /** Per-phase current limit of the EVSE (AC); for DC the output current limit. */
  maxCurrentA: Amps;
  maxPowerW: Watts;
}

/** DC EVs taper above this SoC (a simple CC/CV caricature); AC EVs draw constant power until full. */
const DC_TAPER_START_PERCENT = 80;
const DC_TAPER_FLOOR = 0.05;
const DC_STEP_S = 30;

export function phasesInUse(e: EvseElectrical, ev: EvSpec): number {
  return e.dc ? 1 : Math.max(1, Math.min(e.phases, ev.phases));
}

/** The EV as the charger lets it charge when a limit period restricts the phases (numberPhases). */
export function limitPhases(ev: EvSpec, numberPhases: number | undefined): EvSpec {
  return numberPhases === undefined || numberPhases >= ev.phases ? ev : { ...ev, phases: numberPhases };
}

/** The unit in which the charger enforces limits: per-phase current for AC, power for DC. */
export function controlUnit(e: EvseElectrical): RateUnit {
  return e.dc ? 'W' : 'A';
}

export function evseMaxInControlUnit(e: EvseElectrical): number {
  return e.dc ? e.maxPowerW : e.maxCurrentA;
}

function evCapW(ev: EvSpec, soc: number, dc: boolean): Watts {
  if (soc >= (ev.targetSocPercent ?? 100)) return 0;
  if (dc && soc > DC_TAPER_START_PERCENT) {
    const f = Math.max(DC_TAPER_FLOOR, (100 - soc) / (100 - DC_TAPER_START_PERCENT));
    return ev.maxPowerW * f;
  }
  return ev.maxPowerW;
}

/**
 * Power drawn for an offered limit in the control unit (A per phase for AC, W for DC).
 * AC: an offered current below 6 A pauses charging (IEC 61851-1; protocols §3.5).
 */
export function drawnPowerW(offered: number, e: EvseElectrical, ev: EvSpec, soc: number): Watts {
  const cap = evCapW(ev, soc, e.dc);
  if (cap <= 0) return 0;
  if (e.dc) return Math.max(0, Math.min(offered, e.maxPowerW, cap));
  const amps = Math.min(offered, e.maxCurrentA);
  if (amps < MIN_AC_CURRENT_A) return 0;
  return Math.min(amps * e.voltageV * phasesInUse(e, ev), cap);
}

/** Why the EV is not drawing power (or that it is). */
export function chargingCondition(offered: number, e: EvseElectrical, ev: EvSpec, soc: number): 'Charging' | 'SuspendedEV' | 'SuspendedEVSE' {
  if (evCapW(ev, soc, e.dc) <= 0) return 'SuspendedEV';
  return drawnPowerW(offered, e, ev, soc) > 0 ? 'Charging' : 'SuspendedEVSE';
}

/**
 * Advance the EV by `durationS` under a constant offered limit. Exact for constant power (AC, DC below
 * the taper); DC taper is integrated in 30 s steps. Stops exactly at the target SoC.
 */
export function advance(
  offered: number,
  e: EvseElectrical,
  ev: EvSpec,
  soc: number,
  durationS: Seconds,
): { energyWh: WattHours; soc: number } {
  let remaining = durationS;
  let wh = 0;
  let s = soc;
  const target = ev.targetSocPercent ?? 100;
  while (remaining > 1e-9) {
    const p = drawnPowerW(offered, e, ev, s);
    if (p <= 0) break;
    let step = remaining;
    if (e.dc && s >= DC_TAPER_START_PERCENT) step = Math.min(step, DC_STEP_S);
    // Do not step over a change of regime: the taper start (DC) or the target SoC.
    const boundary = e.dc && s < DC_TAPER_START_PERCENT ? Math.min(DC_TAPER_START_PERCENT, target) : target;
    const whToBoundary = ((boundary - s) / 100) * ev.batteryWh;
    const stepWh = (p * step) / 3600;
    if (stepWh >= whToBoundary) {
      const t = (whToBoundary / p) * 3600;
      wh += whToBoundary;
      s = boundary;
      remaining -= t;
      if (s >= target) break;
      continue;
    }
    wh += stepWh;
    s += (stepWh / ev.batteryWh) * 100;
    remaining -= step;
  }
  return { energyWh: wh, soc: s };
}

export type Measurand = 'Energy.Active.Import.Register' | 'Power.Active.Import' | 'Current.Import' | 'Voltage' | 'SoC';
export type SampleUnit = 'Wh' | 'W' | 'A' | 'V' | 'Percent';
export type SamplePhase = 'L1' | 'L2' | 'L3' | 'L1-N' | 'L2-N' | 'L3-N';

/** Version-neutral sampled value; the protocol drivers map it onto 1.6 strings / 2.0.1 numbers. */
export interface Sample {
  measurand: Measurand;
  value: number;
  unit: SampleUnit;
  phase?: SamplePhase;
  location: 'Outlet' | 'EV';
}

export const DEFAULT_MEASURANDS: readonly Measurand[] = [
  'Energy.Active.Import.Register',
  'Power.Active.Import',
  'Current.Import',
  'Voltage',
  'SoC',
];

const round = (x: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

export interface MeterReading {
  energyWh: WattHours;
  powerW: Watts;
  /** Phases carrying current (AC) — the EVSE's other phases read 0 A. */
  phasesUsed: number;
  soc?: number;
}

/** Sampled values of one reading, limited to the configured measurands. */
export function buildSamples(r: MeterReading, e: EvseElectrical, measurands: readonly string[], energyOnly = false): Sample[] {
  const want = (m: Measurand) => measurands.includes(m);
  const out: Sample[] = [];
  // The register is always included: it is what every CSMS bills from.
  out.push({ measurand: 'Energy.Active.Import.Register', value: Math.round(r.energyWh), unit: 'Wh', location: 'Outlet' });
  if (energyOnly) return out;
  if (want('Power.Active.Import')) {
    out.push({ measurand: 'Power.Active.Import', value: round(r.powerW, 1), unit: 'W', location: 'Outlet' });
  }
  const phaseNames: SamplePhase[] = ['L1', 'L2', 'L3'];
  const lnNames: SamplePhase[] = ['L1-N', 'L2-N', 'L3-N'];
  if (want('Current.Import')) {
    if (e.dc) {
      out.push({ measurand: 'Current.Import', value: round(r.powerW / e.voltageV, 2), unit: 'A', location: 'Outlet' });
    } else {
      const perPhase = r.powerW > 0 ? r.powerW / (e.voltageV * r.phasesUsed) : 0;
      for (let i = 0; i < e.phases; i++) {
        const phase = phaseNames[i];
        const value = i < r.phasesUsed ? round(perPhase, 2) : 0;
        if (phase) out.push({ measurand: 'Current.Import', value, unit: 'A', phase, location: 'Outlet' });
      }
    }
  }
  if (want('Voltage')) {
    if (e.dc) {
      out.push({ measurand: 'Voltage', value: round(e.voltageV, 1), unit: 'V', location: 'Outlet' });
    } else {
      for (let i = 0; i < e.phases; i++) {
        const phase = lnNames[i];
        if (phase) out.push({ measurand: 'Voltage', value: round(e.voltageV, 1), unit: 'V', phase, location: 'Outlet' });
      }
    }
  }
  if (want('SoC') && r.soc !== undefined) {
    out.push({ measurand: 'SoC', value: round(r.soc, 1), unit: 'Percent', location: 'EV' });
  }
  return out;
}
