/**
 * The outbox dispatcher (issue 6 §3): delivers the rows `outbox.ts` writes, at least once, in order per
 * station, to the partner they were written for.
 *
 * - **Wake-ups**: right after the commit that wrote rows (`wake`), after a backoff delay (a timer per
 *   station), and on a poll (`pollIntervalMs`, default 2 s; also at start-up, so a restart resumes).
 *   After failed deliveries to a partner (no answer, 5xx, …; not 429), its first success ends every
 *   backoff wait for that partner: the waiting head rows become due now (`next_attempt_at`) and their
 *   stations are queued at once (at most once per `recoveryMinIntervalMs`, default 1 s), so a backlog
 *   drains as soon as the SCSP is back instead of after each station's backoff (up to 5 min).
 * - **Order**: a station's rows go out strictly in `id` order: only its oldest `pending` row is ever in
 *   flight, and while that row waits for a retry the station's queue waits too. Different stations
 *   are delivered in parallel (`concurrency`, default 16), each taking at most `rowsPerTurn` rows
 *   before letting others go first. A turn looks the station's pairing and partner up once.
 * - **Delivery**: `ScspClient.post` (keep-alive connection pool; Bearer + ApiKey, one token refresh on
 *   401) with `Idempotency-Key: <row key>`. Outcome updates go through a group commit: deliveries
 *   that end together are marked in one database transaction.
 *   - 2xx → `delivered`.
 *   - 401 (after the client's refresh), 408, 425, 429, 5xx, no answer (status 0), anything not 4xx
 *     → retry: exponential backoff from `retryBaseMs` (1 s) doubling up to `retryMaxMs` (5 min), with
 *     jitter (each delay drawn from [d/2, d]); the station's queue is blocked meanwhile.
 *   - Other 4xx (400, 404, …) → `dead` (dead letter, `last_error` kept); the station's next row follows.
 *   - After `maxAttempts` tries (default 200) or when a row is older than `maxAgeMs` (default 48 h)
 *     when its turn comes → `dead`. `POST /api/v1/outbox/{id}/retry` makes a dead row pending again.
 *   - The station is no longer paired with the row's partner, or the partner is disabled, removed or
 *     now takes OCPI Sessions (`sessionData` `ocpi`) → `cancelled` (not sent).
 * - **Crash safety**: the row is marked only after the SCSP answered (and the station's next row is
 *   sent only after that mark committed); a crash in between re-sends it (at-least-once — the
 *   unchanged idempotency key lets the SCSP drop the copy). A row whose reading was replaced while it
 *   was in flight (meter aggregation) changes key and is sent again.
 */
import type { Kysely, Selectable } from 'kysely';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../store/schema.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { DomainEvents } from '../services/events.js';
import { DEFAULT_SCSP_FORWARDING, type ScspForwardingConfig } from '../config.js';
import type { ScspClient, ScspResponse } from './client.js';
import type { Partner, PartnerService } from './partners.js';
import { OutboxWriter } from './outbox.js';
import { GroupCommit } from '../store/group-commit.js';

// ── metrics ──────────────────────────────────────────────────────────────────────────────────

export interface ForwardingMetrics {
  enqueued: Counter<'partner' | 'kind'>;
  notForwarded: Counter<'reason'>;
  repeats: Counter<'kind'>;
  forwarded: Counter<'partner' | 'kind'>;
  failures: Counter<'partner' | 'kind' | 'outcome'>;
  latency: Histogram<'kind'>;
  backlog: Gauge<'partner'>;
}

/** The forwarding metrics, on `registry` (the CSMS's) or a private one. The backlog is counted at scrape time. */
export function createForwardingMetrics(registry: Registry | undefined, db: Kysely<Database>): ForwardingMetrics {
  const registers = [registry ?? new Registry()];
  return {
    enqueued: new Counter({
      name: 'ampline_scsp_outbox_enqueued_total',
      help: 'Rows written to the SCSP outbox, by partner and OCPP action',
      labelNames: ['partner', 'kind'] as const,
      registers,
    }),
    notForwarded: new Counter({
      name: 'ampline_scsp_not_forwarded_total',
      help: 'Events or readings of paired stations not written to the outbox: invalid (fails the OCPP schema), unsupported (protocol), after_end, duplicate, aggregated (meter cadence)',
      labelNames: ['reason'] as const,
      registers,
    }),
    repeats: new Counter({
      name: 'ampline_scsp_meter_repeats_total',
      help: 'Readings forwarded by the max-gap sweep: deferred (not forwarded before) or repeat (forwarded before), always with their original timestamp',
      labelNames: ['kind'] as const,
      registers,
    }),
    forwarded: new Counter({
      name: 'ampline_scsp_forwarded_total',
      help: 'Outbox rows delivered to an SCSP (2xx), by partner and OCPP action',
      labelNames: ['partner', 'kind'] as const,
      registers,
    }),
    failures: new Counter({
      name: 'ampline_scsp_forward_failures_total',
      help: 'Failed deliveries to an SCSP: retry (will be tried again), dead (dead-lettered), cancelled (station unpaired / partner disabled)',
      labelNames: ['partner', 'kind', 'outcome'] as const,
      registers,
    }),
    latency: new Histogram({
      name: 'ampline_scsp_forward_latency_seconds',
      help: 'From writing an outbox row (the state change) to the SCSP accepting it',
      labelNames: ['kind'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers,
    }),
    backlog: new Gauge({
      name: 'ampline_scsp_outbox_backlog',
      help: 'Pending outbox rows, by partner',
      labelNames: ['partner'] as const,
      registers,
      async collect() {
        try {
          const rows = await db
            .selectFrom('outbox')
            .select(['partner_id', (eb) => eb.fn.countAll<number | string>().as('n')])
            .where('state', '=', 'pending')
            .groupBy('partner_id')
            .execute();
          this.reset();
          for (const r of rows) this.set({ partner: r.partner_id }, Number(r.n));
        } catch {
          // database closed or busy: keep the last values
        }
      },
    }),
  };
}

// ── pure rules ───────────────────────────────────────────────────────────────────────────────

export type DeliveryOutcome = 'delivered' | 'retry' | 'dead';

/** What an SCSP's HTTP status means for the row (status 0: no answer). */
export function classifyStatus(status: number): DeliveryOutcome {
  if (status >= 200 && status <= 299) return 'delivered';
  if (status === 401 || status === 408 || status === 425 || status === 429) return 'retry';
  if (status >= 400 && status <= 499) return 'dead';
  return 'retry';
}

/** Delay before try `attempt + 1` after `attempt` failures (≥ 1): base·2^(attempt−1) capped at max, drawn from [d/2, d]. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return Math.round(d / 2 + (random() * d) / 2);
}

function describe(res: ScspResponse): string {
  if (res.status === 0) return `no answer: ${res.error ?? 'unknown error'}`.slice(0, 500);
  const b = res.body;
  let detail = '';
  if (b && typeof b === 'object') detail = JSON.stringify(b);
  else if (typeof b === 'string') detail = b;
  return `HTTP ${res.status}${detail ? `: ${detail}` : ''}`.slice(0, 500);
}

// ── the dispatcher ───────────────────────────────────────────────────────────────────────────

export interface ForwarderOptions {
  concurrency: number;
  pollIntervalMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** 0: no limit. */
  maxAttempts: number;
  /** 0: no limit. */
  maxAgeMs: number;
  rowsPerTurn: number;
  /** After failures, the first success wakes the partner's backed-off stations — at most this often. */
  recoveryMinIntervalMs: number;
}

export const DEFAULT_FORWARDER_OPTIONS: ForwarderOptions = {
  concurrency: 16,
  pollIntervalMs: 2000,
  retryBaseMs: 1000,
  retryMaxMs: 300_000,
  maxAttempts: 200,
  maxAgeMs: 48 * 3600 * 1000,
  rowsPerTurn: 100,
  recoveryMinIntervalMs: 1000,
};

export interface ForwarderDeps {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  client: ScspClient;
  partners: PartnerService;
  metrics: ForwardingMetrics;
  options?: Partial<ForwarderOptions>;
  random?: () => number;
  /** Group commit for the outcome updates (default: the forwarder's own). */
  writer?: GroupCommit;
}

type OutboxRow = Selectable<Database['outbox']>;

/** A station's pairing and its partner, looked up once per dispatcher turn. */
interface StationTarget {
  /** The partner the station is paired with now; undefined: not paired. */
  pairedWith: string | undefined;
  /** That partner; undefined: removed. */
  partner: Partner | undefined;
}

/** Why a row for `partnerId` must not be sent to the station's current target (undefined: send it). */
function cancelReason(t: StationTarget, partnerId: string): string | undefined {
  if (t.pairedWith === undefined) return 'station is no longer paired';
  if (t.pairedWith !== partnerId) return `station is now paired with partner ${t.pairedWith}`;
  if (!t.partner) return 'partner removed';
  if (!t.partner.enabled) return 'partner disabled';
  if (t.partner.sessionData === 'ocpi') return 'partner takes OCPI Sessions (session data "ocpi"), not OCPP-format events';
  return undefined;
}

/** Rows read per query beyond the one being sent (the last row read is always read again, see `drain`). */
const READ_AHEAD = 16;

export class Forwarder {
  private readonly opts: ForwarderOptions;
  private readonly writer: GroupCommit;
  /** Stations waiting for a worker, in arrival order. */
  private readonly ready = new Set<string>();
  private readonly running = new Map<string, Promise<void>>();
  /** Stations woken while their worker ran: look again when it ends. */
  private readonly again = new Set<string>();
  /** Stations blocked until their head row's next attempt, and that row's partner. */
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; partnerId: string }>();
  /** The row being sent, per station. */
  private readonly sending = new Map<string, number>();
  /** Partners with a failed delivery (no answer, 5xx, …) since their last success. */
  private readonly failing = new Set<string>();
  /** Per partner: when its backed-off stations were last woken (performance.now()), and a deferred wake-up. */
  private readonly lastRecovery = new Map<string, number>();
  private readonly recoveryTimers = new Map<string, NodeJS.Timeout>();
  /** Partners as last read, with the columns that tell whether the row changed since. */
  private readonly partnerCache = new Map<string, { version: string; partner: Partner }>();
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: ForwarderDeps) {
    this.opts = { ...DEFAULT_FORWARDER_OPTIONS, ...deps.options };
    this.writer = deps.writer ?? new GroupCommit(deps.db);
  }

  start(): void {
    this.pollTimer = setInterval(() => void this.poll(), this.opts.pollIntervalMs);
    this.pollTimer.unref();
    setImmediate(() => void this.poll());
  }

  /** Stop waking stations; wait (bounded) for deliveries under way. Unsent rows stay pending. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    for (const t of this.recoveryTimers.values()) clearTimeout(t);
    this.recoveryTimers.clear();
    this.ready.clear();
    const busy = [...this.running.values()];
    if (busy.length > 0) await Promise.race([Promise.allSettled(busy), new Promise((r) => setTimeout(r, 5000).unref())]);
    await this.polling;
  }

  /** The row being sent for a station right now. */
  sendingRow(stationId: string): number | undefined {
    return this.sending.get(stationId);
  }

  /** Deliver the station's pending rows. `force` also ends a backoff wait (a dead row was retried). */
  wake(stationId: string, opts: { force?: boolean } = {}): void {
    if (this.stopped) return;
    const t = this.timers.get(stationId);
    if (t) {
      if (!opts.force) return;
      clearTimeout(t.timer);
      this.timers.delete(stationId);
    }
    if (this.running.has(stationId)) {
      this.again.add(stationId);
      return;
    }
    this.ready.add(stationId);
    this.pump();
  }

  /** Find every station with pending rows (start-up, missed wake-ups). */
  poll(): Promise<void> {
    if (this.polling) return this.polling;
    this.polling = (async () => {
      if (this.stopped) return;
      const rows = await this.deps.db.selectFrom('outbox').select('station_id').distinct().where('state', '=', 'pending').execute();
      for (const r of rows) {
        if (!this.running.has(r.station_id) && !this.timers.has(r.station_id)) this.ready.add(r.station_id);
      }
      this.pump();
    })()
      .catch((err: unknown) => {
        if (!this.stopped) this.deps.log.warn({ err }, 'SCSP outbox poll failed');
      })
      .finally(() => {
        this.polling = undefined;
      });
    return this.polling;
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.opts.concurrency && this.ready.size > 0) {
      const stationId = this.ready.values().next().value as string;
      this.ready.delete(stationId);
      if (this.running.has(stationId)) {
        this.again.add(stationId);
        continue;
      }
      const p = this.drain(stationId)
        .catch((err: unknown) => {
          if (!this.stopped) this.deps.log.error({ err, stationId }, 'SCSP outbox delivery failed; retried on the next poll');
        })
        .finally(() => {
          this.running.delete(stationId);
          if (this.again.delete(stationId) && !this.timers.has(stationId)) this.ready.add(stationId);
          this.pump();
        });
      this.running.set(stationId, p);
    }
  }

  private schedule(stationId: string, partnerId: string, delayMs: number): void {
    const old = this.timers.get(stationId);
    if (old) clearTimeout(old.timer);
    const timer = setTimeout(() => {
      this.timers.delete(stationId);
      this.wake(stationId);
    }, Math.max(0, Math.min(delayMs, 2 ** 31 - 1)));
    timer.unref();
    this.timers.set(stationId, { timer, partnerId });
  }

  /**
   * The station's pairing and partner (one query; the partner object is reused while the columns that
   * matter — `updated_at`, `enabled`, `session_data`, `base_url`, `api_key` — are unchanged).
   */
  private async lookup(stationId: string): Promise<StationTarget> {
    const r = await this.deps.db
      .selectFrom('pairings')
      .leftJoin('scsp_partners', 'scsp_partners.id', 'pairings.partner_id')
      .select([
        'pairings.partner_id as pairedWith',
        'scsp_partners.id as partnerId',
        'scsp_partners.updated_at as updatedAt',
        'scsp_partners.enabled as enabled',
        'scsp_partners.session_data as sessionData',
        'scsp_partners.base_url as baseUrl',
        'scsp_partners.api_key as apiKey',
      ])
      .where('pairings.station_id', '=', stationId)
      .executeTakeFirst();
    if (!r) return { pairedWith: undefined, partner: undefined };
    if (r.partnerId === null || r.partnerId === undefined) return { pairedWith: r.pairedWith, partner: undefined };
    const version = `${r.updatedAt}\u0000${r.enabled}\u0000${r.sessionData}\u0000${r.baseUrl}\u0000${r.apiKey}`;
    const hit = this.partnerCache.get(r.pairedWith);
    if (hit && hit.version === version) return { pairedWith: r.pairedWith, partner: hit.partner };
    const partner = await this.deps.partners.get(r.pairedWith);
    if (partner) this.partnerCache.set(r.pairedWith, { version, partner });
    else this.partnerCache.delete(r.pairedWith);
    return { pairedWith: r.pairedWith, partner };
  }

  /** Close a row (dead / cancelled) unless it changed meanwhile. */
  private async close(row: OutboxRow, state: 'dead' | 'cancelled', error: string, attempts = row.attempts): Promise<boolean> {
    const res = await this.writer.run((trx) =>
      trx
        .updateTable('outbox')
        .set({ state, attempts, last_error: error })
        .where('id', '=', row.id)
        .where('idempotency_key', '=', row.idempotency_key)
        .where('state', '=', 'pending')
        .executeTakeFirst(),
    );
    const closed = Number(res.numUpdatedRows) > 0;
    if (closed) {
      this.deps.metrics.failures.inc({ partner: row.partner_id, kind: row.kind, outcome: state });
      const level = state === 'dead' ? 'warn' : 'info';
      this.deps.log[level]({ stationId: row.station_id, partnerId: row.partner_id, outboxId: row.id, kind: row.kind, error }, `SCSP outbox row ${state}`);
    }
    return closed;
  }

  /**
   * One turn of a station: up to `rowsPerTurn` rows, in id order, the pairing and partner looked up
   * once. Rows are read READ_AHEAD at a time; the last row of a read may be the station's newest
   * pending row, which meter aggregation may still rewrite (outbox.ts `coalesce`) until it is marked as
   * being sent — so it is sent only when read again as the head of the next read (or when it is the
   * only row read). Every row before it has a newer pending row behind it and is left alone.
   */
  private async drain(stationId: string): Promise<void> {
    let target: StationTarget | undefined;
    const targetOf = async (): Promise<StationTarget> => (target ??= await this.lookup(stationId));
    let left = this.opts.rowsPerTurn;
    while (left > 0) {
      if (this.stopped) return;
      const rows: OutboxRow[] = await this.deps.db
        .selectFrom('outbox')
        .selectAll()
        .where('state', '=', 'pending')
        .where('station_id', '=', stationId)
        .orderBy('id')
        .limit(Math.min(left, READ_AHEAD) + 1)
        .execute();
      if (rows.length === 0) return;
      const usable = rows.length === 1 ? 1 : rows.length - 1;
      for (let i = 0; i < usable; i++) {
        if (this.stopped) return;
        const row = rows[i]!;
        // From here on the outbox writer leaves this row's reading alone (meter aggregation).
        this.sending.set(stationId, row.id);
        let next: 'next' | 'wait';
        try {
          next = await this.deliver(stationId, row, targetOf);
        } finally {
          this.sending.delete(stationId);
        }
        if (next === 'wait') return;
        left--;
      }
    }
    // Turn used up: other stations first, then this one again.
    this.again.add(stationId);
  }

  /** One row: send it or close it. 'wait' when the station's queue must wait (backoff or not due yet). */
  private async deliver(stationId: string, row: OutboxRow, targetOf: () => Promise<StationTarget>): Promise<'next' | 'wait'> {
    const { clock } = this.deps;
    const now = clock.now();
    const due = Date.parse(row.next_attempt_at);
    if (due > now.getTime()) {
      // Waiting for a retry: the partner failed before (this process may not have seen it, after a restart).
      if (row.attempts > 0 && !row.last_error?.startsWith('HTTP 429')) this.failing.add(row.partner_id);
      this.schedule(stationId, row.partner_id, due - now.getTime());
      return 'wait';
    }
    const target = await targetOf();
    const cancel = cancelReason(target, row.partner_id);
    if (cancel !== undefined || !target.partner) {
      await this.close(row, 'cancelled', cancel ?? 'partner removed');
      return 'next';
    }
    if (this.opts.maxAgeMs > 0 && now.getTime() - Date.parse(row.created_at) > this.opts.maxAgeMs) {
      await this.close(row, 'dead', `expired: not delivered within ${Math.round(this.opts.maxAgeMs / 1000)} s${row.last_error ? ` (last error: ${row.last_error})` : ''}`);
      return 'next';
    }
    try {
      JSON.parse(row.payload);
    } catch {
      await this.close(row, 'dead', 'stored payload is not JSON');
      return 'next';
    }

    // The stored JSON text goes out as stored.
    const res = await this.deps.client.postJson(target.partner, row.path, row.payload, { idempotencyKey: row.idempotency_key });
    const after = clock.now();
    const outcome = classifyStatus(res.status);
    const attempts = row.attempts + 1;

    if (outcome === 'delivered') {
      // Marked only now, after the 2xx (a crash before this commit re-sends the row with the same key);
      // deliveries that end together share one commit. The station's next row waits for it.
      const upd = await this.writer.run((trx) =>
        trx
          .updateTable('outbox')
          .set({ state: 'delivered', delivered_at: after.toISOString(), attempts })
          .where('id', '=', row.id)
          .where('idempotency_key', '=', row.idempotency_key)
          .where('state', '=', 'pending')
          .executeTakeFirst(),
      );
      // 0: the row changed meanwhile (another process's aggregation, an operator): its new content goes next.
      if (Number(upd.numUpdatedRows) > 0) {
        this.deps.metrics.forwarded.inc({ partner: row.partner_id, kind: row.kind });
        this.deps.metrics.latency.observe({ kind: row.kind }, Math.max(0, after.getTime() - Date.parse(row.created_at)) / 1000);
      }
      this.succeeded(row.partner_id);
      return 'next';
    }

    const error = describe(res);
    if (outcome === 'dead') {
      await this.close(row, 'dead', error, attempts);
      return 'next';
    }
    // A rate limit (429) is the SCSP asking for less, not an outage: its end does not wake anyone early.
    if (res.status !== 429) this.failing.add(row.partner_id);
    if (this.opts.maxAttempts > 0 && attempts >= this.opts.maxAttempts) {
      await this.close(row, 'dead', `gave up after ${attempts} attempts; last: ${error}`, attempts);
      return 'next';
    }
    const delay = backoffMs(attempts, this.opts.retryBaseMs, this.opts.retryMaxMs, this.deps.random);
    await this.writer.run((trx) =>
      trx
        .updateTable('outbox')
        .set({ attempts, next_attempt_at: new Date(after.getTime() + delay).toISOString(), last_error: error })
        .where('id', '=', row.id)
        .where('state', '=', 'pending')
        .execute(),
    );
    this.deps.metrics.failures.inc({ partner: row.partner_id, kind: row.kind, outcome: 'retry' });
    if (attempts === 1 || attempts % 10 === 0) {
      this.deps.log.warn({ stationId, partnerId: row.partner_id, outboxId: row.id, attempts, retryInMs: delay, error }, 'SCSP delivery failed; the station queue waits for the retry');
    }
    this.schedule(stationId, row.partner_id, delay);
    return 'wait';
  }

  // ── recovery: the first success after failures ends the partner's backoff waits ─────────────

  private succeeded(partnerId: string): void {
    if (!this.failing.delete(partnerId) || this.stopped || this.recoveryTimers.has(partnerId)) return;
    const since = performance.now() - (this.lastRecovery.get(partnerId) ?? -Infinity);
    const min = this.opts.recoveryMinIntervalMs;
    if (since >= min) {
      void this.recover(partnerId);
      return;
    }
    // A partner that keeps failing and recovering: at most one wake-up per recoveryMinIntervalMs.
    const t = setTimeout(() => {
      this.recoveryTimers.delete(partnerId);
      if (!this.failing.has(partnerId)) void this.recover(partnerId);
    }, min - since);
    t.unref();
    this.recoveryTimers.set(partnerId, t);
  }

  /**
   * The partner answers again: the head rows waiting for a retry to it are due now
   * (`next_attempt_at` = now, so a restart sees the same) and their stations are queued for a worker
   * at once — the backlog drains right away, still `concurrency` stations at a time.
   */
  private async recover(partnerId: string): Promise<void> {
    if (this.stopped) return;
    // Nobody waits (a single failure that its own retry fixed): nothing to do. (After a restart the
    // start-up poll finds the stations waiting for a retry and sets their timers.)
    if (![...this.timers.values()].some((t) => t.partnerId === partnerId)) return;
    this.lastRecovery.set(partnerId, performance.now());
    const now = this.deps.clock.now().toISOString();
    let rows = 0;
    try {
      const res = await this.writer.run((trx) =>
        trx
          .updateTable('outbox')
          .set({ next_attempt_at: now })
          .where('partner_id', '=', partnerId)
          .where('state', '=', 'pending')
          .where('next_attempt_at', '>', now)
          .executeTakeFirst(),
      );
      rows = Number(res.numUpdatedRows);
    } catch (err) {
      if (!this.stopped) this.deps.log.warn({ err, partnerId }, 'SCSP recovery: moving retries forward failed; waking the stations anyway');
    }
    const stations = [...this.timers].filter(([, t]) => t.partnerId === partnerId).map(([id]) => id);
    for (const id of stations) this.wake(id, { force: true });
    if (rows > 0 || stations.length > 0) this.deps.log.info({ partnerId, stations: stations.length, rows }, 'SCSP answers again: stations waiting for a retry are delivered now');
  }
}

// ── wiring ───────────────────────────────────────────────────────────────────────────────────

export interface Forwarding {
  forwarder: Forwarder;
  outbox: OutboxWriter;
  metrics: ForwardingMetrics;
  stop(): Promise<void>;
}

export interface ForwardingDeps {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  events: DomainEvents;
  client: ScspClient;
  partners: PartnerService;
  /** The CSMS's metrics registry (a private one when absent). */
  registry?: Registry | undefined;
  settings?: Partial<ScspForwardingConfig> | undefined;
}

/**
 * The outbox hook (in the state change's database transaction), the after-commit wake-up, the
 * dispatcher and the meter repeat sweep, started together.
 */
export function startForwarding(deps: ForwardingDeps): Forwarding {
  const s: ScspForwardingConfig = { ...DEFAULT_SCSP_FORWARDING, ...deps.settings };
  const metrics = createForwardingMetrics(deps.registry, deps.db);
  // One connection per delivery slot (the pool's default is 16, the default concurrency).
  if (s.concurrency > 16) deps.client.setMaxSocketsPerOrigin(s.concurrency);
  const forwarder = new Forwarder({
    db: deps.db,
    clock: deps.clock,
    log: deps.log,
    client: deps.client,
    partners: deps.partners,
    metrics,
    options: {
      concurrency: s.concurrency,
      retryMaxMs: s.retryMaxS * 1000,
      maxAttempts: s.maxAttempts,
      maxAgeMs: s.maxAgeS * 1000,
      ...(s.retryBaseMs !== undefined ? { retryBaseMs: s.retryBaseMs } : {}),
      ...(s.pollIntervalMs !== undefined ? { pollIntervalMs: s.pollIntervalMs } : {}),
    },
  });
  const outbox = new OutboxWriter({
    db: deps.db,
    clock: deps.clock,
    log: deps.log,
    metrics,
    options: {
      meterIntervalS: s.meterIntervalS,
      meterMaxGapS: s.meterMaxGapS,
      ...(s.sweepIntervalMs !== undefined ? { sweepIntervalMs: s.sweepIntervalMs } : {}),
    },
    sendingRow: (stationId) => forwarder.sendingRow(stationId),
    onRows: (stationId) => forwarder.wake(stationId),
  });
  deps.events.addTxHook(outbox.hook);
  const unsubscribe = deps.events.subscribe(outbox.afterCommit);
  forwarder.start();
  outbox.start();
  return {
    forwarder,
    outbox,
    metrics,
    async stop() {
      unsubscribe();
      await outbox.stop();
      await forwarder.stop();
    },
  };
}
