/**
 * The live dashboard, server side (src/dashboard): the snapshot endpoint and the Server-Sent Events
 * stream against a real CSMS with simulated chargers of both OCPP versions over real sockets, the
 * authentication (the /api/v1 keys, scope read), what must never appear in a snapshot (secrets), the
 * stream's bounds (cap, cleanup, heartbeats re-checking the key, shutdown), the hub's coalescing, the
 * static page, and a type check of the browser module against the DOM library.
 *
 * Nothing here asserts on timing: every wait is "until the state shows X", bounded by a generous deadline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, get as httpGet, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import ts from 'typescript';
import { SimChargePoint, type Amps, type Watts, type WattHours } from '../src/sim/index.js';
import { parseSites } from '../src/services/load-balancer.js';
import { ApiKeyAuth } from '../src/api/v1/auth.js';
import { installErrorHandlers } from '../src/api/errors.js';
import { registerDashboard, type DashboardSnapshot } from '../src/dashboard/index.js';
import { DashboardHub } from '../src/dashboard/hub.js';
import { maskToken } from '../src/dashboard/snapshot.js';
import { silentLogger } from '../src/util/log.js';
import { systemClock } from '../src/util/clock.js';
import { startTestCsms, type TestCsms } from './helpers/csms.js';
import { uniqueId, waitFor } from './helpers/wire.js';

const KEY = 'test-api-key-123';
const LONG = 30_000;
const EV = { batteryWh: 60_000 as WattHours, socPercent: 20, maxPowerW: 22_000 as Watts, phases: 3 };

// ── helpers ──────────────────────────────────────────────────────────────────────────────────

async function charger(csms: TestCsms, id: string, protocol: 'ocpp1.6' | 'ocpp2.0.1', evses = 1): Promise<SimChargePoint> {
  const cp = new SimChargePoint({
    url: csms.ocppUrl,
    identity: id,
    protocol,
    evses: Array.from({ length: evses }, (_, i) => ({ id: i + 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE' as const, maxCurrentA: 32 as Amps }] })),
    // Meter readings only when the test asks (sendMeterValues): every change below is caused, not waited for.
    meterIntervalS: 0,
    reconnect: false,
  });
  await cp.connect();
  await waitFor(
    async () => (await csms.db.kysely.selectFrom('connectors').select('evse_id').where('station_id', '=', id).where('evse_id', '>', 0).execute()).length >= evses,
    { what: `${id} connectors`, timeoutMs: LONG },
  );
  return cp;
}

async function getState(base: string, key: string | undefined = KEY): Promise<{ status: number; headers: Headers; text: string; body: any }> {
  const res = await fetch(`${base}/dashboard/api/state`, { headers: key === undefined ? {} : { 'x-api-key': key } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
}

async function createKey(csms: TestCsms, scopes: string[]): Promise<{ id: string; key: string }> {
  const res = await fetch(`${csms.url}/api/v1/api-keys`, {
    method: 'POST',
    headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `dashboard-${scopes.join('-')}`, scopes }),
  });
  assert.equal(res.status, 201);
  const body = (await res.json()) as { id: string; key: string };
  return { id: body.id, key: body.key };
}

/**
 * A Server-Sent Events client (node:http, its own connection: closing it closes the socket, and no
 * pooled connection outlives it): frames parsed, snapshots kept in arrival order.
 */
interface SseClient {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  snapshots: DashboardSnapshot[];
  events: string[];
  comments: string[];
  ended: Promise<void>;
  isEnded(): boolean;
  /** Wait until the latest snapshot, or one arriving from now on, satisfies `pred`. */
  until(pred: (s: DashboardSnapshot) => boolean, what: string): Promise<DashboardSnapshot>;
  close(): void;
}

function openStream(base: string, key: string = KEY): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = httpGet(`${base}/dashboard/api/events`, { agent: false, headers: { 'x-api-key': key, accept: 'text/event-stream' } }, (res) => {
      let ended = false;
      let endedResolve!: () => void;
      const c: SseClient = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: '',
        snapshots: [],
        events: [],
        comments: [],
        ended: new Promise<void>((r) => (endedResolve = r)),
        isEnded: () => ended,
        async until(pred, what) {
          const from = Math.max(0, c.snapshots.length - 1);
          return waitFor(() => c.snapshots.slice(from).find(pred), { what, timeoutMs: LONG });
        },
        close: () => req.destroy(),
      };
      const done = (): void => {
        ended = true;
        endedResolve();
      };
      res.on('close', done);
      res.on('error', done);
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        if (c.status !== 200) {
          c.body += chunk;
          return;
        }
        buf += chunk;
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) c.comments.push(line);
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length === 0 && event === 'message') continue;
          c.events.push(event);
          if (event === 'snapshot') c.snapshots.push(JSON.parse(data.join('\n')) as DashboardSnapshot);
        }
      });
      resolve(c);
    });
    req.on('error', (err) => reject(err));
  });
}

const session = (s: DashboardSnapshot, stationId: string) => s.sessions.find((x) => x.stationId === stationId);
const station = (s: DashboardSnapshot, stationId: string) => s.stations.find((x) => x.id === stationId);

// ── snapshot ─────────────────────────────────────────────────────────────────────────────────

test('snapshot: stations of both versions with EVSEs, a session with power and the limit in force, pairing and outbox backlog; no secret in it', async () => {
  const csms = await startTestCsms();
  const a = uniqueId('DASH16');
  const b = uniqueId('DASH201');
  const cps: SimChargePoint[] = [];
  try {
    cps.push(await charger(csms, a, 'ocpp1.6', 2), await charger(csms, b, 'ocpp2.0.1'));
    // A partner whose SCSP is unreachable (port 9, discard): rows for its station stay pending.
    const secrets = { clientSecret: 'client-secret-XYZ-0123456789', apiKey: 'scsp-api-key-ABC-0123456789', inboundToken: 'inbound-token-QRS-0123456789' };
    await csms.scsp.partners.upsert({
      id: 'scsp-down',
      name: 'Unreachable SCSP',
      baseUrl: 'http://127.0.0.1:9',
      tokenUrl: 'http://127.0.0.1:9/oauth/token',
      clientId: 'cpo',
      payloadProtocol: 'ocpp2.0.1',
      ...secrets,
    });
    await csms.db.kysely
      .insertInto('pairings')
      .values({ station_id: b, partner_id: 'scsp-down', payload_protocol: 'ocpp2.0.1', origin: 'cpo-code', paired_at: new Date().toISOString() })
      .execute();

    const first = await getState(csms.url);
    assert.equal(first.status, 200);
    assert.match(first.headers.get('cache-control') ?? '', /no-store/);
    const s0 = first.body as DashboardSnapshot;
    assert.equal(s0.totals.stations, 2);
    assert.equal(s0.totals.stationsOnline, 2);
    assert.equal(s0.totals.sessions, 0);
    assert.equal(s0.totals.powerW, 0);
    const sa = station(s0, a)!;
    assert.equal(sa.protocol, 'ocpp1.6');
    assert.equal(sa.online, true);
    assert.deepEqual(sa.evses.map((e) => [e.evseId, e.status, e.connectors.length, e.sessionId]), [[1, 'Available', 1, null], [2, 'Available', 1, null]]);
    assert.equal(sa.pairing, null);
    const sb = station(s0, b)!;
    assert.equal(sb.protocol, 'ocpp2.0.1');
    assert.deepEqual(sb.pairing && { partnerId: sb.pairing.partnerId, payloadProtocol: sb.pairing.payloadProtocol }, { partnerId: 'scsp-down', payloadProtocol: 'ocpp2.0.1' });
    assert.deepEqual(s0.outbox.partners.map((p) => [p.partnerId, p.name, p.enabled]), [['scsp-down', 'Unreachable SCSP', true]]);

    // A session on the 2.0.1 station, a reading, then a management limit of 10 A (6.9 kW on 3 × 230 V).
    await cps[1]!.startSession({ evseId: 1, idTag: 'DASHTAG-98765', ev: EV });
    await cps[1]!.sendMeterValues(1);
    const charging = await waitFor(async () => {
      const s = (await getState(csms.url)).body as DashboardSnapshot;
      const x = session(s, b);
      return x && (x.powerW ?? 0) > 20_000 && s.outbox.pending > 0 ? s : undefined;
    }, { what: 'session with power and outbox backlog', timeoutMs: LONG });
    const tx = session(charging, b)!;
    assert.equal(tx.evseId, 1);
    assert.equal(tx.idToken, '…8765', 'id token masked to its last four characters');
    assert.equal(tx.stationOnline, true);
    assert.equal(tx.limit?.basis, 'evse-max', 'no profile yet: the EVSE maximum');
    assert.equal(tx.limit?.limitW, 22_080);
    assert.equal(charging.totals.sessions, 1);
    assert.equal(charging.totals.powerW, tx.powerW);
    assert.equal(station(charging, b)!.evses[0]!.sessionId, tx.id);
    assert.ok(station(charging, b)!.outbox.pending > 0);
    assert.equal(charging.outbox.partners[0]!.pending, charging.outbox.pending);
    assert.ok(charging.outbox.oldestPendingAt !== null);

    const limit = await fetch(`${csms.url}/API/SetChargingLimit/${b}/1/10A`, { headers: { 'X-API-Key': KEY } });
    assert.deepEqual(await limit.json(), { status: 'Accepted' });
    const limited = await waitFor(async () => {
      const x = session((await getState(csms.url)).body as DashboardSnapshot, b);
      return x?.limit?.basis === 'profiles' ? x : undefined;
    }, { what: 'limit from the management profile', timeoutMs: LONG });
    assert.equal(limited.limit!.limitW, 6900);
    assert.deepEqual(limited.limit!.sources, ['management']);
    assert.equal(limited.limit!.stale, false);

    // Whatever the snapshot holds, secrets are not part of it.
    const text = (await getState(csms.url)).text;
    for (const secret of [...Object.values(secrets), KEY, 'DASHTAG-98765']) assert.ok(!text.includes(secret), `snapshot leaks ${secret}`);
  } finally {
    for (const cp of cps) await cp.close().catch(() => undefined);
    await csms.destroy();
  }
});

test('auth: the /api/v1 keys with scope read; missing, wrong and revoked keys are refused', async () => {
  const csms = await startTestCsms();
  try {
    for (const path of ['/dashboard/api/state', '/dashboard/api/events']) {
      const none = await fetch(csms.url + path);
      assert.equal(none.status, 401, path);
      assert.equal(((await none.json()) as { error: string }).error, 'Unauthorized');
      const wrong = await fetch(csms.url + path, { headers: { 'x-api-key': 'not-the-key' } });
      assert.equal(wrong.status, 401, path);
      await wrong.body?.cancel();
    }
    const reader = await createKey(csms, ['read']);
    assert.equal((await getState(csms.url, reader.key)).status, 200, 'X-API-Key with read');
    const bearer = await fetch(`${csms.url}/dashboard/api/state`, { headers: { authorization: `Bearer ${reader.key}` } });
    assert.equal(bearer.status, 200, 'Authorization: Bearer with read');
    await bearer.body?.cancel();
    const revoke = await fetch(`${csms.url}/api/v1/api-keys/${reader.id}`, { method: 'DELETE', headers: { 'x-api-key': KEY } });
    assert.ok(revoke.status < 300);
    assert.equal((await getState(csms.url, reader.key)).status, 401, 'revoked');

    // The page itself carries no data and needs no key; it is locked down by CSP.
    const page = await fetch(`${csms.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    const html = await page.text();
    assert.match(html, /<script type="module" src="\/dashboard\/app.js"><\/script>/);
    assert.ok(!html.includes(KEY));
    const js = await fetch(`${csms.url}/dashboard/app.js`);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.match(await js.text(), /sessionStorage/);
    const css = await fetch(`${csms.url}/dashboard/style.css`);
    assert.match(css.headers.get('content-type') ?? '', /text\/css/);
    await css.body?.cancel();
    for (const p of ['/dashboard/../package.json', '/dashboard/static/app.js', '/dashboard/index.ts']) {
      const r = await fetch(csms.url + p);
      assert.equal(r.status, 404, p);
      await r.body?.cancel();
    }
  } finally {
    await csms.destroy();
  }
});

// ── live stream ──────────────────────────────────────────────────────────────────────────────

test('events: a snapshot on connect, then on status, session start, meter values and session end', async () => {
  const csms = await startTestCsms();
  const id = uniqueId('DASHLIVE');
  let cp: SimChargePoint | undefined;
  const stream = await openStream(csms.url);
  try {
    assert.equal(stream.status, 200);
    const initial = await stream.until(() => true, 'first snapshot');
    assert.equal(initial.totals.stations, 0);

    cp = await charger(csms, id, 'ocpp1.6');
    await stream.until((s) => station(s, id)?.online === true && station(s, id)?.evses[0]?.status === 'Available', 'station online and Available');

    await cp.plugIn(1);
    await stream.until((s) => station(s, id)?.evses[0]?.status === 'Occupied', 'connector Occupied after plug-in');

    await cp.startSession({ evseId: 1, idTag: 'LIVETAG', ev: EV });
    const started = await stream.until((s) => session(s, id) !== undefined, 'session appears');
    assert.equal(started.totals.sessions, 1);
    const before = session(started, id)!.lastMeterAt;

    await cp.sendMeterValues(1);
    const metered = await stream.until((s) => {
      const x = session(s, id);
      return x !== undefined && x.lastMeterAt !== before && (x.powerW ?? 0) > 20_000;
    }, 'meter reading with power');
    assert.equal(metered.totals.powerW, session(metered, id)!.powerW);

    await cp.stopSession(1);
    await stream.until((s) => s.totals.sessions === 0 && s.totals.powerW === 0, 'session ended');
    assert.ok(stream.snapshots.every((s, i) => i === 0 || s.generatedAt >= stream.snapshots[i - 1]!.generatedAt), 'in order');
  } finally {
    stream.close();
    await cp?.close().catch(() => undefined);
    await csms.destroy();
  }
});

test('events: the stream ends when the CSMS stops (no hanging shutdown)', async () => {
  const csms = await startTestCsms();
  const stream = await openStream(csms.url);
  await stream.until(() => true, 'first snapshot');
  assert.equal(csms.dashboard.hub.streamCount, 1);
  await csms.destroy();
  await stream.ended;
  assert.equal(stream.isEnded(), true);
  assert.equal(csms.dashboard.hub.streamCount, 0);
});

test('streams: capped, cleaned up on disconnect, heartbeats; a revoked key is cut off at the next heartbeat', async () => {
  const csms = await startTestCsms();
  // The dashboard plugin on its own server with small bounds, over the CSMS's real database, events and services.
  const http = Fastify({ logger: false });
  installErrorHandlers(http);
  const keys = new ApiKeyAuth({ db: csms.db.kysely, clock: systemClock, bootstrapKey: KEY, onError: () => undefined });
  const dash = registerDashboard(http, {
    db: csms.db.kysely,
    events: csms.events,
    smart: csms.smart,
    balancer: csms.balancer,
    keys,
    clock: systemClock,
    log: silentLogger(),
    nodeId: 'test',
    options: { maxStreams: 2, heartbeatMs: 50 },
  });
  await http.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`;
  const streams: SseClient[] = [];
  try {
    const reader = await createKey(csms, ['read']);
    streams.push(await openStream(base), await openStream(base, reader.key));
    assert.deepEqual(streams.map((s) => s.status), [200, 200]);
    const third = await openStream(base);
    await third.ended;
    assert.equal(third.status, 503);
    assert.equal(third.headers['retry-after'], '10');
    assert.equal((JSON.parse(third.body) as { error: string }).error, 'TooManyStreams');

    await waitFor(() => streams.every((s) => s.comments.some((c) => c.startsWith(': heartbeat'))), { what: 'heartbeats', timeoutMs: LONG });

    // Revoke the second stream's key: the next heartbeat ends it with an `unauthorized` event.
    const revoke = await fetch(`${csms.url}/api/v1/api-keys/${reader.id}`, { method: 'DELETE', headers: { 'x-api-key': KEY } });
    assert.ok(revoke.status < 300);
    await streams[1]!.ended;
    assert.ok(streams[1]!.events.includes('unauthorized'));
    await waitFor(() => dash.hub.streamCount === 1, { what: 'revoked stream removed', timeoutMs: LONG });

    // A client that goes away is removed at once, and its place is free again.
    streams[0]!.close();
    await dash.hub.idle();
    assert.equal(dash.hub.streamCount, 0);
    const again = await openStream(base);
    streams.push(again);
    assert.equal(again.status, 200);
    await again.until(() => true, 'snapshot on the freed place');
  } finally {
    for (const s of streams) s.close();
    await http.close();
    await csms.destroy();
  }
});

test('hub: a burst of changes is coalesced into one build, sent once to every stream; an unchanged build is not sent again', async () => {
  let builds = 0;
  let power = 0;
  const hub = new DashboardHub({
    build: async () => {
      builds++;
      return { generatedAt: new Date().toISOString(), totals: { powerW: power } } as unknown as DashboardSnapshot;
    },
    stillAuthorized: async () => true,
    log: silentLogger(),
    options: { minIntervalMs: 10, refreshMs: 3_600_000, heartbeatMs: 3_600_000 },
  });
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    hub.attach(res, 'k');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: SseClient[] = [];
  try {
    // openStream asks /dashboard/api/events; this server answers any path.
    clients.push(await openStream(base), await openStream(base));
    await waitFor(() => clients.every((c) => c.snapshots.length === 1), { what: 'first snapshot on each stream' });
    const afterConnect = builds;
    power = 7;
    for (let i = 0; i < 100; i++) hub.changed();
    await waitFor(() => clients.every((c) => c.snapshots.length === 2), { what: 'the burst delivered' });
    assert.equal(builds, afterConnect + 1, 'one build for a burst of 100 changes');
    assert.deepEqual(clients.map((c) => c.snapshots[1]!.totals.powerW), [7, 7]);

    // Same content again: built, not sent. Then a real change is sent (and nothing in between was).
    hub.changed();
    await waitFor(() => builds === afterConnect + 2, { what: 'second build' });
    power = 8;
    hub.changed();
    await waitFor(() => clients.every((c) => c.snapshots.length === 3), { what: 'changed content delivered' });
    assert.deepEqual(clients.map((c) => c.snapshots.map((s) => s.totals.powerW)), [[0, 7, 8], [0, 7, 8]]);
  } finally {
    for (const c of clients) c.close();
    hub.close();
    await new Promise((r) => server.close(r));
  }
});

// ── sites ────────────────────────────────────────────────────────────────────────────────────

test('sites: per-phase budget of the last load-balancer tick, allocations and measured draw', async () => {
  const csms = await startTestCsms({ tweak: (c) => (c.commandTimeoutMs = 15_000) });
  const a = uniqueId('DASHSITE');
  let cp: SimChargePoint | undefined;
  try {
    csms.balancer.setSite(parseSites([{ id: 'yard', limit: { perPhaseA: 40, marginA: 2 }, tickS: 1, stations: [{ id: a }] }])[0]!);
    cp = await charger(csms, a, 'ocpp2.0.1');
    await cp.startSession({ evseId: 1, idTag: 'SITETAG', ev: EV });
    const s = await waitFor(async () => {
      const snap = (await getState(csms.url)).body as DashboardSnapshot;
      const site = snap.sites.find((x) => x.id === 'yard');
      return site?.lastTick && site.lastTick.allocations.some((x) => x.stationId === a && x.allocatedA > 0) ? snap : undefined;
    }, { what: 'a tick with an allocation', timeoutMs: LONG });
    const site = s.sites[0]!;
    assert.deepEqual(site.limit, { perPhaseA: { L1: 40, L2: 40, L3: 40 }, marginA: 2 });
    assert.deepEqual(site.stations, [a]);
    assert.equal(station(s, a)!.siteId, 'yard');
    const t = site.lastTick!;
    assert.deepEqual(t.budget.perPhaseA, { L1: 38, L2: 38, L3: 38 });
    const alloc = t.allocations.find((x) => x.stationId === a)!;
    assert.equal(alloc.evseId, 1);
    assert.ok(alloc.allocatedA <= 32);
    for (const ph of ['L1', 'L2', 'L3'] as const) assert.equal(t.allocatedPerPhaseA[ph], alloc.allocatedA, `${ph} carries the 3φ allocation`);
    assert.equal(t.allocatedPhaseA, Math.round(alloc.allocatedA * 3 * 10) / 10);
  } finally {
    await cp?.close().catch(() => undefined);
    await csms.destroy();
  }
});

// ── pure bits and the browser module ─────────────────────────────────────────────────────────

test('id tokens are masked to their last four characters', () => {
  assert.equal(maskToken(null), null);
  assert.equal(maskToken(''), null);
  assert.equal(maskToken('AB'), '…');
  assert.equal(maskToken('ABCD'), '…');
  assert.equal(maskToken('04A2B3C4D5'), '…C4D5');
});

test('the browser module type-checks (strict, checkJs, DOM library)', () => {
  const file = fileURLToPath(new URL('../src/dashboard/static/app.js', import.meta.url));
  const program = ts.createProgram([file], {
    allowJs: true,
    checkJs: true,
    noEmit: true,
    strict: true,
    noUncheckedIndexedAccess: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    moduleDetection: ts.ModuleDetectionKind.Force,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    types: [],
  });
  const diags = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  assert.deepEqual(diags, []);
});
