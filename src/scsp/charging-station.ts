/**
 * The seed 000 `charging_station` object (protocols.md §1.2): what a CPO tells the SCSP about a station
 * at pairing, and the power facts the planner derives from it. Pure.
 *
 * ```json
 * { "uid": "5f69ad2c0ed5ca86d449cc93", "evses": [
 *   { "evse_id": 1, "capabilities": ["CHARGING_PROFILE_CAPABLE"],
 *     "connectors": [{ "id": "1", "power_type": "AC_3_PHASE", "max_voltage": 220, "max_amperage": 16 }] } ] }
 * ```
 *
 * `max_voltage` is line-to-neutral (OCPI), `max_amperage` per phase. Parsing is strict about the fields
 * the seed shows (types, enums, ranges) and lenient about extra ones (kept as sent: a CPO may add OCPI
 * fields).
 */
import { MIN_CURRENT } from '../smart/units.js';

export type PowerType = 'AC_1_PHASE' | 'AC_2_PHASE' | 'AC_2_PHASE_SPLIT' | 'AC_3_PHASE' | 'DC';
export const POWER_TYPES: readonly PowerType[] = ['AC_1_PHASE', 'AC_2_PHASE', 'AC_2_PHASE_SPLIT', 'AC_3_PHASE', 'DC'];

export interface StationConnector {
  id: string;
  power_type: PowerType;
  max_voltage: number;
  max_amperage: number;
  [extra: string]: unknown;
}

export interface StationEvse {
  evse_id: number;
  capabilities: string[];
  connectors: StationConnector[];
  [extra: string]: unknown;
}

export interface ChargingStation {
  uid: string;
  evses: StationEvse[];
  [extra: string]: unknown;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Validates a `charging_station` object; the message names the offending field. */
export function parseChargingStation(raw: unknown): ParseResult<ChargingStation> {
  const fail = (path: string, msg: string): ParseResult<ChargingStation> => ({ ok: false, message: `charging_station${path}: ${msg}` });
  if (!isObject(raw)) return fail('', 'must be an object');
  if (typeof raw.uid !== 'string' || raw.uid.trim() === '' || raw.uid.length > 255) return fail('.uid', 'must be a non-empty string of at most 255 characters');
  if (!Array.isArray(raw.evses) || raw.evses.length === 0) return fail('.evses', 'must be a non-empty array');
  const seen = new Set<number>();
  for (const [i, e] of raw.evses.entries()) {
    const p = `.evses[${i}]`;
    if (!isObject(e)) return fail(p, 'must be an object');
    if (typeof e.evse_id !== 'number' || !Number.isInteger(e.evse_id) || e.evse_id < 1) return fail(`${p}.evse_id`, 'must be an integer ≥ 1');
    if (seen.has(e.evse_id)) return fail(`${p}.evse_id`, `${e.evse_id} appears twice`);
    seen.add(e.evse_id);
    if (e.capabilities !== undefined && (!Array.isArray(e.capabilities) || !e.capabilities.every((c) => typeof c === 'string'))) {
      return fail(`${p}.capabilities`, 'must be an array of strings');
    }
    if (!Array.isArray(e.connectors) || e.connectors.length === 0) return fail(`${p}.connectors`, 'must be a non-empty array');
    for (const [j, c] of e.connectors.entries()) {
      const q = `${p}.connectors[${j}]`;
      if (!isObject(c)) return fail(q, 'must be an object');
      if (typeof c.id !== 'string' || c.id === '') return fail(`${q}.id`, 'must be a non-empty string');
      if (!POWER_TYPES.includes(c.power_type as PowerType)) return fail(`${q}.power_type`, `must be one of ${POWER_TYPES.join(', ')}`);
      if (typeof c.max_voltage !== 'number' || !(c.max_voltage > 0) || c.max_voltage > 2000) return fail(`${q}.max_voltage`, 'must be a number in (0, 2000]');
      if (typeof c.max_amperage !== 'number' || !(c.max_amperage > 0) || c.max_amperage > 2000) return fail(`${q}.max_amperage`, 'must be a number in (0, 2000]');
    }
  }
  const value = { ...raw, evses: (raw.evses as StationEvse[]).map((e) => ({ ...e, capabilities: e.capabilities ?? [] })) } as ChargingStation;
  return { ok: true, value };
}

export function phasesOf(t: PowerType): number | null {
  switch (t) {
    case 'AC_1_PHASE':
      return 1;
    case 'AC_2_PHASE':
    case 'AC_2_PHASE_SPLIT':
      return 2;
    case 'AC_3_PHASE':
      return 3;
    case 'DC':
      return null;
  }
}

/** What the planner needs of one EVSE. */
export interface EvsePower {
  /** Largest power any connector of the EVSE delivers (W, total over phases). */
  maxPowerW: number;
  /** Smallest non-zero power of that connector: 6 A × phases × V for AC (IEC 61851-1), 0 for DC. */
  minPowerW: number;
  /** Phases of that connector (null for DC). */
  phases: number | null;
  voltage: number;
}

function connectorPower(c: StationConnector): EvsePower {
  const phases = phasesOf(c.power_type);
  if (phases === null) return { maxPowerW: c.max_voltage * c.max_amperage, minPowerW: 0, phases: null, voltage: c.max_voltage };
  return {
    maxPowerW: c.max_voltage * c.max_amperage * phases,
    minPowerW: Math.min(MIN_CURRENT, c.max_amperage) * c.max_voltage * phases,
    phases,
    voltage: c.max_voltage,
  };
}

/**
 * Power facts of `evseId`: the connector with the highest power (the seed does not say which connector
 * an EV uses; in OCPP 2.0.1 only one connector of an EVSE is in use at a time). An EVSE the description
 * does not list (e.g. 0, not known yet) gets the station's strongest connector.
 */
export function evsePower(station: ChargingStation, evseId: number): EvsePower {
  const evse = station.evses.find((e) => e.evse_id === evseId);
  const connectors = evse ? evse.connectors : station.evses.flatMap((e) => e.connectors);
  let best: EvsePower | undefined;
  for (const c of connectors) {
    const p = connectorPower(c);
    if (!best || p.maxPowerW > best.maxPowerW) best = p;
  }
  return best ?? { maxPowerW: 0, minPowerW: 0, phases: null, voltage: 0 };
}
