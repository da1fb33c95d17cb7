/**
 * A small keep-alive HTTP(S) client for calls Ampline makes to partners at a high rate (SCSP event
 * forwarding): one `node:http`/`node:https` Agent per origin with keep-alive and a bounded socket pool,
 * and a per-request deadline that does not cost a timer per call.
 *
 * Why not the global `fetch`: each call builds a WHATWG Request/Response/Headers and stream, and an
 * `AbortSignal.timeout` (a timer plus an AbortSignal the whole request observes); measured on loopback
 * that was ≈ 545 µs of CPU per POST against 140–220 µs for a keep-alive `node:http` agent. `undici`'s
 * own Pool would be about as cheap, but it is not a dependency of this project (Node's bundled copy is
 * not importable), and `node:http` does what we need.
 *
 * - **Sockets**: at most `maxSocketsPerOrigin` connections per origin (more requests queue in the
 *   agent); idle ones are kept for `idleTimeoutMs` (Node shortens that to a server's `Keep-Alive:
 *   timeout=` hint minus 1 s) and reused most-recently-used first, so rarely used ones expire.
 * - **Deadline**: every request in flight sits in one set, and a single unref'd interval (every
 *   `tickMs`, only while something is in flight) destroys those past their deadline — a request times
 *   out between `timeoutMs` and `timeoutMs + tickMs` after it started.
 * - **Stale keep-alive socket**: a server may close an idle connection just as a request is written
 *   to it. When a request on a reused socket fails before any response byte arrived with a reset or a
 *   hang-up, it is sent once more on a fresh connection (within the same deadline; as the Node
 *   documentation suggests for `request.reusedSocket`). Callers must be able to take a repeat (the SCSP
 *   outbox sends an `Idempotency-Key`).
 */
import { Agent as HttpAgent, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpPoolOptions {
  /** Connections per origin (default 16). */
  maxSocketsPerOrigin?: number;
  /** How long an idle keep-alive connection is kept (default 30 s). */
  idleTimeoutMs?: number;
  /** Larger answers fail the request (default 4 MiB). */
  maxResponseBytes?: number;
  /** Deadline check period (default 250 ms). */
  tickMs?: number;
}

export interface PoolRequest {
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer | undefined;
  /** The whole exchange (queueing for a socket, sending, the complete answer) must end within this. */
  timeoutMs: number;
}

export interface PoolResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as UTF-8 text. */
  text: string;
}

export class HttpTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no complete answer within ${timeoutMs} ms`);
    this.name = 'HttpTimeoutError';
  }
}

interface InFlight {
  deadline: number;
  timeoutMs: number;
  req: ClientRequest | undefined;
  /** Set when the request ended (answered or failed); the sweeper drops it. */
  done: boolean;
}

type Origin = { agent: HttpAgent; https: boolean };

/** Errors of a reused keep-alive socket the server had closed before our request reached it. */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export class HttpPool {
  private readonly origins = new Map<string, Origin>();
  private readonly inflight = new Set<InFlight>();
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  private maxSockets: number;
  private readonly idleTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly tickMs: number;

  constructor(opts: HttpPoolOptions = {}) {
    this.maxSockets = Math.max(1, opts.maxSocketsPerOrigin ?? 16);
    this.idleTimeoutMs = Math.max(1, opts.idleTimeoutMs ?? 30_000);
    this.maxResponseBytes = opts.maxResponseBytes ?? 4 * 1024 * 1024;
    this.tickMs = Math.max(10, opts.tickMs ?? 250);
  }

  /**
   * Change the connection limit per origin. Raising it applies at once; lowering it gives every origin
   * a fresh agent (requests under way finish on their connections, which are closed afterwards).
   */
  setMaxSocketsPerOrigin(n: number): void {
    const max = Math.max(1, Math.floor(n));
    const lower = max < this.maxSockets;
    this.maxSockets = max;
    for (const [key, o] of this.origins) {
      if (!lower) {
        o.agent.maxSockets = max;
        o.agent.maxFreeSockets = max;
        continue;
      }
      // An agent hands out an idle connection whatever its limit: retire it instead.
      o.agent.maxFreeSockets = 0;
      for (const list of Object.values(o.agent.freeSockets)) for (const sock of [...(list ?? [])]) sock.destroy();
      this.origins.set(key, { agent: this.newAgent(o.https), https: o.https });
    }
  }

  /** Sockets open per origin right now (in use + idle), for tests and diagnostics. */
  sockets(): Record<string, { active: number; idle: number; queued: number }> {
    const out: Record<string, { active: number; idle: number; queued: number }> = {};
    const count = (m: NodeJS.ReadOnlyDict<unknown[]>): number => Object.values(m).reduce((n, l) => n + (l?.length ?? 0), 0);
    for (const [origin, o] of this.origins) out[origin] = { active: count(o.agent.sockets), idle: count(o.agent.freeSockets), queued: count(o.agent.requests) };
    return out;
  }

  /** Send one request; rejects on network errors, timeouts and over-long answers (never on an HTTP status). */
  request(url: string | URL, req: PoolRequest): Promise<PoolResponse> {
    if (this.closed) return Promise.reject(new Error('HTTP pool closed'));
    let u: URL;
    try {
      u = typeof url === 'string' ? new URL(url) : url;
    } catch (err) {
      return Promise.reject(err);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return Promise.reject(new Error(`unsupported URL scheme ${u.protocol}`));
    const origin = this.origin(u);
    const flight: InFlight = { deadline: Date.now() + req.timeoutMs, timeoutMs: req.timeoutMs, req: undefined, done: false };
    this.track(flight);
    const body = req.body === undefined ? undefined : typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
    const headers: Record<string, string | number> = { ...req.headers };
    if (body !== undefined) headers['content-length'] = body.length;
    const send = (retry: boolean): Promise<PoolResponse> =>
      this.send(u, origin, req.method, headers, body, flight).catch((err: unknown) => {
        const e = err as NodeJS.ErrnoException & { stale?: boolean };
        if (!retry && e.stale && !flight.done && !this.closed) return send(true);
        throw err;
      });
    return send(false).finally(() => {
      flight.done = true;
      this.inflight.delete(flight);
    });
  }

  /** Destroy every connection; requests in flight fail. */
  close(): void {
    this.closed = true;
    for (const f of this.inflight) f.req?.destroy(new Error('HTTP pool closed'));
    this.inflight.clear();
    for (const o of this.origins.values()) o.agent.destroy();
    this.origins.clear();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private origin(u: URL): Origin {
    const key = `${u.protocol}//${u.host}`;
    let o = this.origins.get(key);
    if (!o) {
      const https = u.protocol === 'https:';
      o = { agent: this.newAgent(https), https };
      this.origins.set(key, o);
    }
    return o;
  }

  private newAgent(https: boolean): HttpAgent {
    const opts = { keepAlive: true, maxSockets: this.maxSockets, maxFreeSockets: this.maxSockets, timeout: this.idleTimeoutMs, scheduling: 'lifo' as const };
    return https ? new HttpsAgent(opts) : new HttpAgent(opts);
  }

  private send(u: URL, origin: Origin, method: string, headers: Record<string, string | number>, body: Buffer | undefined, flight: InFlight): Promise<PoolResponse> {
    return new Promise<PoolResponse>((resolve, reject) => {
      let answered = false;
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        if (!answered && r.reusedSocket && STALE_SOCKET_CODES.has((err as NodeJS.ErrnoException).code ?? '')) (err as Error & { stale?: boolean }).stale = true;
        reject(err);
      };
      const options = {
        protocol: u.protocol,
        hostname: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname,
        port: u.port || undefined,
        path: u.pathname + u.search,
        method,
        headers,
        agent: origin.agent,
      };
      const r = origin.https ? httpsRequest(options) : httpRequest(options);
      flight.req = r;
      r.on('error', fail);
      r.on('response', (res: IncomingMessage) => {
        answered = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.maxResponseBytes) {
            fail(new Error(`answer larger than ${this.maxResponseBytes} bytes`));
            r.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on('error', fail);
        res.on('close', () => {
          if (!res.complete) fail(new Error('connection closed before the answer was complete'));
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          const text = chunks.length === 0 ? '' : chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
        });
      });
      r.end(body);
    });
  }

  private track(f: InFlight): void {
    this.inflight.add(f);
    if (this.sweeper) return;
    this.sweeper = setInterval(() => this.sweep(), this.tickMs);
    this.sweeper.unref();
  }

  private sweep(): void {
    if (this.inflight.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      return;
    }
    const now = Date.now();
    for (const f of this.inflight) {
      if (f.done) {
        this.inflight.delete(f);
        continue;
      }
      if (f.deadline <= now) {
        f.done = true;
        this.inflight.delete(f);
        f.req?.destroy(new HttpTimeoutError(f.timeoutMs));
      }
    }
  }
}
