/**
 * A foreign OCPI 2.2.1 SCSP for the Sessions tests, written from the spec text (mod_sessions §Receiver
 * interface, transport_and_format), with no Ampline code:
 *
 * - `PUT {url}/{country_code}/{party_id}/{session_id}` — "the full object": replaces what it had
 *   (charging periods included; omitted ones are removed); the ids in the URL must equal the object's;
 * - `PATCH` the same URL — "only the fields that changed"; MUST contain `last_updated` (2001 otherwise);
 *   `charging_periods` are **appended**;
 * - `GET` the same URL — the object it has (404 when unknown);
 * - `Authorization: Token <Base64(token)>` (401 otherwise); every answer is the envelope, without data.
 *
 * It records every request (time, method, path, headers, body) and can be told to fail: answer 503 with
 * status 3000, or drop the connection (no answer at all).
 */
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

export interface SessionsPeerRequest {
  at: number;
  method: string;
  path: string;
  sessionId: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  /** What the peer answered (HTTP); 0 = dropped. */
  http: number;
  statusCode?: number;
}

const REQUIRED = ['country_code', 'party_id', 'id', 'start_date_time', 'kwh', 'cdr_token', 'auth_method', 'location_id', 'evse_uid', 'connector_id', 'currency', 'status', 'last_updated'];

export class SessionsPeer {
  url = '';
  readonly requests: SessionsPeerRequest[] = [];
  /** What the peer holds, by `{country}/{party}/{id}`. */
  readonly sessions = new Map<string, any>();
  /** `ok`, `error` (503 + 3000), `drop` (connection closed without an answer). */
  mode: 'ok' | 'error' | 'drop' = 'ok';
  private app: FastifyInstance | undefined;

  /** `token`: what Ampline presents (we check Base64 of it). */
  constructor(readonly token: string) {}

  get sessionsUrl(): string {
    return `${this.url}/ocpi/2.2.1/sessions`;
  }

  for(sessionId: string): SessionsPeerRequest[] {
    return this.requests.filter((r) => r.sessionId === sessionId);
  }

  private send(req: FastifyRequest, reply: FastifyReply, http: number, statusCode: number, message: string, log?: SessionsPeerRequest) {
    if (log) {
      log.http = http;
      log.statusCode = statusCode;
    }
    reply.header('X-Request-ID', String(req.headers['x-request-id'] ?? randomUUID()));
    reply.header('X-Correlation-ID', String(req.headers['x-correlation-id'] ?? randomUUID()));
    return reply.code(http).send({ status_code: statusCode, status_message: message, timestamp: new Date().toISOString() });
  }

  async start(): Promise<this> {
    const app = Fastify({ logger: false });
    const handle = async (req: FastifyRequest, reply: FastifyReply) => {
      const p = req.params as { cc: string; pid: string; id: string };
      const log: SessionsPeerRequest = { at: Date.now(), method: req.method, path: req.url, sessionId: p.id, headers: { ...req.headers }, body: req.body, http: 0 };
      this.requests.push(log);
      if (this.mode === 'drop') {
        req.raw.socket.destroy();
        return reply;
      }
      if (this.mode === 'error') return this.send(req, reply, 503, 3000, 'Temporarily unavailable', log);
      if (req.headers.authorization !== `Token ${Buffer.from(this.token, 'utf8').toString('base64')}`) return this.send(req, reply, 401, 2000, 'Unauthorized', log);
      const key = `${p.cc}/${p.pid}/${p.id}`;
      const body = req.body as Record<string, any> | undefined;
      if (req.method === 'GET') {
        const s = this.sessions.get(key);
        if (!s) return this.send(req, reply, 404, 2000, 'Unknown session', log);
        reply.header('X-Request-ID', String(req.headers['x-request-id'] ?? randomUUID()));
        return reply.send({ data: s, status_code: 1000, timestamp: new Date().toISOString() });
      }
      if (typeof body !== 'object' || body === null) return this.send(req, reply, 400, 2001, 'A body is required', log);
      if (req.method === 'PUT') {
        const missing = REQUIRED.filter((k) => body[k] === undefined);
        if (missing.length > 0) return this.send(req, reply, 200, 2001, `Missing ${missing.join(', ')}`, log);
        if (body.id !== p.id || body.country_code !== p.cc || body.party_id !== p.pid) return this.send(req, reply, 200, 2001, 'Object ids differ from the URL', log);
        const created = !this.sessions.has(key);
        this.sessions.set(key, structuredClone(body));
        return this.send(req, reply, created ? 201 : 200, 1000, 'Success', log);
      }
      // PATCH
      if (typeof body.last_updated !== 'string') return this.send(req, reply, 200, 2001, 'PATCH without last_updated', log);
      const s = this.sessions.get(key);
      if (!s) return this.send(req, reply, 404, 2000, 'Unknown session', log);
      for (const [k, v] of Object.entries(body)) {
        if (k === 'charging_periods') s.charging_periods = [...(s.charging_periods ?? []), ...(v as unknown[])];
        else s[k] = v;
      }
      return this.send(req, reply, 200, 1000, 'Success', log);
    };
    for (const method of ['GET', 'PUT', 'PATCH'] as const) app.route({ method, url: '/ocpi/2.2.1/sessions/:cc/:pid/:id', handler: handle });
    await app.listen({ host: '127.0.0.1', port: 0 });
    this.url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    this.app = app;
    return this;
  }

  async stop(): Promise<void> {
    await this.app?.close();
  }
}
