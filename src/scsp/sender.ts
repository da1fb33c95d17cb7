/**
 * Sending a station's plan to its CPO. {@link ProfileSender} is the port (an OCPI ChargingProfiles
 * sender comes later as a second implementation); {@link OcppFormatSender} is the OCPP-format route of
 * protocols.md §1.6:
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
import type { Cpo, PayloadProtocol } from './cpos.js';
import { type CpoClient, type CpoResponse, messageOf } from './cpo-client.js';
import type { PowerSchedule } from './planner.js';
import { checkRequest, setChargingProfileRequest } from './profile.js';

export interface ProfileTarget {
  cpo: Cpo;
  uid: string;
  payloadProtocol: PayloadProtocol;
}

export type SendOutcome =
  | { kind: 'delivered'; status: number; response: string }
  | { kind: 'rejected'; status: number; message: string; response: string }
  | { kind: 'retry'; status: number; message: string; response: string };

export interface ProfileSender {
  /** The route's name, for records and logs (`ocpp-format`, later `ocpi`). */
  readonly route: string;
  /** The request body for a station's schedule (kept with the delivery, re-sent unchanged on retries). */
  prepare(target: ProfileTarget, schedule: PowerSchedule): unknown;
  send(target: ProfileTarget, request: unknown, signal: AbortSignal): Promise<SendOutcome>;
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
