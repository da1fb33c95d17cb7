/**
 * Event ingest, pure half (seed 001 "Data exchange using OCPP formatted messages"; protocols.md §1.5):
 * which `…/events/{payload-protocol}/{Action}` endpoints exist, which OCA schema checks each body, how a
 * body becomes version-neutral {@link SessionEvent}s, and the idempotency key of a body. No I/O: the
 * routes (routes-partner.ts) validate and the session store (sessions.ts) applies.
 *
 * | path payload protocol / action | schema | meaning |
 * |---|---|---|
 * | `ocpp2.0.1/TransactionEvent` | 2.0.1 TransactionEventRequest | Started / Updated / Ended of a transaction, with its `meterValue` |
 * | `ocpp2.0.1/MeterValues` | 2.0.1 MeterValuesRequest | readings of an EVSE (`evseId`), applied to its running session |
 * | `ocpp1.6/TransactionEvent` | **2.0.1** TransactionEventRequest | (interpretation) 1.6 has no TransactionEvent; a CPO forwarding a 1.6 station in the seed's 2.0.1 shape (transactionId = the 1.6 integer as text) may post it under `ocpp1.6` |
 * | `ocpp1.6/MeterValues` | 1.6 MeterValues.req | readings of connector n (= EVSE n), by `transactionId` when given |
 * | `ocpp1.6/StartTransaction` | 1.6 StartTransaction.req | (interpretation) a start; 1.6 carries no transactionId: the session is correlated on its connector by the next MeterValues or the StopTransaction |
 * | `ocpp1.6/StopTransaction` | 1.6 StopTransaction.req | (interpretation) the end, with `meterStop` and `transactionData` |
 * | `ocpp1.6/StatusNotification` | 1.6 StatusNotification.req | (interpretation) connector status; during a session Charging / SuspendedEV / SuspendedEVSE / Finishing (EVConnected) / Available (Idle) become the charging state |
 *
 * The 1.6 rows follow what Ampline's CPO side forwards to an `ocpp1.6` partner (src/scsp-link/mapping.ts),
 * written here from the protocol, not imported. Validation is strict: unknown properties are errors, so
 * the seed's own examples (no `seqNo`, `MeterValue` instead of `meterValue`) are 400 — protocols.md §1.5
 * "Traps".
 *
 * Idempotency (retries are answered 200 and change nothing): the `Idempotency-Key` header when present;
 * otherwise `(transactionId, seqNo)` for a TransactionEvent (an OCPP retransmission keeps its seqNo);
 * otherwise the SHA-256 of protocol, action and the canonical JSON body. Keys are per CPO.
 */
import { createHash } from 'node:crypto';
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import type { OcppProtocol } from '../ocpp/protocol.js';
import { type MeterValue16, type MeterValue201, samplesFrom16, samplesFrom201, summarize } from '../domain/meter.js';
import type { PayloadProtocol } from './cpos.js';

/** The latest energy register (Wh), power (W) and SoC (%) of a body, with their instant. */
export interface MeterReading {
  timestamp: string;
  energyWh?: number;
  powerW?: number;
  soc?: number;
}

export type TxEventType = 'Started' | 'Updated' | 'Ended';

/** One thing that happened, whatever the payload protocol. */
export type SessionEvent =
  | {
      kind: 'transaction';
      eventType: TxEventType;
      timestamp: string;
      /** Absent only for a 1.6 StartTransaction (see the header). */
      transactionId?: string;
      evseId?: number;
      chargingState?: string;
      stoppedReason?: string;
      meter?: MeterReading;
      /** 1.6 StartTransaction `meterStart` (Wh). */
      meterStartWh?: number;
      /** 1.6 StopTransaction `meterStop` (Wh). */
      meterStopWh?: number;
    }
  | { kind: 'meter'; evseId: number; transactionId?: string; meter: MeterReading }
  | { kind: 'status'; evseId: number; status: string; chargingState?: string; timestamp: string };

export interface IngestAction {
  /** The OCA schema that checks the body. */
  schema: { protocol: OcppProtocol; action: string };
  /** The body (already schema-valid) as session events; `receivedAt` stands in for a missing timestamp. */
  events(body: unknown, receivedAt: string): SessionEvent[];
  /** The idempotency key when no header is given and the body has a natural one. */
  naturalKey?(body: unknown): string | undefined;
}

export function utc(ts: string): string {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toISOString();
}

function reading(samples: ReturnType<typeof samplesFrom201>): MeterReading | undefined {
  const s = summarize(samples);
  if (!s || (s.energyWh === undefined && s.powerW === undefined && s.soc === undefined)) return undefined;
  const out: MeterReading = { timestamp: s.timestamp };
  if (s.energyWh !== undefined) out.energyWh = s.energyWh;
  if (s.powerW !== undefined) out.powerW = s.powerW;
  if (s.soc !== undefined) out.soc = s.soc;
  return out;
}

// ── 2.0.1 ────────────────────────────────────────────────────────────────────────────────────

const transactionEvent201: IngestAction = {
  schema: { protocol: 'ocpp2.0.1', action: 'TransactionEvent' },
  events(body) {
    const b = body as OCPP20.TransactionEventRequest;
    const ev: SessionEvent = {
      kind: 'transaction',
      eventType: b.eventType,
      timestamp: utc(b.timestamp),
      transactionId: b.transactionInfo.transactionId,
    };
    if (b.evse) ev.evseId = b.evse.id;
    if (b.transactionInfo.chargingState !== undefined) ev.chargingState = b.transactionInfo.chargingState;
    if (b.transactionInfo.stoppedReason !== undefined) ev.stoppedReason = b.transactionInfo.stoppedReason;
    else if (b.eventType === 'Ended') ev.stoppedReason = 'Local'; // 2.0.1: absent stoppedReason means Local
    const meter = b.meterValue ? reading(samplesFrom201(b.meterValue as MeterValue201[])) : undefined;
    if (meter) ev.meter = meter;
    return [ev];
  },
  naturalKey(body) {
    const b = body as OCPP20.TransactionEventRequest;
    return `TransactionEvent:${b.transactionInfo.transactionId}:${b.seqNo}`;
  },
};

const meterValues201: IngestAction = {
  schema: { protocol: 'ocpp2.0.1', action: 'MeterValues' },
  events(body) {
    const b = body as OCPP20.MeterValuesRequest;
    const meter = reading(samplesFrom201(b.meterValue as MeterValue201[]));
    return meter ? [{ kind: 'meter', evseId: b.evseId, meter }] : [];
  },
};

// ── 1.6 ──────────────────────────────────────────────────────────────────────────────────────

/** 1.6 ChargePointStatus during a transaction → 2.0.1 chargingState (same vocabulary as the CPO side). */
export const CHARGING_STATE_FROM_16: Readonly<Partial<Record<string, string>>> = {
  Charging: 'Charging',
  SuspendedEV: 'SuspendedEV',
  SuspendedEVSE: 'SuspendedEVSE',
  Finishing: 'EVConnected',
  Available: 'Idle',
};

const startTransaction16: IngestAction = {
  schema: { protocol: 'ocpp1.6', action: 'StartTransaction' },
  events(body) {
    const b = body as OCPP16.StartTransactionRequest;
    return [{ kind: 'transaction', eventType: 'Started', timestamp: utc(b.timestamp), evseId: b.connectorId, meterStartWh: b.meterStart }];
  },
};

const stopTransaction16: IngestAction = {
  schema: { protocol: 'ocpp1.6', action: 'StopTransaction' },
  events(body) {
    const b = body as OCPP16.StopTransactionRequest;
    const ev: SessionEvent = {
      kind: 'transaction',
      eventType: 'Ended',
      timestamp: utc(b.timestamp),
      transactionId: String(b.transactionId),
      meterStopWh: b.meterStop,
      stoppedReason: b.reason ?? 'Local', // 1.6: absent reason means Local
    };
    const meter = b.transactionData ? reading(samplesFrom16(b.transactionData as MeterValue16[])) : undefined;
    if (meter) ev.meter = meter;
    return [ev];
  },
  naturalKey(body) {
    return `StopTransaction:${(body as OCPP16.StopTransactionRequest).transactionId}`;
  },
};

const meterValues16: IngestAction = {
  schema: { protocol: 'ocpp1.6', action: 'MeterValues' },
  events(body) {
    const b = body as OCPP16.MeterValuesRequest;
    const meter = reading(samplesFrom16(b.meterValue as MeterValue16[]));
    if (!meter) return [];
    const ev: SessionEvent = { kind: 'meter', evseId: b.connectorId, meter };
    if (b.transactionId !== undefined) ev.transactionId = String(b.transactionId);
    return [ev];
  },
};

const statusNotification16: IngestAction = {
  schema: { protocol: 'ocpp1.6', action: 'StatusNotification' },
  events(body, receivedAt) {
    const b = body as OCPP16.StatusNotificationRequest;
    const ev: SessionEvent = { kind: 'status', evseId: b.connectorId, status: b.status, timestamp: b.timestamp ? utc(b.timestamp) : receivedAt };
    const cs = CHARGING_STATE_FROM_16[b.status];
    if (cs !== undefined) ev.chargingState = cs;
    return [ev];
  },
};

/** Every ingest endpoint, per payload protocol (the routes derive from this one table). */
export const INGEST_ACTIONS = {
  'ocpp2.0.1': { TransactionEvent: transactionEvent201, MeterValues: meterValues201 },
  'ocpp1.6': {
    TransactionEvent: transactionEvent201,
    MeterValues: meterValues16,
    StartTransaction: startTransaction16,
    StopTransaction: stopTransaction16,
    StatusNotification: statusNotification16,
  },
} as const satisfies Record<PayloadProtocol, Record<string, IngestAction>>;

export function ingestAction(pp: PayloadProtocol, action: string): IngestAction | undefined {
  const table: Record<string, IngestAction> = INGEST_ACTIONS[pp];
  return Object.prototype.hasOwnProperty.call(table, action) ? table[action] : undefined;
}

/** JSON with object keys sorted (so two serialisations of one body hash alike). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function bodyHash(pp: PayloadProtocol, action: string, body: unknown): string {
  return createHash('sha256').update(`${pp}\u0000${action}\u0000${canonicalJson(body)}`, 'utf8').digest('hex');
}

/** The idempotency key of a request (see the header). */
export function idempotencyKey(a: { header: string | undefined; pp: PayloadProtocol; action: string; uid: string; body: unknown; hash: string }): { key: string; fromHeader: boolean } {
  if (a.header !== undefined && a.header !== '') return { key: `h:${a.header}`, fromHeader: true };
  const natural = ingestAction(a.pp, a.action)?.naturalKey?.(a.body);
  if (natural !== undefined) return { key: `n:${a.uid}:${natural}`, fromHeader: false };
  return { key: `c:${a.uid}:${a.hash}`, fromHeader: false };
}
