/**
 * SCSP partners (issue 6 §1): who Ampline forwards a paired station's events to, how it authenticates to
 * them (OAuth 2.0 client credentials + a static `ApiKey` header, seed 001), and the bearer token each
 * partner presents on Ampline's own `/v1/cpo/...` routes (seed 000 "Authorization: Bearer
 * <Your_Auth_Token>"; only its SHA-256 is stored).
 *
 * Partners come from the API (`/api/v1/partners`) and from an optional JSON file
 * (`AMPLINE_SCSP_PARTNERS_FILE`), which is upserted at start-up.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../store/schema.js';
import type { Clock } from '../util/clock.js';
import { ConfigError } from '../config.js';
import { bearerToken, isHttpUrl } from '../util/http.js';

export { bearerToken };

export type PayloadProtocol = 'ocpp2.0.1' | 'ocpp1.6';
export const PAYLOAD_PROTOCOLS: readonly PayloadProtocol[] = ['ocpp2.0.1', 'ocpp1.6'];

/** How a partner gets session data: seed 001 OCPP-format events, or OCPI Sessions (issue 8). */
export type SessionData = 'ocpp' | 'ocpi';
export const SESSION_DATA: readonly SessionData[] = ['ocpp', 'ocpi'];

export interface Partner {
  id: string;
  name: string;
  baseUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  audience?: string;
  apiKey: string;
  payloadProtocol: PayloadProtocol;
  enabled: boolean;
  /**
   * The partner's OCPI registration (an `ocpi_partners` id): the sessions of stations paired with this
   * partner are pushed there as OCPI Sessions, and that OCPI partner may steer them through OCPI
   * ChargingProfiles. Absent: no OCPI for this partner.
   */
  ocpiPartnerId?: string;
  /** `ocpp` (default): seed 001 OCPP-format events are forwarded · `ocpi`: OCPI Sessions only (needs ocpiPartnerId). */
  sessionData: SessionData;
}

/** A partner as given by an operator: the inbound token in clear (stored hashed). */
export interface PartnerInput extends Omit<Partner, 'enabled' | 'sessionData'> {
  inboundToken: string;
  enabled?: boolean;
  sessionData?: SessionData;
}

export const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** Validates one partner definition; messages name the field. */
export function parsePartner(raw: unknown, where = 'partner'): PartnerInput {
  const fail = (field: string, msg: string): never => {
    throw new ConfigError(`${where}: ${field} ${msg}`);
  };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return fail('', 'must be an object');
  const o = raw as Record<string, unknown>;
  const str = (k: string, min = 1): string => {
    const v = o[k];
    if (typeof v !== 'string' || v.length < min) fail(k, min > 1 ? `must be a string of at least ${min} characters` : 'must be a non-empty string');
    return v as string;
  };
  const id = str('id');
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) fail('id', 'may contain only letters, digits, ".", "_" and "-" (at most 64)');
  if (!isHttpUrl(o.baseUrl)) fail('baseUrl', 'must be an http(s) URL');
  if (!isHttpUrl(o.tokenUrl)) fail('tokenUrl', 'must be an http(s) URL');
  const payloadProtocol = o.payloadProtocol ?? 'ocpp2.0.1';
  if (!PAYLOAD_PROTOCOLS.includes(payloadProtocol as PayloadProtocol)) fail('payloadProtocol', `must be one of ${PAYLOAD_PROTOCOLS.join(', ')}`);
  if (o.audience !== undefined && typeof o.audience !== 'string') fail('audience', 'must be a string');
  if (o.enabled !== undefined && typeof o.enabled !== 'boolean') fail('enabled', 'must be true or false');
  if (o.ocpiPartnerId !== undefined && o.ocpiPartnerId !== null && (typeof o.ocpiPartnerId !== 'string' || o.ocpiPartnerId === '')) fail('ocpiPartnerId', 'must be a non-empty string (an OCPI partner id)');
  const sessionData = o.sessionData ?? 'ocpp';
  if (!SESSION_DATA.includes(sessionData as SessionData)) fail('sessionData', `must be one of ${SESSION_DATA.join(', ')}`);
  if (sessionData === 'ocpi' && typeof o.ocpiPartnerId !== 'string') fail('sessionData', '"ocpi" needs ocpiPartnerId (the OCPI registration the sessions go to)');
  const out: PartnerInput = {
    id,
    name: typeof o.name === 'string' && o.name !== '' ? o.name : id,
    baseUrl: (o.baseUrl as string).replace(/\/+$/, ''),
    tokenUrl: o.tokenUrl as string,
    clientId: str('clientId'),
    clientSecret: str('clientSecret'),
    apiKey: str('apiKey'),
    payloadProtocol: payloadProtocol as PayloadProtocol,
    inboundToken: str('inboundToken', 16),
  };
  if (typeof o.audience === 'string' && o.audience !== '') out.audience = o.audience;
  if (typeof o.enabled === 'boolean') out.enabled = o.enabled;
  if (typeof o.ocpiPartnerId === 'string') out.ocpiPartnerId = o.ocpiPartnerId;
  if (sessionData !== 'ocpp') out.sessionData = sessionData as SessionData;
  return out;
}

/** Reads AMPLINE_SCSP_PARTNERS_FILE: `[partner, …]` or `{ "partners": [ … ] }`. */
export function loadPartnersFile(path: string): PartnerInput[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`AMPLINE_SCSP_PARTNERS_FILE: cannot read ${path}: ${(err as Error).message}`);
  }
  const list = raw && typeof raw === 'object' && !Array.isArray(raw) && 'partners' in raw ? (raw as { partners: unknown }).partners : raw;
  if (!Array.isArray(list)) throw new ConfigError(`AMPLINE_SCSP_PARTNERS_FILE ${path}: must be an array of partners (or {"partners": [...]})`);
  const seen = new Set<string>();
  return list.map((p, i) => {
    const parsed = parsePartner(p, `AMPLINE_SCSP_PARTNERS_FILE ${path} [${i}]`);
    if (seen.has(parsed.id)) throw new ConfigError(`AMPLINE_SCSP_PARTNERS_FILE ${path} [${i}]: id "${parsed.id}" is used twice`);
    seen.add(parsed.id);
    return parsed;
  });
}

type Row = Selectable<Database['scsp_partners']>;

function fromRow(r: Row): Partner {
  const p: Partner = {
    id: r.id,
    name: r.name,
    baseUrl: r.base_url,
    tokenUrl: r.token_url,
    clientId: r.client_id,
    clientSecret: r.client_secret,
    apiKey: r.api_key,
    payloadProtocol: r.payload_protocol as PayloadProtocol,
    enabled: r.enabled === 1,
    sessionData: r.session_data === 'ocpi' ? 'ocpi' : 'ocpp',
  };
  if (r.audience !== null) p.audience = r.audience;
  if (r.ocpi_partner_id !== null) p.ocpiPartnerId = r.ocpi_partner_id;
  return p;
}

/** The partner with secrets masked, for APIs and logs. */
export function publicPartner(p: Partner): Omit<Partner, 'clientSecret' | 'apiKey'> & { clientSecret: string; apiKey: string } {
  return { ...p, clientSecret: '***', apiKey: '***' };
}

export class DuplicateInboundTokenError extends Error {
  constructor() {
    super('another partner already uses this inbound token');
    this.name = 'DuplicateInboundTokenError';
  }
}

export class PartnerService {
  constructor(private readonly deps: { db: Kysely<Database>; clock: Clock }) {}

  async list(): Promise<Partner[]> {
    return (await this.deps.db.selectFrom('scsp_partners').selectAll().orderBy('id').execute()).map(fromRow);
  }

  async get(id: string): Promise<Partner | undefined> {
    const r = await this.deps.db.selectFrom('scsp_partners').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? fromRow(r) : undefined;
  }

  /** Create or replace a partner. */
  async upsert(p: PartnerInput): Promise<Partner> {
    const now = this.deps.clock.now().toISOString();
    const hash = sha256(p.inboundToken);
    const clash = await this.deps.db.selectFrom('scsp_partners').select('id').where('inbound_token_hash', '=', hash).where('id', '!=', p.id).executeTakeFirst();
    if (clash) throw new DuplicateInboundTokenError();
    const row = {
      name: p.name,
      base_url: p.baseUrl,
      token_url: p.tokenUrl,
      client_id: p.clientId,
      client_secret: p.clientSecret,
      audience: p.audience ?? null,
      api_key: p.apiKey,
      payload_protocol: p.payloadProtocol,
      inbound_token_hash: hash,
      enabled: p.enabled === false ? 0 : 1,
      ocpi_partner_id: p.ocpiPartnerId ?? null,
      session_data: p.sessionData ?? 'ocpp',
      updated_at: now,
    };
    await this.deps.db
      .insertInto('scsp_partners')
      .values({ id: p.id, created_at: now, ...row })
      .onConflict((oc) => oc.column('id').doUpdateSet(row))
      .execute();
    return (await this.get(p.id)) as Partner;
  }

  async remove(id: string): Promise<boolean> {
    const res = await this.deps.db.deleteFrom('scsp_partners').where('id', '=', id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  /** The enabled partner whose inbound token this is (constant-time compare of the hashes). */
  async authenticate(bearer: string | undefined): Promise<Partner | undefined> {
    if (!bearer) return undefined;
    const hash = sha256(bearer);
    const r = await this.deps.db.selectFrom('scsp_partners').selectAll().where('inbound_token_hash', '=', hash).executeTakeFirst();
    if (!r || r.enabled !== 1) return undefined;
    const a = Buffer.from(r.inbound_token_hash, 'hex');
    const b = Buffer.from(hash, 'hex');
    return a.length === b.length && timingSafeEqual(a, b) ? fromRow(r) : undefined;
  }
}
