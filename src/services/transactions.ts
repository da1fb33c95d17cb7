/**
 * Transactions and meter values for both protocol versions through one path: every Start/Stop (1.6) and
 * TransactionEvent (2.0.1) becomes a TxEvent applied by `applyTxEvent`, in one database transaction
 * together with its meter samples and whatever in-transaction hooks (the SCSP outbox) record.
 *
 * MeterValues and TransactionEvents are the hottest write path (BENCHMARKS.md §2): their statements
 * are hand-written SQL run without the query builder (src/store/raw-sql.ts), one multi-row INSERT per
 * message for the samples, inside the shared group-commit transaction; on the embedded database the
 * transaction rows this service wrote are remembered (see {@link TxRowCache}) instead of read back for
 * every message.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction as KTrx } from 'kysely';
import type { Database, TransactionRow } from '../store/schema.js';
import { type IdTokenInfo, type MeterSample, type TxEvent, utc } from '../domain/model.js';
import { type MeterSummary, summarize } from '../domain/meter.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { DomainEvents } from './events.js';
import type { AuthService } from './auth.js';
import type { GroupCommit, Work } from '../store/group-commit.js';
import { RawSql, valuesPlaceholders } from '../store/raw-sql.js';

export interface TransactionServiceDeps {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  events: DomainEvents;
  auth: AuthService;
  /** Transaction events and meter values are written through group commit. */
  writer: GroupCommit;
}

export interface Start16 {
  stationId: string;
  connectorId: number;
  idTag: string;
  meterStartWh: number;
  timestamp: string;
  reservationId?: number | undefined;
}

export interface Stop16 {
  stationId: string;
  transactionId: number;
  idTag?: string | undefined;
  meterStopWh: number;
  timestamp: string;
  reason?: string | undefined;
  samples: MeterSample[];
}

export interface ApplyResult {
  /**
   * The transaction after the event. Every column this service writes is current; `charging_state`
   * (1.6: kept in step by StatusNotification), `charging_needs` and `updated_at` may be as this
   * service last wrote them.
   */
  tx: TransactionRow;
  /** True when this seqNo was already recorded (a retransmission): nothing changed. */
  duplicate: boolean;
  event: TxEvent;
}

/** The transaction's energy figures from the latest reading (`s`), given its start register. */
function energyFields(meterStartWh: number | null, s: MeterSummary): Partial<TransactionRow> {
  const out: Partial<TransactionRow> = { last_meter_at: s.timestamp };
  if (s.energyWh !== undefined) {
    const start = meterStartWh ?? s.energyWh;
    if (meterStartWh === null) out.meter_start_wh = start;
    out.energy_wh = Math.max(0, s.energyWh - start);
  }
  if (s.powerW !== undefined) out.power_w = s.powerW;
  if (s.soc !== undefined) out.soc = s.soc;
  return out;
}

// ── Hand-written statements of the hot path (plain SQL for SQLite and PostgreSQL) ─────────────────

const TX_COLUMNS = [
  'id',
  'station_id',
  'evse_id',
  'connector_id',
  'ocpp_tx_id',
  'tx_number',
  'protocol',
  'id_token',
  'id_token_type',
  'auth_status',
  'group_id',
  'state',
  'charging_state',
  'started_at',
  'stopped_at',
  'meter_start_wh',
  'meter_stop_wh',
  'energy_wh',
  'power_w',
  'soc',
  'last_meter_at',
  'stop_reason',
  'trigger_reason',
  'seq_no',
  'offline',
  'remote_start_id',
  'reservation_id',
  'charging_needs',
  'updated_at',
] as const satisfies ReadonlyArray<keyof TransactionRow>;

const MV_COLUMNS = 'station_id, evse_id, connector_id, transaction_id, timestamp, measurand, phase, unit, context, location, value, signed';
const MV_WIDTH = 12;
/** Samples per INSERT statement (12 parameters each: far below SQLite's and PostgreSQL's limits). */
const MV_CHUNK = 64;

const SQL = {
  txByOcppId: 'select * from transactions where station_id = ? and ocpp_tx_id = ?',
  txByNumber: 'select * from transactions where station_id = ? and tx_number = ?',
  insertTx: `insert into transactions (${TX_COLUMNS.join(', ')}) values ${valuesPlaceholders(1, TX_COLUMNS.length)}`,
  insertTxEvent:
    'insert into transaction_events (transaction_id, station_id, seq_no, event_type, trigger_reason, timestamp, offline, charging_state, stopped_reason, id_token, received_at) ' +
    `values ${valuesPlaceholders(1, 11)} on conflict (transaction_id, seq_no) do nothing`,
  // The EVSE's latest readings; a reading without energy (power, SoC) keeps the previous figure, and a
  // late (offline-buffered) reading never overwrites a newer one.
  upsertEvse:
    `insert into evses (station_id, evse_id, created_at, last_meter_at, last_energy_wh, last_power_w, last_soc) values ${valuesPlaceholders(1, 7)} ` +
    'on conflict (station_id, evse_id) do update set last_meter_at = excluded.last_meter_at, ' +
    'last_energy_wh = coalesce(excluded.last_energy_wh, evses.last_energy_wh), last_power_w = coalesce(excluded.last_power_w, evses.last_power_w), ' +
    'last_soc = coalesce(excluded.last_soc, evses.last_soc) where evses.last_meter_at is null or evses.last_meter_at <= excluded.last_meter_at',
} as const;

const insertSamplesSql: string[] = [];
function insertSamplesStatement(rows: number): string {
  return (insertSamplesSql[rows] ??= `insert into meter_values (${MV_COLUMNS}) values ${valuesPlaceholders(rows, MV_WIDTH)}`);
}

const updateTxSql = new Map<string, string>();
/** `update transactions set a = ?, b = ? where id = ?` for the given columns (a few distinct sets). */
function updateTxStatement(columns: readonly string[]): string {
  const key = columns.join(',');
  let text = updateTxSql.get(key);
  if (text === undefined) updateTxSql.set(key, (text = `update transactions set ${columns.map((c) => `${c} = ?`).join(', ')} where id = ?`));
  return text;
}

type Trx = KTrx<Database>;

interface CachedTx {
  row: TransactionRow;
  /** The unit's database transaction that wrote `row`, until it is known committed (then null). */
  trx: Trx | null;
}

/**
 * The transaction rows this service wrote, per station, by OCPP transaction id (`o:…`) and 1.6 number
 * (`n:…`): a MeterValues or TransactionEvent then needs no SELECT. Embedded database only (one process
 * owns the file; with PostgreSQL another node may write the same rows).
 *
 * A row written inside a unit is tagged with that unit's database transaction: units later in the same
 * transaction see it; once the unit's commit is confirmed the tag is cleared; a row still tagged with
 * another (finished) transaction may have been rolled back or committed and not yet confirmed, so it is
 * dropped and read again. Only columns that no other writer changes are read from a remembered row
 * (StationService writes `charging_state`, and `charging_needs` is written outside units).
 */
class TxRowCache {
  private readonly byStation = new Map<string, Map<string, CachedTx>>();
  private static readonly PER_STATION = 8;

  get(trx: Trx, stationId: string, key: string): TransactionRow | undefined {
    const m = this.byStation.get(stationId);
    const e = m?.get(key);
    if (!e) return undefined;
    if (e.trx === null || e.trx === trx) return e.row;
    m!.delete(key);
    return undefined;
  }

  /** Remember `row` as written in `trx`; returns the entry to confirm after commit. */
  set(trx: Trx, row: TransactionRow): CachedTx {
    let m = this.byStation.get(row.station_id);
    if (!m) this.byStation.set(row.station_id, (m = new Map()));
    const e: CachedTx = { row, trx };
    const keys = row.tx_number !== null ? [`o:${row.ocpp_tx_id}`, `n:${row.tx_number}`] : [`o:${row.ocpp_tx_id}`];
    for (const k of keys) {
      m.delete(k); // re-inserted last: the oldest entries go first when the station has too many
      m.set(k, e);
    }
    while (m.size > TxRowCache.PER_STATION) m.delete(m.keys().next().value!);
    return e;
  }

  /** The unit that wrote these entries committed. */
  confirm(entries: readonly CachedTx[]): void {
    for (const e of entries) e.trx = null;
  }

  forgetStation(stationId: string): void {
    this.byStation.delete(stationId);
  }
}

export class TransactionService {
  private readonly sql: RawSql;
  /** Transaction rows by station (embedded database only; see TxRowCache). */
  private readonly rows: TxRowCache | undefined;

  constructor(private readonly deps: TransactionServiceDeps) {
    this.sql = RawSql.of(deps.db);
    if (this.sql.embedded) {
      const rows = (this.rows = new TxRowCache());
      // Whatever happened while the station was away (another process, a restore) is read afresh.
      deps.events.subscribe((e) => {
        if (e.type === 'StationConnected' || e.type === 'StationDisconnected') rows.forgetStation(e.stationId);
      });
    }
  }

  private nowIso(): string {
    return this.deps.clock.now().toISOString();
  }

  /**
   * One unit of work through group commit; resolves after its transaction committed. Rows the unit
   * remembered are confirmed then (a unit whose transaction rolled back is run again by GroupCommit,
   * and what it remembered the first time is dropped by its transaction tag).
   */
  private async write<T>(work: (trx: Trx, remembered: CachedTx[]) => Promise<T>): Promise<T> {
    let remembered: CachedTx[] = [];
    const unit: Work<T> = (trx) => {
      remembered = [];
      return work(trx, remembered);
    };
    const result = await this.deps.writer.run(unit);
    this.rows?.confirm(remembered);
    return result;
  }

  /** 1.6 StartTransaction: authorize, allocate the integer id, record the start. Retries are idempotent. */
  async start16(input: Start16): Promise<{ transactionId: number; idTagInfo: IdTokenInfo }> {
    const req = { ...input, timestamp: utc(input.timestamp) };
    const { db, auth } = this.deps;
    const info = await auth.authorize({ idToken: req.idTag, type: 'ISO14443' });
    // A charger that did not get our answer repeats the same StartTransaction: give it the same id and
    // the same status (checked before the concurrency rule, which would find this very transaction).
    const again = await db
      .selectFrom('transactions')
      .select(['tx_number', 'auth_status'])
      .where('station_id', '=', req.stationId)
      .where('evse_id', '=', req.connectorId)
      .where('started_at', '=', req.timestamp)
      .where('id_token', '=', req.idTag)
      .where('meter_start_wh', '=', req.meterStartWh)
      .executeTakeFirst();
    if (again?.tx_number != null) {
      const status = (again.auth_status as IdTokenInfo['status'] | null) ?? info.status;
      return { transactionId: again.tx_number, idTagInfo: { ...info, status } };
    }
    if (info.status === 'Accepted' && auth.policy.concurrentTx === 'reject' && (await auth.hasActiveTransaction(req.idTag, undefined))) {
      info.status = 'ConcurrentTx';
    }

    // Rejected tags get a real id too; the charger's StopTransactionOnInvalidId decides what happens.
    const result = await this.write(async (trx, remembered) => {
      const row = await trx
        .updateTable('counters')
        .set((eb) => ({ value: eb('value', '+', 1) }))
        .where('name', '=', 'tx_number')
        .returning('value')
        .executeTakeFirstOrThrow();
      const txNumber = row.value;
      const applied = await this.applyIn(trx, remembered, {
        stationId: req.stationId,
        protocol: 'ocpp1.6',
        ocppTxId: String(txNumber),
        txNumber,
        eventType: 'Started',
        triggerReason: 'Authorized',
        seqNo: 0,
        timestamp: req.timestamp,
        offline: false,
        evseId: req.connectorId,
        connectorId: 1,
        chargingState: 'Charging',
        idToken: { idToken: req.idTag, type: 'ISO14443' },
        authStatus: info.status,
        groupId: info.groupId,
        meterStartWh: req.meterStartWh,
        reservationId: req.reservationId,
        samples: [
          {
            timestamp: req.timestamp,
            measurand: 'Energy.Active.Import.Register',
            unit: 'Wh',
            context: 'Transaction.Begin',
            location: 'Outlet',
            value: req.meterStartWh,
          },
        ],
      });
      return { txNumber, applied };
    });
    this.published(result.applied);
    return { transactionId: result.txNumber, idTagInfo: info };
  }

  /**
   * 1.6 StopTransaction. An unknown transactionId (or one of another station) closes nothing and is
   * still answered (chargers retry otherwise); idTag is optional (OCPP.Core #47).
   */
  async stop16(input: Stop16): Promise<{ idTagInfo?: IdTokenInfo; known: boolean }> {
    const req = { ...input, timestamp: utc(input.timestamp) };
    const tx = await this.deps.db
      .selectFrom('transactions')
      .selectAll()
      .where('station_id', '=', req.stationId)
      .where('tx_number', '=', req.transactionId)
      .executeTakeFirst();
    const idTagInfo = req.idTag ? await this.deps.auth.authorize({ idToken: req.idTag, type: 'ISO14443' }) : undefined;
    if (!tx) {
      this.deps.log.warn({ stationId: req.stationId, transactionId: req.transactionId }, 'StopTransaction for unknown transaction');
      if (req.samples.length > 0) await this.meterValues(req.stationId, 0, null, req.samples);
      return { idTagInfo, known: false };
    }
    const end: MeterSample = {
      timestamp: req.timestamp,
      measurand: 'Energy.Active.Import.Register',
      unit: 'Wh',
      context: 'Transaction.End',
      location: 'Outlet',
      value: req.meterStopWh,
    };
    await this.applyTxEvent({
      stationId: req.stationId,
      protocol: 'ocpp1.6',
      ocppTxId: tx.ocpp_tx_id,
      txNumber: req.transactionId,
      eventType: 'Ended',
      triggerReason: req.reason === 'Remote' ? 'RemoteStop' : req.reason === 'EVDisconnected' ? 'EVCommunicationLost' : 'StopAuthorized',
      seqNo: 1,
      timestamp: req.timestamp,
      offline: false,
      evseId: tx.evse_id,
      chargingState: 'Idle',
      stoppedReason: req.reason ?? 'Local',
      idToken: req.idTag ? { idToken: req.idTag, type: 'ISO14443' } : undefined,
      meterStopWh: req.meterStopWh,
      samples: [...req.samples, end],
    });
    return { idTagInfo, known: true };
  }

  /** Apply one transaction event (any version) in its own database transaction. */
  async applyTxEvent(ev: TxEvent): Promise<ApplyResult> {
    const res = await this.write((trx, remembered) => this.applyIn(trx, remembered, ev));
    this.published(res);
    return res;
  }

  private published(res: ApplyResult): void {
    const ev = res.event;
    this.deps.events.publish({ type: 'TransactionEvent', transactionId: res.tx.id, event: ev, duplicate: res.duplicate });
    if (!res.duplicate && ev.samples.length > 0) {
      this.deps.events.publish({ type: 'MeterValues', stationId: ev.stationId, evseId: res.tx.evse_id, transactionId: res.tx.id, samples: ev.samples });
    }
  }

  /** The transaction by the station's id for it, remembered or read in the unit's transaction. */
  private async txByOcppId(trx: Trx, stationId: string, ocppTxId: string): Promise<TransactionRow | undefined> {
    const known = this.rows?.get(trx, stationId, `o:${ocppTxId}`);
    if (known) return known;
    return this.sql.first<TransactionRow>(trx, SQL.txByOcppId, [stationId, ocppTxId]);
  }

  /** The 1.6 transaction by its number, remembered or read in the unit's transaction. */
  private async txByNumber(trx: Trx, stationId: string, txNumber: number): Promise<TransactionRow | undefined> {
    const known = this.rows?.get(trx, stationId, `n:${txNumber}`);
    if (known) return known;
    return this.sql.first<TransactionRow>(trx, SQL.txByNumber, [stationId, txNumber]);
  }

  /** Writes `update` to the transaction row; returns the row after it (remembered for later units). */
  private async updateTx(trx: Trx, remembered: CachedTx[], tx: TransactionRow, update: Partial<TransactionRow>): Promise<TransactionRow> {
    const columns = Object.keys(update) as Array<keyof TransactionRow>;
    const params = columns.map((c) => update[c] ?? null);
    params.push(tx.id);
    await this.sql.run(trx, updateTxStatement(columns), params);
    const merged = { ...tx, ...update } as TransactionRow;
    if (this.rows) remembered.push(this.rows.set(trx, merged));
    return merged;
  }

  private async applyIn(trx: Trx, remembered: CachedTx[], input: TxEvent): Promise<ApplyResult> {
    const ev = { ...input, timestamp: utc(input.timestamp) };
    const now = this.nowIso();
    let tx = await this.txByOcppId(trx, ev.stationId, ev.ocppTxId);

    if (!tx) {
      // First event we see of this transaction (normally Started; offline replays may start later).
      const row: TransactionRow = {
        id: randomUUID(),
        station_id: ev.stationId,
        evse_id: ev.evseId ?? 0,
        connector_id: ev.connectorId ?? null,
        ocpp_tx_id: ev.ocppTxId,
        tx_number: ev.txNumber ?? null,
        protocol: ev.protocol,
        id_token: ev.idToken?.idToken ?? null,
        id_token_type: ev.idToken?.type ?? null,
        auth_status: ev.authStatus ?? null,
        group_id: ev.groupId ?? null,
        state: ev.eventType === 'Ended' ? 'ended' : 'active',
        charging_state: ev.chargingState ?? null,
        started_at: ev.timestamp,
        stopped_at: ev.eventType === 'Ended' ? ev.timestamp : null,
        meter_start_wh: ev.meterStartWh ?? null,
        meter_stop_wh: ev.meterStopWh ?? null,
        energy_wh: null,
        power_w: null,
        soc: null,
        last_meter_at: null,
        stop_reason: ev.eventType === 'Ended' ? (ev.stoppedReason ?? 'Local') : null,
        trigger_reason: ev.triggerReason,
        seq_no: ev.seqNo,
        offline: ev.offline ? 1 : 0,
        remote_start_id: ev.remoteStartId ?? null,
        reservation_id: ev.reservationId ?? null,
        charging_needs: null,
        updated_at: now,
      };
      await this.sql.run(trx, SQL.insertTx, TX_COLUMNS.map((c) => row[c]));
      tx = row;
    }

    const inserted = await this.sql.run(trx, SQL.insertTxEvent, [
      tx.id,
      ev.stationId,
      ev.seqNo,
      ev.eventType,
      ev.triggerReason,
      ev.timestamp,
      ev.offline ? 1 : 0,
      ev.chargingState ?? null,
      ev.stoppedReason ?? null,
      ev.idToken?.idToken ?? null,
      now,
    ]);
    if (inserted === 0) {
      // The same seqNo again: a retransmission. Answer as before, change nothing.
      return { tx, duplicate: true, event: ev };
    }

    const latest = tx.seq_no === null || ev.seqNo >= tx.seq_no;
    const update: Partial<TransactionRow> = { updated_at: now };
    if (latest) {
      update.seq_no = ev.seqNo;
      update.trigger_reason = ev.triggerReason;
      if (ev.chargingState) update.charging_state = ev.chargingState;
    }
    if (ev.offline) update.offline = 1;
    if (tx.evse_id === 0 && ev.evseId) update.evse_id = ev.evseId;
    if (tx.connector_id === null && ev.connectorId) update.connector_id = ev.connectorId;
    if (ev.idToken && !tx.id_token) {
      update.id_token = ev.idToken.idToken;
      update.id_token_type = ev.idToken.type;
      update.auth_status = ev.authStatus ?? null;
      update.group_id = ev.groupId ?? null;
    }
    if (ev.eventType === 'Started' && ev.timestamp < tx.started_at) update.started_at = ev.timestamp;
    if (ev.remoteStartId !== undefined) update.remote_start_id = ev.remoteStartId;
    if (ev.meterStartWh !== undefined && tx.meter_start_wh === null) update.meter_start_wh = ev.meterStartWh;
    if (ev.eventType === 'Ended') {
      update.state = 'ended';
      update.stopped_at = ev.timestamp;
      update.stop_reason = ev.stoppedReason ?? 'Local';
      if (ev.meterStopWh !== undefined) update.meter_stop_wh = ev.meterStopWh;
    }

    const evseId = update.evse_id ?? tx.evse_id;
    if (ev.samples.length > 0) {
      const sum = summarize(ev.samples)!;
      // Offline-buffered events arrive out of order: the Transaction.Begin register is the start whenever
      // it arrives, and an event older than the latest meter reading does not roll the readings back.
      if (ev.meterStartWh === undefined) {
        const begin = summarize(ev.samples.filter((x) => x.context === 'Transaction.Begin'))?.energyWh;
        if (begin !== undefined) update.meter_start_wh = begin;
      }
      const start = update.meter_start_wh ?? tx.meter_start_wh;
      if (tx.last_meter_at === null || sum.timestamp >= tx.last_meter_at) {
        Object.assign(update, energyFields(start, sum));
      } else if (tx.energy_wh !== null && tx.meter_start_wh !== null && start !== null && start !== tx.meter_start_wh) {
        update.energy_wh = Math.max(0, tx.meter_start_wh + tx.energy_wh - start);
      }
      if (ev.eventType === 'Ended' && update.meter_stop_wh === undefined) {
        const s = summarize(ev.samples.filter((x) => x.context === 'Transaction.End'));
        if (s?.energyWh !== undefined) update.meter_stop_wh = s.energyWh;
      }
      await this.insertSamples(trx, ev.stationId, evseId, ev.connectorId ?? tx.connector_id, tx.id, ev.samples, sum, now);
    }
    if (update.meter_stop_wh != null) {
      const start = update.meter_start_wh ?? tx.meter_start_wh ?? update.meter_stop_wh;
      update.energy_wh = Math.max(0, update.meter_stop_wh - start);
    }
    if (ev.eventType === 'Ended') update.power_w = 0;
    const merged = await this.updateTx(trx, remembered, tx, update);
    await this.deps.events.inTx(trx, { type: 'TransactionEvent', transactionId: tx.id, event: ev, duplicate: false });
    return { tx: merged, duplicate: false, event: ev };
  }

  /** The samples (one multi-row INSERT per 64) and the EVSE's latest readings (`sum` = summarize(samples)). */
  private async insertSamples(
    trx: Trx,
    stationId: string,
    evseId: number,
    connectorId: number | null,
    transactionId: string | null,
    samples: readonly MeterSample[],
    sum: MeterSummary,
    now: string,
  ): Promise<void> {
    for (let i = 0; i < samples.length; i += MV_CHUNK) {
      const end = Math.min(samples.length, i + MV_CHUNK);
      const params: unknown[] = new Array((end - i) * MV_WIDTH);
      let p = 0;
      for (let j = i; j < end; j++) {
        const s = samples[j]!;
        params[p++] = stationId;
        params[p++] = evseId;
        params[p++] = connectorId;
        params[p++] = transactionId;
        params[p++] = s.timestamp;
        params[p++] = s.measurand;
        params[p++] = s.phase ?? null;
        params[p++] = s.unit;
        params[p++] = s.context;
        params[p++] = s.location ?? null;
        params[p++] = s.value;
        params[p++] = s.signed ?? null;
      }
      await this.sql.run(trx, insertSamplesStatement(end - i), params);
    }
    if (evseId > 0) {
      await this.sql.run(trx, SQL.upsertEvse, [stationId, evseId, now, sum.timestamp, sum.energyWh ?? null, sum.powerW ?? null, sum.soc ?? null]);
    }
  }

  /**
   * MeterValues outside the transaction-event path: 1.6 MeterValues (with or without transactionId) and
   * 2.0.1 MeterValues (never tied to a transaction). Kept per EVSE; tied to the transaction when known.
   */
  async meterValues(stationId: string, evseId: number, txRef: { txNumber?: number } | null, samples: MeterSample[]): Promise<void> {
    if (samples.length === 0) return;
    const sum = summarize(samples)!;
    const res = await this.write(async (trx, remembered) => {
      const now = this.nowIso();
      const tx = txRef?.txNumber !== undefined ? await this.txByNumber(trx, stationId, txRef.txNumber) : undefined;
      await this.insertSamples(trx, stationId, evseId, tx?.connector_id ?? null, tx?.id ?? null, samples, sum, now);
      if (tx && (tx.last_meter_at === null || sum.timestamp >= tx.last_meter_at)) {
        await this.updateTx(trx, remembered, tx, { ...energyFields(tx.meter_start_wh, sum), updated_at: now });
      }
      await this.deps.events.inTx(trx, { type: 'MeterValues', stationId, evseId, transactionId: tx?.id ?? null, samples });
      return tx?.id ?? null;
    });
    this.deps.events.publish({ type: 'MeterValues', stationId, evseId, transactionId: res, samples });
  }

  /** 2.0.1 NotifyEVChargingNeeds: remember the EV's needs on the EVSE's active transaction. */
  async recordChargingNeeds(stationId: string, evseId: number, needs: unknown): Promise<boolean> {
    const r = await this.deps.db
      .updateTable('transactions')
      .set({ charging_needs: JSON.stringify(needs), updated_at: this.nowIso() })
      .where('station_id', '=', stationId)
      .where('evse_id', '=', evseId)
      .where('state', '=', 'active')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async activeOn(stationId: string, evseId: number): Promise<TransactionRow | undefined> {
    return this.deps.db
      .selectFrom('transactions')
      .selectAll()
      .where('station_id', '=', stationId)
      .where('evse_id', '=', evseId)
      .where('state', '=', 'active')
      .orderBy('started_at', 'desc')
      .executeTakeFirst();
  }
}
