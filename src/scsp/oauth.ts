/**
 * Authentication of CPOs (seed 001 "Authentication and Authorization"; protocols.md §1.1):
 *
 * 1. **Token endpoint** `POST /oauth/token` — OAuth 2.0 client credentials grant (RFC 6749 §4.4).
 *    Form-encoded `grant_type=client_credentials`, `client_id`, `client_secret`, `audience` (Auth0-style,
 *    optional). Client authentication by the body parameters or HTTP Basic (RFC 6749 §2.3.1, both
 *    url-encoded); Ampline's own CPO side sends both, so both at once are accepted when they agree.
 *    A JSON body is accepted too (lenient). Answers:
 *
 *    | case | status | body |
 *    |---|---|---|
 *    | issued | 200 | `{access_token, token_type: "Bearer", expires_in}` with `Cache-Control: no-store` |
 *    | no grant_type, repeated parameter, conflicting body/Basic credentials, unknown audience, bad body | 400 | `{error: "invalid_request", error_description}` |
 *    | grant_type other than client_credentials | 400 | `{error: "unsupported_grant_type"}` |
 *    | no credentials, unknown client, wrong secret, disabled CPO | 401 | `{error: "invalid_client"}` + `WWW-Authenticate: Basic` |
 *
 *    Tokens are opaque (32 random bytes, base64url), stored as SHA-256 with their expiry
 *    (AMPLINE_SCSP_TOKEN_TTL_S, default 3600 s). A new token does not revoke older ones (a CPO running
 *    several nodes may hold several).
 *
 * 2. **Partner guard** for every `/v1/scsp/...` route: `Authorization: Bearer <access token>` (issued
 *    here, not expired, CPO enabled) **and** the static header `ApiKey` equal to that CPO's key. Failure
 *    is 401 `{message}` with `WWW-Authenticate: Bearer` (`error="invalid_token"` for an unknown or expired
 *    token, so clients know to fetch a new one). It runs as an `onRequest` hook, before the body is read.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { ScspKysely } from './store.js';
import { type Cpo, type CpoRegistry } from './cpos.js';
import { bearerToken, randomSecret, sha256 } from './secrets.js';
import type { ScspMetrics } from './metrics.js';

export const REALM = 'ampline-scsp';

export class TokenService {
  constructor(private readonly deps: { db: ScspKysely; clock: Clock; ttlS: number }) {}

  get ttlS(): number {
    return this.deps.ttlS;
  }

  async issue(cpoId: string, audience: string | undefined): Promise<{ token: string; expiresIn: number }> {
    const token = randomSecret(32);
    const now = this.deps.clock.now();
    await this.deps.db
      .insertInto('access_tokens')
      .values({
        token_hash: sha256(token),
        cpo_id: cpoId,
        audience: audience ?? null,
        issued_at: now.toISOString(),
        expires_at: new Date(now.getTime() + this.deps.ttlS * 1000).toISOString(),
      })
      .execute();
    return { token, expiresIn: this.deps.ttlS };
  }

  /** The CPO id of a valid (issued, unexpired) token. */
  async verify(token: string): Promise<string | undefined> {
    const now = this.deps.clock.now().toISOString();
    const r = await this.deps.db.selectFrom('access_tokens').select('cpo_id').where('token_hash', '=', sha256(token)).where('expires_at', '>', now).executeTakeFirst();
    return r?.cpo_id;
  }

  /** Forget tokens that expired before `before`. */
  async purge(before: Date): Promise<number> {
    const res = await this.deps.db.deleteFrom('access_tokens').where('expires_at', '<', before.toISOString()).executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}

// ── token endpoint ───────────────────────────────────────────────────────────────────────────

type OAuthError = 'invalid_request' | 'invalid_client' | 'unsupported_grant_type';

interface TokenRouteDeps {
  tokens: TokenService;
  cpos: CpoRegistry;
  log: Logger;
  metrics: ScspMetrics;
  /** Accepted `audience` values; undefined = any. */
  audiences: string[] | undefined;
}

/** Form body → parameters, remembering repeated ones (RFC 6749 §3.2: "MUST NOT be included more than once"). */
interface FormParams {
  values: Record<string, string>;
  repeated: string[];
}

function parseForm(text: string): FormParams {
  const sp = new URLSearchParams(text);
  const values: Record<string, string> = {};
  const repeated: string[] = [];
  for (const k of new Set(sp.keys())) {
    const all = sp.getAll(k);
    if (all.length > 1) repeated.push(k);
    values[k] = all[all.length - 1]!;
  }
  return { values, repeated };
}

/** HTTP Basic client authentication: both parts are form-url-encoded before base64 (RFC 6749 §2.3.1). */
function basicCredentials(header: unknown): { id: string; secret: string } | undefined | 'malformed' {
  if (typeof header !== 'string') return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=._~-]+)\s*$/i.exec(header);
  if (!m) return /^Basic\b/i.test(header) ? 'malformed' : undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  try {
    const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: dec(decoded.slice(0, colon)), secret: dec(decoded.slice(colon + 1)) };
  } catch {
    return 'malformed';
  }
}

export function registerTokenEndpoint(http: FastifyInstance, deps: TokenRouteDeps): void {
  void http.register(async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => {
      done(null, parseForm(body as string));
    });
    app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => {
      try {
        const parsed: unknown = (body as string).trim() === '' ? {} : JSON.parse(body as string);
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return done(null, { values: {}, repeated: [], invalid: true });
        const values: Record<string, string> = {};
        for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') values[k] = v;
        done(null, { values, repeated: [] });
      } catch {
        done(null, { values: {}, repeated: [], invalid: true });
      }
    });

    const fail = (reply: FastifyReply, status: number, error: OAuthError, description?: string) => {
      deps.metrics.tokens.inc({ result: error });
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      if (error === 'invalid_client') reply.header('www-authenticate', `Basic realm="${REALM}"`);
      return reply.code(status).send(description ? { error, error_description: description } : { error });
    };

    app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
      const status = err.statusCode ?? 500;
      if (status >= 400 && status < 500) return fail(reply, 400, 'invalid_request', err.message || 'bad request');
      deps.log.error({ err, url: req.url }, 'token endpoint failed');
      return reply.code(500).send({ error: 'server_error' });
    });

    app.post('/oauth/token', async (req: FastifyRequest, reply: FastifyReply) => {
      const form = (req.body ?? { values: {}, repeated: [] }) as FormParams & { invalid?: boolean };
      if (form.invalid) return fail(reply, 400, 'invalid_request', 'the body must be application/x-www-form-urlencoded parameters');
      if (form.repeated.length > 0) return fail(reply, 400, 'invalid_request', `parameter ${form.repeated.join(', ')} given more than once`);
      const p = form.values;
      const grant = p.grant_type;
      if (grant === undefined || grant === '') return fail(reply, 400, 'invalid_request', 'grant_type is required');

      const basic = basicCredentials(req.headers.authorization);
      if (basic === 'malformed') return fail(reply, 401, 'invalid_client', 'malformed Basic credentials');
      if (basic && p.client_id !== undefined && p.client_id !== basic.id) return fail(reply, 400, 'invalid_request', 'client_id differs from the Basic credentials');
      if (basic && p.client_secret !== undefined && p.client_secret !== basic.secret) return fail(reply, 400, 'invalid_request', 'client_secret differs from the Basic credentials');
      const clientId = basic?.id ?? p.client_id;
      const secret = basic?.secret ?? p.client_secret;

      if (grant !== 'client_credentials') return fail(reply, 400, 'unsupported_grant_type', 'only client_credentials is supported');
      if (!clientId || !secret) return fail(reply, 401, 'invalid_client', 'client authentication is required');
      const cpo = await deps.cpos.authenticateClient(clientId, secret);
      if (!cpo) return fail(reply, 401, 'invalid_client', 'unknown client or wrong secret');
      const audience = p.audience === '' ? undefined : p.audience;
      if (audience !== undefined && deps.audiences && !deps.audiences.includes(audience)) {
        return fail(reply, 400, 'invalid_request', 'unknown audience');
      }
      const { token, expiresIn } = await deps.tokens.issue(cpo.id, audience);
      deps.metrics.tokens.inc({ result: 'issued' });
      deps.log.info({ cpoId: cpo.id, expiresIn }, 'access token issued');
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      return { access_token: token, token_type: 'Bearer', expires_in: expiresIn };
    });
  });
}

// ── partner guard ────────────────────────────────────────────────────────────────────────────

const cpoByRequest = new WeakMap<FastifyRequest, Cpo>();

/** Fastify `onRequest` hook: 401 `{message}` unless Bearer access token and `ApiKey` are the same enabled CPO's. */
export function requireCpo(deps: { tokens: TokenService; cpos: CpoRegistry; metrics: ScspMetrics }) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const deny = (message: string, invalidToken: boolean) => {
      deps.metrics.authFailures.inc({ reason: invalidToken ? 'token' : 'api_key' });
      return reply
        .code(401)
        .header('www-authenticate', invalidToken ? `Bearer realm="${REALM}", error="invalid_token"` : `Bearer realm="${REALM}"`)
        .send({ message });
    };
    const token = bearerToken(req.headers.authorization);
    if (!token || token.length > 1024) return deny('Unauthorized: a Bearer access token is required', false);
    const cpoId = await deps.tokens.verify(token);
    const cpo = cpoId !== undefined ? await deps.cpos.get(cpoId) : undefined;
    if (!cpo || !cpo.enabled) return deny('Unauthorized: invalid or expired access token', true);
    const apiKey = req.headers.apikey;
    if (typeof apiKey !== 'string' || apiKey === '' || !(await deps.cpos.checkApiKey(cpo.id, apiKey))) {
      return deny('Unauthorized: missing or invalid ApiKey', false);
    }
    cpoByRequest.set(req, cpo);
    return undefined;
  };
}

/** The CPO {@link requireCpo} authenticated for this request. */
export function cpoOf(req: FastifyRequest): Cpo {
  const c = cpoByRequest.get(req);
  if (!c) throw new Error('cpoOf: route is not guarded by requireCpo');
  return c;
}

