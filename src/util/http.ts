/**
 * Small HTTP helpers both parties use (the CSMS and the SCSP service may import src/util, never each
 * other): URL and bearer-token checks, and the seed routes' `{message}` error conventions.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from './log.js';

/** An absolute http: or https: URL. */
export function isHttpUrl(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** `Authorization: Bearer <token>` → token (case-insensitive scheme); undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/**
 * Inside an encapsulated plugin scope of seed routes (`/v1/cpo/...`, `/v1/scsp/...`; call before adding
 * routes): Fastify-level failures (malformed JSON, wrong media type, oversized body) are answered in the
 * seeds' `{message}` shape instead of an API error catalogue, and an empty body sent as
 * `application/json` is no body (the seeds' unpair calls show none).
 */
export function installMessageConventions(app: FastifyInstance, log: Logger, what: string): void {
  // Fastify's own JSON parser (prototype-poisoning checks included), except that an empty body is no body.
  const json = app.getDefaultJsonParser('error', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if ((body as string).trim() === '') return done(null, undefined);
    return json(req, body as string, done);
  });
  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ message: err.message || 'Bad Request' });
    log.error({ err, method: req.method, url: req.url.split('?')[0] }, `${what} failed`);
    return reply.code(500).send({ message: 'Internal Server Error' });
  });
}
