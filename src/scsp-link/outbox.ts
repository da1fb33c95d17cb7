/**
 * The durable outbox of events for SCSPs (issue 6 §3; seed 001; architecture "Principles").
 *
 * {@link OutboxWriter.hook} is a DomainEvents in-transaction hook: for a station paired (`pairings`)
 * with an enabled partner that takes OCPP-format events (`scsp_partners.session_data` = `ocpp`; an
 * `ocpi` partner gets OCPI Sessions instead, and nothing here), it writes the rows to forward **in the
 * same database transaction as the state change** — a TransactionEvent (2.0.1 or 1.6 Start/Stop),
 * MeterValues of a transaction, and a 1.6 StatusNotification (charging-state translation for
 * `ocpp2.0.1`, verbatim for `ocpp1.6`). The station's event is committed together with its rows or
 * not at all; `forwarder.ts` delivers them.
 *
 * Rows: `pending` → `delivered` | `dead` | `cancelled` (dead → pending again through the API). Each row
 * has a unique idempotency key, sent as `Idempotency-Key` (the same content always has the same key):
 * - TransactionEvent: `{partner}|{station}|tx|{transactionId}|{seqNo}`
 * - 1.6 Start/StopTransaction: `{partner}|{station}|tx|{transactionId}|StartTransaction|StopTransaction`
 * - MeterValues: `{partner}|{station}|mv|{transactionId}|{reading timestamp}` (a repeat adds `|repeat|{now}`)
 * - 1.6 StatusNotification: `{partner}|{station}|sn|{connectorId}|{timestamp}|{status}`
 *
 * Per transaction, forwarding state is kept in the `counters` table (`scsp.{seq|cs|mv|mvat}:{txId}`,
 * written in the same database transaction, removed when the transaction's end is written): the next
 * `seqNo`, the last charging state forwarded (1.6 translation), and the meter cadence below. Times are
 * whole seconds since 2020-01-01 (the column is a 32-bit integer on PostgreSQL).
 *
 * **Meter cadence** (seed 001: "every 300 seconds or lower"):
 * - Aggregation (`AMPLINE_SCSP_METER_INTERVAL_S`, N, default 60 s; 0 = every reading): at most one
 *   MeterValues row per transaction per N seconds of reading time. A reading ≥ N s after the one that
 *   opened the current window opens a new row. A reading inside the window replaces the reading of the
 *   window's row while that row is still waiting (it is the station's newest pending row and not being
 *   sent) — so under a backlog what goes out is the latest reading of each window; once the row is on
 *   its way, further readings of the window are not forwarded (they stay in Ampline's store).
 * - Repeat (`AMPLINE_SCSP_METER_MAX_GAP_S`, M, default 300 s): a sweep finds active transactions of
 *   paired stations with no reading forwarded for M seconds and forwards the latest stored reading of
 *   the transaction **with its original timestamp** (a measurement is never invented or re-dated; an
 *   SCSP sees how old the data is). When that reading was already forwarded the row's key says
 *   `|repeat|`.
 * - TransactionEvents are never aggregated; their own samples ride along in `meterValue`.
 *   MeterValues of a transaction that has ended are not forwarded (its `Ended` carried the final readings).
 */
import type { Kysely } from 'kysely';
import type { Database, TransactionRow } from '../store/schema.js';
import type { ConnectorStatusReport, DomainEvent, MeterSample, TxEvent } from '../domain/model.js';
import type { TxHook } from '../services/events.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { PAYLOAD_PROTOCOLS, type PayloadProtocol } from './partners.js';
import {
  CHARGING_STATES,
  FORWARDED_MEASURANDS,
  type ScspAction,
  type TxContext,
  checkPayload,
  chargingStateFrom16,
  chargingStateUpdate201,
  eventPath,
  isMeterOnlyUpdate,
  meterDecision,
  meterValues16,
  meterValues201,
  readingsOf,
  startTransaction16,
  statusNotification16,
  stopTransaction16,
  transactionEvent201,
} from './mapping.js';
import type { ForwardingMetrics } from './forwarder.js';

/** Outbox row states. */
export const OUTBOX_STATES = ['pending', 'delivered', 'dead', 'cancelled'] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];

export interface OutboxOptions {
  /** Aggregation interval N in seconds; 0 forwards every reading. */
  meterIntervalS: number;
  /** Longest time without a forwarded reading during a transaction (s). */
  meterMaxGapS: number;
  /** How often the repeat sweep runs (ms); default min(15 s, M/4). */
  sweepIntervalMs?: number;
}

export interface OutboxDeps {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  metrics: ForwardingMetrics;
  options: OutboxOptions;
  /** The outbox row the forwarder is sending for the station right now (never rewritten). */
  sendingRow: (stationId: string) => number | undefined;
  /** Rows were committed for the station. */
  onRows: (stationId: string) => void;
}

/** Where a paired station's events go. */
export interface Target {
  partnerId: string;
  pp: PayloadProtocol;
}

const EPOCH_BASE_MS = Date.UTC(2020, 0, 1);
/** Whole seconds since 2020-01-01 (fits PostgreSQL's 32-bit integer until 2088). */
export const toEpochS = (ms: number): number => Math.floor((ms - EPOCH_BASE_MS) / 1000);

type StateKey = 'seq' | 'cs' | 'mv' | 'mvat';
const STATE_KEYS: readonly StateKey[] = ['seq', 'cs', 'mv', 'mvat'];
type TxForwardState = Partial<Record<StateKey, number>>;
const counterName = (txId: string, k: StateKey): string => `scsp.${k}:${txId}`;

type Db = Kysely<Database>;

async function loadState(db: Db, txId: string): Promise<TxForwardState> {
  const names = STATE_KEYS.map((k) => counterName(txId, k));
  const rows = await db.selectFrom('counters').select(['name', 'value']).where('name', 'in', names).execute();
  const st: TxForwardState = {};
  for (const r of rows) {
    const k = STATE_KEYS[names.indexOf(r.name)];
    if (k) st[k] = Number(r.value);
  }
  return st;
}

async function saveState(db: Db, txId: string, st: TxForwardState): Promise<void> {
  for (const k of STATE_KEYS) {
    const value = st[k];
    if (value === undefined) continue;
    await db
      .insertInto('counters')
      .values({ name: counterName(txId, k), value })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value }))
      .execute();
  }
}

async function clearState(db: Db, txId: string): Promise<void> {
  await db.deleteFrom('counters').where('name', 'in', STATE_KEYS.map((k) => counterName(txId, k))).execute();
}

function isPayloadProtocol(x: unknown): x is PayloadProtocol {
  return typeof x === 'string' && (PAYLOAD_PROTOCOLS as readonly string[]).includes(x);
}

/**
 * The station's pairing with an enabled partner that takes OCPP-format events (`session_data` =
 * `ocpp`; a partner with `ocpi` gets the sessions as OCPI Sessions instead and no outbox rows), and
 * the payload protocol agreed at pairing (`pairings.payload_protocol`; the partner's setting when that
 * is not a known protocol).
 */
export async function targetOf(db: Db, stationId: string): Promise<Target | undefined> {
  const r = await db
    .selectFrom('pairings')
    .innerJoin('scsp_partners', 'scsp_partners.id', 'pairings.partner_id')
    .select([
      'pairings.partner_id as partnerId',
      'pairings.payload_protocol as pairingPp',
      'scsp_partners.payload_protocol as partnerPp',
      'scsp_partners.enabled as enabled',
      'scsp_partners.session_data as sessionData',
    ])
    .where('pairings.station_id', '=', stationId)
    .executeTakeFirst();
  if (!r || Number(r.enabled) !== 1 || r.sessionData === 'ocpi') return undefined;
  const pp = isPayloadProtocol(r.pairingPp) ? r.pairingPp : isPayloadProtocol(r.partnerPp) ? r.partnerPp : undefined;
  return pp ? { partnerId: r.partnerId, pp } : undefined;
}

/** One key component: printable ASCII, with `|` and `%` (and anything else) percent-escaped (header-safe). */
function keyPart(s: string | number): string {
  return String(s).replace(/[^\x21-\x7e]|[|%]/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return '%3F';
    }
  });
}
export const idempotencyKey = (...parts: Array<string | number>): string => parts.map(keyPart).join('|');

function txContext(tx: TransactionRow): TxContext {
  return { ocppTxId: tx.ocpp_tx_id, evseId: tx.evse_id, connectorId: tx.connector_id, remoteStartId: tx.remote_start_id };
}

interface NewRow {
  target: Target;
  stationId: string;
  action: ScspAction;
  payload: unknown;
  key: string;
}

export class OutboxWriter {
  /** Stations with rows written in a database transaction that has not been published yet. */
  private readonly touched = new Set<string>();
  /** Stations already warned about (a pairing whose protocol cannot carry their events). */
  private readonly warned = new Set<string>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly deps: OutboxDeps) {}

  private nowMs(): number {
    return this.deps.clock.now().getTime();
  }

  /** Start the repeat sweep. */
  start(): void {
    const gapMs = this.deps.options.meterMaxGapS * 1000;
    const every = this.deps.options.sweepIntervalMs ?? Math.max(500, Math.min(15_000, Math.floor(gapMs / 4)));
    this.sweepTimer = setInterval(() => void this.sweep(), every);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    await this.sweeping;
  }

  // ── in-transaction hook ──────────────────────────────────────────────────────────────────────

  readonly hook: TxHook = async (trx, event) => {
    switch (event.type) {
      case 'TransactionEvent':
        if (!event.duplicate) await this.onTxEvent(trx, event.transactionId, event.event);
        return;
      case 'MeterValues':
        if (event.transactionId !== null) await this.onMeterValues(trx, event.stationId, event.transactionId, event.samples);
        return;
      case 'ConnectorStatusChanged':
        await this.onStatus(trx, event.report);
        return;
      default:
        return;
    }
  };

  /** After-commit listener: wake the forwarder for stations whose rows are now committed. */
  readonly afterCommit = (event: DomainEvent): void => {
    const stationId =
      event.type === 'TransactionEvent'
        ? event.event.stationId
        : event.type === 'MeterValues'
          ? event.stationId
          : event.type === 'ConnectorStatusChanged'
            ? event.report.stationId
            : undefined;
    if (stationId !== undefined && this.touched.delete(stationId)) this.deps.onRows(stationId);
  };

  private skip(reason: 'invalid' | 'unsupported' | 'after_end' | 'duplicate' | 'aggregated'): void {
    this.deps.metrics.notForwarded.inc({ reason });
  }

  private unsupported(stationId: string, target: Target, stationProtocol: string | null): void {
    this.skip('unsupported');
    if (this.warned.has(stationId)) return;
    this.warned.add(stationId);
    this.deps.log.warn(
      { stationId, partnerId: target.partnerId, payloadProtocol: target.pp, stationProtocol },
      'station events cannot be expressed in the pairing payload protocol (2.0.1 station paired as ocpp1.6): not forwarded',
    );
  }

  /** Validate and insert one row (never a schema-invalid payload). False when nothing was written. */
  private async enqueue(db: Db, row: NewRow): Promise<boolean> {
    const check = checkPayload(row.target.pp, row.action, row.payload);
    if (!check.ok) {
      this.skip('invalid');
      this.deps.log.error(
        { stationId: row.stationId, partnerId: row.target.partnerId, action: row.action, error: check.message },
        'SCSP event not forwarded: the payload fails the OCPP schema',
      );
      return false;
    }
    const now = this.deps.clock.now().toISOString();
    const res = await db
      .insertInto('outbox')
      .values({
        partner_id: row.target.partnerId,
        station_id: row.stationId,
        kind: row.action,
        path: eventPath(row.stationId, row.target.pp, row.action),
        payload: JSON.stringify(row.payload),
        idempotency_key: row.key,
        state: 'pending',
        attempts: 0,
        next_attempt_at: now,
        last_error: null,
        created_at: now,
        delivered_at: null,
      })
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0n) === 0) {
      this.skip('duplicate');
      this.deps.log.debug({ stationId: row.stationId, key: row.key }, 'outbox row with this idempotency key exists already');
      return false;
    }
    this.touched.add(row.stationId);
    this.deps.metrics.enqueued.inc({ partner: row.target.partnerId, kind: row.action });
    return true;
  }

  private async onTxEvent(db: Db, txId: string, ev: TxEvent): Promise<void> {
    const target = await targetOf(db, ev.stationId);
    if (!target) return;
    const tx = await db.selectFrom('transactions').selectAll().where('id', '=', txId).executeTakeFirst();
    if (!tx) return;
    if (target.pp === 'ocpp1.6') return this.txEvent16(db, target, tx, ev);

    const st = await loadState(db, tx.id);
    // Without forwarding state (paired during the transaction) the stored state already includes this event's.
    const lastCs = st.cs !== undefined ? CHARGING_STATES[st.cs] : (tx.charging_state ?? undefined);
    if (ev.protocol === 'ocpp2.0.1' && isMeterOnlyUpdate(ev, lastCs)) {
      if (tx.state !== 'active') return this.skip('after_end');
      return this.meter(db, target, tx, ev.samples);
    }
    // The transaction's end was forwarded already (its state is gone): a late event is not sent after it.
    if (st.seq === undefined && tx.state === 'ended' && ev.eventType !== 'Ended') return this.skip('after_end');
    const seqNo = st.seq ?? 0;
    const payload = transactionEvent201(ev, txContext(tx), seqNo);
    const key = idempotencyKey(target.partnerId, tx.station_id, 'tx', tx.ocpp_tx_id, seqNo);
    if (!(await this.enqueue(db, { target, stationId: tx.station_id, action: 'TransactionEvent', payload, key }))) return;
    if (ev.eventType === 'Ended') return clearState(db, tx.id);
    const next: TxForwardState = { seq: seqNo + 1 };
    const cs = payload.transactionInfo.chargingState;
    if (cs !== undefined) next.cs = CHARGING_STATES.indexOf(cs);
    if (payload.meterValue) next.mvat = toEpochS(this.nowMs());
    await saveState(db, tx.id, next);
  }

  private async txEvent16(db: Db, target: Target, tx: TransactionRow, ev: TxEvent): Promise<void> {
    if (ev.protocol !== 'ocpp1.6' || tx.tx_number === null) return this.unsupported(tx.station_id, target, tx.protocol);
    if (ev.eventType === 'Started') {
      const payload = startTransaction16(ev, { evseId: tx.evse_id, idTag: tx.id_token, meterStartWh: tx.meter_start_wh });
      const key = idempotencyKey(target.partnerId, tx.station_id, 'tx', tx.tx_number, 'StartTransaction');
      if (await this.enqueue(db, { target, stationId: tx.station_id, action: 'StartTransaction', payload, key })) {
        await saveState(db, tx.id, { mvat: toEpochS(this.nowMs()) });
      }
    } else if (ev.eventType === 'Ended') {
      const payload = stopTransaction16(ev, { txNumber: tx.tx_number, meterStopWh: tx.meter_stop_wh });
      const key = idempotencyKey(target.partnerId, tx.station_id, 'tx', tx.tx_number, 'StopTransaction');
      if (await this.enqueue(db, { target, stationId: tx.station_id, action: 'StopTransaction', payload, key })) await clearState(db, tx.id);
    }
  }

  private async onMeterValues(db: Db, stationId: string, txId: string, samples: MeterSample[]): Promise<void> {
    const target = await targetOf(db, stationId);
    if (!target) return;
    const tx = await db.selectFrom('transactions').selectAll().where('id', '=', txId).executeTakeFirst();
    if (!tx) return;
    if (tx.state !== 'active') return this.skip('after_end');
    if (target.pp === 'ocpp1.6' && tx.protocol !== 'ocpp1.6') return this.unsupported(stationId, target, tx.protocol);
    await this.meter(db, target, tx, samples);
  }

  private meterPayload(target: Target, tx: TransactionRow, samples: readonly MeterSample[]): unknown {
    return target.pp === 'ocpp2.0.1' ? meterValues201(tx.evse_id, samples) : meterValues16(tx.evse_id, tx.tx_number ?? undefined, samples);
  }

  /** The meter cadence: open a row, replace the reading of the window's waiting row, or leave the reading out. */
  private async meter(db: Db, target: Target, tx: TransactionRow, samples: readonly MeterSample[]): Promise<void> {
    const readings = readingsOf(samples);
    if (readings.length === 0) return;
    const st = await loadState(db, tx.id);
    const prefix = `${idempotencyKey(target.partnerId, tx.station_id, 'mv', tx.ocpp_tx_id)}|`;
    let windowStart = st.mv;
    let forwarded = false;
    for (const r of readings) {
      const readingS = toEpochS(Date.parse(r.timestamp));
      const decision = meterDecision({ readingS, windowStartS: windowStart, intervalS: this.deps.options.meterIntervalS, canCoalesce: true });
      const key = prefix + keyPart(r.timestamp);
      if (decision === 'open') {
        const payload = this.meterPayload(target, tx, r.samples);
        if (await this.enqueue(db, { target, stationId: tx.station_id, action: 'MeterValues', payload, key })) {
          windowStart = readingS;
          forwarded = true;
        }
        continue;
      }
      if (decision === 'coalesce' && (await this.coalesce(db, target, tx, prefix, key, r.samples))) {
        forwarded = true;
        continue;
      }
      this.skip('aggregated');
    }
    if (forwarded) await saveState(db, tx.id, { ...(windowStart !== undefined ? { mv: windowStart } : {}), mvat: toEpochS(this.nowMs()) });
  }

  /** Replace the reading of the window's row if it is the station's newest pending row and not being sent. */
  private async coalesce(db: Db, target: Target, tx: TransactionRow, prefix: string, key: string, samples: readonly MeterSample[]): Promise<boolean> {
    const head = await db
      .selectFrom('outbox')
      .select(['id', 'kind', 'idempotency_key'])
      .where('state', '=', 'pending')
      .where('station_id', '=', tx.station_id)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!head || head.kind !== 'MeterValues' || !head.idempotency_key.startsWith(prefix) || head.idempotency_key === key) return false;
    if (this.deps.sendingRow(tx.station_id) === head.id) return false;
    const taken = await db.selectFrom('outbox').select('id').where('idempotency_key', '=', key).executeTakeFirst();
    if (taken) return false;
    const payload = this.meterPayload(target, tx, samples);
    const check = checkPayload(target.pp, 'MeterValues', payload);
    if (!check.ok) {
      this.skip('invalid');
      this.deps.log.error({ stationId: tx.station_id, error: check.message }, 'SCSP meter values not forwarded: the payload fails the OCPP schema');
      return false;
    }
    const res = await db
      .updateTable('outbox')
      .set({ payload: JSON.stringify(payload), idempotency_key: key })
      .where('id', '=', head.id)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return false;
    this.skip('aggregated'); // the reading it replaced is not forwarded
    this.touched.add(tx.station_id);
    return true;
  }

  private async onStatus(db: Db, r: ConnectorStatusReport): Promise<void> {
    const target = await targetOf(db, r.stationId);
    if (!target) return;
    const station = await db.selectFrom('stations').select('protocol').where('id', '=', r.stationId).executeTakeFirst();
    const protocol = station?.protocol ?? null;
    if (target.pp === 'ocpp1.6') {
      if (protocol !== 'ocpp1.6') return this.unsupported(r.stationId, target, protocol);
      const key = idempotencyKey(target.partnerId, r.stationId, 'sn', r.evseId, r.timestamp, r.ocppStatus);
      await this.enqueue(db, { target, stationId: r.stationId, action: 'StatusNotification', payload: statusNotification16(r), key });
      return;
    }
    // ocpp2.0.1: 2.0.1 stations report charging states in their TransactionEvents; 1.6 stations are translated.
    if (protocol !== 'ocpp1.6' || r.evseId <= 0) return;
    const chargingState = chargingStateFrom16(r.ocppStatus);
    if (!chargingState) return;
    const tx = await db
      .selectFrom('transactions')
      .selectAll()
      .where('station_id', '=', r.stationId)
      .where('evse_id', '=', r.evseId)
      .where('state', '=', 'active')
      .orderBy('started_at', 'desc')
      .executeTakeFirst();
    if (!tx) return;
    const st = await loadState(db, tx.id);
    const last = st.cs !== undefined ? CHARGING_STATES[st.cs] : (tx.charging_state ?? undefined);
    if (last === chargingState) return;
    const seqNo = st.seq ?? 0;
    const payload = chargingStateUpdate201({ timestamp: r.timestamp, tx: txContext(tx), seqNo, chargingState });
    const key = idempotencyKey(target.partnerId, tx.station_id, 'tx', tx.ocpp_tx_id, seqNo);
    if (await this.enqueue(db, { target, stationId: tx.station_id, action: 'TransactionEvent', payload, key })) {
      await saveState(db, tx.id, { seq: seqNo + 1, cs: CHARGING_STATES.indexOf(chargingState) });
    }
  }

  // ── repeat sweep ─────────────────────────────────────────────────────────────────────────────

  /** Forward the latest reading of every active paired transaction that has had none forwarded for M seconds. */
  sweep(): Promise<void> {
    if (this.sweeping) return this.sweeping;
    this.sweeping = this.sweepOnce()
      .catch((err: unknown) => this.deps.log.warn({ err }, 'SCSP meter repeat sweep failed'))
      .finally(() => {
        this.sweeping = undefined;
      });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const { db } = this.deps;
    const active = await db
      .selectFrom('pairings')
      .innerJoin('scsp_partners', 'scsp_partners.id', 'pairings.partner_id')
      .innerJoin('transactions', 'transactions.station_id', 'pairings.station_id')
      .select(['transactions.id as txId'])
      .where('scsp_partners.enabled', '=', 1)
      .where('scsp_partners.session_data', '!=', 'ocpi')
      .where('transactions.state', '=', 'active')
      .execute();
    const nowS = toEpochS(this.nowMs());
    const gap = this.deps.options.meterMaxGapS;
    for (let i = 0; i < active.length; i += 200) {
      const chunk = active.slice(i, i + 200);
      const rows = await db
        .selectFrom('counters')
        .select(['name', 'value'])
        .where('name', 'in', chunk.map((a) => counterName(a.txId, 'mvat')))
        .execute();
      const at = new Map(rows.map((r) => [r.name, Number(r.value)]));
      for (const a of chunk) {
        const last = at.get(counterName(a.txId, 'mvat'));
        if (last === undefined || nowS - last >= gap) await this.repeat(a.txId);
      }
    }
  }

  /** One transaction: start its clock, or forward its latest stored reading (original timestamp). */
  private async repeat(txId: string): Promise<void> {
    const station = await this.deps.db.transaction().execute(async (trx) => {
      const tx = await trx.selectFrom('transactions').selectAll().where('id', '=', txId).where('state', '=', 'active').executeTakeFirst();
      if (!tx) return undefined;
      const target = await targetOf(trx, tx.station_id);
      if (!target || (target.pp === 'ocpp1.6' && tx.protocol !== 'ocpp1.6')) return undefined;
      const st = await loadState(trx, tx.id);
      const nowMs = this.nowMs();
      const nowS = toEpochS(nowMs);
      // A transaction not seen before (paired meanwhile, or a Started without readings): its clock starts now.
      if (st.mvat === undefined) {
        await saveState(trx, tx.id, { mvat: nowS });
        return undefined;
      }
      if (nowS - st.mvat < this.deps.options.meterMaxGapS) return undefined;
      const latest = await latestReading(trx, tx.id);
      if (!latest) {
        await saveState(trx, tx.id, { mvat: nowS });
        return undefined;
      }
      const prefix = `${idempotencyKey(target.partnerId, tx.station_id, 'mv', tx.ocpp_tx_id)}|`;
      let key = prefix + keyPart(latest.timestamp);
      const again = (await trx.selectFrom('outbox').select('id').where('idempotency_key', '=', key).executeTakeFirst()) !== undefined;
      if (again) key = `${key}|repeat|${keyPart(new Date(nowMs).toISOString())}`;
      const written = await this.enqueue(trx, { target, stationId: tx.station_id, action: 'MeterValues', payload: this.meterPayload(target, tx, latest.samples), key });
      const readingS = toEpochS(Date.parse(latest.timestamp));
      await saveState(trx, tx.id, { mvat: nowS, ...(st.mv === undefined || readingS > st.mv ? { mv: readingS } : {}) });
      if (!written) return undefined;
      this.deps.metrics.repeats.inc({ kind: again ? 'repeat' : 'deferred' });
      return tx.station_id;
    });
    if (station !== undefined) {
      this.touched.delete(station);
      this.deps.onRows(station);
    }
  }
}

/** The newest reading of a transaction among the forwarded measurands (from Ampline's meter-value store). */
async function latestReading(db: Db, txId: string): Promise<{ timestamp: string; samples: MeterSample[] } | undefined> {
  const rows = await db
    .selectFrom('meter_values')
    .select(['timestamp', 'measurand', 'phase', 'unit', 'context', 'location', 'value'])
    .where('transaction_id', '=', txId)
    .where('measurand', 'in', [...FORWARDED_MEASURANDS])
    .where('value', 'is not', null)
    .orderBy('timestamp', 'desc')
    .limit(64)
    .execute();
  const first = rows[0];
  if (!first) return undefined;
  const samples: MeterSample[] = rows
    .filter((r) => r.timestamp === first.timestamp)
    .map((r) => ({
      timestamp: r.timestamp,
      measurand: r.measurand,
      phase: r.phase ?? undefined,
      unit: r.unit,
      context: r.context,
      location: r.location ?? undefined,
      value: r.value === null ? null : Number(r.value),
    }));
  return { timestamp: first.timestamp, samples };
}
