/**
 * OCPP-J transport: ocpp-rpc behind Ampline's own small interface.
 *
 * Invariants kept here and nowhere else:
 * - WebSocket only at `/ocpp/{identity}` and `/OCPP/{identity}`; the newest subprotocol both sides speak
 *   is chosen; an upgrade with no supported subprotocol is refused (HTTP 400).
 * - A new connection for an identity takes over: the old socket is closed and its pending calls fail.
 * - Two independent slots per station: inbound CALLs are always served (never refused because one of
 *   ours is pending — citrineos#178/#189); outbound CALLs go one at a time through a queue whose
 *   entries carry a deadline covering both queueing and flight.
 * - Every inbound CALL: unknown action → NotImplemented before any schema check, then schema
 *   validation, then the handler; every answer we give and every CALL we send is schema-validated.
 * - CALLERROR codes on the wire are rewritten to the negotiated version's spelling.
 * - WebSocket ping every `pingIntervalMs`; a missing pong closes the socket (dead peer within 2×).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import ocppRpc, { type Handshake, type RPCServerClient, type HandlerContext } from 'ocpp-rpc';
import type { Logger } from '../util/log.js';
import type { CsmsMetrics } from '../util/metrics.js';
import { type OcppProtocol, PROTOCOLS, isOcppProtocol } from './protocol.js';
import { isKnownAction, validatePayload } from './schemas.js';
import {
  CallTimeoutError,
  ChargerCallError,
  OcppCallError,
  StationOfflineError,
  errorCodeFor,
  errorKindOf,
} from './errors.js';

const { RPCServer, createRPCError } = ocppRpc;

export interface TransportOptions {
  /** Largest accepted WebSocket frame, bytes. */
  maxPayloadBytes: number;
  /** WebSocket ping interval; a peer that misses one pong is dropped. */
  pingIntervalMs: number;
  /** Default bound on one outbound CALL, from enqueue to answer. */
  callTimeoutMs: number;
  /** URL path prefixes accepted for the OCPP endpoint. */
  paths: readonly string[];
}

export const DEFAULT_TRANSPORT_OPTIONS: TransportOptions = {
  maxPayloadBytes: 1024 * 1024,
  pingIntervalMs: 30_000,
  callTimeoutMs: 30_000,
  paths: ['/ocpp', '/OCPP'],
};

/** One live connection of one station. */
export interface StationConnection {
  readonly stationId: string;
  readonly protocol: OcppProtocol;
  /** Increases with each connection of the process; tells a stale close apart from the current one. */
  readonly epoch: number;
  readonly remoteAddress: string | undefined;
  readonly connectedAt: Date;
  call(action: string, payload: object, opts?: { timeoutMs?: number }): Promise<unknown>;
  close(code?: number, reason?: string): Promise<void>;
}

export type InboundDispatcher = (conn: StationConnection, action: string, payload: unknown) => Promise<unknown>;

export type UpgradeDecision = { accept: true } | { accept: false; status: number; message: string };
export type UpgradeAuthorizer = (stationId: string, password: Buffer | undefined, handshake: Handshake) => Promise<UpgradeDecision>;

export interface TransportDeps {
  log: Logger;
  metrics: CsmsMetrics;
  dispatch: InboundDispatcher;
  authorize?: UpgradeAuthorizer;
  options?: Partial<TransportOptions>;
}

/** A CALL we were about to send does not match its schema: a bug or bad API input, never sent. */
export class OutboundValidationError extends Error {
  constructor(
    readonly action: string,
    readonly detail: string,
  ) {
    super(`${action} request is not valid OCPP: ${detail}`);
    this.name = 'OutboundValidationError';
  }
}

/** The station answered with a payload that breaks the schema. */
export class InvalidResponseError extends Error {
  constructor(
    readonly action: string,
    readonly detail: string,
  ) {
    super(`${action} response from charger is not valid OCPP: ${detail}`);
    this.name = 'InvalidResponseError';
  }
}

interface QueuedCall {
  action: string;
  payload: object;
  deadline: number;
  timeoutMs: number;
  enqueuedAt: number;
  timer: NodeJS.Timeout | undefined;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

let epochCounter = 0;

/** Rewrites the error code of an outgoing CALLERROR frame to the negotiated version's spelling. */
export function fixCallErrorFrame(protocol: OcppProtocol, frame: string): string {
  let msg: unknown;
  try {
    msg = JSON.parse(frame);
  } catch {
    return frame;
  }
  if (!Array.isArray(msg) || msg[0] !== 4) return frame;
  const code = errorCodeFor(protocol, String(msg[2]));
  const description = typeof msg[3] === 'string' ? msg[3].slice(0, 255) : '';
  const details = msg[4] && typeof msg[4] === 'object' ? msg[4] : {};
  return JSON.stringify([4, typeof msg[1] === 'string' ? msg[1] : '-1', code, description, details]);
}

class Connection implements StationConnection {
  readonly epoch = ++epochCounter;
  readonly connectedAt = new Date();
  private readonly queue: QueuedCall[] = [];
  private inFlight = false;
  closed = false;

  constructor(
    readonly stationId: string,
    readonly protocol: OcppProtocol,
    readonly remoteAddress: string | undefined,
    private readonly client: RPCServerClient,
    private readonly transport: OcppTransport,
  ) {}

  call(action: string, payload: object, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    if (this.closed) return Promise.reject(new StationOfflineError(this.stationId));
    const v = validatePayload(this.protocol, action, 'req', payload);
    if (!v.ok) return Promise.reject(new OutboundValidationError(action, v.message));
    const timeoutMs = opts.timeoutMs ?? this.transport.options.callTimeoutMs;
    const now = Date.now();
    return new Promise((resolve, reject) => {
      const job: QueuedCall = {
        action,
        payload,
        timeoutMs,
        deadline: now + timeoutMs,
        enqueuedAt: performance.now(),
        timer: undefined,
        resolve,
        reject,
      };
      job.timer = setTimeout(() => {
        const i = this.queue.indexOf(job);
        if (i >= 0) {
          this.queue.splice(i, 1);
          this.transport.observeOutbound(job, 'timeout');
          reject(new CallTimeoutError('queued', timeoutMs));
        }
      }, timeoutMs);
      this.queue.push(job);
      this.pump();
    });
  }

  private pump(): void {
    if (this.inFlight || this.closed) return;
    const job = this.queue.shift();
    if (!job) return;
    clearTimeout(job.timer);
    this.inFlight = true;
    const remaining = Math.max(1, job.deadline - Date.now());
    this.client
      .call(job.action, job.payload, { callTimeoutMs: remaining })
      .then(
        (result) => {
          const v = validatePayload(this.protocol, job.action, 'conf', result);
          if (!v.ok) {
            this.transport.observeOutbound(job, 'invalid');
            job.reject(new InvalidResponseError(job.action, v.message));
          } else {
            this.transport.observeOutbound(job, 'ok');
            job.resolve(result);
          }
        },
        (err: unknown) => {
          const e = err as { rpcErrorCode?: string; message?: string; details?: unknown; name?: string };
          if (e && typeof e.rpcErrorCode === 'string') {
            this.transport.observeOutbound(job, 'callerror');
            job.reject(new ChargerCallError(e.rpcErrorCode, e.message ?? '', e.details));
          } else if (e?.name === 'TimeoutError' || e?.message === 'Call timeout') {
            this.transport.observeOutbound(job, 'timeout');
            job.reject(new CallTimeoutError('in-flight', job.timeoutMs));
          } else {
            this.transport.observeOutbound(job, 'offline');
            job.reject(new StationOfflineError(this.stationId));
          }
        },
      )
      .finally(() => {
        this.inFlight = false;
        this.pump();
      });
  }

  /** Fail everything still queued (the socket is gone). */
  drain(): void {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      clearTimeout(job.timer);
      this.transport.observeOutbound(job, 'offline');
      job.reject(new StationOfflineError(this.stationId));
    }
  }

  async close(code = 1000, reason = ''): Promise<void> {
    this.drain();
    await this.client.close({ code, reason, force: false });
  }

  forceClose(code: number, reason: string): void {
    this.drain();
    // Not `force: true`: that terminates the socket without a close frame, so the peer would see 1006
    // instead of `code`. Pending calls are still rejected at once; a half-open peer that never answers
    // the close handshake is destroyed by ws after its close timeout (or by the missing pong).
    void this.client.close({ code, reason, awaitPending: false }).catch(() => undefined);
  }
}

export class OcppTransport {
  readonly options: TransportOptions;
  private readonly server: InstanceType<typeof RPCServer>;
  private readonly connections = new Map<string, Connection>();
  private readonly connectedListeners: Array<(c: StationConnection) => void> = [];
  private readonly disconnectedListeners: Array<(c: StationConnection, reason: string) => void> = [];
  /** prom-client children by label values: resolving labels costs more than the observation itself. */
  private readonly messageCounters = new Map<string, { inc(): void }>();
  private readonly handlerTimers = new Map<string, { observe(v: number): void }>();

  constructor(private readonly deps: TransportDeps) {
    this.options = { ...DEFAULT_TRANSPORT_OPTIONS, ...deps.options };
    this.server = new RPCServer({
      protocols: [...PROTOCOLS],
      callTimeoutMs: this.options.callTimeoutMs,
      pingIntervalMs: this.options.pingIntervalMs,
      callConcurrency: 1,
      strictMode: false,
      respondWithDetailedErrors: false,
      wssOptions: { maxPayload: this.options.maxPayloadBytes, perMessageDeflate: false },
    });
    this.server.auth((accept, reject, handshake) => this.onUpgrade(accept, reject, handshake));
    this.server.on('client', (client: RPCServerClient) => this.onClient(client));
    this.server.on('error', (err: Error) => deps.log.warn({ err }, 'websocket server error'));
  }

  /** Attach to an http server's 'upgrade' event. Non-OCPP paths are refused with 404. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    void this.server.handleUpgrade(req, socket, head);
  };

  onConnected(fn: (c: StationConnection) => void): void {
    this.connectedListeners.push(fn);
  }
  onDisconnected(fn: (c: StationConnection, reason: string) => void): void {
    this.disconnectedListeners.push(fn);
  }

  get(stationId: string): StationConnection | undefined {
    return this.connections.get(stationId);
  }

  get size(): number {
    return this.connections.size;
  }

  stationIds(): string[] {
    return [...this.connections.keys()];
  }

  /** Send a CALL to a connected station. Rejects with StationOfflineError, CallTimeoutError, ChargerCallError… */
  call(stationId: string, action: string, payload: object, opts?: { timeoutMs?: number }): Promise<unknown> {
    const c = this.connections.get(stationId);
    if (!c) return Promise.reject(new StationOfflineError(stationId));
    return c.call(action, payload, opts);
  }

  async close(): Promise<void> {
    for (const c of this.connections.values()) c.drain();
    await this.server.close({ code: 1001, reason: 'server shutting down', force: true });
    this.connections.clear();
  }

  /** @internal */
  observeOutbound(job: QueuedCall, result: string): void {
    this.deps.metrics.outboundSeconds.observe({ action: job.action, result }, (performance.now() - job.enqueuedAt) / 1000);
    this.deps.metrics.messages.inc({ protocol: '', action: job.action, direction: 'out', result });
  }

  private async onUpgrade(
    accept: (session?: Record<string, unknown>, protocol?: string) => void,
    reject: (code?: number, message?: string) => void,
    handshake: Handshake,
  ): Promise<void> {
    const { log, metrics } = this.deps;
    if (!this.options.paths.includes(handshake.endpoint)) {
      metrics.connections.inc({ event: 'refused' });
      return reject(404, 'Not found');
    }
    const id = handshake.identity;
    // OCPP 2.0.1 Part 4 §3.1.1 / 1.6J §3.1.1: identity is the last path segment; ≤ 48 chars printable.
    if (!id || id.length > 48 || !/^[\x21-\x7e]+$/.test(id)) {
      metrics.connections.inc({ event: 'refused' });
      return reject(400, 'Invalid charging station identity');
    }
    const protocol = PROTOCOLS.find((p) => handshake.protocols.has(p));
    if (!protocol) {
      metrics.connections.inc({ event: 'refused' });
      log.info({ stationId: id, offered: [...handshake.protocols] }, 'refused upgrade: no supported OCPP subprotocol');
      return reject(400, `No supported subprotocol; this server speaks ${PROTOCOLS.join(', ')}`);
    }
    if (this.deps.authorize) {
      try {
        const d = await this.deps.authorize(id, handshake.password, handshake);
        if (!d.accept) {
          metrics.connections.inc({ event: 'refused' });
          return reject(d.status, d.message);
        }
      } catch (err) {
        log.error({ err, stationId: id }, 'upgrade authorization failed');
        return reject(500, 'Internal error');
      }
    }
    accept({}, protocol);
  }

  private onClient(client: RPCServerClient): void {
    const { log, metrics } = this.deps;
    const protocol = client.protocol;
    if (!isOcppProtocol(protocol)) {
      void client.close({ code: 1002, reason: 'no subprotocol', force: true });
      return;
    }
    const stationId = client.identity;
    const conn = new Connection(stationId, protocol, client.handshake.remoteAddress, client, this);

    // Version-correct CALLERROR codes for everything ocpp-rpc or our handlers send.
    const rawSend = client.sendRaw.bind(client);
    client.sendRaw = (frame: string) => {
      rawSend(typeof frame === 'string' && frame.startsWith('[4') ? fixCallErrorFrame(protocol, frame) : frame);
    };

    client.handle((ctx: HandlerContext) => this.onCall(conn, ctx));
    client.on('badMessage', (ev: { error?: Error }) => {
      metrics.messages.inc({ protocol, action: '(malformed)', direction: 'in', result: 'error' });
      log.debug({ stationId, err: ev.error?.message }, 'malformed OCPP frame');
    });

    const previous = this.connections.get(stationId);
    this.connections.set(stationId, conn);
    if (previous) {
      metrics.connections.inc({ event: 'takeover' });
      log.info({ stationId, oldEpoch: previous.epoch, epoch: conn.epoch }, 'new connection takes over from the old one');
      previous.forceClose(4000, 'replaced by a newer connection');
    }
    metrics.connections.inc({ event: 'accepted' });
    metrics.connectedStations.set(this.connections.size);

    client.once('close', (ev: { code?: number; reason?: unknown }) => {
      conn.drain();
      if (this.connections.get(stationId) === conn) {
        this.connections.delete(stationId);
        metrics.connectedStations.set(this.connections.size);
        metrics.connections.inc({ event: 'closed' });
        const reason = `${ev?.code ?? ''} ${String(ev?.reason ?? '')}`.trim();
        for (const fn of this.disconnectedListeners) {
          try {
            fn(conn, reason);
          } catch (err) {
            log.error({ err }, 'disconnect listener failed');
          }
        }
      }
    });
    for (const fn of this.connectedListeners) {
      try {
        fn(conn);
      } catch (err) {
        log.error({ err }, 'connect listener failed');
      }
    }
  }

  private async onCall(conn: Connection, ctx: HandlerContext): Promise<unknown> {
    const { metrics, log } = this.deps;
    const { method: action, params } = ctx;
    const protocol = conn.protocol;
    const t0 = performance.now();
    const known = isKnownAction(protocol, action);
    let result = 'ok';
    try {
      if (!known) {
        result = 'NotImplemented';
        throw createRPCError('NotImplemented', `Unknown action '${action}'`);
      }
      const v = validatePayload(protocol, action, 'req', params);
      if (!v.ok) {
        result = v.kind;
        throw createRPCError(v.kind, v.message.slice(0, 255));
      }
      const response = await this.deps.dispatch(conn, action, params);
      const rv = validatePayload(protocol, action, 'conf', response);
      if (!rv.ok) {
        log.error({ stationId: conn.stationId, action, detail: rv.message }, 'our response failed schema validation');
        result = 'InternalError';
        throw createRPCError('InternalError', 'Internal error');
      }
      return response;
    } catch (err) {
      if (err instanceof OcppCallError) {
        result = err.kind;
        throw createRPCError(err.kind, err.message.slice(0, 255), err.details);
      }
      if (err && typeof (err as { rpcErrorCode?: unknown }).rpcErrorCode === 'string') throw err;
      result = 'InternalError';
      log.error({ err, stationId: conn.stationId, action }, 'handler failed');
      throw createRPCError('InternalError', 'Internal error');
    } finally {
      // Unknown action names are not used as label values (unbounded cardinality).
      const label = known ? action : '(unknown)';
      let timer = this.handlerTimers.get(label);
      if (!timer) this.handlerTimers.set(label, (timer = metrics.handlerSeconds.labels({ action: label })));
      timer.observe((performance.now() - t0) / 1000);
      const outcome = result === 'ok' ? 'ok' : errorKindOf(result);
      const key = `${protocol}|${label}|${outcome}`;
      let counter = this.messageCounters.get(key);
      if (!counter) this.messageCounters.set(key, (counter = metrics.messages.labels({ protocol, action: label, direction: 'in', result: outcome })));
      counter.inc();
    }
  }
}
