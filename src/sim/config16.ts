/**
 * OCPP 1.6 configuration key store (1.6 §9 "Standard Configuration Key Names & Values").
 * Key definitions are shared by all stations; a station only stores the values it changed, so ten
 * thousand simulated stations cost next to nothing.
 */
import type { OCPP16 } from 'typed-ocpp';
import { DEFAULT_MEASURANDS } from './meter.js';

type KeyType = 'int' | 'bool' | 'csl' | 'string';

interface KeyDef {
  type: KeyType;
  readonly: boolean;
  /** Default value; a function of the station facts for station-dependent keys. */
  value: string | ((f: Config16Facts) => string);
  /** For csl keys: the allowed members. */
  members?: readonly string[];
  min?: number;
}

export interface Config16Facts {
  numberOfConnectors: number;
  meterIntervalS: number;
}

const MEASURANDS_16 = [
  'Energy.Active.Import.Register',
  'Energy.Active.Export.Register',
  'Power.Active.Import',
  'Power.Offered',
  'Current.Import',
  'Current.Offered',
  'Voltage',
  'SoC',
  'Frequency',
  'Temperature',
] as const;

const FEATURES = 'Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger';

const rw = (type: KeyType, value: KeyDef['value'], extra: Partial<KeyDef> = {}): KeyDef => ({ type, readonly: false, value, ...extra });
const ro = (type: KeyType, value: KeyDef['value']): KeyDef => ({ type, readonly: true, value });

export const CONFIG16_KEYS: Readonly<Record<string, KeyDef>> = {
  AllowOfflineTxForUnknownId: rw('bool', 'true'),
  AuthorizationCacheEnabled: rw('bool', 'true'),
  AuthorizeRemoteTxRequests: rw('bool', 'true'),
  ClockAlignedDataInterval: rw('int', '0', { min: 0 }),
  ConnectionTimeOut: rw('int', '60', { min: 0 }),
  GetConfigurationMaxKeys: ro('int', '100'),
  HeartbeatInterval: rw('int', '300', { min: 0 }),
  LocalAuthorizeOffline: rw('bool', 'true'),
  LocalPreAuthorize: rw('bool', 'false'),
  MeterValuesAlignedData: rw('csl', 'Energy.Active.Import.Register', { members: MEASURANDS_16 }),
  MeterValuesSampledData: rw('csl', DEFAULT_MEASURANDS.join(','), { members: MEASURANDS_16 }),
  MeterValueSampleInterval: rw('int', (f) => String(f.meterIntervalS), { min: 0 }),
  MinimumStatusDuration: rw('int', '0', { min: 0 }),
  NumberOfConnectors: ro('int', (f) => String(f.numberOfConnectors)),
  ResetRetries: rw('int', '1', { min: 0 }),
  StopTransactionOnEVSideDisconnect: rw('bool', 'true'),
  StopTransactionOnInvalidId: rw('bool', 'true'),
  StopTxnAlignedData: rw('csl', '', { members: MEASURANDS_16 }),
  StopTxnSampledData: rw('csl', 'Energy.Active.Import.Register', { members: MEASURANDS_16 }),
  SupportedFeatureProfiles: ro('csl', FEATURES),
  TransactionMessageAttempts: rw('int', '3', { min: 1 }),
  TransactionMessageRetryInterval: rw('int', '10', { min: 0 }),
  UnlockConnectorOnEVSideDisconnect: rw('bool', 'true'),
  WebSocketPingInterval: rw('int', '0', { min: 0 }),
  // Local Auth List Management profile
  LocalAuthListEnabled: rw('bool', 'true'),
  LocalAuthListMaxLength: ro('int', '1000'),
  SendLocalListMaxLength: ro('int', '100'),
  // Reservation profile
  ReserveConnectorZeroSupported: ro('bool', 'false'),
  // Smart Charging profile
  ChargeProfileMaxStackLevel: ro('int', '8'),
  ChargingScheduleAllowedChargingRateUnit: ro('csl', 'Current,Power'),
  ChargingScheduleMaxPeriods: ro('int', '24'),
  ConnectorSwitch3to1PhaseSupported: ro('bool', 'false'),
  MaxChargingProfilesInstalled: ro('int', '16'),
};

export type ChangeStatus = OCPP16.ChangeConfigurationResponse['status'];
export type ConfigurationKey = NonNullable<OCPP16.GetConfigurationResponse['configurationKey']>[number];

function valid(def: KeyDef, value: string): boolean {
  switch (def.type) {
    case 'int': {
      if (!/^-?\d+$/.test(value.trim())) return false;
      return def.min === undefined || Number.parseInt(value, 10) >= def.min;
    }
    case 'bool':
      return /^(true|false)$/i.test(value.trim());
    case 'csl':
      return (
        !def.members ||
        value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
          .every((m) => def.members?.includes(m))
      );
    case 'string':
      return true;
  }
}

export class Config16 {
  private changed: Map<string, string> | undefined;

  constructor(
    private readonly facts: Config16Facts,
    initial: Readonly<Record<string, string>> = {},
  ) {
    // Initial values come from the simulator's owner (a test, the fleet): they may set read-only keys.
    for (const [k, v] of Object.entries(initial)) if (CONFIG16_KEYS[k]) this.put(k, v);
  }

  private put(key: string, value: string): void {
    (this.changed ??= new Map()).set(key, value);
  }

  get(key: string): string | undefined {
    const own = this.changed?.get(key);
    if (own !== undefined) return own;
    const def = CONFIG16_KEYS[key];
    if (!def) return undefined;
    return typeof def.value === 'function' ? def.value(this.facts) : def.value;
  }

  /** Station-internal write (e.g. HeartbeatInterval from BootNotification.conf). */
  setInternal(key: string, value: string): void {
    if (CONFIG16_KEYS[key]) this.put(key, value);
  }

  /** ChangeConfiguration.req semantics (1.6 §5.3). */
  change(key: string, value: string): ChangeStatus {
    const def = CONFIG16_KEYS[key];
    if (!def) return 'NotSupported';
    if (def.readonly || !valid(def, value)) return 'Rejected';
    this.put(key, value.trim());
    return 'Accepted';
  }

  /** GetConfiguration.req semantics (1.6 §5.8): no keys = all keys. */
  read(keys: readonly string[] | undefined): { configurationKey: ConfigurationKey[]; unknownKey: string[] } {
    const wanted = keys && keys.length > 0 ? keys : Object.keys(CONFIG16_KEYS);
    const configurationKey: ConfigurationKey[] = [];
    const unknownKey: string[] = [];
    for (const key of wanted) {
      const def = CONFIG16_KEYS[key];
      const value = this.get(key);
      if (!def || value === undefined) unknownKey.push(key);
      else configurationKey.push({ key, readonly: def.readonly, value });
    }
    return { configurationKey, unknownKey };
  }
}
