/** OCPP 2.0.1 CSMS-initiated messages: answers, follow-up messages, CALLERRORs (all schema-checked by the test CSMS). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SimChargePoint, type SimChargePointOptions } from '../../src/sim/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { payloads, startTestCsms, type TestCsms } from './helpers/csms.js';

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

async function sim(identity: string, o: Partial<SimChargePointOptions> = {}) {
  const cp = new SimChargePoint({
    url: csms.url,
    identity,
    protocol: 'ocpp2.0.1',
    clock: new ManualClock('2025-01-01T10:00:00Z'),
    meterIntervalS: 0,
    operationDelayMs: 5,
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    ...o,
  });
  open.push(cp);
  await cp.connect();
  return cp;
}

const connectorStatuses = (id: string) => payloads<{ connectorStatus: string }>(csms.calls(id, 'StatusNotification')).map((p) => p.connectorStatus);

test('GetVariables / SetVariables on the device model (B05/B06)', async () => {
  const cp = await sim('DM');
  const res = (await csms.send('DM', 'GetVariables', {
    getVariableData: [
      { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } },
      { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'RateUnit' } },
      { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'Entries', instance: 'ChargingProfiles' } },
      { component: { name: 'EVSE', evse: { id: 1 } }, variable: { name: 'Power' } },
      { component: { name: 'EVSE', evse: { id: 7 } }, variable: { name: 'Power' } },
      { component: { name: 'NoSuchCtrlr' }, variable: { name: 'X' } },
      { component: { name: 'TxCtrlr' }, variable: { name: 'NoSuchVariable' } },
      { component: { name: 'TxCtrlr' }, variable: { name: 'StopTxOnInvalidId' }, attributeType: 'Target' },
    ],
  })) as { getVariableResult: { attributeStatus: string; attributeValue?: string }[] };
  assert.deepEqual(
    res.getVariableResult.map((r) => [r.attributeStatus, r.attributeValue]),
    [
      ['Accepted', '300'],
      ['Accepted', 'A,W'],
      ['Accepted', '16'],
      ['Accepted', '11040'],
      ['UnknownComponent', undefined],
      ['UnknownComponent', undefined],
      ['UnknownVariable', undefined],
      ['NotSupportedAttributeType', undefined],
    ],
  );
  const set = (await csms.send('DM', 'SetVariables', {
    setVariableData: [
      { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' }, attributeValue: '60' },
      { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'RateUnit' }, attributeValue: 'W' },
      { component: { name: 'SampledDataCtrlr' }, variable: { name: 'TxUpdatedInterval' }, attributeValue: 'often' },
      { component: { name: 'AuthCtrlr' }, variable: { name: 'AuthorizeRemoteStart' }, attributeValue: 'false' },
    ],
  })) as { setVariableResult: { attributeStatus: string }[] };
  assert.deepEqual(set.setVariableResult.map((r) => r.attributeStatus), ['Accepted', 'Rejected', 'Rejected', 'Accepted']);
  assert.equal(cp.getConfiguration('OCPPCommCtrlr.HeartbeatInterval'), '60');
  assert.equal(cp.getConfiguration('AuthCtrlr.AuthorizeRemoteStart'), 'false');
});

test('GetBaseReport / GetReport: Accepted, then NotifyReport parts with seqNo and tbc (B07/B08)', async () => {
  await sim('RPT');
  assert.deepEqual(await csms.send('RPT', 'GetBaseReport', { requestId: 1, reportBase: 'FullInventory' }), { status: 'Accepted' });
  await csms.waitFor(() => payloads<{ requestId: number; tbc?: boolean }>(csms.calls('RPT', 'NotifyReport')).some((p) => p.requestId === 1 && !p.tbc), 'last part');
  const parts = payloads<{ requestId: number; seqNo: number; tbc?: boolean; reportData: { component: { name: string } }[] }>(csms.calls('RPT', 'NotifyReport'));
  assert.ok(parts.length >= 3, `${parts.length} parts of ≤ 20 entries`);
  assert.deepEqual(parts.map((p) => p.seqNo), parts.map((_, i) => i));
  assert.deepEqual(parts.map((p) => p.tbc ?? false), parts.map((_, i) => i < parts.length - 1));
  const components = new Set(parts.flatMap((p) => p.reportData.map((d) => d.component.name)));
  for (const c of ['SampledDataCtrlr', 'SmartChargingCtrlr', 'OCPPCommCtrlr', 'AuthCtrlr', 'TxCtrlr', 'EVSE', 'Connector']) assert.ok(components.has(c), c);

  assert.deepEqual(await csms.send('RPT', 'GetReport', { requestId: 2, componentVariable: [{ component: { name: 'SmartChargingCtrlr' } }] }), { status: 'Accepted' });
  await csms.waitFor(() => payloads<{ requestId: number }>(csms.calls('RPT', 'NotifyReport')).some((p) => p.requestId === 2), 'GetReport NotifyReport');
  const r2 = payloads<{ requestId: number; reportData: { component: { name: string } }[] }>(csms.calls('RPT', 'NotifyReport')).filter((p) => p.requestId === 2);
  assert.ok(r2.every((p) => p.reportData.every((d) => d.component.name === 'SmartChargingCtrlr')));
  assert.deepEqual(await csms.send('RPT', 'GetReport', { requestId: 3, componentVariable: [{ component: { name: 'Nope' } }] }), { status: 'EmptyResultSet' });
  assert.deepEqual(await csms.send('RPT', 'GetReport', { requestId: 4, componentCriteria: ['Problem'] }), { status: 'EmptyResultSet' });
});

test('TriggerMessage sends the requested message (F06)', async () => {
  const cp = await sim('TRG');
  const trig = (requestedMessage: string, evse?: { id: number; connectorId?: number }) => csms.send('TRG', 'TriggerMessage', evse ? { requestedMessage, evse } : { requestedMessage });
  assert.deepEqual(await trig('TransactionEvent'), { status: 'Rejected' }, 'no transaction');
  assert.deepEqual(await trig('StatusNotification', { id: 3 }), { status: 'Rejected' });
  const before = csms.calls('TRG', 'StatusNotification').length;
  assert.deepEqual(await trig('StatusNotification', { id: 1, connectorId: 1 }), { status: 'Accepted' });
  await csms.waitForCalls('TRG', 'StatusNotification', before + 1);
  assert.deepEqual(await trig('Heartbeat'), { status: 'Accepted' });
  await csms.waitForCalls('TRG', 'Heartbeat');
  await cp.startSession({ evseId: 1, idTag: 'T' });
  assert.deepEqual(await trig('MeterValues', { id: 1 }), { status: 'Accepted' });
  assert.equal(((await csms.waitForCalls('TRG', 'MeterValues'))[0]?.payload as { evseId: number }).evseId, 1);
  assert.deepEqual(await trig('TransactionEvent', { id: 1 }), { status: 'Accepted' });
  await csms.waitFor(() => payloads<Record<string, any>>(csms.calls('TRG', 'TransactionEvent')).some((e) => e.triggerReason === 'Trigger'), 'triggered TransactionEvent');
  assert.deepEqual(await trig('FirmwareStatusNotification'), { status: 'Accepted' });
  assert.deepEqual((await csms.waitForCalls('TRG', 'FirmwareStatusNotification'))[0]?.payload, { status: 'Idle' });
  assert.deepEqual(await trig('LogStatusNotification'), { status: 'Accepted' });
  assert.deepEqual((await csms.waitForCalls('TRG', 'LogStatusNotification'))[0]?.payload, { status: 'Idle' });
  assert.deepEqual(await trig('SignChargingStationCertificate'), { status: 'NotImplemented' });
});

test('authorization cache, local list, reservations with expiry (C, D, H)', async () => {
  await sim('AUTH');
  assert.deepEqual(await csms.send('AUTH', 'ClearCache', {}), { status: 'Accepted' });
  assert.deepEqual(await csms.send('AUTH', 'GetLocalListVersion', {}), { versionNumber: 0 });
  assert.deepEqual(
    await csms.send('AUTH', 'SendLocalList', {
      versionNumber: 1,
      updateType: 'Full',
      localAuthorizationList: [{ idToken: { idToken: 'L1', type: 'ISO14443' }, idTokenInfo: { status: 'Accepted' } }],
    }),
    { status: 'Accepted' },
  );
  assert.deepEqual(await csms.send('AUTH', 'GetLocalListVersion', {}), { versionNumber: 1 });
  assert.deepEqual(await csms.send('AUTH', 'SendLocalList', { versionNumber: 1, updateType: 'Differential' }), { status: 'VersionMismatch' });

  const expiry = new Date(Date.parse('2025-01-01T10:00:00Z') + 300).toISOString(); // 0.3 s of (frozen) clock time
  assert.deepEqual(await csms.send('AUTH', 'ReserveNow', { id: 5, expiryDateTime: expiry, idToken: { idToken: 'R', type: 'ISO14443' }, evseId: 1 }), { status: 'Accepted' });
  await csms.waitFor(() => connectorStatuses('AUTH').at(-1) === 'Reserved', 'Reserved');
  const [upd] = await csms.waitForCalls('AUTH', 'ReservationStatusUpdate');
  assert.deepEqual(upd?.payload, { reservationId: 5, reservationUpdateStatus: 'Expired' });
  await csms.waitFor(() => connectorStatuses('AUTH').at(-1) === 'Available', 'Available after expiry');
  assert.deepEqual(await csms.send('AUTH', 'ReserveNow', { id: 6, expiryDateTime: '2025-01-01T11:00:00Z', idToken: { idToken: 'R', type: 'ISO14443' } }), { status: 'Accepted' });
  assert.deepEqual(await csms.send('AUTH', 'CancelReservation', { reservationId: 6 }), { status: 'Accepted' });
  assert.deepEqual(await csms.send('AUTH', 'CancelReservation', { reservationId: 6 }), { status: 'Rejected' });
});

test('ChangeAvailability, UnlockConnector, GetTransactionStatus, DataTransfer, CostUpdated', async () => {
  const cp = await sim('OPS');
  assert.deepEqual(await csms.send('OPS', 'ChangeAvailability', { operationalStatus: 'Inoperative', evse: { id: 1 } }), { status: 'Accepted' });
  await csms.waitFor(() => connectorStatuses('OPS').at(-1) === 'Unavailable', 'Unavailable');
  assert.deepEqual(await csms.send('OPS', 'ChangeAvailability', { operationalStatus: 'Operative' }), { status: 'Accepted' });
  await csms.waitFor(() => connectorStatuses('OPS').at(-1) === 'Unavailable' || connectorStatuses('OPS').at(-1) === 'Available', 'status');
  assert.deepEqual(await csms.send('OPS', 'ChangeAvailability', { operationalStatus: 'Operative', evse: { id: 1 } }), { status: 'Accepted' });
  assert.deepEqual(await csms.send('OPS', 'ChangeAvailability', { operationalStatus: 'Operative', evse: { id: 1, connectorId: 4 } }), { status: 'Rejected' });
  assert.deepEqual(await csms.send('OPS', 'UnlockConnector', { evseId: 1, connectorId: 1 }), { status: 'Unlocked' });
  assert.deepEqual(await csms.send('OPS', 'UnlockConnector', { evseId: 2, connectorId: 1 }), { status: 'UnknownConnector' });
  const tx = String(await cp.startSession({ evseId: 1, idTag: 'T' }));
  assert.deepEqual(await csms.send('OPS', 'UnlockConnector', { evseId: 1, connectorId: 1 }), { status: 'OngoingAuthorizedTransaction' });
  assert.deepEqual(await csms.send('OPS', 'GetTransactionStatus', { transactionId: tx }), { messagesInQueue: false, ongoingIndicator: true });
  assert.deepEqual(await csms.send('OPS', 'GetTransactionStatus', {}), { messagesInQueue: false });
  assert.deepEqual(await csms.send('OPS', 'DataTransfer', { vendorId: 'Other' }), { status: 'UnknownVendorId' });
  assert.deepEqual(await csms.send('OPS', 'DataTransfer', { vendorId: 'Ampline', messageId: 'Echo', data: { a: 1 } }), { status: 'Accepted', data: { a: 1 } });
  assert.deepEqual(await csms.send('OPS', 'CostUpdated', { totalCost: 1.5, transactionId: tx }), {});
});

test('UpdateFirmware (L01) and GetLog (N01) report their progress; Installed after the reboot', async () => {
  await sim('FW');
  const res = await csms.send('FW', 'UpdateFirmware', { requestId: 3, firmware: { location: 'https://example.com/fw.bin', retrieveDateTime: '2025-01-01T10:00:00Z' } });
  assert.deepEqual(res, { status: 'Accepted' });
  await csms.waitForCalls('FW', 'FirmwareStatusNotification', 5, 5000);
  assert.deepEqual(
    payloads<{ status: string; requestId: number }>(csms.calls('FW', 'FirmwareStatusNotification')).map((p) => `${p.status}/${p.requestId}`),
    ['Downloading/3', 'Downloaded/3', 'Installing/3', 'InstallRebooting/3', 'Installed/3'],
  );
  assert.deepEqual(payloads<{ reason: string }>(csms.calls('FW', 'BootNotification')).map((b) => b.reason), ['PowerUp', 'FirmwareUpdate']);
  const log = await csms.send('FW', 'GetLog', { log: { remoteLocation: 'https://example.com/logs' }, logType: 'SecurityLog', requestId: 8 });
  assert.deepEqual(log, { status: 'Accepted', filename: 'FW-security-8.log' });
  assert.deepEqual(payloads(await csms.waitForCalls('FW', 'LogStatusNotification', 2)), [
    { status: 'Uploading', requestId: 8 },
    { status: 'Uploaded', requestId: 8 },
  ]);
});

test('Reset: OnIdle is Scheduled during a transaction and happens when it ends; Immediate ends it (B11/B12)', async () => {
  const cp = await sim('RST');
  await cp.startSession({ evseId: 1, idTag: 'T' });
  assert.deepEqual(await csms.send('RST', 'Reset', { type: 'OnIdle' }), { status: 'Scheduled' });
  await cp.stopSession(1);
  await csms.waitForCalls('RST', 'BootNotification', 2, 5000);
  await csms.waitFor(() => cp.online, 'online after the scheduled reset');
  await cp.startSession({ evseId: 1, idTag: 'T' });
  assert.deepEqual(await csms.send('RST', 'Reset', { type: 'Immediate' }), { status: 'Accepted' });
  await csms.waitForCalls('RST', 'BootNotification', 3, 5000);
  const ended = payloads<Record<string, any>>(csms.calls('RST', 'TransactionEvent')).filter((e) => e.eventType === 'Ended');
  assert.deepEqual(ended.map((e) => [e.triggerReason, e.transactionInfo.stoppedReason]), [
    ['StopAuthorized', 'Local'],
    ['ResetCommand', 'ImmediateReset'],
  ]);
  assert.deepEqual(payloads<{ reason: string }>(csms.calls('RST', 'BootNotification')).map((b) => b.reason), ['PowerUp', 'ScheduledReset', 'RemoteReset']);
});

test('unknown action → NotImplemented, known but unsupported → NotSupported, bad payloads → 2.0.1 error codes', async () => {
  await sim('ERR');
  const code = async (action: string, payload: unknown) => {
    try {
      await csms.send('ERR', action, payload);
      return 'no error';
    } catch (e) {
      return (e as { rpcErrorCode?: string }).rpcErrorCode;
    }
  };
  assert.equal(await code('FooBar', {}), 'NotImplemented');
  assert.equal(await code('SetDisplayMessage', { message: { id: 1, priority: 'NormalCycle', message: { format: 'UTF8', content: 'hi' } } }), 'NotSupported');
  assert.equal(await code('Reset', { type: 'Later' }), 'PropertyConstraintViolation');
  assert.equal(await code('Reset', {}), 'OccurrenceConstraintViolation');
  assert.equal(await code('UnlockConnector', { evseId: '1', connectorId: 1 }), 'TypeConstraintViolation');
  assert.equal(await code('ClearCache', { extra: true }), 'FormatViolation');
});
