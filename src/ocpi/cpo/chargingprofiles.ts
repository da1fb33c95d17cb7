/**
 * OCPI 2.2.1 ChargingProfiles, **CPO as Receiver** (issue 8 §4; protocols.md §1.7, §2.6–2.8, §3.4–3.5):
 * `{base}/ocpi/2.2.1/chargingprofiles/{session_id}` with PUT (SetChargingProfile), DELETE (clear) and GET
 * (active profile), each answered at once with a ChargingProfileResponse `{result, timeout}` and — only
 * when that result is ACCEPTED — followed by an asynchronous result POSTed to the caller's
 * `response_url`; plus ActiveChargingProfile PUTs to the partner's chargingprofiles SENDER endpoint when
 * the active profile of a session it steers changes.
 *
 * Design decisions
 *
 * 1. **One send path with the OCPP-format receiver.** A PUT becomes a 2.0.1-shaped
 *    `SetChargingProfileRequest` for the session's transaction (EVSE, `transactionId`: the 2.0.1 id or
 *    the 1.6 integer as text) and goes through `translateScspProfile` (src/scsp-link/profile-receiver.ts,
 *    rules R1–R10) with the station facts of `stationFacts` (src/scsp-link/routes-profiles.ts), then
 *    through `SmartChargingService.set` with source `scsp`. So OCPI and the OCPP-format route share W↔A
 *    conversion by phases and voltage, clamping to the connector and the site limit, the 6 A minimum,
 *    the period limit, the profile id **8000 + evse** (a new PUT replaces the previous plan, K01.FR.05;
 *    the OCPP-format route and OCPI steer the same plan slot) and the stack level `SCSP_STACK_LEVEL`
 *    (below the load balancer, which reads this profile as the session's plan, protocols.md §3.4).
 *    `start_date_time` present → Absolute with `startSchedule`; absent → **Relative** (relative to the
 *    start of the transaction, K01.FR.41, protocols.md §2.8). An Absolute plan that started in the past
 *    is re-based by R4 onto the period in force now (elapsed periods dropped, `startSchedule` moved
 *    forward); one whose `duration` has run out is REJECTED. `duration` is kept; `min_charging_rate` is
 *    kept (converted like a limit) — the one deviation from the OCPP-format route, which drops it
 *    because a station-wide minimum does not split across EVSEs.
 *
 * 2. **Synchronous answer = everything that can be decided without the station.** In this order:
 *    2001 (HTTP 200) for a malformed body or query (unit not W/A, periods empty / not starting at 0 / not
 *    increasing, a negative limit or more than one decimal, a bad date-time, missing `response_url` or
 *    `duration`) — the client's error whatever the session; UNKNOWN_SESSION when the session is unknown,
 *    not the caller's (access rule of context.ts: the station is paired with the SCSP partner whose
 *    `ocpiPartnerId` is the caller) or no longer active; TOO_OFTEN (below); REJECTED when the station
 *    is known offline; NOT_SUPPORTED when the session's EVSE is not `CHARGING_PROFILE_CAPABLE` in the
 *    station description the SCSP was given at pairing (src/scsp-link/station-description.ts: 2.0.1
 *    `SmartChargingCtrlr.Available`/`Enabled` false, 1.6 `SupportedFeatureProfiles` without
 *    `SmartCharging`) or the station takes neither A nor W; REJECTED when the
 *    translation or Ampline's pre-send validation (K01 rules against the station's capabilities and
 *    installed profiles) refuses the profile; otherwise ACCEPTED. `timeout` = the OCPP call timeout
 *    (`AMPLINE_OCPP_CALL_TIMEOUT_S`, 30 s) + a margin (`AMPLINE_OCPI_PROFILE_RESULT_MARGIN_S`, 30 s) =
 *    60 s by default: the OCPP call is bounded by the former, so the result is POSTed within `timeout`.
 *
 * 3. **Asynchronous results** are POSTed exactly to `response_url` (never parsed, query string kept),
 *    authenticated like every call to that partner, once (OCPI has no retries; the partner re-syncs with
 *    GET). SetChargingProfile: Accepted → ACCEPTED; Rejected / NotSupported, CALLERROR, timeout, station
 *    gone offline, a refusal at send time → REJECTED; the transaction ended meanwhile → UNKNOWN.
 *    ClearChargingProfile (by the session's profile id): Accepted → ACCEPTED, Unknown → UNKNOWN, anything
 *    else → REJECTED. GetCompositeSchedule (the session's EVSE, the GET's `duration`, the partner's unit
 *    when the station takes it): Accepted with a schedule → ACCEPTED + ActiveChargingProfile
 *    (`start_date_time` = `scheduleStart`, `startPeriod` → `start_period`), else REJECTED.
 *
 * 4. **State** lives in `ocpi_sessions` (rows keyed by partner and session, shared with the Sessions
 *    sender; this module writes only `profile_state`, `profile_set_at`, `profile_request_at`,
 *    `active_profile`, `active_profile_at` and creates the row when missing): `profile_state` becomes
 *    `set` after a station-accepted PUT and `cleared` after an accepted (or Unknown) DELETE of a session
 *    that had been set — a DELETE never makes an unprofiled session profiled.
 *
 * 5. **TOO_OFTEN** is a minimum interval per partner, session and method between requests that were
 *    not themselves refused as TOO_OFTEN (`AMPLINE_OCPI_PROFILE_MIN_INTERVAL_S`, default 5 s, 0 = off):
 *    a burst of PUTs (or GETs, or DELETEs) reaches the station once, but a DELETE or a GET right after a
 *    PUT is not refused — clearing a plan just set, or reading it back, is legitimate and must not leave
 *    a stale limit on the station. It is checked and claimed synchronously in memory, so concurrent
 *    requests let exactly one through; `profile_request_at` records the last request for operators.
 *    (Per node: with several CSMS nodes each would limit on its own.)
 *
 * 6. **ActiveChargingProfile updates.** Only sessions with a `profile_state` (the partner once set a
 *    profile successfully) are watched — an in-memory index per station, loaded at start and updated on
 *    set / transaction end, so a busy station costs nothing for unprofiled sessions. Triggers:
 *    `ChargingProfilesChanged` (an accepted set/clear — the partner's own included: protocols.md §2.8
 *    lists accepted Set/Clear as triggers —, the load balancer re-allocating, management profiles,
 *    reports), TransactionEvent with `triggerReason` ChargingRateChanged, and `ChargingLimitNotified`
 *    (published by the 2.0.1 NotifyChargingLimit handler when the OCPP services carry the event bus; the
 *    receiver first asks the station (GetChargingProfiles) for its external-constraint profiles of that
 *    source so that the shadow, and so the prediction, knows the new limit). Triggers are debounced and coalesced per session (`AMPLINE_OCPI_ACTIVE_PROFILE_DEBOUNCE_MS`,
 *    1 s) and one computation runs at a time per session. The profile is Ampline's own composite
 *    prediction from the shadow (no station call) over `AMPLINE_OCPI_ACTIVE_PROFILE_HORIZON_S` (default
 *    60 min; 5–60 min), in the unit the partner last set (else the last sent, else W); with no profile
 *    left it is the EVSE's maximum. It is PUT to `{SENDER url}/{session_id}` only when it differs from
 *    the last one sent (`active_profile`) — compared as limits over absolute time on the window both
 *    cover, so the window merely sliding forward is not a change — and recorded only when the partner
 *    answers 2xx (and 1xxx when it sends an envelope), so a failed PUT is tried again at the next change.
 */
import type { OCPP20 } from 'typed-ocpp';
import { isSuccess, OcpiError } from '../core/status.js';
import type { ActiveChargingProfile, ChargingProfile, ChargingProfilePeriod, ChargingProfileResponse, ChargingProfileResponseType, ChargingProfileResultType } from '../objects.js';
import type { OcpiModule, OcpiReply, OcpiRequest } from '../core/plugin.js';
import { formatDateTime, parseDateTime } from '../core/datetime.js';
import { isHttpUrl } from '../core/strings.js';
import type { PartnerPrincipal } from '../credentials.js';
import { NoSuchEndpointError, type OcpiNode } from '../node.js';
import { type CpoOcpiContext, type TransactionRow, sessionForPartner } from './context.js';
import { DEFAULT_OCPI_CHARGING_PROFILES } from '../../config.js';
import { DEFAULT_TRANSPORT_OPTIONS } from '../../ocpp/transport.js';
import type { OcppProtocol } from '../../ocpp/protocol.js';
import { CallTimeoutError, ChargerCallError, StationOfflineError } from '../../ocpp/errors.js';
import { UnknownStationError } from '../../services/commands.js';
import { ProfileRejectedError } from '../../services/smart-charging.js';
import type { DomainEvent } from '../../domain/model.js';
import type { Logger } from '../../util/log.js';
import type { CompositeSchedule } from '../../smart/composite.js';
import { isMultipleOfTenth, type RateUnit } from '../../smart/units.js';
import { SCSP_PROFILE_ID_BASE, SCSP_STACK_LEVEL, translateScspProfile, type RefusalReason } from '../../scsp-link/profile-receiver.js';
import { stationFacts } from '../../scsp-link/routes-profiles.js';
import { type ChargingStationDescription, NoEvsesKnownError, loadStationDescription } from '../../scsp-link/station-description.js';

// ── OCPI objects (mod_charging_profiles) ─────────────────────────────────────────────────────────

export type { ActiveChargingProfile, ChargingProfileResponse, ChargingProfileResponseType, ChargingProfileResultType } from '../objects.js';
export type OcpiChargingProfilePeriod = ChargingProfilePeriod;
export type OcpiChargingProfile = ChargingProfile;

/** A parsed SetChargingProfile body. */
export interface SetChargingProfile {
  charging_profile: { start?: Date; duration?: number; unit: RateUnit; minRate?: number; periods: OcpiChargingProfilePeriod[] };
  response_url: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && isMultipleOfTenth(v);

/** Validates a SetChargingProfile body (2001 on any fault). Pure; exported for tests. */
export function parseSetChargingProfile(body: unknown): SetChargingProfile {
  if (!isObject(body)) throw OcpiError.invalid('The body must be a SetChargingProfile object {charging_profile, response_url}');
  const url = body.response_url;
  if (url === undefined) throw OcpiError.invalid('response_url is required');
  if (!isHttpUrl(url)) throw OcpiError.invalid('response_url must be an http(s) URL');
  const cp = body.charging_profile;
  if (!isObject(cp)) throw OcpiError.invalid('charging_profile is required and must be a ChargingProfile object');
  const unit = cp.charging_rate_unit;
  if (unit !== 'W' && unit !== 'A') throw OcpiError.invalid('charging_profile.charging_rate_unit must be "W" or "A"');
  const out: SetChargingProfile['charging_profile'] = { unit, periods: [] };
  if (cp.start_date_time !== undefined && cp.start_date_time !== null) {
    const d = parseDateTime(cp.start_date_time);
    if (!d) throw OcpiError.invalid('charging_profile.start_date_time is not an OCPI DateTime');
    out.start = d;
  }
  if (cp.duration !== undefined && cp.duration !== null) {
    if (!Number.isInteger(cp.duration) || (cp.duration as number) <= 0) throw OcpiError.invalid('charging_profile.duration must be a positive integer (seconds)');
    out.duration = cp.duration as number;
  }
  if (cp.min_charging_rate !== undefined && cp.min_charging_rate !== null) {
    if (!isRate(cp.min_charging_rate)) throw OcpiError.invalid('charging_profile.min_charging_rate must be a number ≥ 0 with at most one decimal');
    out.minRate = cp.min_charging_rate;
  }
  const periods = cp.charging_profile_period;
  if (!Array.isArray(periods) || periods.length === 0) {
    throw OcpiError.invalid('charging_profile.charging_profile_period must hold at least one period (the first at start_period 0)');
  }
  periods.forEach((p: unknown, i) => {
    const at = `charging_profile.charging_profile_period[${i}]`;
    if (!isObject(p)) throw OcpiError.invalid(`${at} must be a ChargingProfilePeriod object`);
    if (!Number.isInteger(p.start_period) || (p.start_period as number) < 0) throw OcpiError.invalid(`${at}.start_period must be an integer ≥ 0`);
    if (!isRate(p.limit)) throw OcpiError.invalid(`${at}.limit must be a number ≥ 0 with at most one decimal`);
    const start = p.start_period as number;
    if (i === 0 && start !== 0) throw OcpiError.invalid(`the first period must start at 0, not ${start}`);
    const prev = out.periods[i - 1];
    if (prev && start <= prev.start_period) throw OcpiError.invalid(`${at}.start_period must be greater than the previous one (${prev.start_period})`);
    out.periods.push({ start_period: start, limit: p.limit });
  });
  return { charging_profile: out, response_url: url };
}

/** A composite schedule (Ampline's prediction or the station's answer) as an OCPI ActiveChargingProfile. */
export function activeProfileOf(c: CompositeSchedule): ActiveChargingProfile {
  const cp: OcpiChargingProfile = {
    charging_rate_unit: c.chargingRateUnit,
    duration: c.duration as number,
    charging_profile_period: c.chargingSchedulePeriod.map((p) => ({ start_period: p.startPeriod as number, limit: Math.floor((p.limit as number) * 10 + 1e-9) / 10 })),
  };
  if (c.minChargingRate !== undefined) cp.min_charging_rate = Math.floor(c.minChargingRate * 10 + 1e-9) / 10;
  return { start_date_time: formatDateTime(new Date(c.scheduleStart)), charging_profile: cp };
}

/**
 * Do two ActiveChargingProfiles say the same over the time both cover? Same unit and minimum, and the
 * same limit at every period boundary of either inside the common window. No common window → different.
 */
export function sameActiveProfile(a: ActiveChargingProfile, b: ActiveChargingProfile, defaultDurationS = 3600): boolean {
  const pa = a.charging_profile;
  const pb = b.charging_profile;
  if (pa.charging_rate_unit !== pb.charging_rate_unit || (pa.min_charging_rate ?? null) !== (pb.min_charging_rate ?? null)) return false;
  const sa = Date.parse(a.start_date_time);
  const sb = Date.parse(b.start_date_time);
  if (!Number.isFinite(sa) || !Number.isFinite(sb)) return false;
  const from = Math.max(sa, sb);
  const to = Math.min(sa + (pa.duration ?? defaultDurationS) * 1000, sb + (pb.duration ?? defaultDurationS) * 1000);
  if (!(to > from)) return false;
  const periodsA = pa.charging_profile_period ?? [];
  const periodsB = pb.charging_profile_period ?? [];
  const limitAt = (start: number, periods: OcpiChargingProfilePeriod[], t: number): number | undefined => {
    let v: number | undefined;
    for (const p of periods) if (start + p.start_period * 1000 <= t) v = p.limit;
    return v;
  };
  const points = new Set<number>([from]);
  for (const p of periodsA) points.add(sa + p.start_period * 1000);
  for (const p of periodsB) points.add(sb + p.start_period * 1000);
  for (const t of points) {
    if (t < from || t >= to) continue;
    if (limitAt(sa, periodsA, t) !== limitAt(sb, periodsB, t)) return false;
  }
  return true;
}

// ── the receiver ─────────────────────────────────────────────────────────────────────────────────

export interface ChargingProfilesOptions {
  /** Least time between two requests of a partner on one session (ms); 0 = no limit. */
  minIntervalMs: number;
  /** Bound on each OCPP call (ms). */
  ocppTimeoutMs: number;
  /** `timeout` answered = ocppTimeoutMs / 1000 + this (s). */
  resultMarginS: number;
  /** Horizon of the ActiveChargingProfile pushed (s, 300–3600). */
  activeHorizonS: number;
  /** Debounce of ActiveChargingProfile pushes per session (ms). */
  activeDebounceMs: number;
}

interface Watched {
  partnerId: string;
  sessionId: string;
  stationId: string;
  evseId: number;
}

interface Pending {
  refreshSource?: string | undefined;
}

const keyOf = (partnerId: string, sessionId: string): string => `${partnerId}\u0000${sessionId}`;

/** The id the station knows the transaction by: 2.0.1 string, 1.6 integer as text. */
const wireTxId = (tx: TransactionRow): string => (tx.protocol === 'ocpp1.6' && tx.tx_number !== null ? String(tx.tx_number) : tx.ocpp_tx_id);

export class OcpiChargingProfilesReceiver {
  private opts: ChargingProfilesOptions;
  private node: OcpiNode | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private readonly log: Logger;
  /** TOO_OFTEN: last request let through per partner, session and method (clock ms). */
  private readonly lastRequest = new Map<string, number>();
  /** The unit the partner last set per session (for GET and ActiveChargingProfile). */
  private readonly units = new Map<string, RateUnit>();
  /** Sessions with a profile_state, per station. */
  private readonly watched = new Map<string, Map<string, Watched>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly pending = new Map<string, Pending>();
  private readonly running = new Map<string, Promise<void>>();
  /** Asynchronous work in flight (results, pushes): awaited by stop() and idle(). */
  private readonly jobs = new Set<Promise<void>>();

  constructor(readonly ctx: CpoOcpiContext) {
    this.log = ctx.log.child({ component: 'ocpi-chargingprofiles' });
    const c = ctx.config?.ocpi.chargingProfiles ?? DEFAULT_OCPI_CHARGING_PROFILES;
    this.opts = {
      minIntervalMs: c.minIntervalS * 1000,
      ocppTimeoutMs: ctx.config?.ocpp.callTimeoutMs ?? DEFAULT_TRANSPORT_OPTIONS.callTimeoutMs,
      resultMarginS: c.resultMarginS,
      activeHorizonS: c.activeHorizonS,
      activeDebounceMs: c.activeDebounceMs,
    };
  }

  /** Change settings at run time (tests, benchmarks). */
  configure(o: Partial<ChargingProfilesOptions>): void {
    this.opts = { ...this.opts, ...o };
  }

  get options(): Readonly<ChargingProfilesOptions> {
    return this.opts;
  }

  /** The `timeout` of every ChargingProfileResponse (s). */
  get timeoutS(): number {
    return Math.ceil(this.opts.ocppTimeoutMs / 1000) + this.opts.resultMarginS;
  }

  modules(node: OcpiNode): OcpiModule<PartnerPrincipal>[] {
    this.node = node;
    return [
      {
        identifier: 'chargingprofiles',
        kind: 'functional',
        interfaceRole: 'RECEIVER',
        path: '2.2.1/chargingprofiles',
        routes: [
          { method: 'PUT', url: '/:session_id', handler: (r) => this.put(r) },
          { method: 'DELETE', url: '/:session_id', handler: (r) => this.delete(r) },
          { method: 'GET', url: '/:session_id', handler: (r) => this.get(r) },
        ],
      },
    ];
  }

  start(node: OcpiNode): void {
    this.node = node;
    this.stopped = false;
    this.unsubscribe = this.ctx.events.subscribe((e) => this.onEvent(e));
    this.track(this.loadWatched());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.pending.clear();
    await this.idle();
  }

  /** Resolves when no asynchronous result or push is in flight (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.allSettled([...this.jobs]);
  }

  private track(p: Promise<void>): void {
    const job = p.catch((err: unknown) => this.log.error({ err }, 'OCPI ChargingProfiles background work failed'));
    this.jobs.add(job);
    void job.finally(() => this.jobs.delete(job));
  }

  private nowIso(): string {
    return this.ctx.clock.now().toISOString();
  }

  // ── synchronous part ───────────────────────────────────────────────────────────────────────

  private reply(result: ChargingProfileResponseType, message?: string): OcpiReply {
    const data: ChargingProfileResponse = { result, timeout: this.timeoutS };
    return { data, ...(message ? { statusMessage: message } : {}) };
  }

  /** The caller's active session, or the reply that ends the request. */
  private async session(req: OcpiRequest<PartnerPrincipal>): Promise<{ tx: TransactionRow } | { reply: OcpiReply }> {
    const id = req.params.session_id ?? '';
    const tx = await sessionForPartner(this.ctx.db, req.principal.partner.id, id);
    if (!tx) return { reply: this.reply('UNKNOWN_SESSION', `Unknown session ${id}`) };
    if (tx.state !== 'active') return { reply: this.reply('UNKNOWN_SESSION', `Session ${id} is not active`) };
    return { tx };
  }

  /** TOO_OFTEN check-and-claim (synchronous, so a burst lets one through). */
  private claim(partnerId: string, sessionId: string, method: 'PUT' | 'DELETE' | 'GET'): boolean {
    if (this.opts.minIntervalMs <= 0) return true;
    const key = `${keyOf(partnerId, sessionId)}\u0000${method}`;
    const now = this.ctx.clock.now().getTime();
    const last = this.lastRequest.get(key);
    if (last !== undefined && now - last < this.opts.minIntervalMs) return false;
    this.lastRequest.set(key, now);
    if (this.lastRequest.size > 10_000) {
      for (const [k, t] of this.lastRequest) if (now - t >= this.opts.minIntervalMs) this.lastRequest.delete(k);
    }
    return true;
  }

  /** Offline (or unknown) station → REJECTED; else its protocol. */
  private async stationCheck(tx: TransactionRow): Promise<{ protocol: OcppProtocol } | { reply: OcpiReply }> {
    try {
      return { protocol: await this.ctx.commands.target(tx.station_id) };
    } catch (err) {
      if (err instanceof StationOfflineError) return { reply: this.reply('REJECTED', 'The charging station is offline') };
      if (err instanceof UnknownStationError) return { reply: this.reply('REJECTED', 'The charging station is unknown') };
      throw err;
    }
  }

  /**
   * NOT_SUPPORTED unless the session's EVSE is CHARGING_PROFILE_CAPABLE in the station description the
   * SCSP was given (station-description.ts: 2.0.1 SmartChargingCtrlr.Enabled/Available false, 1.6
   * SupportedFeatureProfiles without SmartCharging). No EVSE known yet: capable.
   */
  private notSupported(description: ChargingStationDescription | undefined, evseId: number): OcpiReply | undefined {
    const evse = description?.evses.find((e) => e.evse_id === evseId);
    if (!evse || evse.capabilities.includes('CHARGING_PROFILE_CAPABLE')) return undefined;
    return this.reply('NOT_SUPPORTED', `EVSE ${evseId} of the charging station is not CHARGING_PROFILE_CAPABLE`);
  }

  private async description(stationId: string): Promise<ChargingStationDescription | undefined> {
    return loadStationDescription(this.ctx.db, stationId).catch((err: unknown) => {
      if (err instanceof NoEvsesKnownError) return undefined;
      throw err;
    });
  }

  private async recordRequest(partnerId: string, tx: TransactionRow, at = this.nowIso()): Promise<void> {
    await this.upsert(partnerId, tx, { profile_request_at: at });
  }

  /** Insert the row if missing; on conflict update only this module's columns. */
  private async upsert(
    partnerId: string,
    tx: Pick<TransactionRow, 'id' | 'station_id' | 'evse_id'>,
    cols: { profile_state?: string; profile_set_at?: string; profile_request_at?: string; active_profile?: string; active_profile_at?: string },
  ): Promise<void> {
    const now = this.nowIso();
    await this.ctx.db
      .insertInto('ocpi_sessions')
      .values({ partner_id: partnerId, session_id: tx.id, station_id: tx.station_id, evse_id: tx.evse_id, periods_pushed: 0, created_at: now, updated_at: now, ...cols })
      .onConflict((oc) => oc.columns(['partner_id', 'session_id']).doUpdateSet(cols))
      .execute();
  }

  private async put(req: OcpiRequest<PartnerPrincipal>): Promise<OcpiReply> {
    const body = parseSetChargingProfile(req.body);
    const partnerId = req.principal.partner.id;
    const s = await this.session(req);
    if ('reply' in s) return s.reply;
    const { tx } = s;
    if (!this.claim(partnerId, tx.id, 'PUT')) return this.reply('TOO_OFTEN', `At most one PUT per ${this.opts.minIntervalMs / 1000} s on a session`);
    // The request time is recorded with the refusal, or — accepted — with the outcome (one write fewer
    // before the OCPP call).
    const requestedAt = this.nowIso();
    const refuse = async (r: OcpiReply): Promise<OcpiReply> => {
      await this.recordRequest(partnerId, tx, requestedAt);
      return r;
    };
    const st = await this.stationCheck(tx);
    if ('reply' in st) return refuse(st.reply);

    // The session's plan as a 2.0.1 request for its transaction, through the OCPP-format receiver's rules.
    const cp = body.charging_profile;
    const request: OCPP20.SetChargingProfileRequest = {
      evseId: tx.evse_id,
      chargingProfile: {
        id: SCSP_PROFILE_ID_BASE + tx.evse_id,
        stackLevel: SCSP_STACK_LEVEL,
        chargingProfilePurpose: 'TxProfile',
        chargingProfileKind: cp.start ? 'Absolute' : 'Relative',
        transactionId: wireTxId(tx),
        chargingSchedule: [
          {
            id: 1,
            ...(cp.start ? { startSchedule: cp.start.toISOString() } : {}),
            ...(cp.duration !== undefined ? { duration: cp.duration } : {}),
            chargingRateUnit: cp.unit,
            chargingSchedulePeriod: cp.periods.map((p) => ({ startPeriod: p.start_period, limit: p.limit })),
            ...(cp.minRate !== undefined ? { minChargingRate: cp.minRate } : {}),
          },
        ],
      },
    };
    const { facts, description } = await stationFacts(this.ctx, tx.station_id, st.protocol);
    const unsupported = this.notSupported(description, tx.evse_id);
    if (unsupported) return refuse(unsupported);
    const t = translateScspProfile({ payloadProtocol: 'ocpp2.0.1', body: request }, facts, { keepMinChargingRate: true });
    if (!t.ok) return refuse(this.reply(refusalResult(t.reason), t.message));
    const target = t.targets.find((x) => x.evseId === tx.evse_id);
    if (!target) return refuse(this.reply('UNKNOWN_SESSION', `The transaction of session ${tx.id} is not active at the charging station`));
    let check;
    try {
      check = await this.ctx.smart.check(tx.station_id, target.profile, 'SetChargingProfile', this.opts.ocppTimeoutMs);
    } catch (err) {
      if (err instanceof StationOfflineError || err instanceof UnknownStationError) return refuse(this.reply('REJECTED', 'The charging station is offline'));
      throw err;
    }
    if (check.violations.length > 0) {
      return refuse(this.reply('REJECTED', `The charging station cannot take this profile: ${check.violations.map((v) => `${v.code} (${v.requirement}): ${v.detail}`).join('; ')}`));
    }

    this.units.set(keyOf(partnerId, tx.id), cp.unit);
    this.track(this.sendProfile(partnerId, tx, target.profile, body.response_url, req.correlationId, requestedAt));
    return this.reply('ACCEPTED');
  }

  private async delete(req: OcpiRequest<PartnerPrincipal>): Promise<OcpiReply> {
    const responseUrl = requireResponseUrl(req.query);
    const partnerId = req.principal.partner.id;
    const s = await this.session(req);
    if ('reply' in s) return s.reply;
    const { tx } = s;
    if (!this.claim(partnerId, tx.id, 'DELETE')) return this.reply('TOO_OFTEN', `At most one DELETE per ${this.opts.minIntervalMs / 1000} s on a session`);
    const [st, description] = await Promise.all([this.stationCheck(tx), this.description(tx.station_id), this.recordRequest(partnerId, tx)]);
    if ('reply' in st) return st.reply;
    const unsupported = this.notSupported(description, tx.evse_id);
    if (unsupported) return unsupported;
    this.track(this.clearProfile(partnerId, tx, responseUrl, req.correlationId));
    return this.reply('ACCEPTED');
  }

  private async get(req: OcpiRequest<PartnerPrincipal>): Promise<OcpiReply> {
    const raw = firstOf(req.query.duration);
    if (raw === undefined || raw === '') throw OcpiError.invalid('duration is required (seconds)');
    if (!/^\d{1,9}$/.test(raw) || Number(raw) <= 0) throw OcpiError.invalid('duration must be a positive integer (seconds)');
    const duration = Number(raw);
    const responseUrl = requireResponseUrl(req.query);
    const partnerId = req.principal.partner.id;
    const s = await this.session(req);
    if ('reply' in s) return s.reply;
    const { tx } = s;
    if (!this.claim(partnerId, tx.id, 'GET')) return this.reply('TOO_OFTEN', `At most one GET per ${this.opts.minIntervalMs / 1000} s on a session`);
    const [st, description] = await Promise.all([this.stationCheck(tx), this.description(tx.station_id), this.recordRequest(partnerId, tx)]);
    if ('reply' in st) return st.reply;
    const unsupported = this.notSupported(description, tx.evse_id);
    if (unsupported) return unsupported;
    this.track(this.activeProfile(partnerId, tx, st.protocol, duration, responseUrl, req.correlationId));
    return this.reply('ACCEPTED');
  }

  // ── asynchronous part ──────────────────────────────────────────────────────────────────────

  /** POST a result to the partner's response_url, once. */
  private async postResult(partnerId: string, url: string, body: unknown, correlationId: string): Promise<void> {
    const node = this.node;
    const partner = await node?.partners.get(partnerId);
    if (!node || !partner) {
      this.log.warn({ partner: partnerId }, 'OCPI partner gone: result not posted');
      return;
    }
    try {
      const a = await node.partnerClient(partner).callUrl({ method: 'POST', url, body, correlationId });
      if (a.httpStatus < 200 || a.httpStatus >= 300 || (a.statusCode !== undefined && !isSuccess(a.statusCode))) {
        this.log.warn({ partner: partnerId, httpStatus: a.httpStatus, statusCode: a.statusCode }, 'OCPI ChargingProfiles result refused by the partner');
      }
    } catch (err) {
      this.log.warn({ err, partner: partnerId }, 'OCPI ChargingProfiles result could not be posted');
    }
  }

  private async stillActive(tx: TransactionRow): Promise<boolean> {
    const r = await this.ctx.db.selectFrom('transactions').select('state').where('id', '=', tx.id).executeTakeFirst();
    return r?.state === 'active';
  }

  /** Failures of a station call → REJECTED (UNKNOWN when the session ended meanwhile). */
  private async failure(tx: TransactionRow, err: unknown, what: string): Promise<ChargingProfileResultType> {
    const expected =
      err instanceof ProfileRejectedError || err instanceof StationOfflineError || err instanceof CallTimeoutError || err instanceof ChargerCallError || err instanceof UnknownStationError;
    if (!expected) this.log.error({ err, stationId: tx.station_id, session: tx.id }, `${what} failed`);
    else this.log.info({ err: (err as Error).message, stationId: tx.station_id, session: tx.id }, `${what}: station call failed`);
    return (await this.stillActive(tx)) ? 'REJECTED' : 'UNKNOWN';
  }

  private async sendProfile(
    partnerId: string,
    tx: TransactionRow,
    profile: Parameters<CpoOcpiContext['smart']['set']>[1],
    url: string,
    correlationId: string,
    requestedAt: string,
  ): Promise<void> {
    let result: ChargingProfileResultType;
    try {
      const res = await this.ctx.smart.set(tx.station_id, profile, { source: 'scsp', timeoutMs: this.opts.ocppTimeoutMs });
      result = res.status === 'Accepted' ? 'ACCEPTED' : (await this.stillActive(tx)) ? 'REJECTED' : 'UNKNOWN';
    } catch (err) {
      result = await this.failure(tx, err, 'SetChargingProfile');
    }
    await this.upsert(partnerId, tx, { profile_request_at: requestedAt, ...(result === 'ACCEPTED' ? { profile_state: 'set', profile_set_at: this.nowIso() } : {}) });
    if (result === 'ACCEPTED') {
      this.watch({ partnerId, sessionId: tx.id, stationId: tx.station_id, evseId: tx.evse_id });
      this.schedule(keyOf(partnerId, tx.id));
    }
    this.log.info({ partner: partnerId, session: tx.id, stationId: tx.station_id, result }, 'OCPI SetChargingProfile');
    await this.postResult(partnerId, url, { result }, correlationId);
  }

  private async clearProfile(partnerId: string, tx: TransactionRow, url: string, correlationId: string): Promise<void> {
    let result: ChargingProfileResultType;
    try {
      const res = await this.ctx.smart.clear(tx.station_id, { id: SCSP_PROFILE_ID_BASE + tx.evse_id }, { timeoutMs: this.opts.ocppTimeoutMs });
      result = res.status === 'Accepted' ? 'ACCEPTED' : res.status === 'Unknown' ? 'UNKNOWN' : 'REJECTED';
    } catch (err) {
      result = await this.failure(tx, err, 'ClearChargingProfile');
    }
    if (result === 'ACCEPTED' || result === 'UNKNOWN') {
      // Only a session the partner had set stays watched (now `cleared`); a DELETE never makes one profiled.
      await this.ctx.db
        .updateTable('ocpi_sessions')
        .set({ profile_state: 'cleared' })
        .where('partner_id', '=', partnerId)
        .where('session_id', '=', tx.id)
        .where('profile_state', 'is not', null)
        .execute();
    }
    this.log.info({ partner: partnerId, session: tx.id, stationId: tx.station_id, result }, 'OCPI ClearChargingProfile');
    await this.postResult(partnerId, url, { result }, correlationId);
  }

  private async activeProfile(partnerId: string, tx: TransactionRow, protocol: OcppProtocol, duration: number, url: string, correlationId: string): Promise<void> {
    let body: { result: ChargingProfileResultType; profile?: ActiveChargingProfile };
    try {
      const wanted = await this.unitOf(partnerId, tx.id);
      const caps = await this.ctx.smart.capabilities(tx.station_id, protocol, this.opts.ocppTimeoutMs);
      const unit = caps.rateUnits.includes(wanted) ? wanted : undefined;
      const res = await this.ctx.smart.composite(tx.station_id, tx.evse_id, duration, unit, { timeoutMs: this.opts.ocppTimeoutMs });
      body = res.status === 'Accepted' && res.schedule ? { result: 'ACCEPTED', profile: activeProfileOf(res.schedule) } : { result: 'REJECTED' };
    } catch (err) {
      body = { result: await this.failure(tx, err, 'GetCompositeSchedule') };
    }
    await this.postResult(partnerId, url, body, correlationId);
  }

  /** The unit the partner plans in: as last set, else as last pushed, else W. */
  private async unitOf(partnerId: string, sessionId: string, lastSent?: string | null): Promise<RateUnit> {
    const known = this.units.get(keyOf(partnerId, sessionId));
    if (known) return known;
    let sent = lastSent;
    if (sent === undefined) {
      sent = (await this.ctx.db.selectFrom('ocpi_sessions').select('active_profile').where('partner_id', '=', partnerId).where('session_id', '=', sessionId).executeTakeFirst())?.active_profile;
    }
    const unit = parseActive(sent)?.charging_profile.charging_rate_unit;
    return unit === 'A' ? 'A' : 'W';
  }

  // ── ActiveChargingProfile updates ──────────────────────────────────────────────────────────

  private watch(w: Watched): void {
    let m = this.watched.get(w.stationId);
    if (!m) this.watched.set(w.stationId, (m = new Map()));
    m.set(keyOf(w.partnerId, w.sessionId), w);
  }

  private forget(stationId: string, key: string): void {
    const m = this.watched.get(stationId);
    m?.delete(key);
    if (m && m.size === 0) this.watched.delete(stationId);
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
    this.pending.delete(key);
    this.units.delete(key);
  }

  private async loadWatched(): Promise<void> {
    const rows = await this.ctx.db
      .selectFrom('ocpi_sessions')
      .innerJoin('transactions', 'transactions.id', 'ocpi_sessions.session_id')
      .select(['ocpi_sessions.partner_id as partnerId', 'ocpi_sessions.session_id as sessionId', 'transactions.station_id as stationId', 'transactions.evse_id as evseId'])
      .where('ocpi_sessions.profile_state', 'is not', null)
      .where('transactions.state', '=', 'active')
      .execute();
    for (const r of rows) this.watch(r);
  }

  private onEvent(e: DomainEvent): void {
    if (this.stopped) return;
    if (e.type === 'ChargingProfilesChanged') {
      this.trigger(e.stationId, e.evseIds.includes(0) ? undefined : e.evseIds);
    } else if (e.type === 'ChargingLimitNotified') {
      this.trigger(e.stationId, e.evseId === undefined || e.evseId === 0 ? undefined : [e.evseId], e.source);
    } else if (e.type === 'TransactionEvent' && !e.duplicate) {
      const ev = e.event;
      if (ev.eventType === 'Ended') {
        for (const [key, w] of this.watched.get(ev.stationId) ?? []) if (w.sessionId === e.transactionId) this.forget(ev.stationId, key);
        for (const key of [...this.lastRequest.keys()]) if (key.includes(`\u0000${e.transactionId}\u0000`)) this.lastRequest.delete(key);
      } else if (ev.triggerReason === 'ChargingRateChanged') {
        this.trigger(ev.stationId, ev.evseId === undefined ? undefined : [ev.evseId]);
      }
    }
  }

  /** Schedule a push for the watched sessions of a station (on some EVSEs, or all). */
  private trigger(stationId: string, evseIds?: number[], refreshSource?: string): void {
    const m = this.watched.get(stationId);
    if (!m) return;
    for (const [key, w] of m) if (evseIds === undefined || evseIds.includes(w.evseId)) this.schedule(key, refreshSource);
  }

  /** Debounced, coalesced per session. */
  private schedule(key: string, refreshSource?: string): void {
    if (this.stopped) return;
    const p = this.pending.get(key) ?? {};
    if (refreshSource !== undefined) p.refreshSource = refreshSource;
    this.pending.set(key, p);
    if (this.timers.has(key)) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.fire(key);
    }, this.opts.activeDebounceMs);
    t.unref?.();
    this.timers.set(key, t);
  }

  private fire(key: string): void {
    if (this.stopped) return;
    if (this.running.has(key)) {
      // One computation at a time per session: run again when this one is done.
      const again = () => this.schedule(key);
      this.running.get(key)!.then(again, again);
      return;
    }
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    const [partnerId, sessionId] = key.split('\u0000') as [string, string];
    const run = this.push(partnerId, sessionId, p).finally(() => this.running.delete(key));
    this.running.set(key, run);
    this.track(run);
  }

  /** Compute the session's ActiveChargingProfile and PUT it to the partner when it changed. */
  private async push(partnerId: string, sessionId: string, p: Pending): Promise<void> {
    const row = await this.ctx.db
      .selectFrom('ocpi_sessions')
      .innerJoin('transactions', 'transactions.id', 'ocpi_sessions.session_id')
      .select(['ocpi_sessions.profile_state', 'ocpi_sessions.active_profile', 'transactions.station_id', 'transactions.evse_id', 'transactions.state', 'transactions.protocol'])
      .where('ocpi_sessions.partner_id', '=', partnerId)
      .where('ocpi_sessions.session_id', '=', sessionId)
      .executeTakeFirst();
    if (!row || row.profile_state === null || row.state !== 'active') {
      if (row) this.forget(row.station_id, keyOf(partnerId, sessionId));
      return;
    }
    const node = this.node;
    if (!node || this.stopped) return;
    if (p.refreshSource !== undefined && row.protocol === 'ocpp2.0.1') {
      // NotifyChargingLimit: let the shadow learn the external limit before predicting.
      await this.ctx.smart
        .report(row.station_id, { evseId: row.evse_id, sources: [p.refreshSource] }, { timeoutMs: Math.min(10_000, this.opts.ocppTimeoutMs) })
        .catch((err: unknown) => this.log.info({ err: (err as Error).message, stationId: row.station_id }, 'reading external charging limits failed'));
    }
    const unit = await this.unitOf(partnerId, sessionId, row.active_profile);
    const composite = await this.ctx.smart.predictComposite(row.station_id, row.evse_id, this.opts.activeHorizonS, unit);
    const next = activeProfileOf(composite);
    const prev = parseActive(row.active_profile);
    if (prev && sameActiveProfile(prev, next, this.opts.activeHorizonS)) return;
    const partner = await node.partners.get(partnerId);
    if (!partner || partner.state !== 'registered') return;
    let a;
    try {
      a = await node.partnerClient(partner).call({ module: 'chargingprofiles', role: 'SENDER', method: 'PUT', path: encodeURIComponent(sessionId), body: next });
    } catch (err) {
      if (err instanceof NoSuchEndpointError) this.log.debug({ partner: partnerId }, 'partner has no chargingprofiles SENDER endpoint: ActiveChargingProfile not sent');
      else this.log.warn({ err, partner: partnerId, session: sessionId }, 'ActiveChargingProfile PUT failed');
      return;
    }
    if (a.httpStatus >= 200 && a.httpStatus < 300 && (a.statusCode === undefined || isSuccess(a.statusCode))) {
      const now = this.nowIso();
      await this.upsert(partnerId, { id: sessionId, station_id: row.station_id, evse_id: row.evse_id }, { active_profile: JSON.stringify(next), active_profile_at: now });
    } else {
      this.log.warn({ partner: partnerId, session: sessionId, httpStatus: a.httpStatus, statusCode: a.statusCode }, 'ActiveChargingProfile refused by the partner');
    }
  }
}

function parseActive(text: string | null | undefined): ActiveChargingProfile | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as ActiveChargingProfile;
    return isObject(v) && typeof v.start_date_time === 'string' && isObject(v.charging_profile) ? v : undefined;
  } catch {
    return undefined;
  }
}

function firstOf(v: unknown): string | undefined {
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : undefined;
  return typeof v === 'string' ? v : undefined;
}

function requireResponseUrl(query: Record<string, unknown>): string {
  const url = firstOf(query.response_url);
  if (url === undefined || url === '') throw OcpiError.invalid('response_url is required');
  if (!isHttpUrl(url)) throw OcpiError.invalid('response_url must be an http(s) URL');
  return url;
}

/** Translation refusals → the synchronous result. */
function refusalResult(reason: RefusalReason): ChargingProfileResponseType {
  switch (reason) {
    case 'NoTransaction':
    case 'UnknownTransaction':
    case 'UnknownEvse':
      return 'UNKNOWN_SESSION';
    case 'UnitNotSupported':
      return 'NOT_SUPPORTED';
    default:
      return 'REJECTED';
  }
}
