/**
 * The Fastify plugin factory that mounts OCPI modules under a prefix (normally `/ocpi`) with the
 * transport rules in one place:
 *
 * - **envelope** on every answer — success, OCPI errors, 401, 404 and 500 alike; never the `/api/v1`
 *   `{error, message}` shape;
 * - **auth** before the body is read: `Authorization: Token <Base64|raw>` (or `Bearer` where the
 *   authenticator allows it) → a principal, else 401; a CREDENTIALS_TOKEN_A principal is refused (401)
 *   on every functional module — only configuration modules (versions, credentials) take it;
 * - **ids**: `X-Request-ID` and `X-Correlation-ID` echoed on every answer (generated when absent);
 * - **routing headers** on functional modules' answers: FROM = us, TO = the caller (its OCPI-from
 *   headers, else the party its credentials name);
 * - **bodies**: JSON whatever the Content-Type (lenient), invalid JSON → 400 + envelope.
 *
 * A module is a plain object: its ModuleID, kind, the path it is mounted at and the routes it adds.
 * The version-details endpoint lists every module that has an interface role.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';
import { type TokenCandidate, tokenCandidates } from './auth.js';
import { H_CORRELATION_ID, H_REQUEST_ID, messageIds, readRouting, routingHeaders } from './headers.js';
import { OCPI_TRANSPORT_ERRORS, OcpiError, OcpiStatus, type OcpiTransportError, envelope } from './status.js';
import type { InterfaceRole, PartyIdentity, PartyRef } from './types.js';
import type { HttpMethod } from './client.js';

/** Who is calling, as the authenticator established it. */
export interface OcpiPrincipal {
  /** A CREDENTIALS_TOKEN_A: accepted on configuration modules only. */
  readonly registrationOnly: boolean;
  /** The calling party (default TO of our routing headers). */
  readonly party?: PartyRef | undefined;
}

/** The principal of the first candidate token that belongs to someone, with that candidate; undefined: nobody. */
export type Authenticator<P extends OcpiPrincipal> = (
  candidates: TokenCandidate[],
  req: FastifyRequest,
) => Promise<{ principal: P; credential: TokenCandidate } | undefined>;

export interface OcpiRequest<P extends OcpiPrincipal> {
  raw: FastifyRequest;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  principal: P;
  /** How the caller's Authorization header was read. */
  credential: TokenCandidate;
  requestId: string;
  correlationId: string;
  /** Routing headers the caller sent. */
  routing: { from?: PartyRef; to?: PartyRef };
  /** The absolute URL the caller used (our public base URL + path + query): for pagination links. */
  url: string;
}

export interface OcpiReply {
  /** Omitted from the envelope when undefined. */
  data?: unknown;
  /** Default 1000. */
  statusCode?: number;
  statusMessage?: string;
  /** Default 200. */
  httpStatus?: number;
  headers?: Record<string, string>;
}

export interface OcpiRoute<P extends OcpiPrincipal> {
  method: HttpMethod | HttpMethod[];
  /** Below the module's path: '' or '/:session_id' … */
  url: string;
  handler: (req: OcpiRequest<P>) => Promise<OcpiReply>;
}

export interface OcpiModule<P extends OcpiPrincipal = OcpiPrincipal> {
  /** ModuleID (`versions` for the versions module itself). */
  identifier: string;
  /** `configuration`: TOKEN_A accepted, no routing headers; `functional`: the opposite. */
  kind: 'configuration' | 'functional';
  /** Listed in version details with this role (credentials: SENDER). Absent: not listed. */
  interfaceRole?: InterfaceRole;
  /** Mount path below the prefix, e.g. `2.2.1/sessions`; the listed URL is `{base}{prefix}/{path}`. */
  path: string;
  routes: OcpiRoute<P>[];
}

export interface OcpiPluginOptions<P extends OcpiPrincipal> {
  /** URL prefix of every OCPI route (default `/ocpi`). */
  prefix?: string;
  clock: Clock;
  log: Logger;
  /** Who we are: the FROM of our routing headers. */
  identity: () => PartyIdentity;
  /** Our public base URL (no trailing slash), for absolute URLs in links. */
  publicUrl: () => string;
  authenticate: Authenticator<P>;
  modules: () => OcpiModule<P>[];
}

interface RequestState {
  requestId: string;
  correlationId: string;
}

/** Mount the OCPI modules. Call once per prefix. */
export function registerOcpiPlugin<P extends OcpiPrincipal>(http: FastifyInstance, opts: OcpiPluginOptions<P>): void {
  const prefix = opts.prefix ?? '/ocpi';
  const states = new WeakMap<FastifyRequest, RequestState>();
  const principals = new WeakMap<FastifyRequest, { principal: P; credential: TokenCandidate }>();

  const stateOf = (req: FastifyRequest, reply: FastifyReply): RequestState => {
    let s = states.get(req);
    if (!s) {
      s = messageIds(req.headers);
      states.set(req, s);
      reply.header(H_REQUEST_ID, s.requestId).header(H_CORRELATION_ID, s.correlationId);
    }
    return s;
  };
  const send = (reply: FastifyReply, httpStatus: number, statusCode: number, message?: string, data?: unknown) =>
    reply
      .code(httpStatus)
      .type('application/json; charset=utf-8')
      .send(envelope(opts.clock.now(), statusCode, { ...(data !== undefined ? { data } : {}), ...(message !== undefined ? { message } : {}) }));
  const sendTransport = (reply: FastifyReply, kind: OcpiTransportError, message: string) => {
    const e = OCPI_TRANSPORT_ERRORS[kind];
    if (e.http === 401) reply.header('www-authenticate', 'Token');
    return send(reply, e.http, e.statusCode, message);
  };

  void http.register(
    async (app) => {
      // Bodies are JSON whatever the Content-Type says (peers differ); an empty body is no body.
      app.removeAllContentTypeParsers();
      app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
        const text = String(body);
        if (text.trim() === '') return done(null, undefined);
        try {
          done(null, JSON.parse(text));
        } catch {
          done(Object.assign(new Error('The body is not valid JSON'), { statusCode: 400, ocpi: 'InvalidJson' as const }), undefined);
        }
      });
      app.addHook('onRequest', async (req, reply) => {
        stateOf(req, reply);
      });
      app.setNotFoundHandler((req, reply) => {
        stateOf(req, reply);
        return sendTransport(reply, 'NotFound', `No OCPI route ${req.method} ${req.url.split('?')[0]}`);
      });
      app.setErrorHandler((err: Error & { statusCode?: number; ocpi?: OcpiTransportError }, req, reply) => {
        stateOf(req, reply);
        if (err instanceof OcpiError) return send(reply, err.httpStatus, err.statusCode, err.message, err.data);
        if (err.ocpi) return sendTransport(reply, err.ocpi, err.message);
        const status = err.statusCode ?? 500;
        if (status === 413) return sendTransport(reply, 'PayloadTooLarge', 'The body is too large');
        if (status >= 400 && status < 500) return send(reply, status, OcpiStatus.ClientError, err.message || 'Bad request');
        opts.log.error({ err, method: req.method, url: req.url.split('?')[0] }, 'OCPI request failed');
        return sendTransport(reply, 'Internal', 'Internal error');
      });

      for (const mod of opts.modules()) {
        const auth = async (req: FastifyRequest, reply: FastifyReply) => {
          const candidates = tokenCandidates(req.headers.authorization);
          if (candidates.length === 0) return sendTransport(reply, 'Unauthorized', 'Authorization: Token <credentials token> is required');
          const found = await opts.authenticate(candidates, req);
          if (!found) return sendTransport(reply, 'Unauthorized', 'Unknown credentials token');
          if (mod.kind === 'functional' && found.principal.registrationOnly) {
            return sendTransport(reply, 'TokenANotAllowed', `A registration token (CREDENTIALS_TOKEN_A) is only accepted on versions and credentials, not on ${mod.identifier}`);
          }
          principals.set(req, found);
          if (mod.kind === 'functional') {
            const me = opts.identity();
            const asked = readRouting(req.headers);
            const to = asked.from ?? found.principal.party;
            if (to) reply.headers(routingHeaders({ from: { countryCode: me.countryCode, partyId: me.partyId }, to }));
          }
          return undefined;
        };
        for (const r of mod.routes) {
          const base = `/${mod.path.replace(/^\/+|\/+$/g, '')}`;
          const urls = r.url === '' ? [base, `${base}/`] : [`${base}${r.url}`];
          for (const url of urls) {
            app.route({
              method: r.method,
              url,
              onRequest: auth,
              handler: async (req, reply) => {
                const s = stateOf(req, reply);
                const who = principals.get(req)!;
                const out = await r.handler({
                  raw: req,
                  params: (req.params ?? {}) as Record<string, string>,
                  query: (req.query ?? {}) as Record<string, unknown>,
                  body: req.body,
                  principal: who.principal,
                  credential: who.credential,
                  requestId: s.requestId,
                  correlationId: s.correlationId,
                  routing: readRouting(req.headers),
                  url: `${opts.publicUrl()}${req.url}`,
                });
                if (out.headers) reply.headers(out.headers);
                return send(reply, out.httpStatus ?? 200, out.statusCode ?? OcpiStatus.Success, out.statusMessage, out.data);
              },
            });
          }
        }
      }
    },
    { prefix },
  );
}
