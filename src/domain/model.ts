/**
 * Ampline's one domain model of stations, EVSEs, connectors, id tokens, transactions and meter values.
 * OCPP 1.6 and 2.0.1 adapters translate into these types; everything downstream (API, SCSP link, OCPI,
 * smart charging) reads only these.
 *
 * Topology: a station has EVSEs (id ≥ 1) with connectors (id ≥ 1). EVSE 0 / connector 0 stands for the
 * whole station. OCPP 1.6 has no EVSE: 1.6 connector n is modelled as EVSE n with connector 1, and
 * 1.6 connector 0 as EVSE 0.
 */

/**
 * Timestamps are stored as UTC ISO-8601 with milliseconds, so that string order is time order.
 * Chargers may send offsets or other precisions; every timestamp is normalized on the way in.
 */
export function utc(ts: string): string {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toISOString();
}

/** OCPP 2.0.1 ConnectorStatusEnumType — the normalized status of every connector. */
export type ConnectorStatus = 'Available' | 'Occupied' | 'Reserved' | 'Unavailable' | 'Faulted';

/** OCPP 1.6 ChargePointStatus values, kept verbatim as `ocppStatus` beside the normalized status. */
export type Status16 =
  | 'Available'
  | 'Preparing'
  | 'Charging'
  | 'SuspendedEVSE'
  | 'SuspendedEV'
  | 'Finishing'
  | 'Reserved'
  | 'Unavailable'
  | 'Faulted';

export function normalizeStatus16(s: Status16): ConnectorStatus {
  switch (s) {
    case 'Available':
      return 'Available';
    case 'Reserved':
      return 'Reserved';
    case 'Unavailable':
      return 'Unavailable';
    case 'Faulted':
      return 'Faulted';
    default:
      return 'Occupied';
  }
}

export type PowerType = 'AC_1_PHASE' | 'AC_2_PHASE' | 'AC_2_PHASE_SPLIT' | 'AC_3_PHASE' | 'DC';

export interface ConnectorStatusReport {
  stationId: string;
  evseId: number;
  connectorId: number;
  status: ConnectorStatus;
  /** The status word the charger sent (1.6 ChargePointStatus, 2.0.1 ConnectorStatus). */
  ocppStatus: string;
  errorCode?: string | undefined;
  info?: string | undefined;
  vendorErrorCode?: string | undefined;
  timestamp: string;
}

/** Union of 1.6 AuthorizationStatus and 2.0.1 AuthorizationStatusEnumType. */
export type AuthorizationStatus =
  | 'Accepted'
  | 'Blocked'
  | 'Expired'
  | 'Invalid'
  | 'ConcurrentTx'
  | 'NoCredit'
  | 'NotAllowedTypeEVSE'
  | 'NotAtThisLocation'
  | 'NotAtThisTime'
  | 'Unknown';

export interface IdToken {
  idToken: string;
  /** 2.0.1 IdTokenEnumType; 1.6 idTags are recorded as 'ISO14443' unless known otherwise. */
  type: string;
}

export interface IdTokenInfo {
  status: AuthorizationStatus;
  groupId?: string | undefined;
  expiryDate?: string | undefined;
}

export type TxEventType = 'Started' | 'Updated' | 'Ended';

/** Canonical units: energy Wh, power W, current A, voltage V, SoC %, frequency Hz, temperature Celsius. */
export interface MeterSample {
  timestamp: string;
  measurand: string;
  phase?: string | undefined;
  unit: string;
  context: string;
  location?: string | undefined;
  /** null when the charger sent only signed data. */
  value: number | null;
  signed?: string | undefined;
}

/**
 * One transaction event, whatever the protocol: 2.0.1 TransactionEvent maps 1:1; 1.6 StartTransaction
 * is `Started` (seqNo 0) and StopTransaction `Ended` (seqNo 1).
 */
export interface TxEvent {
  stationId: string;
  protocol: 'ocpp1.6' | 'ocpp2.0.1';
  /** The id the station uses: 2.0.1 string, 1.6 integer as decimal string. */
  ocppTxId: string;
  /** 1.6 only: the integer Ampline allocated. */
  txNumber?: number | undefined;
  eventType: TxEventType;
  triggerReason: string;
  seqNo: number;
  timestamp: string;
  offline: boolean;
  evseId?: number | undefined;
  connectorId?: number | undefined;
  chargingState?: string | undefined;
  stoppedReason?: string | undefined;
  idToken?: IdToken | undefined;
  authStatus?: AuthorizationStatus | undefined;
  groupId?: string | undefined;
  meterStartWh?: number | undefined;
  meterStopWh?: number | undefined;
  remoteStartId?: number | undefined;
  reservationId?: number | undefined;
  samples: MeterSample[];
}

export interface Transaction {
  id: string;
  stationId: string;
  evseId: number;
  connectorId: number | null;
  ocppTxId: string;
  txNumber: number | null;
  protocol: string;
  idToken: string | null;
  idTokenType: string | null;
  authStatus: string | null;
  state: 'active' | 'ended';
  chargingState: string | null;
  startedAt: string;
  stoppedAt: string | null;
  meterStartWh: number | null;
  meterStopWh: number | null;
  energyWh: number | null;
  powerW: number | null;
  soc: number | null;
  stopReason: string | null;
  seqNo: number | null;
  offline: boolean;
}

/** Domain events, published after the state change is committed. */
export type DomainEvent =
  | { type: 'StationConnected'; stationId: string; protocol: string }
  | { type: 'StationDisconnected'; stationId: string }
  | { type: 'StationBooted'; stationId: string; status: string }
  | { type: 'ConnectorStatusChanged'; report: ConnectorStatusReport }
  | { type: 'TransactionEvent'; transactionId: string; event: TxEvent; duplicate: boolean }
  | { type: 'MeterValues'; stationId: string; evseId: number; transactionId: string | null; samples: MeterSample[] }
  /** The CSMS's shadow of a station's installed charging profiles changed (EVSE 0 = station-wide). */
  | { type: 'ChargingProfilesChanged'; stationId: string; evseIds: number[] }
  /** 2.0.1 NotifyChargingLimit: an external system (EMS, SO, …) limits the station or one EVSE (absent / 0 = station-wide). */
  | { type: 'ChargingLimitNotified'; stationId: string; evseId?: number | undefined; source: string };
