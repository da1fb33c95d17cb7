/**
 * The `charging_station` object of seed 000 (protocols.md §1.2), built from Ampline's station model:
 *
 * ```
 * { uid, evses: [{ evse_id, capabilities, connectors: [{ id, power_type, max_voltage, max_amperage }] }] }
 * ```
 *
 * - `uid` is the station id (the OCPP identity); `evse_id` the OCPP evseId. 1.6 connector n is modelled as
 *   EVSE n with connector 1 (src/domain/model.ts), so a 1.6 station gives `evse_id` n, connector `"1"`.
 *   EVSE 0 (the station as a whole) is never listed. Connector ids are strings, as in the seed.
 * - `power_type` (OCPI PowerType), per connector, from the first source that knows:
 *   1. `connectors.power_type` (operator data), then `connectors.phases` (1/2/3 → AC_1/AC_2/AC_3_PHASE);
 *   2. the 2.0.1 device model (NotifyReport): `Connector.ConnectorType` (cCCS1, cCCS2, cG105 → DC;
 *      s309-1P-* / Other1Ph* → 1φ; s309-3P-* / Other3Ph → 3φ), `Connector.SupplyPhases`,
 *      `EVSE.SupplyPhases`, `ChargingStation.SupplyPhases` (0 = DC, interpretation of the DM's note);
 *   3. default AC_3_PHASE.
 * - `max_voltage` is line-to-neutral: `connectors.max_voltage_v`, where an AC value above 300 V is taken
 *   as line-to-line and divided by √3 (as SmartChargingService does); default 230 V AC, 400 V DC.
 * - `max_amperage`: `connectors.max_current_a`, else the rating in a s309 connector type, else 32 A AC
 *   (SmartChargingService's default EVSE) or 125 A DC.
 * - `capabilities`: `CHARGING_PROFILE_CAPABLE` — every station Ampline manages takes charging profiles —
 *   unless its device model says otherwise (2.0.1 `SmartChargingCtrlr.Enabled`/`Available` false; 1.6
 *   `SupportedFeatureProfiles` known and without `SmartCharging`).
 *
 * The mapping is a pure function ({@link describeStation}); {@link loadStationDescription} reads the rows.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { PowerType } from '../domain/model.js';
import { UnknownStationError } from '../services/commands.js';

/** OCPI Capability values this object may carry. */
export type EvseCapability = 'CHARGING_PROFILE_CAPABLE';

export interface ConnectorDescription {
  id: string;
  power_type: PowerType;
  /** Volts, line-to-neutral for AC. */
  max_voltage: number;
  /** Amperes per phase (AC) or DC output current. */
  max_amperage: number;
}

export interface EvseDescription {
  evse_id: number;
  capabilities: EvseCapability[];
  connectors: ConnectorDescription[];
}

export interface ChargingStationDescription {
  uid: string;
  evses: EvseDescription[];
}

/** Values used when the model does not know (documented above and in the README). */
export const DESCRIPTION_DEFAULTS = {
  powerType: 'AC_3_PHASE' as PowerType,
  acVoltageV: 230,
  dcVoltageV: 400,
  acMaxCurrentA: 32,
  dcMaxCurrentA: 125,
} as const;

/** The station has no EVSE Ampline knows of yet (it has not sent a StatusNotification). */
export class NoEvsesKnownError extends Error {
  constructor(readonly stationId: string) {
    super(`charging station ${stationId} has reported no EVSE yet (no StatusNotification received), so it cannot be described to an SCSP`);
    this.name = 'NoEvsesKnownError';
  }
}

const POWER_TYPES: readonly PowerType[] = ['AC_1_PHASE', 'AC_2_PHASE', 'AC_2_PHASE_SPLIT', 'AC_3_PHASE', 'DC'];

/** What {@link describeStation} reads: rows of the station model, already filtered to one station. */
export interface StationModel {
  stationId: string;
  evseIds: readonly number[];
  connectors: ReadonlyArray<{
    evseId: number;
    connectorId: number;
    powerType: string | null;
    phases: number | null;
    maxVoltageV: number | null;
    maxCurrentA: number | null;
  }>;
  /** Device-model rows (attribute type Actual). */
  deviceModel: ReadonlyArray<{ component: string; evseId: number; connectorId: number; variable: string; value: string | null }>;
}

interface Electrical {
  powerType?: PowerType;
  maxCurrentA?: number;
}

/** 2.0.1 ConnectorEnumType values that say something about phases, DC or rating. */
function fromConnectorType(type: string | undefined): Electrical {
  if (type === undefined) return {};
  if (type === 'cCCS1' || type === 'cCCS2' || type === 'cG105') return { powerType: 'DC' };
  const iec309 = /^s309-(1|3)P-(16|32)A$/.exec(type);
  if (iec309) return { powerType: iec309[1] === '1' ? 'AC_1_PHASE' : 'AC_3_PHASE', maxCurrentA: Number(iec309[2]) };
  if (type === 'Other1PhMax16A' || type === 'Other1PhOver16A') return { powerType: 'AC_1_PHASE' };
  if (type === 'Other3Ph') return { powerType: 'AC_3_PHASE' };
  return {};
}

function fromPhases(phases: number | null | undefined, zeroIsDc: boolean): PowerType | undefined {
  if (phases === 1) return 'AC_1_PHASE';
  if (phases === 2) return 'AC_2_PHASE';
  if (phases === 3) return 'AC_3_PHASE';
  if (phases === 0 && zeroIsDc) return 'DC';
  return undefined;
}

function intOf(s: string | null | undefined): number | undefined {
  if (s === null || s === undefined || s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isInteger(n) ? n : undefined;
}

/** Pure: the seed-000 object for one station. Throws {@link NoEvsesKnownError} when there is no EVSE. */
export function describeStation(m: StationModel): ChargingStationDescription {
  const dm = (component: string, variable: string, evseId = 0, connectorId = 0): string | undefined =>
    m.deviceModel.find((r) => r.component === component && r.variable === variable && r.evseId === evseId && r.connectorId === connectorId)?.value ?? undefined;

  const smartOff =
    dm('SmartChargingCtrlr', 'Enabled')?.toLowerCase() === 'false' ||
    dm('SmartChargingCtrlr', 'Available')?.toLowerCase() === 'false' ||
    (() => {
      const profiles = dm('OCPP16Configuration', 'SupportedFeatureProfiles');
      return profiles !== undefined && !profiles.split(',').some((p) => p.trim().toLowerCase() === 'smartcharging');
    })();
  const capabilities: EvseCapability[] = smartOff ? [] : ['CHARGING_PROFILE_CAPABLE'];

  const evseIds = [...new Set([...m.evseIds, ...m.connectors.map((c) => c.evseId)])].filter((id) => id > 0).sort((a, b) => a - b);
  if (evseIds.length === 0) throw new NoEvsesKnownError(m.stationId);

  const stationPhases = fromPhases(intOf(dm('ChargingStation', 'SupplyPhases')), true);
  const evses = evseIds.map((evseId): EvseDescription => {
    const rows = m.connectors.filter((c) => c.evseId === evseId && c.connectorId > 0).sort((a, b) => a.connectorId - b.connectorId);
    // An EVSE known only from a transaction or meter value still has its connector 1.
    const list = rows.length > 0 ? rows : [{ evseId, connectorId: 1, powerType: null, phases: null, maxVoltageV: null, maxCurrentA: null }];
    const evsePhases = fromPhases(intOf(dm('EVSE', 'SupplyPhases', evseId)), true);
    return {
      evse_id: evseId,
      capabilities: [...capabilities],
      connectors: list.map((c): ConnectorDescription => {
        const byType = fromConnectorType(dm('Connector', 'ConnectorType', evseId, c.connectorId));
        const powerType =
          (POWER_TYPES.includes(c.powerType as PowerType) ? (c.powerType as PowerType) : undefined) ??
          fromPhases(c.phases, false) ??
          byType.powerType ??
          fromPhases(intOf(dm('Connector', 'SupplyPhases', evseId, c.connectorId)), true) ??
          evsePhases ??
          stationPhases ??
          DESCRIPTION_DEFAULTS.powerType;
        const dc = powerType === 'DC';
        let voltage = c.maxVoltageV !== null && c.maxVoltageV > 0 ? c.maxVoltageV : dc ? DESCRIPTION_DEFAULTS.dcVoltageV : DESCRIPTION_DEFAULTS.acVoltageV;
        // AC connector voltage given line-to-line (400 V): the seed wants line-to-neutral.
        if (!dc && voltage > 300) voltage = voltage / Math.sqrt(3);
        const current =
          c.maxCurrentA !== null && c.maxCurrentA > 0 ? c.maxCurrentA : (byType.maxCurrentA ?? (dc ? DESCRIPTION_DEFAULTS.dcMaxCurrentA : DESCRIPTION_DEFAULTS.acMaxCurrentA));
        return { id: String(c.connectorId), power_type: powerType, max_voltage: Math.round(voltage), max_amperage: Math.round(current * 10) / 10 };
      }),
    };
  });
  return { uid: m.stationId, evses };
}

/** Reads the station's rows and describes it. UnknownStationError / NoEvsesKnownError otherwise. */
export async function loadStationDescription(db: Kysely<Database>, stationId: string): Promise<ChargingStationDescription> {
  const station = await db.selectFrom('stations').select('id').where('id', '=', stationId).executeTakeFirst();
  if (!station) throw new UnknownStationError(stationId);
  const [evses, connectors, deviceModel] = await Promise.all([
    db.selectFrom('evses').select('evse_id').where('station_id', '=', stationId).execute(),
    db
      .selectFrom('connectors')
      .select(['evse_id', 'connector_id', 'power_type', 'phases', 'max_voltage_v', 'max_current_a'])
      .where('station_id', '=', stationId)
      .execute(),
    db
      .selectFrom('device_model')
      .select(['component', 'evse_id', 'connector_id', 'variable', 'value'])
      .where('station_id', '=', stationId)
      .where('attribute_type', '=', 'Actual')
      .where('variable_instance', '=', '')
      .where('component_instance', '=', '')
      .where('variable', 'in', ['SupplyPhases', 'ConnectorType', 'Enabled', 'Available', 'SupportedFeatureProfiles'])
      .execute(),
  ]);
  return describeStation({
    stationId,
    evseIds: evses.map((e) => e.evse_id),
    connectors: connectors.map((c) => ({
      evseId: c.evse_id,
      connectorId: c.connector_id,
      powerType: c.power_type,
      phases: c.phases,
      maxVoltageV: c.max_voltage_v,
      maxCurrentA: c.max_current_a,
    })),
    deviceModel: deviceModel.map((r) => ({ component: r.component, evseId: r.evse_id, connectorId: r.connector_id, variable: r.variable, value: r.value })),
  });
}
