/** Scripted misbehaviour, reconnects, the offline queue and transaction-message retries. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SimChargePoint, type SimChargePointOptions } from '../../src/sim/index.js';
import { createRpcError } from '../../src/sim/rpc.js';
import { ManualClock } from '../../src/util/clock.js';
import { payloads, startTestCsms, type Frame, type TestCsms } from './helpers/csms.js';

let csms: TestCsms;
const open: SimChargePoint[] = [];
before(async () => {
  csms = await startTestCsms();
});
after(async () => {
  await Promise.all(open.map((cp) => cp.close()));
  await csms.close();
  assert.deepEqual(csms.violations, [], 'every message the simulator sent is schema-valid');
});

async function sim(identity: string, protocol: 'ocpp1.6' | 'ocpp2.0.1', o: Partial<SimChargePointOptions> = {}) {
  const cp = new SimChargePoint({
    url: csms.url,
    identity,
    protocol,
    clock: new ManualClock('2025-01-01T10:00:00Z'),
    meterIntervalS: 0,
    operationDelayMs: 5,
    reconnect: { initialDelayMs: 20, maxDelayMs: 80, jitter: 0.2 },
    ...o,
  });
  open.push(cp);
  await cp.connect();
  return cp;
}

const after0 = (frames: Frame[], i: number) => frames.slice(i).filter((f) => f.from === 'cp' && f.type === 2);

test('responder overrides: Rejected, CALLERROR, no reply, delayed, unknown action; undefined restores defaults', async () => {
  const cp = await sim('RSP', 'ocpp1.6');
  cp.setResponder((action) => {
    if (action === 'Reset') return { result: { status: 'Rejected' } };
    if (action === 'ClearCache') return { error: { code: 'InternalError', description: 'boom' } };
    if (action === 'GetConfiguration') return 'noreply';
    if (action === 'DataTransfer') return { result: { status: 'Accepted', data: 'late' }, delayMs: 150 };
    if (action === 'CostUpdated') return { result: {} };
    return undefined;
  });
  assert.deepEqual(await csms.send('RSP', 'Reset', { type: 'Hard' }), { status: 'Rejected' });
  await assert.rejects(csms.send('RSP', 'ClearCache', {}), (e: { rpcErrorCode?: string; message: string }) => e.rpcErrorCode === 'InternalError' && e.message === 'boom');
  const t0 = Date.now();
  await assert.rejects(csms.send('RSP', 'GetConfiguration', {}, 300), (e: Error) => e.name === 'Error' || /timeout/i.test(e.message));
  assert.ok(Date.now() - t0 >= 280, 'the CSMS waited for its timeout');
  const silent = csms.frames.filter((f) => f.identity === 'RSP' && f.from === 'cp' && f.action === 'GetConfiguration');
  assert.deepEqual(silent, [], 'no CALLRESULT or CALLERROR was sent');
  const t1 = Date.now();
  assert.deepEqual(await csms.send('RSP', 'DataTransfer', { vendorId: 'x' }), { status: 'Accepted', data: 'late' });
  assert.ok(Date.now() - t1 >= 140);
  assert.deepEqual(await csms.send('RSP', 'CostUpdated', { totalCost: 1, transactionId: 'x' }), {}, 'even actions the version lacks can be scripted');
  // 1.6 has no CostUpdated schema: the test CSMS flags the scripted answer; that is the point here.
  const i = csms.violations.findIndex((v) => v.startsWith('RSP CostUpdatedResponse: no schema'));
  assert.ok(i >= 0);
  csms.violations.splice(i, 1);
  cp.setResponder(undefined);
  assert.deepEqual(await csms.send('RSP', 'ClearCache', {}), { status: 'Accepted' });
  await assert.rejects(csms.send('RSP', 'CostUpdated', { totalCost: 1, transactionId: 'x' }), (e: { rpcErrorCode?: string }) => e.rpcErrorCode === 'NotImplemented');
  assert.equal(cp.online, true, 'no reboot after the scripted Rejected');
});

test('reconnects after the server drops the socket; with bootOnReconnect it boots again', async () => {
  for (const protocol of ['ocpp1.6', 'ocpp2.0.1'] as const) {
    const id = `RC-${protocol}`;
    const cp = await sim(id, protocol);
    await csms.drop(id);
    await csms.waitFor(() => csms.connections.get(id) === 2, `${id} reconnected`);
    await csms.waitFor(() => cp.online, 'online again');
    assert.equal(csms.calls(id, 'BootNotification').length, 1, 'a reconnect is not a reboot');
    assert.deepEqual(await csms.send(id, 'TriggerMessage', { requestedMessage: 'Heartbeat' }), { status: 'Accepted' });
    await csms.waitForCalls(id, 'Heartbeat');
  }
  const cp = await sim('RC-BOOT', 'ocpp2.0.1', { bootOnReconnect: true });
  await csms.drop('RC-BOOT');
  await csms.waitForCalls('RC-BOOT', 'BootNotification', 2);
  await csms.waitFor(() => cp.online, 'online again');
});

test('1.6 offline: transaction messages are queued and replayed in order after reconnect, ids patched', async () => {
  const clock = new ManualClock('2025-01-01T10:00:00Z');
  const cp = await sim('OFF16', 'ocpp1.6', { clock });
  const tx1 = (await cp.startSession({ evseId: 1, idTag: 'A', ev: { maxPowerW: 11_000 } })) as number;
  csms.offline = true;
  await csms.drop('OFF16');
  await csms.waitFor(() => !cp.online, 'offline');
  clock.advance(30 * 60_000);
  await cp.sendMeterValues(1); // queued
  clock.advance(30 * 60_000);
  await cp.stopSession(1); // queued
  await cp.unplug(1);
  const start2 = cp.startSession({ evseId: 1, idTag: 'B', ev: { maxPowerW: 11_000 } }); // offline: local authorization, queued
  await csms.waitFor(() => cp.evse(1).transaction !== undefined, 'second transaction running locally');
  clock.advance(15 * 60_000);
  await cp.sendMeterValues(1);
  assert.equal(cp.queuedMessages, 4);
  const mark = csms.frames.length;
  csms.offline = false;
  const tx2 = (await start2) as number;
  await csms.waitFor(() => cp.queuedMessages === 0 && cp.online, 'queue drained');
  await csms.waitFor(() => after0(csms.frames, mark).some((f) => f.action === 'StatusNotification'), 'statuses after replay');
  const replay = after0(csms.frames, mark).filter((f) => f.identity === 'OFF16');
  assert.deepEqual(
    replay.map((f) => f.action).slice(0, 4),
    ['MeterValues', 'StopTransaction', 'StartTransaction', 'MeterValues'],
    'transaction messages first, in order',
  );
  const [mv1, stop1, start, mv2] = payloads<Record<string, any>>(replay);
  assert.equal(mv1?.transactionId, tx1);
  assert.equal(mv1?.meterValue[0].timestamp, '2025-01-01T10:30:00.000Z', 'sampled while offline');
  assert.deepEqual([stop1?.transactionId, stop1?.meterStop], [tx1, 11_000]);
  assert.deepEqual([start?.idTag, start?.meterStart, start?.timestamp], ['B', 11_000, '2025-01-01T11:00:00.000Z'], 'register persisted');
  assert.equal(mv2?.transactionId, tx2, 'queued MeterValues get the id from the replayed StartTransaction.conf');
  assert.equal(Number(mv2?.meterValue[0].sampledValue[0].value), 11_000 + 2_750);
  assert.ok(!replay.some((f) => f.action === 'Authorize'), 'authorized locally while offline');
});

test('2.0.1 offline: TransactionEvents replayed with offline: true and continuous seqNo', async () => {
  const clock = new ManualClock('2025-01-01T10:00:00Z');
  const cp = await sim('OFF201', 'ocpp2.0.1', { clock });
  const tx = String(await cp.startSession({ evseId: 1, idTag: 'A' }));
  await cp.goOffline();
  clock.advance(10 * 60_000);
  await cp.sendMeterValues(1);
  await cp.stopSession(1);
  const tx2 = String(await cp.startSession({ evseId: 1, idTag: 'C' })); // 2.0.1 owns its id: returns at once
  assert.notEqual(tx2, tx);
  assert.equal(cp.queuedMessages, 3);
  const mark = csms.frames.length;
  await cp.goOnline();
  await csms.waitFor(() => cp.queuedMessages === 0, 'queue drained');
  const events = payloads<Record<string, any>>(after0(csms.frames, mark).filter((f) => f.identity === 'OFF201' && f.action === 'TransactionEvent'));
  assert.deepEqual(
    events.map((e) => [e.transactionInfo.transactionId === tx ? 'tx1' : 'tx2', e.eventType, e.seqNo, e.offline]),
    [
      ['tx1', 'Updated', 1, true],
      ['tx1', 'Ended', 2, true],
      ['tx2', 'Started', 0, true],
    ],
  );
});

test('a transaction message answered with a CALLERROR is retried (TransactionMessageAttempts / RetryInterval)', async () => {
  const cp = await sim('RETRY', 'ocpp1.6', { config: { TransactionMessageRetryInterval: '0', TransactionMessageAttempts: '3' } });
  await cp.startSession({ evseId: 1, idTag: 'A' });
  let failures = 0;
  csms.handlers.set('StopTransaction', () => {
    if (failures++ < 2) throw createRpcError('InternalError', 'database busy');
    return { idTagInfo: { status: 'Accepted' } };
  });
  try {
    await cp.stopSession(1);
    assert.equal(csms.calls('RETRY', 'StopTransaction').length, 3);
    assert.equal(cp.queuedMessages, 0);
  } finally {
    csms.handlers.delete('StopTransaction');
  }
});
