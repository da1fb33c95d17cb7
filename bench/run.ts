/**
 * `npm run bench` (= `ampline bench`): runs the benchmarks against a CSMS child process and writes
 * BENCHMARKS.md.
 *
 *   npm run bench                                   all nine, full size (≈ 12 minutes; scsp alone ≈ 5, ocpi ≈ 3)
 *   npm run bench -- --only heartbeat,meter         a subset (heartbeat, meter, boot, rss, api, smart, optimiser, scsp, ocpi)
 *   npm run bench -- --quick                        smaller counts and windows (smoke run, < 1 minute)
 *   npm run bench -- --out /tmp/bench.md            write somewhere else than BENCHMARKS.md
 *
 * The server under test always runs in a child process (`node --import tsx src/cli.ts serve --port 0
 * --host 127.0.0.1`, fresh AMPLINE_DATA_DIR per run); the load generator runs in this process. Every
 * child is killed and every temp dir removed on success, failure, SIGINT/SIGTERM and exit. `smart` and
 * `optimiser` are the exceptions: they call pure functions (src/smart, src/optimiser) in this process and
 * start no child. `scsp` also runs, in this process, the SCSP receiver the child forwards events to
 * (bench/lib/scsp-peer.ts); `ocpi` runs an OCPI SCSP and the simulated chargers it steers
 * (bench/benchmarks/ocpi.ts).
 */
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../src/config.js';
import { type HeartbeatOptions, heartbeatBenchmark } from './benchmarks/heartbeat.js';
import { meterBenchmark } from './benchmarks/meter.js';
import { BOOT_HEADER, type BootOptions, type BootResult, bootRow, bootStorm, bootTargets } from './benchmarks/boot.js';
import { rssBenchmark } from './benchmarks/rss.js';
import { type ApiOptions, apiBenchmark } from './benchmarks/api.js';
import { type SmartOptions, smartBenchmark } from './benchmarks/smart.js';
import { type OptimiserOptions, optimiserBenchmark } from './benchmarks/optimiser.js';
import { type ScspOptions, scspBenchmark } from './benchmarks/scsp.js';
import { type OcpiBenchOptions, ocpiBenchmark } from './benchmarks/ocpi.js';
import { REPO_ROOT, cleanupAll, cpuPressureUs, fdLimits, machineBusySeconds } from './lib/proc.js';
import { type BenchSection, metText, table } from './lib/report.js';
import { fmt } from './lib/stats.js';

const ALL = ['heartbeat', 'meter', 'boot', 'rss', 'api', 'smart', 'optimiser', 'scsp', 'ocpi'] as const;
type Name = (typeof ALL)[number];

const USAGE = `Usage: npm run bench -- [--only ${ALL.join(',')}] [--quick] [--out FILE]

  --only LIST   run only these benchmarks (comma-separated)
  --quick       smaller counts and shorter windows (smoke run)
                (scsp: event-to-SCSP latency at 1,000 stations + outbox drain after an outage; ≈ 5 min full, ≈ 1.5 min quick)
  --out FILE    write the report to FILE instead of BENCHMARKS.md`;

interface Sizes {
  heartbeat: HeartbeatOptions;
  meter: { stations: number; warmupMs: number; windowMs: number };
  boot: BootOptions[];
  rss: { stations: number; warmupStations: number; settleMs: number; samples: number };
  api: ApiOptions;
  smart: SmartOptions;
  optimiser: OptimiserOptions;
  scsp: ScspOptions;
  ocpi: OcpiBenchOptions;
}

function sizes(quick: boolean, fdSoft: number): { s: Sizes; notes: string[] } {
  const notes: string[] = [];
  // Sockets the load generator may hold at once, leaving room for everything else it has open.
  const fdBudget = Number.isFinite(fdSoft) ? fdSoft - 500 : Infinity;
  const fit = (want: number, what: string): number => {
    if (want <= fdBudget) return want;
    notes.push(`${what}: reduced from ${fmt(want)} to ${fmt(fdBudget)} stations to fit this process's open-files limit (${fdSoft}).`);
    return fdBudget;
  };
  const s: Sizes = quick
    ? {
        heartbeat: { connections: 50, warmupSlices: 1, rampMs: 200, sliceMs: 1000, rounds: 2 },
        meter: { stations: 40, warmupMs: 1000, windowMs: 3000 },
        boot: [
          { stations: fit(1000, 'boot storm 1.6'), protocol: 'ocpp1.6', jitterMs: 500, connectConcurrency: 256, deadlineMs: 60_000 },
          { stations: fit(200, 'boot storm 2.0.1'), protocol: 'ocpp2.0.1', jitterMs: 200, connectConcurrency: 256, deadlineMs: 60_000 },
        ],
        rss: { stations: fit(500, 'RSS'), warmupStations: 20, settleMs: 2000, samples: 3 },
        api: { commandCalls: 50, concurrency: 20, warmupCalls: 10, stations: fit(200, 'API /API/Status'), statusCalls: 20 },
        smart: {
          compositeRounds: 3,
          sliceMs: 100,
          blockTicks: 10,
          balancer: [
            { sessions: 100, ticks: 100, warmupTicks: 10 },
            { sessions: 1000, ticks: 40, warmupTicks: 5 },
            { sessions: 10_000, ticks: 10, warmupTicks: 2 },
          ],
        },
        optimiser: { sessions: 1000, warmupRuns: 2, runs: 3, small: { instances: 4, sessions: 10 } },
        scsp: {
          stations: fit(200, 'SCSP forwarding'),
          windowMs: 10_000,
          meterEveryS: [5, 15],
          stateChangeP: 0.2,
          bursts: 1,
          burstShare: 0.25,
          burstSpreadMs: 1000,
          startSpreadMs: 2000,
          preOutageMs: 6000,
          backlogTarget: 1500,
          outageEveryS: [0.5, 1.5],
          maxOutageMs: 30_000,
          drainDeadlineMs: 120_000,
        },
        ocpi: { stations: 60, requests: 150, warmup: 10, rateHz: 10, rounds: 3 },
      }
    : {
        heartbeat: { connections: 200, warmupSlices: 2, rampMs: 300, sliceMs: 2000, rounds: 12 },
        meter: { stations: 200, warmupMs: 3000, windowMs: 10_000 },
        boot: [
          { stations: fit(10_000, 'boot storm 1.6'), protocol: 'ocpp1.6', jitterMs: 2000, connectConcurrency: 256, deadlineMs: 120_000 },
          { stations: fit(2000, 'boot storm 2.0.1'), protocol: 'ocpp2.0.1', jitterMs: 1000, connectConcurrency: 256, deadlineMs: 60_000 },
        ],
        rss: { stations: fit(5000, 'RSS'), warmupStations: 100, settleMs: 6000, samples: 5 },
        api: { commandCalls: 200, concurrency: 20, warmupCalls: 20, stations: fit(1000, 'API /API/Status'), statusCalls: 100 },
        smart: {
          compositeRounds: 7,
          sliceMs: 250,
          blockTicks: 20,
          balancer: [
            { sessions: 100, ticks: 1000, warmupTicks: 40 },
            { sessions: 1000, ticks: 200, warmupTicks: 40 },
            { sessions: 10_000, ticks: 60, warmupTicks: 10 },
          ],
        },
        optimiser: { sessions: 1000, warmupRuns: 5, runs: 15, small: { instances: 12, sessions: 10 } },
        scsp: {
          stations: fit(1000, 'SCSP forwarding'),
          windowMs: 60_000,
          meterEveryS: [10, 30],
          stateChangeP: 0.1,
          bursts: 2,
          burstShare: 0.25,
          burstSpreadMs: 1000,
          startSpreadMs: 5000,
          preOutageMs: 10_000,
          backlogTarget: 20_000,
          outageEveryS: [1.5, 2.5],
          maxOutageMs: 90_000,
          drainDeadlineMs: 400_000,
        },
        ocpi: { stations: 120, requests: 1000, warmup: 20, rateHz: 20, rounds: 5 },
      };
  return { s, notes };
}

function parse(argv: string[]): { only: Name[]; quick: boolean; out: string } | undefined {
  const { values } = parseArgs({
    args: argv,
    options: { only: { type: 'string' }, quick: { type: 'boolean', default: false }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) return undefined;
  let only: Name[] = [...ALL];
  if (values.only !== undefined) {
    const names = values.only.split(',').map((x) => x.trim()).filter(Boolean);
    const bad = names.filter((n) => !(ALL as readonly string[]).includes(n));
    if (bad.length || names.length === 0) throw new ConfigError(`--only: unknown benchmark(s) ${bad.join(', ') || '(none given)'}; choose from ${ALL.join(', ')}`);
    only = ALL.filter((n) => names.includes(n));
  }
  return { only, quick: values.quick ?? false, out: values.out ?? join(REPO_ROOT, 'BENCHMARKS.md') };
}

function commandLine(only: Name[], quick: boolean, outGiven: boolean, out: string): string {
  const args: string[] = [];
  if (only.length !== ALL.length) args.push('--only', only.join(','));
  if (quick) args.push('--quick');
  if (outGiven) args.push('--out', out);
  return args.length ? `npm run bench -- ${args.join(' ')}` : 'npm run bench';
}

function bootSection(results: BootResult[], durationS: number): BenchSection {
  const targets = results.flatMap((r, i) => bootTargets(r, i === 0));
  const o = results[0]!.opts;
  const body = [
    `Each station has a unique identity, opens its WebSocket at a uniformly random moment within the jitter window, and then ` +
      `sends BootNotification followed by two StatusNotifications, one after the other like a real charger ` +
      `(1.6: connectors 0 and 1; 2.0.1: EVSE 1 and EVSE 2, connector 1). At most ${o.connectConcurrency} WebSocket handshakes are in progress at once ` +
      `(below Node's default listen backlog of 511); calls are not limited. Clients are light: reconnect off, no client-side ping, ` +
      `no permessage-deflate, no schema validation. Wall time = first connect attempt → last answer received; an error is any failed ` +
      `handshake, CALLERROR, timeout, a Boot status other than Accepted, or a station unfinished at the deadline. Afterwards the clients ` +
      `disconnect, the server is stopped, and its SQLite file is checked for the stations and connector rows. ` +
      `Open files: the CSMS child is spawned through \`sh -c 'ulimit -S -n 20000; exec node …'\` and this process's own limit is checked ` +
      `(each side holds one socket per station, so ${fmt(o.stations)} stations need ≈ ${fmt(o.stations + 100)} descriptors per process).`,
    '',
    table(
      ['Metric', 'Measured', 'Target', 'Result'],
      targets.map((t) => [t.metric, t.measured, t.target, metText(t.met)]),
    ),
    '',
    table(BOOT_HEADER, results.map(bootRow), ['l', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'r', 'r']),
    ...results.flatMap((r) => [
      ...(r.dbCheckNote ? ['', `${r.opts.protocol}: ${r.dbCheckNote}`] : []),
      ...(r.errorSamples.length ? ['', `${r.opts.protocol} error samples: ${r.errorSamples.map((e) => `\`${e}\``).join(', ')}`] : []),
    ]),
  ].join('\n');
  return { name: 'boot', title: '3. Boot storm', targets, body, durationS };
}

function failedSection(name: Name, err: unknown, durationS: number): BenchSection {
  const msg = String((err as Error)?.stack ?? err).slice(0, 4000);
  return {
    name,
    title: `${ALL.indexOf(name) + 1}. ${name} — FAILED`,
    targets: [{ metric: `${name} benchmark`, measured: 'failed to run', target: 'runs', met: false }],
    body: `The benchmark failed:\n\n\`\`\`\n${msg}\n\`\`\``,
    durationS,
  };
}

function render(sections: BenchSection[], meta: { startedAt: Date; command: string; quick: boolean; notes: string[]; totalS: number; fd: { soft: number; hard: number } }): string {
  const cpuList = cpus();
  const model = cpuList[0]?.model.trim() ?? 'unknown';
  const lines: string[] = [];
  lines.push('# Ampline benchmarks', '');
  lines.push(
    `Generated ${meta.startedAt.toISOString().replace(/\.\d+Z$/, 'Z')} by \`${meta.command}\` in ${fmt(meta.totalS)} s` +
      (meta.quick ? ' — **quick (smoke) run: smaller counts and windows; the targets are stated for the full run**.' : '.'),
    '',
  );
  lines.push(
    'Reproduce: `npm run bench` (all, writes this file). One benchmark at a time: ' +
      ALL.map((n) => `\`npm run bench -- --only ${n}\``).join(', ') +
      '. Add `--quick` for a smoke run, `--out FILE` to write elsewhere.',
    '',
  );
  lines.push('## Machine', '');
  lines.push(
    table(
      ['CPU', 'RAM', 'Node', 'OS', 'Open files (soft / hard)'],
      [[`${cpuList.length} × ${model}`, `${fmt(totalmem() / 2 ** 30, 1)} GiB (${fmt(freemem() / 2 ** 30, 1)} GiB free at the end)`, process.version, `${process.platform} ${release()}`, `${meta.fd.soft} / ${meta.fd.hard}`]],
    ),
    '',
  );
  lines.push('## Summary', '');
  lines.push(
    table(
      ['Benchmark', 'Metric', 'Measured', 'Target', 'Result'],
      sections.flatMap((s) => s.targets.filter((t) => t.met !== undefined).map((t) => [s.title.replace(/^\d+\.\s*/, ''), t.metric, t.measured, t.target, metText(t.met)])),
    ),
    '',
  );
  lines.push(
    '## Set-up common to all benchmarks',
    '',
    '- **Server under test** in a child process: `node --import tsx src/cli.ts serve --port 0 --host 127.0.0.1` with a fresh temporary ' +
      '`AMPLINE_DATA_DIR` (SQLite, WAL), `AMPLINE_LOG_LEVEL=warn` (so per-connection info logs do not skew the figures), `AMPLINE_API_KEY` set, ' +
      '`AMPLINE_HEARTBEAT_INTERVAL_S=86400`, other `AMPLINE_*` variables removed. A fresh child (and data dir) for every benchmark; the ' +
      'heartbeat comparison runs an Ampline child and a baseline child side by side. The port is read from ' +
      "/proc (the child's LISTEN socket), readiness from `GET /healthz`.",
    '- **Load generator** in the bench process: plain ocpp-rpc `RPCClient`s (reconnect off, client pings off, permessage-deflate off, ' +
      'strict mode off, **no per-call timeout**), loopback only. ocpp-rpc arms a `timers/promises` timer plus an AbortController for every ' +
      'call that has a timeout; that alone cost the generator ≈ 100 µs of CPU per call (155 → 45 µs per Heartbeat round trip) and made the ' +
      'generator the bottleneck, so the benchmarks bound time themselves (deadline → sockets closed → pending calls fail and count as errors). ' +
      'The generator stays in one process because the machine has two cores: the server gets one, the generator the other; a worker or ' +
      'second process would only compete with the server for CPU. The CPU columns show which side is saturated.',
    '- **Shared machine**: other tenants run on the same VM; the "other CPU" and CPU-pressure figures (from /proc/stat and ' +
      '/proc/pressure/cpu) show how much. When they are high the server does not get a full core and throughput/wall-time figures drop; ' +
      'the **server CPU per unit of work** (µs per message, ms per booted station) is far less sensitive to that and is reported next to ' +
      'each throughput figure, with the projection "if the server had one core to itself". Alternating rounds and medians are used ' +
      'where a comparison matters.',
    '- **Latency** = from `call()` until its answer resolves in the generator (includes the generator\'s own ocpp-rpc overhead). Percentiles are nearest-rank.',
    '- Children are stopped with SIGTERM (SIGKILL after a timeout) and temp dirs removed on success, failure and Ctrl-C.',
    '- **`smart`** is the exception: it starts no server and calls the pure smart-charging functions of src/smart in the bench process.',
    '- **`optimiser`** starts no server either: it calls `planMulti`/`planSingle` of src/optimiser (and HiGHS for the LP optimum) in the bench process.',
    '- **`scsp`** also runs the SCSP that the server forwards events to, as a minimal `node:http` receiver in the bench process (one clock with the load generator).',
    '- **`ocpi`** also runs, in the bench process, an OCPI SCSP (`node:http`) and the simulated OCPP 2.0.1 chargers (src/sim) it steers through the server.',
    ...meta.notes.map((n) => `- Note: ${n}`),
    '',
  );
  for (const s of sections) lines.push(`## ${s.title}`, '', `Sub-command: \`npm run bench -- --only ${s.name}${meta.quick ? ' --quick' : ''}\` (took ${fmt(s.durationS)} s)`, '', s.body, '');
  return lines.join('\n');
}

export async function runBenchmarks(argv: string[]): Promise<void> {
  const parsed = parse(argv);
  if (!parsed) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const { only, quick, out } = parsed;
  const outGiven = argv.includes('--out') || argv.some((a) => a.startsWith('--out='));
  const fd = fdLimits();
  const { s, notes } = sizes(quick, fd.soft);
  const log = (line: string) => process.stdout.write(line + '\n');

  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`\n${sig}: stopping benchmark children and removing temp dirs\n`);
    cleanupAll();
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', cleanupAll);

  const startedAt = new Date();
  const t0 = performance.now();
  const sections: BenchSection[] = [];
  let failed = 0;
  try {
    for (const name of only) {
      const tb = performance.now();
      const psi0 = cpuPressureUs();
      const busy0 = machineBusySeconds();
      const n0 = sections.length;
      log(`▶ ${name}${quick ? ' (quick)' : ''}`);
      try {
        if (name === 'heartbeat') sections.push(await heartbeatBenchmark(s.heartbeat, log));
        else if (name === 'meter') sections.push(await meterBenchmark(s.meter, log));
        else if (name === 'boot') {
          const results: BootResult[] = [];
          for (const b of s.boot) results.push(await bootStorm(b, log));
          sections.push(bootSection(results, (performance.now() - tb) / 1000));
        } else if (name === 'rss') sections.push(await rssBenchmark(s.rss, log));
        else if (name === 'api') sections.push(await apiBenchmark(s.api, log));
        else if (name === 'smart') sections.push(await smartBenchmark(s.smart, log));
        else if (name === 'scsp') sections.push(await scspBenchmark(s.scsp, log));
        else if (name === 'ocpi') sections.push(await ocpiBenchmark(s.ocpi, log));
        else sections.push(await optimiserBenchmark(s.optimiser, log));
      } catch (err) {
        failed++;
        log(`  ✗ ${name} failed: ${(err as Error)?.message ?? err}`);
        sections.push(failedSection(name, err, (performance.now() - tb) / 1000));
      } finally {
        cleanupAll(); // nothing of this benchmark may outlive it
      }
      const wallS = (performance.now() - tb) / 1000;
      const sec = sections[n0];
      if (sec) {
        const psi = ((cpuPressureUs() - psi0) / 1e6 / wallS) * 100;
        const busy = ((machineBusySeconds() - busy0) / wallS / cpus().length) * 100;
        sec.body +=
          `\n\nMachine while this benchmark ran: all cores ${fmt(busy)}% busy (every process), 1-min load average ${loadavg()[0]!.toFixed(2)} at the end` +
          (Number.isFinite(psi) ? `, CPU pressure ${fmt(psi)}% (share of time some runnable task waited for a core, /proc/pressure/cpu).` : '.');
      }
    }
    const md = render(sections, { startedAt, command: commandLine(only, quick, outGiven, out), quick, notes, totalS: (performance.now() - t0) / 1000, fd });
    writeFileSync(out, md);
    log(`\nwrote ${out}`);
    for (const sec of sections) for (const t of sec.targets) if (t.met !== undefined) log(`  ${t.met ? '✓' : '✗'} ${sec.name}: ${t.metric}: ${t.measured.replace(/\*/g, '')} (target ${t.target})`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', cleanupAll);
    cleanupAll();
  }
  if (failed > 0) throw new Error(`${failed} benchmark(s) failed to run; see ${out}`);
}
