/**
 * Driver preferences and the planner input of a session. Pure: `now` and the defaults are arguments.
 *
 * Preferences are set through the admin API at three levels; for each field the most specific level
 * that sets it wins: **session** > **EVSE** > **station** > defaults.
 *
 * | field | meaning | levels |
 * |---|---|---|
 * | `departureAt` | ISO instant the EV leaves | session |
 * | `departureTimeOfDay` | `"HH:MM"`: departure is the first such local time after the EV arrived | all |
 * | `timeZone` | IANA zone of `departureTimeOfDay` (default AMPLINE_SCSP_TIMEZONE, `UTC`) | all |
 * | `energyNeedWh` | energy the EV needs in this session (Wh) | all |
 * | `targetSoc` + `batteryCapacityWh` | need = (target − SoC now) × capacity, when the CPO reports SoC | all |
 * | `minSoc` | "charge now": up to this SoC the EV charges at full power at once, whatever the price | all |
 * | `maxPowerW` | cap below the EVSE's own maximum (W, total) | all |
 * | `smartCharging` | `false`: the SCSP does not steer the session (no plan; a profile set before is removed where the route can, see driver.ts) | all |
 *
 * Defaults when nothing is set (documented in the README): departure = arrival + 8 h
 * (AMPLINE_SCSP_DEFAULT_DWELL_S); need = 20 kWh (AMPLINE_SCSP_DEFAULT_ENERGY_WH) minus what the session
 * already delivered; no "charge now"; power up to the EVSE's maximum from the pairing description.
 *
 * Derived rules:
 * - Need: with `targetSoc`, `batteryCapacityWh` and a reported SoC → `(targetSoc − soc) / 100 ×
 *   capacity`; otherwise `energyNeedWh` (or the default) minus the session's delivered energy. Never
 *   negative. (Charging losses are the optimiser's business.)
 * - Charge now: with `minSoc`, capacity and SoC → `(minSoc − soc) / 100 × capacity`; the need is at least
 *   that. Without a SoC the rule cannot apply and is ignored.
 * - A departure that has passed means "as soon as possible": the planner gets `now` + the time the need
 *   takes at full power, so it has a feasible window instead of none.
 * - Power bounds: `maxPowerW` = min(EVSE maximum, preference); `minPowerW` = 6 A × phases × V (AC, IEC
 *   61851-1) or 0 (DC), never above the maximum.
 */
import type { EvsePower } from './charging-station.js';
import type { PreferenceDefaults } from './config.js';
import { isValidTimeZone } from './config.js';
import type { PlanSession } from './planner.js';

export interface Preferences {
  departureAt?: string;
  departureTimeOfDay?: string;
  timeZone?: string;
  energyNeedWh?: number;
  targetSoc?: number;
  batteryCapacityWh?: number;
  minSoc?: number;
  maxPowerW?: number;
  smartCharging?: boolean;
}

export type PreferenceLevel = 'station' | 'evse' | 'session';

export class PreferencesError extends Error {
  override name = 'PreferencesError';
}

const FIELDS = ['departureAt', 'departureTimeOfDay', 'timeZone', 'energyNeedWh', 'targetSoc', 'batteryCapacityWh', 'minSoc', 'maxPowerW', 'smartCharging'] as const;

/** Validates a preferences object for `level`; `null` clears a field (absent leaves it out). */
export function parsePreferences(raw: unknown, level: PreferenceLevel): Preferences {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new PreferencesError('preferences must be a JSON object');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(FIELDS as readonly string[]).includes(k)) throw new PreferencesError(`unknown preference "${k}" (known: ${FIELDS.join(', ')})`);
  const out: Preferences = {};
  const num = (k: 'energyNeedWh' | 'targetSoc' | 'batteryCapacityWh' | 'minSoc' | 'maxPowerW', min: number, max: number) => {
    const v = o[k];
    if (v === undefined || v === null) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new PreferencesError(`${k} must be a number between ${min} and ${max}`);
    out[k] = v;
  };
  num('energyNeedWh', 0, 1_000_000);
  num('targetSoc', 0, 100);
  num('minSoc', 0, 100);
  num('batteryCapacityWh', 1000, 1_000_000);
  num('maxPowerW', 0, 1_000_000);
  if (o.departureAt !== undefined && o.departureAt !== null) {
    if (level !== 'session') throw new PreferencesError('departureAt is a session preference; use departureTimeOfDay for a station or EVSE');
    if (typeof o.departureAt !== 'string' || Number.isNaN(Date.parse(o.departureAt)) || !/T.*(Z|[+-]\d\d:?\d\d)$/.test(o.departureAt)) {
      throw new PreferencesError('departureAt must be an ISO 8601 date-time with a time zone (e.g. 2025-01-01T07:00:00Z)');
    }
    out.departureAt = new Date(o.departureAt).toISOString();
  }
  if (o.departureTimeOfDay !== undefined && o.departureTimeOfDay !== null) {
    if (typeof o.departureTimeOfDay !== 'string' || !/^([01]\d|2[0-3]):[0-5]\d$/.test(o.departureTimeOfDay)) throw new PreferencesError('departureTimeOfDay must be "HH:MM" (00:00–23:59)');
    out.departureTimeOfDay = o.departureTimeOfDay;
  }
  if (o.smartCharging !== undefined && o.smartCharging !== null) {
    if (typeof o.smartCharging !== 'boolean') throw new PreferencesError('smartCharging must be true or false');
    out.smartCharging = o.smartCharging;
  }
  if (o.timeZone !== undefined && o.timeZone !== null) {
    if (typeof o.timeZone !== 'string' || !isValidTimeZone(o.timeZone)) throw new PreferencesError('timeZone must be an IANA time zone (e.g. Europe/Amsterdam)');
    out.timeZone = o.timeZone;
  }
  return out;
}

/** Field-wise merge: later levels win. */
export function mergePreferences(...levels: Array<Preferences | undefined>): Preferences {
  const out: Preferences = {};
  for (const p of levels) if (p) for (const k of FIELDS) if (p[k] !== undefined) (out as Record<string, unknown>)[k] = p[k];
  return out;
}

/** UTC offset (ms) of `timeZone` at instant `t`: local wall time − UTC. */
function offsetMs(timeZone: string, t: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(t));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(t / 1000) * 1000;
}

/** The first instant after `after` at which the wall clock in `timeZone` reads `hh:mm`. */
export function nextTimeOfDay(after: Date, hhmm: string, timeZone: string): Date {
  const [hh, mm] = hhmm.split(':').map(Number) as [number, number];
  const t = after.getTime();
  const local = new Date(t + offsetMs(timeZone, t));
  for (let day = 0; day <= 2; day++) {
    const wall = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + day, hh, mm);
    // Two passes settle the offset across a DST change.
    let guess = wall - offsetMs(timeZone, wall);
    guess = wall - offsetMs(timeZone, guess);
    if (guess > t) return new Date(guess);
  }
  return new Date(t + 86_400_000);
}

/** The session facts the planner input is derived from. */
export interface SessionFacts {
  id: string;
  cpoId: string;
  uid: string;
  evseId: number;
  startedAt: string;
  energyWh: number | null;
  soc: number | null;
}

/** The effective inputs, for the admin API (why the planner did what it did). */
export interface ResolvedInput extends PlanSession {
  /** Where the departure came from. */
  departureSource: 'session' | 'timeOfDay' | 'default' | 'overdue';
  energySource: 'targetSoc' | 'energyNeedWh' | 'default';
  preferences: Preferences;
}

export function resolvePlanInput(a: { session: SessionFacts; prefs: Preferences; power: EvsePower; defaults: PreferenceDefaults; now: Date }): ResolvedInput {
  const { session: s, prefs: p, power, defaults, now } = a;
  const arrival = new Date(s.startedAt);
  const delivered = s.energyWh ?? 0;

  let energySource: ResolvedInput['energySource'];
  let need: number;
  if (p.targetSoc !== undefined && p.batteryCapacityWh !== undefined && s.soc !== null) {
    need = ((p.targetSoc - s.soc) / 100) * p.batteryCapacityWh;
    energySource = 'targetSoc';
  } else if (p.energyNeedWh !== undefined) {
    need = p.energyNeedWh - delivered;
    energySource = 'energyNeedWh';
  } else {
    need = defaults.energyNeedWh - delivered;
    energySource = 'default';
  }
  need = Math.max(0, need);
  let chargeNow = 0;
  if (p.minSoc !== undefined && p.batteryCapacityWh !== undefined && s.soc !== null) chargeNow = Math.max(0, ((p.minSoc - s.soc) / 100) * p.batteryCapacityWh);
  need = Math.max(need, chargeNow);

  const maxPowerW = Math.max(0, Math.min(power.maxPowerW, p.maxPowerW ?? Number.POSITIVE_INFINITY));
  const minPowerW = Math.min(power.minPowerW, maxPowerW);

  let departureSource: ResolvedInput['departureSource'];
  let departure: Date;
  if (p.departureAt !== undefined) {
    departure = new Date(p.departureAt);
    departureSource = 'session';
  } else if (p.departureTimeOfDay !== undefined) {
    departure = nextTimeOfDay(arrival, p.departureTimeOfDay, p.timeZone ?? defaults.timeZone);
    departureSource = 'timeOfDay';
  } else {
    departure = new Date(arrival.getTime() + defaults.dwellS * 1000);
    departureSource = 'default';
  }
  if (departure.getTime() <= now.getTime()) {
    const needS = maxPowerW > 0 ? Math.ceil((need / maxPowerW) * 3600) : 0;
    departure = new Date(now.getTime() + Math.max(60, needS) * 1000);
    departureSource = 'overdue';
  }

  return {
    sessionId: s.id,
    cpoId: s.cpoId,
    uid: s.uid,
    evseId: s.evseId,
    arrival,
    departure,
    energyNeedWh: round(need),
    chargeNowWh: round(Math.min(chargeNow, need)),
    minPowerW: round(minPowerW),
    maxPowerW: round(maxPowerW),
    phases: power.phases,
    departureSource,
    energySource,
    preferences: p,
  };
}

const round = (v: number): number => Math.round(v * 1000) / 1000;
