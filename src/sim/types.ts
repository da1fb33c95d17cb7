/** Public configuration types of the simulator and the internal state they turn into. */
import type { Clock } from '../util/clock.js';
import type { OcppProtocol } from '../ocpp/protocol.js';
import type { EvSpec, EvseElectrical } from './meter.js';
import { DEFAULT_DC_VOLTAGE_V, DEFAULT_VOLTAGE_V, type Amps, type EpochMs, type Volts, type WattHours, type Watts } from './units.js';

export type IdTokenType = 'Central' | 'eMAID' | 'ISO14443' | 'ISO15693' | 'KeyCode' | 'Local' | 'MacAddress' | 'NoAuthorization';

export type PowerType = 'AC_1_PHASE' | 'AC_3_PHASE' | 'DC';

export interface ConnectorConfig {
  id: number;
  powerType: PowerType;
  /** Per-phase current limit (AC) or DC output current limit. */
  maxCurrentA: Amps;
  /** Line-to-neutral voltage for AC (default 230 V); DC link voltage for DC (default 400 V). */
  voltageV?: Volts;
  /** DC: maximum output power. AC: derived from current × voltage × phases unless given. */
  maxPowerW?: Watts;
  /** 2.0.1 ConnectorEnumType reported in the device model (default cType2 for AC, cCCS2 for DC). */
  connectorType?: string;
}

export interface EvseConfig {
  id: number;
  connectors: ConnectorConfig[];
  /** Initial value of the energy register (Wh); default 0. */
  meterStartWh?: WattHours;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type SimLogger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

/** What a scripted responder returns: nothing (default behaviour), a result, a CALLERROR or silence. */
export type ResponderResult =
  | undefined
  | 'noreply'
  | { result: unknown; delayMs?: number }
  | { error: { code: string; description?: string; details?: Record<string, unknown> } };

/** Overrides the simulator's answer to a CSMS-initiated message (tests script misbehaviour with it). */
export type Responder = (action: string, payload: unknown) => ResponderResult | Promise<ResponderResult>;

export interface ReconnectOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
  /** Relative jitter: each delay is multiplied by a random factor in [1 − jitter, 1 + jitter]. */
  jitter?: number;
}

export interface SimChargePointOptions {
  /** CSMS endpoint, e.g. ws://127.0.0.1:8180/ocpp — the identity is appended as the last path segment. */
  url: string;
  identity: string;
  protocol: OcppProtocol;
  /** Default: one EVSE with one AC_3_PHASE 16 A connector. */
  evses?: EvseConfig[];
  vendor?: string;
  model?: string;
  serialNumber?: string;
  firmwareVersion?: string;
  clock?: Clock;
  /** How much faster than wall time `clock` runs (for timers measured in clock time); default 1. */
  clockSpeed?: number;
  /** HTTP Basic password (security profile 1); the username is the identity. */
  password?: string;
  /** Reconnect with jittered exponential backoff after a drop or a failed connect; default on. */
  reconnect?: boolean | ReconnectOptions;
  /** Default sampling interval of transaction meter values in clock seconds (default 60; 0 = off). */
  meterIntervalS?: number;
  /** Outbound CALL timeout (default 30 000 ms). */
  callTimeoutMs?: number;
  logger?: SimLogger;
  /** Scripted answers to CSMS calls; see `setResponder`. */
  responder?: Responder;
  /**
   * Initial configuration: 1.6 keys (`MeterValueSampleInterval`) or 2.0.1 variables
   * (`SampledDataCtrlr.TxUpdatedInterval`, `OCPPCommCtrlr.MessageAttempts[TransactionEvent]`).
   * May set read-only values (e.g. `ChargingScheduleAllowedChargingRateUnit: 'Current'`).
   */
  config?: Record<string, string>;
  /** Boot storm mode: connect, boot, send the StatusNotifications, heartbeat — no meter timer. */
  bootOnly?: boolean;
  /** Send a new BootNotification after every reconnect (default false: only after (re)boots). */
  bootOnReconnect?: boolean;
  /** Delay between the steps of firmware/diagnostics/log/reboot sequences (wall ms, default 200). */
  operationDelayMs?: number;
  /** Validate CSMS requests against the OCPP schemas and answer CALLERRORs like a real charger (default true). */
  validateRequests?: boolean;
  /** Treat a CSMS answer that violates its schema as a failed call (default false: log a warning). */
  strictResponses?: boolean;
  /** Source of randomness (jitter, ids); default Math.random. */
  random?: () => number;
}

/** An EV as the session API takes it (all optional; defaults depend on the connector). */
export interface EvInput {
  batteryWh?: WattHours;
  socPercent?: number;
  maxPowerW?: Watts;
  phases?: number;
  targetSocPercent?: number;
}

export type NeutralStopReason =
  | 'DeAuthorized'
  | 'EmergencyStop'
  | 'EnergyLimitReached'
  | 'EVDisconnected'
  | 'HardReset'
  | 'ImmediateReset'
  | 'Local'
  | 'Other'
  | 'PowerLoss'
  | 'Reboot'
  | 'Remote'
  | 'SoftReset'
  | 'SOCLimitReached'
  | 'StoppedByEV'
  | 'TimeLimitReached'
  | 'UnlockCommand';

/** 1.6 ChargePointStatus; 2.0.1 connector status and charging state are derived from it. */
export type ConnectorStatus =
  | 'Available'
  | 'Preparing'
  | 'Charging'
  | 'SuspendedEV'
  | 'SuspendedEVSE'
  | 'Finishing'
  | 'Reserved'
  | 'Unavailable'
  | 'Faulted';

export type ChargingCondition = 'Charging' | 'SuspendedEV' | 'SuspendedEVSE';

export interface ConnectorState {
  id: number;
  /** 1.6 connectorId: connectors numbered across EVSEs from 1. */
  globalId: number;
  elec: EvseElectrical;
  type: string;
  /** Last status sent to the CSMS, as the version spells it (undefined: never / must be resent). */
  reported?: string;
}

export interface TxState {
  /** Own UUID: the 2.0.1 transactionId; local key in 1.6. */
  id: string;
  /** 1.6 transactionId from StartTransaction.conf. */
  csmsId?: number;
  connectorId: number;
  idTag: string;
  /** 2.0.1 IdTokenEnumType of idTag (default ISO14443). */
  idTokenType?: IdTokenType;
  startedAt: EpochMs;
  meterStartWh: number;
  /** Next 2.0.1 TransactionEvent seqNo. */
  seqNo: number;
  remoteStartId?: number;
  reservationId?: number;
  condition: ChargingCondition;
  /** The id tag was rejected and StopTxOnInvalidId is false: keep the transaction, deliver no energy. */
  deauthorized: boolean;
  ended: boolean;
}

export interface PluggedEv {
  connectorId: number;
  ev: EvSpec;
  soc: number;
  /** The station knows the SoC (DC, or an AC EV whose SoC was given): report the SoC measurand. */
  reportSoc: boolean;
}

export interface Reservation {
  id: number;
  idTag: string;
  parentIdTag?: string;
  expiresAt: EpochMs;
  timer?: ReturnType<typeof setTimeout>;
}

export interface EvseState {
  id: number;
  connectors: ConnectorState[];
  /** Energy register (Wh): monotonic for the station's life, kept across reconnects and reboots. */
  energyWh: number;
  /** Energy and SoC are integrated up to this instant. */
  lastUpdate: EpochMs;
  plugged?: PluggedEv;
  tx?: TxState;
  /** A transaction ended while the cable is still in (1.6 Finishing). */
  finishing: boolean;
  operative: boolean;
  /** ChangeAvailability(Inoperative) answered Scheduled: applies when the transaction ends. */
  inoperativeScheduled: boolean;
  reservation?: Reservation;
  /** Current offered limit in the control unit (A per phase for AC, W for DC) and drawn power. */
  offered: number;
  powerW: Watts;
  /** AC phases carrying current now (EV phases, possibly reduced by a limit's numberPhases). */
  phasesUsed: number;
}

function electrical(c: ConnectorConfig): EvseElectrical {
  const dc = c.powerType === 'DC';
  const phases = c.powerType === 'AC_3_PHASE' ? 3 : 1;
  const voltageV = c.voltageV ?? (dc ? DEFAULT_DC_VOLTAGE_V : DEFAULT_VOLTAGE_V);
  const maxPowerW = c.maxPowerW ?? (dc ? c.maxCurrentA * voltageV : c.maxCurrentA * voltageV * phases);
  return { dc, phases, voltageV, maxCurrentA: c.maxCurrentA, maxPowerW };
}

export const DEFAULT_EVSES: readonly EvseConfig[] = [{ id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 16 }] }];

export function buildEvses(configs: readonly EvseConfig[], now: EpochMs): EvseState[] {
  let globalId = 0;
  return [...configs]
    .sort((a, b) => a.id - b.id)
    .map((cfg) => ({
      id: cfg.id,
      connectors: [...cfg.connectors]
        .sort((a, b) => a.id - b.id)
        .map((c) => ({
          id: c.id,
          globalId: ++globalId,
          elec: electrical(c),
          type: c.connectorType ?? (c.powerType === 'DC' ? 'cCCS2' : 'cType2'),
        })),
      energyWh: cfg.meterStartWh ?? 0,
      lastUpdate: now,
      finishing: false,
      operative: true,
      inoperativeScheduled: false,
      offered: 0,
      powerW: 0,
      phasesUsed: 0,
    }));
}

/** The EV model for a session, completing what the caller left out from the connector's capabilities. */
export function evFor(input: EvInput | undefined, elec: EvseElectrical): EvSpec {
  const ev: EvSpec = {
    batteryWh: input?.batteryWh ?? (elec.dc ? 77_000 : 60_000),
    socPercent: input?.socPercent ?? 20,
    maxPowerW: input?.maxPowerW ?? (elec.dc ? 150_000 : 11_000),
    phases: input?.phases ?? 3,
  };
  if (input?.targetSocPercent !== undefined) ev.targetSocPercent = input.targetSocPercent;
  return ev;
}

/** Status of one connector, derived from the EVSE state (1.6 §4.9 ChargePointStatus semantics). */
export function connectorStatus(e: EvseState, c: ConnectorState, stationOperative: boolean): ConnectorStatus {
  const inUse = e.plugged?.connectorId === c.id;
  if (e.tx && !e.tx.ended && e.tx.connectorId === c.id) return e.tx.condition;
  if (!stationOperative || !e.operative) return 'Unavailable';
  if (inUse) return e.finishing ? 'Finishing' : 'Preparing';
  if (e.plugged || e.tx) return 'Unavailable'; // the EVSE's other connectors cannot be used meanwhile
  if (e.reservation) return 'Reserved';
  return 'Available';
}

/** 2.0.1 ConnectorStatusEnumType for a 1.6-style status. */
export function connectorStatus201(s: ConnectorStatus): 'Available' | 'Occupied' | 'Reserved' | 'Unavailable' | 'Faulted' {
  switch (s) {
    case 'Available':
    case 'Reserved':
    case 'Unavailable':
    case 'Faulted':
      return s;
    default:
      return 'Occupied';
  }
}
