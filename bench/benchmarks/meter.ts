/**
 * 2. MeterValues persisted per second.
 *
 * Half the stations speak OCPP 1.6 (Boot, StartTransaction, then MeterValues with the transactionId),
 * half OCPP 2.0.1 (Boot, TransactionEvent Started, then TransactionEvent Updated carrying meterValue).
 * Every message carries one meter value with SAMPLES_PER_MESSAGE sampled values. Closed loop, one
 * CALL in flight per station. Afterwards the child is stopped gracefully and its SQLite file is
 * opened read-only to check that every acknowledged message was persisted, sample for sample.
 */
import { join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { type Client, MeterState, SAMPLES_PER_MESSAGE, boot16, boot201, closeAll, meterValue16, meterValue201, nowIso } from '../lib/load.js';
import { closedLoop, connectMany } from '../lib/loop.js';
import { startAmpline } from '../lib/proc.js';
import { type BenchSection, table, targetTable } from '../lib/report.js';
import { fmt, mapLimit, ms, withDeadline } from '../lib/stats.js';

export interface MeterOptions {
  stations: number;
  warmupMs: number;
  windowMs: number;
}

export const TARGET_MSGS_PER_S = 5000;
export const TARGET_P99_MS = 50;

interface Station {
  protocol: 'ocpp1.6' | 'ocpp2.0.1';
  id: string;
  meter: MeterState;
  txNumber?: number;
  txId?: string;
  seqNo: number;
}

export async function meterBenchmark(o: MeterOptions, log: (s: string) => void): Promise<BenchSection> {
  const t0 = performance.now();
  const half = Math.floor(o.stations / 2);
  const stations: Station[] = Array.from({ length: o.stations }, (_, i) => {
    const protocol = i < half ? 'ocpp1.6' : 'ocpp2.0.1';
    return { protocol, id: `${protocol === 'ocpp1.6' ? 'MV16' : 'MV201'}-${i}`, meter: new MeterState(), seqNo: 0 };
  });
  const srv = await startAmpline();
  let clients: Client[] = [];
  let stopped = false;
  try {
    clients = await withDeadline(connectMany(srv.ocppUrl, stations.map((s) => s.id), (i) => stations[i]!.protocol, 50), 60_000, 'connecting');

    // Set-up: boot and open one transaction per station.
    let started16 = 0;
    const setup = mapLimit(stations, 50, async (s, i) => {
      const c = clients[i]!;
      if (s.protocol === 'ocpp1.6') {
        await c.call('BootNotification', boot16());
        const r = (await c.call('StartTransaction', { connectorId: 1, idTag: 'BENCH-TAG', meterStart: s.meter.energyWh, timestamp: nowIso() })) as {
          transactionId: number;
        };
        s.txNumber = r.transactionId;
        started16++;
      } else {
        await c.call('BootNotification', boot201());
        s.txId = `bench-tx-${i}`;
        await c.call('TransactionEvent', {
          eventType: 'Started',
          timestamp: nowIso(),
          triggerReason: 'Authorized',
          seqNo: s.seqNo++,
          transactionInfo: { transactionId: s.txId, chargingState: 'Charging' },
          evse: { id: 1, connectorId: 1 },
          idToken: { idToken: 'BENCH-TAG', type: 'ISO14443' },
        });
      }
    });
    await withDeadline(setup, 60_000, 'boot and transaction set-up');

    const send = (i: number): Promise<unknown> => {
      const s = stations[i]!;
      const c = clients[i]!;
      if (s.protocol === 'ocpp1.6') {
        return c.call('MeterValues', { connectorId: 1, transactionId: s.txNumber, meterValue: [meterValue16(s.meter)] });
      }
      return c.call('TransactionEvent', {
        eventType: 'Updated',
        timestamp: nowIso(),
        triggerReason: 'MeterValuePeriodic',
        seqNo: s.seqNo++,
        transactionInfo: { transactionId: s.txId, chargingState: 'Charging' },
        meterValue: [meterValue201(s.meter)],
      });
    };
    const r = await closedLoop(o.stations, send, {
      warmupMs: o.warmupMs,
      windowMs: o.windowMs,
      serverPid: srv.pid,
      groups: 2,
      groupOf: (i) => (stations[i]!.protocol === 'ocpp1.6' ? 0 : 1),
      abort: () => closeAll(clients),
    });
    const rssMb = srv.rssKb() / 1024;

    await closeAll(clients);
    clients = [];
    const exitCode = await srv.stop(30_000);
    stopped = true;

    // Verify what was persisted (read-only, after the writer has exited).
    const file = join(srv.dataDir!, 'ampline.sqlite');
    const dbBytes = statSync(file).size + (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
    const db = new Database(file, { readonly: true, fileMustExist: true });
    let rows: { total: number; periodic: number; begin: number; rows16: number; rows201: number; updates: number };
    try {
      const one = (q: string): number => (db.prepare(q).get() as { n: number }).n;
      rows = {
        total: one('SELECT COUNT(*) AS n FROM meter_values'),
        periodic: one("SELECT COUNT(*) AS n FROM meter_values WHERE context = 'Sample.Periodic'"),
        begin: one("SELECT COUNT(*) AS n FROM meter_values WHERE context = 'Transaction.Begin'"),
        rows16: one("SELECT COUNT(*) AS n FROM meter_values WHERE context = 'Sample.Periodic' AND station_id LIKE 'MV16-%'"),
        rows201: one("SELECT COUNT(*) AS n FROM meter_values WHERE context = 'Sample.Periodic' AND station_id LIKE 'MV201-%'"),
        updates: one("SELECT COUNT(*) AS n FROM transaction_events WHERE event_type = 'Updated'"),
      };
    } finally {
      db.close();
    }
    const acked16 = r.groupTotalOk[0]!;
    const acked201 = r.groupTotalOk[1]!;
    const expectedPeriodic = (acked16 + acked201) * SAMPLES_PER_MESSAGE;
    const expectedTotal = expectedPeriodic + started16;
    const persistedOk =
      rows.periodic === expectedPeriodic &&
      rows.total === expectedTotal &&
      rows.rows16 === acked16 * SAMPLES_PER_MESSAGE &&
      rows.rows201 === acked201 * SAMPLES_PER_MESSAGE &&
      rows.updates === acked201;

    const s = r.latency.summary();
    const s16 = r.groupLatency[0]!.summary();
    const s201 = r.groupLatency[1]!.summary();
    const msgsPerS = r.perSecond;
    const usPerMsg = (r.serverCpuPct / 100 / msgsPerS) * 1e6;
    log(
      `  meter: ${fmt(msgsPerS)} msg/s (${fmt(msgsPerS * SAMPLES_PER_MESSAGE)} samples/s)  p50 ${ms(s.p50)}  p99 ${ms(s.p99)}  ` +
        `server CPU ${fmt(r.serverCpuPct)}% (${fmt(usPerMsg)} µs/msg)  errors ${r.errors}  persisted ${rows.total}/${expectedTotal} rows${persistedOk ? '' : ' MISMATCH'}`,
    );

    const targets = [
      { metric: 'MeterValues messages persisted per second', measured: `**${fmt(msgsPerS)}**/s`, target: `≥ ${fmt(TARGET_MSGS_PER_S)}/s`, met: msgsPerS >= TARGET_MSGS_PER_S },
      { metric: 'Sampled values (rows) persisted per second', measured: `${fmt(msgsPerS * SAMPLES_PER_MESSAGE)}/s`, target: '(reported)', met: undefined },
      {
        metric: 'Server CPU per message → projected messages/s with one core to itself',
        measured: `${fmt(usPerMsg)} µs → ${fmt(1e6 / usPerMsg)}/s`,
        target: `(reported; ${fmt(TARGET_MSGS_PER_S)}/s needs ≤ ${fmt(1e6 / TARGET_MSGS_PER_S)} µs)`,
        met: undefined,
      },
      { metric: 'Latency p50', measured: ms(s.p50), target: '(reported)', met: undefined },
      { metric: 'Latency p99', measured: `**${ms(s.p99)}**`, target: `< ${TARGET_P99_MS} ms`, met: s.p99 < TARGET_P99_MS },
      {
        metric: 'Rows in meter_values = acknowledged × samples',
        measured: `${fmt(rows.total)} = ${fmt(acked16 + acked201)} × ${SAMPLES_PER_MESSAGE} + ${started16} start samples`,
        target: 'equal',
        met: persistedOk,
      },
      { metric: 'Errors', measured: String(r.errors), target: '0', met: r.errors === 0 },
    ];
    const body = [
      `${o.stations} stations: ${half} OCPP 1.6 with an open transaction sending \`MeterValues\` (connectorId 1, transactionId), ` +
        `${o.stations - half} OCPP 2.0.1 sending \`TransactionEvent\` Updated with \`meterValue\`. Each message carries one meter value with ` +
        `${SAMPLES_PER_MESSAGE} sampled values (energy register, active power, current L1–L3, voltage L1-N–L3-N, SoC, power offered). ` +
        `Closed loop (next message when the previous one is answered), ${o.warmupMs / 1000} s warm-up, ${o.windowMs / 1000} s window. ` +
        `Afterwards the clients disconnect, the child is stopped with SIGTERM (exit code ${exitCode}) and its SQLite file is opened read-only ` +
        `to count rows. Note (Little's law): with ${o.stations} calls always in flight, mean latency ≈ ${o.stations} ÷ throughput, ` +
        `so the p99 target and the throughput target are coupled in a closed-loop test.`,
      '',
      targetTable(targets),
      '',
      table(
        ['Group', 'msgs in window', 'msgs/s', 'p50', 'p90', 'p99', 'max', 'acked (whole run)'],
        [
          ['OCPP 1.6 MeterValues', fmt(r.groupCompleted[0]!), fmt(r.groupCompleted[0]! / r.windowS), ms(s16.p50), ms(s16.p90), ms(s16.p99), ms(s16.max), fmt(acked16)],
          ['OCPP 2.0.1 TransactionEvent', fmt(r.groupCompleted[1]!), fmt(r.groupCompleted[1]! / r.windowS), ms(s201.p50), ms(s201.p90), ms(s201.p99), ms(s201.max), fmt(acked201)],
          ['all', fmt(r.completed), fmt(msgsPerS), ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max), fmt(acked16 + acked201)],
        ],
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      table(
        ['Persistence check', 'Expected', 'Found'],
        [
          ['meter_values, Sample.Periodic, 1.6 stations', fmt(acked16 * SAMPLES_PER_MESSAGE), fmt(rows.rows16)],
          ['meter_values, Sample.Periodic, 2.0.1 stations', fmt(acked201 * SAMPLES_PER_MESSAGE), fmt(rows.rows201)],
          ['meter_values, Transaction.Begin (1.6 StartTransaction)', fmt(started16), fmt(rows.begin)],
          ['meter_values, all rows', fmt(expectedTotal), fmt(rows.total)],
          ['transaction_events, Updated', fmt(acked201), fmt(rows.updates)],
        ],
        ['l', 'r', 'r'],
      ),
      '',
      `Server CPU over the window ${fmt(r.serverCpuPct)}% of one core (= ${fmt(usPerMsg)} µs of server CPU per message), ` +
        `load generator ${fmt(r.generatorCpuPct)}%, other processes on the machine ${fmt(r.otherCpuPct)}%; server RSS at the end ${fmt(rssMb)} MB; ` +
        `SQLite database (file + WAL) ${fmt(dbBytes / 1048576, 1)} MB.`,
      ...(r.errors > 0 ? ['', `Error samples: ${r.errorSamples.map((e) => `\`${e}\``).join(', ')}`] : []),
    ].join('\n');
    return { name: 'meter', title: '2. MeterValues persisted per second', targets, body, durationS: (performance.now() - t0) / 1000 };
  } finally {
    await closeAll(clients);
    if (!stopped) await srv.stop();
    srv.removeDataDir();
  }
}
