/**
 * OCPI HTTP headers other than Authorization (transport_and_format §Unique message IDs, §Message
 * Routing Headers):
 * - `X-Request-ID`: unique per request, the response repeats it; `X-Correlation-ID`: on every request,
 *   every response repeats it. UUIDs. We generate them when a peer sends none (lenient).
 * - `OCPI-to-party-id`, `OCPI-to-country-code`, `OCPI-from-party-id`, `OCPI-from-country-code`: on
 *   functional modules only (never on versions/credentials/hubclientinfo). In a request TO is the
 *   receiver, FROM the sender; a response swaps them. We send them whenever the parties are known and
 *   never require them on input (interpretation, protocols.md §2.3).
 */
import { randomUUID } from 'node:crypto';
import type { PartyRef } from './types.js';
import { isCiString } from './strings.js';

export const H_REQUEST_ID = 'x-request-id';
export const H_CORRELATION_ID = 'x-correlation-id';
export const H_TO_PARTY = 'ocpi-to-party-id';
export const H_TO_COUNTRY = 'ocpi-to-country-code';
export const H_FROM_PARTY = 'ocpi-from-party-id';
export const H_FROM_COUNTRY = 'ocpi-from-country-code';

export const newMessageId = (): string => randomUUID();

type HeaderBag = Record<string, string | string[] | undefined>;

/** One header value (the first when repeated), trimmed; undefined when absent or empty. */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  const t = s?.trim();
  return t ? t : undefined;
}

/** The ids a response must carry: the request's, or fresh ones (a request without them is still answered). */
export function messageIds(headers: HeaderBag): { requestId: string; correlationId: string } {
  const clean = (v: string | undefined) => (v !== undefined && v.length <= 255 && isCiString(v, 255) ? v : undefined);
  return {
    requestId: clean(headerValue(headers, H_REQUEST_ID)) ?? newMessageId(),
    correlationId: clean(headerValue(headers, H_CORRELATION_ID)) ?? newMessageId(),
  };
}

export interface RoutingHeaders {
  from: PartyRef;
  to: PartyRef;
}

/** Routing headers as sent: lower-case names. */
export function routingHeaders(r: RoutingHeaders): Record<string, string> {
  return {
    [H_FROM_COUNTRY]: r.from.countryCode,
    [H_FROM_PARTY]: r.from.partyId,
    [H_TO_COUNTRY]: r.to.countryCode,
    [H_TO_PARTY]: r.to.partyId,
  };
}

/** The routing headers of a request, when both of a pair are present (each pair independently). */
export function readRouting(headers: HeaderBag): { from?: PartyRef; to?: PartyRef } {
  const pair = (c: string, p: string): PartyRef | undefined => {
    const countryCode = headerValue(headers, c);
    const partyId = headerValue(headers, p);
    return countryCode && partyId && isCiString(countryCode, 2) && isCiString(partyId, 3) ? { countryCode, partyId } : undefined;
  };
  const from = pair(H_FROM_COUNTRY, H_FROM_PARTY);
  const to = pair(H_TO_COUNTRY, H_TO_PARTY);
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}
