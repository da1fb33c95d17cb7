/**
 * OCPP 2.0.1 device model (Part 2 §B "Provisioning", Part 1 device model; component and variable names
 * from the 2.0.1 "Referenced Components and Variables" appendix). Definitions are shared; a station
 * stores only the values it changed.
 */
import type { OCPP20 } from 'typed-ocpp';
import { DEFAULT_MEASURANDS } from './meter.js';

type DataType = 'string' | 'decimal' | 'integer' | 'dateTime' | 'boolean' | 'OptionList' | 'SequenceList' | 'MemberList';
type Mutability = 'ReadOnly' | 'WriteOnly' | 'ReadWrite';
/** station: component without evse; evse: component.evse.id; connector: component.evse.{id,connectorId}. */
type Scope = 'station' | 'evse' | 'connector';

/** What the device model needs to know about its station to answer dynamic variables. */
export interface DeviceModelHost {
  identity: string;
  meterIntervalS: number;
  callTimeoutS: number;
  securityProfile: number;
  evses(): readonly { id: number; connectors: readonly { id: number; type: string }[]; phases: number; maxPowerW: number }[];
  availability(evseId?: number, connectorId?: number): string;
  now(): Date;
}

interface Where {
  evseId?: number;
  connectorId?: number;
}

interface VarDef {
  component: string;
  variable: string;
  instance?: string;
  scope: Scope;
  mutability: Mutability;
  dataType: DataType;
  value: string | ((h: DeviceModelHost, w: Where) => string);
  unit?: string;
  valuesList?: string;
  min?: number;
  max?: number;
}

type VarSpec = Omit<VarDef, 'component' | 'scope' | 'variable' | 'mutability' | 'dataType' | 'value'>;
const v = (
  component: string,
  variable: string,
  mutability: Mutability,
  dataType: DataType,
  value: VarDef['value'],
  extra: VarSpec & { scope?: Scope } = {},
): VarDef => ({ component, variable, mutability, dataType, value, scope: 'station', ...extra });

const MEASURANDS = 'Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC,Power.Offered,Current.Offered';

export const DEVICE_MODEL: readonly VarDef[] = [
  v('ChargingStation', 'AvailabilityState', 'ReadOnly', 'OptionList', (h) => h.availability(), {
    valuesList: 'Available,Occupied,Reserved,Unavailable,Faulted',
  }),
  v('ChargingStation', 'Available', 'ReadOnly', 'boolean', 'true'),
  v('ChargingStation', 'SupplyPhases', 'ReadOnly', 'integer', (h) => String(Math.max(...h.evses().map((e) => e.phases), 0))),
  v('EVSE', 'AvailabilityState', 'ReadOnly', 'OptionList', (h, w) => h.availability(w.evseId), {
    scope: 'evse',
    valuesList: 'Available,Occupied,Reserved,Unavailable,Faulted',
  }),
  v('EVSE', 'Available', 'ReadOnly', 'boolean', 'true', { scope: 'evse' }),
  v('EVSE', 'Power', 'ReadOnly', 'decimal', (h, w) => String(h.evses().find((e) => e.id === w.evseId)?.maxPowerW ?? 0), {
    scope: 'evse',
    unit: 'W',
  }),
  v('EVSE', 'SupplyPhases', 'ReadOnly', 'integer', (h, w) => String(h.evses().find((e) => e.id === w.evseId)?.phases ?? 0), {
    scope: 'evse',
  }),
  v('Connector', 'AvailabilityState', 'ReadOnly', 'OptionList', (h, w) => h.availability(w.evseId, w.connectorId), {
    scope: 'connector',
    valuesList: 'Available,Occupied,Reserved,Unavailable,Faulted',
  }),
  v('Connector', 'Available', 'ReadOnly', 'boolean', 'true', { scope: 'connector' }),
  v(
    'Connector',
    'ConnectorType',
    'ReadOnly',
    'string',
    (h, w) => h.evses().find((e) => e.id === w.evseId)?.connectors.find((c) => c.id === w.connectorId)?.type ?? 'Unknown',
    { scope: 'connector' },
  ),
  v('OCPPCommCtrlr', 'HeartbeatInterval', 'ReadWrite', 'integer', '300', { unit: 's', min: 0 }),
  v('OCPPCommCtrlr', 'MessageTimeout', 'ReadOnly', 'integer', (h) => String(h.callTimeoutS), { instance: 'Default', unit: 's' }),
  v('OCPPCommCtrlr', 'MessageAttempts', 'ReadWrite', 'integer', '3', { instance: 'TransactionEvent', min: 1 }),
  v('OCPPCommCtrlr', 'MessageAttemptInterval', 'ReadWrite', 'integer', '10', { instance: 'TransactionEvent', unit: 's', min: 0 }),
  v('OCPPCommCtrlr', 'NetworkConfigurationPriority', 'ReadWrite', 'SequenceList', '0'),
  v('OCPPCommCtrlr', 'NetworkProfileConnectionAttempts', 'ReadWrite', 'integer', '3', { min: 0 }),
  v('OCPPCommCtrlr', 'OfflineThreshold', 'ReadWrite', 'integer', '60', { unit: 's', min: 0 }),
  v('OCPPCommCtrlr', 'ResetRetries', 'ReadWrite', 'integer', '1', { min: 0 }),
  v('OCPPCommCtrlr', 'UnlockOnEVSideDisconnect', 'ReadWrite', 'boolean', 'true'),
  v('OCPPCommCtrlr', 'WebSocketPingInterval', 'ReadWrite', 'integer', '0', { unit: 's', min: 0 }),
  v('OCPPCommCtrlr', 'FileTransferProtocols', 'ReadOnly', 'MemberList', 'HTTPS,FTPS', { valuesList: 'FTP,FTPS,HTTP,HTTPS,SFTP' }),
  v('SampledDataCtrlr', 'Enabled', 'ReadWrite', 'boolean', 'true'),
  v('SampledDataCtrlr', 'TxUpdatedInterval', 'ReadWrite', 'integer', (h) => String(h.meterIntervalS), { unit: 's', min: 0 }),
  v('SampledDataCtrlr', 'TxUpdatedMeasurands', 'ReadWrite', 'MemberList', DEFAULT_MEASURANDS.join(','), { valuesList: MEASURANDS }),
  v('SampledDataCtrlr', 'TxStartedMeasurands', 'ReadWrite', 'MemberList', 'Energy.Active.Import.Register', { valuesList: MEASURANDS }),
  v('SampledDataCtrlr', 'TxEndedMeasurands', 'ReadWrite', 'MemberList', 'Energy.Active.Import.Register', { valuesList: MEASURANDS }),
  v('SampledDataCtrlr', 'TxEndedInterval', 'ReadWrite', 'integer', '0', { unit: 's', min: 0 }),
  v('SampledDataCtrlr', 'RegisterValuesWithoutPhases', 'ReadWrite', 'boolean', 'true'),
  v('AlignedDataCtrlr', 'Enabled', 'ReadWrite', 'boolean', 'false'),
  v('AlignedDataCtrlr', 'Interval', 'ReadWrite', 'integer', '0', { unit: 's', min: 0 }),
  v('AlignedDataCtrlr', 'Measurands', 'ReadWrite', 'MemberList', 'Energy.Active.Import.Register', { valuesList: MEASURANDS }),
  v('SmartChargingCtrlr', 'Enabled', 'ReadWrite', 'boolean', 'true'),
  v('SmartChargingCtrlr', 'Available', 'ReadOnly', 'boolean', 'true'),
  v('SmartChargingCtrlr', 'RateUnit', 'ReadOnly', 'MemberList', 'A,W', { valuesList: 'A,W' }),
  v('SmartChargingCtrlr', 'ProfileStackLevel', 'ReadOnly', 'integer', '8'),
  v('SmartChargingCtrlr', 'PeriodsPerSchedule', 'ReadOnly', 'integer', '24'),
  v('SmartChargingCtrlr', 'Entries', 'ReadOnly', 'integer', '16', { instance: 'ChargingProfiles' }),
  v('SmartChargingCtrlr', 'ExternalControlSignalsEnabled', 'ReadWrite', 'boolean', 'false'),
  v('SmartChargingCtrlr', 'LimitChangeSignificance', 'ReadWrite', 'decimal', '1.0'),
  v('SmartChargingCtrlr', 'NotifyChargingLimitWithSchedules', 'ReadWrite', 'boolean', 'false'),
  v('SmartChargingCtrlr', 'ACPhaseSwitchingSupported', 'ReadOnly', 'boolean', 'false'),
  v('SmartChargingCtrlr', 'Phases3to1', 'ReadOnly', 'boolean', 'false'),
  v('AuthCtrlr', 'Enabled', 'ReadWrite', 'boolean', 'true'),
  v('AuthCtrlr', 'AuthorizeRemoteStart', 'ReadWrite', 'boolean', 'true'),
  v('AuthCtrlr', 'LocalAuthorizeOffline', 'ReadWrite', 'boolean', 'true'),
  v('AuthCtrlr', 'LocalPreAuthorize', 'ReadWrite', 'boolean', 'false'),
  v('AuthCtrlr', 'OfflineTxForUnknownIdEnabled', 'ReadWrite', 'boolean', 'true'),
  v('AuthCtrlr', 'DisableRemoteAuthorization', 'ReadWrite', 'boolean', 'false'),
  v('AuthCacheCtrlr', 'Enabled', 'ReadWrite', 'boolean', 'true'),
  v('AuthCacheCtrlr', 'Available', 'ReadOnly', 'boolean', 'true'),
  v('AuthCacheCtrlr', 'LifeTime', 'ReadWrite', 'integer', '86400', { unit: 's', min: 0 }),
  v('LocalAuthListCtrlr', 'Enabled', 'ReadWrite', 'boolean', 'true'),
  v('LocalAuthListCtrlr', 'Available', 'ReadOnly', 'boolean', 'true'),
  v('LocalAuthListCtrlr', 'Entries', 'ReadOnly', 'integer', '1000'),
  v('LocalAuthListCtrlr', 'ItemsPerMessage', 'ReadOnly', 'integer', '100'),
  v('LocalAuthListCtrlr', 'BytesPerMessage', 'ReadOnly', 'integer', '65000'),
  v('TxCtrlr', 'EVConnectionTimeOut', 'ReadWrite', 'integer', '60', { unit: 's', min: 0 }),
  v('TxCtrlr', 'StopTxOnEVSideDisconnect', 'ReadWrite', 'boolean', 'true'),
  v('TxCtrlr', 'StopTxOnInvalidId', 'ReadWrite', 'boolean', 'true'),
  v('TxCtrlr', 'MaxEnergyOnInvalidId', 'ReadWrite', 'integer', '0', { unit: 'Wh', min: 0 }),
  v('TxCtrlr', 'TxStartPoint', 'ReadWrite', 'MemberList', 'PowerPathClosed', {
    valuesList: 'ParkingBayOccupancy,EVConnected,Authorized,DataSigned,PowerPathClosed,EnergyTransfer',
  }),
  v('TxCtrlr', 'TxStopPoint', 'ReadWrite', 'MemberList', 'EVConnected,Authorized', {
    valuesList: 'ParkingBayOccupancy,EVConnected,Authorized,DataSigned,PowerPathClosed,EnergyTransfer',
  }),
  v('ReservationCtrlr', 'Enabled', 'ReadWrite', 'boolean', 'true'),
  v('ReservationCtrlr', 'Available', 'ReadOnly', 'boolean', 'true'),
  v('ReservationCtrlr', 'NonEvseSpecific', 'ReadOnly', 'boolean', 'true'),
  v('DeviceDataCtrlr', 'ItemsPerMessage', 'ReadOnly', 'integer', '20', { instance: 'GetReport' }),
  v('DeviceDataCtrlr', 'ItemsPerMessage', 'ReadOnly', 'integer', '50', { instance: 'GetVariables' }),
  v('DeviceDataCtrlr', 'ItemsPerMessage', 'ReadOnly', 'integer', '50', { instance: 'SetVariables' }),
  v('DeviceDataCtrlr', 'BytesPerMessage', 'ReadOnly', 'integer', '65000', { instance: 'GetReport' }),
  v('DeviceDataCtrlr', 'BytesPerMessage', 'ReadOnly', 'integer', '65000', { instance: 'GetVariables' }),
  v('DeviceDataCtrlr', 'BytesPerMessage', 'ReadOnly', 'integer', '65000', { instance: 'SetVariables' }),
  v('ClockCtrlr', 'DateTime', 'ReadOnly', 'dateTime', (h) => h.now().toISOString()),
  v('ClockCtrlr', 'TimeSource', 'ReadWrite', 'SequenceList', 'Heartbeat', { valuesList: 'Heartbeat,NTP,GPS,RealTimeClock,MobileNetwork' }),
  v('SecurityCtrlr', 'SecurityProfile', 'ReadOnly', 'integer', (h) => String(h.securityProfile)),
  v('SecurityCtrlr', 'Identity', 'ReadOnly', 'string', (h) => h.identity),
];

const keyOf = (component: string, variable: string, instance: string | undefined) => `${component}|${variable}|${instance ?? ''}`;
const BY_KEY = new Map(DEVICE_MODEL.map((d) => [keyOf(d.component, d.variable, d.instance), d]));
const COMPONENTS = new Set(DEVICE_MODEL.map((d) => d.component));

export type GetVariableData = OCPP20.GetVariablesRequest['getVariableData'][number];
export type GetVariableResult = OCPP20.GetVariablesResponse['getVariableResult'][number];
export type SetVariableData = OCPP20.SetVariablesRequest['setVariableData'][number];
export type SetVariableResult = OCPP20.SetVariablesResponse['setVariableResult'][number];
export type ReportData = NonNullable<OCPP20.NotifyReportRequest['reportData']>[number];
type ComponentType = GetVariableData['component'];
type VariableType = GetVariableData['variable'];

function storageKey(d: VarDef, w: Where): string {
  return `${keyOf(d.component, d.variable, d.instance)}|${w.evseId ?? ''}|${w.connectorId ?? ''}`;
}

function validValue(d: VarDef, value: string): boolean {
  switch (d.dataType) {
    case 'integer': {
      if (!/^-?\d+$/.test(value)) return false;
      const n = Number.parseInt(value, 10);
      return (d.min === undefined || n >= d.min) && (d.max === undefined || n <= d.max);
    }
    case 'decimal':
      return value.trim() !== '' && Number.isFinite(Number(value));
    case 'boolean':
      return value === 'true' || value === 'false';
    case 'OptionList':
      return !d.valuesList || d.valuesList.split(',').includes(value);
    case 'MemberList':
    case 'SequenceList': {
      if (!d.valuesList) return true;
      const allowed = d.valuesList.split(',');
      return value.split(',').every((m) => allowed.includes(m.trim()));
    }
    case 'dateTime':
      return !Number.isNaN(Date.parse(value));
    case 'string':
      return value.length <= 2500;
  }
}

type Lookup = { ok: true; def: VarDef; where: Where } | { ok: false; status: 'UnknownComponent' | 'UnknownVariable' };

export class DeviceModel {
  private changed: Map<string, string> | undefined;

  constructor(
    private readonly host: DeviceModelHost,
    initial: Readonly<Record<string, string>> = {},
  ) {
    // Initial values from the simulator's owner: `Component.Variable` or `Component.Variable[Instance]`.
    for (const [k, value] of Object.entries(initial)) {
      const m = /^([^.[\]]+)\.([^.[\]]+)(?:\[([^\]]+)\])?$/.exec(k);
      const def = m && BY_KEY.get(keyOf(m[1] ?? '', m[2] ?? '', m[3]));
      if (def && def.scope === 'station') this.put(storageKey(def, {}), value);
    }
  }

  private put(key: string, value: string): void {
    (this.changed ??= new Map()).set(key, value);
  }

  private lookup(component: ComponentType, variable: VariableType): Lookup {
    if (!COMPONENTS.has(component.name)) return { ok: false, status: 'UnknownComponent' };
    const def = BY_KEY.get(keyOf(component.name, variable.name, variable.instance));
    if (!def) return { ok: false, status: 'UnknownVariable' };
    const evseId = component.evse?.id;
    const connectorId = component.evse?.connectorId;
    const evses = this.host.evses();
    if (def.scope === 'station') {
      if (evseId !== undefined) return { ok: false, status: 'UnknownComponent' };
      return { ok: true, def, where: {} };
    }
    const evse = evses.find((e) => e.id === evseId);
    if (!evse) return { ok: false, status: 'UnknownComponent' };
    if (def.scope === 'evse') return { ok: true, def, where: { evseId: evse.id } };
    const conn = evse.connectors.find((c) => c.id === connectorId);
    if (!conn) return { ok: false, status: 'UnknownComponent' };
    return { ok: true, def, where: { evseId: evse.id, connectorId: conn.id } };
  }

  private valueOf(def: VarDef, where: Where): string {
    const own = this.changed?.get(storageKey(def, where));
    if (own !== undefined) return own;
    return typeof def.value === 'function' ? def.value(this.host, where) : def.value;
  }

  /** Station-scoped read by reference (used by the neutral settings table). */
  read(component: string, variable: string, instance?: string): string | undefined {
    const def = BY_KEY.get(keyOf(component, variable, instance));
    return def && def.scope === 'station' ? this.valueOf(def, {}) : undefined;
  }

  /** Station-internal write (e.g. HeartbeatInterval from BootNotificationResponse, B01). */
  writeInternal(component: string, variable: string, value: string, instance?: string): void {
    const def = BY_KEY.get(keyOf(component, variable, instance));
    if (def && def.scope === 'station') this.put(storageKey(def, {}), value);
  }

  /** GetVariables (B06). */
  get(req: GetVariableData): GetVariableResult {
    const base = { component: req.component, variable: req.variable };
    const attributeType = req.attributeType ?? 'Actual';
    const found = this.lookup(req.component, req.variable);
    if (!found.ok) return { ...base, attributeType, attributeStatus: found.status };
    if (attributeType !== 'Actual') return { ...base, attributeType, attributeStatus: 'NotSupportedAttributeType' };
    if (found.def.mutability === 'WriteOnly') return { ...base, attributeType, attributeStatus: 'Rejected' };
    return { ...base, attributeType, attributeStatus: 'Accepted', attributeValue: this.valueOf(found.def, found.where) };
  }

  /** SetVariables (B05). Returns the result and, when accepted, the variable that changed. */
  set(req: SetVariableData): { result: SetVariableResult; changed?: { component: string; variable: string; instance?: string } } {
    const base = { component: req.component, variable: req.variable };
    const attributeType = req.attributeType ?? 'Actual';
    const found = this.lookup(req.component, req.variable);
    if (!found.ok) return { result: { ...base, attributeType, attributeStatus: found.status } };
    if (attributeType !== 'Actual') return { result: { ...base, attributeType, attributeStatus: 'NotSupportedAttributeType' } };
    const { def, where } = found;
    if (def.mutability === 'ReadOnly' || !validValue(def, req.attributeValue)) {
      return { result: { ...base, attributeType, attributeStatus: 'Rejected' } };
    }
    this.put(storageKey(def, where), req.attributeValue);
    const changed: { component: string; variable: string; instance?: string } = { component: def.component, variable: def.variable };
    if (def.instance !== undefined) changed.instance = def.instance;
    return { result: { ...base, attributeType, attributeStatus: 'Accepted' }, changed };
  }

  /** Every (component, variable) instance the station has, EVSE/connector components expanded. */
  private *instances(): Generator<{ def: VarDef; where: Where; component: ComponentType }> {
    for (const def of DEVICE_MODEL) {
      if (def.scope === 'station') {
        yield { def, where: {}, component: { name: def.component } };
        continue;
      }
      for (const e of this.host.evses()) {
        if (def.scope === 'evse') {
          yield { def, where: { evseId: e.id }, component: { name: def.component, evse: { id: e.id } } };
        } else {
          for (const c of e.connectors) {
            yield {
              def,
              where: { evseId: e.id, connectorId: c.id },
              component: { name: def.component, evse: { id: e.id, connectorId: c.id } },
            };
          }
        }
      }
    }
  }

  private reportItem(def: VarDef, where: Where, component: ComponentType): ReportData {
    const variable: VariableType = { name: def.variable };
    if (def.instance !== undefined) variable.instance = def.instance;
    const attr: ReportData['variableAttribute'][number] = {
      type: 'Actual',
      mutability: def.mutability,
      persistent: true,
      constant: def.mutability === 'ReadOnly',
    };
    if (def.mutability !== 'WriteOnly') attr.value = this.valueOf(def, where);
    const characteristics: NonNullable<ReportData['variableCharacteristics']> = { dataType: def.dataType, supportsMonitoring: false };
    if (def.unit !== undefined) characteristics.unit = def.unit;
    if (def.valuesList !== undefined) characteristics.valuesList = def.valuesList;
    if (def.min !== undefined) characteristics.minLimit = def.min;
    if (def.max !== undefined) characteristics.maxLimit = def.max;
    return { component, variable, variableAttribute: [attr], variableCharacteristics: characteristics };
  }

  /** GetBaseReport (B07): ConfigurationInventory = writable variables, FullInventory = all, Summary = states. */
  baseReport(base: OCPP20.GetBaseReportRequest['reportBase']): ReportData[] {
    const out: ReportData[] = [];
    for (const { def, where, component } of this.instances()) {
      if (base === 'ConfigurationInventory' && def.mutability === 'ReadOnly') continue;
      if (base === 'SummaryInventory' && def.variable !== 'AvailabilityState') continue;
      out.push(this.reportItem(def, where, component));
    }
    return out;
  }

  /** GetReport (B08): filter by componentVariable and componentCriteria. */
  report(req: OCPP20.GetReportRequest): ReportData[] {
    const out: ReportData[] = [];
    const criteria = req.componentCriteria ?? [];
    // Every component here is Available, Enabled and Active; none reports a Problem.
    if (criteria.length > 0 && criteria.every((c) => c === 'Problem')) return out;
    for (const { def, where, component } of this.instances()) {
      const cvs = req.componentVariable;
      if (cvs && cvs.length > 0) {
        const hit = cvs.some((cv) => {
          if (cv.component.name !== def.component) return false;
          if (cv.component.instance !== undefined) return false;
          if (cv.component.evse && cv.component.evse.id !== where.evseId) return false;
          if (cv.component.evse?.connectorId !== undefined && cv.component.evse.connectorId !== where.connectorId) return false;
          if (cv.variable && (cv.variable.name !== def.variable || (cv.variable.instance ?? undefined) !== def.instance)) return false;
          return true;
        });
        if (!hit) continue;
      }
      out.push(this.reportItem(def, where, component));
    }
    return out;
  }
}
