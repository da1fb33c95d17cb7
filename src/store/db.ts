import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
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
  /**
   * SQLite only: who checkpoints the write-ahead log. `background` (default): a worker thread with its
   * own connection, so that copying WAL pages into the database file never stalls the event loop;
   * `auto`: SQLite's automatic checkpoint inside whichever commit crosses 1,000 pages.
   */
  walCheckpoint?: 'background' | 'auto';
}

/** The better-sqlite3 connection behind each embedded database's Kysely instance. */
const sqliteHandles = new WeakMap<Kysely<Database>, SQLite.Database>();

/**
 * The better-sqlite3 connection of a Kysely instance opened by {@link openDb} on SQLite (undefined on
 * PostgreSQL). Statements on it bypass Kysely's connection mutex: use it only inside a transaction
 * that Kysely holds (a GroupCommit unit), or for reads that may see another unit's uncommitted rows.
 */
export function sqliteHandleOf(db: Kysely<Database>): SQLite.Database | undefined {
  return sqliteHandles.get(db);
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
 * statements, so a small cache of prepared statements removes that cost (a hit is one lookup; when
 * full, the statement prepared first goes).
 */
function cachingStatements(sqlite: SQLite.Database, max = 500): { close(): void; prepare(sql: string): SQLite.Statement } {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string): SQLite.Statement {
      let stmt = statements.get(sql);
      if (!stmt) {
        stmt = sqlite.prepare(sql);
        if (statements.size >= max) statements.delete(statements.keys().next().value!);
        statements.set(sql, stmt);
      }
      return stmt;
    },
  };
}

/**
 * Checkpoints the WAL from a worker thread with its own connection, so that copying WAL pages into the
 * database file (and its fsyncs) never stalls the event loop. The worker runs PASSIVE checkpoints,
 * which never wait for or block the writer.
 *
 * A passive checkpoint copies the frames committed before it started; under a steady write load the
 * writer has always committed more by the time it ends, and the log starts over only when a write
 * transaction begins with every frame copied. So when the log has grown past `restartFrames` (128 MiB
 * of 4 KiB pages: a few seconds of MeterValues at full load) the worker catches up (passes until one
 * copies at most `catchUpFrames`) and tells the main thread, which checkpoints the frames committed
 * since (about one group commit: ~10-30 ms on the benchmark VM) between two of its own transactions;
 * its next write transaction then starts the log over and cuts the file back to `journal_size_limit`.
 * No checkpoint mode that blocks writers is used: a RESTART waiting for the writer's read lock while
 * the writer waits for its write lock would stall both until a busy timeout.
 *
 * After a tick without any commit the worker truncates the log file (TRUNCATE, with a 20 ms busy
 * timeout so that it gives way at once to a writer that comes back).
 *
 * While the worker runs, the main connection checkpoints by itself only when the log reaches twice
 * `restartFrames` (the worker cannot keep up: the writer then pays for the copying, which slows it
 * down instead of letting the log grow without bound); if the worker fails, back to SQLite's default.
 */
const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 20');
let running = true;
let lastLog = -1;
const passive = () => db.pragma('wal_checkpoint(PASSIVE)')[0];
const tick = () => {
  if (!running) return;
  try {
    let r = passive();
    if (r.log > 0 && r.log === lastLog && r.checkpointed === r.log) {
      // Nothing committed since the last tick: empty the log file (a busy writer makes this fail fast).
      r = db.pragma('wal_checkpoint(TRUNCATE)')[0];
    } else if (r.log >= workerData.restartFrames) {
      // Catch up with the writer first (each pass copies what was committed during the one before),
      // so that the main thread has little more than its latest commit to copy.
      for (let i = 0; i < 8; i++) {
        const before = r.log;
        r = passive();
        if (r.log - before <= workerData.catchUpFrames) break;
      }
      parentPort.postMessage(r.log);
    }
    lastLog = r.log;
  } catch (err) {
    if (!String(err && err.code).startsWith('SQLITE_BUSY')) throw err;
  }
  if (running) setTimeout(tick, workerData.intervalMs);
};
setTimeout(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'close') return;
  running = false;
  db.close();
  parentPort.close();
});
`;

interface Checkpointer {
  stop(): Promise<void>;
}

function startCheckpointer(sqlite: SQLite.Database, file: string, intervalMs = 500, restartFrames = 32768, catchUpFrames = 256): Checkpointer {
  sqlite.pragma(`wal_autocheckpoint = ${restartFrames * 2}`);
  const worker = new Worker(CHECKPOINTER_SOURCE, {
    eval: true,
    workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), file, intervalMs, restartFrames, catchUpFrames },
  });
  worker.unref();
  let failed = false;
  let finishing = false;
  // Between two transactions of the main connection (a unit may await across event-loop turns).
  const finish = (): void => {
    if (!sqlite.open) return;
    if (sqlite.inTransaction) {
      setTimeout(finish, 1).unref();
      return;
    }
    finishing = false;
    try {
      sqlite.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // Busy (the worker is checkpointing): its next report brings us back.
    }
  };
  worker.on('message', () => {
    if (finishing) return;
    finishing = true;
    setImmediate(finish);
  });
  worker.on('error', () => {
    // Back to checkpoints in the committing connection: the log must not grow without bound.
    failed = true;
    if (sqlite.open) sqlite.pragma('wal_autocheckpoint = 1000');
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    async stop() {
      if (!failed) worker.postMessage('close');
      const timer = setTimeout(() => void worker.terminate(), 5000);
      await exited;
      clearTimeout(timer);
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
  // Under load the log starts over after about 128 MiB (see startCheckpointer) and its file is reused;
  // cut back only beyond 256 MiB (truncating on every restart stalls the commit that does it). The
  // checkpointer empties it once writes pause.
  sqlite.pragma('journal_size_limit = 268435456');
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
  sqliteHandles.set(kysely, sqlite);
  if (opts.migrate !== false) await migrateToLatest(kysely as Kysely<any>, 'sqlite');
  const checkpointer = (opts.walCheckpoint ?? 'background') === 'background' ? startCheckpointer(sqlite, file) : undefined;
  return {
    kysely,
    dialect: 'sqlite',
    location: file,
    close: async () => {
      // The worker's connection first: the last connection to close checkpoints and removes the log.
      await checkpointer?.stop();
      await kysely.destroy();
    },
  };
}
