/**
 * The outbox dispatcher (issue 6 §3): delivers the rows `outbox.ts` writes, at least once, in order per
 * station, to the partner they were written for.
 *
 * - **Wake-ups**: right after the commit that wrote rows (`wake`), after a backoff delay (a timer per
 *   station), and on a poll (`pollIntervalMs`, default 2 s; also at start-up, so a restart resumes).
 * - **Order**: a station's rows go out strictly in `id` order: only its oldest `pending` row is ever in
 *   flight, and while that row waits for a retry the station's queue waits too. Different stations
 *   are delivered in parallel (`concurrency`, default 16), each taking at most `rowsPerTurn` rows
 *   before letting others go first.
 * - **Delivery**: `ScspClient.post` (Bearer + ApiKey, one token refresh on 401) with
 *   `Idempotency-Key: <row key>`.
 *   - 2xx → `delivered`.
 *   - 401 (after the client's refresh), 408, 425, 429, 5xx, no answer (status 0), anything not 4xx
 *     → retry: exponential backoff from `retryBaseMs` (1 s) doubling up to `retryMaxMs` (5 min), with
 *     jitter (each delay drawn from [d/2, d]); the station's queue is blocked meanwhile.
 *   - Other 4xx (400, 404, …) → `dead` (dead letter, `last_error` kept); the station's next row follows.
 *   - After `maxAttempts` tries (default 200) or when a row is older than `maxAgeMs` (default 48 h)
 *     when its turn comes → `dead`. `POST /api/v1/outbox/{id}/retry` makes a dead row pending again.
 *   - The station is no longer paired with the row's partner, or the partner is disabled or removed
 *     → `cancelled` (not sent).
 * - **Crash safety**: the row is marked only after the SCSP answered; a crash in between re-sends it
 *   (at-least-once — the unchanged idempotency key lets the SCSP drop the copy). A row whose reading
 *   was replaced while it was in flight (meter aggregation) changes key and is sent again.
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
}

export const DEFAULT_FORWARDER_OPTIONS: ForwarderOptions = {
  concurrency: 16,
  pollIntervalMs: 2000,
  retryBaseMs: 1000,
  retryMaxMs: 300_000,
  maxAttempts: 200,
  maxAgeMs: 48 * 3600 * 1000,
  rowsPerTurn: 100,
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
}

type OutboxRow = Selectable<Database['outbox']>;

export class Forwarder {
  private readonly opts: ForwarderOptions;
  /** Stations waiting for a worker, in arrival order. */
  private readonly ready = new Set<string>();
  private readonly running = new Map<string, Promise<void>>();
  /** Stations woken while their worker ran: look again when it ends. */
  private readonly again = new Set<string>();
  /** Stations blocked until their head row's next attempt. */
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** The row being sent, per station. */
  private readonly sending = new Map<string, number>();
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: ForwarderDeps) {
    this.opts = { ...DEFAULT_FORWARDER_OPTIONS, ...deps.options };
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
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
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
      clearTimeout(t);
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

  private schedule(stationId: string, delayMs: number): void {
    const old = this.timers.get(stationId);
    if (old) clearTimeout(old);
    const t = setTimeout(() => {
      this.timers.delete(stationId);
      this.wake(stationId);
    }, Math.max(0, Math.min(delayMs, 2 ** 31 - 1)));
    t.unref();
    this.timers.set(stationId, t);
  }

  private async target(row: OutboxRow): Promise<{ partner: Partner } | { cancel: string }> {
    const pairing = await this.deps.db.selectFrom('pairings').select('partner_id').where('station_id', '=', row.station_id).executeTakeFirst();
    if (!pairing) return { cancel: 'station is no longer paired' };
    if (pairing.partner_id !== row.partner_id) return { cancel: `station is now paired with partner ${pairing.partner_id}` };
    const partner = await this.deps.partners.get(row.partner_id);
    if (!partner) return { cancel: 'partner removed' };
    if (!partner.enabled) return { cancel: 'partner disabled' };
    return { partner };
  }

  /** Close a row (dead / cancelled) unless it changed meanwhile. */
  private async close(row: OutboxRow, state: 'dead' | 'cancelled', error: string, attempts = row.attempts): Promise<boolean> {
    const res = await this.deps.db
      .updateTable('outbox')
      .set({ state, attempts, last_error: error })
      .where('id', '=', row.id)
      .where('idempotency_key', '=', row.idempotency_key)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    const closed = Number(res.numUpdatedRows) > 0;
    if (closed) {
      this.deps.metrics.failures.inc({ partner: row.partner_id, kind: row.kind, outcome: state });
      const level = state === 'dead' ? 'warn' : 'info';
      this.deps.log[level]({ stationId: row.station_id, partnerId: row.partner_id, outboxId: row.id, kind: row.kind, error }, `SCSP outbox row ${state}`);
    }
    return closed;
  }

  private async drain(stationId: string): Promise<void> {
    for (let n = 0; n < this.opts.rowsPerTurn; n++) {
      if (this.stopped) return;
      const row: OutboxRow | undefined = await this.deps.db
        .selectFrom('outbox')
        .selectAll()
        .where('state', '=', 'pending')
        .where('station_id', '=', stationId)
        .orderBy('id')
        .limit(1)
        .executeTakeFirst();
      if (!row) return;
      // From here on the outbox writer leaves this row's reading alone (meter aggregation).
      this.sending.set(stationId, row.id);
      let next: 'next' | 'wait';
      try {
        next = await this.deliver(stationId, row);
      } finally {
        this.sending.delete(stationId);
      }
      if (next === 'wait') return;
    }
    // Turn used up: other stations first, then this one again.
    this.again.add(stationId);
  }

  /** One row: send it or close it. 'wait' when the station's queue must wait (backoff or not due yet). */
  private async deliver(stationId: string, row: OutboxRow): Promise<'next' | 'wait'> {
    const { db, clock } = this.deps;
    const now = clock.now();
    const due = Date.parse(row.next_attempt_at);
    if (due > now.getTime()) {
      this.schedule(stationId, due - now.getTime());
      return 'wait';
    }
    const target = await this.target(row);
    if ('cancel' in target) {
      await this.close(row, 'cancelled', target.cancel);
      return 'next';
    }
    if (this.opts.maxAgeMs > 0 && now.getTime() - Date.parse(row.created_at) > this.opts.maxAgeMs) {
      await this.close(row, 'dead', `expired: not delivered within ${Math.round(this.opts.maxAgeMs / 1000)} s${row.last_error ? ` (last error: ${row.last_error})` : ''}`);
      return 'next';
    }
    let payload: unknown;
    try {
      payload = JSON.parse(row.payload);
    } catch {
      await this.close(row, 'dead', 'stored payload is not JSON');
      return 'next';
    }

    const res = await this.deps.client.post(target.partner, row.path, payload, { idempotencyKey: row.idempotency_key });
    const after = clock.now();
    const outcome = classifyStatus(res.status);
    const attempts = row.attempts + 1;

    if (outcome === 'delivered') {
      const upd = await db
        .updateTable('outbox')
        .set({ state: 'delivered', delivered_at: after.toISOString(), attempts })
        .where('id', '=', row.id)
        .where('idempotency_key', '=', row.idempotency_key)
        .where('state', '=', 'pending')
        .executeTakeFirst();
      // 0: the row changed meanwhile (another process's aggregation, an operator): its new content goes next.
      if (Number(upd.numUpdatedRows) > 0) {
        this.deps.metrics.forwarded.inc({ partner: row.partner_id, kind: row.kind });
        this.deps.metrics.latency.observe({ kind: row.kind }, Math.max(0, after.getTime() - Date.parse(row.created_at)) / 1000);
      }
      return 'next';
    }

    const error = describe(res);
    if (outcome === 'dead') {
      await this.close(row, 'dead', error, attempts);
      return 'next';
    }
    if (this.opts.maxAttempts > 0 && attempts >= this.opts.maxAttempts) {
      await this.close(row, 'dead', `gave up after ${attempts} attempts; last: ${error}`, attempts);
      return 'next';
    }
    const delay = backoffMs(attempts, this.opts.retryBaseMs, this.opts.retryMaxMs, this.deps.random);
    await db
      .updateTable('outbox')
      .set({ attempts, next_attempt_at: new Date(after.getTime() + delay).toISOString(), last_error: error })
      .where('id', '=', row.id)
      .where('state', '=', 'pending')
      .execute();
    this.deps.metrics.failures.inc({ partner: row.partner_id, kind: row.kind, outcome: 'retry' });
    if (attempts === 1 || attempts % 10 === 0) {
      this.deps.log.warn({ stationId, partnerId: row.partner_id, outboxId: row.id, attempts, retryInMs: delay, error }, 'SCSP delivery failed; the station queue waits for the retry');
    }
    this.schedule(stationId, delay);
    return 'wait';
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
