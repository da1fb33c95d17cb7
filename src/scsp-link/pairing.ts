/**
 * Pairing a charging station with an SCSP, and unpairing it (seed 000; protocols.md §1.2–1.4; issue 6 §2).
 *
 * - **CPO-issued codes**: the operator asks for a code for a station ({@link PairingService.issueCode}),
 *   the customer types it into the SCSP's app, and the SCSP verifies it on `POST /v1/cpo/{pp}/pair`
 *   ({@link PairingService.verifyCode}). Codes are 6 random digits (crypto), single use, expiring
 *   (default 15 min), and never handed out again while unexpired or within a day of expiring, so a
 *   code cannot silently come to mean another station.
 * - **SCSP-issued codes**: the customer types the SCSP's code into the CPO's UI; Ampline sends it with
 *   the station's description to `POST {baseUrl}/v1/scsp/{pp}/pair` ({@link PairingService.pairWithScspCode}).
 * - **Unpair**, either side: the SCSP calls `POST /v1/cpo/chargingstations/{uid}/unpair`
 *   ({@link PairingService.unpairByPartner}); the CPO calls the SCSP's
 *   `POST {baseUrl}/v1/scsp/chargingstations/{uid}/unpair` ({@link PairingService.unpairFromCpo}).
 *   Afterwards (interpretation, §1.4) forwarding stops — the forwarder reads `pairings` — and every
 *   profile with source `scsp` on the station is cleared, best effort: a station that is offline is
 *   cleared when it next boots unpaired.
 *
 * A station is paired with at most one partner (`pairings.station_id` is the key). Pairing it with
 * another partner is a {@link PairingConflictError}; pairing it again with the same partner is a no-op.
 * Work on one station (pair, unpair) runs one at a time in this process.
 */
import { randomInt } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { DomainEvents } from '../services/events.js';
import type { SmartChargingService } from '../services/smart-charging.js';
import type { ScspClient, ScspResponse } from './client.js';
import type { Partner, PartnerService, PayloadProtocol } from './partners.js';
import { type ChargingStationDescription, loadStationDescription } from './station-description.js';
import { KeyedQueue } from '../util/keyed-queue.js';

export type PairingOrigin = 'cpo-code' | 'scsp-code';

export interface Pairing {
  stationId: string;
  partnerId: string;
  payloadProtocol: PayloadProtocol;
  origin: PairingOrigin;
  pairedAt: string;
}

export interface IssuedCode {
  code: string;
  stationId: string;
  expiresAt: string;
}

export interface PairResult {
  pairing: Pairing;
  chargingStation: ChargingStationDescription;
  /** The station was already paired with this partner: nothing was sent. */
  alreadyPaired: boolean;
}

export interface UnpairResult {
  pairing: Pairing;
  /** CPO-initiated: the SCSP's answer to our unpair call (0: none came); absent when not called. */
  scspStatus?: number;
}

/** The SCSP does not know the code it was given (its 404). */
/**
 * A 2.0.1 station cannot be forwarded as ocpp1.6 payloads (1.6 needs integer transaction ids and has no
 * TransactionEvent), so it is not paired for that payload protocol.
 */
export class PayloadProtocolMismatchError extends Error {
  constructor(
    readonly stationId: string,
    readonly stationProtocol: string,
    readonly payloadProtocol: PayloadProtocol,
  ) {
    super(`charging station ${stationId} speaks ${stationProtocol}; its events cannot be sent as ${payloadProtocol} payloads`);
    this.name = 'PayloadProtocolMismatchError';
  }
}

export class IncorrectCodeError extends Error {
  constructor() {
    super('Incorrect Code, please check the code and try again.');
    this.name = 'IncorrectCodeError';
  }
}

/** The station is already paired with another partner (`local`) or the SCSP already knows its uid (`scsp`, its 409). */
export class PairingConflictError extends Error {
  constructor(
    readonly stationId: string,
    readonly by: 'local' | 'scsp',
    readonly pairedWith?: string,
  ) {
    super(
      by === 'local'
        ? `charging station ${stationId} is already paired with partner ${pairedWith ?? '?'}; unpair it first`
        : `the SCSP already has charging station ${stationId} (409 Conflict)`,
    );
    this.name = 'PairingConflictError';
  }
}

/** The SCSP gave no usable answer (down, timeout, 5xx, refused our credentials, …). */
export class ScspUpstreamError extends Error {
  constructor(
    readonly partnerId: string,
    /** HTTP status; 0 when no answer came. */
    readonly status: number,
    readonly detail: string,
  ) {
    super(`SCSP ${partnerId} ${status === 0 ? 'could not be reached' : `answered ${status}`}: ${detail}`);
    this.name = 'ScspUpstreamError';
  }
}

export class UnknownPartnerError extends Error {
  constructor(readonly partnerId: string) {
    super(`unknown SCSP partner ${partnerId}`);
    this.name = 'UnknownPartnerError';
  }
}

export class PartnerDisabledError extends Error {
  constructor(readonly partnerId: string) {
    super(`SCSP partner ${partnerId} is disabled`);
    this.name = 'PartnerDisabledError';
  }
}

export class NotPairedError extends Error {
  constructor(readonly stationId: string) {
    super(`charging station ${stationId} is not paired with an SCSP`);
    this.name = 'NotPairedError';
  }
}

export const DEFAULT_CODE_TTL_S = 15 * 60;
export const MAX_CODE_TTL_S = 7 * 24 * 3600;
const CODE_DIGITS = 6;
/** A code is not issued again until this long after it expired (used or not). */
const CODE_QUARANTINE_MS = 24 * 3600 * 1000;
/** Rows older than this past their expiry are deleted when codes are issued. */
const CODE_RETENTION_MS = 30 * 24 * 3600 * 1000;

export interface PairingServiceDeps {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  events: DomainEvents;
  partners: PartnerService;
  client: ScspClient;
  smart: SmartChargingService;
  /** Lifetime of a CPO-issued code when the caller gives none (default 15 min). */
  codeTtlS?: number;
}

type PairingRow = Database['pairings'];

function fromRow(r: PairingRow): Pairing {
  return {
    stationId: r.station_id,
    partnerId: r.partner_id,
    payloadProtocol: r.payload_protocol as PayloadProtocol,
    origin: r.origin as PairingOrigin,
    pairedAt: r.paired_at,
  };
}

/** A short human-readable reason from an SCSP answer, for logs and errors (never a token). */
function describeAnswer(res: ScspResponse): string {
  if (res.status === 0) return res.error ?? 'no answer';
  const b = res.body;
  if (b && typeof b === 'object' && typeof (b as { message?: unknown }).message === 'string') return (b as { message: string }).message.slice(0, 200);
  if (typeof b === 'string' && b !== '') return b.slice(0, 200);
  return `HTTP ${res.status}`;
}

export class PairingService {
  /** Per-station serialisation of commands that read and then change state. */
  private readonly queue = new KeyedQueue();
  private readonly cleanups = new Set<Promise<unknown>>();
  private readonly cleaningUp = new Set<string>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: PairingServiceDeps) {}

  /** Clear leftover SCSP profiles of unpaired stations when they boot (they were offline at unpair). */
  start(): void {
    this.unsubscribe = this.deps.events.subscribe((e) => {
      if (e.type === 'StationBooted' && e.status === 'Accepted') this.scheduleCleanup(e.stationId, 'boot');
    });
  }

  /** Stop listening; wait (bounded) for profile clean-ups under way. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await Promise.race([this.settled(), new Promise((r) => setTimeout(r, 1000).unref())]);
  }

  /** Resolves when the profile clean-ups started so far are done. */
  async settled(): Promise<void> {
    while (this.cleanups.size > 0) await Promise.allSettled([...this.cleanups]);
  }

  // ── queries ─────────────────────────────────────────────────────────────────────────────────

  async get(stationId: string): Promise<Pairing | undefined> {
    const r = await this.deps.db.selectFrom('pairings').selectAll().where('station_id', '=', stationId).executeTakeFirst();
    return r ? fromRow(r) : undefined;
  }

  async list(filter: { partnerId?: string; limit: number; offset: number }): Promise<{ data: Pairing[]; total: number }> {
    let q = this.deps.db.selectFrom('pairings');
    if (filter.partnerId !== undefined) q = q.where('partner_id', '=', filter.partnerId);
    const [rows, count] = await Promise.all([
      q.selectAll().orderBy('station_id').limit(filter.limit).offset(filter.offset).execute(),
      q.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirst(),
    ]);
    return { data: rows.map(fromRow), total: Number(count?.n ?? 0) };
  }

  async countForPartner(partnerId: string): Promise<number> {
    const r = await this.deps.db
      .selectFrom('pairings')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('partner_id', '=', partnerId)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  // ── CPO-issued codes ────────────────────────────────────────────────────────────────────────

  /**
   * A new code for the station. UnknownStationError, or NoEvsesKnownError when the station could not be
   * described to the SCSP yet (checked now rather than when the customer has already typed the code).
   */
  async issueCode(stationId: string, opts: { ttlS?: number } = {}): Promise<IssuedCode> {
    const ttlS = opts.ttlS ?? this.deps.codeTtlS ?? DEFAULT_CODE_TTL_S;
    if (!Number.isInteger(ttlS) || ttlS < 1 || ttlS > MAX_CODE_TTL_S) throw new RangeError(`ttlS must be an integer from 1 to ${MAX_CODE_TTL_S}`);
    await loadStationDescription(this.deps.db, stationId);
    const now = this.deps.clock.now().getTime();
    const nowIso = new Date(now).toISOString();
    const expiresAt = new Date(now + ttlS * 1000).toISOString();
    const blockedAfter = new Date(now - CODE_QUARANTINE_MS).toISOString();
    await this.deps.db.deleteFrom('pairing_codes').where('expires_at', '<', new Date(now - CODE_RETENTION_MS).toISOString()).execute();
    for (let attempt = 0; attempt < 50; attempt++) {
      const code = String(randomInt(0, 10 ** CODE_DIGITS)).padStart(CODE_DIGITS, '0');
      const issued = await this.deps.db.transaction().execute(async (trx) => {
        const old = await trx.selectFrom('pairing_codes').select(['expires_at']).where('code', '=', code).executeTakeFirst();
        if (old && old.expires_at > blockedAfter) return false;
        if (old) await trx.deleteFrom('pairing_codes').where('code', '=', code).execute();
        await trx.insertInto('pairing_codes').values({ code, station_id: stationId, created_at: nowIso, expires_at: expiresAt, used_at: null, used_by: null }).execute();
        return true;
      });
      if (issued) {
        this.deps.log.info({ stationId, expiresAt }, 'pairing code issued');
        return { code, stationId, expiresAt };
      }
    }
    throw new Error('could not find a free pairing code (too many codes in use)');
  }

  /**
   * The SCSP verifies a code (seed 000, `POST /v1/cpo/{pp}/pair`). A valid, unused, unexpired code is
   * used up and the station paired with `partner`; the station's description is returned. A wrong,
   * expired or used code gives null (the route answers 404). PairingConflictError when the station is
   * paired with another partner (the code stays unused).
   */
  async verifyCode(partner: Partner, payloadProtocol: PayloadProtocol, code: string): Promise<ChargingStationDescription | null> {
    const row = await this.deps.db.selectFrom('pairing_codes').select('station_id').where('code', '=', code).executeTakeFirst();
    if (!row) return null;
    const stationId = row.station_id;
    return this.queue.run(stationId, async () => {
      const nowIso = this.deps.clock.now().toISOString();
      // Outside the transaction: SQLite has one connection, a query on `db` inside `trx` would wait for ever.
      await this.checkProtocol(stationId, payloadProtocol);
      const out = await this.deps.db.transaction().execute(async (trx) => {
        const c = await trx.selectFrom('pairing_codes').selectAll().where('code', '=', code).executeTakeFirst();
        if (!c || c.station_id !== stationId || c.used_at !== null || c.expires_at <= nowIso) return null;
        const existing = await trx.selectFrom('pairings').selectAll().where('station_id', '=', stationId).executeTakeFirst();
        if (existing && existing.partner_id !== partner.id) throw new PairingConflictError(stationId, 'local', existing.partner_id);
        const description = await loadStationDescription(trx, stationId);
        const used = await trx
          .updateTable('pairing_codes')
          .set({ used_at: nowIso, used_by: partner.id })
          .where('code', '=', code)
          .where('used_at', 'is', null)
          .executeTakeFirst();
        if (Number(used.numUpdatedRows) !== 1) return null;
        if (existing) {
          await trx.updateTable('pairings').set({ payload_protocol: payloadProtocol }).where('station_id', '=', stationId).execute();
        } else {
          await trx
            .insertInto('pairings')
            .values({ station_id: stationId, partner_id: partner.id, payload_protocol: payloadProtocol, origin: 'cpo-code', paired_at: nowIso })
            .execute();
        }
        return { description, repaired: existing !== undefined };
      });
      if (out) this.deps.log.info({ stationId, partnerId: partner.id, payloadProtocol, repaired: out.repaired }, 'station paired (CPO-issued code)');
      return out?.description ?? null;
    });
  }

  private async checkProtocol(stationId: string, payloadProtocol: PayloadProtocol): Promise<void> {
    const st = await this.deps.db.selectFrom('stations').select('protocol').where('id', '=', stationId).executeTakeFirst();
    if (payloadProtocol === 'ocpp1.6' && st?.protocol === 'ocpp2.0.1') throw new PayloadProtocolMismatchError(stationId, st.protocol, payloadProtocol);
  }

  // ── SCSP-issued codes ───────────────────────────────────────────────────────────────────────

  /**
   * Send the SCSP's code with the station's description to the partner. Errors: UnknownPartnerError,
   * PartnerDisabledError, UnknownStationError, NoEvsesKnownError, PairingConflictError (local or the
   * SCSP's 409), IncorrectCodeError (its 404), ScspUpstreamError (anything else; nothing recorded).
   */
  async pairWithScspCode(stationId: string, partnerId: string, code: string): Promise<PairResult> {
    return this.queue.run(stationId, async () => {
      const partner = await this.deps.partners.get(partnerId);
      if (!partner) throw new UnknownPartnerError(partnerId);
      if (!partner.enabled) throw new PartnerDisabledError(partnerId);
      const chargingStation = await loadStationDescription(this.deps.db, stationId);
      const existing = await this.get(stationId);
      if (existing) {
        if (existing.partnerId !== partnerId) throw new PairingConflictError(stationId, 'local', existing.partnerId);
        return { pairing: existing, chargingStation, alreadyPaired: true };
      }
      await this.checkProtocol(stationId, partner.payloadProtocol);
      const res = await this.deps.client.post(partner, `/v1/scsp/${partner.payloadProtocol}/pair`, { code, charging_station: chargingStation });
      if (res.status === 404) throw new IncorrectCodeError();
      if (res.status === 409) throw new PairingConflictError(stationId, 'scsp');
      if (res.status < 200 || res.status > 299) {
        this.deps.log.warn({ stationId, partnerId, status: res.status, reason: describeAnswer(res) }, 'SCSP pairing call failed');
        throw new ScspUpstreamError(partnerId, res.status, describeAnswer(res));
      }
      const pairing: Pairing = { stationId, partnerId, payloadProtocol: partner.payloadProtocol, origin: 'scsp-code', pairedAt: this.deps.clock.now().toISOString() };
      await this.deps.db
        .insertInto('pairings')
        .values({ station_id: stationId, partner_id: partnerId, payload_protocol: pairing.payloadProtocol, origin: pairing.origin, paired_at: pairing.pairedAt })
        .execute();
      this.deps.log.info({ stationId, partnerId }, 'station paired (SCSP-issued code)');
      return { pairing, chargingStation, alreadyPaired: false };
    });
  }

  // ── unpair ──────────────────────────────────────────────────────────────────────────────────

  /** The SCSP unpairs (seed: `POST /v1/cpo/chargingstations/{uid}/unpair`). Null when it has no pairing for uid. */
  async unpairByPartner(partner: Partner, uid: string): Promise<UnpairResult | null> {
    return this.queue.run(uid, async () => {
      const existing = await this.get(uid);
      if (!existing || existing.partnerId !== partner.id) return null;
      await this.deps.db.deleteFrom('pairings').where('station_id', '=', uid).where('partner_id', '=', partner.id).execute();
      this.deps.log.info({ stationId: uid, partnerId: partner.id }, 'station unpaired by the SCSP');
      this.scheduleCleanup(uid, 'unpair');
      return { pairing: existing };
    });
  }

  /**
   * The CPO unpairs: tell the SCSP (`POST {baseUrl}/v1/scsp/chargingstations/{uid}/unpair`); on 2xx or
   * 404 (it did not know the station) the pairing is removed here. Otherwise it is kept and
   * ScspUpstreamError thrown — unless `force`, which removes it anyway. A partner that no longer exists
   * is not called. NotPairedError when there is nothing to unpair.
   */
  async unpairFromCpo(stationId: string, opts: { force?: boolean } = {}): Promise<UnpairResult> {
    return this.queue.run(stationId, async () => {
      const existing = await this.get(stationId);
      if (!existing) throw new NotPairedError(stationId);
      const partner = await this.deps.partners.get(existing.partnerId);
      let scspStatus: number | undefined;
      if (partner) {
        const res = await this.deps.client.post(partner, `/v1/scsp/chargingstations/${encodeURIComponent(stationId)}/unpair`, {});
        scspStatus = res.status;
        const ok = (res.status >= 200 && res.status <= 299) || res.status === 404;
        if (!ok) {
          this.deps.log.warn({ stationId, partnerId: partner.id, status: res.status, reason: describeAnswer(res), force: opts.force === true }, 'SCSP unpair call failed');
          if (!opts.force) throw new ScspUpstreamError(partner.id, res.status, describeAnswer(res));
        }
      }
      await this.deps.db.deleteFrom('pairings').where('station_id', '=', stationId).where('partner_id', '=', existing.partnerId).execute();
      this.deps.log.info({ stationId, partnerId: existing.partnerId, scspStatus }, 'station unpaired by the CPO');
      this.scheduleCleanup(stationId, 'unpair');
      return scspStatus === undefined ? { pairing: existing } : { pairing: existing, scspStatus };
    });
  }

  // ── after unpair: clear the SCSP's profiles ─────────────────────────────────────────────────

  private scheduleCleanup(stationId: string, why: 'unpair' | 'boot'): void {
    // Not under the station's lock: a slow or silent station must not hold up a new pairing.
    if (this.cleaningUp.has(stationId)) return;
    this.cleaningUp.add(stationId);
    const p = this.clearScspProfiles(stationId, why)
      .catch((err: unknown) => this.deps.log.warn({ err, stationId }, 'clearing SCSP charging profiles failed'))
      .finally(() => {
        this.cleaningUp.delete(stationId);
        this.cleanups.delete(p);
      });
    this.cleanups.add(p);
  }

  /**
   * Clear every profile Ampline installed for the SCSP (source `scsp`) on a station that is not paired
   * (any more). Best effort: an offline station, a Rejected answer or a timeout is logged; what stays in
   * the shadow is tried again when the station boots.
   */
  private async clearScspProfiles(stationId: string, why: 'unpair' | 'boot'): Promise<void> {
    if (await this.get(stationId)) return; // paired again meanwhile: its profiles are the new pairing's
    const mine = (await this.deps.smart.installed(stationId)).filter((r) => r.source === 'scsp');
    for (const r of mine) {
      try {
        const res = await this.deps.smart.clear(stationId, { id: r.profile.id });
        if (res.status === 'Accepted') this.deps.log.info({ stationId, profileId: r.profile.id, why }, 'SCSP charging profile cleared');
        else this.deps.log.warn({ stationId, profileId: r.profile.id, status: res.status, why }, 'station did not clear the SCSP charging profile');
      } catch (err) {
        this.deps.log.warn({ err, stationId, profileId: r.profile.id, why }, 'could not clear the SCSP charging profile (station offline?); retried at its next boot');
      }
    }
  }

}

