/** Load patterns shared by the benchmarks: connect a fleet, and a closed-loop driver with a timed window. */
import { type Client, type ClientOptions, type Protocol, closeAll, connectStation } from './load.js';
import { cpuSeconds, machineBusySeconds, selfCpuSeconds } from './proc.js';
import { LatencyRecorder, mapLimit, sleep } from './stats.js';

/** Connects every identity (at most `concurrency` handshakes at once). On any failure closes them all. */
export async function connectMany(
  ocppUrl: string,
  identities: readonly string[],
  protocol: Protocol | ((i: number) => Protocol),
  concurrency: number,
  opts: ClientOptions = {},
): Promise<Client[]> {
  const clients: Array<Client | undefined> = new Array(identities.length);
  try {
    await mapLimit(identities, concurrency, async (id, i) => {
      clients[i] = await connectStation(ocppUrl, id, typeof protocol === 'function' ? protocol(i) : protocol, opts);
    });
  } catch (err) {
    await closeAll(clients);
    throw err;
  }
  return clients as Client[];
}

export interface LoopResult {
  /** Calls answered successfully inside the window. */
  completed: number;
  /** Calls answered successfully over the whole run (warm-up + window + drain). */
  totalOk: number;
  errors: number;
  errorSamples: string[];
  windowS: number;
  perSecond: number;
  latency: LatencyRecorder;
  /** Latency per group (see `groupOf`). */
  groupLatency: LatencyRecorder[];
  groupCompleted: number[];
  groupTotalOk: number[];
  serverCpuPct: number;
  generatorCpuPct: number;
  /** CPU used by everything else on the machine during the window (other tenants, kernel work not charged to us). */
  otherCpuPct: number;
}

/**
 * `n` independent loops, each awaiting one call before sending the next (closed loop: one CALL in
 * flight per station, as OCPP-J requires). Counts and latencies cover only calls that *complete*
 * inside [warm-up end, warm-up end + window). After the window every loop finishes its current call.
 */
export async function closedLoop(
  n: number,
  call: (i: number) => Promise<unknown>,
  opts: {
    warmupMs: number;
    windowMs: number;
    serverPid: number;
    groups?: number;
    groupOf?: (i: number) => number;
    /** Called if the loops have not all finished `drainMs` after the window (e.g. close the sockets). */
    abort: () => Promise<void>;
    drainMs?: number;
  },
): Promise<LoopResult> {
  const groups = opts.groups ?? 1;
  const groupOf = opts.groupOf ?? (() => 0);
  const latency = new LatencyRecorder();
  const groupLatency = Array.from({ length: groups }, () => new LatencyRecorder());
  const groupCompleted = new Array<number>(groups).fill(0);
  const groupTotalOk = new Array<number>(groups).fill(0);
  let winStart = Infinity;
  let winEnd = Infinity;
  let stop = false;
  let completed = 0;
  let totalOk = 0;
  let errors = 0;
  const errorSamples: string[] = [];

  const loop = async (i: number): Promise<void> => {
    const g = groupOf(i);
    while (!stop) {
      const t = performance.now();
      try {
        await call(i);
      } catch (err) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(String((err as Error)?.message ?? err));
        await sleep(20); // a dead socket must not turn into a hot loop
        continue;
      }
      const t2 = performance.now();
      totalOk++;
      groupTotalOk[g]!++;
      if (t2 >= winStart && t2 < winEnd) {
        completed++;
        groupCompleted[g]!++;
        latency.add(t2 - t);
        groupLatency[g]!.add(t2 - t);
      }
    }
  };
  const loops = Array.from({ length: n }, (_, i) => loop(i));
  await sleep(opts.warmupMs);
  const srv0 = cpuSeconds(opts.serverPid);
  const gen0 = selfCpuSeconds();
  const all0 = machineBusySeconds();
  winStart = performance.now();
  await sleep(opts.windowMs);
  winEnd = performance.now();
  const srv1 = cpuSeconds(opts.serverPid);
  const gen1 = selfCpuSeconds();
  const all1 = machineBusySeconds();
  stop = true;
  // Calls carry no ocpp-rpc timeout (see ClientOptions): a lost answer is bounded here instead.
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    Promise.all(loops).then(() => true),
    new Promise<false>((r) => {
      timer = setTimeout(() => r(false), opts.drainMs ?? 15_000);
    }),
  ]);
  clearTimeout(timer);
  if (!drained) {
    errorSamples.push(`calls still unanswered ${(opts.drainMs ?? 15_000) / 1000} s after the window; sockets closed`);
    await opts.abort();
    await Promise.all(loops);
  }
  const windowS = (winEnd - winStart) / 1000;
  return {
    completed,
    totalOk,
    errors,
    errorSamples,
    windowS,
    perSecond: completed / windowS,
    latency,
    groupLatency,
    groupCompleted,
    groupTotalOk,
    serverCpuPct: ((srv1 - srv0) / windowS) * 100,
    generatorCpuPct: ((gen1 - gen0) / windowS) * 100,
    otherCpuPct: Math.max(0, ((all1 - all0 - (srv1 - srv0) - (gen1 - gen0)) / windowS) * 100),
  };
}
