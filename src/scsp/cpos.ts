/**
 * The registry of CPO clients (issue 7 §1): who may obtain access tokens (OAuth 2.0 client credentials)
 * and call `/v1/scsp/...` (with the static `ApiKey` header), and how the SCSP calls the CPO back (its base
 * URL, the bearer token the CPO gave the SCSP for its `/v1/cpo/...` routes, the payload protocol).
 *
 * Client secrets and API keys are stored as SHA-256 only (secrets.ts); the CPO bearer token is kept in
 * clear because the SCSP has to send it. CPOs come from the admin API (`/api/v1/cpos`) and from an
 * optional JSON file (AMPLINE_SCSP_CPOS_FILE), upserted at start-up.
 *
 * OCPI link (issue 8 §5), per CPO:
 * - `ocpiPartnerId` names the CPO's OCPI registration at this SCSP (an `ocpi_partners` id, see
 *   `/api/v1/ocpi/...`). Only that OCPI partner may push Sessions for the CPO's paired stations (the
 *   Sessions receiver refuses an OCPI partner no CPO names), and the `ocpi` profile route calls it. One
 *   OCPI partner belongs to at most one CPO record. The id may name a registration that does not exist
 *   yet (registration can come later); the admin API answers a warning then.
 * - `profileRoute`: `ocpp-format` (default; protocols.md §1.6, station-level SetChargingProfile) or
 *   `ocpi` (OCPI ChargingProfiles per session; needs `ocpiPartnerId`). Changing it takes effect with the
 *   next plan sent.
 */
import { readFileSync } from 'node:fs';
import type { ScspKysely, CposTable } from './store.js';
import type { Clock } from '../util/clock.js';
import { MIN_SECRET_LENGTH, matchesHash, randomSecret, sha256 } from './secrets.js';
import { ScspConfigError } from './config.js';
import { isHttpUrl } from '../util/http.js';

export type PayloadProtocol = 'ocpp2.0.1' | 'ocpp1.6';
export const PAYLOAD_PROTOCOLS: readonly PayloadProtocol[] = ['ocpp2.0.1', 'ocpp1.6'];
export const isPayloadProtocol = (s: unknown): s is PayloadProtocol => PAYLOAD_PROTOCOLS.includes(s as PayloadProtocol);

/** How plans reach a CPO: the OCPP-format route (protocols.md §1.6) or OCPI ChargingProfiles. */
export type ProfileRoute = 'ocpp-format' | 'ocpi';
export const PROFILE_ROUTES: readonly ProfileRoute[] = ['ocpp-format', 'ocpi'];
export const isProfileRoute = (s: unknown): s is ProfileRoute => PROFILE_ROUTES.includes(s as ProfileRoute);

/** A CPO as the SCSP uses it (no secrets of the CPO's own: those are hashes). */
export interface Cpo {
  id: string;
  name: string;
  clientId: string;
  baseUrl: string;
  /** Bearer token for the CPO's `/v1/cpo/...` routes. */
  cpoToken: string;
  payloadProtocol: PayloadProtocol;
  enabled: boolean;
  /** The CPO's OCPI registration at this SCSP (`ocpi_partners.id`), if any. */
  ocpiPartnerId?: string;
  profileRoute: ProfileRoute;
  createdAt: string;
  updatedAt: string;
}

/** A CPO as an operator gives it. Absent secrets are generated (new CPO) or kept (existing CPO). */
export interface CpoInput {
  id: string;
  name?: string;
  baseUrl: string;
  cpoToken: string;
  payloadProtocol: PayloadProtocol;
  clientId?: string;
  clientSecret?: string;
  apiKey?: string;
  enabled?: boolean;
  /** `null` removes the link (PUT replaces the record: absent removes it too). */
  ocpiPartnerId?: string | null;
  profileRoute?: ProfileRoute;
}

/** Credentials of a CPO in clear: returned once, when created or rotated. */
export interface CpoCredentials {
  clientId: string;
  clientSecret?: string;
  apiKey?: string;
}

export class CpoInputError extends Error {
  override name = 'CpoInputError';
}

/** The "keep the stored secret" marker (as the admin API shows secrets). */
const MASK = '***';

/** Validates one CPO definition; messages name the field. */
export function parseCpo(raw: unknown, where = 'cpo'): CpoInput {
  const fail = (field: string, msg: string): never => {
    throw new CpoInputError(`${where}: ${field ? field + ' ' : ''}${msg}`);
  };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return fail('', 'must be an object');
  const o = raw as Record<string, unknown>;
  const known = new Set(['id', 'name', 'baseUrl', 'cpoToken', 'payloadProtocol', 'clientId', 'clientSecret', 'apiKey', 'enabled', 'ocpiPartnerId', 'profileRoute']);
  for (const k of Object.keys(o)) if (!known.has(k)) fail(k, 'is not a known field');
  if (typeof o.id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(o.id)) fail('id', 'must be 1–64 letters, digits, ".", "_" or "-"');
  if (!isHttpUrl(o.baseUrl)) fail('baseUrl', 'must be an http(s) URL');
  if (typeof o.cpoToken !== 'string' || o.cpoToken.length < MIN_SECRET_LENGTH || /\s/.test(o.cpoToken)) {
    fail('cpoToken', `must be a string of at least ${MIN_SECRET_LENGTH} characters without spaces`);
  }
  const pp = o.payloadProtocol ?? 'ocpp2.0.1';
  if (!isPayloadProtocol(pp)) fail('payloadProtocol', `must be one of ${PAYLOAD_PROTOCOLS.join(', ')}`);
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name.length > 200)) fail('name', 'must be a string of at most 200 characters');
  if (o.clientId !== undefined && (typeof o.clientId !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(o.clientId) || o.clientId.includes(':'))) {
    fail('clientId', 'must be 1–128 printable ASCII characters without spaces or ":"');
  }
  for (const k of ['clientSecret', 'apiKey'] as const) {
    const v = o[k];
    if (v !== undefined && v !== MASK && (typeof v !== 'string' || v.length < MIN_SECRET_LENGTH || v.length > 512)) {
      fail(k, `must be a string of ${MIN_SECRET_LENGTH}–512 characters (or "${MASK}" to keep the stored one)`);
    }
  }
  if (o.enabled !== undefined && typeof o.enabled !== 'boolean') fail('enabled', 'must be true or false');
  if (o.ocpiPartnerId !== undefined && o.ocpiPartnerId !== null && (typeof o.ocpiPartnerId !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(o.ocpiPartnerId))) {
    fail('ocpiPartnerId', 'must be an OCPI partner id (1–64 letters, digits, ".", "_" or "-") or null');
  }
  const route = o.profileRoute ?? 'ocpp-format';
  if (!isProfileRoute(route)) fail('profileRoute', `must be one of ${PROFILE_ROUTES.join(', ')}`);
  if (route === 'ocpi' && typeof o.ocpiPartnerId !== 'string') fail('profileRoute', '"ocpi" needs ocpiPartnerId (the CPO\'s OCPI registration the profiles go to)');
  const out: CpoInput = { id: o.id as string, baseUrl: (o.baseUrl as string).replace(/\/+$/, ''), cpoToken: o.cpoToken as string, payloadProtocol: pp as PayloadProtocol };
  if (typeof o.name === 'string' && o.name !== '') out.name = o.name;
  if (typeof o.clientId === 'string') out.clientId = o.clientId;
  if (typeof o.clientSecret === 'string' && o.clientSecret !== MASK) out.clientSecret = o.clientSecret;
  if (typeof o.apiKey === 'string' && o.apiKey !== MASK) out.apiKey = o.apiKey;
  if (typeof o.enabled === 'boolean') out.enabled = o.enabled;
  if (typeof o.ocpiPartnerId === 'string') out.ocpiPartnerId = o.ocpiPartnerId;
  else if (o.ocpiPartnerId === null) out.ocpiPartnerId = null;
  out.profileRoute = route as ProfileRoute;
  return out;
}

/** Reads AMPLINE_SCSP_CPOS_FILE: `[cpo, …]` or `{ "cpos": [ … ] }`; file CPOs must give their secrets. */
export function loadCposFile(path: string): CpoInput[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ScspConfigError(`AMPLINE_SCSP_CPOS_FILE: cannot read ${path}: ${(err as Error).message}`);
  }
  const list = raw && typeof raw === 'object' && !Array.isArray(raw) && 'cpos' in raw ? (raw as { cpos: unknown }).cpos : raw;
  if (!Array.isArray(list)) throw new ScspConfigError(`AMPLINE_SCSP_CPOS_FILE ${path}: must be an array of CPOs (or {"cpos": [...]})`);
  const seen = new Set<string>();
  return list.map((c, i) => {
    const where = `AMPLINE_SCSP_CPOS_FILE ${path} [${i}]`;
    let parsed: CpoInput;
    try {
      parsed = parseCpo(c, where);
    } catch (err) {
      throw new ScspConfigError((err as Error).message);
    }
    if (!parsed.clientId || !parsed.clientSecret || !parsed.apiKey) throw new ScspConfigError(`${where}: clientId, clientSecret and apiKey are required in the file`);
    if (seen.has(parsed.id)) throw new ScspConfigError(`${where}: id "${parsed.id}" is used twice`);
    seen.add(parsed.id);
    return parsed;
  });
}

function fromRow(r: CposTable): Cpo {
  const c: Cpo = {
    id: r.id,
    name: r.name,
    clientId: r.client_id,
    baseUrl: r.base_url,
    cpoToken: r.cpo_token,
    payloadProtocol: r.payload_protocol as PayloadProtocol,
    enabled: r.enabled === 1,
    profileRoute: isProfileRoute(r.profile_route) ? r.profile_route : 'ocpp-format',
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.ocpi_partner_id !== null) c.ocpiPartnerId = r.ocpi_partner_id;
  return c;
}

/** The CPO for APIs and logs: the token masked. */
export function publicCpo(c: Cpo): Omit<Cpo, 'cpoToken'> & { cpoToken: string } {
  return { ...c, cpoToken: MASK };
}

export class CpoRegistry {
  constructor(private readonly deps: { db: ScspKysely; clock: Clock }) {}

  async list(): Promise<Cpo[]> {
    return (await this.deps.db.selectFrom('cpos').selectAll().orderBy('id').execute()).map(fromRow);
  }

  async get(id: string): Promise<Cpo | undefined> {
    const r = await this.deps.db.selectFrom('cpos').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? fromRow(r) : undefined;
  }

  /**
   * Create or replace a CPO. A new CPO without `clientId`/`clientSecret`/`apiKey` gets generated ones;
   * an existing CPO keeps the stored ones unless new ones are given. The credentials given or generated
   * are returned in clear (once). A client id taken by another CPO is refused.
   */
  async upsert(input: CpoInput): Promise<{ cpo: Cpo; created: boolean; credentials: CpoCredentials }> {
    const now = this.deps.clock.now().toISOString();
    const existing = await this.deps.db.selectFrom('cpos').selectAll().where('id', '=', input.id).executeTakeFirst();
    const clientId = input.clientId ?? existing?.client_id ?? `cpo-${input.id}`;
    const clash = await this.deps.db.selectFrom('cpos').select('id').where('client_id', '=', clientId).where('id', '!=', input.id).executeTakeFirst();
    if (clash) throw new CpoInputError(`clientId "${clientId}" is used by CPO "${clash.id}"`);
    const ocpiPartnerId = input.ocpiPartnerId ?? null;
    if (ocpiPartnerId !== null) {
      const taken = await this.deps.db.selectFrom('cpos').select('id').where('ocpi_partner_id', '=', ocpiPartnerId).where('id', '!=', input.id).executeTakeFirst();
      if (taken) throw new CpoInputError(`ocpiPartnerId "${ocpiPartnerId}" is linked to CPO "${taken.id}"`);
    }
    const profileRoute = input.profileRoute ?? 'ocpp-format';
    if (profileRoute === 'ocpi' && ocpiPartnerId === null) throw new CpoInputError('profileRoute "ocpi" needs ocpiPartnerId');
    const credentials: CpoCredentials = { clientId };
    let secretHash = existing?.client_secret_hash;
    if (input.clientSecret !== undefined || !secretHash) {
      const secret = input.clientSecret ?? randomSecret();
      credentials.clientSecret = secret;
      secretHash = sha256(secret);
    }
    let apiKeyHash = existing?.api_key_hash;
    if (input.apiKey !== undefined || !apiKeyHash) {
      const key = input.apiKey ?? randomSecret();
      credentials.apiKey = key;
      apiKeyHash = sha256(key);
    }
    const row = {
      name: input.name ?? existing?.name ?? input.id,
      client_id: clientId,
      client_secret_hash: secretHash,
      api_key_hash: apiKeyHash,
      base_url: input.baseUrl,
      cpo_token: input.cpoToken,
      payload_protocol: input.payloadProtocol,
      enabled: input.enabled === false ? 0 : 1,
      ocpi_partner_id: ocpiPartnerId,
      profile_route: profileRoute,
      updated_at: now,
    };
    await this.deps.db
      .insertInto('cpos')
      .values({ id: input.id, created_at: now, ...row })
      .onConflict((oc) => oc.column('id').doUpdateSet(row))
      .execute();
    if (input.enabled === false || credentials.clientSecret !== undefined) {
      // Disabled, or a new secret: tokens issued before no longer count.
      if (existing) await this.deps.db.deleteFrom('access_tokens').where('cpo_id', '=', input.id).execute();
    }
    return { cpo: (await this.get(input.id))!, created: !existing, credentials };
  }

  /** Removes the CPO and its tokens. */
  async remove(id: string): Promise<boolean> {
    return this.deps.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('access_tokens').where('cpo_id', '=', id).execute();
      const res = await trx.deleteFrom('cpos').where('id', '=', id).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    });
  }

  /** The enabled CPO whose client credentials these are. */
  async authenticateClient(clientId: string, clientSecret: string): Promise<Cpo | undefined> {
    const r = await this.deps.db.selectFrom('cpos').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    // Hash anyway when the client is unknown, so unknown and wrong-secret cost the same.
    const ok = matchesHash(clientSecret, r?.client_secret_hash ?? sha256(''));
    return r && ok && r.enabled === 1 ? fromRow(r) : undefined;
  }

  /** The CPO record linked to an OCPI partner (its `ocpiPartnerId`). */
  async byOcpiPartner(ocpiPartnerId: string): Promise<Cpo | undefined> {
    const r = await this.deps.db.selectFrom('cpos').selectAll().where('ocpi_partner_id', '=', ocpiPartnerId).executeTakeFirst();
    return r ? fromRow(r) : undefined;
  }

  /** Whether `apiKey` is the CPO's static `ApiKey`. */
  async checkApiKey(cpoId: string, apiKey: string): Promise<boolean> {
    const r = await this.deps.db.selectFrom('cpos').select('api_key_hash').where('id', '=', cpoId).executeTakeFirst();
    return r !== undefined && matchesHash(apiKey, r.api_key_hash);
  }
}
