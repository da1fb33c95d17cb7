/**
 * Group commit: units of work that arrive while a commit is in progress are written together in the
 * next database transaction, and each caller is answered only after that transaction committed. Many
 * stations' MeterValues then cost one commit instead of one each (SQLite has one writer anyway).
 *
 * A unit that fails does not take others down: the batch is rolled back and every unit of it is run
 * again in a transaction of its own, so only the failing one reports its error.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

export type Work<T> = (trx: Transaction<Database>) => Promise<T>;

interface Job {
  work: Work<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  private queue: Job[] = [];
  private running = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly maxBatch = 256,
  ) {}

  run<T>(work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work: work as Work<unknown>, resolve: resolve as (v: unknown) => void, reject });
      if (!this.running) {
        this.running = true;
        // Let the rest of this event-loop turn add its work to the first batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      if (batch.length === 1) {
        await this.runAlone(batch[0]!);
        continue;
      }
      const results: unknown[] = [];
      try {
        await this.db.transaction().execute(async (trx) => {
          for (const job of batch) results.push(await job.work(trx));
        });
      } catch {
        for (const job of batch) await this.runAlone(job);
        continue;
      }
      batch.forEach((job, i) => job.resolve(results[i]));
    }
    this.running = false;
  }

  private async runAlone(job: Job): Promise<void> {
    try {
      job.resolve(await this.db.transaction().execute(job.work));
    } catch (err) {
      job.reject(err);
    }
  }
}
