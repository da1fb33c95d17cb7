/**
 * One table mapping the settings the simulator's behaviour depends on onto the 1.6 configuration key
 * and the 2.0.1 device-model variable that hold them. The station reads settings by neutral name only.
 */
import type { RateUnit } from './units.js';

export interface VariableRef {
  component: string;
  variable: string;
  instance?: string;
}

export const SETTINGS = {
  heartbeatInterval: { v16: 'HeartbeatInterval', v201: { component: 'OCPPCommCtrlr', variable: 'HeartbeatInterval' } },
  meterInterval: { v16: 'MeterValueSampleInterval', v201: { component: 'SampledDataCtrlr', variable: 'TxUpdatedInterval' } },
  measurands: { v16: 'MeterValuesSampledData', v201: { component: 'SampledDataCtrlr', variable: 'TxUpdatedMeasurands' } },
  authorizeRemoteStart: { v16: 'AuthorizeRemoteTxRequests', v201: { component: 'AuthCtrlr', variable: 'AuthorizeRemoteStart' } },
  stopTxOnInvalidId: { v16: 'StopTransactionOnInvalidId', v201: { component: 'TxCtrlr', variable: 'StopTxOnInvalidId' } },
  stopTxOnEVSideDisconnect: {
    v16: 'StopTransactionOnEVSideDisconnect',
    v201: { component: 'TxCtrlr', variable: 'StopTxOnEVSideDisconnect' },
  },
  localPreAuthorize: { v16: 'LocalPreAuthorize', v201: { component: 'AuthCtrlr', variable: 'LocalPreAuthorize' } },
  localAuthorizeOffline: { v16: 'LocalAuthorizeOffline', v201: { component: 'AuthCtrlr', variable: 'LocalAuthorizeOffline' } },
  offlineTxForUnknownId: {
    v16: 'AllowOfflineTxForUnknownId',
    v201: { component: 'AuthCtrlr', variable: 'OfflineTxForUnknownIdEnabled' },
  },
  authCacheEnabled: { v16: 'AuthorizationCacheEnabled', v201: { component: 'AuthCacheCtrlr', variable: 'Enabled' } },
  localListEnabled: { v16: 'LocalAuthListEnabled', v201: { component: 'LocalAuthListCtrlr', variable: 'Enabled' } },
  localListMaxLength: { v16: 'LocalAuthListMaxLength', v201: { component: 'LocalAuthListCtrlr', variable: 'Entries' } },
  txMessageAttempts: {
    v16: 'TransactionMessageAttempts',
    v201: { component: 'OCPPCommCtrlr', variable: 'MessageAttempts', instance: 'TransactionEvent' },
  },
  txMessageRetryInterval: {
    v16: 'TransactionMessageRetryInterval',
    v201: { component: 'OCPPCommCtrlr', variable: 'MessageAttemptInterval', instance: 'TransactionEvent' },
  },
  maxStackLevel: { v16: 'ChargeProfileMaxStackLevel', v201: { component: 'SmartChargingCtrlr', variable: 'ProfileStackLevel' } },
  rateUnits: {
    v16: 'ChargingScheduleAllowedChargingRateUnit',
    v201: { component: 'SmartChargingCtrlr', variable: 'RateUnit' },
  },
  maxPeriods: { v16: 'ChargingScheduleMaxPeriods', v201: { component: 'SmartChargingCtrlr', variable: 'PeriodsPerSchedule' } },
  maxProfiles: {
    v16: 'MaxChargingProfilesInstalled',
    v201: { component: 'SmartChargingCtrlr', variable: 'Entries', instance: 'ChargingProfiles' },
  },
  phaseSwitching: {
    v16: 'ConnectorSwitch3to1PhaseSupported',
    v201: { component: 'SmartChargingCtrlr', variable: 'ACPhaseSwitchingSupported' },
  },
  pingInterval: { v16: 'WebSocketPingInterval', v201: { component: 'OCPPCommCtrlr', variable: 'WebSocketPingInterval' } },
} as const satisfies Record<string, { v16: string; v201: VariableRef }>;

export type SettingName = keyof typeof SETTINGS;

/** Reads a setting's raw string from whichever store the station's protocol uses. */
export type SettingReader = (name: SettingName) => string | undefined;

/** Typed accessors over a SettingReader, with the fallback used when a value is absent or malformed. */
export class Settings {
  constructor(private readonly read: SettingReader) {}

  int(name: SettingName, fallback: number): number {
    const v = Number.parseInt(this.read(name) ?? '', 10);
    return Number.isFinite(v) ? v : fallback;
  }

  bool(name: SettingName, fallback: boolean): boolean {
    const v = this.read(name)?.trim().toLowerCase();
    return v === 'true' ? true : v === 'false' ? false : fallback;
  }

  list(name: SettingName): string[] {
    return (this.read(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /** 1.6 says `Current`/`Power`, 2.0.1 says `A`/`W`. */
  rateUnits(): RateUnit[] {
    const out: RateUnit[] = [];
    for (const u of this.list('rateUnits')) {
      if ((u === 'Current' || u === 'A') && !out.includes('A')) out.push('A');
      if ((u === 'Power' || u === 'W') && !out.includes('W')) out.push('W');
    }
    return out;
  }
}

const NAMES = Object.keys(SETTINGS) as SettingName[];

/** The neutral setting held by a 1.6 configuration key, if the station's behaviour depends on it. */
export function settingFor16(key: string): SettingName | undefined {
  return NAMES.find((n) => SETTINGS[n].v16 === key);
}

/** The neutral setting held by a 2.0.1 variable, if the station's behaviour depends on it. */
export function settingFor201(component: string, variable: string, instance?: string): SettingName | undefined {
  return NAMES.find((n) => {
    const ref: VariableRef = SETTINGS[n].v201;
    return ref.component === component && ref.variable === variable && ref.instance === instance;
  });
}
