/**
 * Event forwarding survives a crash (issue 6 "Show": kill the CSMS with SIGKILL mid-stream and restart
 * it). The CSMS runs as a child process (`node --import tsx src/cli.ts serve`) on a data directory and
 * a partners file; simulated chargers (both versions, sessions with a reading every second) keep
 * running through the crash, queue what they cannot send and replay it after reconnecting. The SCSP
 * peer runs in this process and is slow at the moment of the kill, so deliveries are in flight.
 *
 * Afterwards, per station: every outbox row was delivered, the SCSP saw the rows exactly in outbox
 * order (copies only with the same idempotency key and body), each transaction's events are complete
 * (seqNo 0…n, Started … Ended), and every reading the CSMS stored was forwarded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createServer as createHttpServer, type Server } from 'node:http';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SimChargePoint, type Amps, type Watts, type WattHours } from '../src/sim/index.js';
import { openDb } from '../src/store/db.js';
import type { PayloadProtocol } from '../src/scsp-link/partners.js';
import { FORWARDED_MEASURANDS } from '../src/scsp-link/mapping.js';
import { tempDir } from './helpers/csms.js';
import { startScspPeer, type PeerEvent, type ScspPeer } from './helpers/scsp-peer.js';
import { sleep, uniqueId, waitFor } from './helpers/wire.js';

const REPO = resolve(import.meta.dirname, '..');
const KEY = 'crash-test-api-key-123';
const EV = { batteryWh: 80_000 as WattHours, socPercent: 10, maxPowerW: 11_000 as Watts, phases: 3 };
const LONG = 120_000;

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => res(port));
    });
  });
}

/**
 * An HTTP proxy in front of the SCSP that passes each request on at once but holds the answer back for
 * `holdMs`: the SCSP has recorded the event while the CSMS still waits — the window in which a crash
 * forces a re-send.
 */
async function holdingProxy(target: string): Promise<{ url: string; holdMs: number; close(): Promise<void> }> {
  const state = { holdMs: 0 };
  const server: Server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length' && k !== 'connection') headers[k] = v;
      const hold = state.holdMs;
      fetch(target + (req.url ?? '/'), { method: req.method ?? 'POST', headers, body: Buffer.concat(chunks) })
        .then(async (r) => {
          const text = await r.text();
          if (hold > 0) await sleep(hold);
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(text);
        })
        .catch(() => {
          res.writeHead(502);
          res.end();
        });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    get holdMs() {
      return state.holdMs;
    },
    set holdMs(v: number) {
      state.holdMs = v;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

interface Child {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<void>;
}

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('AMPLINE_') || k.startsWith('NODE_TEST')) delete env[k];
  delete env.DATABASE_URL;
  delete env.NATS_URL;
  delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

async function startServe(port: number, env: Record<string, string>): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--port', String(port), '--host', '127.0.0.1'], {
    cwd: REPO,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString('utf8')).slice(-20_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const child: Child = { proc, output: () => out, exited };
  const deadline = Date.now() + LONG;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`ampline serve exited during start-up:\n${out}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`ampline serve not ready:\n${out}`);
    }
    await sleep(100);
  }
}

interface Station {
  id: string;
  protocol: 'ocpp1.6' | 'ocpp2.0.1';
  partner: string;
  pp: PayloadProtocol;
  cp?: SimChargePoint;
}

test('SIGKILL mid-stream and restart: every event delivered, per-station order kept, none lost', { timeout: 900_000 }, async () => {
  const dataDir = tempDir('ampline-scsp-crash-');
  const peer: ScspPeer = await startScspPeer();
  const proxy = await holdingProxy(peer.url);
  const port = await freePort();
  const partner = (id: string, pp: PayloadProtocol) => ({
    id,
    baseUrl: proxy.url,
    tokenUrl: peer.tokenUrl,
    clientId: peer.clientId,
    clientSecret: peer.clientSecret,
    apiKey: peer.apiKey,
    payloadProtocol: pp,
    inboundToken: `inbound-${id}-0123456789abcdef`,
  });
  const partnersFile = join(dataDir, 'partners.json');
  writeFileSync(partnersFile, JSON.stringify({ partners: [partner('jedlix', 'ocpp2.0.1'), partner('legacy', 'ocpp1.6')] }));
  const env = {
    AMPLINE_DATA_DIR: dataDir,
    AMPLINE_SCSP_PARTNERS_FILE: partnersFile,
    AMPLINE_API_KEY: KEY,
    AMPLINE_LOG_LEVEL: 'warn',
    AMPLINE_NODE_ID: 'crash-test',
    AMPLINE_SCSP_METER_INTERVAL_S: '0',
    AMPLINE_SCSP_RETRY_MAX_S: '1',
  };
  const stations: Station[] = [
    { id: uniqueId('K201a'), protocol: 'ocpp2.0.1', partner: 'jedlix', pp: 'ocpp2.0.1' },
    { id: uniqueId('K201b'), protocol: 'ocpp2.0.1', partner: 'jedlix', pp: 'ocpp2.0.1' },
    { id: uniqueId('K16a'), protocol: 'ocpp1.6', partner: 'jedlix', pp: 'ocpp2.0.1' },
    { id: uniqueId('K16b'), protocol: 'ocpp1.6', partner: 'legacy', pp: 'ocpp1.6' },
  ];
  const eventsOf = (id: string): PeerEvent[] => peer.events.filter((e) => e.uid === id);
  const children: Child[] = [];

  try {
    // The pairings exist before the CSMS starts (the pairing flow is tested elsewhere).
    const setup = await openDb({ dataDir });
    const now = new Date().toISOString();
    await setup.kysely
      .insertInto('pairings')
      .values(stations.map((s) => ({ station_id: s.id, partner_id: s.partner, payload_protocol: s.pp, origin: 'cpo-code', paired_at: now })))
      .execute();
    await setup.close();

    children.push(await startServe(port, env));
    for (const s of stations) {
      s.cp = new SimChargePoint({
        url: `ws://127.0.0.1:${port}/ocpp`,
        identity: s.id,
        protocol: s.protocol,
        evses: [{ id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 16 as Amps }] }],
        meterIntervalS: 1,
        reconnect: { initialDelayMs: 200, maxDelayMs: 1000, factor: 2, jitter: 0.2 },
      });
      await s.cp.connect();
    }
    for (const s of stations) await s.cp!.startSession({ evseId: 1, idTag: `T-${s.id.slice(0, 10)}`, ev: EV });
    await waitFor(() => stations.every((s) => eventsOf(s.id).length >= 4), { what: 'forwarding under way', timeoutMs: LONG });

    // Answers held back: the SCSP has events the dying process has not marked delivered.
    proxy.holdMs = 1500;
    await sleep(2000);
    const before = peer.events.length;
    children[0]!.proc.kill('SIGKILL');
    await children[0]!.exited;
    proxy.holdMs = 0;
    // The chargers keep charging and queue their transaction messages meanwhile.
    await sleep(2000);

    children.push(await startServe(port, env));
    await waitFor(() => stations.every((s) => s.cp!.online), { what: 'chargers reconnected', timeoutMs: LONG });
    await waitFor(() => peer.events.length >= before + 4 * stations.length, { what: 'forwarding resumed', timeoutMs: LONG });
    for (const s of stations) await s.cp!.stopSession(1, 'Local');
    await waitFor(
      () =>
        stations.every((s) =>
          eventsOf(s.id).some((e) => (e.action === 'TransactionEvent' && (e.body as any).eventType === 'Ended') || e.action === 'StopTransaction'),
        ),
      { what: 'every transaction ended at the SCSP', timeoutMs: LONG },
    );
    const api = (path: string) => fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'x-api-key': KEY } }).then((r) => r.json() as Promise<any>);
    await waitFor(async () => (await api('/api/v1/partners/jedlix/outbox?state=pending')).total === 0 && (await api('/api/v1/partners/legacy/outbox?state=pending')).total === 0, {
      what: 'outbox drained',
      timeoutMs: LONG,
    });
    for (const s of stations) await s.cp!.close();
    children[1]!.proc.kill('SIGTERM');
    await children[1]!.exited;

    // --- What reached the SCSP, against what the CSMS stored. ---
    assert.deepEqual(peer.refused, [], 'the strict SCSP refused nothing');
    const db = await openDb({ dataDir });
    try {
      let copies = 0;
      for (const s of stations) {
        const rows = await db.kysely.selectFrom('outbox').selectAll().where('station_id', '=', s.id).orderBy('id').execute();
        assert.ok(rows.length > 0, `${s.id}: rows written`);
        assert.deepEqual(rows.filter((r) => r.state !== 'delivered').map((r) => [r.id, r.state, r.last_error]), [], `${s.id}: every row delivered`);
        const events = eventsOf(s.id);
        const first = new Map<string, unknown>();
        const order: string[] = [];
        for (const e of events) {
          assert.ok(e.idempotencyKey);
          if (first.has(e.idempotencyKey!)) {
            copies++;
            assert.deepEqual(e.body, first.get(e.idempotencyKey!), `${s.id}: a copy has the same body`);
            continue;
          }
          first.set(e.idempotencyKey!, e.body);
          order.push(e.idempotencyKey!);
        }
        assert.deepEqual(order, rows.map((r) => r.idempotency_key), `${s.id}: the SCSP saw the rows in outbox order, none missing`);
        for (const r of rows) assert.deepEqual(first.get(r.idempotency_key), JSON.parse(r.payload));

        // Transactions complete at the SCSP.
        const txs = await db.kysely.selectFrom('transactions').selectAll().where('station_id', '=', s.id).execute();
        assert.equal(txs.length, 1);
        const tx = txs[0]!;
        assert.equal(tx.state, 'ended');
        const bodies = order.map((k) => first.get(k) as any);
        if (s.pp === 'ocpp2.0.1') {
          const tes = bodies.filter((b) => 'eventType' in b && b.transactionInfo.transactionId === tx.ocpp_tx_id);
          assert.deepEqual(tes.map((t) => t.seqNo), tes.map((_, i) => i), `${s.id}: seqNo 0…n`);
          assert.equal(tes[0].eventType, 'Started');
          assert.equal(tes.at(-1).eventType, 'Ended');
        } else {
          const actions = order.map((k) => events.find((e) => e.idempotencyKey === k)!.action);
          assert.equal(actions.filter((a) => a === 'StartTransaction').length, 1);
          assert.equal(actions.filter((a) => a === 'StopTransaction').length, 1);
          assert.ok(actions.indexOf('StartTransaction') < actions.indexOf('StopTransaction'));
        }

        // Every reading the CSMS stored for the transaction reached the SCSP (aggregation is off here).
        const stored = await db.kysely
          .selectFrom('meter_values')
          .select('timestamp')
          .distinct()
          .where('transaction_id', '=', tx.id)
          .where('measurand', 'in', [...FORWARDED_MEASURANDS])
          .execute();
        const seen = new Set<string>();
        for (const b of bodies) for (const mv of [...(b.meterValue ?? []), ...(b.transactionData ?? [])]) seen.add(mv.timestamp);
        const missing = stored.map((r) => r.timestamp).filter((t) => !seen.has(t));
        assert.deepEqual(missing, [], `${s.id}: readings not forwarded`);
        assert.ok(stored.length >= 8, `${s.id}: a real stream (${stored.length} readings)`);
      }
      // Rows the SCSP had received but the killed process had not marked: re-sent with the same key.
      assert.ok(copies >= 1, 'deliveries in flight at the kill were sent again');
    } finally {
      await db.close();
    }
  } catch (err) {
    for (const c of children) process.stderr.write(`--- child output ---\n${c.output()}\n`);
    throw err;
  } finally {
    for (const s of stations) await s.cp?.close().catch(() => undefined);
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await proxy.close();
    await peer.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
