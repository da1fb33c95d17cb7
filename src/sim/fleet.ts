/**
 * Fleet runner: N simulated charge points connected with bounded concurrency and jitter (boot storms,
 * benchmarks), optionally each running an endless session loop for the demo:
 * idle → plug in → authorize → charge for a random time → stop → unplug → idle.
 */
import { isOcppProtocol, type OcppProtocol } from '../ocpp/protocol.js';
import { systemClock, type Clock } from '../util/clock.js';
import { SimChargePoint } from './charge-point.js';
import type { EvInput, EvseConfig, ReconnectOptions, SimLogger } from './types.js';

export interface FleetOptions {
  url: string;
  count: number;
  protocol: OcppProtocol | 'mixed';
  /** Identity prefix; identities are `${prefix}${n}` with n zero-padded (width ≥ 3). Default 'SIM-'. */
  prefix?: string;
  /** First n (default 1). */
  startIndex?: number;
  clock?: Clock;
  clockSpeed?: number;
  /** Run the automatic session loop on every charger (demo). Default false. */
  sessions?: boolean;
  /** Chargers connecting at the same time (default 50). */
  connectConcurrency?: number;
  /** Random delay (0..jitterMs wall ms) before each charger connects (default 0). */
  jitterMs?: number;
  /** A charger that has not booted after this long counts as failed (it keeps retrying). Default 30 s. */
  connectTimeoutMs?: number;
  /** Boot-storm mode: boot, statuses, heartbeat; nothing else periodic. */
  bootOnly?: boolean;
  password?: string | ((identity: string) => string | undefined);
  /** EVSE layout per charger (index from 0); default: every fourth a 50 kW DC, the others 11 kW AC. */
  evses?: (index: number, protocol: OcppProtocol) => EvseConfig[];
  meterIntervalS?: number;
  callTimeoutMs?: number;
  reconnect?: boolean | ReconnectOptions;
  logger?: SimLogger;
  random?: () => number;
  /** Session loop timing in clock seconds, and the id tags drivers use. */
  sessionPlan?: { idleS?: [number, number]; chargeS?: [number, number]; idTags?: string[] };
}

export interface FleetConnectResult {
  identity: string;
  protocol: OcppProtocol;
  ok: boolean;
  /** Wall time from the start of the connect attempt to the accepted boot (or the failure). */
  ms: number;
  error?: string;
}

export interface Fleet {
  readonly chargers: readonly SimChargePoint[];
  readonly results: readonly FleetConnectResult[];
  /** Stop the session loops and close every charger. */
  stop(): Promise<void>;
}

export function fleetIdentity(prefix: string, n: number, width: number): string {
  return `${prefix}${String(n).padStart(width, '0')}`;
}

function defaultEvses(index: number): EvseConfig[] {
  if (index % 4 === 3) return [{ id: 1, connectors: [{ id: 1, powerType: 'DC', maxCurrentA: 125, maxPowerW: 50_000 }] }];
  return [{ id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 16 }] }];
}

const between = (random: () => number, [lo, hi]: [number, number]) => lo + (hi - lo) * random();

function randomEv(random: () => number, dc: boolean): EvInput {
  const singlePhase = !dc && random() < 0.3;
  return {
    batteryWh: Math.round(between(random, [40_000, 100_000])),
    socPercent: Math.round(between(random, [10, 60])),
    maxPowerW: dc ? Math.round(between(random, [50_000, 150_000])) : singlePhase ? 7_400 : random() < 0.5 ? 11_000 : 22_000,
    phases: singlePhase ? 1 : 3,
  };
}

/** One timer per charger drives its session loop. */
class SessionLoop {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly cp: SimChargePoint,
    private readonly dc: boolean,
    private readonly o: Required<Pick<FleetOptions, 'clockSpeed'>> & { random: () => number; idleS: [number, number]; chargeS: [number, number]; idTags: string[] },
    private readonly log: SimLogger | undefined,
  ) {}

  start(): void {
    this.wait(between(this.o.random, [1, this.o.idleS[1] / 4]), () => this.plugIn());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private wait(clockS: number, next: () => Promise<void>): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      next().catch((err: Error) => {
        this.log?.('info', `${this.cp.identity}: session loop step failed`, { error: err.message });
        this.wait(between(this.o.random, this.o.idleS), () => this.recover());
      });
    }, (clockS * 1000) / this.o.clockSpeed);
  }

  private async recover(): Promise<void> {
    const s = this.cp.evse(1);
    if (s.transaction) await this.cp.stopSession(1).catch(() => undefined);
    if (s.plugged) await this.cp.unplug(1).catch(() => undefined);
    await this.plugIn();
  }

  private async plugIn(): Promise<void> {
    if (!this.cp.online) return this.wait(between(this.o.random, this.o.idleS), () => this.plugIn());
    await this.cp.plugIn(1, 1, randomEv(this.o.random, this.dc));
    this.wait(between(this.o.random, [2, 10]), () => this.authorize());
  }

  private async authorize(): Promise<void> {
    const idTag = this.o.idTags[Math.floor(this.o.random() * this.o.idTags.length)] ?? 'SIMTAG';
    await this.cp.startSession({ evseId: 1, idTag });
    this.wait(between(this.o.random, this.o.chargeS), () => this.finish());
  }

  private async finish(): Promise<void> {
    if (this.cp.evse(1).transaction) await this.cp.stopSession(1, 'Local');
    this.wait(between(this.o.random, [5, 30]), () => this.leave());
  }

  private async leave(): Promise<void> {
    await this.cp.unplug(1);
    this.wait(between(this.o.random, this.o.idleS), () => this.plugIn());
  }
}

/** Create, connect (bounded concurrency + jitter) and optionally animate `count` charge points. */
export async function runFleet(o: FleetOptions): Promise<Fleet> {
  const random = o.random ?? Math.random;
  const prefix = o.prefix ?? 'SIM-';
  const start = o.startIndex ?? 1;
  const width = Math.max(3, String(start + o.count - 1).length);
  const clock = o.clock ?? systemClock;
  const clockSpeed = o.clockSpeed ?? 1;
  const chargers: SimChargePoint[] = [];
  for (let i = 0; i < o.count; i++) {
    const identity = fleetIdentity(prefix, start + i, width);
    const protocol: OcppProtocol = o.protocol === 'mixed' ? (i % 2 === 0 ? 'ocpp2.0.1' : 'ocpp1.6') : o.protocol;
    const password = typeof o.password === 'function' ? o.password(identity) : o.password;
    chargers.push(
      new SimChargePoint({
        url: o.url,
        identity,
        protocol,
        evses: (o.evses ?? defaultEvses)(i, protocol),
        clock,
        clockSpeed,
        random,
        serialNumber: `SN-${identity}`.slice(0, 25),
        ...(password !== undefined ? { password } : {}),
        ...(o.meterIntervalS !== undefined ? { meterIntervalS: o.meterIntervalS } : {}),
        ...(o.callTimeoutMs !== undefined ? { callTimeoutMs: o.callTimeoutMs } : {}),
        ...(o.reconnect !== undefined ? { reconnect: o.reconnect } : {}),
        ...(o.logger !== undefined ? { logger: o.logger } : {}),
        ...(o.bootOnly ? { bootOnly: true } : {}),
      }),
    );
  }

  const results: FleetConnectResult[] = [];
  const timeoutMs = o.connectTimeoutMs ?? 30_000;
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      const cp = chargers[i];
      if (!cp) return;
      const jitter = (o.jitterMs ?? 0) * random();
      if (jitter > 0) await new Promise((r) => setTimeout(r, jitter));
      const t0 = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          cp.connect(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`not booted within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        results.push({ identity: cp.identity, protocol: cp.protocol, ok: true, ms: performance.now() - t0 });
      } catch (err) {
        results.push({ identity: cp.identity, protocol: cp.protocol, ok: false, ms: performance.now() - t0, error: (err as Error).message });
      } finally {
        if (timer) clearTimeout(timer);
      }
    }
  };
  const concurrency = Math.max(1, Math.min(o.connectConcurrency ?? 50, o.count));
  await Promise.all(Array.from({ length: concurrency }, worker));

  const loops: SessionLoop[] = [];
  if (o.sessions) {
    const plan = {
      clockSpeed,
      random,
      idleS: o.sessionPlan?.idleS ?? ([60, 600] as [number, number]),
      chargeS: o.sessionPlan?.chargeS ?? ([300, 3600] as [number, number]),
      idTags: o.sessionPlan?.idTags ?? ['04A1B2C3D4', '04E5F6A7B8', 'DEMO-TAG-1', 'DEMO-TAG-2'],
    };
    chargers.forEach((cp, i) => {
      const dc = (o.evses ?? defaultEvses)(i, cp.protocol)[0]?.connectors[0]?.powerType === 'DC';
      const loop = new SessionLoop(cp, dc, plan, o.logger);
      loops.push(loop);
      loop.start();
    });
  }

  return {
    chargers,
    results,
    async stop() {
      for (const l of loops) l.stop();
      await Promise.all(chargers.map((cp) => cp.close()));
    },
  };
}

/** Entry point for `ampline sim` and the demo. */
export async function simMain(args: { url: string; count: number; protocol: string; prefix?: string; sessions?: boolean }): Promise<{ stop(): Promise<void> }> {
  if (args.protocol !== 'mixed' && !isOcppProtocol(args.protocol)) {
    throw new Error(`protocol must be ocpp1.6, ocpp2.0.1 or mixed, got ${args.protocol}`);
  }
  const logger: SimLogger = (level, message, fields) => {
    if (level === 'warn' || level === 'error') process.stderr.write(`[sim] ${level}: ${message}${fields ? ' ' + JSON.stringify(fields) : ''}\n`);
  };
  const fleet = await runFleet({
    url: args.url,
    count: args.count,
    protocol: args.protocol,
    prefix: args.prefix ?? 'SIM-',
    sessions: args.sessions ?? false,
    connectConcurrency: 100,
    jitterMs: args.count > 100 ? 2000 : 100,
    meterIntervalS: args.sessions ? 15 : 60,
    sessionPlan: { idleS: [20, 120], chargeS: [120, 900] },
    logger,
  });
  const failed = fleet.results.filter((r) => !r.ok);
  if (failed.length > 0) logger('warn', `${failed.length} of ${args.count} chargers did not boot (they keep retrying)`, { first: failed[0]?.error });
  return { stop: () => fleet.stop() };
}
