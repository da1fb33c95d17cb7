import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { type Dialect, migrateToLatest } from './migrations.js';

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** Human-readable location (file path or sanitized URL) for logs. */
  location: string;
  close(): Promise<void>;
}

export interface OpenDbOptions {
  /** Directory for the SQLite file (created if missing). Ignored when databaseUrl is set. */
  dataDir: string;
  /** postgres://… to use PostgreSQL instead of the embedded SQLite file. */
  databaseUrl?: string | undefined;
  /** Run migrations on open (default true). */
  migrate?: boolean;
  /** PostgreSQL only: schema to use (created if missing); default the server's search_path. */
  pgSchema?: string | undefined;
  /** PostgreSQL only: pool size (default 10). */
  pgPoolSize?: number;
}

function sanitize(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable)';
  }
}

async function openPostgres(opts: OpenDbOptions & { databaseUrl: string }): Promise<Db> {
  const schema = opts.pgSchema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid PostgreSQL schema name ${schema}`);
  if (schema) {
    const c = new pg.Client({ connectionString: opts.databaseUrl });
    await c.connect();
    try {
      await c.query(`create schema if not exists ${schema}`);
    } finally {
      await c.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: opts.databaseUrl,
    max: opts.pgPoolSize ?? 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  if (opts.migrate !== false) await migrateToLatest(kysely as Kysely<any>, 'postgres', schema);
  return {
    kysely,
    dialect: 'postgres',
    location: sanitize(opts.databaseUrl) + (schema ? ` (schema ${schema})` : ''),
    close: async () => {
      await kysely.destroy();
    },
  };
}

/**
 * Kysely's SQLite driver prepares every statement on every execution (BEGIN and COMMIT included);
 * preparing is ~12% of the server's CPU on the MeterValues path. Ampline issues a few dozen distinct
 * statements, so a small LRU of prepared statements removes that cost.
 */
function cachingStatements(sqlite: SQLite.Database, max = 500): { close(): void; prepare(sql: string): SQLite.Statement } {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string): SQLite.Statement {
      let stmt = statements.get(sql);
      if (stmt) {
        statements.delete(sql);
      } else {
        stmt = sqlite.prepare(sql);
        if (statements.size >= max) statements.delete(statements.keys().next().value!);
      }
      statements.set(sql, stmt);
      return stmt;
    },
  };
}

export async function openDb(opts: OpenDbOptions): Promise<Db> {
  if (opts.databaseUrl) return openPostgres({ ...opts, databaseUrl: opts.databaseUrl });
  mkdirSync(opts.dataDir, { recursive: true });
  const file = join(opts.dataDir, 'ampline.sqlite');
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('cache_size = -32768'); // 32 MiB page cache: the meter-value indexes stay in memory
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
  if (opts.migrate !== false) await migrateToLatest(kysely as Kysely<any>, 'sqlite');
  return {
    kysely,
    dialect: 'sqlite',
    location: file,
    close: async () => {
      await kysely.destroy();
    },
  };
}
