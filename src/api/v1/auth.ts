/**
 * /api/v1 authentication: `X-API-Key: <key>` or `Authorization: Bearer <key>`.
 *
 * - The configured AMPLINE_API_KEY is the bootstrap admin key. It is never stored; it is compared in
 *   constant time (SHA-256 of both sides, then `timingSafeEqual`, so the length leaks nothing either).
 * - Keys made through `POST /api/v1/api-keys` are `amp_` + 32 base64url characters (192 random bits).
 *   Only their SHA-256 is stored (unique, indexed, used for the lookup) with an 8-character display
 *   prefix. A slow KDF (scrypt, argon2) protects low-entropy secrets people choose; for server-made
 *   192-bit keys a preimage attack on SHA-256 is already out of reach, and a per-request KDF would cost
 *   tens of milliseconds of CPU on every call (a denial-of-service lever). A server-side pepper (HMAC)
 *   would need one more shared secret across nodes and would tie every key to it; not worth it here.
 * - Scopes: `read` (GET resources) ⊂ `command` (send commands) ⊂ `admin` (keys and id tokens).
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { ApiKeyRow, Database } from '../../store/schema.js';
import type { Clock } from '../../util/clock.js';
import { ApiError } from '../errors.js';

export const SCOPES = ['read', 'command', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

const RANK: Record<Scope, number> = { read: 1, command: 2, admin: 3 };

/** A key holding `held` may do what `needed` allows (admin ⊇ command ⊇ read). */
export function scopeAllows(held: readonly Scope[], needed: Scope): boolean {
  return held.some((s) => RANK[s] >= RANK[needed]);
}

export const KEY_PREFIX = 'amp_';
/** Characters shown as `prefix` (the `amp_` marker plus 8 random characters). */
const DISPLAY_PREFIX_LENGTH = KEY_PREFIX.length + 8;

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateKey(): string {
  return KEY_PREFIX + randomBytes(24).toString('base64url');
}

export interface Principal {
  /** `bootstrap` for the configured key, else the api_keys row id. */
  keyId: string;
  scopes: readonly Scope[];
}

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  createdAt: string;
  createdBy: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export function parseScopes(text: string): Scope[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
}

export function apiKeyView(r: ApiKeyRow): ApiKeyView {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    scopes: parseScopes(r.scopes),
    createdAt: r.created_at,
    createdBy: r.created_by,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

/** How often `last_used_at` is written per key (a write on every request would be wasteful). */
const LAST_USED_RESOLUTION_MS = 60_000;

export class ApiKeyAuth {
  private readonly bootstrapDigest: Buffer;
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(
    private readonly deps: { db: Kysely<Database>; clock: Clock; bootstrapKey: string; onError: (err: unknown) => void },
  ) {
    this.bootstrapDigest = createHash('sha256').update(deps.bootstrapKey, 'utf8').digest();
  }

  /** The key the request presents, or undefined. X-API-Key wins over Authorization. */
  static presentedKey(req: FastifyRequest): string | undefined {
    const x = req.headers['x-api-key'];
    if (typeof x === 'string' && x.length > 0) return x;
    const auth = req.headers.authorization;
    if (typeof auth === 'string') {
      const m = /^Bearer[ ]+(\S+)\s*$/i.exec(auth);
      if (m) return m[1];
    }
    return undefined;
  }

  async authenticate(key: string | undefined): Promise<Principal> {
    if (!key) throw new ApiError('Unauthorized', 'Missing API key: send X-API-Key or Authorization: Bearer');
    if (key.length > 512) throw new ApiError('Unauthorized', 'Unknown or revoked API key');
    const digest = createHash('sha256').update(key, 'utf8').digest();
    if (timingSafeEqual(digest, this.bootstrapDigest)) return { keyId: 'bootstrap', scopes: ['admin'] };
    const row = await this.deps.db.selectFrom('api_keys').selectAll().where('hash', '=', digest.toString('hex')).executeTakeFirst();
    if (!row || row.revoked_at !== null) throw new ApiError('Unauthorized', 'Unknown or revoked API key');
    this.touch(row.id);
    return { keyId: row.id, scopes: parseScopes(row.scopes) };
  }

  /** Fastify onRequest hook for a route needing `scope`: 401 before 403, both before the body is read. */
  guard(scope: Scope): (req: FastifyRequest) => Promise<void> {
    return async (req) => {
      const principal = await this.authenticate(ApiKeyAuth.presentedKey(req));
      if (!scopeAllows(principal.scopes, scope)) {
        throw new ApiError('Forbidden', `This API key lacks the '${scope}' scope`, { requiredScope: scope });
      }
      (req as FastifyRequest & { principal?: Principal }).principal = principal;
    };
  }

  static principalOf(req: FastifyRequest): Principal | undefined {
    return (req as FastifyRequest & { principal?: Principal }).principal;
  }

  private touch(id: string): void {
    const now = this.deps.clock.now();
    const last = this.lastUsedWritten.get(id);
    if (last !== undefined && now.getTime() - last < LAST_USED_RESOLUTION_MS) return;
    this.lastUsedWritten.set(id, now.getTime());
    if (this.lastUsedWritten.size > 10_000) this.lastUsedWritten.clear();
    this.deps.db
      .updateTable('api_keys')
      .set({ last_used_at: now.toISOString() })
      .where('id', '=', id)
      .execute()
      .catch(this.deps.onError);
  }

  async create(name: string, scopes: readonly Scope[], createdBy: string): Promise<{ view: ApiKeyView; key: string }> {
    const key = generateKey();
    const row: ApiKeyRow = {
      id: randomUUID(),
      name,
      prefix: key.slice(0, DISPLAY_PREFIX_LENGTH),
      hash: hashKey(key),
      scopes: [...new Set(scopes)].join(','),
      created_at: this.deps.clock.now().toISOString(),
      created_by: createdBy,
      last_used_at: null,
      revoked_at: null,
    };
    await this.deps.db.insertInto('api_keys').values(row).execute();
    return { view: apiKeyView(row), key };
  }

  /** Revoke (idempotent: the first revocation time is kept). False when no such key. */
  async revoke(id: string): Promise<boolean> {
    const row = await this.deps.db.selectFrom('api_keys').select(['id', 'revoked_at']).where('id', '=', id).executeTakeFirst();
    if (!row) return false;
    if (row.revoked_at === null) {
      await this.deps.db.updateTable('api_keys').set({ revoked_at: this.deps.clock.now().toISOString() }).where('id', '=', id).execute();
    }
    return true;
  }
}
