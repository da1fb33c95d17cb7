/**
 * CSMS-initiated commands with one meaning across versions: the caller speaks the domain (EVSE ids,
 * limits, tokens) and gets the station's own answer; the 1.6/2.0.1 payload differences live here.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { OcppTransport } from '../ocpp/transport.js';
import type { OcppProtocol } from '../ocpp/protocol.js';
import { StationOfflineError } from '../ocpp/errors.js';
import type { Clock } from '../util/clock.js';

/** The station id is not known to Ampline at all (never connected, never registered). */
export class UnknownStationError extends Error {
  constructor(readonly stationId: string) {
    super(`unknown station ${stationId}`);
    this.name = 'UnknownStationError';
  }
}

export interface CommandOptions {
  /** Bound on the wait for the station's answer (queueing included). */
  timeoutMs?: number;
}

export type ChargingRateUnit = 'W' | 'A';

/** OCPP.Core's profile id for SetChargingLimit/ClearChargingLimit (seed 003); 2.0.1 schedule id 101. */
export const MANAGEMENT_LIMIT_PROFILE_ID = 100;
export const MANAGEMENT_LIMIT_SCHEDULE_ID = 101;

/** OCPP limits have at most one decimal (multipleOf 0.1): round down so we never exceed the request. */
export function floorTenth(x: number): number {
  return Math.floor(x * 10 + 1e-9) / 10;
}

export class CommandService {
  constructor(
    private readonly deps: { db: Kysely<Database>; transport: OcppTransport; clock: Clock; defaultTimeoutMs: number },
  ) {}

  /** Protocol of a connected station; UnknownStationError or StationOfflineError otherwise. */
  async target(stationId: string): Promise<OcppProtocol> {
    const conn = this.deps.transport.get(stationId);
    if (conn) return conn.protocol;
    const row = await this.deps.db.selectFrom('stations').select('id').where('id', '=', stationId).executeTakeFirst();
    if (!row) throw new UnknownStationError(stationId);
    throw new StationOfflineError(stationId);
  }

  /** Send any CALL (already in the station's version) and return its answer. */
  async send(stationId: string, action: string, payload: object, opts: CommandOptions = {}): Promise<Record<string, unknown>> {
    await this.target(stationId);
    const res = await this.deps.transport.call(stationId, action, payload, { timeoutMs: opts.timeoutMs ?? this.deps.defaultTimeoutMs });
    return res as Record<string, unknown>;
  }

  async reset(stationId: string, kind: 'soft' | 'hard', opts?: CommandOptions): Promise<Record<string, unknown>> {
    const p = await this.target(stationId);
    return p === 'ocpp1.6'
      ? this.send(stationId, 'Reset', { type: kind === 'hard' ? 'Hard' : 'Soft' }, opts)
      : this.send(stationId, 'Reset', { type: kind === 'hard' ? 'Immediate' : 'OnIdle' }, opts);
  }

  async unlock(stationId: string, evseId: number, connectorId: number | undefined, opts?: CommandOptions): Promise<Record<string, unknown>> {
    const p = await this.target(stationId);
    if (p === 'ocpp1.6') return this.send(stationId, 'UnlockConnector', { connectorId: evseId }, opts);
    const c = connectorId ?? (await this.firstConnector(stationId, evseId));
    return this.send(stationId, 'UnlockConnector', { evseId, connectorId: c }, opts);
  }

  private async firstConnector(stationId: string, evseId: number): Promise<number> {
    const row = await this.deps.db
      .selectFrom('connectors')
      .select('connector_id')
      .where('station_id', '=', stationId)
      .where('evse_id', '=', evseId)
      .where('connector_id', '>', 0)
      .orderBy('connector_id')
      .executeTakeFirst();
    return row?.connector_id ?? 1;
  }

  /**
   * Seed 003 SetChargingLimit: a constant limit as TxDefaultProfile id 100, stack level 1, Absolute, valid
   * for a year. Unlike OCPP.Core it carries `startSchedule` (K01.FR.40: Absolute needs it), so compliant
   * 2.0.1 stations accept it.
   */
  async setChargingLimit(stationId: string, evseId: number, limit: number, unit: ChargingRateUnit, opts?: CommandOptions): Promise<Record<string, unknown>> {
    const p = await this.target(stationId);
    const now = this.deps.clock.now();
    const validTo = new Date(now.getTime() + 365 * 24 * 3600 * 1000).toISOString();
    const start = now.toISOString();
    const period = { startPeriod: 0, limit: floorTenth(limit) };
    if (p === 'ocpp1.6') {
      return this.send(
        stationId,
        'SetChargingProfile',
        {
          connectorId: evseId,
          csChargingProfiles: {
            chargingProfileId: MANAGEMENT_LIMIT_PROFILE_ID,
            stackLevel: 1,
            chargingProfilePurpose: 'TxDefaultProfile',
            chargingProfileKind: 'Absolute',
            validFrom: start,
            validTo,
            chargingSchedule: { startSchedule: start, chargingRateUnit: unit, chargingSchedulePeriod: [period] },
          },
        },
        opts,
      );
    }
    return this.send(
      stationId,
      'SetChargingProfile',
      {
        evseId,
        chargingProfile: {
          id: MANAGEMENT_LIMIT_PROFILE_ID,
          stackLevel: 1,
          chargingProfilePurpose: 'TxDefaultProfile',
          chargingProfileKind: 'Absolute',
          validFrom: start,
          validTo,
          chargingSchedule: [
            { id: MANAGEMENT_LIMIT_SCHEDULE_ID, startSchedule: start, chargingRateUnit: unit, chargingSchedulePeriod: [period] },
          ],
        },
      },
      opts,
    );
  }

  async clearChargingLimit(stationId: string, evseId: number, opts?: CommandOptions): Promise<Record<string, unknown>> {
    const p = await this.target(stationId);
    return p === 'ocpp1.6'
      ? this.send(stationId, 'ClearChargingProfile', { id: MANAGEMENT_LIMIT_PROFILE_ID, connectorId: evseId, chargingProfilePurpose: 'TxDefaultProfile', stackLevel: 1 }, opts)
      : this.send(stationId, 'ClearChargingProfile', { chargingProfileId: MANAGEMENT_LIMIT_PROFILE_ID }, opts);
  }

  /**
   * Remote start. `chargingProfile` is already in the station's wire shape (1.6 csChargingProfiles /
   * 2.0.1 ChargingProfileType); use SmartChargingService.remoteStartWithProfile, which validates it.
   */
  async remoteStart(stationId: string, evseId: number, idTag: string, opts?: CommandOptions, chargingProfile?: object): Promise<Record<string, unknown>> {
    const p = await this.target(stationId);
    const profile = chargingProfile ? { chargingProfile } : {};
    if (p === 'ocpp1.6') return this.send(stationId, 'RemoteStartTransaction', { connectorId: evseId, idTag, ...profile }, opts);
    const remoteStartId = await this.nextCounter('remote_start_id');
    return this.send(
      stationId,
      'RequestStartTransaction',
      { ...(evseId > 0 ? { evseId } : {}), remoteStartId, idToken: { idToken: idTag, type: 'ISO14443' }, ...profile },
      opts,
    );
  }

  /** Stop the latest open transaction on the EVSE; `null` when there is none. */
  async remoteStop(stationId: string, evseId: number, opts?: CommandOptions): Promise<Record<string, unknown> | null> {
    const p = await this.target(stationId);
    const tx = await this.deps.db
      .selectFrom('transactions')
      .select(['ocpp_tx_id', 'tx_number'])
      .where('station_id', '=', stationId)
      .where('evse_id', '=', evseId)
      .where('state', '=', 'active')
      .orderBy('started_at', 'desc')
      .executeTakeFirst();
    if (!tx) return null;
    return this.stopTransaction(stationId, p, tx, opts);
  }

  /** Remote stop of a known transaction: 1.6 by Ampline's integer id, 2.0.1 by the station's id. */
  stopTransaction(
    stationId: string,
    protocol: OcppProtocol,
    tx: { ocpp_tx_id: string; tx_number: number | null },
    opts?: CommandOptions,
  ): Promise<Record<string, unknown>> {
    return protocol === 'ocpp1.6'
      ? this.send(stationId, 'RemoteStopTransaction', { transactionId: tx.tx_number ?? Number(tx.ocpp_tx_id) }, opts)
      : this.send(stationId, 'RequestStopTransaction', { transactionId: tx.ocpp_tx_id }, opts);
  }

  private async nextCounter(name: string): Promise<number> {
    return this.deps.db.transaction().execute(async (trx) => {
      await trx.insertInto('counters').values({ name, value: 0 }).onConflict((oc) => oc.column('name').doNothing()).execute();
      const row = await trx
        .updateTable('counters')
        .set((eb) => ({ value: eb('value', '+', 1) }))
        .where('name', '=', name)
        .returning('value')
        .executeTakeFirstOrThrow();
      return row.value;
    });
  }
}
