/**
 * 9. OCPI ChargingProfiles: latency from an SCSP's OCPI `PUT {chargingprofiles}/{session_id}` to the
 * OCPP `SetChargingProfile` frame arriving at the simulated charger.
 *
 * Set-up, all through the server's public interfaces (nothing written into its database):
 * - the bench process runs a minimal OCPI 2.2.1 SCSP (`node:http`): versions and version details
 *   (credentials, sessions RECEIVER, chargingprofiles SENDER), a result endpoint for `response_url`s and
 *   the ActiveChargingProfile endpoint; every call must carry `Token <Base64(token B)>`;
 * - the operator issues a token A (`POST /api/v1/ocpi/partners`), the SCSP registers with it (the OCPI
 *   credentials handshake: GET versions and details with A, POST credentials with B, the CSMS GETs the
 *   SCSP's versions with B and answers with C);
 * - an SCSP partner (`PUT /api/v1/partners/{id}`, `ocpiPartnerId` = that registration, `sessionData:
 *   ocpi`); `stations` simulated OCPP 2.0.1 chargers (src/sim, in the bench process) connect, are paired
 *   through a CPO pairing code (`POST /api/v1/stations/{id}/pairing-codes`, then the SCSP's
 *   `POST /v1/cpo/ocpp2.0.1/pair`) and start one transaction each.
 *
 * Measured, one request at a time at `rateHz`, the sessions in turn (each session is used again only
 * after `stations / rateHz` seconds, more than the default 5 s TOO_OFTEN interval), in alternating rounds:
 * - **OCPI PUT → frame**: `fetch` start → the charger's handler is called with the SetChargingProfile
 *   CALL (the profile id 8001 is checked); also the PUT's own answer (`{ACCEPTED, timeout}`) and the
 *   asynchronous ChargingProfileResult reaching the SCSP's `response_url`;
 * - baseline 1, **OCPI GET round trip**: `GET /ocpi/2.2.1/credentials` with token C (the OCPI stack
 *   alone: token lookup, envelope, headers);
 * - baseline 2, **`/api/v1` set-profile → frame**: `POST /api/v1/stations/{id}/charging-profiles` with
 *   the same TxProfile (the management path to the same SmartChargingService send).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { SimChargePoint, type Amps, type Watts, type WattHours } from '../../src/sim/index.js';
import { BENCH_API_KEY, startAmpline } from '../lib/proc.js';
import { type BenchSection, type TargetRow, table, targetTable } from '../lib/report.js';
import { LatencyRecorder, type LatencySummary, fmt, mapLimit, ms, sleep, withDeadline } from '../lib/stats.js';

export interface OcpiBenchOptions {
  /** Simulated chargers, one session each. */
  stations: number;
  /** Timed requests per route. */
  requests: number;
  /** Untimed requests before the timed ones (per route). */
  warmup: number;
  /** Requests per second (paced, one at a time). */
  rateHz: number;
  /** Rounds the timed requests are split into (routes alternate between rounds). */
  rounds: number;
}

const PHASE_DEADLINE_MS = 180_000;
const INBOUND_TOKEN = `bench-scsp-inbound-${randomUUID()}`;
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** The SCSP side: OCPI versions/details for the handshake, response_url results, ActiveChargingProfile PUTs. */
class BenchScsp {
  url = '';
  readonly tokenB = `bench-token-b-${randomUUID()}`;
  tokenC = '';
  results = new Map<string, { at: number; body: unknown }>();
  private waiters = new Map<string, (v: { at: number; body: unknown }) => void>();
  activePuts = 0;
  refused = 0;
  private server: Server | undefined;

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const at = performance.now();
    const text = Buffer.concat(chunks).toString('utf8');
    const env = (data?: unknown) => ({ ...(data !== undefined ? { data } : {}), status_code: 1000, timestamp: new Date().toISOString() });
    if (req.headers.authorization !== `Token ${b64(this.tokenB)}`) {
      this.refused++;
      return this.send(res, 401, { status_code: 2000, status_message: 'Unauthorized', timestamp: new Date().toISOString() });
    }
    const url = req.url ?? '/';
    if (req.method === 'GET' && url === '/ocpi/versions') return this.send(res, 200, env([{ version: '2.2.1', url: `${this.url}/ocpi/2.2.1` }]));
    if (req.method === 'GET' && url === '/ocpi/2.2.1') {
      return this.send(
        res,
        200,
        env({
          version: '2.2.1',
          endpoints: [
            { identifier: 'credentials', role: 'SENDER', url: `${this.url}/ocpi/2.2.1/credentials` },
            { identifier: 'sessions', role: 'RECEIVER', url: `${this.url}/ocpi/2.2.1/sessions` },
            { identifier: 'chargingprofiles', role: 'SENDER', url: `${this.url}/ocpi/2.2.1/chargingprofiles` },
          ],
        }),
      );
    }
    if (req.method === 'POST' && url.startsWith('/results/')) {
      const v = { at, body: text ? (JSON.parse(text) as unknown) : undefined };
      this.results.set(url, v);
      this.waiters.get(url)?.(v);
      this.waiters.delete(url);
      return this.send(res, 200, env());
    }
    if (req.method === 'PUT' && url.startsWith('/ocpi/2.2.1/chargingprofiles/')) this.activePuts++;
    // Sessions PUT/PATCH, ActiveChargingProfile PUT: accepted.
    return this.send(res, 200, env());
  }

  /** Resolves when the result for this path + query has arrived. */
  result(pathAndQuery: string): Promise<{ at: number; body: unknown }> {
    const hit = this.results.get(pathAndQuery);
    if (hit) return Promise.resolve(hit);
    return new Promise((r) => this.waiters.set(pathAndQuery, r));
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

interface Session {
  stationId: string;
  sessionId: string;
  ocppTxId: string;
  cp: SimChargePoint;
}

async function json(res: Response): Promise<any> {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/** Frames each charger received: the next SetChargingProfile for a station resolves its waiter. */
class FrameWatch {
  private waiters = new Map<string, (v: { at: number; payload: any }) => void>();
  frames = 0;
  onFrame(stationId: string, payload: unknown): void {
    const at = performance.now();
    this.frames++;
    const w = this.waiters.get(stationId);
    this.waiters.delete(stationId);
    w?.({ at, payload });
  }
  next(stationId: string): Promise<{ at: number; payload: any }> {
    return new Promise((r) => this.waiters.set(stationId, r));
  }
}

interface Series {
  route: string;
  frame?: LatencyRecorder;
  http: LatencyRecorder;
  result?: LatencyRecorder;
  errors: number;
}

export async function ocpiBenchmark(o: OcpiBenchOptions, log: (s: string) => void): Promise<BenchSection> {
  const t0 = performance.now();
  const errorSamples: string[] = [];
  const noteErr = (what: string) => {
    if (errorSamples.length < 6) errorSamples.push(what.slice(0, 200));
  };
  const scsp = new BenchScsp();
  await scsp.start();
  const srv = await startAmpline();
  const sims: SimChargePoint[] = [];
  const frames = new FrameWatch();
  const ocpiSeries: Series = { route: 'OCPI `PUT /ocpi/2.2.1/chargingprofiles/{session_id}`', frame: new LatencyRecorder(), http: new LatencyRecorder(), result: new LatencyRecorder(), errors: 0 };
  const getSeries: Series = { route: 'OCPI `GET /ocpi/2.2.1/credentials` (baseline 1)', http: new LatencyRecorder(), errors: 0 };
  const apiSeries: Series = { route: '`POST /api/v1/stations/{id}/charging-profiles` (baseline 2)', frame: new LatencyRecorder(), http: new LatencyRecorder(), errors: 0 };
  let cpu = { ocpi: 0, get: 0, api: 0 };
  let setupS = NaN;
  try {
    const admin = (method: string, path: string, body?: unknown) =>
      fetch(`${srv.httpUrl}${path}`, {
        method,
        headers: { 'x-api-key': BENCH_API_KEY, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    const ts = performance.now();

    // OCPI registration: token A from the operator, then the SCSP's credentials handshake.
    const issued = await json(await admin('POST', '/api/v1/ocpi/partners', { id: 'bench-scsp', name: 'Bench SCSP' }));
    if (!issued?.tokenA) throw new Error(`token A not issued: ${JSON.stringify(issued)}`);
    const withA = { authorization: `Token ${b64(issued.tokenA as string)}` };
    const versions = await json(await fetch(issued.versionsUrl as string, { headers: withA }));
    const v221 = (versions.data as Array<{ version: string; url: string }>).find((v) => v.version === '2.2.1')!;
    const details = await json(await fetch(v221.url, { headers: withA }));
    const credentialsUrl = (details.data.endpoints as Array<{ identifier: string; url: string }>).find((e) => e.identifier === 'credentials')!.url;
    const post = await json(
      await fetch(credentialsUrl, {
        method: 'POST',
        headers: { ...withA, 'content-type': 'application/json' },
        body: JSON.stringify({ token: scsp.tokenB, url: `${scsp.url}/ocpi/versions`, roles: [{ role: 'SCSP', party_id: 'BNC', country_code: 'NL', business_details: { name: 'Bench SCSP' } }] }),
      }),
    );
    if (post?.status_code !== 1000) throw new Error(`credentials POST failed: ${JSON.stringify(post)}`);
    scsp.tokenC = post.data.token as string;
    const cpEndpoint = (details.data.endpoints as Array<{ identifier: string; role: string; url: string }>).find((e) => e.identifier === 'chargingprofiles' && e.role === 'RECEIVER');
    if (!cpEndpoint) throw new Error('the CSMS lists no chargingprofiles RECEIVER endpoint');

    // The SCSP partner of the pairing, linked to the OCPI registration.
    const partner = await admin('PUT', '/api/v1/partners/bench-scsp', {
      name: 'Bench SCSP',
      baseUrl: scsp.url,
      tokenUrl: `${scsp.url}/token`,
      clientId: 'bench',
      clientSecret: 'bench-secret-0123456789',
      apiKey: 'bench-api-key',
      payloadProtocol: 'ocpp2.0.1',
      inboundToken: INBOUND_TOKEN,
      ocpiPartnerId: 'bench-scsp',
      sessionData: 'ocpi',
    });
    if (!partner.ok) throw new Error(`SCSP partner: HTTP ${partner.status} ${await partner.text()}`);

    // Chargers: connect, pair (CPO code → SCSP's /pair), start a session.
    const ids = Array.from({ length: o.stations }, (_, i) => `OCPI-BENCH-${String(i).padStart(4, '0')}`);
    const sessions = await withDeadline(
      mapLimit(ids, 16, async (id): Promise<Session> => {
        const cp = new SimChargePoint({
          url: srv.ocppUrl,
          identity: id,
          protocol: 'ocpp2.0.1',
          evses: [{ id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 32 as Amps }] }],
          meterIntervalS: 0,
          reconnect: false,
          responder: (action, payload) => {
            if (action === 'SetChargingProfile') frames.onFrame(id, payload);
            return undefined;
          },
        });
        sims.push(cp);
        await cp.connect();
        let code: string | undefined;
        for (let attempt = 0; attempt < 50 && !code; attempt++) {
          const r = await admin('POST', `/api/v1/stations/${id}/pairing-codes`, {});
          if (r.status === 201) code = (await json(r)).code as string;
          else await sleep(100); // 409 NoEvsesKnown until the StatusNotifications are stored
        }
        if (!code) throw new Error(`${id}: no pairing code`);
        const paired = await fetch(`${srv.httpUrl}/v1/cpo/ocpp2.0.1/pair`, {
          method: 'POST',
          headers: { authorization: `Bearer ${INBOUND_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ code }),
        });
        if (paired.status !== 200) throw new Error(`${id}: pair → HTTP ${paired.status} ${await paired.text()}`);
        await cp.startSession({ evseId: 1, idTag: `BENCH-${id}`, ev: { batteryWh: 80_000 as WattHours, socPercent: 10, maxPowerW: 22_000 as Watts, phases: 3 } });
        for (let attempt = 0; attempt < 100; attempt++) {
          const tx = await json(await admin('GET', `/api/v1/transactions?stationId=${encodeURIComponent(id)}&state=active`));
          const row = tx?.data?.[0] as { id: string; ocppTransactionId: string } | undefined;
          if (row) return { stationId: id, sessionId: row.id, ocppTxId: row.ocppTransactionId, cp };
          await sleep(50);
        }
        throw new Error(`${id}: no active transaction`);
      }),
      PHASE_DEADLINE_MS,
      'chargers, pairing and sessions',
    );
    setupS = (performance.now() - ts) / 1000;
    log(`  ocpi: ${sessions.length} paired chargers with a session in ${fmt(setupS, 1)} s`);

    const ocpiBase = cpEndpoint.url;
    const withC = { authorization: `Token ${b64(scsp.tokenC)}` };
    let ocpiIndex = 0;
    let apiIndex = 0;

    const ocpiOne = async (rec: boolean): Promise<void> => {
      const n = ocpiIndex++;
      const s = sessions[n % sessions.length]!;
      const path = `/results/${n}?request_id=${n}`;
      const limit = 7000 + (n % 20) * 100;
      const body = { charging_profile: { charging_rate_unit: 'W', charging_profile_period: [{ start_period: 0, limit }] }, response_url: `${scsp.url}${path}` };
      const frame = frames.next(s.stationId);
      const result = scsp.result(path);
      const start = performance.now();
      const res = await fetch(`${ocpiBase}/${s.sessionId}`, { method: 'PUT', headers: { ...withC, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const answer = await json(res);
      const httpMs = performance.now() - start;
      if (answer?.data?.result !== 'ACCEPTED') {
        ocpiSeries.errors += rec ? 1 : 0;
        noteErr(`OCPI PUT ${s.sessionId}: ${JSON.stringify(answer)}`);
        return;
      }
      const [f, r] = await withDeadline(Promise.all([frame, result]), 30_000, 'frame and result');
      const p = f.payload as { evseId?: number; chargingProfile?: { id?: number; chargingSchedule?: Array<{ chargingSchedulePeriod?: Array<{ limit?: number }> }> } };
      const ok = p.chargingProfile?.id === 8001 && p.chargingProfile.chargingSchedule?.[0]?.chargingSchedulePeriod?.[0]?.limit === limit && (r.body as { result?: string })?.result === 'ACCEPTED';
      if (!ok) {
        if (rec) ocpiSeries.errors++;
        noteErr(`OCPI PUT ${s.sessionId}: frame ${JSON.stringify(p).slice(0, 120)} result ${JSON.stringify(r.body)}`);
        return;
      }
      if (rec) {
        ocpiSeries.frame!.add(f.at - start);
        ocpiSeries.http.add(httpMs);
        ocpiSeries.result!.add(r.at - start);
      }
    };
    const getOne = async (rec: boolean): Promise<void> => {
      const start = performance.now();
      const res = await fetch(credentialsUrl, { headers: withC });
      const answer = await json(res);
      const took = performance.now() - start;
      if (res.status !== 200 || answer?.status_code !== 1000) {
        if (rec) getSeries.errors++;
        noteErr(`GET credentials: HTTP ${res.status} ${JSON.stringify(answer).slice(0, 120)}`);
        return;
      }
      if (rec) getSeries.http.add(took);
    };
    const apiOne = async (rec: boolean): Promise<void> => {
      const n = apiIndex++;
      const s = sessions[n % sessions.length]!;
      const limit = 7000 + (n % 20) * 100;
      const profile = {
        evseId: 1,
        id: 8001,
        stackLevel: 1,
        chargingProfilePurpose: 'TxProfile',
        chargingProfileKind: 'Relative',
        transactionId: s.ocppTxId,
        chargingSchedule: [{ id: 1, chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit }] }],
      };
      const frame = frames.next(s.stationId);
      const start = performance.now();
      const res = await admin('POST', `/api/v1/stations/${encodeURIComponent(s.stationId)}/charging-profiles`, profile);
      const answer = await json(res);
      const httpMs = performance.now() - start;
      if (res.status !== 200 || answer?.status !== 'Accepted') {
        if (rec) apiSeries.errors++;
        noteErr(`/api/v1 set-profile ${s.stationId}: HTTP ${res.status} ${JSON.stringify(answer).slice(0, 160)}`);
        return;
      }
      const f = await withDeadline(frame, 30_000, 'frame');
      if (rec) {
        apiSeries.frame!.add(f.at - start);
        apiSeries.http.add(httpMs);
      }
    };

    /** `count` requests, paced at rateHz, one at a time. */
    const paced = async (count: number, one: (rec: boolean) => Promise<void>, rec: boolean): Promise<void> => {
      const gap = 1000 / o.rateHz;
      let next = performance.now();
      for (let i = 0; i < count; i++) {
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        next = Math.max(next + gap, performance.now());
        try {
          await one(rec);
        } catch (err) {
          noteErr(String((err as Error)?.message ?? err));
        }
      }
    };

    // Warm-up (untimed): every route's code paths compiled, connections open.
    await withDeadline(
      (async () => {
        await paced(o.warmup, ocpiOne, false);
        await paced(o.warmup, getOne, false);
        await paced(o.warmup, apiOne, false);
      })(),
      PHASE_DEADLINE_MS,
      'warm-up',
    );
    // Timed, in alternating rounds.
    const per = Math.ceil(o.requests / o.rounds);
    for (let r = 0; r < o.rounds; r++) {
      const c0 = srv.cpuSeconds();
      await withDeadline(paced(per, ocpiOne, true), PHASE_DEADLINE_MS, 'OCPI round');
      const c1 = srv.cpuSeconds();
      await withDeadline(paced(per, getOne, true), PHASE_DEADLINE_MS, 'GET round');
      const c2 = srv.cpuSeconds();
      await withDeadline(paced(per, apiOne, true), PHASE_DEADLINE_MS, '/api/v1 round');
      const c3 = srv.cpuSeconds();
      cpu = { ocpi: cpu.ocpi + (c1 - c0), get: cpu.get + (c2 - c1), api: cpu.api + (c3 - c2) };
      log(`  ocpi: round ${r + 1}/${o.rounds} done`);
    }
  } finally {
    await Promise.all(sims.map((cp) => cp.close().catch(() => undefined)));
    await srv.stop();
    srv.removeDataDir();
    await scsp.stop();
  }

  const sum = (rec: LatencyRecorder | undefined): LatencySummary | undefined => rec?.summary();
  const ocpiFrame = sum(ocpiSeries.frame)!;
  const ocpiHttp = sum(ocpiSeries.http)!;
  const ocpiResult = sum(ocpiSeries.result)!;
  const getHttp = sum(getSeries.http)!;
  const apiFrame = sum(apiSeries.frame)!;
  const apiHttp = sum(apiSeries.http)!;
  const n = (s: Series) => s.http.count;
  const cpuPer = (cpuS: number, s: Series) => (n(s) > 0 ? `${fmt((cpuS / (n(s) + 0)) * 1e6)} µs` : 'n/a');
  log(
    `  ocpi: PUT → frame p50 ${ms(ocpiFrame.p50)} p99 ${ms(ocpiFrame.p99)}; PUT answer p50 ${ms(ocpiHttp.p50)} p99 ${ms(ocpiHttp.p99)}; result POST p50 ${ms(ocpiResult.p50)} p99 ${ms(ocpiResult.p99)}; ` +
      `GET baseline p50 ${ms(getHttp.p50)} p99 ${ms(getHttp.p99)}; /api/v1 → frame p50 ${ms(apiFrame.p50)} p99 ${ms(apiFrame.p99)}; errors ${ocpiSeries.errors + getSeries.errors + apiSeries.errors}`,
  );
  const errors = ocpiSeries.errors + getSeries.errors + apiSeries.errors;
  const targets: TargetRow[] = [
    { metric: 'OCPI PUT → OCPP SetChargingProfile frame at the charger: p99', measured: ms(ocpiFrame.p99), target: '< 20 ms', met: ocpiFrame.count > 0 && ocpiFrame.p99 < 20 },
    { metric: 'OCPI PUT → frame: p50', measured: ms(ocpiFrame.p50), target: '(reported)', met: undefined },
    { metric: 'OCPI PUT answer `{ACCEPTED, timeout}`: p50 / p99', measured: `${ms(ocpiHttp.p50)} / ${ms(ocpiHttp.p99)}`, target: '(reported)', met: undefined },
    { metric: 'OCPI PUT → ChargingProfileResult at the response_url: p50 / p99', measured: `${ms(ocpiResult.p50)} / ${ms(ocpiResult.p99)}`, target: '(reported)', met: undefined },
    { metric: 'Baseline 1, OCPI GET credentials round trip: p50 / p99', measured: `${ms(getHttp.p50)} / ${ms(getHttp.p99)}`, target: '(reported)', met: undefined },
    { metric: 'Baseline 2, `/api/v1` set-profile → frame: p50 / p99', measured: `${ms(apiFrame.p50)} / ${ms(apiFrame.p99)}`, target: '(reported)', met: undefined },
    { metric: 'Errors (not ACCEPTED, wrong frame or result, HTTP errors)', measured: String(errors), target: '0', met: errors === 0 },
  ];
  const row = (s: Series, what: string, l: LatencySummary | undefined, cpuS: number) =>
    l ? [s.route, what, fmt(l.count), ms(l.p50), ms(l.p90), ms(l.p99), ms(l.max), cpuPer(cpuS, s), String(s.errors)] : [s.route, what, '0', '', '', '', '', '', String(s.errors)];
  const body = [
    `One OCPI 2.2.1 SCSP (a \`node:http\` server in the bench process) registered with the CSMS through the credentials handshake (token A from ` +
      `\`POST /api/v1/ocpi/partners\`, then versions/details/POST credentials), an SCSP partner linked to it (\`ocpiPartnerId\`, \`sessionData: ocpi\`), ` +
      `and ${fmt(o.stations)} simulated OCPP 2.0.1 chargers (src/sim, in the bench process; one 3 × 32 A EVSE each) paired through a CPO pairing code ` +
      `and charging one session each (set-up ${fmt(setupS, 1)} s). Requests go one at a time, paced at ${o.rateHz}/s, sessions in turn (a session is ` +
      `used again after ${fmt(o.stations / o.rateHz, 1)} s, beyond the default 5 s TOO_OFTEN interval); ${fmt(o.requests)} timed requests per route after ` +
      `${o.warmup} untimed ones, in ${o.rounds} rounds alternating the three routes. **PUT → frame** = \`fetch()\` start → the charger's CALL handler ` +
      `is invoked with the SetChargingProfile (TxProfile 8001 with the limit sent, checked). Each PUT also makes the CSMS push an ActiveChargingProfile ` +
      `to the SCSP after the 1 s debounce (background work during the run, not timed). Baseline 1 is the OCPI stack alone ` +
      `(\`GET /ocpi/2.2.1/credentials\` with token C). Baseline 2 sends the same TxProfile through \`POST /api/v1/stations/{id}/charging-profiles\` ` +
      `(answers after the charger's CALLRESULT). Server CPU per request is the child's CPU time over a route's rounds ÷ its requests (the ` +
      `asynchronous result POST and ActiveChargingProfile pushes land partly in the next route's window).`,
    '',
    targetTable(targets),
    '',
    table(
      ['Route', 'Measured', 'Requests', 'p50', 'p90', 'p99', 'max', 'Server CPU / request', 'Errors'],
      [
        row(ocpiSeries, 'PUT → SetChargingProfile frame', ocpiFrame, cpu.ocpi),
        row(ocpiSeries, 'PUT answer (`{ACCEPTED, timeout}`)', ocpiHttp, cpu.ocpi),
        row(ocpiSeries, 'PUT → ChargingProfileResult POST', ocpiResult, cpu.ocpi),
        row(getSeries, 'round trip', getHttp, cpu.get),
        row(apiSeries, 'POST → SetChargingProfile frame', apiFrame, cpu.api),
        row(apiSeries, 'HTTP answer (after the CALLRESULT)', apiHttp, cpu.api),
      ],
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    `SetChargingProfile frames received by the chargers: ${fmt(frames.frames)}; ActiveChargingProfile PUTs received by the SCSP: ${fmt(scsp.activePuts)}; ` +
      `SCSP calls refused for a wrong token: ${fmt(scsp.refused)}.`,
    ...(errorSamples.length ? ['', `Error samples: ${errorSamples.map((e) => `\`${e}\``).join(', ')}`] : []),
  ].join('\n');
  return { name: 'ocpi', title: '9. OCPI ChargingProfiles: PUT → OCPP frame', targets, body, durationS: (performance.now() - t0) / 1000 };
}
