/**
 * What every `/v1/cpo/...` route an SCSP calls shares (seed 000; protocols.md §1.1):
 *
 * - {@link requirePartner}: the bearer-token guard. The SCSP presents `Authorization: Bearer <token>`;
 *   the token is the partner's inbound token (only its SHA-256 is stored, see partners.ts). A missing,
 *   unknown or disabled partner's token is 401 `{"message":"Unauthorized"}` with `WWW-Authenticate:
 *   Bearer`. Use it as `onRequest` (before the body is read) or `preHandler`; the route then gets the
 *   partner with {@link partnerOf}.
 * - {@link installCpoConventions}: inside the encapsulated plugin that holds such routes, answers
 *   Fastify-level failures (malformed JSON, wrong media type, oversized body) in the seed's `{message}`
 *   shape instead of the `/api/v1` error catalogue, and accepts an empty body sent as
 *   `application/json` (the seed's unpair call shows no body).
 *
 * Neither registers a route or a not-found handler; the profile receiver uses both too.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../util/log.js';
import { installMessageConventions } from '../util/http.js';
import { type Partner, type PartnerService, bearerToken } from './partners.js';

const partnerByRequest = new WeakMap<FastifyRequest, Partner>();

export const UNAUTHORIZED = { message: 'Unauthorized' } as const;

/** Fastify hook: 401 unless the request carries an enabled partner's inbound bearer token. */
export function requirePartner(partners: PartnerService): (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  return async (req, reply) => {
    const header = req.headers.authorization;
    const token = bearerToken(typeof header === 'string' ? header : undefined);
    const partner = token !== undefined && token.length <= 1024 ? await partners.authenticate(token) : undefined;
    if (!partner) return reply.code(401).header('www-authenticate', 'Bearer').send(UNAUTHORIZED);
    partnerByRequest.set(req, partner);
    return undefined;
  };
}

/** The partner {@link requirePartner} authenticated for this request. */
export function partnerOf(req: FastifyRequest): Partner {
  const p = partnerByRequest.get(req);
  if (!p) throw new Error('partnerOf: route is not guarded by requirePartner');
  return p;
}

/** `{message}` errors and lenient JSON for the `/v1/cpo` plugin scope `app` (call before adding routes). */
export function installCpoConventions(app: FastifyInstance, log: Logger): void {
  installMessageConventions(app, log, 'SCSP route');
}
