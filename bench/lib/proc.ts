/**
 * Server-under-test child processes (Ampline or the bare ocpp-rpc baseline), their temp directories,
 * and what /proc tells us about them (listening port, RSS, CPU time). Linux only.
 *
 * Every child and temp dir is registered so that `cleanupAll()` (called on success, failure, SIGINT and
 * process exit) kills what is still running and removes what is still on disk.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './stats.js';

/** Repository root (bench/lib/ → ../..). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const BENCH_API_KEY = 'bench-api-key-0123456789';

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();

export function makeTempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  liveDirs.add(d);
  return d;
}

export function removeTempDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  liveDirs.delete(d);
}

/** Kill every child still running (SIGKILL) and remove every temp dir. Synchronous: safe in 'exit'. */
export function cleanupAll(): void {
  for (const c of liveChildren) {
    try {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  liveChildren.clear();
  for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  liveDirs.clear();
}

let clkTck: number | undefined;
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** Open-files limits of this process, from /proc/self/limits. */
export function fdLimits(): { soft: number; hard: number } {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const parts = line?.trim().split(/\s+/) ?? [];
    const num = (s: string | undefined) => (s === 'unlimited' ? Infinity : Number.isNaN(Number(s)) ? 1024 : Number(s));
    return { soft: num(parts[3]), hard: num(parts[4]) };
  } catch {
    return { soft: 1024, hard: 1024 };
  }
}

/** VmRSS of a process in KiB (NaN if it is gone). */
export function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** User + system CPU seconds consumed by a process so far. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Number(rest[11]) + Number(rest[12])) / ticksPerSecond();
  } catch {
    return NaN;
  }
}

/** CPU seconds all processes on the machine have used so far (busy time of every core, /proc/stat). */
export function machineBusySeconds(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …
    return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) / ticksPerSecond();
  } catch {
    return NaN;
  }
}

/** Cumulative µs during which some task waited for a CPU (/proc/pressure/cpu, PSI); NaN if unavailable. */
export function cpuPressureUs(): number {
  try {
    const m = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds of this (load generator) process. */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** TCP ports the process is listening on (matches its socket inodes against /proc/PID/net/tcp{,6}). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      /* fd closed meanwhile */
    }
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue; // 0A = LISTEN
      if (!inodes.has(f[9]!)) continue;
      ports.push(parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

export interface ServerChild {
  readonly kind: 'ampline' | 'baseline';
  readonly pid: number;
  readonly port: number;
  /** ws://127.0.0.1:PORT/ocpp — append the station identity. */
  readonly ocppUrl: string;
  readonly httpUrl: string;
  readonly dataDir: string | undefined;
  readonly startupMs: number;
  /** Last ~64 KB of the child's stdout+stderr. */
  output(): string;
  rssKb(): number;
  cpuSeconds(): number;
  /** SIGTERM (graceful) then SIGKILL after `timeoutMs`. Resolves with the exit code (null if signalled). */
  stop(timeoutMs?: number): Promise<number | null>;
  /** Deletes the data dir (after stop). */
  removeDataDir(): void;
}

export interface SpawnOptions {
  /** Extra node flags placed before `--import tsx` (e.g. --expose-gc). */
  nodeFlags?: string[];
  /** Extra `--import` modules loaded after tsx (e.g. the GC agent). */
  preload?: string[];
  env?: Record<string, string>;
  /** Open-files soft limit to request for the child (capped by the hard limit). */
  nofile?: number;
}

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Nothing from the caller's environment may redirect the server under test.
  for (const k of Object.keys(env)) if (k.startsWith('AMPLINE_')) delete env[k];
  delete env.DATABASE_URL;
  delete env.NATS_URL;
  delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

async function spawnServer(kind: ServerChild['kind'], scriptArgs: string[], opts: SpawnOptions, dataDir: string | undefined): Promise<ServerChild> {
  const { hard } = fdLimits();
  const nofile = Math.min(opts.nofile ?? 20000, hard);
  // BENCH_CHILD_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the server under test.
  const extraFlags = (process.env.BENCH_CHILD_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const nodeArgs = [...extraFlags, ...(opts.nodeFlags ?? []), '--import', 'tsx', ...(opts.preload ?? []).flatMap((p) => ['--import', p]), ...scriptArgs];
  // A shell raises the soft open-files limit for the child, then execs node (same PID).
  const child = spawn('/bin/sh', ['-c', 'ulimit -S -n "$1" || exit 97; shift; exec "$@"', 'sh', String(nofile), process.execPath, ...nodeArgs], {
    cwd: REPO_ROOT,
    env: childEnv(opts.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  let out = '';
  const keep = (b: Buffer) => {
    out += b.toString('utf8');
    if (out.length > 65536) out = out.slice(-65536);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      liveChildren.delete(child);
      resolve(code);
    });
  });
  const pid = child.pid!;
  const t0 = performance.now();
  try {
    return await waitReady();
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }

  async function waitReady(): Promise<ServerChild> {
    let port: number | undefined;
    const deadline = Date.now() + 30_000;
    while (port === undefined) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${kind} server exited during start-up (code ${child.exitCode}, signal ${child.signalCode}):\n${out}`);
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${kind} server did not listen within 30 s:\n${out}`);
      }
      try {
        port = listeningPorts(pid)[0];
      } catch {
        /* /proc entries not ready yet */
      }
      if (port === undefined) await sleep(50);
    }
    const httpUrl = `http://127.0.0.1:${port}`;
    if (kind === 'ampline') {
      // Listening precedes the log line; /healthz confirms the database is usable too.
      for (;;) {
        try {
          const r = await fetch(`${httpUrl}/healthz`);
          if (r.ok) break;
        } catch {
          /* not yet */
        }
        if (Date.now() > deadline) throw new Error(`ampline /healthz not OK within 30 s:\n${out}`);
        await sleep(50);
      }
    }
    const startupMs = performance.now() - t0;

    return {
      kind,
      pid,
      port,
      ocppUrl: `ws://127.0.0.1:${port}/ocpp`,
      httpUrl,
      dataDir,
      startupMs,
      output: () => out,
      rssKb: () => rssKb(pid),
      cpuSeconds: () => cpuSeconds(pid),
      async stop(timeoutMs = 15_000) {
        if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        const code = await exited;
        clearTimeout(timer);
        return code;
      },
      removeDataDir() {
        if (dataDir) removeTempDir(dataDir);
      },
    };
  }
}

/** `node --import tsx src/cli.ts serve --port 0 --host 127.0.0.1` on a fresh data dir. */
export async function startAmpline(opts: SpawnOptions = {}): Promise<ServerChild> {
  const dataDir = makeTempDir('ampline-bench-');
  try {
    return await spawnServer(
      'ampline',
      ['src/cli.ts', 'serve', '--port', '0', '--host', '127.0.0.1'],
      {
        ...opts,
        env: {
          AMPLINE_DATA_DIR: dataDir,
          AMPLINE_LOG_LEVEL: 'warn',
          AMPLINE_API_KEY: BENCH_API_KEY,
          AMPLINE_HEARTBEAT_INTERVAL_S: '86400',
          AMPLINE_NODE_ID: 'bench',
          ...opts.env,
        },
      },
      dataDir,
    );
  } catch (err) {
    removeTempDir(dataDir);
    throw err;
  }
}

/** The baseline: a bare ocpp-rpc RPCServer (bench/echo-server.ts), same loader and process model. */
export async function startBaseline(opts: SpawnOptions = {}): Promise<ServerChild> {
  return spawnServer('baseline', ['bench/echo-server.ts'], opts, undefined);
}
