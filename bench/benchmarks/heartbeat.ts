/**
 * 1. Heartbeat round-trips per second: Ampline vs a bare ocpp-rpc server, measured in the same run.
 *
 * Both servers run at the same time as separate children (Ampline on a fresh data dir, and
 * bench/echo-server.ts), each with `connections` booted OCPP 1.6 clients. Load is applied to one
 * server at a time in short slices, alternating in ABBA order within pairs of rounds (round 1: B A,
 * round 2: A B, …). Each slice: every client of that server sends Heartbeat back-to-back (one CALL in
 * flight per connection); after a short ramp the slice window is measured. The idle server meanwhile
 * only holds idle sockets. Pairing the two sides seconds apart makes the comparison robust against
 * other tenants of a shared machine, whose load changes over tens of seconds.
 */
import { boot16, closeAll, type Client } from '../lib/load.js';
import { type LoopResult, closedLoop, connectMany } from '../lib/loop.js';
import { type ServerChild, startAmpline, startBaseline } from '../lib/proc.js';
import { type BenchSection, table, targetTable } from '../lib/report.js';
import { LatencyRecorder, fmt, mapLimit, median, ms, withDeadline } from '../lib/stats.js';

export interface HeartbeatOptions {
  connections: number;
  /** Discarded warm-up slices per server before the first round. */
  warmupSlices: number;
  /** Unmeasured ramp at the start of each slice. */
  rampMs: number;
  /** Measured part of each slice. */
  sliceMs: number;
  rounds: number;
}

type Side = 'baseline' | 'ampline';

interface Slice {
  side: Side;
  rtPerS: number;
  completed: number;
  errors: number;
  serverCpuPct: number;
  generatorCpuPct: number;
  otherCpuPct: number;
  /** Server CPU time per round trip (µs): capacity independent of who the bottleneck was. */
  serverUsPerRt: number;
  generatorUsPerRt: number;
  p50: number;
  p99: number;
}

interface Round {
  n: number;
  order: string;
  baseline: Slice;
  ampline: Slice;
}

export const TARGET_RATIO = 0.8;

interface Fleet {
  srv: ServerChild;
  clients: Client[];
  latency: LatencyRecorder;
  errorSamples: string[];
}

async function fleet(srv: ServerChild, tag: string, n: number): Promise<Fleet> {
  const ids = Array.from({ length: n }, (_, i) => `HB-${tag}-${i}`);
  const clients = await withDeadline(connectMany(srv.ocppUrl, ids, 'ocpp1.6', 50), 60_000, `${tag}: connecting`);
  try {
    await withDeadline(mapLimit(clients, 50, (c) => c.call('BootNotification', boot16())), 60_000, `${tag}: BootNotification`);
  } catch (err) {
    await closeAll(clients);
    throw err;
  }
  return { srv, clients, latency: new LatencyRecorder(), errorSamples: [] };
}

function toSlice(side: Side, r: LoopResult): Slice {
  const s = r.latency.summary();
  return {
    side,
    rtPerS: r.perSecond,
    completed: r.completed,
    errors: r.errors,
    serverCpuPct: r.serverCpuPct,
    generatorCpuPct: r.generatorCpuPct,
    otherCpuPct: r.otherCpuPct,
    serverUsPerRt: (r.serverCpuPct / 100 / r.perSecond) * 1e6,
    generatorUsPerRt: (r.generatorCpuPct / 100 / r.perSecond) * 1e6,
    p50: s.p50,
    p99: s.p99,
  };
}

async function slice(f: Fleet, side: Side, o: HeartbeatOptions, windowMs: number): Promise<Slice> {
  const r = await closedLoop(f.clients.length, (i) => f.clients[i]!.call('Heartbeat', {}), {
    warmupMs: o.rampMs,
    windowMs,
    serverPid: f.srv.pid,
    abort: () => closeAll(f.clients),
  });
  f.errorSamples.push(...r.errorSamples);
  if (windowMs === o.sliceMs) {
    const sorted = r.latency.sorted();
    for (const v of sorted) f.latency.add(v);
  }
  return toSlice(side, r);
}

export async function heartbeatBenchmark(o: HeartbeatOptions, log: (s: string) => void): Promise<BenchSection> {
  const t0 = performance.now();
  const servers: ServerChild[] = [];
  const fleets: Partial<Record<Side, Fleet>> = {};
  try {
    servers.push(await startBaseline());
    servers.push(await startAmpline());
    fleets.baseline = await fleet(servers[0]!, 'baseline', o.connections);
    fleets.ampline = await fleet(servers[1]!, 'ampline', o.connections);
    const f = fleets as Record<Side, Fleet>;

    for (let i = 0; i < o.warmupSlices; i++) {
      await slice(f.baseline, 'baseline', o, o.sliceMs);
      await slice(f.ampline, 'ampline', o, o.sliceMs);
    }
    f.baseline.latency = new LatencyRecorder();
    f.ampline.latency = new LatencyRecorder();
    f.baseline.errorSamples.length = 0;
    f.ampline.errorSamples.length = 0;

    const rounds: Round[] = [];
    for (let n = 1; n <= o.rounds; n++) {
      const order: Side[] = n % 2 === 1 ? ['baseline', 'ampline'] : ['ampline', 'baseline'];
      const got: Partial<Record<Side, Slice>> = {};
      for (const side of order) got[side] = await slice(f[side], side, o, o.sliceMs);
      const r: Round = { n, order: order.map((s) => (s === 'baseline' ? 'B' : 'A')).join(''), baseline: got.baseline!, ampline: got.ampline! };
      rounds.push(r);
      log(
        `  heartbeat round ${n} (${r.order}): baseline ${fmt(r.baseline.rtPerS)} rt/s (${fmt(r.baseline.serverUsPerRt)} µs/rt), ` +
          `ampline ${fmt(r.ampline.rtPerS)} rt/s (${fmt(r.ampline.serverUsPerRt)} µs/rt), ratio ${(r.ampline.rtPerS / r.baseline.rtPerS).toFixed(2)}, ` +
          `other CPU ${fmt((r.baseline.otherCpuPct + r.ampline.otherCpuPct) / 2)}%`,
      );
    }

    const side = (s: Side) => rounds.map((r) => r[s]);
    const medRt = (s: Side) => median(side(s).map((x) => x.rtPerS));
    const medUs = (s: Side) => median(side(s).map((x) => x.serverUsPerRt));
    const ratios = rounds.map((r) => r.ampline.rtPerS / r.baseline.rtPerS);
    const cpuRatios = rounds.map((r) => r.baseline.serverUsPerRt / r.ampline.serverUsPerRt);
    const ratio = median(ratios);
    const cpuRatio = median(cpuRatios);
    const errors = rounds.reduce((a, r) => a + r.baseline.errors + r.ampline.errors, 0);
    const lat = { baseline: f.baseline.latency.summary(), ampline: f.ampline.latency.summary() };

    const targets = [
      {
        metric: 'Heartbeat rt/s, Ampline ÷ baseline (median of per-round ratios)',
        measured: `**${ratio.toFixed(2)}×** (medians ${fmt(medRt('ampline'))} vs ${fmt(medRt('baseline'))} rt/s)`,
        target: `≥ ${TARGET_RATIO}×`,
        met: ratio >= TARGET_RATIO && errors === 0,
      },
      {
        metric: 'Server CPU per Heartbeat, baseline ÷ Ampline (median of per-round ratios; = the rt/s ratio if the server alone were the bottleneck)',
        measured: `**${cpuRatio.toFixed(2)}×** (medians ${fmt(medUs('baseline'))} vs ${fmt(medUs('ampline'))} µs per round trip)`,
        target: `≥ ${TARGET_RATIO}× (stricter reading)`,
        met: cpuRatio >= TARGET_RATIO,
      },
      { metric: 'Ampline Heartbeat latency p50 / p99 (all measured slices)', measured: `${ms(lat.ampline.p50)} / ${ms(lat.ampline.p99)}`, target: '(reported)', met: undefined },
      { metric: 'Baseline Heartbeat latency p50 / p99 (all measured slices)', measured: `${ms(lat.baseline.p50)} / ${ms(lat.baseline.p99)}`, target: '(reported)', met: undefined },
      { metric: 'Errors (all slices)', measured: String(errors), target: '0', met: errors === 0 },
    ];

    const sliceCells = (s: Slice) => [fmt(s.rtPerS), ms(s.p50), ms(s.p99), `${fmt(s.serverCpuPct)}%`, fmt(s.serverUsPerRt), `${fmt(s.generatorCpuPct)}%`];
    const errorSamples = [...f.baseline.errorSamples, ...f.ampline.errorSamples];
    const body = [
      `Both servers run side by side as child processes started the same way (\`node --import tsx …\`): Ampline, and the baseline ` +
        `\`bench/echo-server.ts\`, a bare ocpp-rpc \`RPCServer\` (no validation, no database, no logging) that answers Heartbeat with currentTime. ` +
        `Each gets ${o.connections} OCPP 1.6 connections, booted once. Load goes to one server at a time: in a slice, every connection of that ` +
        `server sends \`Heartbeat\` back-to-back (one CALL in flight per connection); ${o.rampMs} ms ramp, then ${fmt(o.sliceMs / 1000, 1)} s measured. ` +
        `${o.warmupSlices} discarded warm-up slice(s) per server, then ${o.rounds} rounds of one slice each, the order alternating per round ` +
        `(B A, A B, …) so that both sides see the same machine within seconds of each other. Ratios are computed per round; the table ` +
        `reports their median.`,
      '',
      `CPU columns: user+system time over the slice (100% = one core); server from /proc/PID/stat, generator from process.cpuUsage(), ` +
        `"other" = everything else on the machine (/proc/stat minus both; other tenants of this shared VM). On this 2-core machine the ` +
        `generator needs about as much CPU per round trip as the server, so neither side reaches a full core and the rt/s ratio understates ` +
        `the difference in server cost; the server CPU per round trip (µs/rt) is the generator-independent figure, reported as a second, stricter comparison.`,
      '',
      targetTable(targets),
      '',
      table(
        [
          'Round',
          'Order',
          'Baseline rt/s',
          'p50',
          'p99',
          'server CPU',
          'µs/rt',
          'gen. CPU',
          'Ampline rt/s',
          'p50',
          'p99',
          'server CPU',
          'µs/rt',
          'gen. CPU',
          'rt/s ratio',
          'CPU ratio',
          'Other CPU',
        ],
        rounds.map((r, i) => [
          String(r.n),
          r.order,
          ...sliceCells(r.baseline),
          ...sliceCells(r.ampline),
          `${ratios[i]!.toFixed(2)}×`,
          `${cpuRatios[i]!.toFixed(2)}×`,
          `${fmt((r.baseline.otherCpuPct + r.ampline.otherCpuPct) / 2)}%`,
        ]),
        ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      table(
        ['Server', 'median rt/s', 'min – max rt/s', 'p50 (pooled)', 'p99 (pooled)', 'median server µs/rt', 'median generator µs/rt'],
        (['baseline', 'ampline'] as const).map((s) => [
          s === 'baseline' ? 'baseline (bare ocpp-rpc)' : 'Ampline',
          fmt(medRt(s)),
          `${fmt(Math.min(...side(s).map((x) => x.rtPerS)))} – ${fmt(Math.max(...side(s).map((x) => x.rtPerS)))}`,
          ms(lat[s].p50),
          ms(lat[s].p99),
          fmt(medUs(s)),
          fmt(median(side(s).map((x) => x.generatorUsPerRt))),
        ]),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      ...(errorSamples.length > 0 ? ['', `Error samples: ${errorSamples.slice(0, 5).map((e) => `\`${e}\``).join(', ')}`] : []),
    ].join('\n');

    return { name: 'heartbeat', title: '1. Heartbeat round-trips per second (Ampline vs bare ocpp-rpc)', targets, body, durationS: (performance.now() - t0) / 1000 };
  } finally {
    await closeAll([...(fleets.baseline?.clients ?? []), ...(fleets.ampline?.clients ?? [])]);
    for (const s of servers) {
      await s.stop();
      s.removeDataDir();
    }
  }
}
