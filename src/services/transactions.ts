/**
 * Transactions and meter values for both protocol versions through one path: every Start/Stop (1.6) and
 * TransactionEvent (2.0.1) becomes a TxEvent applied by `applyTxEvent`, in one database transaction
 * together with its meter samples and whatever in-transaction hooks (the SCSP outbox) record.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction as KTrx } from 'kysely';
import type { Database, TransactionRow } from '../store/schema.js';
import { type IdTokenInfo, type MeterSample, type TxEvent, utc } from '../domain/model.js';
import { summarize } from '../domain/meter.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { DomainEvents } from './events.js';
import type { AuthService } from './auth.js';
import type { GroupCommit } from '../store/group-commit.js';

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
  tx: TransactionRow;
  /** True when this seqNo was already recorded (a retransmission): nothing changed. */
  duplicate: boolean;
  event: TxEvent;
}

function energyFields(tx: Pick<TransactionRow, 'meter_start_wh'>, samples: readonly MeterSample[]) {
  const s = summarize(samples);
  if (!s) return {};
  const out: Partial<TransactionRow> = { last_meter_at: s.timestamp };
  if (s.energyWh !== undefined) {
    const start = tx.meter_start_wh ?? s.energyWh;
    if (tx.meter_start_wh === null) out.meter_start_wh = start;
    out.energy_wh = Math.max(0, s.energyWh - start);
  }
  if (s.powerW !== undefined) out.power_w = s.powerW;
  if (s.soc !== undefined) out.soc = s.soc;
  return out;
}

export class TransactionService {
  constructor(private readonly deps: TransactionServiceDeps) {}

  private nowIso(): string {
    return this.deps.clock.now().toISOString();
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
    const result = await this.deps.writer.run(async (trx) => {
      const row = await trx
        .updateTable('counters')
        .set((eb) => ({ value: eb('value', '+', 1) }))
        .where('name', '=', 'tx_number')
        .returning('value')
        .executeTakeFirstOrThrow();
      const txNumber = row.value;
      const applied = await this.applyIn(trx, {
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
    const res = await this.deps.writer.run((trx) => this.applyIn(trx, ev));
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

  private async applyIn(trx: KTrx<Database>, input: TxEvent): Promise<ApplyResult> {
    const ev = { ...input, timestamp: utc(input.timestamp) };
    const now = this.nowIso();
    let tx = await trx
      .selectFrom('transactions')
      .selectAll()
      .where('station_id', '=', ev.stationId)
      .where('ocpp_tx_id', '=', ev.ocppTxId)
      .executeTakeFirst();

    if (!tx) {
      // First event we see of this transaction (normally Started; offline replays may start later).
      const row = {
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
      await trx.insertInto('transactions').values(row).execute();
      tx = row;
    }

    const inserted = await trx
      .insertInto('transaction_events')
      .values({
        transaction_id: tx.id,
        station_id: ev.stationId,
        seq_no: ev.seqNo,
        event_type: ev.eventType,
        trigger_reason: ev.triggerReason,
        timestamp: ev.timestamp,
        offline: ev.offline ? 1 : 0,
        charging_state: ev.chargingState ?? null,
        stopped_reason: ev.stoppedReason ?? null,
        id_token: ev.idToken?.idToken ?? null,
        received_at: now,
      })
      .onConflict((oc) => oc.columns(['transaction_id', 'seq_no']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) {
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
      // Offline-buffered events arrive out of order: the Transaction.Begin register is the start whenever
      // it arrives, and an event older than the latest meter reading does not roll the readings back.
      if (ev.meterStartWh === undefined) {
        const begin = summarize(ev.samples.filter((x) => x.context === 'Transaction.Begin'))?.energyWh;
        if (begin !== undefined) update.meter_start_wh = begin;
      }
      const start = update.meter_start_wh ?? tx.meter_start_wh;
      if (tx.last_meter_at === null || summarize(ev.samples)!.timestamp >= tx.last_meter_at) {
        Object.assign(update, energyFields({ meter_start_wh: start }, ev.samples));
      } else if (tx.energy_wh !== null && tx.meter_start_wh !== null && start !== null && start !== tx.meter_start_wh) {
        update.energy_wh = Math.max(0, tx.meter_start_wh + tx.energy_wh - start);
      }
      if (ev.eventType === 'Ended' && update.meter_stop_wh === undefined) {
        const s = summarize(ev.samples.filter((x) => x.context === 'Transaction.End'));
        if (s?.energyWh !== undefined) update.meter_stop_wh = s.energyWh;
      }
      await this.insertSamples(trx, ev.stationId, evseId, ev.connectorId ?? tx.connector_id, tx.id, ev.samples);
    }
    if (update.meter_stop_wh != null) {
      const start = update.meter_start_wh ?? tx.meter_start_wh ?? update.meter_stop_wh;
      update.energy_wh = Math.max(0, update.meter_stop_wh - start);
    }
    if (ev.eventType === 'Ended') update.power_w = 0;
    await trx.updateTable('transactions').set(update).where('id', '=', tx.id).execute();
    const merged = { ...tx, ...update } as TransactionRow;
    await this.deps.events.inTx(trx, { type: 'TransactionEvent', transactionId: tx.id, event: ev, duplicate: false });
    return { tx: merged, duplicate: false, event: ev };
  }

  private async insertSamples(
    trx: KTrx<Database>,
    stationId: string,
    evseId: number,
    connectorId: number | null,
    transactionId: string | null,
    samples: readonly MeterSample[],
  ): Promise<void> {
    if (samples.length === 0) return;
    // One multi-row INSERT per message (chunked well below SQLite's 32k bound-parameter limit).
    for (let i = 0; i < samples.length; i += 500) {
      await trx
        .insertInto('meter_values')
        .values(
          samples.slice(i, i + 500).map((s) => ({
            station_id: stationId,
            evse_id: evseId,
            connector_id: connectorId,
            transaction_id: transactionId,
            timestamp: s.timestamp,
            measurand: s.measurand,
            phase: s.phase ?? null,
            unit: s.unit,
            context: s.context,
            location: s.location ?? null,
            value: s.value,
            signed: s.signed ?? null,
          })),
        )
        .execute();
    }
    const sum = summarize(samples);
    if (sum && evseId > 0) {
      const now = this.nowIso();
      const set = {
        last_meter_at: sum.timestamp,
        ...(sum.energyWh !== undefined ? { last_energy_wh: sum.energyWh } : {}),
        ...(sum.powerW !== undefined ? { last_power_w: sum.powerW } : {}),
        ...(sum.soc !== undefined ? { last_soc: sum.soc } : {}),
      };
      await trx
        .insertInto('evses')
        .values({ station_id: stationId, evse_id: evseId, created_at: now, ...set })
        .onConflict((oc) =>
          oc
            .columns(['station_id', 'evse_id'])
            .doUpdateSet(set)
            // A late (offline-buffered) reading never overwrites a newer one.
            .where((eb) => eb.or([eb('evses.last_meter_at', 'is', null), eb('evses.last_meter_at', '<=', sum.timestamp)])),
        )
        .execute();
    }
  }

  /**
   * MeterValues outside the transaction-event path: 1.6 MeterValues (with or without transactionId) and
   * 2.0.1 MeterValues (never tied to a transaction). Kept per EVSE; tied to the transaction when known.
   */
  async meterValues(stationId: string, evseId: number, txRef: { txNumber?: number } | null, samples: MeterSample[]): Promise<void> {
    if (samples.length === 0) return;
    const res = await this.deps.writer.run(async (trx) => {
      let tx: TransactionRow | undefined;
      if (txRef?.txNumber !== undefined) {
        tx = await trx
          .selectFrom('transactions')
          .selectAll()
          .where('station_id', '=', stationId)
          .where('tx_number', '=', txRef.txNumber)
          .executeTakeFirst();
      }
      await this.insertSamples(trx, stationId, evseId, tx?.connector_id ?? null, tx?.id ?? null, samples);
      if (tx && (tx.last_meter_at === null || summarize(samples)!.timestamp >= tx.last_meter_at)) {
        const upd = energyFields(tx, samples);
        if (Object.keys(upd).length > 0) {
          await trx.updateTable('transactions').set({ ...upd, updated_at: this.nowIso() }).where('id', '=', tx.id).execute();
        }
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
