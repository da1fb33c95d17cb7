/**
 * The SCSP's ChargingProfiles module, interface role **SENDER** (mod_charging_profiles "Sender
 * Interface"; protocols.md §2.6–2.7): where the CPO answers the profiles we send.
 *
 * | route | what | answer |
 * |---|---|---|
 * | `POST {url}/results/{request_id}` | the async ChargingProfileResult (our PUT), ClearProfileResult (our DELETE) or ActiveChargingProfileResult (our GET) | 1000 without `data`; unknown request id (or another partner's) → 2001 |
 * | `PUT {url}/{session_id}` | ActiveChargingProfile: what the CPO now applies to a session we steer | 1000 without `data`; not a session the partner pushed to us → 2001 |
 *
 * **Response URLs.** Every PUT / DELETE / GET we send gets a fresh, short, unguessable request id
 * (120 random bits, base64url) and `response_url` = `{our chargingprofiles url}/results/{request_id}`;
 * the request is kept (`ocpi_profile_requests`, 24 h) so a result is matched to it — and to the partner
 * it was sent to — and a late result is still recorded. The first result of a request counts; a
 * repeated POST is answered 1000 and changes nothing. The body is validated by the request's kind
 * (objects.ts); a `profile` in an accepted ActiveChargingProfileResult is stored with the session.
 *
 * {@link ResultWaiters} hands each result to the sender waiting for it (profile-sender.ts); a waiter is
 * registered *before* the request goes out, so a result that overtakes the synchronous answer is not
 * lost.
 */
import { randomBytes } from 'node:crypto';
import type { OcpiModule, OcpiRequest } from '../core/plugin.js';
import { OcpiError } from '../core/status.js';
import type { PartnerPrincipal } from '../credentials.js';
import type { ScspOcpiContext } from './context.js';
import {
  type ActiveChargingProfile,
  type ChargingProfileResultType,
  OcpiValidationError,
  validateActiveChargingProfile,
  validateActiveProfileResult,
  validateProfileResult,
} from '../objects.js';
import { type ProfileRequestKind, keyOfRow } from './store.js';

export const CHARGINGPROFILES_PATH = '2.2.1/chargingprofiles';
export const RESULTS_SEGMENT = 'results';

/** A fresh request id for a `response_url` (20 characters, URL-safe). */
export const newRequestId = (): string => randomBytes(15).toString('base64url');

export interface ProfileResult {
  result: ChargingProfileResultType;
  body: unknown;
}

export type WaitOutcome = ProfileResult | { timeout: true } | { aborted: true };

/** In-process hand-over of async results to whoever waits for them. */
export class ResultWaiters {
  private readonly pending = new Map<string, (r: ProfileResult) => void>();

  /** Register before sending; `wait` resolves with the result, a timeout, or an abort. */
  expect(requestId: string): { wait(ms: number, signal?: AbortSignal): Promise<WaitOutcome>; cancel(): void } {
    let resolve!: (r: ProfileResult) => void;
    const arrived = new Promise<ProfileResult>((r) => (resolve = r));
    this.pending.set(requestId, resolve);
    const cancel = () => {
      if (this.pending.get(requestId) === resolve) this.pending.delete(requestId);
    };
    return {
      cancel,
      wait: (ms, signal) =>
        new Promise<WaitOutcome>((done) => {
          const timer = setTimeout(() => finish({ timeout: true }), Math.max(0, ms));
          const onAbort = () => finish({ aborted: true });
          function finish(o: WaitOutcome) {
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            cancel();
            done(o);
          }
          if (signal?.aborted) return finish({ aborted: true });
          signal?.addEventListener('abort', onAbort, { once: true });
          void arrived.then(finish);
        }),
    };
  }

  /** A result arrived: wake its waiter (if one still waits). */
  notify(requestId: string, r: ProfileResult): void {
    this.pending.get(requestId)?.(r);
  }

  get size(): number {
    return this.pending.size;
  }
}

export class OcpiChargingProfilesSenderModule {
  constructor(
    private readonly ctx: ScspOcpiContext,
    readonly waiters: ResultWaiters,
  ) {}

  module(): OcpiModule<PartnerPrincipal> {
    return {
      identifier: 'chargingprofiles',
      kind: 'functional',
      interfaceRole: 'SENDER',
      path: CHARGINGPROFILES_PATH,
      routes: [
        { method: 'POST', url: `/${RESULTS_SEGMENT}/:request_id`, handler: (r) => this.result(r) },
        { method: 'PUT', url: '/:session_id', handler: (r) => this.activeProfile(r) },
      ],
    };
  }

  async result(r: OcpiRequest<PartnerPrincipal>) {
    const id = r.params.request_id ?? '';
    const row = /^[A-Za-z0-9_-]{1,64}$/.test(id) ? await this.ctx.store.request(id) : undefined;
    if (!row || row.partner_id !== r.principal.partner.id) {
      throw OcpiError.invalid(`Unknown request id '${id.slice(0, 64)}': no ChargingProfiles request of ours to you has this response_url`);
    }
    const kind = row.kind as ProfileRequestKind;
    let result: ChargingProfileResultType;
    let profile: ActiveChargingProfile | undefined;
    try {
      if (kind === 'get') {
        const v = validateActiveProfileResult(r.body);
        result = v.result;
        profile = v.profile;
      } else {
        result = validateProfileResult(r.body, kind === 'set' ? 'ChargingProfileResult' : 'ClearProfileResult').result;
      }
    } catch (e) {
      if (e instanceof OcpiValidationError) throw OcpiError.invalid(e.message);
      throw e;
    }
    const now = this.ctx.clock.now().toISOString();
    const first = await this.ctx.store.recordResult(id, result, r.body, now);
    if (!first) return { statusMessage: 'result already recorded' };
    if (profile && result === 'ACCEPTED') await this.ctx.store.setActiveProfile(keyOfRow(row), profile, now);
    this.ctx.log.info({ partnerId: row.partner_id, session: row.session_id, kind, result, requestId: id }, 'OCPI ChargingProfiles result received');
    this.waiters.notify(id, { result, body: r.body });
    return {};
  }

  async activeProfile(r: OcpiRequest<PartnerPrincipal>) {
    const sessionId = r.params.session_id ?? '';
    let profile: ActiveChargingProfile;
    try {
      profile = validateActiveChargingProfile(r.body);
    } catch (e) {
      if (e instanceof OcpiValidationError) throw OcpiError.invalid(e.message);
      throw e;
    }
    const row = /^[\x21-\x7e]{1,36}$/.test(sessionId) ? await this.ctx.store.sessionById(r.principal.partner.id, sessionId) : undefined;
    if (!row) throw OcpiError.invalid(`Unknown session '${sessionId.slice(0, 40)}': you never pushed it to our sessions endpoint`);
    await this.ctx.store.setActiveProfile(keyOfRow(row), profile, this.ctx.clock.now().toISOString());
    this.ctx.log.info({ partnerId: row.partner_id, session: row.session_id, periods: profile.charging_profile.charging_profile_period?.length ?? 0 }, 'OCPI ActiveChargingProfile received');
    return {};
  }
}
