/**
 * A minimal, fast SCSP receiver for the `scsp` benchmark, in the bench process: what a foreign SCSP
 * exposes to a CPO under seed 001 (an OAuth 2.0 client-credentials token endpoint and the
 * `POST /v1/scsp/chargingstations/{uid}/events/{payload-protocol}/{Action}` endpoints with Bearer +
 * `ApiKey` checks), on a bare `node:http` server so that the receiver costs as little CPU as possible
 * and adds no latency of its own. It records, for every event request, the arrival time on this
 * process's `performance.now()` clock (the same clock the load generator stamps CALLRESULTs with)
 * and the raw body; schema validation of the bodies (strict OCA schemas, as test/helpers/scsp-peer.ts
 * does per request) happens after the run (`validateArrivals`) so that it does not sit on the timed
 * path. `down = true` answers every event request with 503 (like a proxy in front of a dead service);
 * the token endpoint stays up.
 *
 * `POST /direct/{n}` is the baseline path: the bench posts to it itself (`DirectPoster`) to measure
 * the bare HTTP hop under the same load.
 */
import { Agent, type IncomingMessage, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { validatePayload } from '../../src/ocpp/schemas.js';

export interface Arrival {
  uid: string;
  /** Payload protocol from the path. */
  pp: string;
  action: string;
  idempotencyKey: string;
  /** The event's own time: TransactionEvent/Start/Stop/StatusNotification `timestamp`, MeterValues `meterValue[0].timestamp`. */
  ts: string;
  /** performance.now() when the whole request had been received. */
  at: number;
  /** HTTP status answered (200, or 503 while down). */
  status: number;
  body: string;
}

const EVENT_PATH = /^\/v1\/scsp\/chargingstations\/([^/]+)\/events\/([^/]+)\/([A-Za-z]+)\/?$/;

export class BenchScspPeer {
  readonly clientId = 'ampline-bench-cpo';
  readonly clientSecret = 'bench-peer-secret-0123456789';
  readonly apiKey = 'bench-peer-static-api-key';
  url = '';
  tokenUrl = '';
  /** Answer every event request with 503. */
  down = false;
  /** Accepted (200) event requests, in arrival order. */
  readonly arrivals: Arrival[] = [];
  /** Event requests refused with 503 while down (count and arrival times). */
  refused503 = 0;
  /** Requests refused for bad credentials or an unknown path. */
  readonly refusedOther: Array<{ path: string; status: number; reason: string }> = [];
  tokensIssued = 0;
  /** Baseline: id → arrival time of direct posts. */
  readonly directArrivals = new Map<number, number>();
  private readonly tokens = new Set<string>();
  private readonly server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => this.handle(req, res));

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${port}`;
    this.tokenUrl = `${this.url}/oauth/token`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const url = req.url ?? '/';
      const body = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      const send = (status: number, json: string) => {
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
        res.end(json);
      };
      if (url.startsWith('/direct/')) {
        this.directArrivals.set(Number(url.slice('/direct/'.length)), at);
        return send(200, '{"message":"OK"}');
      }
      if (url === '/oauth/token') return this.token(req, body, send);
      const m = EVENT_PATH.exec(url);
      if (!m || req.method !== 'POST') {
        this.refusedOther.push({ path: url, status: 404, reason: 'unknown path' });
        return send(404, '{"message":"Not Found"}');
      }
      if (this.down) {
        this.refused503++;
        return send(503, '{"message":"Service Unavailable"}');
      }
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!bearer || !this.tokens.has(bearer) || req.headers.apikey !== this.apiKey) {
        this.refusedOther.push({ path: url, status: 401, reason: !bearer || !this.tokens.has(bearer) ? 'bad bearer token' : 'bad ApiKey' });
        return send(401, '{"message":"Unauthorized"}');
      }
      let ts = '';
      try {
        const b = JSON.parse(body) as { timestamp?: unknown; meterValue?: Array<{ timestamp?: unknown }> };
        const t = m[3] === 'MeterValues' ? b.meterValue?.[0]?.timestamp : b.timestamp;
        ts = typeof t === 'string' ? t : '';
      } catch {
        this.refusedOther.push({ path: url, status: 400, reason: 'body is not JSON' });
        return send(400, '{"message":"Bad Request"}');
      }
      this.arrivals.push({
        uid: decodeURIComponent(m[1]!),
        pp: m[2]!,
        action: m[3]!,
        idempotencyKey: String(req.headers['idempotency-key'] ?? ''),
        ts,
        at,
        status: 200,
        body,
      });
      send(200, '{"message":"OK"}');
    });
  }

  private token(req: IncomingMessage, body: string, send: (status: number, json: string) => void): void {
    const form = new URLSearchParams(body);
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if ((!id || !secret) && basic) {
      const [u, p] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
      id = decodeURIComponent(u ?? '');
      secret = decodeURIComponent(p ?? '');
    }
    if (form.get('grant_type') !== 'client_credentials') return send(400, '{"error":"unsupported_grant_type"}');
    if (id !== this.clientId || secret !== this.clientSecret) return send(401, '{"error":"invalid_client"}');
    const token = `bench-tok-${++this.tokensIssued}-${Math.random().toString(36).slice(2)}`;
    this.tokens.add(token);
    send(200, JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 3600 }));
  }

  /** The partner definition for AMPLINE_SCSP_PARTNERS_FILE. */
  partner(id: string, inboundToken: string): object {
    return {
      id,
      name: 'Bench SCSP',
      baseUrl: this.url,
      tokenUrl: this.tokenUrl,
      clientId: this.clientId,
      clientSecret: this.clientSecret,
      apiKey: this.apiKey,
      payloadProtocol: 'ocpp2.0.1',
      inboundToken,
    };
  }
}

/** Strict OCA schema check of every accepted body, after the run. Returns the number that failed and a few messages. */
export function validateArrivals(arrivals: readonly Arrival[]): { invalid: number; samples: string[] } {
  let invalid = 0;
  const samples: string[] = [];
  for (const a of arrivals) {
    const pp = a.pp === 'ocpp1.6' || a.pp === 'ocpp2.0.1' ? a.pp : undefined;
    const v = pp ? validatePayload(pp, a.action, 'req', JSON.parse(a.body)) : { ok: false as const, message: `unknown payload protocol ${a.pp}` };
    if (!v.ok) {
      invalid++;
      if (samples.length < 3) samples.push(`${a.action} ${a.uid}: ${v.message}`);
    }
  }
  return { invalid, samples };
}

/**
 * The baseline: the bench posts a body straight to the peer (`POST /direct/{n}`) over a keep-alive
 * agent limited to `maxSockets` connections (the forwarder's delivery concurrency), and the latency is
 * post start → arrival at the peer, on the same clock.
 */
export class DirectPoster {
  private readonly agent: Agent;
  private n = 0;
  /** n → performance.now() at the start of the post. */
  readonly sentAt = new Map<number, number>();
  errors = 0;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly peer: BenchScspPeer,
    maxSockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  post(body: string): void {
    const n = ++this.n;
    const u = new URL(`${this.peer.url}/direct/${n}`);
    this.sentAt.set(n, performance.now());
    const p = new Promise<void>((resolve) => {
      const req = request(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve());
        },
      );
      req.on('error', () => {
        this.errors++;
        resolve();
      });
      req.end(body);
    });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  async settle(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /** Latencies (ms) of the posts that arrived. */
  latencies(): number[] {
    const out: number[] = [];
    for (const [n, t] of this.sentAt) {
      const a = this.peer.directArrivals.get(n);
      if (a !== undefined) out.push(a - t);
    }
    return out;
  }

  close(): void {
    this.agent.destroy();
  }
}
