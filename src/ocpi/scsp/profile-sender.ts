/**
 * The `ocpi` profile route: {@link OcpiProfileSender} implements the SCSP's `ProfileSender` port
 * (src/scsp/sender.ts) with OCPI 2.2.1 ChargingProfiles, SCSP → CPO (protocols.md §1.7, §2.6–2.7).
 *
 * **Station plan → sessions.** OCPI profiles are per session; the SCSP plans per session and sums the
 * plans per station (driver.ts). This route sends **each running session its own plan** — the terms of
 * the station sum — as `PUT {CPO chargingprofiles RECEIVER url}/{session_id}` with a SetChargingProfile
 * (mapping.ts: W, absolute `start_date_time` = the planning instant, periods). So at every instant the
 * session limits add up to the station limit the OCPP-format route would send, and no equal split is
 * needed (the CPO's equal split of a station limit, src/scsp-link R5, exists because the OCPP-format
 * route only carries the total); a session the planner left out gets its EVSE maximum, as in the sum.
 * A session not steered at all (preference `smartCharging: false`) gets nothing, and a profile set
 * before is removed (`clear`, DELETE). The OCPI session id comes from the stored OCPI session that feeds
 * the SCSP session or is its twin (`ocpi_sessions.scsp_session_id`).
 *
 * **One delivery = all sessions of the station**, sent in parallel; per session:
 *
 * | CPO's answer | session outcome |
 * |---|---|
 * | sync `ACCEPTED` (HTTP 2xx, 1xxx) | wait for the ChargingProfileResult on our `response_url`, at most `timeout` + margin (bounded, below): `ACCEPTED` → delivered; `REJECTED` / `UNKNOWN` → rejected; none in time → retry |
 * | sync `REJECTED`, `NOT_SUPPORTED`, `UNKNOWN_SESSION` | rejected |
 * | sync `TOO_OFTEN` | retry (delivery.ts backs off) |
 * | no answer, HTTP 5xx / 408 / 425 / 429, status 3xxx / 4xxx | retry |
 * | HTTP 401/403/404 or other 4xx, status 2xxx, an answer that is no ChargingProfileResponse | rejected |
 * | no running OCPI session for it, no OCPI partner / not registered / no `chargingprofiles` RECEIVER endpoint | rejected, with a message saying which (the CPO record's link is the operator's to fix) |
 *
 * The station's outcome: retry if any session must be retried (the retry re-sends only those: sessions
 * already delivered or refused for this plan are remembered per request), else rejected if any was
 * refused, else delivered. The delivery row's `response` lists every session's outcome.
 *
 * **Clear** (`clear`, `clearStation`): `DELETE {url}/{session_id}?response_url=…`, then the
 * ClearProfileResult like above. Used when the SCSP stops steering a session (preference, see
 * driver.ts) and when the operator unpairs a station (before the CPO is told, while it still lets us
 * address the session). Nothing is cleared when a session ends (the CPO drops the profile with it).
 *
 * **Get** (`activeProfile`): `GET {url}/{session_id}?duration=&response_url=…`, the
 * ActiveChargingProfileResult's profile is stored with the session (admin API).
 */
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';
import type { Cpo } from '../../scsp/cpos.js';
import type { PowerSchedule } from '../../scsp/planner.js';
import type { ProfileSender, ProfileTarget, SendOutcome, TargetSession } from '../../scsp/sender.js';
import { OcpiClientError, type OcpiAnswer } from '../core/client.js';
import { statusClass } from '../core/status.js';
import { joinUrl } from '../core/strings.js';
import { NoSuchEndpointError, type OcpiNode, type PartnerClient } from '../node.js';
import type { OcpiPartner } from '../storage.js';
import { CHARGINGPROFILES_PATH, RESULTS_SEGMENT, type ResultWaiters, newRequestId } from './chargingprofiles.js';
import { chargingProfileOf } from './mapping.js';
import { type ActiveChargingProfile, type ChargingProfile, parseChargingProfileResponse } from '../objects.js';
import { type OcpiScspStore, type OcpiSessionRow, type ProfileRequestKind, keyOfRow } from './store.js';

/** The delivery request of the `ocpi` route (kept with the delivery, re-sent on retries). */
export interface OcpiStationRequest {
  sessions: Array<{ scspSessionId: string; evseId: number; transactionId: string | null; charging_profile: ChargingProfile }>;
}

export interface OcpiProfileSenderOptions {
  node: () => OcpiNode;
  store: OcpiScspStore;
  waiters: ResultWaiters;
  clock: Clock;
  log: Logger;
  /** Upper bound on waiting for an async result, whatever `timeout` the CPO gives (default 120 s). */
  resultWaitMaxMs?: number;
  /** Added to the CPO's `timeout` (default 5 s). */
  resultWaitMarginMs?: number;
  /** `timeout` assumed when the CPO's answer has none (default 60 s: OCPP timeout + margin, protocols.md §2.7). */
  defaultTimeoutS?: number;
  /** How long a request id stays known for late results (default 24 h). */
  requestTtlMs?: number;
  /** Register background work (clears started outside a delivery), so `idle()` waits for it. */
  work?: { begin(): () => void };
  /**
   * After a TOO_OFTEN the next attempt waits at least this long (default 10 s). The CPO does not say its
   * interval; retrying at the delivery's short first backoff would only hit the limit again.
   */
  tooOftenRetryMs?: number;
}

type Kind = SendOutcome['kind'];

interface SessionOutcome {
  kind: Kind;
  status: number;
  message: string;
  /** The OCPI session addressed, when one was found. */
  session?: string;
  result?: string;
}

class RouteUnusable extends Error {}

const retry = (status: number, message: string, extra: Partial<SessionOutcome> = {}): SessionOutcome => ({ kind: 'retry', status, message, ...extra });
const rejected = (status: number, message: string, extra: Partial<SessionOutcome> = {}): SessionOutcome => ({ kind: 'rejected', status, message, ...extra });

export class OcpiProfileSender implements ProfileSender {
  readonly route = 'ocpi';
  /** Per delivery request: outcomes that are final for it (delivered / rejected), by SCSP session id. */
  private readonly progress = new WeakMap<object, Map<string, SessionOutcome>>();

  constructor(private readonly o: OcpiProfileSenderOptions) {}

  prepare(target: ProfileTarget, _schedule: PowerSchedule): OcpiStationRequest {
    if (!target.sessions) throw new Error('the ocpi profile route needs the per-session schedules (ProfileTarget.sessions)');
    return {
      sessions: target.sessions.map((s) => ({ scspSessionId: s.id, evseId: s.evseId, transactionId: s.transactionId, charging_profile: chargingProfileOf(s.schedule) })),
    };
  }

  async send(target: ProfileTarget, request: unknown, signal: AbortSignal): Promise<SendOutcome> {
    const req = request as OcpiStationRequest;
    let client: PartnerClient;
    try {
      client = await this.client(target.cpo);
    } catch (e) {
      if (!(e instanceof RouteUnusable)) throw e;
      this.o.log.warn({ cpoId: target.cpo.id, uid: target.uid, reason: e.message }, 'OCPI profile route unusable');
      return { kind: 'rejected', status: 0, message: e.message, response: JSON.stringify({ error: e.message }) };
    }
    let done = this.progress.get(req);
    if (!done) {
      done = new Map();
      this.progress.set(req, done);
    }
    const todo = req.sessions.filter((s) => !done.has(s.scspSessionId));
    const outcomes = await Promise.all(todo.map((s) => this.setOne(client, target.cpo, s, signal)));
    const all = new Map(done);
    todo.forEach((s, i) => {
      const out = outcomes[i]!;
      all.set(s.scspSessionId, out);
      if (out.kind !== 'retry') done.set(s.scspSessionId, out);
    });
    const list = req.sessions.map((s) => ({ scspSessionId: s.scspSessionId, evseId: s.evseId, ...all.get(s.scspSessionId)! }));
    const response = JSON.stringify(list.map((x) => ({ session: x.session ?? null, scspSessionId: x.scspSessionId, evseId: x.evseId, outcome: x.kind, result: x.result ?? null, message: x.message })));
    const summary = (kind: Kind) =>
      list
        .filter((x) => x.kind === kind)
        .map((x) => `${x.session ?? x.scspSessionId}: ${x.message}`)
        .join('; ');
    const firstOf = (kind: Kind) => list.find((x) => x.kind === kind);
    const tooOften = list.some((x) => x.kind === 'retry' && x.result === 'TOO_OFTEN');
    if (firstOf('retry'))
      return { kind: 'retry', status: firstOf('retry')!.status, message: summary('retry'), response, ...(tooOften ? { retryAfterMs: this.o.tooOftenRetryMs ?? 10_000 } : {}) };
    if (firstOf('rejected')) return { kind: 'rejected', status: firstOf('rejected')!.status, message: summary('rejected'), response };
    return { kind: 'delivered', status: list[0]?.status ?? 200, response };
  }

  /** Remove the profile we set on a session (see the header). */
  async clear(target: ProfileTarget, session: Pick<TargetSession, 'id'>, signal?: AbortSignal): Promise<SendOutcome> {
    let client: PartnerClient;
    try {
      client = await this.client(target.cpo);
    } catch (e) {
      if (!(e instanceof RouteUnusable)) throw e;
      return { kind: 'rejected', status: 0, message: e.message, response: '' };
    }
    const row = await this.o.store.forScspSession(target.cpo.id, session.id);
    if (!row) return { kind: 'rejected', status: 0, message: `no running OCPI session behind SCSP session ${session.id}`, response: '' };
    const out = await this.clearRow(client, row, { wait: true, ...(signal ? { signal } : {}) });
    return { kind: out.kind, status: out.status, message: out.message, response: JSON.stringify(out) };
  }

  /**
   * DELETE every profile we set on a station's running sessions (operator unpair). `wait: false` only
   * waits for the synchronous answers.
   */
  async clearStation(cpo: Cpo, uid: string, opts: { wait?: boolean } = {}): Promise<SessionOutcome[]> {
    if (cpo.profileRoute !== 'ocpi' && !cpo.ocpiPartnerId) return [];
    const rows = await this.o.store.withProfile(cpo.id, uid);
    if (rows.length === 0) return [];
    let client: PartnerClient;
    try {
      client = await this.client(cpo);
    } catch (e) {
      if (!(e instanceof RouteUnusable)) throw e;
      this.o.log.warn({ cpoId: cpo.id, uid, reason: e.message }, 'profiles not cleared: OCPI route unusable');
      return [];
    }
    return Promise.all(rows.map((r) => this.clearRow(client, r, { wait: opts.wait ?? true })));
  }

  /** The driver's `release`: sessions no longer steered lose the profile we set (in the background). */
  release(target: ProfileTarget, sessions: readonly Pick<TargetSession, 'id'>[]): void {
    if (target.cpo.profileRoute !== 'ocpi') return;
    const done = this.o.work?.begin();
    void (async () => {
      for (const s of sessions) {
        const row = await this.o.store.forScspSession(target.cpo.id, s.id);
        if (row?.profile_state !== 'set') continue;
        const out = await this.clear(target, s);
        this.o.log.info({ cpoId: target.cpo.id, uid: target.uid, session: row.session_id, outcome: out.kind, ...(out.kind !== 'delivered' ? { message: out.message } : {}) }, 'profile of a session no longer steered cleared');
      }
    })()
      .catch((err: unknown) => this.o.log.error({ err }, 'clearing profiles failed'))
      .finally(() => done?.());
  }

  /** Ask the CPO for a session's ActiveChargingProfile (stored with the session when it comes). */
  async activeProfile(cpo: Cpo, row: OcpiSessionRow, durationS: number): Promise<{ outcome: SessionOutcome; profile?: ActiveChargingProfile }> {
    const client = await this.client(cpo).catch((e: unknown) => {
      if (e instanceof RouteUnusable) return e;
      throw e;
    });
    if (client instanceof RouteUnusable) return { outcome: rejected(0, client.message) };
    const out = await this.exchange(client, row, 'get', { method: 'GET', query: { duration: durationS } }, { wait: true });
    const body = out.body as { profile?: ActiveChargingProfile } | undefined;
    return { outcome: out.outcome, ...(body?.profile ? { profile: body.profile } : {}) };
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────────────

  /** The CPO's OCPI partner client, or {@link RouteUnusable} saying why not. */
  private async client(cpo: Cpo): Promise<PartnerClient> {
    if (!cpo.ocpiPartnerId) throw new RouteUnusable(`CPO '${cpo.id}' has no ocpiPartnerId: the ocpi profile route needs its OCPI registration`);
    const node = this.o.node();
    const partner: OcpiPartner | undefined = await node.partners.get(cpo.ocpiPartnerId);
    if (!partner) throw new RouteUnusable(`OCPI partner '${cpo.ocpiPartnerId}' of CPO '${cpo.id}' does not exist (register it under /api/v1/ocpi)`);
    if (partner.state !== 'registered') throw new RouteUnusable(`OCPI partner '${partner.id}' of CPO '${cpo.id}' is not registered (state ${partner.state})`);
    const client = node.partnerClient(partner);
    if (!client.endpoint('chargingprofiles', 'RECEIVER')) {
      throw new RouteUnusable(`OCPI partner '${partner.id}' of CPO '${cpo.id}' lists no chargingprofiles RECEIVER endpoint in its version details: profiles cannot be sent over OCPI (use profileRoute ocpp-format, or have the CPO add the module and rotate credentials)`);
    }
    return client;
  }

  private async setOne(client: PartnerClient, cpo: Cpo, s: OcpiStationRequest['sessions'][number], signal: AbortSignal): Promise<SessionOutcome> {
    const row = await this.o.store.forScspSession(cpo.id, s.scspSessionId);
    if (!row) {
      return rejected(0, `no running OCPI session behind SCSP session ${s.scspSessionId} (EVSE ${s.evseId}, transaction ${s.transactionId ?? '?'}): the CPO has not pushed it over OCPI Sessions, or it ended`);
    }
    if (row.partner_id !== client.partner.id) return rejected(0, `OCPI session ${row.session_id} came from OCPI partner '${row.partner_id}', not '${client.partner.id}'`, { session: row.session_id });
    const out = await this.exchange(client, row, 'set', { method: 'PUT', body: (responseUrl) => ({ charging_profile: s.charging_profile, response_url: responseUrl }), profile: s.charging_profile }, { wait: true, signal });
    const now = this.o.clock.now().toISOString();
    if (out.outcome.kind === 'delivered') await this.o.store.setProfileState(keyOfRow(row), 'set', now, s.charging_profile);
    else if (out.outcome.kind === 'rejected') await this.o.store.setProfileState(keyOfRow(row), 'rejected', now);
    return out.outcome;
  }

  private async clearRow(client: PartnerClient, row: OcpiSessionRow, opts: { wait: boolean; signal?: AbortSignal }): Promise<SessionOutcome> {
    const out = await this.exchange(client, row, 'clear', { method: 'DELETE' }, opts);
    if (out.outcome.kind === 'delivered' || (!opts.wait && out.outcome.result === 'ACCEPTED')) {
      await this.o.store.setProfileState(keyOfRow(row), 'cleared', this.o.clock.now().toISOString());
    }
    this.o.log.info({ partnerId: row.partner_id, session: row.session_id, outcome: out.outcome.kind, message: out.outcome.message }, 'OCPI charging profile clear');
    return out.outcome;
  }

  /** One request with a fresh response_url: the synchronous answer, then (ACCEPTED, `wait`) the async result. */
  private async exchange(
    client: PartnerClient,
    row: OcpiSessionRow,
    kind: ProfileRequestKind,
    how: { method: 'PUT' | 'DELETE' | 'GET'; body?: (responseUrl: string) => unknown; query?: Record<string, string | number>; profile?: ChargingProfile },
    opts: { wait: boolean; signal?: AbortSignal | undefined },
  ): Promise<{ outcome: SessionOutcome; body?: unknown }> {
    const session = row.session_id;
    const requestId = newRequestId();
    const responseUrl = joinUrl(this.o.node().ocpiBaseUrl(), CHARGINGPROFILES_PATH, RESULTS_SEGMENT, requestId);
    const now = this.o.clock.now();
    await this.o.store.insertRequest({
      request_id: requestId,
      kind,
      partner_id: row.partner_id,
      country_code: row.country_code,
      party_id: row.party_id,
      session_key: row.session_key,
      session_id: row.session_id,
      body: how.profile ? JSON.stringify(how.profile) : null,
      sync_result: null,
      result: null,
      result_body: null,
      answered_at: null,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + (this.o.requestTtlMs ?? 86_400_000)).toISOString(),
    });
    const expectation = this.o.waiters.expect(requestId);
    let answer: OcpiAnswer;
    try {
      answer = await client.call({
        module: 'chargingprofiles',
        role: 'RECEIVER',
        method: how.method,
        path: encodeURIComponent(session),
        ...(how.method === 'PUT' ? { body: how.body!(responseUrl) } : { query: { ...how.query, response_url: responseUrl } }),
      });
    } catch (e) {
      expectation.cancel();
      const message = e instanceof NoSuchEndpointError || e instanceof OcpiClientError ? e.message : String((e as Error).message ?? e);
      await this.o.store.setSyncResult(requestId, `no answer: ${message}`);
      return { outcome: e instanceof NoSuchEndpointError ? rejected(0, message, { session }) : retry(0, `no answer: ${message}`, { session }) };
    }
    const sync = this.classify(answer);
    await this.o.store.setSyncResult(requestId, sync.result ?? `HTTP ${answer.httpStatus} status_code ${answer.statusCode ?? '-'}`);
    if (!sync.accepted) {
      expectation.cancel();
      return { outcome: { ...sync.outcome, session } };
    }
    if (!opts.wait) {
      expectation.cancel();
      return { outcome: { kind: 'delivered', status: answer.httpStatus, message: 'ACCEPTED (result not awaited)', result: 'ACCEPTED', session } };
    }
    const timeoutS = Number.isFinite(sync.timeoutS) ? sync.timeoutS : (this.o.defaultTimeoutS ?? 60);
    const waitMs = Math.min(this.o.resultWaitMaxMs ?? 120_000, timeoutS * 1000 + (this.o.resultWaitMarginMs ?? 5_000));
    const got = await expectation.wait(waitMs, opts.signal);
    if ('timeout' in got) return { outcome: retry(answer.httpStatus, `ACCEPTED, but no ${resultName(kind)} arrived within ${Math.round(waitMs / 1000)} s`, { session, result: 'ACCEPTED' }) };
    if ('aborted' in got) return { outcome: retry(answer.httpStatus, 'aborted while waiting for the result', { session }) };
    if (got.result === 'ACCEPTED') return { outcome: { kind: 'delivered', status: answer.httpStatus, message: `${resultName(kind)} ACCEPTED`, result: 'ACCEPTED', session }, body: got.body };
    const why = got.result === 'UNKNOWN' ? 'the CPO does not know the session (any more)' : 'the station refused it';
    return { outcome: rejected(answer.httpStatus, `${resultName(kind)} ${got.result}: ${why}`, { session, result: got.result }), body: got.body };
  }

  /** The synchronous answer (see the table in the header). */
  private classify(a: OcpiAnswer): { accepted: true; timeoutS: number; result: string; outcome?: undefined } | { accepted: false; result?: string; outcome: SessionOutcome } {
    const http = a.httpStatus;
    const where = `HTTP ${http}${a.statusCode !== undefined ? `, status_code ${a.statusCode}` : ''}${a.statusMessage ? ` (${a.statusMessage})` : ''}`;
    if (http === 408 || http === 425 || http === 429 || http >= 500) return { accepted: false, outcome: retry(http, `the CPO answered ${where}`) };
    if (http < 200 || http > 299) return { accepted: false, outcome: rejected(http, `the CPO refused the request: ${where}`) };
    if (!a.envelope) return { accepted: false, outcome: rejected(http, `the CPO's answer is not an OCPI envelope: ${a.text.slice(0, 120)}`) };
    const cls = statusClass(a.statusCode ?? 0);
    if (cls === 'server-error' || cls === 'hub-error') return { accepted: false, outcome: retry(http, `the CPO answered ${where}`) };
    if (cls !== 'success') return { accepted: false, outcome: rejected(http, `the CPO refused the request: ${where}`) };
    const r = parseChargingProfileResponse(a.data);
    if (!r) return { accepted: false, outcome: rejected(http, `the CPO's data is not a ChargingProfileResponse {result, timeout}: ${JSON.stringify(a.data)?.slice(0, 120)}`) };
    switch (r.result) {
      case 'ACCEPTED':
        return { accepted: true, timeoutS: r.timeout, result: r.result };
      case 'TOO_OFTEN':
        return { accepted: false, result: r.result, outcome: retry(http, 'TOO_OFTEN: the CPO rate-limits profile updates', { result: r.result }) };
      case 'REJECTED':
        return { accepted: false, result: r.result, outcome: rejected(http, 'REJECTED by the CPO', { result: r.result }) };
      case 'NOT_SUPPORTED':
        return { accepted: false, result: r.result, outcome: rejected(http, 'NOT_SUPPORTED: the EVSE cannot take charging profiles', { result: r.result }) };
      case 'UNKNOWN_SESSION':
        return { accepted: false, result: r.result, outcome: rejected(http, 'UNKNOWN_SESSION: the CPO does not know the session (any more)', { result: r.result }) };
    }
  }
}

const resultName = (kind: ProfileRequestKind): string => (kind === 'set' ? 'ChargingProfileResult' : kind === 'clear' ? 'ClearProfileResult' : 'ActiveChargingProfileResult');
