/**
 * Hand-written SQL for the hottest write path (meter values and transaction events: thousands of
 * statements per second), executed without Kysely's query builder and compiler, which cost more CPU
 * per statement than SQLite's own work on it.
 *
 * The statements are plain SQL that SQLite and PostgreSQL both accept, written with `?` placeholders:
 * - SQLite: run synchronously on the better-sqlite3 connection behind the Kysely instance, as cached
 *   prepared statements. Only inside a transaction Kysely holds (a GroupCommit unit), which is checked:
 *   Kysely's single connection is then ours until the unit returns.
 * - PostgreSQL: `?` becomes `$1…$n` and the statement runs on the unit's transaction through
 *   `executeQuery`.
 */
import type SQLite from 'better-sqlite3';
import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';
import { sqliteHandleOf } from './db.js';

type Trx = Transaction<Database>;

export class RawSql {
  private static readonly instances = new WeakMap<Kysely<Database>, RawSql>();
  private readonly statements = new Map<string, SQLite.Statement>();
  private readonly pgText = new Map<string, string>();

  private constructor(private readonly sqlite: SQLite.Database | undefined) {}

  /** The executor for a database opened by `openDb` (any other Kysely instance: through Kysely). */
  static of(db: Kysely<Database>): RawSql {
    let r = RawSql.instances.get(db);
    if (!r) RawSql.instances.set(db, (r = new RawSql(sqliteHandleOf(db))));
    return r;
  }

  /** True on the embedded SQLite database (statements run synchronously on its only connection). */
  get embedded(): boolean {
    return this.sqlite !== undefined;
  }

  /** Runs an INSERT/UPDATE/DELETE in the unit's transaction; resolves to the number of rows changed. */
  run(trx: Trx, sql: string, params: readonly unknown[]): number | Promise<number> {
    if (this.sqlite) return this.prepared(sql).run(params).changes;
    return trx.executeQuery(CompiledQuery.raw(this.pg(sql), params as unknown[])).then((r) => Number(r.numAffectedRows ?? 0n));
  }

  /** The first row of a SELECT in the unit's transaction. */
  first<T>(trx: Trx, sql: string, params: readonly unknown[]): T | undefined | Promise<T | undefined> {
    if (this.sqlite) return this.prepared(sql).get(params) as T | undefined;
    return trx.executeQuery<T>(CompiledQuery.raw(this.pg(sql), params as unknown[])).then((r) => r.rows[0]);
  }

  private prepared(sql: string): SQLite.Statement {
    const db = this.sqlite!;
    // Outside Kysely's transaction the statement could land in another unit's transaction, or in none.
    if (!db.inTransaction) throw new Error('RawSql: SQLite statements run only inside a write transaction');
    let stmt = this.statements.get(sql);
    if (!stmt) this.statements.set(sql, (stmt = db.prepare(sql)));
    return stmt;
  }

  private pg(sql: string): string {
    let text = this.pgText.get(sql);
    if (text === undefined) {
      let n = 0;
      this.pgText.set(sql, (text = sql.replace(/\?/g, () => `$${++n}`)));
    }
    return text;
  }
}

/** `(?, ?, …)` repeated `rows` times for `cols` columns. */
export function valuesPlaceholders(rows: number, cols: number): string {
  const one = `(${new Array<string>(cols).fill('?').join(', ')})`;
  return new Array<string>(rows).fill(one).join(', ');
}
