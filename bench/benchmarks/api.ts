/**
 * 5. REST API: command round trip to a charger, and `/API/Status` with many connected stations.
 *
 * Part 1: one OCPP 1.6 station (a plain ocpp-rpc client in this process) answers `Reset` with
 * `{status: 'Accepted'}` at once. `commandCalls` HTTP requests are timed one after the other, then the
 * same number again with `concurrency` in flight, for the OCPP.Core route `GET /API/Reset/{station}`
 * (seed 003) and for `POST /api/v1/stations/{id}/commands/Reset` `{"payload":{"type":"Soft"}}`. Each
 * request's latency covers the whole HTTP → CSMS → WebSocket CALL → station → CALLRESULT → HTTP answer
 * path, body read included. Afterwards the number of Resets the station received is checked.
 *
 * Part 2 (fresh child): `stations` OCPP 1.6 stations connect and send BootNotification,
 * StatusNotification for connectors 1 and 2 and one MeterValues each; then `statusCalls` sequential
 * `GET /API/Status` calls are timed and the answer checked to list every station with both connectors
 * and its meter figures. HTTP is Node's global fetch (undici, keep-alive), loopback only.
 */
import { type Client, MeterState, boot16, closeAll, connectStation, meterValue16, status16 } from '../lib/load.js';
import { connectMany } from '../lib/loop.js';
import { BENCH_API_KEY, type ServerChild, startAmpline } from '../lib/proc.js';
import { type BenchSection, type TargetRow, table, targetTable } from '../lib/report.js';
import { LatencyRecorder, type LatencySummary, fmt, mapLimit, ms, withDeadline } from '../lib/stats.js';

export interface ApiOptions {
  /** HTTP command calls per route and mode (sequential, then concurrent). */
  commandCalls: number;
  /** Requests in flight in the concurrent mode. */
  concurrency: number;
  /** Untimed calls before each timed series. */
  warmupCalls: number;
  /** Connected stations for the /API/Status measurement. */
  stations: number;
  statusCalls: number;
}

const PHASE_DEADLINE_MS = 120_000;

interface Series {
  route: string;
  mode: string;
  latency: LatencySummary;
  perSecond: number;
  errors: number;
  serverCpuUsPerCall: number;
}

/** One timed HTTP request; resolves with its latency (ms) and body text, or rejects on a non-2xx answer. */
async function timedRequest(url: string, init: RequestInit): Promise<{ ms: number; text: string; res: Response }> {
  const t = performance.now();
  const res = await fetch(url, init);
  const text = await res.text();
  const took = performance.now() - t;
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  return { ms: took, text, res };
}

export async function apiBenchmark(o: ApiOptions, log: (s: string) => void): Promise<BenchSection> {
  const t0 = performance.now();
  const errorSamples: string[] = [];
  const noteErr = (err: unknown) => {
    if (errorSamples.length < 5) errorSamples.push(String((err as Error)?.message ?? err).slice(0, 200));
  };

  // ---- Part 1: command round trip ----
  const series: Series[] = [];
  let resetsReceived = 0;
  let resetsExpected = 0;
  {
    const srv = await startAmpline();
    let station: Client | undefined;
    try {
      const id = 'API-RESET-1';
      station = await connectStation(srv.ocppUrl, id, 'ocpp1.6');
      station.handle('Reset', () => {
        resetsReceived++;
        return { status: 'Accepted' };
      });
      await station.call('BootNotification', boot16());
      await station.call('StatusNotification', status16(1));

      const routes: Array<{ route: string; url: string; init: RequestInit; check: (body: unknown) => boolean }> = [
        {
          route: '`GET /API/Reset/{station}` (OCPP.Core)',
          url: `${srv.httpUrl}/API/Reset/${encodeURIComponent(id)}`,
          init: { method: 'GET', headers: { 'X-API-Key': BENCH_API_KEY } },
          check: (b) => (b as { status?: string }).status === 'Accepted',
        },
        {
          route: '`POST /api/v1/stations/{id}/commands/Reset`',
          url: `${srv.httpUrl}/api/v1/stations/${encodeURIComponent(id)}/commands/Reset`,
          init: {
            method: 'POST',
            headers: { 'X-API-Key': BENCH_API_KEY, 'content-type': 'application/json' },
            body: JSON.stringify({ payload: { type: 'Soft' } }),
          },
          check: (b) => {
            const x = b as { status?: string; response?: { status?: string } };
            return x.status === 'Answered' && x.response?.status === 'Accepted';
          },
        },
      ];

      for (const r of routes) {
        for (const conc of [1, o.concurrency]) {
          const one = async (rec?: LatencyRecorder): Promise<boolean> => {
            resetsExpected++;
            try {
              const { ms: took, text } = await timedRequest(r.url, r.init);
              if (!r.check(JSON.parse(text))) throw new Error(`unexpected answer ${text.slice(0, 200)}`);
              rec?.add(took);
              return true;
            } catch (err) {
              noteErr(err);
              return false;
            }
          };
          // Warm-up (untimed): connections opened, code paths compiled.
          await withDeadline(mapLimit(Array.from({ length: o.warmupCalls }), conc, () => one()), PHASE_DEADLINE_MS, 'command warm-up');
          const rec = new LatencyRecorder();
          const cpu0 = srv.cpuSeconds();
          const tw = performance.now();
          const oks = await withDeadline(mapLimit(Array.from({ length: o.commandCalls }), conc, () => one(rec)), PHASE_DEADLINE_MS, 'command series');
          const wallS = (performance.now() - tw) / 1000;
          const cpuS = srv.cpuSeconds() - cpu0;
          const s: Series = {
            route: r.route,
            mode: conc === 1 ? 'sequential' : `${conc} concurrent`,
            latency: rec.summary(),
            perSecond: rec.count / wallS,
            errors: oks.filter((x) => !x).length,
            serverCpuUsPerCall: (cpuS / o.commandCalls) * 1e6,
          };
          series.push(s);
          log(
            `  api: ${r.route.replace(/`/g, '').split(' (')[0]} ${s.mode}: p50 ${ms(s.latency.p50)}  p99 ${ms(s.latency.p99)}  ${fmt(s.perSecond)} req/s  ` +
              `server CPU ${fmt(s.serverCpuUsPerCall)} µs/call  errors ${s.errors}`,
          );
        }
      }
    } finally {
      await closeAll([station]);
      await srv.stop();
      srv.removeDataDir();
    }
  }

  // ---- Part 2: /API/Status with many stations ----
  let statusLat: LatencySummary;
  let statusBytes = 0;
  let statusErrors = 0;
  let listed = 0;
  let complete = 0;
  let statusCpuMsPerCall = NaN;
  let setupS = NaN;
  {
    const srv: ServerChild = await startAmpline();
    let clients: Client[] = [];
    try {
      const ids = Array.from({ length: o.stations }, (_, i) => `API-ST-${String(i).padStart(5, '0')}`);
      const ts = performance.now();
      clients = await withDeadline(connectMany(srv.ocppUrl, ids, 'ocpp1.6', 50), PHASE_DEADLINE_MS, 'connecting');
      await withDeadline(
        mapLimit(clients, 50, async (c) => {
          await c.call('BootNotification', boot16());
          await c.call('StatusNotification', status16(1));
          await c.call('StatusNotification', status16(2));
          await c.call('MeterValues', { connectorId: 1, meterValue: [meterValue16(new MeterState())] });
        }),
        PHASE_DEADLINE_MS,
        'boot, status and meter set-up',
      );
      setupS = (performance.now() - ts) / 1000;

      const url = `${srv.httpUrl}/API/Status`;
      const init: RequestInit = { method: 'GET', headers: { 'X-API-Key': BENCH_API_KEY } };
      // Warm-up (untimed) and the content check on its answer.
      const first = await withDeadline(timedRequest(url, init), PHASE_DEADLINE_MS, '/API/Status');
      statusBytes = Buffer.byteLength(first.text, 'utf8');
      const body = JSON.parse(first.text) as Array<{ id: string; OnlineConnectors: Record<string, { MeterKWH: number | null }> }>;
      const want = new Set(ids);
      listed = body.filter((s) => want.has(s.id)).length;
      complete = body.filter((s) => want.has(s.id) && s.OnlineConnectors['1']?.MeterKWH != null && s.OnlineConnectors['2'] !== undefined).length;
      if (body.length !== o.stations) noteErr(new Error(`/API/Status listed ${body.length} stations, expected ${o.stations}`));
      for (let i = 0; i < Math.min(4, o.warmupCalls); i++) await timedRequest(url, init);

      const rec = new LatencyRecorder();
      const cpu0 = srv.cpuSeconds();
      const run = async () => {
        for (let i = 0; i < o.statusCalls; i++) {
          try {
            const r = await timedRequest(url, init);
            rec.add(r.ms);
          } catch (err) {
            statusErrors++;
            noteErr(err);
          }
        }
      };
      await withDeadline(run(), PHASE_DEADLINE_MS, '/API/Status series');
      statusCpuMsPerCall = ((srv.cpuSeconds() - cpu0) / o.statusCalls) * 1000;
      statusLat = rec.summary();
      log(
        `  api: /API/Status with ${fmt(o.stations)} stations: p50 ${ms(statusLat.p50)}  p99 ${ms(statusLat.p99)}  ${fmt(statusBytes / 1024, 1)} KiB  ` +
          `listed ${listed}/${o.stations} (complete ${complete})  errors ${statusErrors}`,
      );
    } finally {
      await closeAll(clients);
      await srv.stop();
      srv.removeDataDir();
    }
  }

  const cmdErrors = series.reduce((a, s) => a + s.errors, 0);
  const targets: TargetRow[] = [
    ...series.flatMap((s): TargetRow[] => [
      {
        metric: `${s.route.split(' (')[0]}, ${s.mode}: p50 / p99`,
        measured: `${ms(s.latency.p50)} / ${ms(s.latency.p99)}`,
        target: '(reported)',
        met: undefined,
      },
      { metric: `${s.route.split(' (')[0]}, ${s.mode}: requests/s`, measured: fmt(s.perSecond), target: '(reported)', met: undefined },
    ]),
    { metric: 'Resets received by the station = HTTP commands sent', measured: `${fmt(resetsReceived)} / ${fmt(resetsExpected)}`, target: 'equal', met: resetsReceived === resetsExpected },
    {
      metric: `\`GET /API/Status\` with ${fmt(o.stations)} stations: p50 / p99`,
      measured: `${ms(statusLat!.p50)} / ${ms(statusLat!.p99)}`,
      target: '(reported)',
      met: undefined,
    },
    { metric: '`GET /API/Status` response size', measured: `${fmt(statusBytes / 1024, 1)} KiB (${fmt(statusBytes)} bytes)`, target: '(reported)', met: undefined },
    {
      metric: '`GET /API/Status` lists every station with connectors 1, 2 and meter figures',
      measured: `${fmt(listed)} listed, ${fmt(complete)} complete`,
      target: `${fmt(o.stations)}`,
      met: listed === o.stations && complete === o.stations,
    },
    { metric: 'Errors', measured: String(cmdErrors + statusErrors), target: '0', met: cmdErrors + statusErrors === 0 },
  ];

  const body = [
    `**Command round trip.** One OCPP 1.6 station (an ocpp-rpc client in the bench process, booted, connector 1 Available) answers ` +
      `\`Reset\` with \`{status: 'Accepted'}\` immediately. For each route, ${fmt(o.commandCalls)} requests are timed one after the other, ` +
      `then ${fmt(o.commandCalls)} with ${o.concurrency} in flight (each series after ${o.warmupCalls} untimed warm-up requests): ` +
      `\`GET /API/Reset/{station}\` (OCPP.Core API, header \`X-API-Key\` = AMPLINE_API_KEY; answer \`{"status":"Accepted"}\`) and ` +
      `\`POST /api/v1/stations/{id}/commands/Reset\` with \`{"payload":{"type":"Soft"}}\` (generic command route: schema validation, ` +
      `answer \`{"status":"Answered",…,"response":{"status":"Accepted"}}\`). Latency = \`fetch()\` until the response body is read ` +
      `(HTTP → CSMS → WebSocket CALL → station → CALLRESULT → HTTP answer); requests/s = timed requests ÷ series wall time. ` +
      `The CSMS keeps one outstanding CALL per station (OCPP-J), so the concurrent requests queue for the single station's WebSocket: ` +
      `the concurrent figures show queueing, not parallel chargers. HTTP is Node's global \`fetch\` (undici, keep-alive) over loopback.`,
    '',
    `**\`/API/Status\` with ${fmt(o.stations)} stations** (fresh child). ${fmt(o.stations)} OCPP 1.6 stations connect (at most 50 handshakes at once) ` +
      `and each sends BootNotification, StatusNotification for connectors 1 and 2 and one MeterValues (connector 1, ten sampled values, ` +
      `no transaction); set-up took ${fmt(setupS, 1)} s. Then, after untimed warm-up requests, ${fmt(o.statusCalls)} sequential ` +
      `\`GET /API/Status\` requests are timed while all stations stay connected and idle. The first answer is checked: it must list ` +
      `exactly the ${fmt(o.stations)} stations, each with connectors 1 and 2 and connector 1's meter figures.`,
    '',
    targetTable(targets),
    '',
    table(
      ['Route', 'Mode', 'Requests', 'p50', 'p90', 'p99', 'max', 'Requests/s', 'Server CPU / request', 'Errors'],
      series.map((s) => [
        s.route,
        s.mode,
        fmt(s.latency.count),
        ms(s.latency.p50),
        ms(s.latency.p90),
        ms(s.latency.p99),
        ms(s.latency.max),
        fmt(s.perSecond),
        `${fmt(s.serverCpuUsPerCall)} µs`,
        String(s.errors),
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    table(
      ['Stations', 'Requests', 'p50', 'p90', 'p99', 'max', 'Response size', 'Server CPU / request'],
      [
        [
          fmt(o.stations),
          fmt(statusLat!.count),
          ms(statusLat!.p50),
          ms(statusLat!.p90),
          ms(statusLat!.p99),
          ms(statusLat!.max),
          `${fmt(statusBytes)} bytes`,
          `${fmt(statusCpuMsPerCall, 1)} ms`,
        ],
      ],
      ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    ...(errorSamples.length ? ['', `Error samples: ${errorSamples.map((e) => `\`${e}\``).join(', ')}`] : []),
  ].join('\n');
  return { name: 'api', title: '5. REST API: command round trip and /API/Status', targets, body, durationS: (performance.now() - t0) / 1000 };
}
