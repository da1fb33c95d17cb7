/**
 * Stations, EVSEs and connectors: presence, boot, status, and the notifications stations send about
 * themselves (firmware, diagnostics, logs, security events, reports, device model).
 */
import type { Kysely } from 'kysely';
import type { Database, StationRow } from '../store/schema.js';
import { type ConnectorStatusReport, utc } from '../domain/model.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { DomainEvents } from './events.js';
import type { GroupCommit } from '../store/group-commit.js';

export interface BootPolicy {
  /** Registration status for a station Ampline has not seen before. */
  unknownStations: 'Accepted' | 'Pending' | 'Rejected';
  /** Heartbeat interval (s) given to Accepted stations. */
  heartbeatIntervalS: number;
  /** Retry interval (s) given to Pending/Rejected stations. */
  retryIntervalS: number;
}

export const DEFAULT_BOOT_POLICY: BootPolicy = { unknownStations: 'Accepted', heartbeatIntervalS: 300, retryIntervalS: 30 };

export interface BootInfo {
  vendor: string;
  model: string;
  serialNumber?: string | undefined;
  firmwareVersion?: string | undefined;
  iccid?: string | undefined;
  imsi?: string | undefined;
  meterType?: string | undefined;
  meterSerialNumber?: string | undefined;
  reason?: string | undefined;
}

export interface BootAnswer {
  status: 'Accepted' | 'Pending' | 'Rejected';
  interval: number;
  currentTime: string;
}

export interface StationServiceDeps {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  events: DomainEvents;
  writer: GroupCommit;
  nodeId: string;
  boot: BootPolicy;
  /** How often "last seen" times are written (they are kept in memory in between). */
  presenceFlushMs?: number;
}

export class StationService {
  private readonly lastSeen = new Map<string, string>();
  /** (station, EVSE) pairs whose rows are known to exist: first-contact upserts are skipped for them. */
  private readonly knownEvses = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly deps: StationServiceDeps) {
    const every = deps.presenceFlushMs ?? 5000;
    this.flushTimer = setInterval(() => void this.flushPresence(), every);
    this.flushTimer.unref();
  }

  private nowIso(): string {
    return this.deps.clock.now().toISOString();
  }

  /** Record activity of a station; persisted in batches (no write per heartbeat). */
  touch(stationId: string): void {
    this.lastSeen.set(stationId, this.nowIso());
  }

  async flushPresence(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.lastSeen.size === 0) return;
    const batch = [...this.lastSeen];
    this.lastSeen.clear();
    // In chunks, so that 10,000 stations do not hold the database for one long transaction.
    const chunks: Array<Array<[string, string]>> = [];
    for (let i = 0; i < batch.length; i += 500) chunks.push(batch.slice(i, i + 500));
    this.flushing = (async () => {
      for (const chunk of chunks) {
        await this.deps.writer.run(async (trx) => {
          for (const [id, at] of chunk) await trx.updateTable('stations').set({ last_seen_at: at }).where('id', '=', id).execute();
        });
      }
    })()
      .catch((err: unknown) => this.deps.log.error({ err }, 'presence flush failed'))
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushPresence();
  }

  private async ensureStation(db: Kysely<Database>, stationId: string, fields: Partial<StationRow> = {}): Promise<void> {
    const now = this.nowIso();
    await db
      .insertInto('stations')
      .values({ id: stationId, online: 0, created_at: now, updated_at: now, ...fields })
      .onConflict((oc) => oc.column('id').doUpdateSet({ ...fields, updated_at: now }))
      .execute();
  }

  async connected(stationId: string, protocol: string): Promise<void> {
    const now = this.nowIso();
    await this.ensureStation(this.deps.db, stationId, {
      protocol,
      online: 1,
      node_id: this.deps.nodeId,
      connected_at: now,
      last_seen_at: now,
    });
    this.deps.events.publish({ type: 'StationConnected', stationId, protocol });
  }

  async disconnected(stationId: string): Promise<void> {
    const now = this.nowIso();
    const seen = this.lastSeen.get(stationId);
    this.lastSeen.delete(stationId);
    await this.deps.db
      .updateTable('stations')
      .set({ online: 0, disconnected_at: now, ...(seen ? { last_seen_at: seen } : {}) })
      .where('id', '=', stationId)
      .where('node_id', '=', this.deps.nodeId)
      .execute();
    this.deps.events.publish({ type: 'StationDisconnected', stationId });
  }

  /** Mark every station this node had as offline (start-up after a crash). */
  async resetPresence(): Promise<void> {
    await this.deps.db.updateTable('stations').set({ online: 0 }).where('node_id', '=', this.deps.nodeId).execute();
  }

  async boot(stationId: string, protocol: string, info: BootInfo): Promise<BootAnswer> {
    const { boot } = this.deps;
    const existing = await this.deps.db
      .selectFrom('stations')
      .select(['registration_status', 'last_boot_at'])
      .where('id', '=', stationId)
      .executeTakeFirst();
    // A station is "known" once it has been Accepted; an operator can set the status through the API.
    const known = existing?.registration_status === 'Accepted';
    const preset = existing?.registration_status as BootAnswer['status'] | null | undefined;
    const status: BootAnswer['status'] = known ? 'Accepted' : preset === 'Rejected' ? 'Rejected' : boot.unknownStations;
    const now = this.nowIso();
    await this.ensureStation(this.deps.db, stationId, {
      protocol,
      vendor: info.vendor,
      model: info.model,
      serial_number: info.serialNumber ?? null,
      firmware_version: info.firmwareVersion ?? null,
      iccid: info.iccid ?? null,
      imsi: info.imsi ?? null,
      meter_type: info.meterType ?? null,
      meter_serial_number: info.meterSerialNumber ?? null,
      boot_reason: info.reason ?? null,
      registration_status: status,
      last_boot_at: now,
      last_seen_at: now,
    });
    this.deps.events.publish({ type: 'StationBooted', stationId, status });
    return {
      status,
      interval: status === 'Accepted' ? boot.heartbeatIntervalS : boot.retryIntervalS,
      currentTime: now,
    };
  }

  /** Registration status as last answered (Pending/Rejected stations may only send Boot). */
  async registrationStatus(stationId: string): Promise<string | null> {
    const row = await this.deps.db.selectFrom('stations').select('registration_status').where('id', '=', stationId).executeTakeFirst();
    return row?.registration_status ?? null;
  }

  /**
   * Upsert the connector (and its EVSE and station) — first contact creates the rows. Safe under
   * concurrent first StatusNotifications from many new stations (steve#2107): single upserts, no
   * read-then-write.
   */
  async status(input: ConnectorStatusReport): Promise<void> {
    const report = { ...input, timestamp: utc(input.timestamp) };
    const now = this.nowIso();
    const evseKey = `${report.stationId}\u0000${report.evseId}`;
    await this.deps.writer.run(async (trx) => {
      if (!this.knownEvses.has(evseKey)) {
        await trx
          .insertInto('stations')
          .values({ id: report.stationId, online: 1, created_at: now, updated_at: now })
          .onConflict((oc) => oc.column('id').doNothing())
          .execute();
        await trx
          .insertInto('evses')
          .values({ station_id: report.stationId, evse_id: report.evseId, created_at: now })
          .onConflict((oc) => oc.columns(['station_id', 'evse_id']).doNothing())
          .execute();
      }
      const fields = {
        status: report.status,
        ocpp_status: report.ocppStatus,
        error_code: report.errorCode ?? null,
        info: report.info ?? null,
        vendor_error_code: report.vendorErrorCode ?? null,
        status_at: report.timestamp,
      };
      await trx
        .insertInto('connectors')
        .values({ station_id: report.stationId, evse_id: report.evseId, connector_id: report.connectorId, created_at: now, ...fields })
        .onConflict((oc) =>
          oc
            .columns(['station_id', 'evse_id', 'connector_id'])
            .doUpdateSet(fields)
            // Offline-buffered notifications arrive late: an older report never overwrites a newer one.
            .where((eb) => eb.or([eb('connectors.status_at', 'is', null), eb('connectors.status_at', '<=', report.timestamp)])),
        )
        .execute();
      // OCPP 1.6 tells the charging state only through StatusNotification: keep the active
      // transaction's charging_state in step (2.0.1 reports it in TransactionEvent instead).
      if (report.ocppStatus === 'Charging' || report.ocppStatus === 'SuspendedEV' || report.ocppStatus === 'SuspendedEVSE') {
        await trx
          .updateTable('transactions')
          .set({ charging_state: report.ocppStatus, updated_at: now })
          .where('station_id', '=', report.stationId)
          .where('evse_id', '=', report.evseId)
          .where('state', '=', 'active')
          .where('protocol', '=', 'ocpp1.6')
          .execute();
      }
      await this.deps.events.inTx(trx, { type: 'ConnectorStatusChanged', report });
    });
    this.knownEvses.add(evseKey);
    this.deps.events.publish({ type: 'ConnectorStatusChanged', report });
  }

  /** Store a notification verbatim in the station's event log. */
  async record(stationId: string, type: string, payload: unknown, timestamp?: string): Promise<void> {
    await this.deps.db
      .insertInto('station_events')
      .values({ station_id: stationId, type, timestamp: timestamp ? utc(timestamp) : this.nowIso(), payload: JSON.stringify(payload) })
      .execute();
  }

  async setStationField(
    stationId: string,
    field: 'firmware_status' | 'diagnostics_status' | 'log_status',
    value: string,
  ): Promise<void> {
    await this.deps.db.updateTable('stations').set({ [field]: value, updated_at: this.nowIso() }).where('id', '=', stationId).execute();
  }

  /** 2.0.1 NotifyReport: upsert reported variables into the station's device model. */
  async upsertDeviceModel(
    stationId: string,
    rows: Array<{
      component: string;
      componentInstance?: string | undefined;
      evseId?: number | undefined;
      connectorId?: number | undefined;
      variable: string;
      variableInstance?: string | undefined;
      attributeType?: string | undefined;
      value?: string | undefined;
      mutability?: string | undefined;
      dataType?: string | undefined;
    }>,
  ): Promise<void> {
    if (rows.length === 0) return;
    const now = this.nowIso();
    await this.deps.db.transaction().execute(async (trx) => {
      for (const r of rows) {
        const values = {
          station_id: stationId,
          component: r.component,
          component_instance: r.componentInstance ?? '',
          evse_id: r.evseId ?? 0,
          connector_id: r.connectorId ?? 0,
          variable: r.variable,
          variable_instance: r.variableInstance ?? '',
          attribute_type: r.attributeType ?? 'Actual',
          value: r.value ?? null,
          mutability: r.mutability ?? null,
          data_type: r.dataType ?? null,
          updated_at: now,
        };
        await trx
          .insertInto('device_model')
          .values(values)
          .onConflict((oc) =>
            oc
              .columns([
                'station_id',
                'component',
                'component_instance',
                'evse_id',
                'connector_id',
                'variable',
                'variable_instance',
                'attribute_type',
              ])
              .doUpdateSet({ value: values.value, mutability: values.mutability, data_type: values.data_type, updated_at: now }),
          )
          .execute();
      }
    });
  }
}
