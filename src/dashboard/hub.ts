/**
 * The live side of the dashboard: Server-Sent Events fed by the domain events.
 *
 * - **One build for everyone.** A domain event only marks the snapshot dirty; a build runs at most once
 *   per interval (`minIntervalMs`, stretched to 4× the last build's duration so a large fleet never
 *   spends more than about a fifth of the time on it), and its JSON is written to every stream. The
 *   GET endpoint shares the same build (a fresh or in-flight one), so N viewers cost one query set.
 * - **Only what changed is sent.** Each build is compared with the last one sent (ignoring
 *   `generatedAt`); a periodic refresh (`refreshMs`) catches what no event announces — a composite
 *   period starting, a load-balancer tick — and sends only if something differs.
 * - **Slow readers never buffer up.** A stream whose socket is still draining skips snapshots and gets
 *   the latest one on `drain` (a snapshot is the whole state, so skipping is lossless).
 * - **Heartbeats** (an SSE comment every `heartbeatMs`) keep proxies from closing an idle stream; each
 *   heartbeat also re-checks the stream's API key, so a revoked key stops streaming within one interval.
 * - **Bounded**: at most `maxStreams` concurrent streams (more: 503 `TooManyStreams` with Retry-After);
 *   a closed connection is removed at once; `close()` ends every stream (Fastify preClose).
 */
import type { ServerResponse } from 'node:http';
import type { DashboardSnapshot } from './snapshot.js';
import type { Logger } from '../util/log.js';

export interface HubOptions {
  /** Shortest time between two builds (ms): at most 1000/minIntervalMs snapshots per second. */
  minIntervalMs: number;
  /** Rebuild this often while someone watches, for changes no event announces (ms). */
  refreshMs: number;
  /** SSE comment interval (ms); also how often a stream's API key is re-checked. */
  heartbeatMs: number;
  /** Concurrent streams at most. */
  maxStreams: number;
}

export const DEFAULT_HUB_OPTIONS: HubOptions = { minIntervalMs: 250, refreshMs: 5000, heartbeatMs: 15_000, maxStreams: 32 };

export interface HubDeps {
  build: () => Promise<DashboardSnapshot>;
  /** True while the key a stream was opened with is still valid for reading. */
  stillAuthorized: (key: string) => Promise<boolean>;
  log: Logger;
  options?: Partial<HubOptions>;
}

interface Stream {
  res: ServerResponse;
  key: string;
  /** Id of the last snapshot written to this stream. */
  sentSeq: number;
  /** The socket was full when a snapshot was due: send the latest on `drain`. */
  behind: boolean;
}

interface Built {
  seq: number;
  snapshot: DashboardSnapshot;
  json: string;
  /** The JSON without `generatedAt`, to tell whether anything changed. */
  content: string;
  at: number;
}

export class DashboardHub {
  readonly options: HubOptions;
  private readonly streams = new Set<Stream>();
  private latest: Built | undefined;
  private inFlight: Promise<Built> | undefined;
  private lastBuildMs = 0;
  private seq = 0;
  private dirtyTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private dirtyAgain = false;
  private closed = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly deps: HubDeps) {
    this.options = { ...DEFAULT_HUB_OPTIONS, ...deps.options };
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Resolves when no stream is open (tests: a closed connection was cleaned up). */
  idle(): Promise<void> {
    if (this.streams.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Something changed: a build will run within the interval if anyone is watching. */
  changed(): void {
    if (this.closed || this.streams.size === 0) return;
    if (this.inFlight) {
      this.dirtyAgain = true;
      return;
    }
    if (this.dirtyTimer) return;
    const interval = this.interval();
    const wait = Math.max(0, (this.latest?.at ?? 0) + interval - Date.now());
    this.dirtyTimer = setTimeout(() => {
      this.dirtyTimer = undefined;
      void this.buildAndBroadcast();
    }, wait);
    this.dirtyTimer.unref();
  }

  /** The current snapshot: the last build when it is younger than the interval, else a new (shared) one. */
  async current(): Promise<Built> {
    if (this.latest && Date.now() - this.latest.at < this.interval()) return this.latest;
    return this.build();
  }

  canAccept(): boolean {
    return !this.closed && this.streams.size < this.options.maxStreams;
  }

  /** Take over a response (headers already sent by the caller) as an SSE stream. */
  attach(res: ServerResponse, key: string): void {
    const s: Stream = { res, key, sentSeq: -1, behind: false };
    this.streams.add(s);
    const cleanup = (): void => this.remove(s);
    res.on('close', cleanup);
    res.on('error', cleanup);
    res.on('drain', () => {
      if (!s.behind || !this.latest) return;
      s.behind = false;
      this.send(s, this.latest);
    });
    // The client's reconnect delay (EventSource honours it; the dashboard's own reader has its backoff).
    res.write('retry: 3000\n\n');
    this.startTimers();
    void this.current()
      .then((b) => {
        if (this.streams.has(s) && s.sentSeq < b.seq) this.send(s, b);
      })
      .catch((err: unknown) => this.deps.log.warn({ err }, 'dashboard: first snapshot failed'));
  }

  /** End every stream and stop the timers (the server is closing). */
  close(): void {
    this.closed = true;
    for (const s of [...this.streams]) {
      s.res.end();
      this.remove(s);
    }
    this.stopTimers();
    if (this.dirtyTimer) clearTimeout(this.dirtyTimer);
    this.dirtyTimer = undefined;
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────

  private interval(): number {
    return Math.max(this.options.minIntervalMs, 4 * this.lastBuildMs);
  }

  private build(): Promise<Built> {
    if (this.inFlight) return this.inFlight;
    const started = Date.now();
    const p = this.deps
      .build()
      .then((snapshot): Built => {
        const { generatedAt, ...rest } = snapshot;
        const content = JSON.stringify(rest);
        // generatedAt first, then the rest: the same object, serialised once.
        const json = `{"generatedAt":${JSON.stringify(generatedAt)},${content.slice(1)}`;
        // Unchanged content keeps its sequence number: streams that have it are not sent it again.
        const same = this.latest !== undefined && this.latest.content === content;
        const built: Built = { seq: same && this.latest ? this.latest.seq : ++this.seq, snapshot, json, content, at: Date.now() };
        this.latest = built;
        return built;
      })
      .finally(() => {
        this.lastBuildMs = Date.now() - started;
        this.inFlight = undefined;
        if (this.dirtyAgain) {
          this.dirtyAgain = false;
          this.changed();
        }
      });
    this.inFlight = p;
    return p;
  }

  private async buildAndBroadcast(): Promise<void> {
    if (this.closed || this.streams.size === 0) return;
    try {
      const b = await this.build();
      for (const s of this.streams) if (s.sentSeq < b.seq) this.send(s, b);
    } catch (err) {
      if (!this.closed) this.deps.log.warn({ err }, 'dashboard: snapshot failed');
    }
  }

  private send(s: Stream, b: Built): void {
    if (s.res.writableNeedDrain) {
      s.behind = true;
      return;
    }
    s.sentSeq = b.seq;
    s.res.write(`id: ${b.seq}\nevent: snapshot\ndata: ${b.json}\n\n`);
  }

  private remove(s: Stream): void {
    if (!this.streams.delete(s)) return;
    if (this.streams.size === 0) {
      this.stopTimers();
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private startTimers(): void {
    if (!this.refreshTimer) {
      this.refreshTimer = setInterval(() => this.changed(), this.options.refreshMs);
      this.refreshTimer.unref();
    }
    if (!this.heartbeatTimer) {
      this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.options.heartbeatMs);
      this.heartbeatTimer.unref();
    }
  }

  private stopTimers(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.refreshTimer = undefined;
    this.heartbeatTimer = undefined;
  }

  private async heartbeat(): Promise<void> {
    const now = new Date().toISOString();
    await Promise.all(
      [...this.streams].map(async (s) => {
        let ok: boolean;
        try {
          ok = await this.deps.stillAuthorized(s.key);
        } catch {
          ok = true; // the key store is briefly unavailable: not the viewer's fault
        }
        if (!this.streams.has(s)) return;
        if (!ok) {
          s.res.end('event: unauthorized\ndata: {}\n\n');
          this.remove(s);
          return;
        }
        if (!s.res.writableNeedDrain) s.res.write(`: heartbeat ${now}\n\n`);
      }),
    );
  }
}
