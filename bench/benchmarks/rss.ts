/**
 * 4. RSS per idle connected station.
 *
 * The CSMS child runs with --expose-gc and bench/gc-agent.ts preloaded (nothing in src/ changes): on
 * SIGUSR2 the agent runs full GCs and writes process.memoryUsage() to a file. Procedure: warm the
 * server up with a few stations that boot and leave (JIT, lazily built code paths, SQLite cache),
 * settle, GC, sample VmRSS several times (median) = RSS_0; connect `stations` stations that boot,
 * report status and then stay idle; settle, GC, sample again = RSS_n. Per station = (RSS_n − RSS_0) / n.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Client, boot16, closeAll, status16 } from '../lib/load.js';
import { connectMany } from '../lib/loop.js';
import { REPO_ROOT, type ServerChild, makeTempDir, removeTempDir, startAmpline } from '../lib/proc.js';
import { type BenchSection, table, targetTable } from '../lib/report.js';
import { fmt, mapLimit, median, sleep, withDeadline } from '../lib/stats.js';

export interface RssOptions {
  stations: number;
  warmupStations: number;
  settleMs: number;
  samples: number;
}

export const TARGET_KB_PER_STATION = 25;

interface Snapshot {
  rssKb: number;
  rssSamplesKb: number[];
  preGcRssKb: number;
  heapUsedKb: number;
  heapTotalKb: number;
  externalKb: number;
  arrayBuffersKb: number;
}

async function snapshot(srv: ServerChild, gcOut: string, samples: number): Promise<Snapshot> {
  const preGcRssKb = srv.rssKb();
  const prevSeq = existsSync(gcOut) ? (JSON.parse(readFileSync(gcOut, 'utf8')) as { seq: number }).seq : 0;
  process.kill(srv.pid, 'SIGUSR2');
  let mem: { seq: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number } | undefined;
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    await sleep(25);
    try {
      const m = JSON.parse(readFileSync(gcOut, 'utf8')) as NonNullable<typeof mem>;
      if (m.seq > prevSeq) {
        mem = m;
        break;
      }
    } catch {
      /* not written yet / partially written */
    }
  }
  if (!mem) throw new Error('GC agent did not answer (is bench/gc-agent.ts preloaded with --expose-gc?)');
  const rssSamplesKb: number[] = [];
  for (let i = 0; i < samples; i++) {
    await sleep(250);
    rssSamplesKb.push(srv.rssKb());
  }
  return {
    rssKb: median(rssSamplesKb),
    rssSamplesKb,
    preGcRssKb,
    heapUsedKb: mem.heapUsed / 1024,
    heapTotalKb: mem.heapTotal / 1024,
    externalKb: mem.external / 1024,
    arrayBuffersKb: mem.arrayBuffers / 1024,
  };
}

async function connected(srv: ServerChild): Promise<number> {
  const r = await fetch(`${srv.httpUrl}/healthz`);
  return ((await r.json()) as { connectedStations: number }).connectedStations;
}

async function bootIdle(clients: Client[]): Promise<void> {
  await mapLimit(clients, 200, async (c) => {
    await c.call('BootNotification', boot16());
    await c.call('StatusNotification', status16(0));
    await c.call('StatusNotification', status16(1));
  });
}

export async function rssBenchmark(o: RssOptions, log: (s: string) => void): Promise<BenchSection> {
  const t0 = performance.now();
  const scratch = makeTempDir('ampline-bench-gc-');
  const gcOut = join(scratch, 'mem.json');
  const srv = await startAmpline({
    nodeFlags: ['--expose-gc'],
    preload: [pathToFileURL(join(REPO_ROOT, 'bench', 'gc-agent.ts')).href],
    env: { BENCH_GC_OUT: gcOut },
  });
  let clients: Client[] = [];
  try {
    const afterStartKb = srv.rssKb();
    // Warm-up: stations that boot, report and leave.
    const warm = await withDeadline(connectMany(srv.ocppUrl, Array.from({ length: o.warmupStations }, (_, i) => `RSSWARM-${i}`), 'ocpp1.6', 100), 60_000, 'warm-up connect');
    await withDeadline(bootIdle(warm), 60_000, 'warm-up boot');
    await closeAll(warm);
    await sleep(o.settleMs);
    if ((await connected(srv)) !== 0) throw new Error('warm-up stations still connected');
    const s0 = await snapshot(srv, gcOut, o.samples);

    const tc = performance.now();
    clients = await withDeadline(connectMany(srv.ocppUrl, Array.from({ length: o.stations }, (_, i) => `RSS-${i}`), 'ocpp1.6', 200), 120_000, 'connect');
    await withDeadline(bootIdle(clients), 120_000, 'boot');
    const connectS = (performance.now() - tc) / 1000;
    await sleep(o.settleMs);
    const n = await connected(srv);
    if (n !== o.stations) throw new Error(`expected ${o.stations} connected stations, server reports ${n}`);
    const s1 = await snapshot(srv, gcOut, o.samples);

    const perStationKb = (s1.rssKb - s0.rssKb) / o.stations;
    const heapPerStationKb = (s1.heapUsedKb - s0.heapUsedKb) / o.stations;
    const preGcPerStationKb = (s1.preGcRssKb - s0.preGcRssKb) / o.stations;
    log(
      `  rss: RSS_0 ${fmt(s0.rssKb / 1024, 1)} MB, RSS_${o.stations} ${fmt(s1.rssKb / 1024, 1)} MB → ${fmt(perStationKb, 1)} KB/station ` +
        `(JS heap ${fmt(heapPerStationKb, 1)} KB/station)`,
    );

    const targets = [
      {
        metric: `RSS per idle connected station ((RSS_${o.stations} − RSS_0) / ${o.stations})`,
        measured: `**${fmt(perStationKb, 1)} KB**`,
        target: `≤ ${TARGET_KB_PER_STATION} KB`,
        met: perStationKb <= TARGET_KB_PER_STATION,
      },
      { metric: 'of which V8 heap used (after GC)', measured: `${fmt(heapPerStationKb, 1)} KB`, target: '(reported)', met: undefined },
    ];
    const row = (label: string, s: Snapshot): string[] => [
      label,
      `${fmt(s.rssKb / 1024, 1)} MB`,
      s.rssSamplesKb.map((x) => fmt(x / 1024, 1)).join(', '),
      `${fmt(s.preGcRssKb / 1024, 1)} MB`,
      `${fmt(s.heapUsedKb / 1024, 1)} MB`,
      `${fmt(s.heapTotalKb / 1024, 1)} MB`,
      `${fmt(s.externalKb / 1024, 1)} MB`,
      `${fmt(s.arrayBuffersKb / 1024, 2)} MB`,
    ];
    const body = [
      `One CSMS child started with \`--expose-gc\` and \`bench/gc-agent.ts\` preloaded (SIGUSR2 → two full GCs → process.memoryUsage() to a file; ` +
        `src/ is unchanged). Warm-up: ${o.warmupStations} stations boot, send two StatusNotifications and disconnect. Then, after ${o.settleMs / 1000} s ` +
        `settling, a forced GC and ${o.samples} VmRSS samples 250 ms apart (median) give RSS_0 with 0 stations connected. ` +
        `${fmt(o.stations)} OCPP 1.6 stations then connect, boot and send StatusNotification for connectors 0 and 1 (took ${fmt(connectS, 1)} s), ` +
        `stay idle for ${o.settleMs / 1000} s, and the same GC + sampling gives RSS_n. The server's WebSocket ping (30 s) keeps running; ` +
        `the clients never ping.`,
      '',
      targetTable(targets),
      '',
      table(
        ['State', 'VmRSS (median)', 'VmRSS samples (MB)', 'VmRSS before GC', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers'],
        [row('0 stations (after warm-up)', s0), row(`${fmt(o.stations)} idle stations`, s1)],
        ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      `RSS right after start-up was ${fmt(afterStartKb / 1024, 1)} MB (start-up garbage not yet collected). Without the forced GC ` +
        `(VmRSS just before it) the per-station figure would be ${fmt(preGcPerStationKb, 1)} KB, which mostly reflects when V8 last collected.`,
    ].join('\n');
    return { name: 'rss', title: '4. RSS per idle connected station', targets, body, durationS: (performance.now() - t0) / 1000 };
  } finally {
    await closeAll(clients);
    await srv.stop();
    srv.removeDataDir();
    removeTempDir(scratch);
  }
}
