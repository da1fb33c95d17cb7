/**
 * The SCSP's OCPI records (SCSP migration 0003): received Sessions (`ocpi_sessions`) and the
 * ChargingProfiles requests we sent (`ocpi_profile_requests`, addressed by the `response_url` we
 * generated). Kysely over the SCSP database; the rules live in the modules that use it.
 */
import type { Selectable } from 'kysely';
import type { OcpiProfileRequestsTable, OcpiSessionsTable, ScspKysely } from '../../scsp/store.js';
import { ciCanonical } from '../core/strings.js';
import type { ActiveChargingProfile, OcpiSession } from '../objects.js';

export type OcpiSessionRow = Selectable<OcpiSessionsTable>;
export type ProfileRequestRow = Selectable<OcpiProfileRequestsTable>;
export type ProfileRequestKind = 'set' | 'clear' | 'get';

/** The key of a received Session: the OCPI partner and the URL ids (CiStrings folded). */
export interface OcpiSessionKey {
  partnerId: string;
  countryCode: string;
  partyId: string;
  sessionKey: string;
}

export const sessionKeyOf = (partnerId: string, countryCode: string, partyId: string, sessionId: string): OcpiSessionKey => ({
  partnerId,
  countryCode: ciCanonical(countryCode),
  partyId: ciCanonical(partyId),
  sessionKey: sessionId.toLowerCase(),
});

export const keyOfRow = (r: Pick<OcpiSessionRow, 'partner_id' | 'country_code' | 'party_id' | 'session_key'>): OcpiSessionKey => ({
  partnerId: r.partner_id,
  countryCode: r.country_code,
  partyId: r.party_id,
  sessionKey: r.session_key,
});

export interface OcpiSessionView {
  partnerId: string;
  cpoId: string;
  countryCode: string;
  partyId: string;
  sessionId: string;
  status: string;
  lastUpdated: string;
  locationId: string;
  evseUid: string;
  uid: string | null;
  evseId: number | null;
  scspSessionId: string | null;
  mapNote: string | null;
  profileState: string | null;
  profile: unknown;
  profileAt: string | null;
  activeProfile: ActiveChargingProfile | null;
  activeProfileAt: string | null;
  session: OcpiSession;
}

export function ocpiSessionView(r: OcpiSessionRow): OcpiSessionView {
  return {
    partnerId: r.partner_id,
    cpoId: r.cpo_id,
    countryCode: r.country_code,
    partyId: r.party_id,
    sessionId: r.session_id,
    status: r.status,
    lastUpdated: r.last_updated,
    locationId: r.location_id,
    evseUid: r.evse_uid,
    uid: r.uid,
    evseId: r.evse_id,
    scspSessionId: r.scsp_session_id,
    mapNote: r.map_note,
    profileState: r.profile_state,
    profile: r.profile === null ? null : (JSON.parse(r.profile) as unknown),
    profileAt: r.profile_at,
    activeProfile: r.active_profile === null ? null : (JSON.parse(r.active_profile) as ActiveChargingProfile),
    activeProfileAt: r.active_profile_at,
    session: JSON.parse(r.object) as OcpiSession,
  };
}

export class OcpiScspStore {
  constructor(readonly db: ScspKysely) {}

  private where(db: ScspKysely, k: OcpiSessionKey) {
    return db
      .selectFrom('ocpi_sessions')
      .selectAll()
      .where('partner_id', '=', k.partnerId)
      .where('country_code', '=', k.countryCode)
      .where('party_id', '=', k.partyId)
      .where('session_key', '=', k.sessionKey);
  }

  async session(k: OcpiSessionKey, db: ScspKysely = this.db): Promise<OcpiSessionRow | undefined> {
    return this.where(db, k).executeTakeFirst();
  }

  /** A partner's session by id alone (the ChargingProfiles sender endpoint has no party in its URL). */
  async sessionById(partnerId: string, sessionId: string): Promise<OcpiSessionRow | undefined> {
    return this.db
      .selectFrom('ocpi_sessions')
      .selectAll()
      .where('partner_id', '=', partnerId)
      .where('session_key', '=', sessionId.toLowerCase())
      .orderBy('last_updated', 'desc')
      .executeTakeFirst();
  }

  /** The running OCPI session behind an SCSP session (it feeds it, or is its twin). */
  async forScspSession(cpoId: string, scspSessionId: string): Promise<OcpiSessionRow | undefined> {
    return this.db
      .selectFrom('ocpi_sessions')
      .selectAll()
      .where('cpo_id', '=', cpoId)
      .where('scsp_session_id', '=', scspSessionId)
      .where('status', 'in', ['ACTIVE', 'PENDING'])
      .orderBy('last_updated', 'desc')
      .executeTakeFirst();
  }

  /** Running OCPI sessions of a station that hold a profile we set (to clear them). */
  async withProfile(cpoId: string, uid: string): Promise<OcpiSessionRow[]> {
    return this.db
      .selectFrom('ocpi_sessions')
      .selectAll()
      .where('cpo_id', '=', cpoId)
      .where('uid', '=', uid)
      .where('status', 'in', ['ACTIVE', 'PENDING'])
      .where('profile_state', '=', 'set')
      .execute();
  }

  async list(f: { cpoId?: string; uid?: string; status?: string; limit?: number; offset?: number } = {}): Promise<{ rows: OcpiSessionRow[]; total: number }> {
    let q = this.db.selectFrom('ocpi_sessions');
    if (f.cpoId !== undefined) q = q.where('cpo_id', '=', f.cpoId);
    if (f.uid !== undefined) q = q.where('uid', '=', f.uid);
    if (f.status !== undefined) q = q.where('status', '=', f.status);
    const total = Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n ?? 0);
    const rows = await q
      .selectAll()
      .orderBy('last_updated', 'desc')
      .limit(f.limit ?? 50)
      .offset(f.offset ?? 0)
      .execute();
    return { rows, total };
  }

  async setProfileState(k: OcpiSessionKey, state: 'set' | 'rejected' | 'cleared', now: string, profile?: unknown): Promise<void> {
    await this.db
      .updateTable('ocpi_sessions')
      .set({ profile_state: state, profile_at: now, updated_at: now, ...(profile !== undefined ? { profile: JSON.stringify(profile) } : {}) })
      .where('partner_id', '=', k.partnerId)
      .where('country_code', '=', k.countryCode)
      .where('party_id', '=', k.partyId)
      .where('session_key', '=', k.sessionKey)
      .execute();
  }

  async setActiveProfile(k: OcpiSessionKey, profile: ActiveChargingProfile, now: string): Promise<void> {
    await this.db
      .updateTable('ocpi_sessions')
      .set({ active_profile: JSON.stringify(profile), active_profile_at: now, updated_at: now })
      .where('partner_id', '=', k.partnerId)
      .where('country_code', '=', k.countryCode)
      .where('party_id', '=', k.partyId)
      .where('session_key', '=', k.sessionKey)
      .execute();
  }

  // ── requests ──────────────────────────────────────────────────────────────────────────────────

  async insertRequest(r: ProfileRequestRow): Promise<void> {
    await this.db.insertInto('ocpi_profile_requests').values(r).execute();
  }

  async request(requestId: string): Promise<ProfileRequestRow | undefined> {
    return this.db.selectFrom('ocpi_profile_requests').selectAll().where('request_id', '=', requestId).executeTakeFirst();
  }

  async setSyncResult(requestId: string, syncResult: string): Promise<void> {
    await this.db.updateTable('ocpi_profile_requests').set({ sync_result: syncResult.slice(0, 500) }).where('request_id', '=', requestId).execute();
  }

  /** Record the async result once (the first answer wins); false when it was recorded before. */
  async recordResult(requestId: string, result: string, body: unknown, now: string): Promise<boolean> {
    const res = await this.db
      .updateTable('ocpi_profile_requests')
      .set({ result, result_body: JSON.stringify(body), answered_at: now })
      .where('request_id', '=', requestId)
      .where('result', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async purgeRequests(before: Date): Promise<number> {
    const res = await this.db.deleteFrom('ocpi_profile_requests').where('expires_at', '<', before.toISOString()).executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
