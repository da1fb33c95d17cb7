/**
 * Domain → OCPP payloads for an SCSP (seed 001 "Data exchange using OCPP formatted messages";
 * protocols.md §1.5). Pure: no I/O, no clock, no logger. `src/scsp-link/outbox.ts` decides *when* a
 * payload is written; this file decides *what* it looks like.
 *
 * Payload protocol `ocpp2.0.1` (the seed's first release):
 * - 2.0.1 stations: each TxEvent → TransactionEventRequest (timestamp, eventType, triggerReason, seqNo,
 *   transactionInfo {transactionId, chargingState?, stoppedReason?}, evse {id, connectorId?},
 *   offline (only when true), meterValue (forwarded measurands, when the event had samples)). The
 *   station's `idToken` is not forwarded (the seed asks for none; data minimisation).
 * - 1.6 stations, translated into 2.0.1-shaped events: StartTransaction → `Started`,
 *   StopTransaction → `Ended` (reason → {@link STOPPED_REASON_16_TO_201} / {@link STOP_TRIGGER_16_TO_201}),
 *   StatusNotification during a transaction → `Updated` / `ChargingStateChanged`
 *   ({@link CHARGING_STATE_FROM_16}); transactionId = Ampline's 1.6 integer as a string.
 * - MeterValues → MeterValuesRequest {evseId, meterValue} (numbers, canonical units).
 * - `seqNo` is numbered by Ampline per transaction over the events it forwards (0, 1, 2, … without
 *   gaps): 1.6 has none, and meter-only 2.0.1 updates go to the MeterValues endpoint instead.
 *
 * Payload protocol `ocpp1.6` (interpretation: the seed defines only the 2.0.1 TransactionEvent and
 * MeterValues; 1.6 has no TransactionEvent): a 1.6 station's own messages are forwarded as 1.6
 * requests — StartTransaction, StopTransaction, StatusNotification, MeterValues (values as strings) —
 * each to `…/events/ocpp1.6/{Action}`. 1.6 StartTransaction.req carries no transactionId: the SCSP
 * learns it from the connector's next MeterValues/StopTransaction (correlate by connectorId).
 * 2.0.1 stations cannot be expressed in 1.6 (1.6 needs integer transaction ids) and are not forwarded
 * to an `ocpp1.6` pairing.
 *
 * Measurands forwarded: {@link FORWARDED_MEASURANDS} (what the seed's best practices name); the others
 * (currents, voltages, temperatures, reactive energy, …) stay in Ampline's store. Signed-only samples
 * (no numeric value) are left out.
 *
 * Every payload built here is checked by {@link checkPayload} against the OCA schema of its version
 * before it is written to the outbox.
 */
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import type { ConnectorStatusReport, MeterSample, TxEvent } from '../domain/model.js';
import { validatePayload } from '../ocpp/schemas.js';
import type { PayloadProtocol } from './partners.js';

export type TransactionEventRequest201 = OCPP20.TransactionEventRequest;
export type MeterValuesRequest201 = OCPP20.MeterValuesRequest;
export type StartTransactionRequest16 = OCPP16.StartTransactionRequest;
export type StopTransactionRequest16 = OCPP16.StopTransactionRequest;
export type MeterValuesRequest16 = OCPP16.MeterValuesRequest;
export type StatusNotificationRequest16 = OCPP16.StatusNotificationRequest;

export type TriggerReason201 = TransactionEventRequest201['triggerReason'];
export type ChargingState201 = NonNullable<TransactionEventRequest201['transactionInfo']['chargingState']>;
export type Reason201 = NonNullable<TransactionEventRequest201['transactionInfo']['stoppedReason']>;
export type Reason16 = NonNullable<StopTransactionRequest16['reason']>;
type MeterValue201 = MeterValuesRequest201['meterValue'][number];
type SampledValue201 = MeterValue201['sampledValue'][number];
type MeterValue16 = MeterValuesRequest16['meterValue'][number];
type SampledValue16 = MeterValue16['sampledValue'][number];

/** The SCSP actions Ampline posts, per payload protocol. */
export type ScspAction201 = 'TransactionEvent' | 'MeterValues';
export type ScspAction16 = 'StartTransaction' | 'StopTransaction' | 'StatusNotification' | 'MeterValues';
export type ScspAction = ScspAction201 | ScspAction16;

// ── paths ────────────────────────────────────────────────────────────────────────────────────

/**
 * `/v1/scsp/chargingstations/{uid}/events/{payload-protocol}/{Action}` below the partner's base URL.
 * TransactionEvent keeps the trailing slash the seed documents; the other actions have none.
 */
export function eventPath(uid: string, pp: PayloadProtocol, action: ScspAction): string {
  const base = `/v1/scsp/chargingstations/${encodeURIComponent(uid)}/events/${pp}/${action}`;
  return action === 'TransactionEvent' ? `${base}/` : base;
}

// ── meter values ─────────────────────────────────────────────────────────────────────────────

/** Seed 001 "Best Practices": the measurands an SCSP needs. Everything else is not forwarded. */
export const FORWARDED_MEASURANDS = [
  'Energy.Active.Import.Register',
  'Energy.Active.Export.Register',
  'Power.Active.Import',
  'Power.Active.Export',
  'Energy.Active.Import.Interval',
  'Energy.Active.Export.Interval',
  'SoC',
] as const;
const FORWARDED = new Set<string>(FORWARDED_MEASURANDS);

/** Samples worth forwarding: a forwarded measurand with a numeric value. */
export function forwardedSamples(samples: readonly MeterSample[]): MeterSample[] {
  return samples.filter((s) => FORWARDED.has(s.measurand) && s.value !== null && Number.isFinite(s.value));
}

/** One reading: the forwarded samples of one instant. */
export interface Reading {
  timestamp: string;
  samples: MeterSample[];
}

/** Forwarded samples grouped by timestamp, oldest first (timestamps are normalized UTC, so string order is time order). */
export function readingsOf(samples: readonly MeterSample[]): Reading[] {
  const by = new Map<string, MeterSample[]>();
  for (const s of forwardedSamples(samples)) {
    const list = by.get(s.timestamp);
    if (list) list.push(s);
    else by.set(s.timestamp, [s]);
  }
  return [...by.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([timestamp, list]) => ({ timestamp, samples: list }));
}

function sampledValue201(s: MeterSample): SampledValue201 {
  const out: SampledValue201 = { value: s.value as number };
  out.measurand = s.measurand as SampledValue201['measurand'];
  if (s.phase) out.phase = s.phase as SampledValue201['phase'];
  if (s.context) out.context = s.context as SampledValue201['context'];
  if (s.location) out.location = s.location as SampledValue201['location'];
  out.unitOfMeasure = { unit: s.unit };
  return out;
}

function sampledValue16(s: MeterSample): SampledValue16 {
  const out: SampledValue16 = { value: String(s.value) };
  if (s.context) out.context = s.context as SampledValue16['context'];
  out.measurand = s.measurand as SampledValue16['measurand'];
  if (s.phase) out.phase = s.phase as SampledValue16['phase'];
  if (s.location) out.location = s.location as SampledValue16['location'];
  out.unit = s.unit as SampledValue16['unit'];
  return out;
}

/** 2.0.1 `meterValue` of the forwarded samples (values are numbers); undefined when none are left. */
export function meterValue201(samples: readonly MeterSample[]): MeterValue201[] | undefined {
  const rs = readingsOf(samples);
  return rs.length === 0 ? undefined : rs.map((r) => ({ timestamp: r.timestamp, sampledValue: r.samples.map(sampledValue201) }));
}

/** 1.6 `meterValue` / `transactionData` of the forwarded samples (values are strings); undefined when none are left. */
export function meterValue16(samples: readonly MeterSample[]): MeterValue16[] | undefined {
  const rs = readingsOf(samples);
  return rs.length === 0 ? undefined : rs.map((r) => ({ timestamp: r.timestamp, sampledValue: r.samples.map(sampledValue16) }));
}

export function meterValues201(evseId: number, samples: readonly MeterSample[]): MeterValuesRequest201 | undefined {
  const meterValue = meterValue201(samples);
  return meterValue ? { evseId, meterValue } : undefined;
}

export function meterValues16(connectorId: number, transactionId: number | undefined, samples: readonly MeterSample[]): MeterValuesRequest16 | undefined {
  const meterValue = meterValue16(samples);
  if (!meterValue) return undefined;
  return transactionId === undefined ? { connectorId, meterValue } : { connectorId, transactionId, meterValue };
}

// ── 1.6 → 2.0.1 vocabulary ───────────────────────────────────────────────────────────────────

/**
 * 1.6 StopTransaction `reason` → 2.0.1 `stoppedReason` (ReasonEnumType). Hard and soft resets both
 * stop the transaction at once (a 2.0.1 OnIdle reset would not), hence ImmediateReset. 2.0.1 has no
 * unlock reason (an unlock with a transaction running is refused there): the CSMS's UnlockConnector
 * is a remote request, hence Remote (the trigger says UnlockCommand).
 */
export const STOPPED_REASON_16_TO_201: Readonly<Record<Reason16, Reason201>> = {
  DeAuthorized: 'DeAuthorized',
  EmergencyStop: 'EmergencyStop',
  EVDisconnected: 'EVDisconnected',
  HardReset: 'ImmediateReset',
  SoftReset: 'ImmediateReset',
  Local: 'Local',
  Other: 'Other',
  PowerLoss: 'PowerLoss',
  Reboot: 'Reboot',
  Remote: 'Remote',
  UnlockCommand: 'Remote',
};

/** 1.6 StopTransaction `reason` → 2.0.1 `triggerReason` of the `Ended` event. */
export const STOP_TRIGGER_16_TO_201: Readonly<Record<Reason16, TriggerReason201>> = {
  DeAuthorized: 'Deauthorized',
  EmergencyStop: 'AbnormalCondition',
  EVDisconnected: 'EVCommunicationLost',
  HardReset: 'ResetCommand',
  SoftReset: 'ResetCommand',
  Local: 'StopAuthorized',
  Other: 'AbnormalCondition',
  PowerLoss: 'AbnormalCondition',
  Reboot: 'AbnormalCondition',
  Remote: 'RemoteStop',
  UnlockCommand: 'UnlockCommand',
};

function reason16(r: string | undefined): Reason16 {
  // 1.6: an absent reason means Local; an unknown word (not schema-valid 1.6) is Other.
  if (r === undefined) return 'Local';
  return Object.prototype.hasOwnProperty.call(STOPPED_REASON_16_TO_201, r) ? (r as Reason16) : 'Other';
}

/**
 * 1.6 ChargePointStatus during an active transaction → 2.0.1 chargingState. Finishing (transaction
 * stopping, cable still in) is EVConnected; Available while a transaction is still open means the EV
 * is gone: Idle. Preparing (EV not yet there or not yet ready), Reserved, Unavailable and Faulted say
 * nothing about energy transfer and are not translated.
 */
export const CHARGING_STATE_FROM_16: Readonly<Partial<Record<string, ChargingState201>>> = {
  Charging: 'Charging',
  SuspendedEV: 'SuspendedEV',
  SuspendedEVSE: 'SuspendedEVSE',
  Finishing: 'EVConnected',
  Available: 'Idle',
};

export function chargingStateFrom16(status: string): ChargingState201 | undefined {
  return Object.prototype.hasOwnProperty.call(CHARGING_STATE_FROM_16, status) ? CHARGING_STATE_FROM_16[status] : undefined;
}

export const CHARGING_STATES: readonly ChargingState201[] = ['Charging', 'EVConnected', 'SuspendedEV', 'SuspendedEVSE', 'Idle'];

// ── TransactionEvent ─────────────────────────────────────────────────────────────────────────

/** What is known of the transaction besides the event (its stored row). */
export interface TxContext {
  /** The id the station uses (2.0.1 string; 1.6 integer as a string). */
  ocppTxId: string;
  /** EVSE of the transaction (0 when not known yet). */
  evseId: number;
  connectorId: number | null;
  /** A remote start Ampline correlated with the transaction. */
  remoteStartId: number | null;
}

/**
 * A 2.0.1 update that reports only meter values (periodic or clock-aligned samples, no state change):
 * forwarded through the MeterValues endpoint under the meter cadence instead of as a TransactionEvent.
 * Many stations repeat the current `chargingState` in every event: a state equal to the one last
 * forwarded (`lastChargingState`) is no change.
 */
export function isMeterOnlyUpdate(ev: TxEvent, lastChargingState?: string): boolean {
  return (
    ev.eventType === 'Updated' &&
    (ev.triggerReason === 'MeterValuePeriodic' || ev.triggerReason === 'MeterValueClock') &&
    (ev.chargingState === undefined || ev.chargingState === lastChargingState) &&
    ev.stoppedReason === undefined &&
    ev.idToken === undefined
  );
}

function evseOf(ev: TxEvent, tx: TxContext): TransactionEventRequest201['evse'] | undefined {
  const id = ev.evseId ?? tx.evseId;
  if (!(id > 0)) return undefined;
  // 1.6 connector n is EVSE n with connector 1.
  const connectorId = ev.protocol === 'ocpp1.6' ? 1 : (ev.connectorId ?? tx.connectorId ?? undefined);
  return connectorId !== undefined && connectorId > 0 ? { id, connectorId } : { id };
}

/**
 * A domain TxEvent (either station version) as a 2.0.1 TransactionEventRequest with Ampline's `seqNo`.
 * 1.6 events are translated: Started (triggerReason RemoteStart when a remote start is known, else
 * Authorized), Ended (stoppedReason and triggerReason from the 1.6 reason).
 */
export function transactionEvent201(ev: TxEvent, tx: TxContext, seqNo: number): TransactionEventRequest201 {
  let triggerReason = ev.triggerReason as TriggerReason201;
  let stoppedReason: Reason201 | undefined;
  if (ev.protocol === 'ocpp1.6') {
    if (ev.eventType === 'Started') triggerReason = tx.remoteStartId !== null || ev.remoteStartId !== undefined ? 'RemoteStart' : 'Authorized';
    if (ev.eventType === 'Ended') {
      const r = reason16(ev.stoppedReason);
      triggerReason = STOP_TRIGGER_16_TO_201[r];
      stoppedReason = STOPPED_REASON_16_TO_201[r];
    }
  } else if (ev.eventType === 'Ended') {
    stoppedReason = (ev.stoppedReason ?? 'Local') as Reason201;
  } else if (ev.stoppedReason !== undefined) {
    stoppedReason = ev.stoppedReason as Reason201;
  }
  const transactionInfo: TransactionEventRequest201['transactionInfo'] = { transactionId: tx.ocppTxId };
  if (ev.chargingState !== undefined) transactionInfo.chargingState = ev.chargingState as ChargingState201;
  if (stoppedReason !== undefined) transactionInfo.stoppedReason = stoppedReason;
  const out: TransactionEventRequest201 = { eventType: ev.eventType, timestamp: ev.timestamp, triggerReason, seqNo, transactionInfo };
  const evse = evseOf(ev, tx);
  if (evse) out.evse = evse;
  if (ev.offline) out.offline = true;
  const meterValue = meterValue201(ev.samples);
  if (meterValue) out.meterValue = meterValue;
  return out;
}

/** A 1.6 station's charging-state change (from its StatusNotification) as a 2.0.1 `Updated` event. */
export function chargingStateUpdate201(a: {
  timestamp: string;
  tx: TxContext;
  seqNo: number;
  chargingState: ChargingState201;
}): TransactionEventRequest201 {
  const out: TransactionEventRequest201 = {
    eventType: 'Updated',
    timestamp: a.timestamp,
    triggerReason: 'ChargingStateChanged',
    seqNo: a.seqNo,
    transactionInfo: { transactionId: a.tx.ocppTxId, chargingState: a.chargingState },
  };
  if (a.tx.evseId > 0) out.evse = { id: a.tx.evseId, connectorId: 1 };
  return out;
}

// ── 1.6 payloads (payload protocol ocpp1.6) ──────────────────────────────────────────────────

/** A 1.6 transaction's start as the StartTransaction request the station sent. */
export function startTransaction16(ev: TxEvent, a: { evseId: number; idTag: string | null; meterStartWh: number | null }): StartTransactionRequest16 {
  const out: StartTransactionRequest16 = {
    connectorId: ev.evseId ?? a.evseId,
    idTag: ev.idToken?.idToken ?? a.idTag ?? '',
    meterStart: Math.round(ev.meterStartWh ?? a.meterStartWh ?? 0),
    timestamp: ev.timestamp,
  };
  if (ev.reservationId !== undefined) out.reservationId = ev.reservationId;
  return out;
}

/** A 1.6 transaction's end as the StopTransaction request (transactionData = the forwarded samples). */
export function stopTransaction16(ev: TxEvent, a: { txNumber: number; meterStopWh: number | null }): StopTransactionRequest16 {
  const out: StopTransactionRequest16 = {
    transactionId: a.txNumber,
    meterStop: Math.round(ev.meterStopWh ?? a.meterStopWh ?? 0),
    timestamp: ev.timestamp,
    reason: reason16(ev.stoppedReason),
  };
  if (ev.idToken) out.idTag = ev.idToken.idToken;
  const data = meterValue16(ev.samples);
  if (data) out.transactionData = data;
  return out;
}

/** A 1.6 station's StatusNotification as it sent it (1.6 connector n ≙ EVSE n; EVSE 0 ≙ connector 0). */
export function statusNotification16(r: ConnectorStatusReport): StatusNotificationRequest16 {
  const out: StatusNotificationRequest16 = {
    connectorId: r.evseId,
    errorCode: (r.errorCode ?? 'NoError') as StatusNotificationRequest16['errorCode'],
    status: r.ocppStatus as StatusNotificationRequest16['status'],
    timestamp: r.timestamp,
  };
  if (r.info) out.info = r.info;
  if (r.vendorErrorCode) out.vendorErrorCode = r.vendorErrorCode;
  return out;
}

// ── schema check ─────────────────────────────────────────────────────────────────────────────

export type CheckResult = { ok: true } | { ok: false; message: string };

/** The payload against the OCA schema of `action` in `pp` (what a strict SCSP will check). */
export function checkPayload(pp: PayloadProtocol, action: ScspAction, payload: unknown): CheckResult {
  const v = validatePayload(pp, action, 'req', payload);
  return v.ok ? { ok: true } : { ok: false, message: v.message };
}

// ── meter cadence (pure decisions; the outbox applies them) ──────────────────────────────────

/**
 * What to do with a reading of a transaction, given the reading that opened the current aggregation
 * window (`windowStartS`, the reading time of the last MeterValues row written for it):
 * - `open`: the interval has passed (or nothing was forwarded yet, or aggregation is off): a new row;
 * - `coalesce`: within the interval and that row is still waiting to be sent: replace its reading
 *   with this newer one (so what goes out is the latest reading of the interval);
 * - `drop`: within the interval and the row is already on its way (or the reading is older than
 *   what was forwarded): not forwarded — it stays in Ampline's meter-value store.
 */
export type MeterDecision = 'open' | 'coalesce' | 'drop';

export function meterDecision(a: { readingS: number; windowStartS: number | undefined; intervalS: number; canCoalesce: boolean }): MeterDecision {
  if (a.windowStartS === undefined || a.intervalS <= 0) return 'open';
  if (a.readingS - a.windowStartS >= a.intervalS) return 'open';
  if (a.readingS <= a.windowStartS) return 'drop';
  return a.canCoalesce ? 'coalesce' : 'drop';
}
