/**
 * What both management APIs (the CSMS's `/api/v1/ocpi/...`, src/api/v1/ocpi.ts, and the SCSP's,
 * src/scsp/routes-ocpi.ts) share: the partner view with every secret masked, and the inputs.
 *
 * | operation | what |
 * |---|---|
 * | create partner `{id, name?}` → `{partner, tokenA, versionsUrl}` | a peer will register with us: give it `versionsUrl` and `tokenA` out of band (shown once) |
 * | reissue token A | for a partner that is not registered (after a DELETE, or a lost token) |
 * | register `{versionsUrl, token, id?, name?, tokenEncoding?, auth?}` | we register with a peer that gave us its versions URL and token A |
 * | rotate | PUT new credentials to the peer (new tokens both ways) |
 * | delete `[?force=true]` | DELETE our credentials at the peer, then forget it |
 */
import { type PartnerAuthConfig, TOKEN_ENCODINGS, type TokenEncoding, parsePartnerAuth } from './core/auth.js';
import type { OcpiPartner } from './storage.js';
import type { RegisterInput } from './credentials.js';
import { isHttpUrl } from './core/strings.js';

export const MASK = '***';
export const PARTNER_ID_PATTERN = '^[A-Za-z0-9._-]{1,64}$';
const PARTNER_ID = new RegExp(PARTNER_ID_PATTERN);

export class OcpiAdminInputError extends Error {
  override name = 'OcpiAdminInputError';
}

export interface OcpiPartnerView {
  id: string;
  name: string;
  state: string;
  version: string | null;
  versionsUrl: string | null;
  tokenEncoding: string;
  roles: unknown[];
  endpoints: unknown[];
  /** The token the partner presents to us: which one of the handshake, and its first characters. */
  inboundToken: { kind: string; hint: string | null } | null;
  /** The token we present to the partner: never shown. */
  outboundToken: typeof MASK | null;
  /** A rotation of our token is under way. */
  rotating: boolean;
  auth: (Omit<PartnerAuthConfig, 'clientSecret' | 'apiKey'> & { clientSecret: typeof MASK; apiKey?: typeof MASK }) | null;
  createdAt: string;
  updatedAt: string;
  registeredAt: string | null;
}

export function partnerView(p: OcpiPartner): OcpiPartnerView {
  return {
    id: p.id,
    name: p.name,
    state: p.state,
    version: p.version,
    versionsUrl: p.versionsUrl,
    tokenEncoding: p.tokenEncoding,
    roles: p.roles,
    endpoints: p.endpoints,
    inboundToken: p.ourTokenKind ? { kind: p.ourTokenKind, hint: p.ourTokenHint } : null,
    outboundToken: p.theirToken !== null ? MASK : null,
    rotating: p.ourNextTokenHash !== null,
    auth: p.auth
      ? {
          type: p.auth.type,
          tokenUrl: p.auth.tokenUrl,
          clientId: p.auth.clientId,
          clientSecret: MASK,
          ...(p.auth.audience !== undefined ? { audience: p.auth.audience } : {}),
          ...(p.auth.apiKey !== undefined ? { apiKey: MASK } : {}),
        }
      : null,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    registeredAt: p.registeredAt,
  };
}

function object(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new OcpiAdminInputError('the body must be a JSON object');
  return body as Record<string, unknown>;
}

function optString(o: Record<string, unknown>, k: string, max: number): string | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim() === '' || v.length > max) throw new OcpiAdminInputError(`${k} must be a non-empty string of at most ${max} characters`);
  return v;
}

export function parsePartnerId(v: unknown, what = 'id'): string {
  if (typeof v !== 'string' || !PARTNER_ID.test(v)) throw new OcpiAdminInputError(`${what} must match ${PARTNER_ID_PATTERN}`);
  return v;
}

/** `{id, name?}` of a partner that will register with us. */
export function parseNewPartner(body: unknown): { id: string; name?: string } {
  const o = object(body);
  const unknown = Object.keys(o).filter((k) => k !== 'id' && k !== 'name');
  if (unknown.length) throw new OcpiAdminInputError(`unknown property '${unknown[0]}'`);
  const name = optString(o, 'name', 100);
  return { id: parsePartnerId(o.id), ...(name !== undefined ? { name } : {}) };
}

/** `{versionsUrl, token?, id?, name?, tokenEncoding?, auth?}`: register with a peer. */
export function parseRegistration(body: unknown): RegisterInput {
  const o = object(body);
  const allowed = ['versionsUrl', 'token', 'id', 'name', 'tokenEncoding', 'auth'];
  const unknown = Object.keys(o).filter((k) => !allowed.includes(k));
  if (unknown.length) throw new OcpiAdminInputError(`unknown property '${unknown[0]}'`);
  if (!isHttpUrl(o.versionsUrl)) throw new OcpiAdminInputError("versionsUrl must be the http(s) URL of the peer's versions endpoint");
  const token = optString(o, 'token', 255);
  const name = optString(o, 'name', 100);
  const id = o.id === undefined ? undefined : parsePartnerId(o.id);
  let tokenEncoding: TokenEncoding | undefined;
  if (o.tokenEncoding !== undefined) {
    if (!(TOKEN_ENCODINGS as readonly unknown[]).includes(o.tokenEncoding)) throw new OcpiAdminInputError(`tokenEncoding must be one of ${TOKEN_ENCODINGS.join(', ')}`);
    tokenEncoding = o.tokenEncoding as TokenEncoding;
  }
  let auth: PartnerAuthConfig | undefined;
  try {
    auth = parsePartnerAuth(o.auth);
  } catch (err) {
    throw new OcpiAdminInputError((err as Error).message);
  }
  if (token === undefined && auth === undefined) throw new OcpiAdminInputError("token (the peer's CREDENTIALS_TOKEN_A) is required");
  return {
    versionsUrl: o.versionsUrl,
    ...(token !== undefined ? { token } : {}),
    ...(id !== undefined ? { id } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(tokenEncoding !== undefined ? { tokenEncoding } : {}),
    ...(auth !== undefined ? { auth } : {}),
  };
}
