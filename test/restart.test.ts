/**
 * Restart: a CSMS process stops mid-session (1.6 and 2.0.1) and a new one starts on the same data
 * directory. The same stations reconnect and finish their sessions: transactions and their meter values
 * are intact, 1.6 transaction numbers continue without reuse, and presence is rebuilt.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startTestCsms, rawClient, tempDir, type TestCsms, type RawClient } from './helpers/csms.js';
import { BOOT16, BOOT201, vcall, waitFor, uniqueId } from './helpers/wire.js';

const iso = (t: number): string => new Date(t).toISOString();
const e201 = (ts: string, wh: number, context: string) => ({
  timestamp: ts,
  sampledValue: [{ value: wh, context, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }],
});

test('restart on the same data dir: sessions of both versions survive and finish; tx numbers continue', async () => {
  const dataDir = tempDir('ampline-restart-');
  const id16 = uniqueId('R16');
  const id201 = uniqueId('R201');
  const t0 = Date.now() - 3_600_000;
  let first: TestCsms | undefined;
  let second: TestCsms | undefined;
  const clients: RawClient[] = [];
  try {
    // --- First process: half a session on each station. ---
    first = await startTestCsms({ dataDir });
    const a = await rawClient(first, id16, 'ocpp1.6');
    const b = await rawClient(first, id201, 'ocpp2.0.1');
    clients.push(a, b);
    await vcall(a, 'BootNotification', BOOT16);
    await vcall(b, 'BootNotification', BOOT201);

    const s1 = await vcall<{ transactionId: number }>(a, 'StartTransaction', { connectorId: 1, idTag: 'R16', meterStart: 1000, timestamp: iso(t0) });
    await vcall(a, 'MeterValues', {
      connectorId: 1,
      transactionId: s1.transactionId,
      meterValue: [{ timestamp: iso(t0 + 600_000), sampledValue: [{ value: '2000', context: 'Sample.Periodic' }] }],
    });
    await vcall(b, 'TransactionEvent', {
      eventType: 'Started',
      timestamp: iso(t0),
      triggerReason: 'Authorized',
      seqNo: 0,
      transactionInfo: { transactionId: 'R201-TX', chargingState: 'Charging' },
      evse: { id: 1, connectorId: 1 },
      idToken: { idToken: 'R201', type: 'ISO14443' },
      meterValue: [e201(iso(t0), 50_000, 'Transaction.Begin')],
    });
    await vcall(b, 'TransactionEvent', {
      eventType: 'Updated',
      timestamp: iso(t0 + 600_000),
      triggerReason: 'MeterValuePeriodic',
      seqNo: 1,
      transactionInfo: { transactionId: 'R201-TX' },
      meterValue: [e201(iso(t0 + 600_000), 53_000, 'Sample.Periodic')],
    });
    await waitFor(async () => (await first!.db.kysely.selectFrom('stations').select('online').where('id', '=', id16).executeTakeFirst())?.online === 1);

    // --- The process stops (clients see the socket close). ---
    const closedA = new Promise((r) => a.once('close', r));
    const closedB = new Promise((r) => b.once('close', r));
    await first.stop();
    await Promise.all([closedA, closedB]);

    // --- Second process on the same directory. ---
    second = await startTestCsms({ dataDir });
    const db = second.db.kysely;
    const presence = await db.selectFrom('stations').select(['id', 'online']).where('id', 'in', [id16, id201]).orderBy('id').execute();
    assert.ok(presence.every((p) => p.online === 0), 'nothing is online right after start-up');
    const before16 = await db.selectFrom('transactions').selectAll().where('tx_number', '=', s1.transactionId).executeTakeFirstOrThrow();
    assert.deepEqual([before16.state, before16.energy_wh], ['active', 1000]);

    const a2 = await rawClient(second, id16, 'ocpp1.6');
    const b2 = await rawClient(second, id201, 'ocpp2.0.1');
    clients.push(a2, b2);
    await vcall(a2, 'BootNotification', BOOT16);
    await vcall(b2, 'BootNotification', BOOT201);
    await waitFor(async () => {
      const rows = await db.selectFrom('stations').select('online').where('id', 'in', [id16, id201]).execute();
      return rows.length === 2 && rows.every((r) => r.online === 1);
    });

    // More meter values, then both sessions end.
    await vcall(a2, 'MeterValues', {
      connectorId: 1,
      transactionId: s1.transactionId,
      meterValue: [{ timestamp: iso(t0 + 1_200_000), sampledValue: [{ value: '3', unit: 'kWh', context: 'Sample.Periodic' }] }],
    });
    await vcall(a2, 'StopTransaction', { transactionId: s1.transactionId, idTag: 'R16', meterStop: 4000, timestamp: iso(t0 + 1_800_000), reason: 'Local' });
    await vcall(b2, 'TransactionEvent', {
      eventType: 'Updated',
      timestamp: iso(t0 + 1_200_000),
      triggerReason: 'MeterValuePeriodic',
      seqNo: 2,
      transactionInfo: { transactionId: 'R201-TX' },
      meterValue: [e201(iso(t0 + 1_200_000), 56_000, 'Sample.Periodic')],
    });
    // The charger repeats seq 1 (it never saw our answer before the restart): idempotent.
    await vcall(b2, 'TransactionEvent', {
      eventType: 'Updated',
      timestamp: iso(t0 + 600_000),
      triggerReason: 'MeterValuePeriodic',
      seqNo: 1,
      transactionInfo: { transactionId: 'R201-TX' },
      meterValue: [e201(iso(t0 + 600_000), 53_000, 'Sample.Periodic')],
    });
    await vcall(b2, 'TransactionEvent', {
      eventType: 'Ended',
      timestamp: iso(t0 + 1_800_000),
      triggerReason: 'StopAuthorized',
      seqNo: 3,
      transactionInfo: { transactionId: 'R201-TX', stoppedReason: 'Local' },
      meterValue: [e201(iso(t0 + 1_800_000), 59_000, 'Transaction.End')],
    });

    // 1.6 transaction: intact and finished.
    const tx16 = await db.selectFrom('transactions').selectAll().where('tx_number', '=', s1.transactionId).executeTakeFirstOrThrow();
    assert.equal(tx16.id, before16.id, 'same row');
    assert.deepEqual([tx16.state, tx16.meter_start_wh, tx16.meter_stop_wh, tx16.energy_wh], ['ended', 1000, 4000, 3000]);
    const mv16 = await db.selectFrom('meter_values').select(['value', 'context']).where('transaction_id', '=', tx16.id).orderBy('timestamp').execute();
    assert.deepEqual(mv16.map((m) => [m.context, m.value]), [
      ['Transaction.Begin', 1000],
      ['Sample.Periodic', 2000],
      ['Sample.Periodic', 3000],
      ['Transaction.End', 4000],
    ]);

    // 2.0.1 transaction: intact and finished, the repeated seq 1 stored once.
    const tx201 = await db.selectFrom('transactions').selectAll().where('station_id', '=', id201).where('ocpp_tx_id', '=', 'R201-TX').executeTakeFirstOrThrow();
    assert.deepEqual([tx201.state, tx201.meter_start_wh, tx201.meter_stop_wh, tx201.energy_wh, tx201.seq_no], ['ended', 50_000, 59_000, 9_000, 3]);
    const ev201 = await db.selectFrom('transaction_events').select('seq_no').where('transaction_id', '=', tx201.id).orderBy('seq_no').execute();
    assert.deepEqual(ev201.map((e) => e.seq_no), [0, 1, 2, 3]);
    const mv201 = await db.selectFrom('meter_values').select('value').where('transaction_id', '=', tx201.id).orderBy('timestamp').execute();
    assert.deepEqual(mv201.map((m) => m.value), [50_000, 53_000, 56_000, 59_000]);

    // Transaction numbers continue after the restart: no reuse.
    const next = await vcall<{ transactionId: number }>(a2, 'StartTransaction', { connectorId: 1, idTag: 'R16', meterStart: 4000, timestamp: iso(t0 + 2_000_000) });
    assert.ok(next.transactionId > s1.transactionId, `${next.transactionId} > ${s1.transactionId}`);
    const all = (await db.selectFrom('transactions').select('tx_number').where('tx_number', 'is not', null).execute()).map((r) => r.tx_number);
    assert.equal(new Set(all).size, all.length);
  } finally {
    await Promise.all(clients.map((c) => c.close({ force: true }).catch(() => undefined)));
    await first?.stop().catch(() => undefined);
    await second?.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
