/**
 * OCPI partners: the other platforms this one has exchanged (or is exchanging) credentials with.
 * One `ocpi_partners` table, identical in the CSMS's database (src/store/migrations.ts, SQLite or
 * PostgreSQL) and in the SCSP's (src/scsp/store.ts), behind {@link OcpiPartnerRepository}; an in-memory
 * implementation serves tests and standalone nodes.
 *
 * Tokens:
 * - the token the partner presents to us (TOKEN_A while registration is pending; afterwards the B or C
 *   we issued) is kept as SHA-256 only, with a 4-character hint for display; during our own rotation a
 *   second, `next` token is valid too (the peer calls our versions endpoint with it before it answers);
 * - the token we present to the partner is kept in clear (it is sent).
 */
import type { Kysely } from 'kysely';
import type { CredentialsRole, Endpoint } from './core/types.js';
import type { PartnerAuthConfig, TokenEncoding } from './core/auth.js';

/** pending: TOKEN_A issued, waiting for the peer's POST · registering: our POST under way · registered · unregistered. */
export const PARTNER_STATES = ['pending', 'registering', 'registered', 'unregistered'] as const;
export type PartnerState = (typeof PARTNER_STATES)[number];

/** Which token of the handshake the partner presents to us. Only `A` is restricted (versions, credentials). */
export type TokenKind = 'A' | 'B' | 'C';

export interface OcpiPartnersTable {
  id: string;
  name: string;
  state: string;
  /** SHA-256 (hex) of the token the partner presents to us. */
  our_token_hash: string | null;
  our_token_kind: string | null;
  our_token_hint: string | null;
  /** SHA-256 of the token we are rotating to (valid alongside the current one until the peer confirms). */
  our_next_token_hash: string | null;
  /** The token we present to the partner (clear: it is sent). */
  their_token: string | null;
  /** The partner's versions endpoint. */
  versions_url: string | null;
  /** The OCPI version agreed (2.2.1, or 2.2 for a lenient peer). */
  version: string | null;
  /** auto | base64 | raw — how our Authorization header carries their token. */
  token_encoding: string;
  /** JSON Endpoint[] of the agreed version. */
  endpoints: string;
  /** JSON CredentialsRole[] the partner gave. */
  roles: string;
  /** JSON {@link PartnerAuthConfig}: an alternative outbound strategy (OAuth2 + ApiKey); null = OCPI Token. */
  auth: string | null;
  created_at: string;
  updated_at: string;
  registered_at: string | null;
}

export interface OcpiPartnersDatabase {
  ocpi_partners: OcpiPartnersTable;
}

export interface OcpiPartner {
  id: string;
  name: string;
  state: PartnerState;
  ourTokenHash: string | null;
  ourTokenKind: TokenKind | null;
  ourTokenHint: string | null;
  ourNextTokenHash: string | null;
  theirToken: string | null;
  versionsUrl: string | null;
  version: string | null;
  tokenEncoding: TokenEncoding;
  endpoints: Endpoint[];
  roles: CredentialsRole[];
  auth: PartnerAuthConfig | null;
  createdAt: string;
  updatedAt: string;
  registeredAt: string | null;
}

export type PartnerPatch = Partial<Omit<OcpiPartner, 'id' | 'createdAt' | 'updatedAt'>>;

export class DuplicatePartnerError extends Error {
  constructor(readonly partnerId: string) {
    super(`OCPI partner '${partnerId}' exists`);
    this.name = 'DuplicatePartnerError';
  }
}

export interface OcpiPartnerRepository {
  get(id: string): Promise<OcpiPartner | undefined>;
  list(): Promise<OcpiPartner[]>;
  /** The partner whose current or next inbound token has this hash. */
  findByTokenHash(hash: string): Promise<{ partner: OcpiPartner; slot: 'current' | 'next' } | undefined>;
  /** Throws {@link DuplicatePartnerError} when the id exists. */
  insert(p: Omit<OcpiPartner, 'createdAt' | 'updatedAt'>, now: Date): Promise<OcpiPartner>;
  /**
   * Apply `patch` when the row exists and — if `expectTokenHash` is given — its current inbound token
   * hash is still that (compare-and-set against a concurrent handshake). Undefined when not applied.
   */
  update(id: string, patch: PartnerPatch, now: Date, expectTokenHash?: string | null): Promise<OcpiPartner | undefined>;
  remove(id: string): Promise<boolean>;
}

// ── row mapping ─────────────────────────────────────────────────────────────────────────────────

function json<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function fromRow(r: OcpiPartnersTable): OcpiPartner {
  return {
    id: r.id,
    name: r.name,
    state: r.state as PartnerState,
    ourTokenHash: r.our_token_hash,
    ourTokenKind: r.our_token_kind as TokenKind | null,
    ourTokenHint: r.our_token_hint,
    ourNextTokenHash: r.our_next_token_hash,
    theirToken: r.their_token,
    versionsUrl: r.versions_url,
    version: r.version,
    tokenEncoding: r.token_encoding as TokenEncoding,
    endpoints: json<Endpoint[]>(r.endpoints, []),
    roles: json<CredentialsRole[]>(r.roles, []),
    auth: json<PartnerAuthConfig | null>(r.auth, null),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    registeredAt: r.registered_at,
  };
}

function patchToRow(p: PartnerPatch): Partial<OcpiPartnersTable> {
  const out: Partial<OcpiPartnersTable> = {};
  if (p.name !== undefined) out.name = p.name;
  if (p.state !== undefined) out.state = p.state;
  if (p.ourTokenHash !== undefined) out.our_token_hash = p.ourTokenHash;
  if (p.ourTokenKind !== undefined) out.our_token_kind = p.ourTokenKind;
  if (p.ourTokenHint !== undefined) out.our_token_hint = p.ourTokenHint;
  if (p.ourNextTokenHash !== undefined) out.our_next_token_hash = p.ourNextTokenHash;
  if (p.theirToken !== undefined) out.their_token = p.theirToken;
  if (p.versionsUrl !== undefined) out.versions_url = p.versionsUrl;
  if (p.version !== undefined) out.version = p.version;
  if (p.tokenEncoding !== undefined) out.token_encoding = p.tokenEncoding;
  if (p.endpoints !== undefined) out.endpoints = JSON.stringify(p.endpoints);
  if (p.roles !== undefined) out.roles = JSON.stringify(p.roles);
  if (p.auth !== undefined) out.auth = p.auth === null ? null : JSON.stringify(p.auth);
  if (p.registeredAt !== undefined) out.registered_at = p.registeredAt;
  return out;
}

function toRow(p: Omit<OcpiPartner, 'createdAt' | 'updatedAt'>, now: string): OcpiPartnersTable {
  return {
    id: p.id,
    name: p.name,
    state: p.state,
    our_token_hash: p.ourTokenHash,
    our_token_kind: p.ourTokenKind,
    our_token_hint: p.ourTokenHint,
    our_next_token_hash: p.ourNextTokenHash,
    their_token: p.theirToken,
    versions_url: p.versionsUrl,
    version: p.version,
    token_encoding: p.tokenEncoding,
    endpoints: JSON.stringify(p.endpoints),
    roles: JSON.stringify(p.roles),
    auth: p.auth === null ? null : JSON.stringify(p.auth),
    created_at: now,
    updated_at: now,
    registered_at: p.registeredAt,
  };
}

// ── Kysely ──────────────────────────────────────────────────────────────────────────────────────

/**
 * The repository on any database that has the `ocpi_partners` table (the CSMS's `Database`, the
 * SCSP's `ScspDatabase`). The constraint guarantees the table is there; Kysely's types are invariant in
 * the database type, hence the one widening below.
 */
export function kyselyPartnerRepository<DB extends OcpiPartnersDatabase>(database: Kysely<DB>): OcpiPartnerRepository {
  const db = database as unknown as Kysely<OcpiPartnersDatabase>;
  const isUniqueViolation = (err: unknown) => /unique|duplicate key/i.test(String((err as Error)?.message ?? ''));
  return {
    async get(id) {
      const r = await db.selectFrom('ocpi_partners').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? fromRow(r) : undefined;
    },
    async list() {
      return (await db.selectFrom('ocpi_partners').selectAll().orderBy('id').execute()).map(fromRow);
    },
    async findByTokenHash(hash) {
      const r = await db
        .selectFrom('ocpi_partners')
        .selectAll()
        .where((eb) => eb.or([eb('our_token_hash', '=', hash), eb('our_next_token_hash', '=', hash)]))
        .executeTakeFirst();
      if (!r) return undefined;
      return { partner: fromRow(r), slot: r.our_token_hash === hash ? 'current' : 'next' };
    },
    async insert(p, now) {
      const row = toRow(p, now.toISOString());
      try {
        await db.insertInto('ocpi_partners').values(row).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new DuplicatePartnerError(p.id);
        throw err;
      }
      return fromRow(row);
    },
    async update(id, patch, now, expectTokenHash) {
      let q = db
        .updateTable('ocpi_partners')
        .set({ ...patchToRow(patch), updated_at: now.toISOString() })
        .where('id', '=', id);
      if (expectTokenHash !== undefined) q = expectTokenHash === null ? q.where('our_token_hash', 'is', null) : q.where('our_token_hash', '=', expectTokenHash);
      const res = await q.executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return undefined;
      return this.get(id);
    },
    async remove(id) {
      const res = await db.deleteFrom('ocpi_partners').where('id', '=', id).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },
  };
}

/** The same contract in memory (tests, standalone nodes). */
export function memoryPartnerRepository(): OcpiPartnerRepository {
  const rows = new Map<string, OcpiPartnersTable>();
  return {
    async get(id) {
      const r = rows.get(id);
      return r ? fromRow(r) : undefined;
    },
    async list() {
      return [...rows.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(fromRow);
    },
    async findByTokenHash(hash) {
      for (const r of rows.values()) {
        if (r.our_token_hash === hash) return { partner: fromRow(r), slot: 'current' };
        if (r.our_next_token_hash === hash) return { partner: fromRow(r), slot: 'next' };
      }
      return undefined;
    },
    async insert(p, now) {
      if (rows.has(p.id)) throw new DuplicatePartnerError(p.id);
      const row = toRow(p, now.toISOString());
      rows.set(p.id, row);
      return fromRow(row);
    },
    async update(id, patch, now, expectTokenHash) {
      const r = rows.get(id);
      if (!r) return undefined;
      if (expectTokenHash !== undefined && r.our_token_hash !== expectTokenHash) return undefined;
      const next = { ...r, ...patchToRow(patch), updated_at: now.toISOString() };
      rows.set(id, next);
      return fromRow(next);
    },
    async remove(id) {
      return rows.delete(id);
    },
  };
}

/**
 * The `ocpi_partners` DDL, used by one released migration in each database (CSMS `0006_ocpi_partners`,
 * SCSP `0002_ocpi_partners`). Frozen: change the table with a new migration, never here.
 */
export async function createOcpiPartnersTable(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('ocpi_partners')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('our_token_hash', 'text', (c) => c.unique())
    .addColumn('our_token_kind', 'text')
    .addColumn('our_token_hint', 'text')
    .addColumn('our_next_token_hash', 'text', (c) => c.unique())
    .addColumn('their_token', 'text')
    .addColumn('versions_url', 'text')
    .addColumn('version', 'text')
    .addColumn('token_encoding', 'text', (c) => c.notNull())
    .addColumn('endpoints', 'text', (c) => c.notNull())
    .addColumn('roles', 'text', (c) => c.notNull())
    .addColumn('auth', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('registered_at', 'text')
    .execute();
}
