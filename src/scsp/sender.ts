/**
 * Sending a station's plan to its CPO. {@link ProfileSender} is the port, with two implementations
 * chosen per CPO record (`profileRoute`, cpos.ts) by {@link ProfileRouter}:
 * - {@link OcppFormatSender} (`ocpp-format`, below): one station-level OCPP SetChargingProfile;
 * - `OcpiProfileSender` (`ocpi`, src/ocpi/scsp/profile-sender.ts): OCPI ChargingProfiles, one
 *   SetChargingProfile per session (the target's {@link TargetSession}s), results awaited on our
 *   `response_url`.
 *
 * The station schedule handed to `prepare` is always the sum of the target's per-session schedules
 * (driver.ts); a route uses whichever granularity its protocol has.
 *
 * The OCPP-format route of protocols.md §1.6:
 *
 *   POST {cpo base URL}/v1/cpo/chargingstations/{uid}/events/{payload-protocol}/SetChargingProfile
 *   Authorization: Bearer <the CPO's token for this SCSP>
 *   body: the OCPP SetChargingProfileRequest of the pairing's payload protocol (profile.ts)
 *
 * The CPO's answers (§1.6) and what the SCSP does with them (delivery.ts retries):
 *
 * | answer | meaning at the CPO | outcome |
 * |---|---|---|
 * | 2xx | every targeted charger accepted | `delivered` |
 * | 400 | invalid profile, no transaction, charger Rejected/NotSupported | `rejected` (give up) |
 * | 401/403 | the SCSP's token is wrong | `rejected` (give up: retrying will not fix a token) |
 * | 404 | unknown uid / not paired with this SCSP | `rejected` (give up) |
 * | 503 | charger offline | `retry` |
 * | 500, other 5xx, 408, 425, 429 | charger did not answer in time, CPO trouble, throttled | `retry` |
 * | no answer (network, timeout) | — | `retry` |
 * | other 4xx | — | `rejected` |
 */
import type { Cpo, PayloadProtocol, ProfileRoute } from './cpos.js';
import { type CpoClient, type CpoResponse, messageOf } from './cpo-client.js';
import type { PowerSchedule } from './planner.js';
import { checkRequest, setChargingProfileRequest } from './profile.js';

/** One running session of the target station and its own part of the station schedule. */
export interface TargetSession {
  /** The SCSP's session id (`sessions.id`). */
  id: string;
  evseId: number;
  /** The CPO's transaction id (for OCPI-fed sessions: the OCPI session id). */
  transactionId: string | null;
  /** `ocpp2.0.1` | `ocpp1.6` | `ocpi`: the feed that built the session. */
  protocol: string;
  /** The session's plan from the planning instant on (its EVSE maximum when the planner left it out). */
  schedule: PowerSchedule;
}

export interface ProfileTarget {
  cpo: Cpo;
  uid: string;
  payloadProtocol: PayloadProtocol;
  /** The running sessions the station schedule is the sum of (the driver always gives them). */
  sessions?: readonly TargetSession[];
}

export type SendOutcome =
  | { kind: 'delivered'; status: number; response: string }
  | { kind: 'rejected'; status: number; message: string; response: string }
  /** `retryAfterMs`: the peer asked us to wait (e.g. OCPI TOO_OFTEN); the next attempt is no sooner. */
  | { kind: 'retry'; status: number; message: string; response: string; retryAfterMs?: number };

export interface ProfileSender {
  /** The route's name, for records and logs (`ocpp-format`, `ocpi`). */
  readonly route: string;
  /** The request body for a station's schedule (kept with the delivery, re-sent unchanged on retries). */
  prepare(target: ProfileTarget, schedule: PowerSchedule): unknown;
  send(target: ProfileTarget, request: unknown, signal: AbortSignal): Promise<SendOutcome>;
  /**
   * Stop steering a session: remove the profile this route set for it (OCPI: DELETE). Routes without a
   * per-session remove (OCPP-format: the CPO drops TxProfiles at the end of their transaction and clears
   * the SCSP's profiles on unpair) leave it out.
   */
  clear?(target: ProfileTarget, session: Pick<TargetSession, 'id' | 'evseId' | 'transactionId'>, signal?: AbortSignal): Promise<SendOutcome>;
}

/**
 * Picks the route of each CPO record (`profileRoute`); a route without an implementation falls back to
 * `ocpp-format`. Deliveries keep the sender that prepared them, so retries use the same route.
 */
export class ProfileRouter {
  constructor(private readonly routes: Partial<Record<ProfileRoute, ProfileSender>> & { 'ocpp-format': ProfileSender }) {}

  for(target: Pick<ProfileTarget, 'cpo'>): ProfileSender {
    return this.routes[target.cpo.profileRoute] ?? this.routes['ocpp-format'];
  }

  get(route: ProfileRoute): ProfileSender | undefined {
    return this.routes[route];
  }
}

export function classify(res: CpoResponse): SendOutcome {
  const response = res.text;
  if (res.status >= 200 && res.status < 300) return { kind: 'delivered', status: res.status, response };
  const message = messageOf(res);
  if (res.status === 0 || res.status === 408 || res.status === 425 || res.status === 429 || res.status >= 500) return { kind: 'retry', status: res.status, message, response };
  return { kind: 'rejected', status: res.status, message, response };
}

export function setChargingProfilePath(uid: string, pp: PayloadProtocol): string {
  return `/v1/cpo/chargingstations/${encodeURIComponent(uid)}/events/${pp}/SetChargingProfile`;
}

export class OcppFormatSender implements ProfileSender {
  readonly route = 'ocpp-format';
  constructor(private readonly deps: { client: CpoClient }) {}

  prepare(target: ProfileTarget, schedule: PowerSchedule): unknown {
    const req = setChargingProfileRequest(target.payloadProtocol, schedule);
    const check = checkRequest(target.payloadProtocol, req);
    // Built from a fixed template; a failure here is a bug, not a CPO problem.
    if (!check.ok) throw new Error(`SetChargingProfileRequest fails the ${target.payloadProtocol} schema: ${check.message}`);
    return req;
  }

  async send(target: ProfileTarget, request: unknown, signal: AbortSignal): Promise<SendOutcome> {
    const res = await this.deps.client.post(target.cpo, setChargingProfilePath(target.uid, target.payloadProtocol), request, { signal });
    return classify(res);
  }
}
