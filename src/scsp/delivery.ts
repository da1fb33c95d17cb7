/**
 * Delivery of station plans to CPOs through a {@link ProfileSender}, one lane per station:
 *
 * - **Latest plan wins.** A lane holds at most one plan to send. A newer plan replaces a waiting one
 *   (recorded `superseded`); a plan in flight finishes its attempt and is recorded with its own outcome,
 *   then the newer one goes out. Plans are never sent concurrently for one station.
 * - **Retries** (sender.ts decides what is retryable: 5xx incl. 503 charger offline, no answer, 408/425/
 *   429): exponential backoff from `retryBaseMs` doubling up to `retryMaxMs` with jitter (each delay
 *   drawn from [d/2, d]), at most `maxAttempts` tries, then `failed`. The same request body is re-sent
 *   (an Absolute schedule whose start has passed is still right: the CPO applies the period in force).
 * - **Give up** at once on 400/404 and other refusals: `failed`, with the CPO's status and message.
 * - **Cancel** (session ended, station unpaired): the waiting plan is dropped (`cancelled`); nothing is
 *   sent to clear anything — the CPO drops TxProfiles when their transaction ends (protocols.md §1.6)
 *   and clears the SCSP's profiles on unpair (§1.4).
 *
 * - **Route per CPO.** `senderFor(target)` picks the {@link ProfileSender} of the CPO's `profileRoute`
 *   when the plan is queued; the job keeps it, so its retries go the same way (the row's `route`).
 *
 * Every plan is a row of `profile_deliveries` (status pending → retrying → delivered | failed |
 * superseded | cancelled; `abandoned` when the process stopped before an answer), visible in the admin
 * API (`GET /api/v1/profile-deliveries`, and per station). After a restart nothing is resumed: the
 * driver re-plans every station with running sessions, which sends fresh plans.
 */
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { ScspKysely, ProfileDeliveriesTable } from './store.js';
import type { Selectable } from 'kysely';
import type { DeliveryConfig } from './config.js';
import type { ScspMetrics } from './metrics.js';
import type { PowerSchedule } from './planner.js';
import type { ProfileSender, ProfileTarget, SendOutcome, TargetSession } from './sender.js';
import type { StationKey } from './sessions.js';
import type { WorkTracker } from './work.js';

export type DeliveryStatus = 'pending' | 'retrying' | 'delivered' | 'failed' | 'superseded' | 'cancelled' | 'abandoned';

export interface DeliveryView {
  id: number;
  cpoId: string;
  uid: string;
  payloadProtocol: string;
  /** The profile route that sent it (`ocpp-format` | `ocpi`). */
  route: string;
  status: DeliveryStatus;
  attempts: number;
  httpStatus: number | null;
  lastError: string | null;
  response: string | null;
  nextAttemptAt: string | null;
  request: unknown;
  createdAt: string;
  updatedAt: string;
}

export function deliveryView(r: Selectable<ProfileDeliveriesTable>): DeliveryView {
  return {
    id: r.id,
    cpoId: r.cpo_id,
    uid: r.uid,
    payloadProtocol: r.payload_protocol,
    route: r.route,
    status: r.status as DeliveryStatus,
    attempts: r.attempts,
    httpStatus: r.http_status,
    lastError: r.last_error,
    response: r.response,
    nextAttemptAt: r.next_attempt_at,
    request: JSON.parse(r.request) as unknown,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

interface Job {
  id: number;
  sender: ProfileSender;
  target: ProfileTarget;
  schedule: PowerSchedule;
  request: unknown;
  attempts: number;
  cancelled: boolean;
}

interface Lane {
  job?: Job | undefined;
  inFlight?: Job | undefined;
  running: boolean;
  timer?: NodeJS.Timeout | undefined;
  timerDone?: (() => void) | undefined;
  abort?: AbortController | undefined;
  /** The schedule the CPO last accepted (cleared when a later plan failed or was cancelled), with its sessions. */
  delivered?: PowerSchedule | undefined;
  deliveredSessions?: readonly TargetSession[] | undefined;
}

export const laneKey = (st: StationKey): string => `${st.cpoId}\u0000${st.uid}`;

export interface DeliveryDeps {
  db: ScspKysely;
  clock: Clock;
  log: Logger;
  /** The default route (and the only one when `senderFor` is absent). */
  sender: ProfileSender;
  /** The route of a target (its CPO's `profileRoute`). */
  senderFor?: (target: ProfileTarget) => ProfileSender;
  metrics: ScspMetrics;
  config: DeliveryConfig;
  work: WorkTracker;
  /** Random source for jitter (tests may fix it). */
  random?: () => number;
}

export class ProfileDelivery {
  private readonly lanes = new Map<string, Lane>();
  private stopped = false;

  constructor(private readonly deps: DeliveryDeps) {}

  /** Rows a previous process left unanswered. */
  async abandonLeftovers(): Promise<void> {
    await this.deps.db
      .updateTable('profile_deliveries')
      .set({ status: 'abandoned', next_attempt_at: null, updated_at: this.deps.clock.now().toISOString() })
      .where('status', 'in', ['pending', 'retrying'])
      .execute();
  }

  private lane(st: StationKey): Lane {
    const k = laneKey(st);
    let l = this.lanes.get(k);
    if (!l) {
      l = { running: false };
      this.lanes.set(k, l);
    }
    return l;
  }

  /** The schedule waiting to be sent, else the one last delivered (what the CPO has or will have). */
  current(st: StationKey): PowerSchedule | undefined {
    const l = this.lanes.get(laneKey(st));
    return l?.job?.schedule ?? l?.delivered;
  }

  /** The per-session schedules of {@link current} (undefined when it has none). */
  currentSessions(st: StationKey): readonly TargetSession[] | undefined {
    const l = this.lanes.get(laneKey(st));
    return l?.job ? l.job.target.sessions : l?.deliveredSessions;
  }

  /** Queue a station's plan (replacing a waiting one). Returns the delivery id. */
  async submit(target: ProfileTarget, schedule: PowerSchedule): Promise<number> {
    const sender = this.deps.senderFor?.(target) ?? this.deps.sender;
    const request = sender.prepare(target, schedule);
    const now = this.deps.clock.now().toISOString();
    const res = await this.deps.db
      .insertInto('profile_deliveries')
      .values({
        cpo_id: target.cpo.id,
        uid: target.uid,
        payload_protocol: target.payloadProtocol,
        request: JSON.stringify(request),
        status: 'pending',
        attempts: 0,
        http_status: null,
        last_error: null,
        response: null,
        next_attempt_at: null,
        created_at: now,
        updated_at: now,
        route: sender.route,
      })
      .executeTakeFirstOrThrow();
    const job: Job = { id: Number(res.insertId), sender, target, schedule, request, attempts: 0, cancelled: false };
    const lane = this.lane({ cpoId: target.cpo.id, uid: target.uid });
    const waiting = lane.job;
    if (waiting && waiting !== lane.inFlight) await this.record(waiting, 'superseded');
    lane.job = job;
    this.clearTimer(lane);
    if (!lane.running && !this.stopped) void this.pump(lane);
    return job.id;
  }

  /** Stop sending for a station (its sessions ended, or it was unpaired). */
  async cancel(st: StationKey): Promise<void> {
    const lane = this.lanes.get(laneKey(st));
    if (!lane) return;
    const job = lane.job;
    lane.job = undefined;
    lane.delivered = undefined;
    lane.deliveredSessions = undefined;
    this.clearTimer(lane);
    if (!job) return;
    job.cancelled = true;
    if (job !== lane.inFlight) await this.record(job, 'cancelled');
  }

  async list(f: { cpoId?: string; uid?: string; status?: string; limit?: number; offset?: number } = {}): Promise<{ rows: DeliveryView[]; total: number }> {
    let q = this.deps.db.selectFrom('profile_deliveries');
    if (f.cpoId !== undefined) q = q.where('cpo_id', '=', f.cpoId);
    if (f.uid !== undefined) q = q.where('uid', '=', f.uid);
    if (f.status !== undefined) q = q.where('status', '=', f.status);
    const total = Number((await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n ?? 0);
    const rows = await q
      .selectAll()
      .orderBy('id', 'desc')
      .limit(f.limit ?? 50)
      .offset(f.offset ?? 0)
      .execute();
    return { rows: rows.map(deliveryView), total };
  }

  stop(): void {
    this.stopped = true;
    for (const lane of this.lanes.values()) {
      this.clearTimer(lane);
      lane.abort?.abort();
    }
  }

  private clearTimer(lane: Lane): void {
    if (lane.timer) clearTimeout(lane.timer);
    lane.timer = undefined;
    lane.timerDone?.();
    lane.timerDone = undefined;
  }

  private backoffMs(attempts: number): number {
    const { retryBaseMs, retryMaxMs } = this.deps.config;
    const d = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(d / 2 + (this.deps.random ?? Math.random)() * (d / 2));
  }

  private async pump(lane: Lane): Promise<void> {
    lane.running = true;
    const done = this.deps.work.begin();
    try {
      while (lane.job && !this.stopped) {
        const job = lane.job;
        lane.inFlight = job;
        lane.abort = new AbortController();
        let out: SendOutcome;
        try {
          out = await job.sender.send(job.target, job.request, lane.abort.signal);
        } catch (err) {
          out = { kind: 'retry', status: 0, message: (err as Error).message, response: '' };
        }
        lane.inFlight = undefined;
        lane.abort = undefined;
        if (this.stopped) return;
        job.attempts++;
        const replaced = lane.job !== job;
        const log = { cpoId: job.target.cpo.id, uid: job.target.uid, deliveryId: job.id, attempt: job.attempts, status: out.status };
        if (out.kind === 'delivered') {
          this.deps.metrics.deliveries.inc({ outcome: 'delivered' });
          this.deps.log.info(log, 'charging profile delivered');
          await this.record(job, 'delivered', out);
          if (!replaced) {
            lane.delivered = job.schedule;
            lane.deliveredSessions = job.target.sessions;
            lane.job = undefined;
          }
        } else if (out.kind === 'rejected') {
          this.deps.metrics.deliveries.inc({ outcome: 'rejected' });
          this.deps.log.warn({ ...log, message: out.message }, 'charging profile refused by the CPO; not retried');
          await this.record(job, 'failed', out);
          if (!replaced) {
            lane.delivered = undefined;
            lane.deliveredSessions = undefined;
            lane.job = undefined;
          }
        } else if (replaced) {
          this.deps.metrics.deliveries.inc({ outcome: 'retry' });
          await this.record(job, job.cancelled ? 'cancelled' : 'superseded', out);
        } else if (job.attempts >= this.deps.config.maxAttempts) {
          this.deps.metrics.deliveries.inc({ outcome: 'failed' });
          this.deps.log.warn({ ...log, message: out.message }, `charging profile not delivered after ${job.attempts} attempts; giving up`);
          await this.record(job, 'failed', out, { error: `gave up after ${job.attempts} attempts: ${out.message}` });
          lane.delivered = undefined;
          lane.deliveredSessions = undefined;
          lane.job = undefined;
        } else {
          this.deps.metrics.deliveries.inc({ outcome: 'retry' });
          const delay = Math.max(this.backoffMs(job.attempts), out.retryAfterMs ?? 0);
          const next = new Date(this.deps.clock.now().getTime() + delay).toISOString();
          this.deps.log.info({ ...log, message: out.message, retryInMs: delay }, 'charging profile not delivered; will retry');
          await this.record(job, 'retrying', out, { nextAttemptAt: next });
          if (lane.job === job && !this.stopped) {
            lane.timerDone = this.deps.work.begin();
            lane.timer = setTimeout(() => {
              const release = lane.timerDone;
              lane.timer = undefined;
              lane.timerDone = undefined;
              if (!lane.running) void this.pump(lane);
              release?.();
            }, delay);
            lane.timer.unref?.();
            break;
          }
        }
      }
    } catch (err) {
      this.deps.log.error({ err }, 'profile delivery failed');
    } finally {
      lane.running = false;
      done();
    }
  }

  private async record(job: Job, status: DeliveryStatus, out?: SendOutcome, extra: { error?: string; nextAttemptAt?: string } = {}): Promise<void> {
    if (this.stopped) return;
    const error = extra.error ?? (out && out.kind !== 'delivered' ? out.message : null);
    await this.deps.db
      .updateTable('profile_deliveries')
      .set({
        status,
        attempts: job.attempts,
        http_status: out ? out.status : null,
        last_error: error,
        response: out ? out.response.slice(0, 2000) || null : null,
        next_attempt_at: extra.nextAttemptAt ?? null,
        updated_at: this.deps.clock.now().toISOString(),
      })
      .where('id', '=', job.id)
      .execute();
  }
}
