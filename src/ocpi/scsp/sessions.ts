/**
 * The SCSP's Sessions module, interface role **RECEIVER** (mod_sessions "Receiver Interface";
 * protocols.md §2.5): the CPO pushes the sessions of stations paired with this SCSP to
 * `{url}/{country_code}/{party_id}/{session_id}`.
 *
 * | method | what | answer |
 * |---|---|---|
 * | `PUT` | the full Session: replaces our copy (periods replaced; omitted optional fields removed) | 201 created / 200 updated, no `data` |
 * | `PATCH` | changed fields; **must contain `last_updated`**; `charging_periods` are appended, other fields merged | 200, no `data`; unknown session 404 + 2001 |
 * | `GET` | our copy | 200 + the Session; unknown 404 |
 *
 * Checks, in order (each failure one clear message): the caller is an OCPI partner linked to a CPO
 * record (context.ts; else 2000) → the URL's `country_code`/`party_id` are well-formed and a party of
 * the caller's credentials (else 2001) → the body is a valid Session / Session PATCH (objects.ts; else
 * 2001, "PATCH without last_updated" included) → the object's `id`, `country_code`, `party_id` equal
 * the URL's (CiString: case-insensitive; else 2001) → after a PATCH the merged copy is a valid Session
 * (else 2001, nothing stored).
 *
 * A push whose `last_updated` is older than our copy's is answered 200 (status 1000, message "ignored")
 * and changes nothing: OCPI has no ordering guarantee and our copy is newer.
 *
 * **Into the session model** (mapping.ts): each accepted copy is mapped to the CPO's paired station
 * (`location_id`) and EVSE, and its SessionEvents are applied by src/scsp/sessions.ts (protocol `ocpi`,
 * transactionId = the OCPI session id) in the same database transaction that stores the copy; then the
 * station is re-planned (driver `touch`). Not mapped, but stored (with `map_note`, logged):
 * - `location_id` is no station of that CPO paired with us (it is retried on every later push, so a
 *   station paired afterwards picks the session up);
 * - `RESERVATION` sessions;
 * - **twins**: a CPO may feed the same charging session twice — OCPP-format events (seed 001) *and*
 *   OCPI Sessions (Ampline's CPO does so for a partner with both). When an active OCPP-format session
 *   runs on the same EVSE and started within {@link TWIN_WINDOW_MS} of the OCPI session, the OCPI copy
 *   is linked to it (`scsp_session_id`, so the OCPI profile route can address it) instead of creating a
 *   second session; an OCPI-fed SCSP session made before the twin was known is ended (`Twin`).
 */
import { createHash } from 'node:crypto';
import type { OcpiModule, OcpiRequest } from '../core/plugin.js';
import { OcpiError, OcpiStatus } from '../core/status.js';
import { ciEquals, isCountryCode, isPartyId } from '../core/strings.js';
import { parseDateTime } from '../core/datetime.js';
import type { PartnerPrincipal } from '../credentials.js';
import { canonicalJson, type SessionEvent } from '../../scsp/ingest.js';
import type { ScspKysely } from '../../scsp/store.js';
import { TWIN_WINDOW_MS } from '../../scsp/sessions.js';
import type { Cpo } from '../../scsp/cpos.js';
import type { StationRecord } from '../../scsp/pairing.js';
import { cpoOfPartner, type ScspOcpiContext } from './context.js';
import { evseIdOf, matchStation, mergePatch, sessionEvents } from './mapping.js';
import { type OcpiSession, OcpiValidationError, validateSession, validateSessionPatch } from '../objects.js';
import { type OcpiSessionKey, type OcpiSessionRow, sessionKeyOf } from './store.js';

export const SESSIONS_PATH = '2.2.1/sessions';

const invalid = (e: unknown): never => {
  if (e instanceof OcpiValidationError) throw OcpiError.invalid(e.message);
  throw e;
};

type Params = { country_code: string; party_id: string; session_id: string };

export class OcpiSessionsReceiver {
  constructor(private readonly ctx: ScspOcpiContext) {}

  module(): OcpiModule<PartnerPrincipal> {
    const url = '/:country_code/:party_id/:session_id';
    return {
      identifier: 'sessions',
      kind: 'functional',
      interfaceRole: 'RECEIVER',
      path: SESSIONS_PATH,
      routes: [
        { method: 'GET', url, handler: (r) => this.get(r) },
        { method: 'PUT', url, handler: (r) => this.put(r) },
        { method: 'PATCH', url, handler: (r) => this.patch(r) },
      ],
    };
  }

  /** The calling partner's CPO and the session key of the URL (see the header for the checks). */
  private async address(r: OcpiRequest<PartnerPrincipal>): Promise<{ cpo: Cpo; key: OcpiSessionKey; p: Params }> {
    const partner = r.principal.partner;
    const cpo = await cpoOfPartner(this.ctx, partner);
    const p = r.params as Params;
    if (!isCountryCode(p.country_code)) throw OcpiError.invalid(`URL country_code '${p.country_code}' must be an ISO-3166 alpha-2 code`);
    if (!isPartyId(p.party_id)) throw OcpiError.invalid(`URL party_id '${p.party_id}' must be three letters or digits`);
    if (!/^[\x21-\x7e]{1,36}$/.test(p.session_id)) throw OcpiError.invalid(`URL session_id '${p.session_id.slice(0, 40)}' must be a CiString(36)`);
    const roles = partner.roles;
    if (roles.length > 0 && !roles.some((x) => ciEquals(x.country_code, p.country_code) && ciEquals(x.party_id, p.party_id))) {
      throw OcpiError.invalid(
        `URL party ${p.country_code}/${p.party_id} is not a party of your credentials (${roles.map((x) => `${x.country_code}/${x.party_id}`).join(', ')})`,
      );
    }
    return { cpo, key: sessionKeyOf(partner.id, p.country_code, p.party_id, p.session_id), p };
  }

  async get(r: OcpiRequest<PartnerPrincipal>) {
    const { key, p } = await this.address(r);
    const row = await this.ctx.store.session(key);
    if (!row) throw OcpiError.transport('NotFound', `Unknown session ${p.country_code}/${p.party_id}/${p.session_id}`);
    return { data: JSON.parse(row.object) as OcpiSession };
  }

  async put(r: OcpiRequest<PartnerPrincipal>) {
    const { cpo, key, p } = await this.address(r);
    let s: OcpiSession;
    try {
      s = validateSession(r.body);
    } catch (e) {
      return invalid(e);
    }
    if (!ciEquals(s.id, p.session_id)) throw OcpiError.invalid(`Session.id '${s.id}' differs from the session_id in the URL ('${p.session_id}')`);
    if (!ciEquals(s.country_code, p.country_code)) throw OcpiError.invalid(`Session.country_code '${s.country_code}' differs from the URL's '${p.country_code}'`);
    if (!ciEquals(s.party_id, p.party_id)) throw OcpiError.invalid(`Session.party_id '${s.party_id}' differs from the URL's '${p.party_id}'`);
    const out = await this.store(cpo, key, s, () => s, 'PUT');
    if (out === 'stale') return { statusMessage: 'ignored: older than the stored copy (last_updated)' };
    return { httpStatus: out === 'created' ? 201 : 200 };
  }

  async patch(r: OcpiRequest<PartnerPrincipal>) {
    const { cpo, key, p } = await this.address(r);
    let patch: ReturnType<typeof validateSessionPatch>;
    try {
      patch = validateSessionPatch(r.body);
    } catch (e) {
      return invalid(e);
    }
    if (patch.id !== undefined && !ciEquals(patch.id, p.session_id)) throw OcpiError.invalid(`Session PATCH.id '${patch.id}' differs from the session_id in the URL ('${p.session_id}')`);
    if (patch.country_code !== undefined && !ciEquals(patch.country_code, p.country_code)) throw OcpiError.invalid(`Session PATCH.country_code '${patch.country_code}' differs from the URL's '${p.country_code}'`);
    if (patch.party_id !== undefined && !ciEquals(patch.party_id, p.party_id)) throw OcpiError.invalid(`Session PATCH.party_id '${patch.party_id}' differs from the URL's '${p.party_id}'`);
    const out = await this.store(
      cpo,
      key,
      patch as Partial<OcpiSession>,
      (stored) => {
        if (!stored) throw new OcpiError(OcpiStatus.InvalidParameters, `Unknown session ${p.country_code}/${p.party_id}/${p.session_id}: PUT the full Session first`, { httpStatus: 404 });
        const merged = mergePatch(stored, patch);
        try {
          return validateSession(merged);
        } catch (e) {
          if (e instanceof OcpiValidationError) throw OcpiError.invalid(`The PATCH would leave an invalid Session: ${e.message}`);
          throw e;
        }
      },
      'PATCH',
    );
    if (out === 'stale') return { statusMessage: 'ignored: older than the stored copy (last_updated)' };
    return {};
  }

  /** The paired station a session names (read before the write transaction: SQLite has one connection). */
  private async stationOf(cpo: Cpo, locationId: string): Promise<StationRecord | undefined> {
    const direct = await this.ctx.pairing.station(cpo.id, locationId);
    if (direct) return direct;
    const all = await this.ctx.pairing.stations({ cpoId: cpo.id });
    const uid = matchStation(
      locationId,
      all.map((s) => s.uid),
    );
    return uid === undefined ? undefined : all.find((s) => s.uid === uid);
  }

  /**
   * Store a copy (`next` builds it from the stored one) and map it, atomically. The station is
   * resolved from the incoming fields (a PATCH without `location_id` keeps the stored one).
   */
  private async store(
    cpo: Cpo,
    key: OcpiSessionKey,
    incoming: Partial<OcpiSession>,
    next: (stored: OcpiSession | undefined) => OcpiSession,
    method: 'PUT' | 'PATCH',
  ): Promise<'created' | 'updated' | 'stale'> {
    const now = this.ctx.clock.now().toISOString();
    const existing = await this.ctx.store.session(key);
    const locationId = incoming.location_id ?? existing?.location_id;
    const station = locationId === undefined ? undefined : await this.stationOf(cpo, locationId);
    const outcome = await this.ctx.db.transaction().execute(async (trx) => {
      const row = await this.ctx.store.session(key, trx);
      const stored = row ? (JSON.parse(row.object) as OcpiSession) : undefined;
      const s = next(stored);
      const lastUpdated = (parseDateTime(s.last_updated) ?? new Date(now)).toISOString();
      if (row && lastUpdated < row.last_updated) return { kind: 'stale' as const };
      const mapped = await this.map(trx, cpo, key, s, row, station, method);
      const values = {
        session_id: s.id,
        cpo_id: cpo.id,
        location_id: s.location_id,
        evse_uid: s.evse_uid,
        connector_id: s.connector_id,
        status: s.status,
        last_updated: lastUpdated,
        object: JSON.stringify(s),
        uid: station?.uid ?? null,
        evse_id: station ? mapped.evseId : null,
        scsp_session_id: mapped.scspSessionId,
        map_note: mapped.note,
        updated_at: now,
      };
      if (row) {
        await trx
          .updateTable('ocpi_sessions')
          .set(values)
          .where('partner_id', '=', key.partnerId)
          .where('country_code', '=', key.countryCode)
          .where('party_id', '=', key.partyId)
          .where('session_key', '=', key.sessionKey)
          .execute();
      } else {
        await trx
          .insertInto('ocpi_sessions')
          .values({
            partner_id: key.partnerId,
            country_code: key.countryCode,
            party_id: key.partyId,
            session_key: key.sessionKey,
            profile_state: null,
            profile: null,
            profile_at: null,
            active_profile: null,
            active_profile_at: null,
            created_at: now,
            ...values,
          })
          .execute();
      }
      return { kind: row ? ('updated' as const) : ('created' as const), s, mapped };
    });
    if (outcome.kind === 'stale') {
      this.ctx.log.info({ cpoId: cpo.id, session: key.sessionKey, method }, 'OCPI session push older than our copy; ignored');
      return 'stale';
    }
    const log = { cpoId: cpo.id, session: outcome.s.id, status: outcome.s.status, locationId: outcome.s.location_id, method };
    if (outcome.mapped.note) this.ctx.log.info({ ...log, note: outcome.mapped.note }, 'OCPI session stored; no SCSP session of its own');
    else this.ctx.log.debug({ ...log, scspSessionId: outcome.mapped.scspSessionId }, 'OCPI session applied');
    if (station) this.ctx.touch({ cpoId: cpo.id, uid: station.uid });
    return outcome.kind;
  }

  /** Apply a copy to the session model (see the header); what it maps to, or why not. */
  private async map(
    trx: ScspKysely,
    cpo: Cpo,
    key: OcpiSessionKey,
    s: OcpiSession,
    row: OcpiSessionRow | undefined,
    station: StationRecord | undefined,
    method: string,
  ): Promise<{ evseId: number; scspSessionId: string | null; note: string | null }> {
    if (!station) {
      return { evseId: 0, scspSessionId: row?.scsp_session_id ?? null, note: `location_id '${s.location_id}' is not a station of CPO '${cpo.id}' paired with this SCSP` };
    }
    const evseId = evseIdOf(s.evse_uid, station);
    const st = { cpoId: cpo.id, uid: station.uid };
    if (s.status === 'RESERVATION') return { evseId, scspSessionId: null, note: 'RESERVATION: no charging session to plan' };
    const startMs = parseDateTime(s.start_date_time)?.getTime() ?? Date.parse(s.start_date_time);
    // Once linked to an OCPP-format twin, always (also after the twin ended first).
    const linked = row?.scsp_session_id ? await trx.selectFrom('sessions').selectAll().where('id', '=', row.scsp_session_id).executeTakeFirst() : undefined;
    const twin =
      linked && linked.protocol !== 'ocpi'
        ? linked
        : (await this.ctx.sessions.activeOn(st, evseId, trx)).find((x) => x.protocol !== 'ocpi' && Math.abs(Date.parse(x.started_at) - startMs) <= TWIN_WINDOW_MS);
    const events: SessionEvent[] = [];
    let scspSessionId: string | null = null;
    let note: string | null = null;
    if (twin) {
      scspSessionId = twin.id;
      note = `fed over the OCPP-format route as SCSP session ${twin.id} (transaction ${twin.transaction_id ?? '?'}): linked, not mapped twice`;
      // An OCPI-fed session made before the twin was known ends.
      const own = linked && linked.id !== twin.id ? linked : undefined;
      if (own && own.protocol === 'ocpi' && own.state === 'active') {
        events.push({ kind: 'transaction', eventType: 'Ended', transactionId: s.id, evseId, timestamp: this.ctx.clock.now().toISOString(), stoppedReason: 'Twin' });
      }
    } else {
      events.push(...sessionEvents(s, { first: row === undefined || row.scsp_session_id === null, evseId }));
    }
    if (events.length > 0) {
      const body = { method, session: s };
      const hash = createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex');
      const out = await this.ctx.sessions.ingest(
        {
          station: st,
          pp: 'ocpi',
          action: `Session ${method}`,
          body,
          key: `o:${key.partnerId}:${key.countryCode}/${key.partyId}/${key.sessionKey}:${hash}`,
          keyFromHeader: false,
          hash,
          events,
        },
        trx,
      );
      if (!twin && out.kind === 'applied') scspSessionId = out.sessionIds[0] ?? row?.scsp_session_id ?? null;
      else if (!twin) scspSessionId = row?.scsp_session_id ?? null;
    }
    return { evseId, scspSessionId, note };
  }
}
