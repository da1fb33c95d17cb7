/**
 * OCPI 2.2.1 Sessions, the CPO as **SENDER** (issue 8 §3; protocols.md §2.5, §1.7).
 *
 * Who gets what (the access rule of context.ts): a transaction on a station paired (seed 000) with an
 * enabled SCSP partner whose `ocpiPartnerId` names a **registered** OCPI partner that lists a `sessions`
 * RECEIVER endpoint is pushed to that partner, and only to it; the same partner sees those sessions in
 * the GET list and may PUT charging preferences on them. The session id is Ampline's transaction UUID.
 * The mapping itself is pure (session-mapping.ts).
 *
 * **Pushing** (`PUT|PATCH {endpoint}/{our country}/{our party}/{session id}`):
 * - PUT (the full object) when the session starts, when it is over (status COMPLETED, with every
 *   period), the first time this process pushes a session (e.g. after a restart or a new pairing), and
 *   after any failed push; PATCH otherwise, with the fields that changed since the last push (`kwh`,
 *   `status` PENDING→ACTIVE with its `start_date_time`, a late `cdr_token` …), the *new* charging
 *   periods only (the receiver appends them) and always `last_updated`. Nothing changed → nothing sent.
 * - **Throttle**: at most one push per session per update interval (default 60 s;
 *   `AMPLINE_OCPI_SESSION_UPDATE_INTERVAL_S`, or the `updateIntervalMs` option). Start and end are sent
 *   at once. Jedlix recomputes its plan on "every update received", so a PATCH per meter reading would
 *   make the SCSP replan (and re-send profiles) for noise; one per interval bounds that work.
 * - **Periods per push interval**: the charging periods are cells of the same interval, aligned on the
 *   epoch, emitted once closed (session-mapping.ts). A period per reading would be the "per minute"
 *   periods the spec warns against, and tie the object's size to the station's sampling rate; cells
 *   that do not depend on push timing make PATCH-appended periods equal to the ones a later full PUT or
 *   the GET list rebuilds from the database.
 * - **Hot path**: the domain-event listener only marks the session dirty in memory and arms a timer
 *   (coalescing any number of MeterValues); the database is read when a push is due and written once
 *   per push attempt (`ocpi_sessions`), never per event. Everything runs after commit, off the OCPP
 *   handling path; pushes of one session are serial (KeyedQueue).
 * - **Failures**: OCPI has no queuing and no retries — the receiver re-syncs with GET. We still do not
 *   want to lose the end of a session, so a failed push is retried with exponential backoff (5 s … 5 min
 *   by default) — of the *latest state*, rebuilt from the database when the timer fires, never a queue
 *   of old messages. A failed PATCH may have been lost, so the retry is a full PUT. Retrying stops after
 *   `giveUpAfterMs` (48 h). At start-up, sessions whose last push did not reach COMPLETED (active ones,
 *   and ended ones within that window) are picked up again from `ocpi_sessions`.
 *
 * **Module** `sessions` SENDER at `2.2.1/sessions`: `GET ''` — the caller's sessions, paginated
 * (`date_from`/`date_to` on `last_updated`, which is the transaction's `updated_at`; oldest first), and
 * `PUT /{session_id}/charging_preferences` — validated ChargingPreferences (2001 otherwise), stored in
 * `ocpi_charging_preferences` (migration 0009) and answered ACCEPTED; NOT_POSSIBLE for a session that
 * is over or has no EVSE; an unknown session (or one the caller may not see) is HTTP 404 + 2001.
 */
import { type Kysely, sql } from 'kysely';
import type { OcpiConfig } from '../../config.js';
import type { DomainEvent } from '../../domain/model.js';
import type { Database, TransactionRow } from '../../store/schema.js';
import { KeyedQueue } from '../../util/keyed-queue.js';
import type { Logger } from '../../util/log.js';
import { formatDateTime, parseDateTime } from '../core/datetime.js';
import { pageHeaders, parsePageQuery } from '../core/pagination.js';
import type { OcpiModule, OcpiReply, OcpiRequest } from '../core/plugin.js';
import { OcpiError, OcpiStatus, isSuccess } from '../core/status.js';
import type { PartnerPrincipal } from '../credentials.js';
import type { OcpiNode, PartnerClient } from '../node.js';
import type { OcpiPartner } from '../storage.js';
import { findEndpoint } from '../versions.js';
import { type CpoOcpiContext, ocpiPartnerOfStation, pairedDuringSession, sessionForPartner } from './context.js';
import {
  type ChargingPeriod,
  type MeterRow,
  type OcpiSession,
  PERIOD_MEASURANDS,
  type PeriodCursor,
  type SessionMappingOptions,
  type StartInfo,
  buildPeriods,
  changedFields,
  closedBefore,
  fullSession,
  readingsOf,
  toOcpiSession,
} from './session-mapping.js';

// ── options ──────────────────────────────────────────────────────────────────────────────────────

export interface SessionsSenderOptions {
  /** Throttle: at most one push per session per this many ms; also the charging-period length. Default 60 000. */
  updateIntervalMs?: number;
  /** Length of a charging period (default: `updateIntervalMs`). */
  periodMs?: number;
  /** ISO 4217 currency of the sessions (default EUR). */
  currency?: string;
  /** First retry delay after a failed push (default 5 000), doubling up to `retryMaxMs` (default 300 000). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Stop retrying a session's state this long after its first consecutive failure (default 48 h). */
  giveUpAfterMs?: number;
  /** How long a station found unpaired (or paired without an OCPI link) is not looked up again (default 5 000). */
  targetCacheMs?: number;
  /** Most sessions one GET page holds (default 100). */
  maxPageLimit?: number;
  /** Monotonic milliseconds (tests); default `performance.now()`. */
  monotonic?: () => number;
}

const DEFAULTS = {
  updateIntervalMs: 60_000,
  currency: 'EUR',
  retryBaseMs: 5_000,
  retryMaxMs: 300_000,
  giveUpAfterMs: 48 * 3_600_000,
  targetCacheMs: 5_000,
  maxPageLimit: 100,
};

/** The sender's options from `config.ocpi.sessions` (src/config.ts). */
export function sessionsSenderOptions(cfg: { updateIntervalS?: number | undefined; currency?: string | undefined } | undefined): SessionsSenderOptions {
  return {
    ...(cfg?.updateIntervalS !== undefined ? { updateIntervalMs: cfg.updateIntervalS * 1000 } : {}),
    ...(cfg?.currency !== undefined ? { currency: cfg.currency } : {}),
  };
}

// ── charging preferences ─────────────────────────────────────────────────────────────────────────

export const PROFILE_TYPES = ['CHEAP', 'FAST', 'GREEN', 'REGULAR'] as const;
export type ProfileType = (typeof PROFILE_TYPES)[number];
export type ChargingPreferencesResponse = 'ACCEPTED' | 'DEPARTURE_REQUIRED' | 'ENERGY_NEED_REQUIRED' | 'NOT_POSSIBLE' | 'PROFILE_TYPE_NOT_SUPPORTED';

export interface ChargingPreferences {
  profile_type: ProfileType;
  departure_time?: string;
  energy_need?: number;
  discharge_allowed?: boolean;
}

/** ChargingPreferences from a request body; {@link OcpiError} 2001 naming the field otherwise. Optional fields may be null (= absent). */
export function parseChargingPreferences(body: unknown): ChargingPreferences {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw OcpiError.invalid('The body must be a ChargingPreferences object');
  const o = body as Record<string, unknown>;
  if (typeof o.profile_type !== 'string' || !(PROFILE_TYPES as readonly string[]).includes(o.profile_type)) {
    throw OcpiError.invalid(`profile_type must be one of ${PROFILE_TYPES.join(', ')}`);
  }
  const out: ChargingPreferences = { profile_type: o.profile_type as ProfileType };
  if (o.departure_time !== undefined && o.departure_time !== null) {
    const d = typeof o.departure_time === 'string' && o.departure_time.length <= 25 ? parseDateTime(o.departure_time) : undefined;
    if (!d) throw OcpiError.invalid('departure_time must be an OCPI DateTime (e.g. 2015-06-29T20:39:09Z)');
    out.departure_time = formatDateTime(d);
  }
  if (o.energy_need !== undefined && o.energy_need !== null) {
    if (typeof o.energy_need !== 'number' || !Number.isFinite(o.energy_need) || o.energy_need < 0) throw OcpiError.invalid('energy_need must be a number of kWh ≥ 0');
    out.energy_need = o.energy_need;
  }
  if (o.discharge_allowed !== undefined && o.discharge_allowed !== null) {
    if (typeof o.discharge_allowed !== 'boolean') throw OcpiError.invalid('discharge_allowed must be a boolean');
    out.discharge_allowed = o.discharge_allowed;
  }
  return out;
}

/** Migration 0009 (declared here: only this module uses it). */
export interface OcpiChargingPreferencesTable {
  partner_id: string;
  session_id: string;
  profile_type: string;
  departure_time: string | null;
  energy_need: number | null;
  discharge_allowed: number | null;
  result: string;
  received_at: string;
}
type PrefsDb = Kysely<Database & { ocpi_charging_preferences: OcpiChargingPreferencesTable }>;

// ── push state ───────────────────────────────────────────────────────────────────────────────────

interface SessionState {
  sessionId: string;
  stationId: string;
  /** The OCPI partner the last push went to (a new one gets a PUT). */
  partnerId?: string;
  /** What the partner has: the object without periods, and where its periods end. Unset = PUT next. */
  lastSent?: OcpiSession;
  cursor?: PeriodCursor;
  /** A push failed: the next one is a full PUT. */
  needsPut: boolean;
  failures: number;
  firstFailureAt?: number;
  /** Monotonic ms when the last push attempt ended. */
  lastAttemptAt?: number;
  timer?: NodeJS.Timeout;
  dueAt?: number;
  running: boolean;
  /** Something happened while a push ran: look again afterwards (urgently when it was a start/end). */
  rerun?: 'normal' | 'urgent';
  /** Cached once the session is known to have charged (it does not change afterwards). */
  start?: StartInfo;
}

type Target = { partner: OcpiPartner; client: PartnerClient };

/** What the sender reads from the CSMS configuration, when the composition root passes it. */
export type SessionsSenderContext = CpoOcpiContext & { config?: { ocpi: Pick<OcpiConfig, 'sessions'> } | undefined };

const isTwoXX = (s: number): boolean => s >= 200 && s < 300;

export class OcpiSessionsSender {
  private readonly log: Logger;
  private opts: Required<Omit<SessionsSenderOptions, 'periodMs'>> & { periodMs?: number };
  private node: OcpiNode | undefined;
  private readonly states = new Map<string, SessionState>();
  /** Stations without a push target, until (monotonic ms). */
  private readonly untargeted = new Map<string, number>();
  private readonly queue = new KeyedQueue();
  private readonly inflight = new Set<Promise<unknown>>();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  /**
   * Options: the defaults, then `ctx.config.ocpi.sessions` when the composition root passes the CSMS
   * configuration in the context (as for the ChargingProfiles receiver), then `options`.
   */
  constructor(
    readonly ctx: SessionsSenderContext,
    options: SessionsSenderOptions = {},
  ) {
    this.log = ctx.log.child({ component: 'ocpi-sessions' });
    this.opts = { ...DEFAULTS, monotonic: () => performance.now(), ...sessionsSenderOptions(ctx.config?.ocpi.sessions), ...options };
  }

  /** Change options at run time (tests, operators); affects pushes scheduled from now on. */
  configure(options: SessionsSenderOptions): void {
    this.opts = { ...this.opts, ...options };
  }

  get updateIntervalMs(): number {
    return this.opts.updateIntervalMs;
  }
  private get periodMs(): number {
    return this.opts.periodMs ?? this.opts.updateIntervalMs;
  }
  private now(): number {
    return this.opts.monotonic();
  }

  /**
   * Push every session that waits for a timer (a backoff, the throttle, the start-up spread) now — e.g.
   * once a partner is known to be back. Returns how many were due.
   */
  retryNow(): number {
    let n = 0;
    for (const s of this.states.values()) {
      if (!s.timer || s.running) continue;
      clearTimeout(s.timer);
      s.timer = undefined;
      n++;
      this.fire(s);
    }
    return n;
  }

  /** Sessions with push state in memory (active pushes, pending retries). */
  get pending(): number {
    return this.states.size;
  }

  modules(node: OcpiNode): OcpiModule<PartnerPrincipal>[] {
    this.node = node;
    return [
      {
        identifier: 'sessions',
        kind: 'functional',
        interfaceRole: 'SENDER',
        path: '2.2.1/sessions',
        routes: [
          { method: 'GET', url: '', handler: (req) => this.list(req) },
          { method: 'PUT', url: '/:session_id/charging_preferences', handler: (req) => this.putPreferences(req) },
        ],
      },
    ];
  }

  start(node: OcpiNode): void {
    this.node = node;
    this.stopped = false;
    this.unsubscribe = this.ctx.events.subscribe((e) => this.onEvent(e));
    this.track(this.recover().catch((err: unknown) => this.log.error({ err }, 'OCPI sessions: recovery at start failed')));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const s of this.states.values()) if (s.timer) clearTimeout(s.timer);
    // In-flight pushes are bounded by the client's timeout; do not hold shutdown for longer than a moment.
    let t: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => (t = setTimeout(r, 5_000)))]);
    if (t) clearTimeout(t);
    this.states.clear();
  }

  private identity(): SessionMappingOptions {
    const id = this.node!.identity;
    return { countryCode: id.countryCode, partyId: id.partyId, currency: this.opts.currency };
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  // ── events (the hot path: memory only) ────────────────────────────────────────────────────────

  private onEvent(e: DomainEvent): void {
    if (this.stopped || !this.node) return;
    let sessionId: string;
    let stationId: string;
    let urgent = false;
    if (e.type === 'TransactionEvent') {
      if (e.duplicate) return;
      sessionId = e.transactionId;
      stationId = e.event.stationId;
      urgent = e.event.eventType !== 'Updated';
    } else if (e.type === 'MeterValues') {
      if (e.transactionId === null) return;
      sessionId = e.transactionId;
      stationId = e.stationId;
    } else return;
    let s = this.states.get(sessionId);
    if (!s) {
      const until = this.untargeted.get(stationId);
      if (until !== undefined) {
        if (until > this.now() && !urgent) return;
        if (until <= this.now()) this.untargeted.delete(stationId);
      }
      s = { sessionId, stationId, needsPut: true, failures: 0, running: false };
      this.states.set(sessionId, s);
    }
    this.schedule(s, urgent);
  }

  private backoff(failures: number): number {
    const base = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** Math.max(0, failures - 1));
    return base * (0.8 + Math.random() * 0.4);
  }

  private schedule(s: SessionState, urgent: boolean): void {
    if (this.stopped) return;
    if (s.running) {
      s.rerun = urgent || s.rerun === 'urgent' ? 'urgent' : 'normal';
      return;
    }
    const now = this.now();
    let due = urgent || s.lastAttemptAt === undefined ? now : s.lastAttemptAt + this.opts.updateIntervalMs;
    if (s.failures > 0 && s.lastAttemptAt !== undefined) due = Math.max(due, s.lastAttemptAt + this.backoff(s.failures));
    due = Math.max(due, now);
    if (s.timer && s.dueAt !== undefined && s.dueAt <= due) return;
    if (s.timer) clearTimeout(s.timer);
    s.dueAt = due;
    s.timer = setTimeout(() => this.fire(s), due - now);
    s.timer.unref?.();
  }

  private fire(s: SessionState): void {
    s.timer = undefined;
    s.dueAt = undefined;
    if (this.stopped) return;
    s.running = true;
    const p = this.queue
      .run(s.sessionId, () => this.push(s))
      .catch((err: unknown) => {
        // A database error or a bug: back off like a failed push (never a tight loop), then PUT.
        if (!this.stopped) this.log.error({ err, sessionId: s.sessionId }, 'OCPI sessions: push failed unexpectedly');
        s.failures++;
        s.firstFailureAt ??= this.now();
        s.lastAttemptAt = this.now();
        s.needsPut = true;
        return 'failed' as const;
      })
      .then((outcome) => {
        s.running = false;
        if (this.stopped || this.states.get(s.sessionId) !== s) return;
        if (outcome === 'failed') {
          if (s.firstFailureAt !== undefined && this.now() - s.firstFailureAt > this.opts.giveUpAfterMs) {
            this.log.warn({ sessionId: s.sessionId, partnerId: s.partnerId, failures: s.failures }, 'OCPI sessions: giving up pushing this session');
            this.states.delete(s.sessionId);
            return;
          }
          s.rerun = undefined;
          this.schedule(s, false);
          return;
        }
        if (s.rerun) {
          const urgent = s.rerun === 'urgent';
          s.rerun = undefined;
          this.schedule(s, urgent);
        }
      });
    this.track(p);
  }

  // ── one push ───────────────────────────────────────────────────────────────────────────────────

  /** The OCPI partner a station's sessions go to, or undefined (not paired, not linked, not registered, no sessions RECEIVER). */
  async targetOf(stationId: string): Promise<Target | undefined> {
    const link = await ocpiPartnerOfStation(this.ctx.db, stationId);
    if (!link || !this.node) return undefined;
    const p = await this.node.partners.get(link.ocpiPartnerId);
    if (!p || p.state !== 'registered' || !findEndpoint(p.endpoints, 'sessions', 'RECEIVER')) return undefined;
    return { partner: p, client: this.node.partnerClient(p) };
  }

  private async startInfo(s: SessionState | undefined, tx: TransactionRow): Promise<StartInfo> {
    if (s?.start) return s.start;
    if (tx.protocol !== 'ocpp2.0.1') return {};
    const r = await this.ctx.db
      .selectFrom('transaction_events')
      .select([
        sql<string | null>`min(case when ${sql.ref('charging_state')} in ('EVConnected', 'Idle') then ${sql.ref('timestamp')} end)`.as('pending'),
        sql<string | null>`min(case when ${sql.ref('charging_state')} in ('Charging', 'SuspendedEV', 'SuspendedEVSE') then ${sql.ref('timestamp')} end)`.as('active'),
      ])
      .where('transaction_id', '=', tx.id)
      .executeTakeFirst();
    const info: StartInfo = { firstPendingAt: r?.pending ?? null, firstActiveAt: r?.active ?? null };
    if (s && info.firstActiveAt) s.start = info;
    return info;
  }

  private meterRows(sessionId: string, fromMs?: number): Promise<MeterRow[]> {
    let q = this.ctx.db
      .selectFrom('meter_values')
      .select(['timestamp', 'measurand', 'phase', 'location', 'value'])
      .where('transaction_id', '=', sessionId)
      .where('measurand', 'in', [...PERIOD_MEASURANDS]);
    if (fromMs !== undefined && Number.isFinite(fromMs)) q = q.where('timestamp', '>=', new Date(fromMs).toISOString());
    return q.orderBy('timestamp').execute();
  }

  private async push(s: SessionState): Promise<'done' | 'failed' | 'dropped'> {
    const { db } = this.ctx;
    const tx = await db.selectFrom('transactions').selectAll().where('id', '=', s.sessionId).executeTakeFirst();
    if (!tx) {
      this.states.delete(s.sessionId);
      return 'dropped';
    }
    const target = await this.targetOf(tx.station_id);
    if (!target) {
      this.states.delete(s.sessionId);
      this.untargeted.set(tx.station_id, this.now() + this.opts.targetCacheMs);
      return 'dropped';
    }
    const partnerId = target.partner.id;
    if (s.partnerId !== partnerId) {
      s.partnerId = partnerId;
      s.lastSent = undefined;
      s.cursor = undefined;
      s.needsPut = true;
      s.failures = 0;
      delete s.firstFailureAt;
    }
    const ended = tx.state !== 'active';
    if (ended && s.lastSent === undefined) {
      // Picked up again after the end (a late event, a restart): nothing to do if the partner has this state.
      const row = await db.selectFrom('ocpi_sessions').select(['pushed_status', 'pushed_at']).where('partner_id', '=', partnerId).where('session_id', '=', s.sessionId).executeTakeFirst();
      if (row?.pushed_status === 'COMPLETED' && row.pushed_at !== null && row.pushed_at >= tx.updated_at) {
        this.states.delete(s.sessionId);
        return 'dropped';
      }
    }
    const start = await this.startInfo(s, tx);
    const opts = { ...this.identity(), periodMs: this.periodMs };

    let method: 'PUT' | 'PATCH';
    let body: unknown;
    let sent: OcpiSession;
    let cursor: PeriodCursor;
    if (s.needsPut || !s.lastSent || !s.cursor || ended) {
      const full = fullSession(tx, await this.meterRows(tx.id), opts, start);
      method = 'PUT';
      body = full.session;
      sent = { ...full.session };
      delete sent.charging_periods;
      cursor = full.cursor;
    } else {
      const readings = readingsOf(await this.meterRows(tx.id, s.cursor.fromMs));
      const built = buildPeriods({ readings, cursor: s.cursor, periodMs: opts.periodMs, sessionStartMs: new Date(tx.started_at).getTime(), closedBeforeMs: closedBefore(tx, readings) });
      sent = toOcpiSession(tx, opts, undefined, start);
      const patch: Partial<OcpiSession> & { charging_periods?: ChargingPeriod[] } = changedFields(s.lastSent, sent);
      delete patch.last_updated;
      if (built.periods.length === 0 && Object.keys(patch).length === 0) {
        // Nothing the partner does not have: send nothing, but the throttle applies to looking, too.
        s.lastAttemptAt = this.now();
        return 'done';
      }
      if (built.periods.length > 0) patch.charging_periods = built.periods;
      patch.last_updated = sent.last_updated;
      method = 'PATCH';
      body = patch;
      cursor = built.cursor;
    }

    const path = `${opts.countryCode}/${opts.partyId}/${encodeURIComponent(tx.id)}`;
    let error: string | undefined;
    try {
      const a = await target.client.call({ module: 'sessions', role: 'RECEIVER', method, path, body });
      // Receivers answer without data; an answer without an envelope is taken at its HTTP word (lenient).
      if (!isTwoXX(a.httpStatus)) error = `HTTP ${a.httpStatus}${a.statusCode !== undefined ? ` (${a.statusCode})` : ''}`;
      else if (a.statusCode !== undefined && !isSuccess(a.statusCode)) error = `status_code ${a.statusCode}${a.statusMessage ? `: ${a.statusMessage}` : ''}`;
    } catch (err) {
      error = (err as Error).message;
    }
    // The throttle and the backoff count from the end of this attempt: the receiver never sees two pushes
    // of a session closer than the interval, however long this one took.
    s.lastAttemptAt = this.now();
    if (this.stopped) return error ? 'failed' : 'done';
    const nowIso = this.ctx.clock.now().toISOString();
    if (error !== undefined) {
      s.failures++;
      s.firstFailureAt ??= this.now();
      s.needsPut = true;
      this.log.warn({ sessionId: tx.id, partnerId, method, failures: s.failures, error }, 'OCPI sessions: push failed; the latest state will be retried');
      await this.record(tx, partnerId, nowIso, { error: `${method}: ${error}`.slice(0, 500) });
      return 'failed';
    }
    s.failures = 0;
    delete s.firstFailureAt;
    s.needsPut = false;
    s.lastSent = sent;
    s.cursor = cursor;
    await this.record(tx, partnerId, nowIso, { status: sent.status, kwh: sent.kwh, periods: cursor.count });
    if (sent.status === 'COMPLETED') this.states.delete(s.sessionId);
    return 'done';
  }

  /** One write per push attempt: what the partner has now (success) or why it has not (failure). */
  private async record(tx: TransactionRow, partnerId: string, nowIso: string, r: { status: string; kwh: number; periods: number } | { error: string }): Promise<void> {
    const ok = 'status' in r;
    const mine = ok
      ? { pushed_status: r.status, pushed_at: nowIso, pushed_kwh: r.kwh, periods_pushed: r.periods, push_attempt_at: nowIso, push_error: null }
      : { push_attempt_at: nowIso, push_error: r.error };
    try {
      await this.ctx.db
        .insertInto('ocpi_sessions')
        .values({
          partner_id: partnerId,
          session_id: tx.id,
          station_id: tx.station_id,
          evse_id: tx.evse_id,
          pushed_status: null,
          pushed_at: null,
          pushed_kwh: null,
          periods_pushed: 0,
          profile_state: null,
          profile_set_at: null,
          profile_request_at: null,
          active_profile: null,
          active_profile_at: null,
          created_at: nowIso,
          updated_at: nowIso,
          ...mine,
        })
        .onConflict((oc) => oc.columns(['partner_id', 'session_id']).doUpdateSet({ ...mine, station_id: tx.station_id, evse_id: tx.evse_id, updated_at: nowIso }))
        .execute();
    } catch (err) {
      if (!this.stopped) this.log.error({ err, sessionId: tx.id, partnerId }, 'OCPI sessions: recording the push failed');
    }
  }

  /** Sessions whose last push did not reach COMPLETED: push their current state again (spread over one interval). */
  private async recover(): Promise<void> {
    const cutoff = new Date(this.ctx.clock.now().getTime() - this.opts.giveUpAfterMs).toISOString();
    const rows = await this.ctx.db
      .selectFrom('ocpi_sessions')
      .innerJoin('transactions', 'transactions.id', 'ocpi_sessions.session_id')
      .select(['ocpi_sessions.session_id as sessionId', 'transactions.station_id as stationId'])
      .where((eb) => eb.or([eb('ocpi_sessions.pushed_status', 'is', null), eb('ocpi_sessions.pushed_status', '<>', 'COMPLETED')]))
      .where((eb) => eb.or([eb('transactions.state', '=', 'active'), eb('transactions.stopped_at', '>=', cutoff)]))
      .execute();
    if (this.stopped) return;
    for (const r of rows) {
      if (this.states.has(r.sessionId)) continue;
      const s: SessionState = { sessionId: r.sessionId, stationId: r.stationId, needsPut: true, failures: 0, running: false };
      this.states.set(r.sessionId, s);
      // Spread the PUTs over one update interval instead of a burst at start-up.
      s.dueAt = this.now() + Math.random() * Math.min(this.opts.updateIntervalMs, 60_000);
      s.timer = setTimeout(() => this.fire(s), s.dueAt - this.now());
      s.timer.unref?.();
    }
    if (rows.length > 0) this.log.info({ sessions: rows.length }, 'OCPI sessions: resuming pushes');
  }

  // ── the module ─────────────────────────────────────────────────────────────────────────────────

  /** The full Session objects of transactions, as the GET list carries them. */
  async sessionsOf(txs: readonly TransactionRow[]): Promise<OcpiSession[]> {
    const opts = { ...this.identity(), periodMs: this.periodMs };
    const out: OcpiSession[] = [];
    for (const tx of txs) {
      const [rows, start] = await Promise.all([this.meterRows(tx.id), this.startInfo(undefined, tx)]);
      out.push(fullSession(tx, rows, opts, start).session);
    }
    return out;
  }

  private async list(req: OcpiRequest<PartnerPrincipal>): Promise<OcpiReply> {
    const page = parsePageQuery(req.query, { maxLimit: this.opts.maxPageLimit });
    const partnerId = req.principal.partner.id;
    let base = this.ctx.db
      .selectFrom('transactions')
      .innerJoin('pairings', 'pairings.station_id', 'transactions.station_id')
      .innerJoin('scsp_partners', 'scsp_partners.id', 'pairings.partner_id')
      .where('scsp_partners.ocpi_partner_id', '=', partnerId)
      .where('scsp_partners.enabled', '=', 1)
      .where(pairedDuringSession);
    if (page.dateFrom) base = base.where('transactions.updated_at', '>=', page.dateFrom.toISOString());
    if (page.dateTo) base = base.where('transactions.updated_at', '<', page.dateTo.toISOString());
    const count = await base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
    const total = Number(count?.n ?? 0);
    const txs = total <= page.offset ? [] : await base.selectAll('transactions').orderBy('transactions.updated_at').orderBy('transactions.id').limit(page.limit).offset(page.offset).execute();
    const data = await this.sessionsOf(txs);
    return { data, headers: pageHeaders({ requestUrl: req.url, page, returned: data.length, total }) };
  }

  private async putPreferences(req: OcpiRequest<PartnerPrincipal>): Promise<OcpiReply> {
    const sessionId = req.params.session_id ?? '';
    const partnerId = req.principal.partner.id;
    const tx = await sessionForPartner(this.ctx.db, partnerId, sessionId);
    if (!tx) throw new OcpiError(OcpiStatus.InvalidParameters, `Unknown session '${sessionId}'`, { httpStatus: 404 });
    const prefs = parseChargingPreferences(req.body);
    const result: ChargingPreferencesResponse = tx.state === 'active' && tx.evse_id > 0 ? 'ACCEPTED' : 'NOT_POSSIBLE';
    if (result === 'ACCEPTED') {
      const row = {
        profile_type: prefs.profile_type,
        departure_time: prefs.departure_time ?? null,
        energy_need: prefs.energy_need ?? null,
        discharge_allowed: prefs.discharge_allowed === undefined ? null : prefs.discharge_allowed ? 1 : 0,
        result,
        received_at: this.ctx.clock.now().toISOString(),
      };
      await (this.ctx.db as unknown as PrefsDb)
        .insertInto('ocpi_charging_preferences')
        .values({ partner_id: partnerId, session_id: tx.id, ...row })
        .onConflict((oc) => oc.columns(['partner_id', 'session_id']).doUpdateSet(row))
        .execute();
    }
    return { data: result };
  }

  /** The charging preferences a partner set on a session (the smart-charging side reads them). */
  async preferences(partnerId: string, sessionId: string): Promise<(ChargingPreferences & { receivedAt: string }) | undefined> {
    const r = await (this.ctx.db as unknown as PrefsDb)
      .selectFrom('ocpi_charging_preferences')
      .selectAll()
      .where('partner_id', '=', partnerId)
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
    if (!r) return undefined;
    return {
      profile_type: r.profile_type as ProfileType,
      ...(r.departure_time !== null ? { departure_time: r.departure_time } : {}),
      ...(r.energy_need !== null ? { energy_need: r.energy_need } : {}),
      ...(r.discharge_allowed !== null ? { discharge_allowed: r.discharge_allowed === 1 } : {}),
      receivedAt: r.received_at,
    };
  }
}
