/**
 * Pure normalization of OCPP meter values into canonical MeterSamples (Wh, W, A, V, %, Hz) and the
 * summary (energy register, power, SoC) a transaction and an EVSE keep as "latest".
 */
import { type MeterSample, utc } from './model.js';

export interface SampledValue16 {
  value: string;
  context?: string;
  format?: string;
  measurand?: string;
  phase?: string;
  location?: string;
  unit?: string;
}
export interface MeterValue16 {
  timestamp: string;
  sampledValue: SampledValue16[];
}
export interface SampledValue201 {
  value: number;
  context?: string;
  measurand?: string;
  phase?: string;
  location?: string;
  signedMeterValue?: { signedMeterData: string; signingMethod: string; encodingMethod: string; publicKey: string };
  unitOfMeasure?: { unit?: string; multiplier?: number };
}
export interface MeterValue201 {
  timestamp: string;
  sampledValue: SampledValue201[];
}

const DEFAULT_MEASURAND = 'Energy.Active.Import.Register';
const DEFAULT_CONTEXT = 'Sample.Periodic';

/** Unit scale to canonical: [canonical unit, factor]. */
const UNIT_SCALE: Record<string, [string, number]> = {
  kWh: ['Wh', 1000],
  kW: ['W', 1000],
  kvarh: ['varh', 1000],
  kvar: ['var', 1000],
  kVA: ['VA', 1000],
  Percent: ['Percent', 1],
  Celcius: ['Celsius', 1], // 1.6 schema spelling
};

function defaultUnit(measurand: string): string {
  if (measurand.startsWith('Energy.Reactive')) return 'varh';
  if (measurand.startsWith('Energy')) return 'Wh';
  if (measurand.startsWith('Power.Reactive')) return 'var';
  if (measurand === 'Power.Factor') return '';
  if (measurand.startsWith('Power')) return 'W';
  if (measurand.startsWith('Current')) return 'A';
  if (measurand === 'Voltage') return 'V';
  if (measurand === 'SoC') return 'Percent';
  if (measurand === 'Frequency') return 'Hz';
  if (measurand === 'Temperature') return 'Celsius';
  if (measurand === 'RPM') return 'RPM';
  return 'Wh';
}

function canonical(measurand: string, unit: string | undefined, value: number): { unit: string; value: number } {
  // A unit that contradicts the measurand's dimension (1.6 default 'Wh' on a SoC) gives way to the measurand.
  const u = unit ?? defaultUnit(measurand);
  const scale = UNIT_SCALE[u];
  if (scale) return { unit: scale[0], value: value * scale[1] };
  return { unit: u, value };
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

export function samplesFrom16(meterValues: readonly MeterValue16[], contextOverride?: string): MeterSample[] {
  const out: MeterSample[] = [];
  for (const mv of meterValues) {
    const timestamp = utc(mv.timestamp);
    for (const sv of mv.sampledValue) {
      const measurand = sv.measurand ?? DEFAULT_MEASURAND;
      const signed = sv.format === 'SignedData';
      const n = signed ? NaN : Number(sv.value);
      const unitGiven = sv.unit === 'Wh' && !measurand.startsWith('Energy') ? undefined : sv.unit;
      const c = canonical(measurand, unitGiven, Number.isFinite(n) ? n : 0);
      out.push({
        timestamp,
        measurand,
        phase: sv.phase,
        unit: c.unit,
        context: sv.context ?? contextOverride ?? DEFAULT_CONTEXT,
        location: sv.location,
        value: Number.isFinite(n) ? round(c.value) : null,
        signed: signed ? sv.value : undefined,
      });
    }
  }
  return out;
}

export function samplesFrom201(meterValues: readonly MeterValue201[]): MeterSample[] {
  const out: MeterSample[] = [];
  for (const mv of meterValues) {
    const timestamp = utc(mv.timestamp);
    for (const sv of mv.sampledValue) {
      const measurand = sv.measurand ?? DEFAULT_MEASURAND;
      const mult = sv.unitOfMeasure?.multiplier ?? 0;
      const c = canonical(measurand, sv.unitOfMeasure?.unit, sv.value * 10 ** mult);
      out.push({
        timestamp,
        measurand,
        phase: sv.phase,
        unit: c.unit,
        context: sv.context ?? DEFAULT_CONTEXT,
        location: sv.location,
        value: round(c.value),
        signed: sv.signedMeterValue ? JSON.stringify(sv.signedMeterValue) : undefined,
      });
    }
  }
  return out;
}

export interface MeterSummary {
  timestamp: string;
  energyWh?: number;
  powerW?: number;
  soc?: number;
}

/**
 * The latest energy register (Wh), active import power (W) and SoC among samples. Totals are preferred;
 * without a total, per-phase power is summed (L1+L2+L3, or L1-N…), and per-phase energy likewise.
 */
export function summarize(samples: readonly MeterSample[]): MeterSummary | undefined {
  if (samples.length === 0) return undefined;
  let latest = samples[0]!.timestamp;
  for (const s of samples) if (s.timestamp > latest) latest = s.timestamp;
  const at = samples.filter((s) => s.timestamp === latest && s.value !== null);
  const pick = (measurand: string): number | undefined => {
    const all = at.filter((s) => s.measurand === measurand);
    // Prefer the outlet (what the EV got) over the inlet (which includes the charger's own use).
    const outlet = all.filter((s) => s.location !== 'Inlet');
    const xs = outlet.length > 0 ? outlet : all;
    if (xs.length === 0) return undefined;
    const total = xs.find((s) => !s.phase);
    if (total) return total.value!;
    const lineToNeutral = xs.filter((s) => /^L[123](-N)?$/.test(s.phase ?? ''));
    if (lineToNeutral.length === 0) return undefined;
    return round(lineToNeutral.reduce((a, s) => a + s.value!, 0));
  };
  const summary: MeterSummary = { timestamp: latest };
  const e = pick('Energy.Active.Import.Register');
  if (e !== undefined) summary.energyWh = e;
  const p = pick('Power.Active.Import');
  if (p !== undefined) summary.powerW = p;
  const soc = pick('SoC');
  if (soc !== undefined) summary.soc = soc;
  return summary;
}
