/**
 * The charger's WebSocket: one ocpp-rpc client offering exactly one subprotocol, opened with
 * jittered exponential backoff and reopened after drops. ocpp-rpc's own reconnect is off so that the
 * station always knows whether it is online (calls while closed fail at once instead of being
 * buffered behind a reconnect) and so that the first connect retries too.
 */
import type { OcppProtocol } from '../ocpp/protocol.js';
import { createRpcClient, type RpcClient, type RpcHandler } from './rpc.js';
import type { ReconnectOptions, SimLogger } from './types.js';

export interface ConnectionOptions {
  url: string;
  identity: string;
  protocol: OcppProtocol;
  password?: string;
  callTimeoutMs: number;
  reconnect: Required<ReconnectOptions> | false;
  random: () => number;
  log: SimLogger;
  handler: RpcHandler;
  /** Socket opened (first time or again). */
  onOpen: () => void;
  /** Socket lost without us asking. */
  onDrop: () => void;
}

export class OfflineError extends Error {
  constructor(action: string) {
    super(`cannot send ${action}: not connected`);
    this.name = 'OfflineError';
  }
}

export class Connection {
  private client: RpcClient | undefined;
  private wanted = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private wake: (() => void) | undefined;
  private opening: Promise<void> | undefined;
  open = false;

  constructor(private readonly o: ConnectionOptions) {}

  private makeClient(): RpcClient {
    const client = createRpcClient({
      identity: this.o.identity,
      endpoint: this.o.url.replace(/\/+$/, ''),
      protocols: [this.o.protocol],
      ...(this.o.password !== undefined ? { password: this.o.password } : {}),
      reconnect: false,
      callTimeoutMs: this.o.callTimeoutMs,
      pingIntervalMs: 0,
      callConcurrency: 1, // OCPP-J: one outstanding CALL per direction (protocols §4.1)
      strictMode: false, // own validation (validation.ts)
      respondWithDetailedErrors: false,
    });
    // One wildcard handler per station: the action tables are shared module-level objects.
    client.handle(this.o.handler);
    // 'close' (not 'disconnect'): ocpp-rpc marks itself CLOSED only after emitting 'disconnect'.
    client.on('close', () => this.dropped());
    client.on('socketError', (err) => this.o.log('debug', 'socket error', { error: err.message }));
    return client;
  }

  /** WebSocket ping interval (1.6 WebSocketPingInterval / 2.0.1 OCPPCommCtrlr.WebSocketPingInterval). */
  setPingInterval(seconds: number): void {
    this.client?.reconfigure({ pingIntervalMs: Math.max(0, seconds) * 1000 });
  }

  /** Open the socket; with reconnect on, keeps trying until it works or `close()` is called. */
  connect(): Promise<void> {
    this.wanted = true;
    this.opening ??= this.tryOpen(0).finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private backoffMs(): number {
    const r = this.o.reconnect;
    if (!r) return 0;
    const base = Math.min(r.maxDelayMs, r.initialDelayMs * r.factor ** Math.max(0, this.attempt - 1));
    const jitter = 1 + r.jitter * (2 * this.o.random() - 1);
    return Math.max(0, Math.round(base * jitter));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      this.retryTimer = setTimeout(resolve, ms);
    }).finally(() => {
      this.retryTimer = undefined;
      this.wake = undefined;
    });
  }

  private async tryOpen(firstDelayMs: number): Promise<void> {
    if (firstDelayMs > 0) await this.sleep(firstDelayMs);
    for (;;) {
      if (!this.wanted) throw new Error('connection closed');
      this.client ??= this.makeClient();
      try {
        await this.client.connect();
        if (!this.wanted) {
          await this.client.close({ force: true });
          throw new Error('connection closed');
        }
        this.attempt = 0;
        this.open = true;
        this.o.log('debug', 'socket open', { protocol: this.client.protocol });
        this.o.onOpen();
        return;
      } catch (err) {
        if (!this.wanted) throw err;
        if (!this.o.reconnect) throw err;
        this.attempt++;
        const delay = this.backoffMs();
        this.o.log('debug', 'connect failed, retrying', { error: (err as Error).message, delayMs: delay });
        await this.sleep(delay);
      }
    }
  }

  private dropped(): void {
    if (!this.open) return;
    this.open = false;
    if (!this.wanted) return;
    this.o.log('info', 'connection lost');
    this.o.onDrop();
    if (this.o.reconnect && !this.opening) {
      // Jittered delay before the first attempt too: a restarting CSMS must not see all chargers at once.
      this.attempt = 1;
      this.opening = this.tryOpen(this.backoffMs()).finally(() => {
        this.opening = undefined;
      });
      this.opening.catch((err: Error) => this.o.log('debug', 'reconnect abandoned', { error: err.message }));
    }
  }

  async call(action: string, payload: unknown): Promise<unknown> {
    if (!this.open || !this.client) throw new OfflineError(action);
    return this.client.call(action, payload);
  }

  /** Close for good (or until the next `connect()`). `force` drops the TCP connection without a close frame. */
  async close(force = false): Promise<void> {
    this.wanted = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.wake?.();
    const wasOpen = this.open;
    this.open = false;
    if (this.client && (wasOpen || this.client.state !== 3)) {
      await this.client.close(force ? { force: true } : { code: 1000, awaitPending: false }).catch(() => undefined);
    }
  }
}
