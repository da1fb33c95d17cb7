/** OCPP 1.6 CSMS-initiated messages: answers, follow-up messages, CALLERRORs (all schema-checked by the test CSMS). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionRejectedError, SimChargePoint, type SimChargePointOptions } from '../../src/sim/index.js';
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
    protocol: 'ocpp1.6',
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

const statusesOf = (id: string) => payloads<{ connectorId: number; status: string }>(csms.calls(id, 'StatusNotification')).map((p) => `${p.connectorId}:${p.status}`);

test('GetConfiguration / ChangeConfiguration keep a key store with 1.6 semantics', async () => {
  const cp = await sim('CFG');
  const all = (await csms.send('CFG', 'GetConfiguration', {})) as { configurationKey: { key: string; readonly: boolean; value: string }[] };
  const byKey = new Map(all.configurationKey.map((k) => [k.key, k]));
  for (const key of [
    'MeterValueSampleInterval',
    'HeartbeatInterval',
    'ChargeProfileMaxStackLevel',
    'ChargingScheduleAllowedChargingRateUnit',
    'ChargingScheduleMaxPeriods',
    'MaxChargingProfilesInstalled',
    'AuthorizeRemoteTxRequests',
    'StopTransactionOnInvalidId',
  ]) {
    assert.ok(byKey.has(key), key);
  }
  assert.equal(byKey.get('ChargeProfileMaxStackLevel')?.readonly, true);
  assert.deepEqual(await csms.send('CFG', 'GetConfiguration', { key: ['HeartbeatInterval', 'Nope'] }), {
    configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '300' }],
    unknownKey: ['Nope'],
  });
  const change = async (key: string, value: string) => ((await csms.send('CFG', 'ChangeConfiguration', { key, value })) as { status: string }).status;
  assert.equal(await change('HeartbeatInterval', '120'), 'Accepted');
  assert.equal(cp.getConfiguration('HeartbeatInterval'), '120');
  assert.equal(await change('NumberOfConnectors', '4'), 'Rejected');
  assert.equal(await change('MeterValueSampleInterval', 'soon'), 'Rejected');
  assert.equal(await change('MeterValuesSampledData', 'Energy.Active.Import.Register,Bogus'), 'Rejected');
  assert.equal(await change('NoSuchKey', '1'), 'NotSupported');
});

test('ClearCache, DataTransfer, local list (SendLocalList / GetLocalListVersion)', async () => {
  await sim('AUTH');
  assert.deepEqual(await csms.send('AUTH', 'ClearCache', {}), { status: 'Accepted' });
  assert.deepEqual(await csms.send('AUTH', 'DataTransfer', { vendorId: 'Other' }), { status: 'UnknownVendorId' });
  assert.deepEqual(await csms.send('AUTH', 'DataTransfer', { vendorId: 'Ampline', messageId: 'Echo', data: 'hi' }), { status: 'Accepted', data: 'hi' });
  assert.deepEqual(await csms.send('AUTH', 'GetLocalListVersion', {}), { listVersion: 0 });
  assert.deepEqual(
    await csms.send('AUTH', 'SendLocalList', { listVersion: 3, updateType: 'Full', localAuthorizationList: [{ idTag: 'LOCAL', idTagInfo: { status: 'Accepted' } }] }),
    { status: 'Accepted' },
  );
  assert.deepEqual(await csms.send('AUTH', 'GetLocalListVersion', {}), { listVersion: 3 });
  assert.deepEqual(await csms.send('AUTH', 'SendLocalList', { listVersion: 2, updateType: 'Differential' }), { status: 'VersionMismatch' });
});

test('ReserveNow / CancelReservation drive the Reserved status; another id tag cannot start', async () => {
  const cp = await sim('RES');
  assert.deepEqual(await csms.send('RES', 'ReserveNow', { connectorId: 0, expiryDate: '2025-01-01T11:00:00Z', idTag: 'R', reservationId: 1 }), { status: 'Rejected' });
  assert.deepEqual(await csms.send('RES', 'ReserveNow', { connectorId: 1, expiryDate: '2025-01-01T11:00:00Z', idTag: 'R', reservationId: 1 }), { status: 'Accepted' });
  await csms.waitFor(() => statusesOf('RES').includes('1:Reserved'), 'Reserved');
  await assert.rejects(cp.startSession({ evseId: 1, idTag: 'SOMEONE' }), SessionRejectedError);
  assert.deepEqual(await csms.send('RES', 'CancelReservation', { reservationId: 1 }), { status: 'Accepted' });
  assert.deepEqual(await csms.send('RES', 'CancelReservation', { reservationId: 1 }), { status: 'Rejected' });
  await csms.waitFor(() => statusesOf('RES').at(-1) === '1:Available', 'Available again');
  // A reservation is consumed by its own id tag, and StartTransaction carries its id.
  await csms.send('RES', 'ReserveNow', { connectorId: 1, expiryDate: '2025-01-01T11:00:00Z', idTag: 'R', reservationId: 2 });
  await cp.startSession({ evseId: 1, idTag: 'R' });
  assert.equal((csms.calls('RES', 'StartTransaction')[0]?.payload as { reservationId: number }).reservationId, 2);
  assert.deepEqual(await csms.send('RES', 'ReserveNow', { connectorId: 1, expiryDate: '2025-01-01T11:00:00Z', idTag: 'R', reservationId: 3 }), { status: 'Occupied' });
});

test('ChangeAvailability and UnlockConnector', async () => {
  const cp = await sim('AVL');
  assert.deepEqual(await csms.send('AVL', 'ChangeAvailability', { connectorId: 1, type: 'Inoperative' }), { status: 'Accepted' });
  await csms.waitFor(() => statusesOf('AVL').at(-1) === '1:Unavailable', 'Unavailable');
  await assert.rejects(cp.startSession({ evseId: 1, idTag: 'X' }), SessionRejectedError);
  assert.deepEqual(await csms.send('AVL', 'ChangeAvailability', { connectorId: 1, type: 'Operative' }), { status: 'Accepted' });
  assert.deepEqual(await csms.send('AVL', 'ChangeAvailability', { connectorId: 5, type: 'Operative' }), { status: 'Rejected' });
  await cp.startSession({ evseId: 1, idTag: 'X' });
  assert.deepEqual(await csms.send('AVL', 'ChangeAvailability', { connectorId: 0, type: 'Inoperative' }), { status: 'Scheduled' });
  assert.deepEqual(await csms.send('AVL', 'UnlockConnector', { connectorId: 9 }), { status: 'NotSupported' });
  assert.deepEqual(await csms.send('AVL', 'UnlockConnector', { connectorId: 1 }), { status: 'Unlocked' });
  const [stop] = await csms.waitForCalls('AVL', 'StopTransaction');
  assert.equal((stop?.payload as { reason: string }).reason, 'UnlockCommand');
  await csms.waitFor(() => statusesOf('AVL').includes('0:Unavailable') && statusesOf('AVL').at(-1) === '1:Unavailable', 'scheduled Inoperative applied');
});

test('TriggerMessage and ExtendedTriggerMessage send the requested message', async () => {
  await sim('TRG');
  const trig = (requestedMessage: string, connectorId?: number) =>
    csms.send('TRG', 'TriggerMessage', connectorId === undefined ? { requestedMessage } : { requestedMessage, connectorId });
  assert.deepEqual(await trig('StatusNotification', 9), { status: 'Rejected' });
  const before = csms.calls('TRG', 'StatusNotification').length;
  assert.deepEqual(await trig('StatusNotification', 1), { status: 'Accepted' });
  await csms.waitForCalls('TRG', 'StatusNotification', before + 1);
  assert.deepEqual(await trig('Heartbeat'), { status: 'Accepted' });
  await csms.waitForCalls('TRG', 'Heartbeat');
  assert.deepEqual(await trig('MeterValues', 1), { status: 'Accepted' });
  const [mv] = await csms.waitForCalls('TRG', 'MeterValues');
  assert.equal((mv?.payload as { transactionId?: number }).transactionId, undefined, 'no transaction running');
  assert.deepEqual(await trig('DiagnosticsStatusNotification'), { status: 'Accepted' });
  assert.deepEqual((await csms.waitForCalls('TRG', 'DiagnosticsStatusNotification'))[0]?.payload, { status: 'Idle' });
  assert.deepEqual(await trig('FirmwareStatusNotification'), { status: 'Accepted' });
  assert.deepEqual((await csms.waitForCalls('TRG', 'FirmwareStatusNotification'))[0]?.payload, { status: 'Idle' });
  assert.deepEqual(await csms.send('TRG', 'ExtendedTriggerMessage', { requestedMessage: 'LogStatusNotification' }), { status: 'Accepted' });
  assert.deepEqual((await csms.waitForCalls('TRG', 'LogStatusNotification'))[0]?.payload, { status: 'Idle' });
  assert.deepEqual(await csms.send('TRG', 'ExtendedTriggerMessage', { requestedMessage: 'FirmwareStatusNotification' }), { status: 'Accepted' });
  await csms.waitForCalls('TRG', 'SignedFirmwareStatusNotification');
  assert.deepEqual(await csms.send('TRG', 'ExtendedTriggerMessage', { requestedMessage: 'SignChargePointCertificate' }), { status: 'Rejected' });
});

test('GetDiagnostics, GetLog and UpdateFirmware report their progress; the firmware update reboots', async () => {
  await sim('FW');
  const diag = (await csms.send('FW', 'GetDiagnostics', { location: 'ftp://example.com/diag' })) as { fileName: string };
  assert.match(diag.fileName, /^FW-diagnostics-/);
  const d = await csms.waitForCalls('FW', 'DiagnosticsStatusNotification', 2);
  assert.deepEqual(payloads(d), [{ status: 'Uploading' }, { status: 'Uploaded' }]);
  const log = await csms.send('FW', 'GetLog', { log: { remoteLocation: 'https://example.com/logs' }, logType: 'DiagnosticsLog', requestId: 12 });
  assert.deepEqual(log, { status: 'Accepted', filename: 'FW-diagnostics-12.log' });
  assert.deepEqual(payloads(await csms.waitForCalls('FW', 'LogStatusNotification', 2)), [
    { status: 'Uploading', requestId: 12 },
    { status: 'Uploaded', requestId: 12 },
  ]);
  assert.deepEqual(await csms.send('FW', 'UpdateFirmware', { location: 'https://example.com/fw.bin', retrieveDate: '2025-01-01T10:00:00Z' }), {});
  await csms.waitForCalls('FW', 'FirmwareStatusNotification', 4, 5000);
  assert.deepEqual(
    payloads<{ status: string }>(csms.calls('FW', 'FirmwareStatusNotification')).map((p) => p.status),
    ['Downloading', 'Downloaded', 'Installing', 'Installed'],
  );
  assert.equal(csms.calls('FW', 'BootNotification').length, 2, 'rebooted into the new firmware');
});

test('Reset stops the transaction (SoftReset), reboots and boots again', async () => {
  const cp = await sim('RST');
  await cp.startSession({ evseId: 1, idTag: 'X' });
  assert.deepEqual(await csms.send('RST', 'Reset', { type: 'Soft' }), { status: 'Accepted' });
  const [stop] = await csms.waitForCalls('RST', 'StopTransaction');
  assert.equal((stop?.payload as { reason: string }).reason, 'SoftReset');
  await csms.waitForCalls('RST', 'BootNotification', 2, 5000);
  await csms.waitFor(() => cp.online, 'online after reboot');
  await csms.waitFor(() => statusesOf('RST').slice(-2).join() === '0:Available,1:Finishing', 'fresh statuses after the boot');
});

test('unknown action → NotImplemented, known but unsupported → NotSupported, bad payloads → 1.6 error codes', async () => {
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
  assert.equal(await code('InstallCertificate', { certificateType: 'CentralSystemRootCertificate', certificate: 'x' }), 'NotSupported');
  assert.equal(await code('Reset', { type: 'Medium' }), 'PropertyConstraintViolation');
  assert.equal(await code('Reset', {}), 'OccurrenceConstraintViolation');
  assert.equal(await code('ChangeAvailability', { connectorId: 'one', type: 'Operative' }), 'TypeConstraintViolation');
  assert.equal(await code('ClearCache', { extra: true }), 'FormationViolation');
});
