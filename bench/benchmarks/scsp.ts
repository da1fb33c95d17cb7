/**
 * 8. SCSP event forwarding (issue 6, BENCHMARKS requirement): event-to-SCSP latency at 1,000 charging
 * stations, and the outbox drain rate after an SCSP outage.
 *
 * The CSMS runs as a child (`node --import tsx src/cli.ts serve --port 0`, fresh data dir) with one
 * partner from AMPLINE_SCSP_PARTNERS_FILE (payload protocol ocpp2.0.1) whose base and token URLs point
 * at a minimal SCSP receiver in this process (bench/lib/scsp-peer.ts). Half the stations speak OCPP
 * 1.6, half 2.0.1 (plain ocpp-rpc clients). Every station is paired through the public flow: booted and
 * its EVSE reported (StatusNotification), then `POST /api/v1/stations/{id}/pairing-codes` (operator) and
 * `POST /v1/cpo/ocpp2.0.1/pair {code}` with the partner's inbound token (the SCSP).
 *
 * Part 1 — latency (child 1, default forwarding settings: meter interval 60 s, concurrency 16):
 *   A. unpaired window (baseline): every station has a transaction open and sends a meter reading every
 *      U(lo, hi) s, a charging-state change with probability p after a reading, and bursts in which a
 *      share of the stations end their transaction and start a new one within ~1 s.
 *   Then every station is paired, and a session storm (stress case, measured on its own): every station
 *   ends the transaction it started unpaired and starts a new one within a few seconds.
 *   B. paired window, once the storm's rows are delivered: the same schedule as A. During B every OCPP
 *      payload the stations get answered is also posted by the bench straight to the receiver (second
 *      baseline: the bare HTTP hop under the same load, keep-alive, 16 sockets like the forwarder).
 *   Latency = arrival of the complete request at the receiver − the moment the station's CALLRESULT
 *   resolved in the load generator (the event is committed then), both on this process's
 *   performance.now() clock. Events are matched by station and the event's own timestamp (unique per
 *   station: the generator never reuses a millisecond).
 *
 * Part 2 — outage and drain (child 2, AMPLINE_SCSP_METER_INTERVAL_S=0 so that every reading is a row;
 * other settings default, incl. the 300 s backoff cap): pre-outage steady state, then the receiver
 * answers 503 while the stations send a reading every U(outLo, outHi) s until the backlog (pending rows,
 * read from the child's SQLite file by a read-only connection in this process) reaches the target; then
 * it answers 200 again, the stations return to the realistic rate, and the drain is timed until no row
 * is pending. Afterwards the child is stopped and its outbox table read: every row delivered, the
 * receiver saw each station's rows in id order, no row missing, copies counted. The head row of each
 * station keeps the `next_attempt_at` of its last failure, which splits each station's wait after the
 * recovery into backoff (recovery → retry due) and dispatcher queueing (retry due → received).
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { type Client, MeterState, type Protocol, boot16, boot201, closeAll, meterValue16, meterValue201, status16, status201 } from '../lib/load.js';
import { connectMany } from '../lib/loop.js';
import { BENCH_API_KEY, type ServerChild, cpuSeconds, machineBusySeconds, makeTempDir, removeTempDir, selfCpuSeconds, startAmpline } from '../lib/proc.js';
import { type BenchSection, type TargetRow, table, targetTable } from '../lib/report.js';
import { type Arrival, BenchScspPeer, DirectPoster, validateArrivals } from '../lib/scsp-peer.js';
import { LatencyRecorder, type LatencySummary, fmt, mapLimit, ms, quantile, sleep, withDeadline } from '../lib/stats.js';

export interface ScspOptions {
  stations: number;
  /** Part 1: length of each of the unpaired (A) and paired (B) windows. */
  windowMs: number;
  /** Seconds between a station's meter readings, drawn uniformly from [lo, hi]. */
  meterEveryS: [number, number];
  /** Probability of a charging-state change after a reading. */
  stateChangeP: number;
  /** Bursts per window (evenly spaced) and the share of the stations in each (Ended + Started within burstSpreadMs). */
  bursts: number;
  burstShare: number;
  burstSpreadMs: number;
  /** Session switch of every station at the start of window B (and the first starts), spread over this. */
  startSpreadMs: number;
  /** Part 2. */
  preOutageMs: number;
  backlogTarget: number;
  outageEveryS: [number, number];
  maxOutageMs: number;
  drainDeadlineMs: number;
}

const PARTNER_ID = 'bench-scsp';
/** Part 2: events committed this close to the outage are not counted in the pre-outage latency. */
const PRE_CUTOFF_MS = 2000;
/** Part 1: idle measurement before window A. */
const IDLE_MS = 3000;
const INBOUND_TOKEN = 'bench-inbound-token-0123456789abcdef';
export const TARGET_P99_REQUIRED_S = 30;
export const TARGET_P99_AIM_MS = 1000;

// ── the fleet ─────────────────────────────────────────────────────────────────────────────────

type Kind = 'TE' | 'MV';
/** What a message was, for grouping latencies. */
type Label = 'switch' | 'state' | 'burst' | 'meter';

interface Commit {
  /** performance.now() when the CALLRESULT resolved. */
  t: number;
  kind: Kind;
  label: Label;
  phase: string;
}

interface Station {
  id: string;
  protocol: Protocol;
  client: Client;
  meter: MeterState;
  lastTsMs: number;
  txCount: number;
  /** 2.0.1: the station's transaction id; 1.6: Ampline's integer. */
  tx2?: string;
  tx16?: number;
  seqNo: number;
  cs: 'Charging' | 'SuspendedEV';
  chain: Promise<void>;
}

const rand = (lo: number, hi: number): number => lo + Math.random() * (hi - lo);

class Fleet {
  readonly stations: Station[] = [];
  phase = 'setup';
  readonly commits = new Map<string, Commit>();
  /** OCPP round trip (call → CALLRESULT) per phase and kind. */
  readonly ocpp = new Map<string, LatencyRecorder>();
  readonly sent = new Map<string, number>();
  errors = 0;
  readonly errorSamples: string[] = [];
  mirror: ((payload: unknown) => void) | undefined;
  /** Current reading interval (s), read by every station loop on each iteration. */
  everyS: [number, number] = [10, 30];
  stateChangeP = 0;
  private running = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly wakers = new Set<() => void>();
  private loops: Promise<void>[] = [];

  constructor(
    clients: Client[],
    ids: string[],
    protocolOf: (i: number) => Protocol,
  ) {
    clients.forEach((client, i) =>
      this.stations.push({ id: ids[i]!, protocol: protocolOf(i), client, meter: new MeterState(), lastTsMs: 0, txCount: 0, seqNo: 0, cs: 'Charging', chain: Promise.resolve() }),
    );
  }

  private ts(s: Station): string {
    const t = Math.max(Date.now(), s.lastTsMs + 1);
    s.lastTsMs = t;
    return new Date(t).toISOString();
  }

  private rec(phase: string, kind: Kind | Label): LatencyRecorder {
    const k = `${phase}|${kind}`;
    let r = this.ocpp.get(k);
    if (!r) this.ocpp.set(k, (r = new LatencyRecorder()));
    return r;
  }

  /** One CALL; on its CALLRESULT the event is committed: remember when, under the station and the event's timestamp. */
  private async call(s: Station, action: string, payload: Record<string, unknown>, ts: string, kind: Kind, label: Label): Promise<unknown> {
    const phase = this.phase;
    const t0 = performance.now();
    let res: unknown;
    try {
      res = await s.client.call(action, payload);
    } catch (err) {
      this.errors++;
      if (this.errorSamples.length < 5) this.errorSamples.push(`${action} ${s.id}: ${String((err as Error)?.message ?? err).slice(0, 200)}`);
      return undefined;
    }
    const t1 = performance.now();
    this.commits.set(`${s.id}|${ts}`, { t: t1, kind, label, phase });
    this.rec(phase, kind).add(t1 - t0);
    this.rec(phase, label).add(t1 - t0);
    this.sent.set(`${phase}|${label}`, (this.sent.get(`${phase}|${label}`) ?? 0) + 1);
    this.mirror?.(payload);
    return res;
  }

  enqueue(s: Station, fn: () => Promise<unknown>): void {
    s.chain = s.chain.then(fn).then(
      () => undefined,
      () => undefined,
    );
  }

  async settle(): Promise<void> {
    await Promise.all(this.stations.map((s) => s.chain));
  }

  startTx(s: Station, label: Label): Promise<unknown> {
    const ts = this.ts(s);
    s.cs = 'Charging';
    if (s.protocol === 'ocpp1.6') {
      return this.call(s, 'StartTransaction', { connectorId: 1, idTag: 'BENCH-TAG', meterStart: Math.round(s.meter.energyWh), timestamp: ts }, ts, 'TE', label).then((r) => {
        const id = (r as { transactionId?: number } | undefined)?.transactionId;
        if (typeof id === 'number') s.tx16 = id;
      });
    }
    s.tx2 = `${s.id}-tx${s.txCount++}`;
    s.seqNo = 0;
    return this.call(
      s,
      'TransactionEvent',
      {
        eventType: 'Started',
        timestamp: ts,
        triggerReason: 'Authorized',
        seqNo: s.seqNo++,
        transactionInfo: { transactionId: s.tx2, chargingState: 'Charging' },
        evse: { id: 1, connectorId: 1 },
        idToken: { idToken: 'BENCH-TAG', type: 'ISO14443' },
      },
      ts,
      'TE',
      label,
    );
  }

  endTx(s: Station, label: Label): Promise<unknown> {
    const ts = this.ts(s);
    if (s.protocol === 'ocpp1.6') {
      if (s.tx16 === undefined) return Promise.resolve();
      return this.call(s, 'StopTransaction', { transactionId: s.tx16, meterStop: Math.round(s.meter.energyWh), timestamp: ts, reason: 'EVDisconnected' }, ts, 'TE', label);
    }
    if (s.tx2 === undefined) return Promise.resolve();
    return this.call(
      s,
      'TransactionEvent',
      {
        eventType: 'Ended',
        timestamp: ts,
        triggerReason: 'EVCommunicationLost',
        seqNo: s.seqNo++,
        transactionInfo: { transactionId: s.tx2, chargingState: 'Idle', stoppedReason: 'EVDisconnected' },
        meterValue: [
          { timestamp: ts, sampledValue: [{ value: Math.round(s.meter.energyWh), context: 'Transaction.End', measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }] },
        ],
      },
      ts,
      'TE',
      label,
    );
  }

  meterReading(s: Station): Promise<unknown> {
    const ts = this.ts(s);
    if (s.protocol === 'ocpp1.6') {
      return this.call(s, 'MeterValues', { connectorId: 1, transactionId: s.tx16, meterValue: [{ ...meterValue16(s.meter), timestamp: ts }] }, ts, 'MV', 'meter');
    }
    return this.call(
      s,
      'TransactionEvent',
      {
        eventType: 'Updated',
        timestamp: ts,
        triggerReason: 'MeterValuePeriodic',
        seqNo: s.seqNo++,
        transactionInfo: { transactionId: s.tx2 },
        meterValue: [{ ...meterValue201(s.meter), timestamp: ts }],
      },
      ts,
      'MV',
      'meter',
    );
  }

  /** Charging ↔ SuspendedEV: 1.6 StatusNotification (translated to Updated/ChargingStateChanged), 2.0.1 TransactionEvent Updated. */
  stateChange(s: Station): Promise<unknown> {
    const ts = this.ts(s);
    s.cs = s.cs === 'Charging' ? 'SuspendedEV' : 'Charging';
    if (s.protocol === 'ocpp1.6') {
      return this.call(s, 'StatusNotification', { connectorId: 1, status: s.cs, errorCode: 'NoError', timestamp: ts }, ts, 'TE', 'state');
    }
    return this.call(
      s,
      'TransactionEvent',
      { eventType: 'Updated', timestamp: ts, triggerReason: 'ChargingStateChanged', seqNo: s.seqNo++, transactionInfo: { transactionId: s.tx2, chargingState: s.cs }, evse: { id: 1, connectorId: 1 } },
      ts,
      'TE',
      'state',
    );
  }

  /** Every station ends its transaction (if any) and starts a new one, spread over `spreadMs`. */
  async switchSessions(spreadMs: number, label: Label): Promise<void> {
    await Promise.all(
      this.stations.map(async (s) => {
        await sleep(rand(0, spreadMs));
        this.enqueue(s, () => this.endTx(s, label));
        this.enqueue(s, () => this.startTx(s, label));
      }),
    );
    await this.settle();
  }

  /** A station's cancellable wait; false when the load was stopped. */
  private wait(msec: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(t);
        this.timers.delete(t);
        this.wakers.delete(wake);
        resolve(v);
      };
      const wake = () => done(false);
      const t = setTimeout(() => done(this.running), msec);
      this.timers.add(t);
      this.wakers.add(wake);
    });
  }

  /** Start the reading loops (and state changes). Bursts are scheduled separately (`burst`). */
  startLoad(): void {
    this.running = true;
    this.loops = this.stations.map(async (s) => {
      if (!(await this.wait(rand(0, this.everyS[1] * 1000)))) return;
      while (this.running) {
        this.enqueue(s, () => this.meterReading(s));
        if (Math.random() < this.stateChangeP) this.enqueue(s, () => this.stateChange(s));
        if (!(await this.wait(rand(this.everyS[0], this.everyS[1]) * 1000))) return;
      }
    });
  }

  /** `share` of the stations (not in `exclude`) end their transaction and start a new one within spreadMs. */
  burst(share: number, spreadMs: number, exclude: Set<number>): void {
    const pool = this.stations.map((_, i) => i).filter((i) => !exclude.has(i));
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    for (const i of pool.slice(0, Math.round(share * this.stations.length))) {
      exclude.add(i);
      const s = this.stations[i]!;
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.enqueue(s, () => this.endTx(s, 'burst'));
        this.enqueue(s, () => this.startTx(s, 'burst'));
      }, rand(0, spreadMs));
      this.timers.add(t);
    }
  }

  schedule(fn: () => void, atMs: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.running) fn();
    }, atMs);
    this.timers.add(t);
  }

  async stopLoad(): Promise<void> {
    this.running = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const w of [...this.wakers]) w();
    await Promise.all(this.loops);
    await this.settle();
  }

  sentCount(phase: string, label?: Label): number {
    let n = 0;
    for (const [k, v] of this.sent) if (k.startsWith(`${phase}|`) && (label === undefined || k === `${phase}|${label}`)) n += v;
    return n;
  }
}

// ── helpers ──────────────────────────────────────────────────────────────────────────────────

interface Cpu {
  srv: number;
  gen: number;
  all: number;
  t: number;
}
const cpuNow = (pid: number): Cpu => ({ srv: cpuSeconds(pid), gen: selfCpuSeconds(), all: machineBusySeconds(), t: performance.now() });
function cpuPct(a: Cpu, b: Cpu): { srv: number; gen: number; other: number; s: number } {
  const s = (b.t - a.t) / 1000;
  const srv = b.srv - a.srv;
  const gen = b.gen - a.gen;
  return { srv: (srv / s) * 100, gen: (gen / s) * 100, other: Math.max(0, ((b.all - a.all - srv - gen) / s) * 100), s };
}

async function setupFleet(srv: ServerChild, n: number, tag: string): Promise<Fleet> {
  const half = Math.floor(n / 2);
  const protocolOf = (i: number): Protocol => (i < half ? 'ocpp1.6' : 'ocpp2.0.1');
  const ids = Array.from({ length: n }, (_, i) => `${tag}${protocolOf(i) === 'ocpp1.6' ? '16' : '201'}-${i}`);
  const clients = await withDeadline(connectMany(srv.ocppUrl, ids, protocolOf, 50), 120_000, `${tag}: connecting`);
  const f = new Fleet(clients, ids, protocolOf);
  try {
    await withDeadline(
      mapLimit(f.stations, 50, async (s) => {
        if (s.protocol === 'ocpp1.6') {
          await s.client.call('BootNotification', boot16());
          await s.client.call('StatusNotification', status16(1));
        } else {
          await s.client.call('BootNotification', boot201());
          await s.client.call('StatusNotification', status201(1, 1));
        }
      }),
      120_000,
      `${tag}: boot and StatusNotification`,
    );
  } catch (err) {
    await closeAll(clients);
    throw err;
  }
  return f;
}

/** Pairs every station through the public flow: operator issues a code, the SCSP redeems it. */
async function pairAll(srv: ServerChild, f: Fleet, concurrency: number): Promise<{ s: number; errors: number; sample?: string }> {
  const t0 = performance.now();
  let errors = 0;
  let sample: string | undefined;
  await withDeadline(
    mapLimit(f.stations, concurrency, async (s) => {
      try {
        const r1 = await fetch(`${srv.httpUrl}/api/v1/stations/${encodeURIComponent(s.id)}/pairing-codes`, {
          method: 'POST',
          headers: { 'x-api-key': BENCH_API_KEY, 'content-type': 'application/json' },
          body: '{}',
        });
        const issued = (await r1.json()) as { code?: string };
        if (r1.status !== 201 || typeof issued.code !== 'string') throw new Error(`pairing-codes ${r1.status}: ${JSON.stringify(issued).slice(0, 200)}`);
        const r2 = await fetch(`${srv.httpUrl}/v1/cpo/ocpp2.0.1/pair`, {
          method: 'POST',
          headers: { authorization: `Bearer ${INBOUND_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ code: issued.code }),
        });
        const paired = (await r2.json()) as { charging_station?: { uid?: string } };
        if (r2.status !== 200 || paired.charging_station?.uid !== s.id) throw new Error(`pair ${r2.status}: ${JSON.stringify(paired).slice(0, 200)}`);
      } catch (err) {
        errors++;
        sample ??= String((err as Error)?.message ?? err);
      }
    }),
    300_000,
    'pairing',
  );
  return { s: (performance.now() - t0) / 1000, errors, ...(sample !== undefined ? { sample } : {}) };
}

/**
 * Pending outbox rows, read from the child's SQLite file by a read-only connection in this process (WAL:
 * readers do not block the writer). Not through the API: `GET /api/v1/partners/{id}/outbox` sorts every
 * pending row for its page (SQLite "USE TEMP B-TREE FOR ORDER BY"), ≈ 2 ms of server CPU per call at
 * 2,000 pending rows, which polling every 250 ms would add to the server under test.
 */
class PendingProbe {
  private db: Database.Database | undefined;
  constructor(private readonly srv: ServerChild) {}
  count(): number {
    this.db ??= new Database(join(this.srv.dataDir!, 'ampline.sqlite'), { readonly: true, fileMustExist: true });
    return (this.db.prepare("SELECT count(*) AS n FROM outbox WHERE state = 'pending'").get() as { n: number }).n;
  }
  async waitEmpty(deadlineMs: number, everyMs = 250): Promise<boolean> {
    const end = performance.now() + deadlineMs;
    for (;;) {
      if (this.count() === 0) return true;
      if (performance.now() >= end) return false;
      await sleep(everyMs);
    }
  }
  close(): void {
    this.db?.close();
    this.db = undefined;
  }
}

interface OutboxRow {
  id: number;
  station_id: string;
  kind: string;
  idempotency_key: string;
  state: string;
  attempts: number;
  next_attempt_at: string;
  created_at: string;
  delivered_at: string | null;
}

interface Verification {
  rows: OutboxRow[];
  byState: Record<string, number>;
  /** Accepted requests at the receiver. */
  accepted: number;
  distinctKeys: number;
  copies: number;
  /** Keys the receiver got that are not (any more) in the outbox. */
  extraKeys: number;
  /** Outbox rows the receiver never got. */
  missing: number;
  stationsOutOfOrder: number;
  orderSample?: string;
  firstArrival: Map<string, Arrival>;
  maxAttempts: number;
  /** Server's own view: created_at → delivered_at (ms), per kind. */
  serverLatency: Map<string, LatencyRecorder>;
}

/** Reads the stopped child's outbox and checks it against what the receiver got. */
function verify(dataDir: string, arrivals: readonly Arrival[]): Verification {
  const db = new Database(join(dataDir, 'ampline.sqlite'), { readonly: true, fileMustExist: true });
  let rows: OutboxRow[];
  try {
    rows = db.prepare('SELECT id, station_id, kind, idempotency_key, state, attempts, next_attempt_at, created_at, delivered_at FROM outbox ORDER BY id').all() as OutboxRow[];
  } finally {
    db.close();
  }
  const byState: Record<string, number> = {};
  const keys = new Set<string>();
  const perStationRows = new Map<string, string[]>();
  let maxAttempts = 0;
  const serverLatency = new Map<string, LatencyRecorder>();
  for (const r of rows) {
    byState[r.state] = (byState[r.state] ?? 0) + 1;
    keys.add(r.idempotency_key);
    let l = perStationRows.get(r.station_id);
    if (!l) perStationRows.set(r.station_id, (l = []));
    l.push(r.idempotency_key);
    maxAttempts = Math.max(maxAttempts, r.attempts);
    if (r.delivered_at) {
      let rec = serverLatency.get(r.kind);
      if (!rec) serverLatency.set(r.kind, (rec = new LatencyRecorder()));
      rec.add(Date.parse(r.delivered_at) - Date.parse(r.created_at));
    }
  }
  const firstArrival = new Map<string, Arrival>();
  const perStationSeen = new Map<string, string[]>();
  let copies = 0;
  let extraKeys = 0;
  for (const a of arrivals) {
    if (firstArrival.has(a.idempotencyKey)) {
      copies++;
      continue;
    }
    firstArrival.set(a.idempotencyKey, a);
    if (!keys.has(a.idempotencyKey)) {
      extraKeys++;
      continue;
    }
    let l = perStationSeen.get(a.uid);
    if (!l) perStationSeen.set(a.uid, (l = []));
    l.push(a.idempotencyKey);
  }
  let missing = 0;
  let stationsOutOfOrder = 0;
  let orderSample: string | undefined;
  for (const [station, want] of perStationRows) {
    const got = perStationSeen.get(station) ?? [];
    const seen = new Set(got);
    missing += want.filter((k) => !seen.has(k)).length;
    const same = got.length === want.length && got.every((k, i) => k === want[i]);
    if (!same) {
      stationsOutOfOrder++;
      if (orderSample === undefined) {
        const i = got.findIndex((k, j) => k !== want[j]);
        orderSample = `${station}: row ${i} expected ${want[i] ?? '(none)'}, got ${got[i] ?? '(none)'}`;
      }
    }
  }
  return {
    rows,
    byState,
    accepted: arrivals.length,
    distinctKeys: firstArrival.size,
    copies,
    extraKeys,
    missing,
    stationsOutOfOrder,
    ...(orderSample !== undefined ? { orderSample } : {}),
    firstArrival,
    maxAttempts,
    serverLatency,
  };
}

interface Matched {
  /** group name → latencies (ms) */
  groups: Map<string, number[]>;
  unmatched: number;
  matchedByPhaseKind: Map<string, number>;
}

/** Event-to-SCSP latency: each accepted arrival against the CALLRESULT of the message it came from. */
function match(f: Fleet, arrivals: readonly Arrival[], groupOf: (c: Commit, a: Arrival) => string | undefined): Matched {
  const groups = new Map<string, number[]>();
  const matchedByPhaseKind = new Map<string, number>();
  const seen = new Set<string>();
  let unmatched = 0;
  for (const a of arrivals) {
    if (seen.has(a.idempotencyKey)) continue; // a copy
    seen.add(a.idempotencyKey);
    const c = f.commits.get(`${a.uid}|${a.ts}`);
    if (!c) {
      unmatched++;
      continue;
    }
    const pk = `${c.phase}|${c.kind}`;
    matchedByPhaseKind.set(pk, (matchedByPhaseKind.get(pk) ?? 0) + 1);
    const g = groupOf(c, a);
    if (g === undefined) continue;
    let l = groups.get(g);
    if (!l) groups.set(g, (l = []));
    l.push(a.at - c.t);
  }
  return { groups, unmatched, matchedByPhaseKind };
}

function summary(xs: readonly number[]): LatencySummary & { min: number } {
  const s = Float64Array.from(xs).sort();
  return { count: s.length, p50: quantile(s, 0.5), p90: quantile(s, 0.9), p99: quantile(s, 0.99), max: s.length ? s[s.length - 1]! : NaN, min: s.length ? s[0]! : NaN };
}

const msOrS = (x: number): string => (Number.isFinite(x) && Math.abs(x) >= 10_000 ? `${(x / 1000).toFixed(1)} s` : ms(x));
const latRow = (name: string, s: LatencySummary & { min: number }, extra = ''): string[] => [name, fmt(s.count), msOrS(s.min), msOrS(s.p50), msOrS(s.p90), msOrS(s.p99), msOrS(s.max), extra];

// ── the benchmark ────────────────────────────────────────────────────────────────────────────

export async function scspBenchmark(o: ScspOptions, log: (s: string) => void): Promise<BenchSection> {
  const t0 = performance.now();
  const p1 = await latencyPart(o, log);
  const p2 = await outagePart(o, log);

  const te = p1.lat.get('TE window')!;
  const mv = p1.lat.get('MV forwarded')!;
  const sw = p1.lat.get('TE switch')!;
  const targets: TargetRow[] = [
    {
      metric:
        `TransactionEvent → SCSP latency p50 / p99, ${fmt(o.stations)} stations, steady load + bursts ` +
        '(CALLRESULT at the station → request at the SCSP)',
      measured: `${ms(te.p50)} / **${msOrS(te.p99)}** (max ${msOrS(te.max)}, ${fmt(te.count)} events)`,
      target: `p99 ≤ ${TARGET_P99_REQUIRED_S} s (issue 6)`,
      met: te.count > 0 && te.p99 <= TARGET_P99_REQUIRED_S * 1000,
    },
    { metric: 'TransactionEvent → SCSP latency p99, steady load + bursts, aim', measured: msOrS(te.p99), target: `< ${fmt(TARGET_P99_AIM_MS / 1000)} s (issue 6 "aim")`, met: te.count > 0 && te.p99 < TARGET_P99_AIM_MS },
    {
      metric: 'MeterValues → SCSP latency p50 / p99 (forwarded readings: the first of each 60 s interval)',
      measured: `${ms(mv.p50)} / **${msOrS(mv.p99)}** (max ${msOrS(mv.max)}, ${fmt(mv.count)} readings)`,
      target: `p99 ≤ ${TARGET_P99_REQUIRED_S} s`,
      met: mv.count > 0 && mv.p99 <= TARGET_P99_REQUIRED_S * 1000,
    },
    {
      metric: `Stress: session storm, all ${fmt(o.stations)} stations Ended + Started within ${fmt(o.startSpreadMs / 1000)} s — TransactionEvent → SCSP p50 / p99`,
      measured: `${msOrS(sw.p50)} / **${msOrS(sw.p99)}** (${fmt(sw.count)} events; the last at the SCSP ${fmt(p1.switchS, 1)} s after the first was sent)`,
      target: `p99 ≤ ${TARGET_P99_REQUIRED_S} s`,
      met: sw.count > 0 && sw.p99 <= TARGET_P99_REQUIRED_S * 1000,
    },
    {
      metric: 'Part 1: every outbox row delivered, in order per station, none missing; every TransactionEvent sent reached the SCSP',
      measured: `${fmt(p1.v.byState.delivered ?? 0)}/${fmt(p1.v.rows.length)} delivered, ${p1.v.missing} missing, ${p1.v.stationsOutOfOrder} stations out of order, TE ${fmt(p1.teMatched)}/${fmt(p1.teSent)}`,
      target: 'all, 0, 0, equal',
      met: p1.v.rows.length > 0 && p1.v.byState.delivered === p1.v.rows.length && p1.v.missing === 0 && p1.v.stationsOutOfOrder === 0 && p1.teMatched === p1.teSent,
    },
    {
      metric: `Outbox drain after an outage: backlog → empty (rows/s)`,
      measured: `**${fmt(p2.backlog)} rows in ${fmt(p2.drainS, 1)} s = ${fmt(p2.rate)} rows/s** (peak ${fmt(p2.peak1s)} rows/s in 1 s)`,
      target: '(reported)',
      met: undefined,
    },
    {
      metric: 'After the outage: every row delivered, per-station order kept, none lost (outbox delivered = received)',
      measured: `${fmt(p2.v.byState.delivered ?? 0)}/${fmt(p2.v.rows.length)} delivered, ${fmt(p2.v.distinctKeys - p2.v.extraKeys)} received, ${p2.v.missing} missing, ${p2.v.stationsOutOfOrder} stations out of order, ${p2.v.copies} copies`,
      target: 'all, equal, 0, 0',
      met:
        p2.drained &&
        p2.v.rows.length > 0 &&
        p2.v.byState.delivered === p2.v.rows.length &&
        p2.v.distinctKeys - p2.v.extraKeys === p2.v.rows.length &&
        p2.v.missing === 0 &&
        p2.v.stationsOutOfOrder === 0,
    },
    { metric: 'Bodies failing the strict OCA schema at the SCSP (both parts)', measured: String(p1.invalid + p2.invalid), target: '0', met: p1.invalid + p2.invalid === 0 },
    { metric: 'Errors (OCPP calls, pairing)', measured: String(p1.errors + p2.errors), target: '0', met: p1.errors + p2.errors === 0 },
  ];

  const reading =
    `**Reading the numbers.** Forwarding is a queue served by the CSMS process itself: the server spends ≈ ${fmt(p2.usPerRow)} µs of CPU ` +
    `per delivered row (outage part, during the drain, the live load included), i.e. ≈ ${fmt(1e6 / p2.usPerRow)} rows/s if it had a core to ` +
    `itself for nothing else, and at the window rate forwarding raises the server CPU per OCPP message from ${fmt(p1.usIngest)} to ` +
    `${fmt(p1.usPaired)} µs (window A → B). Whenever events arrive faster than the share of CPU the server gets allows — bursts, the session ` +
    `storm, a recovered SCSP — they wait in the outbox, the event-to-SCSP latency grows with that queue, and the same work slows the ` +
    `chargers' own OCPP round trips (window B vs A). When other processes take a large share of this shared 2-core machine (the "other CPU" ` +
    `columns), the wall-clock figures drop; the µs-per-row figure is the one to compare across runs. After an outage the per-station ` +
    `exponential backoff adds its own delay on top (up to the 300 s cap), independent of load.`;
  const body = [p1.body, '', targetTable(targets), '', p1.tables, '', p2.body, '', reading].join('\n');
  return { name: 'scsp', title: '8. SCSP event forwarding: event-to-SCSP latency and outbox drain', targets, body, durationS: (performance.now() - t0) / 1000 };
}

// ── part 1: latency ──────────────────────────────────────────────────────────────────────────

interface Part1 {
  lat: Map<string, LatencySummary & { min: number }>;
  /** Session storm: first CALL → last delivery (s). */
  switchS: number;
  /** Server CPU per OCPP message without / with forwarding (windows A / B, net of idle). */
  usIngest: number;
  usPaired: number;
  v: Verification;
  teSent: number;
  teMatched: number;
  invalid: number;
  errors: number;
  body: string;
  tables: string;
}

async function runWindow(f: Fleet, o: ScspOptions): Promise<void> {
  f.everyS = o.meterEveryS;
  f.stateChangeP = o.stateChangeP;
  f.startLoad();
  const burstDone = new Set<number>();
  for (let b = 1; b <= o.bursts; b++) f.schedule(() => f.burst(o.burstShare, o.burstSpreadMs, burstDone), (o.windowMs * b) / (o.bursts + 1));
  await sleep(o.windowMs);
  await f.stopLoad();
}

async function latencyPart(o: ScspOptions, log: (s: string) => void): Promise<Part1> {
  const peer = new BenchScspPeer();
  await peer.start();
  const dir = makeTempDir('ampline-bench-scsp-');
  const partnersFile = join(dir, 'partners.json');
  writeFileSync(partnersFile, JSON.stringify({ partners: [peer.partner(PARTNER_ID, INBOUND_TOKEN)] }));
  const direct = new DirectPoster(peer, 16);
  const srv = await startAmpline({ env: { AMPLINE_SCSP_PARTNERS_FILE: partnersFile } });
  let f: Fleet | undefined;
  let stopped = false;
  try {
    const tSetup = performance.now();
    f = await setupFleet(srv, o.stations, 'LAT');
    const setupS = (performance.now() - tSetup) / 1000;

    // A: unpaired baseline.
    f.phase = 'Astart';
    await Promise.all(f.stations.map(async (s) => (await sleep(rand(0, o.startSpreadMs)), f!.enqueue(s, () => f!.startTx(s, 'switch')))));
    await f.settle();
    f.phase = 'A';
    // Idle server CPU with every station connected and in a transaction (timers, pings, the 2 s outbox poll).
    const i0 = cpuNow(srv.pid);
    await sleep(IDLE_MS);
    const idle = cpuPct(i0, cpuNow(srv.pid));
    const a0 = cpuNow(srv.pid);
    await runWindow(f, o);
    const cpuA = cpuPct(a0, cpuNow(srv.pid));
    const msgsA = f.sentCount('A') - f.sentCount('A', 'switch');
    log(`  scsp: unpaired window: ${fmt(msgsA)} OCPP messages, server CPU ${fmt(cpuA.srv)}%, errors ${f.errors}`);

    // Pair every station (public flow).
    const pairing = await pairAll(srv, f, 16);
    log(`  scsp: paired ${fmt(o.stations)} stations in ${fmt(pairing.s, 1)} s (errors ${pairing.errors})`);
    const arrivalsBefore = peer.arrivals.length;

    // B: paired. Session switch first (Ended of the unpaired transaction + Started), then the window.
    // The session switch is a stress test of its own (every station's Ended + Started within startSpreadMs);
    // window B starts only once its rows have all been delivered, so that it does not queue behind them.
    const probe = new PendingProbe(srv);
    f.phase = 'Bswitch';
    const arrivalsBeforeSwitch = peer.arrivals.length;
    const sw0 = cpuNow(srv.pid);
    const tSwitch = performance.now();
    await f.switchSessions(o.startSpreadMs, 'switch');
    const switchSentS = (performance.now() - tSwitch) / 1000;
    const switchDrained = await probe.waitEmpty(120_000, 50);
    const cpuSwitch = cpuPct(sw0, cpuNow(srv.pid));
    const switchArrivals = peer.arrivals.slice(arrivalsBeforeSwitch);
    const switchS = ((switchArrivals.at(-1)?.at ?? tSwitch) - tSwitch) / 1000;
    f.phase = 'B';
    f.mirror = (p) => direct.post(JSON.stringify(p));
    const eld = monitorEventLoopDelay({ resolution: 10 });
    eld.enable();
    const b0 = cpuNow(srv.pid);
    await runWindow(f, o);
    const cpuB = cpuPct(b0, cpuNow(srv.pid));
    f.mirror = undefined;
    const tEnd = performance.now();
    const drained = await probe.waitEmpty(120_000);
    probe.close();
    const drainTailS = (performance.now() - tEnd) / 1000;
    eld.disable();
    await direct.settle();
    const msgsB = f.sentCount('B') - f.sentCount('B', 'switch');
    const rssMb = srv.rssKb() / 1024;

    await closeAll(f.stations.map((s) => s.client));
    await srv.stop(30_000);
    stopped = true;
    const v = verify(srv.dataDir!, peer.arrivals);
    const { invalid, samples: invalidSamples } = validateArrivals(peer.arrivals);

    // Latency groups.
    const m = match(f, peer.arrivals, (c) => {
      if (c.phase === 'A') return undefined;
      if (c.kind === 'MV') return c.phase === 'B' ? 'MV forwarded' : undefined;
      return c.label === 'switch' ? 'TE switch' : c.label === 'burst' ? 'TE burst' : 'TE state';
    });
    const g = (k: string) => summary(m.groups.get(k) ?? []);
    const lat = new Map<string, LatencySummary & { min: number }>();
    for (const k of ['TE state', 'TE burst', 'TE switch', 'MV forwarded']) lat.set(k, g(k));
    lat.set('TE window', summary([...(m.groups.get('TE state') ?? []), ...(m.groups.get('TE burst') ?? [])]));
    const directLat = summary(direct.latencies());
    lat.set('direct', directLat);

    const teSent = f.sentCount('B', 'state') + f.sentCount('B', 'burst') + f.sentCount('Bswitch', 'switch') + f.sentCount('B', 'switch');
    const teMatched = (m.matchedByPhaseKind.get('B|TE') ?? 0) + (m.matchedByPhaseKind.get('Bswitch|TE') ?? 0);
    const mvSent = f.sentCount('B', 'meter');
    const mvForwarded = m.matchedByPhaseKind.get('B|MV') ?? 0;
    // Server CPU per message net of the idle CPU (at a few dozen messages/s the idle share is not negligible).
    const usA = (((cpuA.srv - idle.srv) / 100) * cpuA.s * 1e6) / msgsA;
    const usB = (((cpuB.srv - idle.srv) / 100) * cpuB.s * 1e6) / msgsB;
    // Forwarded requests during window B (the server also did their deliveries).
    const deliveredInB = peer.arrivals.slice(arrivalsBefore).filter((a) => a.at >= b0.t && a.at <= b0.t + cpuB.s * 1000).length;
    const gapMax = maxMeterGapS(peer.arrivals.slice(arrivalsBefore));
    const te = lat.get('TE window')!;
    const sw = lat.get('TE switch')!;
    const mv = lat.get('MV forwarded')!;
    log(
      `  scsp: storm ${fmt(sw.count)} TE p50 ${msOrS(sw.p50)} p99 ${msOrS(sw.p99)} (all at the SCSP after ${fmt(switchS, 1)} s); window TE → SCSP p50 ${ms(te.p50)} p99 ${msOrS(te.p99)} max ${msOrS(te.max)} (${te.count}); MV p50 ${ms(mv.p50)} p99 ${msOrS(mv.p99)} (${mv.count} of ${mvSent} readings); ` +
        `direct HTTP p50 ${ms(directLat.p50)} p99 ${ms(directLat.p99)}; server ${fmt(usA)} → ${fmt(usB)} µs/msg unpaired → paired; outbox ${v.byState.delivered ?? 0}/${v.rows.length} delivered, ` +
        `${v.stationsOutOfOrder} out of order, unmatched ${m.unmatched}`,
    );

    const ps = o.stations / ((o.meterEveryS[0] + o.meterEveryS[1]) / 2);
    const body = [
      `**Set-up.** The CSMS child gets \`AMPLINE_SCSP_PARTNERS_FILE\` with one partner (payload protocol \`ocpp2.0.1\`) whose base URL and ` +
        `token URL point at a minimal SCSP receiver in the bench process (\`bench/lib/scsp-peer.ts\`: bare \`node:http\`, OAuth2 client-credentials ` +
        `token endpoint, Bearer + \`ApiKey\` checked on every event request, arrival time recorded when the whole request has been read; the bodies ` +
        `are checked against the strict OCA schemas after the run, off the timed path). Forwarding settings are the defaults ` +
        `(\`AMPLINE_SCSP_METER_INTERVAL_S\`=60, \`_FORWARD_CONCURRENCY\`=16, \`_RETRY_MAX_S\`=300). ${fmt(o.stations)} stations, half OCPP 1.6 ` +
        `(translated to 2.0.1-shaped events) and half 2.0.1, connect, boot and report EVSE 1 (set-up ${fmt(setupS, 1)} s). **Pairing uses the API, ` +
        `not a database insert**: \`POST /api/v1/stations/{id}/pairing-codes\` then \`POST /v1/cpo/ocpp2.0.1/pair {code}\` with the partner's ` +
        `inbound token, 16 stations at a time: ${fmt(o.stations)} stations in ${fmt(pairing.s, 1)} s (${fmt(o.stations / pairing.s)} pairings/s, ` +
        `${pairing.errors} errors${pairing.sample ? `, e.g. \`${pairing.sample}\`` : ''}).`,
      '',
      `**Load** (the same schedule in both windows, ${fmt(o.windowMs / 1000)} s each): every station has a transaction open and sends a meter ` +
        `reading every U(${o.meterEveryS[0]}, ${o.meterEveryS[1]}) s (1.6: \`MeterValues\` with the transactionId; 2.0.1: \`TransactionEvent\` ` +
        `Updated/MeterValuePeriodic with \`meterValue\`; 10 sampled values each, 3 of them forwarded measurands) ≈ ${fmt(ps)} readings/s; after a ` +
        `reading, with probability ${o.stateChangeP}, a charging-state change Charging ↔ SuspendedEV (1.6: \`StatusNotification\`, forwarded as ` +
        `Updated/ChargingStateChanged; 2.0.1: \`TransactionEvent\` Updated/ChargingStateChanged); and ${o.bursts} bursts in which ` +
        `${fmt(o.burstShare * 100)}% of the stations (different ones each time) end their transaction and start a new one within ` +
        `${fmt(o.burstSpreadMs / 1000, 1)} s (1.6: \`StopTransaction\` + \`StartTransaction\`; 2.0.1: \`TransactionEvent\` Ended + Started). ` +
        `One CALL in flight per station. **Window A** runs with the stations not yet paired (baseline: the OCPP path without forwarding). ` +
        `Then every station is paired and a **session storm** follows: all ${fmt(o.stations)} stations end the transaction they started unpaired ` +
        `and start a new one within ${fmt(o.startSpreadMs / 1000)} s (${fmt((2 * o.stations) / (o.startSpreadMs / 1000))} TransactionEvents/s — a stress case, ` +
        `e.g. after a mass reconnect; measured on its own). **Window B** (paired, same schedule as A) starts once the storm's rows have all been delivered.`,
      '',
      `**Latency** = arrival of the complete HTTP request at the SCSP receiver − the moment the station's CALLRESULT resolved in the load ` +
        `generator (the CSMS answers only after the event and its outbox row are committed), both on the bench process's \`performance.now()\`. ` +
        `Forwarded events are matched to the OCPP message they came from by station and the event's own timestamp (TransactionEvent ` +
        `\`timestamp\`, MeterValues \`meterValue[0].timestamp\`; the generator never gives one station the same millisecond twice). The ` +
        `forwarder is woken right after the commit, before the CALLRESULT is written, so a delivery can reach the receiver before the ` +
        `generator has processed the CALLRESULT: small negative values (min column) are that race, not clock skew (one process, one clock). ` +
        `The bench process (generator + receiver) had event-loop delay p99 ${ms(eld.percentile(99) / 1e6)}, max ${ms(eld.max / 1e6)} ` +
        `during window B; that much of any figure can be the measuring side.`,
      '',
      `**Meter values are aggregated by design** (README "Meter cadence"): at most one MeterValues per transaction per 60 s of reading time. The ` +
        `reading that opens an interval gets an outbox row at once and is forwarded immediately — those are the latencies below. A later ` +
        `reading of the same interval replaces the row's reading only while that row still waits (SCSP slow or down); normally the row has ` +
        `already been delivered within milliseconds, so the reading is not forwarded at all (it stays in Ampline's store). With readings every ` +
        `${o.meterEveryS[0]}–${o.meterEveryS[1]} s, ${fmt(mvForwarded)} of ${fmt(mvSent)} readings of window B (${fmt((mvForwarded / Math.max(1, mvSent)) * 100)}%) ` +
        `were forwarded; the others have no event-to-SCSP latency — what the SCSP sees is at most one interval (60 s) plus one reading ` +
        `period old, and never older than \`AMPLINE_SCSP_METER_MAX_GAP_S\` (300 s; the repeat sweep). Largest gap between two consecutive ` +
        `forwarded readings of a station during window B (reading time): ${gapMax === undefined ? 'n/a' : `${fmt(gapMax, 1)} s`}. ` +
        `Part 2 below forwards every reading (\`AMPLINE_SCSP_METER_INTERVAL_S\`=0) and reports that latency too.`,
      '',
      `**Baselines in the same run.** (1) Window A: the same stations and schedule before pairing — OCPP round trip and server CPU per ` +
        `message without forwarding. (2) During window B the bench posts every OCPP payload it got a CALLRESULT for straight to the same ` +
        `receiver (\`POST /direct/n\`, keep-alive agent with 16 sockets like the forwarder's concurrency): the bare loopback HTTP hop on this ` +
        `machine under the same load, i.e. the floor of any forwarding latency measured here.`,
    ].join('\n');

    const tables = [
      table(
        ['Event-to-SCSP latency, window B', 'Events', 'min', 'p50', 'p90', 'p99', 'max', 'Notes'],
        [
          latRow('TransactionEvent, window B (state changes + bursts)', te, `all ${fmt(teMatched)} TransactionEvents sent (storm included) reached the SCSP: ${teMatched === teSent ? 'yes' : `NO, ${fmt(teSent)} sent`}`),
          latRow('… state changes (steady)', lat.get('TE state')!, `${fmt(f.sentCount('B', 'state'))} sent`),
          latRow(`… bursts (${fmt(o.burstShare * 100)}% of stations Ended + Started in ${fmt(o.burstSpreadMs / 1000, 1)} s)`, lat.get('TE burst')!, `${fmt(f.sentCount('B', 'burst'))} sent`),
          latRow('MeterValues, window B, forwarded readings', mv, `${fmt(mvForwarded)} of ${fmt(mvSent)} readings forwarded (60 s aggregation)`),
          latRow('Baseline: bench → receiver direct HTTP post, window B', directLat, `every OCPP payload of window B, same receiver, same moments; ${direct.errors} errors`),
          latRow(`Stress: session storm (all stations Ended + Started in ${fmt(o.startSpreadMs / 1000)} s)`, sw, `${fmt(f.sentCount('Bswitch', 'switch'))} sent`),
        ],
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
      ),
      '',
      table(
        ['Window', 'OCPP msgs', 'msgs/s', 'OCPP rt: state change p50 / p99', 'burst', 'meter', 'Server CPU', 'Server µs / msg (net of idle)', 'Gen.+receiver CPU', 'Other CPU'],
        (
          [
            ['A: unpaired (baseline)', 'A', msgsA, cpuA, usA],
            ['B: paired, forwarding', 'B', msgsB, cpuB, usB],
          ] as const
        ).map(([name, ph, n, c, us]) => {
          const rt = (l: Label) => {
            const r = f!.ocpp.get(`${ph}|${l}`)?.summary();
            return r ? `${ms(r.p50)} / ${ms(r.p99)}` : 'n/a';
          };
          return [name, fmt(n), fmt(n / c.s, 1), rt('state'), rt('burst'), rt('meter'), `${fmt(c.srv, 1)}%`, fmt(us), `${fmt(c.gen, 1)}%`, `${fmt(c.other)}%`];
        }),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      `**Session storm**: ${fmt(f.sentCount('Bswitch', 'switch'))} TransactionEvents answered within ${fmt(switchSentS, 1)} s; the SCSP had all of them ` +
        `${fmt(switchS, 1)} s after the first CALL${switchDrained ? '' : ' — the outbox was NOT empty within 120 s'}; server CPU ` +
        `${fmt(cpuSwitch.srv)}% of a core meanwhile (all its threads; other processes ${fmt(cpuSwitch.other)}%). Forwarding is a queue: when events arrive faster than ` +
        `the dispatcher delivers them, each waits for the ones before it, and the latency grows with the queue (see the server CPU per delivered ` +
        `row in the outage part).`,
      '',
      `Idle server CPU (all ${fmt(o.stations)} stations connected, in a transaction, no messages; ${IDLE_MS / 1000} s before window A): ${fmt(idle.srv, 1)}% ` +
        `of a core, subtracted in the µs / msg column. Window B also delivered ${fmt(deliveredInB)} requests to the SCSP; its server CPU includes the outbox writes and those deliveries ` +
        `(≈ ${fmt(((usB - usA) * msgsB) / Math.max(1, deliveredInB))} µs of extra server CPU per delivered request: (B − A) µs per message × B's messages ÷ deliveries; ` +
        `a difference of two noisy figures at low load, so indicative only). Server-side view (outbox \`created_at\` → \`delivered_at\`, ms resolution, ` +
        `rows of the whole part): ${[...v.serverLatency.entries()].map(([k, r]) => { const s = r.summary(); return `${k} p50 ${ms(s.p50)} / p99 ${ms(s.p99)} / max ${msOrS(s.max)} (${fmt(s.count)})`; }).join('; ')}. ` +
        `After the window the outbox was empty ${drained ? `${fmt(drainTailS, 1)} s later` : '— NOT within 120 s'}. ` +
        `Outbox: ${Object.entries(v.byState).map(([k, n]) => `${fmt(n)} ${k}`).join(', ')}; received ${fmt(v.distinctKeys)} distinct keys, ${v.copies} copies, ` +
        `${v.extraKeys} keys no longer in the outbox, ${v.missing} rows missing, ${v.stationsOutOfOrder} stations out of order${v.orderSample ? ` (${v.orderSample})` : ''}; ` +
        `${m.unmatched} received events not matched to a message; schema-invalid bodies ${invalid}${invalidSamples.length ? ` (${invalidSamples.join('; ')})` : ''}. ` +
        `Server RSS at the end ${fmt(rssMb)} MB.` +
        (f.errors ? ` OCPP errors ${f.errors}: ${f.errorSamples.map((e) => `\`${e}\``).join(', ')}.` : ''),
    ].join('\n');

    return { lat, switchS, usIngest: usA, usPaired: usB, v, teSent, teMatched, invalid, errors: f.errors + pairing.errors, body, tables };
  } finally {
    if (f) await closeAll(f.stations.map((s) => s.client));
    if (!stopped) await srv.stop();
    srv.removeDataDir();
    direct.close();
    await peer.close();
    removeTempDir(dir);
  }
}

/**
 * Failures of a station whose SCSP is down for `t` s from its first try on: the wait after the k-th
 * failure is drawn from [2^(k−2), 2^(k−1)] s (capped at 300 s); `share` 0.75 gives the typical count,
 * 0.5 (every draw at its lower end) the most a station can have.
 */
function failuresIn(t: number, share: number): number {
  let k = 1;
  let at = 0;
  for (;;) {
    const wait = share * Math.min(300, 2 ** (k - 1));
    if (at + wait > t) return k;
    at += wait;
    k++;
  }
}
const fmtK = (t: number): string => {
  const typ = failuresIn(t, 0.75);
  const most = failuresIn(t, 0.5);
  return most > typ ? `${typ}–${most}` : String(typ);
};
/** Longest wait after the last failure of a station down for `t` s (the upper end of its next draw). */
const nextWaitMaxS = (t: number): number => Math.min(300, 2 ** (failuresIn(t, 0.5) - 1));

/** Largest reading-time gap (s) between consecutive forwarded MeterValues of one station. */
function maxMeterGapS(arrivals: readonly Arrival[]): number | undefined {
  const last = new Map<string, number>();
  let max: number | undefined;
  for (const a of arrivals) {
    if (a.action !== 'MeterValues') continue;
    const t = Date.parse(a.ts);
    const prev = last.get(a.uid);
    if (prev !== undefined) max = Math.max(max ?? 0, (t - prev) / 1000);
    last.set(a.uid, t);
  }
  return max;
}

// ── part 2: outage and drain ─────────────────────────────────────────────────────────────────

interface Part2 {
  usPerRow: number;
  backlog: number;
  drainS: number;
  rate: number;
  peak1s: number;
  drained: boolean;
  v: Verification;
  invalid: number;
  errors: number;
  body: string;
}

async function outagePart(o: ScspOptions, log: (s: string) => void): Promise<Part2> {
  const peer = new BenchScspPeer();
  await peer.start();
  const dir = makeTempDir('ampline-bench-scsp-');
  const partnersFile = join(dir, 'partners.json');
  writeFileSync(partnersFile, JSON.stringify({ partners: [peer.partner(PARTNER_ID, INBOUND_TOKEN)] }));
  const srv = await startAmpline({ env: { AMPLINE_SCSP_PARTNERS_FILE: partnersFile, AMPLINE_SCSP_METER_INTERVAL_S: '0' } });
  let f: Fleet | undefined;
  let stopped = false;
  const probe = new PendingProbe(srv);
  try {
    f = await setupFleet(srv, o.stations, 'OUT');
    const pairing = await pairAll(srv, f, 16);
    f.phase = 'start';
    await Promise.all(f.stations.map(async (s) => (await sleep(rand(0, o.startSpreadMs)), f!.enqueue(s, () => f!.startTx(s, 'switch')))));
    await f.settle();

    // Steady state before the outage (every reading forwarded).
    f.phase = 'pre';
    f.everyS = o.meterEveryS;
    f.stateChangeP = o.stateChangeP;
    f.startLoad();
    await sleep(o.preOutageMs);

    // Outage under a higher reading rate.
    f.phase = 'outage';
    peer.down = true;
    const tDown = performance.now();
    f.everyS = o.outageEveryS;
    const o0 = cpuNow(srv.pid);
    let backlogApi = 0;
    const backlogSeries: Array<[number, number]> = [];
    while (performance.now() - tDown < o.maxOutageMs) {
      await sleep(1000);
      backlogApi = probe.count();
      backlogSeries.push([(performance.now() - tDown) / 1000, backlogApi]);
      if (backlogApi >= o.backlogTarget) break;
    }
    const cpuOut = cpuPct(o0, cpuNow(srv.pid));
    const outageS = (performance.now() - tDown) / 1000;
    const refusedDuringOutage = peer.refused503;

    // Back up; stations return to the realistic rate; the drain is timed.
    f.everyS = o.meterEveryS;
    f.phase = 'drain';
    const arrivalsAtUp = peer.arrivals.length;
    const tUp = performance.now();
    const tUpWall = Date.now();
    const wallOf = (perf: number) => perf - tUp + tUpWall;
    peer.down = false;
    const u0 = cpuNow(srv.pid);
    let tEmptyApi: number | undefined;
    if (await probe.waitEmpty(o.drainDeadlineMs)) tEmptyApi = performance.now();
    const cpuDrain = cpuPct(u0, cpuNow(srv.pid));
    const deliveredDuringDrain = peer.arrivals.length - arrivalsAtUp;
    log(
      `  scsp: outage ${fmt(outageS, 1)} s → backlog ${fmt(backlogApi)} rows; ${tEmptyApi ? `empty ${fmt((tEmptyApi - tUp) / 1000, 1)} s after recovery` : `NOT empty after ${o.drainDeadlineMs / 1000} s`}`,
    );
    await f.stopLoad();
    const drained = tEmptyApi !== undefined && (await probe.waitEmpty(60_000));
    probe.close();
    await closeAll(f.stations.map((s) => s.client));
    await srv.stop(30_000);
    stopped = true;

    const v = verify(srv.dataDir!, peer.arrivals);
    const { invalid, samples: invalidSamples } = validateArrivals(peer.arrivals);

    // The backlog: rows written before the recovery and first received after it.
    const backlogRows = v.rows.filter((r) => {
      const a = v.firstArrival.get(r.idempotency_key);
      return Date.parse(r.created_at) < tUpWall && (a === undefined || a.at >= tUp);
    });
    const backlogArrivals = backlogRows.map((r) => v.firstArrival.get(r.idempotency_key)).filter((a): a is Arrival => a !== undefined);
    const lastAt = backlogArrivals.reduce((mx, a) => Math.max(mx, a.at), tUp);
    const firstAt = backlogArrivals.reduce((mn, a) => Math.min(mn, a.at), Infinity);
    const drainS = (lastAt - tUp) / 1000;
    const backlog = backlogRows.length;
    const rate = backlog / Math.max(drainS, 1e-3);
    // Per 1 s bins after the recovery: backlog rows received.
    const bins = new Map<number, number>();
    for (const a of backlogArrivals) {
      const b = Math.floor((a.at - tUp) / 1000);
      bins.set(b, (bins.get(b) ?? 0) + 1);
    }
    const peak1s = Math.max(0, ...bins.values());
    const activeBins = [...bins.values()].filter((n) => n > 0).length;
    // Per station: when its first backlog row arrived and how long its backlog took.
    const perStation = new Map<string, { first: number; last: number; n: number }>();
    for (const a of backlogArrivals) {
      const p = perStation.get(a.uid);
      if (!p) perStation.set(a.uid, { first: a.at, last: a.at, n: 1 });
      else {
        p.first = Math.min(p.first, a.at);
        p.last = Math.max(p.last, a.at);
        p.n++;
      }
    }
    const startDelays = summary([...perStation.values()].map((p) => p.first - tUp));
    // Split of that delay: the station's head row keeps the next_attempt_at of its last failure (a delivery does not
    // rewrite it), so recovery → due is the backoff wait, due → received is the dispatcher's own queueing + send.
    const headOf = new Map<string, OutboxRow>();
    for (const r of backlogRows) if (!headOf.has(r.station_id)) headOf.set(r.station_id, r);
    const backoffWait: number[] = [];
    const dispatchDelay: number[] = [];
    for (const [uid, p] of perStation) {
      const head = headOf.get(uid);
      if (!head) continue;
      const due = Math.max(tUpWall, head.attempts > 1 ? Date.parse(head.next_attempt_at) : Date.parse(head.created_at));
      backoffWait.push(due - tUpWall);
      dispatchDelay.push(wallOf(p.first) - due);
    }
    const backoffS = summary(backoffWait);
    const dispatchS = summary(dispatchDelay);
    const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
    const backoffShare = sum(backoffWait) / Math.max(1e-9, sum(backoffWait) + sum(dispatchDelay));
    const stationDrain = summary([...perStation.values()].map((p) => p.last - p.first));
    const rowsPerStation = summary([...perStation.values()].map((p) => p.n));
    // Cumulative share of the backlog received by time after recovery.
    const sortedAt = backlogArrivals.map((a) => a.at - tUp).sort((x, y) => x - y);
    const when = (q: number) => quantile(sortedAt, q) / 1000;
    const backlogAttempts = summary(backlogRows.map((r) => r.attempts));
    const usPerRow = ((cpuDrain.srv / 100) * cpuDrain.s * 1e6) / Math.max(1, deliveredDuringDrain);
    // Timeline in 5 s steps.
    const step = 5;
    const timeline: string[][] = [];
    const lastBin = Math.ceil(drainS / step);
    for (let k = 0; k < lastBin; k++) {
      let n = 0;
      let started = 0;
      for (let b = k * step; b < (k + 1) * step; b++) n += bins.get(b) ?? 0;
      for (const p of perStation.values()) if (p.first - tUp >= k * step * 1000 && p.first - tUp < (k + 1) * step * 1000) started++;
      timeline.push([`${k * step}–${(k + 1) * step} s`, fmt(n), fmt(n / step), fmt(started)]);
    }

    // MeterValues latency with every reading forwarded (pre-outage steady state).
    // Events of the last PRE_CUTOFF_MS before the outage are left out: their deliveries may have met the outage.
    const m = match(f, peer.arrivals, (c) => (c.phase === 'pre' && c.t < tDown - PRE_CUTOFF_MS ? (c.kind === 'MV' ? 'MV' : 'TE') : undefined));
    const preMv = summary(m.groups.get('MV') ?? []);
    const preTe = summary(m.groups.get('TE') ?? []);
    const ocppOut = f.ocpp.get('outage|MV')?.summary();
    const outageMsgs = f.ocpp.get('outage|MV')?.count ?? 0;

    log(
      `  scsp: drain ${fmt(backlog)} rows in ${fmt(drainS, 1)} s = ${fmt(rate)} rows/s (peak ${fmt(peak1s)}/s); first row ${fmt((firstAt - tUp) / 1000, 1)} s after recovery; ` +
        `backoff wait p50/max ${fmt(backoffS.p50 / 1000, 1)}/${fmt(backoffS.max / 1000, 1)} s, dispatcher delay p50/max ${msOrS(dispatchS.p50)}/${msOrS(dispatchS.max)}; ` +
        `${fmt(usPerRow)} µs server CPU per delivered row; outbox ${v.byState.delivered ?? 0}/${v.rows.length} delivered, ${v.missing} missing, ${v.stationsOutOfOrder} out of order, ${v.copies} copies`,
    );

    const body = [
      `### Outbox drain after an SCSP outage`,
      '',
      `A second CSMS child on a fresh data dir, same partner set-up, **\`AMPLINE_SCSP_METER_INTERVAL_S=0\`** (every reading becomes an outbox row; ` +
        `with the default 60 s aggregation a waiting row absorbs newer readings, so a backlog grows by at most one row per transaction per ` +
        `minute plus its transaction events — ${fmt(o.backlogTarget)} rows would take an outage of ≈ ${fmt(o.backlogTarget / o.stations)} min at ${fmt(o.stations)} ` +
        `stations), other settings default: concurrency 16, first retry after 0.5–1 s, doubling with jitter ([d/2, d]), capped at 300 s, 200 attempts. ` +
        `${fmt(o.stations)} stations paired through the API (${fmt(pairing.s, 1)} s), each with a transaction; ${fmt(o.preOutageMs / 1000)} s steady state at ` +
        `the realistic rate (reading every ${o.meterEveryS[0]}–${o.meterEveryS[1]} s); then the receiver answers **503 to every event request** while the ` +
        `stations send a reading every U(${o.outageEveryS[0]}, ${o.outageEveryS[1]}) s (≈ ${fmt(o.stations / ((o.outageEveryS[0] + o.outageEveryS[1]) / 2))} rows/s) until ` +
        `≥ ${fmt(o.backlogTarget)} rows are pending (or ${fmt(o.maxOutageMs / 1000)} s); then it answers 200 again, the stations go back to ` +
        `the realistic rate (the load continues through the drain), and the bench polls the pending count every 250 ms until it is 0 (pending counts are read from the child's SQLite file by a read-only ` +
        `connection in the bench process: the API's outbox listing sorts every pending row per call — "USE TEMP B-TREE FOR ORDER BY" — and ` +
        `polling it would load the server under test). ` +
        `**Backlog** = outbox rows written before the recovery and first received after it; **drain time** = recovery → the last of them received; ` +
        `rows/s = backlog ÷ drain time.`,
      '',
      table(
        ['Metric', 'Value'],
        [
          ['Outage', `${fmt(outageS, 1)} s; ${fmt(outageMsgs)} readings sent (OCPP round trip p50 / p99 ${ms(ocppOut?.p50 ?? NaN)} / ${ms(ocppOut?.p99 ?? NaN)}); ${fmt(refusedDuringOutage)} delivery attempts answered 503; server CPU ${fmt(cpuOut.srv)}%`],
          ['Backlog at recovery', `**${fmt(backlog)} rows** (pending count at the last poll: ${fmt(backlogApi)}), ${fmt(perStation.size)} stations, rows per station p50 ${fmt(rowsPerStation.p50)} / max ${fmt(rowsPerStation.max)}`],
          ['Attempts on backlog rows (after delivery)', `p50 ${fmt(backlogAttempts.p50)}, p99 ${fmt(backlogAttempts.p99)}, max ${fmt(backlogAttempts.max)} (1 = delivered on the first try; the head row of each station carries the failed tries)`],
          ['Recovery → first backlog row received', `${fmt((firstAt - tUp) / 1000, 2)} s`],
          ['Recovery → 50% / 90% / 99% / 100% of the backlog received', `${fmt(when(0.5), 1)} / ${fmt(when(0.9), 1)} / ${fmt(when(0.99), 1)} / ${fmt(drainS, 1)} s`],
          ['Recovery → pending count 0 (250 ms poll)', tEmptyApi ? `${fmt((tEmptyApi - tUp) / 1000, 1)} s` : `not within ${fmt(o.drainDeadlineMs / 1000)} s`],
          ['**Drain rate** (backlog ÷ drain time)', `**${fmt(rate)} rows/s**`],
          ['Peak 1-s rate; seconds with deliveries', `${fmt(peak1s)} rows/s; ${activeBins} of ${Math.ceil(drainS)} s`],
          ['Per station: recovery → its first backlog row received', `p50 ${fmt(startDelays.p50 / 1000, 1)} s, p90 ${fmt(startDelays.p90 / 1000, 1)} s, max ${fmt(startDelays.max / 1000, 1)} s`],
          ['… of which backoff: recovery → the head row\'s retry due (`next_attempt_at` of its last failure)', `p50 ${fmt(backoffS.p50 / 1000, 1)} s, p90 ${fmt(backoffS.p90 / 1000, 1)} s, max ${fmt(backoffS.max / 1000, 1)} s`],
          ['… of which dispatcher: retry due → head row received (waiting for one of the 16 delivery slots, sending)', `p50 ${msOrS(dispatchS.p50)}, p90 ${msOrS(dispatchS.p90)}, max ${msOrS(dispatchS.max)}`],
          ['Per station: first → last backlog row', `p50 ${ms(stationDrain.p50)}, p99 ${msOrS(stationDrain.p99)}, max ${msOrS(stationDrain.max)}`],
          ['Server CPU during the drain', `${fmt(cpuDrain.srv)}% of a core over ${fmt(cpuDrain.s, 1)} s, ${fmt(deliveredDuringDrain)} requests delivered (backlog + live) → ${fmt(usPerRow)} µs per delivered row (≈ ${fmt(1e6 / usPerRow)} rows/s if the server had a core to itself); bench ${fmt(cpuDrain.gen)}%, other ${fmt(cpuDrain.other)}%`],
          [`Before the outage (every reading forwarded; events of the last ${PRE_CUTOFF_MS / 1000} s left out): MeterValues → SCSP`, `p50 ${ms(preMv.p50)}, p99 ${msOrS(preMv.p99)}, max ${msOrS(preMv.max)} (${fmt(preMv.count)} readings); TransactionEvent p50 ${ms(preTe.p50)}, p99 ${msOrS(preTe.p99)} (${fmt(preTe.count)})`],
        ],
      ),
      '',
      table(['After recovery', 'Backlog rows received', 'rows/s', 'Stations whose drain began'], timeline, ['l', 'r', 'r', 'r']),
      '',
      `**What sets the drain time.** (1) *Backoff*: a station's queue waits for its head row's next try; after the *k*-th failure the wait is ` +
        `drawn from [2^(k−2), 2^(k−1)] s (capped at 300 s), and neither the 2 s poll nor new rows (\`wake\` without \`force\`) shorten it — ` +
        `nothing tells the other stations that the SCSP is back when one delivery succeeds. The waits add up to ≈ 0.75·(2^k − 1) s, so during ` +
        `${fmt(outageS)} s down a station failed about ${fmtK(outageS)} times (max attempts on a row: ${v.maxAttempts}) and its next try could come up to ` +
        `≈ ${fmt(nextWaitMaxS(outageS))} s after its last failure; measured, recovery → retry due: p50 ${fmt(backoffS.p50 / 1000, 1)} s, max ` +
        `${fmt(backoffS.max / 1000, 1)} s. (2) *Dispatcher*: retry due → head row received: p50 ${msOrS(dispatchS.p50)}, max ${msOrS(dispatchS.max)} — ` +
        `time spent waiting for one of the 16 delivery slots while other stations' backlogs go out, i.e. the dispatcher's throughput ` +
        `(${fmt(usPerRow)} µs of server CPU per delivered row here). Summed over the stations, backoff is ${fmt(backoffShare * 100)}% of the delay before their backlogs moved, the dispatcher ${fmt((1 - backoffShare) * 100)}%. ` +
        `Once a station's try fires, its whole backlog goes out back to back (first → last row per station above). The backoff part grows ` +
        `with the outage up to the 300 s cap: after an outage of ≥ ≈ 6 min, a station may wait up to 5 min after the SCSP is back before its ` +
        `backlog moves.`,
      '',
      `Verification after stopping the child (its SQLite outbox against what the receiver got): ${Object.entries(v.byState).map(([k, n]) => `${fmt(n)} ${k}`).join(', ')}; ` +
        `${fmt(v.accepted)} requests accepted = ${fmt(v.distinctKeys)} distinct idempotency keys + ${fmt(v.copies)} copies; ${v.extraKeys} keys not in the outbox; ` +
        `${v.missing} rows never received; ${v.stationsOutOfOrder} stations whose received sequence differs from their outbox id order` +
        `${v.orderSample ? ` (${v.orderSample})` : ''}; schema-invalid bodies ${invalid}${invalidSamples.length ? ` (${invalidSamples.join('; ')})` : ''}; ` +
        `max attempts on any row ${v.maxAttempts}. Server view of delivery latency (created → delivered), whole part: ` +
        `${[...v.serverLatency.entries()].map(([k, r]) => { const s = r.summary(); return `${k} p50 ${msOrS(s.p50)} / max ${msOrS(s.max)}`; }).join('; ')}.` +
        (f.errors ? ` OCPP errors ${f.errors}: ${f.errorSamples.map((e) => `\`${e}\``).join(', ')}.` : '') +
        (pairing.errors ? ` Pairing errors ${pairing.errors}: \`${pairing.sample}\`.` : ''),
      '',
      `Backlog growth during the outage (pending rows): ${backlogSeries.filter((_, i, arr) => i % Math.max(1, Math.ceil(arr.length / 12)) === 0 || i === arr.length - 1).map(([t, n]) => `${fmt(t)} s: ${fmt(n)}`).join(', ')}.`,
    ].join('\n');

    return { usPerRow, backlog, drainS, rate, peak1s, drained, v, invalid, errors: f.errors + pairing.errors, body };
  } finally {
    probe.close();
    if (f) await closeAll(f.stations.map((s) => s.client));
    if (!stopped) await srv.stop();
    srv.removeDataDir();
    await peer.close();
    removeTempDir(dir);
  }
}
