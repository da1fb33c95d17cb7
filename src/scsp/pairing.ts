/**
 * Pairing, SCSP side (seed 000; protocols.md §1.2–1.4): which CPO stations the SCSP smart-charges.
 *
 * - **Code issued by the SCSP** (§1.3): a user asks the SCSP for a code (admin API
 *   `POST /api/v1/pairing-codes`; six random digits, single use, expiring — AMPLINE_SCSP_PAIRING_CODE_TTL_S,
 *   default 15 min; optionally bound to one CPO), types it into the CPO's app, and the CPO calls
 *   `POST /v1/scsp/{payload-protocol}/pair {code, charging_station}`: 200, or 404 with the seed's message
 *   (wrong, expired, used, or bound to another CPO), or 409 when the CPO's uid is already paired here. The
 *   code is only consumed by a successful pairing.
 * - **Code issued by the CPO** (§1.2): the user got a code from the CPO and gives it to the SCSP (admin
 *   API `POST /api/v1/cpos/{id}/pairings {code}`); the SCSP calls the CPO's `POST /v1/cpo/{pp}/pair
 *   {code}` with its bearer token for that CPO and stores the returned `charging_station`. The CPO's 404
 *   is "incorrect code"; a uid already paired with the same CPO is refreshed (the CPO has just confirmed
 *   it), not refused.
 * - **Unpair** (§1.4): the CPO calls `POST /v1/scsp/chargingstations/{uid}/unpair` (200 with the seed's
 *   message, 404 unknown uid), or the operator asks the SCSP to unpair (admin API), which calls the CPO's
 *   `POST /v1/cpo/chargingstations/{uid}/unpair` first: its 2xx or 404 (the CPO no longer knows the
 *   pairing) unpairs here; anything else keeps the pairing unless forced. Unpairing ends the station's
 *   running sessions (stopped reason `Unpaired`), forgets its EVSE state and station/EVSE preferences, and
 *   stops profile sending (the CPO clears what the SCSP installed, protocols.md §1.4). For a CPO on the
 *   OCPI profile route the operator's unpair first DELETEs the profiles the SCSP set on the station's
 *   sessions (`beforeUnpairAtCpo`), since OCPI has no unpair that would clear them.
 */
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { ScspKysely, StationsTable } from './store.js';
import type { Cpo, PayloadProtocol } from './cpos.js';
import { type ChargingStation, parseChargingStation } from './charging-station.js';
import { type CpoClient, messageOf } from './cpo-client.js';
import { randomDigits } from './secrets.js';

export const INCORRECT_CODE_MESSAGE = 'Incorrect Code, please check the code and try again.';
export const PAIRED_MESSAGE = 'Charging station successfully paired.';
export const UNPAIRED_MESSAGE = 'Charging station successfully unpaired.';
export const ALREADY_PAIRED_MESSAGE = 'Charging station uid already exists.';
export const UNKNOWN_STATION_MESSAGE = 'Charging station not found.';

export type PairingOrigin = 'scsp-code' | 'cpo-code';

export interface StationRecord {
  cpoId: string;
  uid: string;
  payloadProtocol: PayloadProtocol;
  chargingStation: ChargingStation;
  userId: string | null;
  origin: PairingOrigin;
  pairedAt: string;
}

export function stationFromRow(r: StationsTable): StationRecord {
  return {
    cpoId: r.cpo_id,
    uid: r.uid,
    payloadProtocol: r.payload_protocol as PayloadProtocol,
    chargingStation: JSON.parse(r.charging_station) as ChargingStation,
    userId: r.user_id,
    origin: r.origin as PairingOrigin,
    pairedAt: r.paired_at,
  };
}

/** `{code}` → the code as text (a string as in the seed; leniently an integer, zero-padded to 6 digits). */
export function parseCode(raw: unknown): { ok: true; code: string } | { ok: false; message: string } {
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 && raw < 1e6) return { ok: true, code: String(raw).padStart(6, '0') };
  if (typeof raw !== 'string') return { ok: false, message: raw === undefined ? 'Missing "code"' : '"code" must be a string' };
  const code = raw.trim();
  if (code === '' || code.length > 64) return { ok: false, message: '"code" must be a non-empty string of at most 64 characters' };
  return { ok: true, code };
}

export type CpoPairOutcome =
  | { kind: 'paired'; station: StationRecord; refreshed: boolean }
  | { kind: 'incorrect' }
  | { kind: 'invalid'; message: string }
  | { kind: 'unavailable'; status: number; message: string };

export type CpoUnpairOutcome = { kind: 'unpaired'; cpoStatus: number; forced: boolean } | { kind: 'unknown' } | { kind: 'unavailable'; status: number; message: string };

export interface PairingDeps {
  db: ScspKysely;
  clock: Clock;
  log: Logger;
  client: CpoClient;
  codeTtlS: number;
  /** After a station was paired (e.g. to plan sessions that arrived before). */
  onPaired?: (cpoId: string, uid: string) => void;
  /** After a station was unpaired (stop sending profiles). */
  onUnpaired?: (cpoId: string, uid: string) => void;
  /**
   * Before the operator's unpair is sent to the CPO: remove what the SCSP set while the CPO still lets
   * it address the station's sessions (OCPI: DELETE the profiles). Awaited; failures are the hook's.
   */
  beforeUnpairAtCpo?: (cpo: Cpo, uid: string) => Promise<void>;
}

export class PairingService {
  constructor(private readonly deps: PairingDeps) {}

  async station(cpoId: string, uid: string): Promise<StationRecord | undefined> {
    const r = await this.deps.db.selectFrom('stations').selectAll().where('cpo_id', '=', cpoId).where('uid', '=', uid).executeTakeFirst();
    return r ? stationFromRow(r) : undefined;
  }

  async stations(filter: { cpoId?: string } = {}): Promise<StationRecord[]> {
    let q = this.deps.db.selectFrom('stations').selectAll();
    if (filter.cpoId !== undefined) q = q.where('cpo_id', '=', filter.cpoId);
    return (await q.orderBy('cpo_id').orderBy('uid').execute()).map(stationFromRow);
  }

  /** A new SCSP-issued code (for a user, optionally only for one CPO). */
  async issueCode(opts: { userId?: string; cpoId?: string; ttlS?: number } = {}): Promise<{ code: string; expiresAt: string; userId: string | null; cpoId: string | null }> {
    const now = this.deps.clock.now();
    const expiresAt = new Date(now.getTime() + (opts.ttlS ?? this.deps.codeTtlS) * 1000).toISOString();
    // Codes are primary keys: forget expired or used ones first, then draw until one is free.
    await this.deps.db
      .deleteFrom('pairing_codes')
      .where((eb) => eb.or([eb('expires_at', '<=', now.toISOString()), eb('used_at', 'is not', null)]))
      .execute();
    for (let i = 0; i < 20; i++) {
      const code = randomDigits(6);
      const res = await this.deps.db
        .insertInto('pairing_codes')
        .values({ code, user_id: opts.userId ?? null, cpo_id: opts.cpoId ?? null, created_at: now.toISOString(), expires_at: expiresAt, used_at: null, used_by_cpo: null, used_uid: null })
        .onConflict((oc) => oc.column('code').doNothing())
        .executeTakeFirst();
      if (Number(res.numInsertedOrUpdatedRows ?? 0n) === 1) return { code, expiresAt, userId: opts.userId ?? null, cpoId: opts.cpoId ?? null };
    }
    throw new Error('could not draw a free pairing code');
  }

  /** `POST /v1/scsp/{pp}/pair`: the CPO sends our code with its station. */
  async redeemScspCode(cpo: Cpo, pp: PayloadProtocol, code: string, station: ChargingStation): Promise<'paired' | 'incorrect' | 'conflict'> {
    const now = this.deps.clock.now().toISOString();
    const outcome = await this.deps.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('pairing_codes').selectAll().where('code', '=', code).executeTakeFirst();
      if (!row || row.used_at !== null || row.expires_at <= now || (row.cpo_id !== null && row.cpo_id !== cpo.id)) return 'incorrect' as const;
      const known = await trx.selectFrom('stations').select('uid').where('cpo_id', '=', cpo.id).where('uid', '=', station.uid).executeTakeFirst();
      if (known) return 'conflict' as const;
      await trx.updateTable('pairing_codes').set({ used_at: now, used_by_cpo: cpo.id, used_uid: station.uid }).where('code', '=', code).execute();
      await trx
        .insertInto('stations')
        .values({ cpo_id: cpo.id, uid: station.uid, payload_protocol: pp, charging_station: JSON.stringify(station), user_id: row.user_id, origin: 'scsp-code', paired_at: now })
        .execute();
      return 'paired' as const;
    });
    if (outcome === 'paired') {
      this.deps.log.info({ cpoId: cpo.id, uid: station.uid, payloadProtocol: pp }, 'station paired (SCSP-issued code)');
      this.deps.onPaired?.(cpo.id, station.uid);
    } else {
      this.deps.log.info({ cpoId: cpo.id, uid: station.uid, outcome }, 'pairing refused');
    }
    return outcome;
  }

  /** The CPO-issued flow: redeem the CPO's code at the CPO. */
  async pairWithCpoCode(cpo: Cpo, pp: PayloadProtocol, code: string, userId?: string): Promise<CpoPairOutcome> {
    const res = await this.deps.client.post(cpo, `/v1/cpo/${pp}/pair`, { code });
    if (res.status === 404) return { kind: 'incorrect' };
    if (res.status !== 200) {
      this.deps.log.warn({ cpoId: cpo.id, status: res.status, message: messageOf(res) }, 'CPO pairing call failed');
      return { kind: 'unavailable', status: res.status, message: messageOf(res) };
    }
    const parsed = parseChargingStation((res.body as { charging_station?: unknown } | undefined)?.charging_station);
    if (!parsed.ok) return { kind: 'invalid', message: `the CPO answered 200 without a valid charging_station: ${parsed.message}` };
    const station = parsed.value;
    const now = this.deps.clock.now().toISOString();
    const existing = await this.station(cpo.id, station.uid);
    const row = { payload_protocol: pp, charging_station: JSON.stringify(station), user_id: userId ?? existing?.userId ?? null, origin: 'cpo-code' };
    await this.deps.db
      .insertInto('stations')
      .values({ cpo_id: cpo.id, uid: station.uid, paired_at: now, ...row })
      .onConflict((oc) => oc.columns(['cpo_id', 'uid']).doUpdateSet(row))
      .execute();
    this.deps.log.info({ cpoId: cpo.id, uid: station.uid, payloadProtocol: pp, refreshed: existing !== undefined }, 'station paired (CPO-issued code)');
    this.deps.onPaired?.(cpo.id, station.uid);
    return { kind: 'paired', station: (await this.station(cpo.id, station.uid))!, refreshed: existing !== undefined };
  }

  /** `POST /v1/scsp/chargingstations/{uid}/unpair`: the CPO unpairs. False when the uid is not paired. */
  async unpairByCpo(cpo: Cpo, uid: string): Promise<boolean> {
    return this.unpairLocally(cpo.id, uid, 'cpo');
  }

  /** The operator unpairs: tell the CPO first (see the header for the rules). */
  async unpairAtCpo(cpo: Cpo, uid: string, opts: { force?: boolean } = {}): Promise<CpoUnpairOutcome> {
    if (!(await this.station(cpo.id, uid))) return { kind: 'unknown' };
    await this.deps.beforeUnpairAtCpo?.(cpo, uid);
    const res = await this.deps.client.post(cpo, `/v1/cpo/chargingstations/${encodeURIComponent(uid)}/unpair`, {});
    const ok = (res.status >= 200 && res.status < 300) || res.status === 404;
    if (!ok && !opts.force) {
      this.deps.log.warn({ cpoId: cpo.id, uid, status: res.status, message: messageOf(res) }, 'CPO unpair call failed; pairing kept');
      return { kind: 'unavailable', status: res.status, message: messageOf(res) };
    }
    await this.unpairLocally(cpo.id, uid, 'scsp');
    return { kind: 'unpaired', cpoStatus: res.status, forced: !ok };
  }

  private async unpairLocally(cpoId: string, uid: string, by: 'cpo' | 'scsp'): Promise<boolean> {
    const now = this.deps.clock.now().toISOString();
    const removed = await this.deps.db.transaction().execute(async (trx) => {
      const res = await trx.deleteFrom('stations').where('cpo_id', '=', cpoId).where('uid', '=', uid).executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) return false;
      await trx.deleteFrom('evses').where('cpo_id', '=', cpoId).where('uid', '=', uid).execute();
      await trx.deleteFrom('preferences').where('cpo_id', '=', cpoId).where('uid', '=', uid).where('session_id', 'is', null).execute();
      await trx
        .updateTable('sessions')
        .set({ state: 'ended', ended_at: now, stopped_reason: 'Unpaired', power_w: 0, updated_at: now })
        .where('cpo_id', '=', cpoId)
        .where('uid', '=', uid)
        .where('state', '=', 'active')
        .execute();
      return true;
    });
    if (removed) {
      this.deps.log.info({ cpoId, uid, by }, 'station unpaired');
      this.deps.onUnpaired?.(cpoId, uid);
    }
    return removed;
  }
}
