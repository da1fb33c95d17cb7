/**
 * /api/v1 commands over real HTTP against real OCPP 1.6 and 2.0.1 clients: every CSMS-initiated action
 * the issue names (generic route, both versions), the version-neutral commands, the station answering
 * Accepted / Rejected / CALLERROR / an invalid payload / nothing, and asynchronous execution with the
 * result POSTed to a real HTTP server on 127.0.0.1.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import ocppRpc from 'ocpp-rpc';
import { startTestCsms, rawClient, type TestCsms, type RawClient } from './helpers/csms.js';
import { CSMS_ACTIONS } from '../src/api/v1/actions.js';
import { CommandResults } from '../src/api/v1/commands.js';
import { validatePayload } from '../src/ocpp/schemas.js';

const ADMIN = 'test-api-key-123';
type Mode = 'accept' | 'reject' | 'callerror' | 'invalid' | 'silent';
let csms: TestCsms;
const clients: RawClient[] = [];
const seen: Array<{ station: string; action: string; params: any }> = [];
let mode: Mode = 'accept';

const ISO = '2030-01-01T00:00:00.000Z';

/** What a compliant station answers (accept mode), per version. */
const ANSWERS: Record<'ocpp1.6' | 'ocpp2.0.1', Record<string, unknown>> = {
  'ocpp1.6': {
    UnlockConnector: { status: 'Unlocked' },
    GetConfiguration: { configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '300' }], unknownKey: [] },
    GetLocalListVersion: { listVersion: 3 },
    UpdateFirmware: {},
    GetDiagnostics: { fileName: 'diag.zip' },
    GetLog: { status: 'Accepted', filename: 'log.zip' },
    DataTransfer: { status: 'Accepted', data: 'pong' },
    ClearChargingProfile: { status: 'Accepted' },
    GetCompositeSchedule: { status: 'Accepted', connectorId: 1, scheduleStart: ISO, chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }] } },
  },
  'ocpp2.0.1': {
    UnlockConnector: { status: 'Unlocked' },
    GetVariables: { getVariableResult: [{ attributeStatus: 'Accepted', attributeValue: '300', component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }] },
    SetVariables: { setVariableResult: [{ attributeStatus: 'Accepted', component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }] },
    GetLocalListVersion: { versionNumber: 3 },
    GetLog: { status: 'Accepted', filename: 'log.zip' },
    DataTransfer: { status: 'Accepted', data: { pong: true } },
    ClearChargingProfile: { status: 'Accepted' },
    GetChargingProfiles: { status: 'NoProfiles' },
  },
};

function answer(protocol: 'ocpp1.6' | 'ocpp2.0.1', action: string): unknown {
  switch (mode) {
    case 'callerror':
      throw ocppRpc.createRPCError('NotSupported', 'not on this box');
    case 'silent':
      return new Promise(() => undefined);
    case 'invalid':
      return { status: 'Bogus' };
    case 'reject':
      return action === 'UnlockConnector' ? { status: 'UnlockFailed' } : { status: 'Rejected' };
    default:
      return ANSWERS[protocol][action] ?? { status: 'Accepted' };
  }
}

async function station(id: string, protocol: 'ocpp1.6' | 'ocpp2.0.1'): Promise<RawClient> {
  const cli = await rawClient(csms, id, protocol);
  cli.handle(({ method, params }: { method: string; params: unknown }) => {
    seen.push({ station: id, action: method, params });
    return answer(protocol, method);
  });
  if (protocol === 'ocpp1.6') {
    await cli.call('BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' });
    for (const connectorId of [1, 2]) await cli.call('StatusNotification', { connectorId, errorCode: 'NoError', status: 'Available' });
  } else {
    await cli.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'M', vendorName: 'V' } });
    await cli.call('StatusNotification', { timestamp: new Date().toISOString(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
  }
  clients.push(cli);
  return cli;
}

async function api(path: string, body?: unknown, opts: { key?: string; method?: string } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { 'x-api-key': opts.key ?? ADMIN };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(csms.url + path, { method: opts.method ?? (body !== undefined ? 'POST' : 'GET'), headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** Poll GET /api/v1/commands/{id} until `pred` holds; returns that body. */
async function pollCommand(id: string, pred: (body: any) => boolean, ms = 5000): Promise<any> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await api(`/api/v1/commands/${id}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    if (pred(r.body)) return r.body;
    if (Date.now() > end) throw new Error(`command ${id} never reached the state: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 10));
  }
}

const cmd = (stationId: string, command: string, body: unknown = {}) => api(`/api/v1/stations/${stationId}/commands/${command}`, body);

// --- a callback receiver ---------------------------------------------------------------------------
let hook: Server;
let hookUrl: string;
const received: any[] = [];
let failNext = 0;

async function waitFor<T>(fn: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

let c16: RawClient;
let c201: RawClient;

before(async () => {
  csms = await startTestCsms({ env: { AMPLINE_API_COMMAND_TIMEOUT_S: '1' } });
  c16 = await station('k16', 'ocpp1.6');
  c201 = await station('k201', 'ocpp2.0.1');
  const gone = await station('gone', 'ocpp1.6');
  await gone.close();
  await waitFor(() => (csms.transport.get('gone') ? undefined : true));
  hook = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      if (failNext > 0) {
        failNext--;
        res.writeHead(500).end();
        return;
      }
      received.push({ headers: req.headers, body: JSON.parse(data) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook?token=abc`;
});

after(async () => {
  // force: a graceful close would wait for the handlers that never answer (silent mode).
  for (const c of clients) await c.close({ force: true }).catch(() => undefined);
  await csms.destroy();
  await new Promise((r) => hook.close(r));
});

test('the CSMS-initiated action sets, derived from the schemas and handler tables, match the specs', () => {
  assert.deepEqual([...CSMS_ACTIONS['ocpp1.6']], [
    'CancelReservation', 'CertificateSigned', 'ChangeAvailability', 'ChangeConfiguration', 'ClearCache', 'ClearChargingProfile',
    'DataTransfer', 'DeleteCertificate', 'ExtendedTriggerMessage', 'GetCompositeSchedule', 'GetConfiguration', 'GetDiagnostics',
    'GetInstalledCertificateIds', 'GetLocalListVersion', 'GetLog', 'InstallCertificate', 'RemoteStartTransaction',
    'RemoteStopTransaction', 'ReserveNow', 'Reset', 'SendLocalList', 'SetChargingProfile', 'SignedUpdateFirmware', 'TriggerMessage',
    'UnlockConnector', 'UpdateFirmware',
  ]);
  assert.deepEqual([...CSMS_ACTIONS['ocpp2.0.1']], [
    'CancelReservation', 'CertificateSigned', 'ChangeAvailability', 'ClearCache', 'ClearChargingProfile', 'ClearDisplayMessage',
    'ClearVariableMonitoring', 'CostUpdated', 'CustomerInformation', 'DataTransfer', 'DeleteCertificate', 'GetBaseReport',
    'GetChargingProfiles', 'GetCompositeSchedule', 'GetDisplayMessages', 'GetInstalledCertificateIds', 'GetLocalListVersion', 'GetLog',
    'GetMonitoringReport', 'GetReport', 'GetTransactionStatus', 'GetVariables', 'InstallCertificate', 'PublishFirmware',
    'RequestStartTransaction', 'RequestStopTransaction', 'ReserveNow', 'Reset', 'SendLocalList', 'SetChargingProfile',
    'SetDisplayMessage', 'SetMonitoringBase', 'SetMonitoringLevel', 'SetNetworkProfile', 'SetVariableMonitoring', 'SetVariables',
    'TriggerMessage', 'UnlockConnector', 'UnpublishFirmware', 'UpdateFirmware',
  ]);
});

test('generic route: every action the issue names, both versions, sent verbatim and answered', async () => {
  mode = 'accept';
  const cases: Array<{ station: 'k16' | 'k201'; action: string; payload: Record<string, unknown> }> = [
    { station: 'k16', action: 'RemoteStartTransaction', payload: { connectorId: 1, idTag: 'TAG1' } },
    { station: 'k16', action: 'RemoteStopTransaction', payload: { transactionId: 7 } },
    { station: 'k16', action: 'Reset', payload: { type: 'Hard' } },
    { station: 'k16', action: 'UnlockConnector', payload: { connectorId: 1 } },
    { station: 'k16', action: 'ChangeAvailability', payload: { connectorId: 0, type: 'Inoperative' } },
    { station: 'k16', action: 'GetConfiguration', payload: { key: ['HeartbeatInterval'] } },
    { station: 'k16', action: 'ChangeConfiguration', payload: { key: 'HeartbeatInterval', value: '300' } },
    { station: 'k16', action: 'TriggerMessage', payload: { requestedMessage: 'StatusNotification', connectorId: 1 } },
    { station: 'k16', action: 'ClearCache', payload: {} },
    { station: 'k16', action: 'SendLocalList', payload: { listVersion: 3, updateType: 'Full', localAuthorizationList: [{ idTag: 'A', idTagInfo: { status: 'Accepted' } }] } },
    { station: 'k16', action: 'GetLocalListVersion', payload: {} },
    { station: 'k16', action: 'ReserveNow', payload: { connectorId: 1, expiryDate: ISO, idTag: 'A', reservationId: 5 } },
    { station: 'k16', action: 'CancelReservation', payload: { reservationId: 5 } },
    { station: 'k16', action: 'UpdateFirmware', payload: { location: 'https://fw.example/fw.bin', retrieveDate: ISO } },
    { station: 'k16', action: 'GetDiagnostics', payload: { location: 'ftp://diag.example/' } },
    { station: 'k16', action: 'GetLog', payload: { logType: 'DiagnosticsLog', requestId: 1, log: { remoteLocation: 'https://logs.example/' } } },
    { station: 'k16', action: 'DataTransfer', payload: { vendorId: 'acme', messageId: 'ping', data: 'x' } },
    {
      station: 'k16',
      action: 'SetChargingProfile',
      payload: {
        connectorId: 1,
        csChargingProfiles: { chargingProfileId: 1, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Relative', chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }] } },
      },
    },
    { station: 'k16', action: 'ClearChargingProfile', payload: { id: 1 } },
    { station: 'k16', action: 'GetCompositeSchedule', payload: { connectorId: 1, duration: 3600 } },
    { station: 'k201', action: 'RequestStartTransaction', payload: { idToken: { idToken: 'A', type: 'ISO14443' }, remoteStartId: 1, evseId: 1 } },
    { station: 'k201', action: 'RequestStopTransaction', payload: { transactionId: 'tx-1' } },
    { station: 'k201', action: 'Reset', payload: { type: 'Immediate' } },
    { station: 'k201', action: 'UnlockConnector', payload: { evseId: 1, connectorId: 1 } },
    { station: 'k201', action: 'ChangeAvailability', payload: { operationalStatus: 'Inoperative' } },
    { station: 'k201', action: 'GetVariables', payload: { getVariableData: [{ component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }] } },
    { station: 'k201', action: 'SetVariables', payload: { setVariableData: [{ attributeValue: '300', component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }] } },
    { station: 'k201', action: 'GetBaseReport', payload: { requestId: 1, reportBase: 'FullInventory' } },
    { station: 'k201', action: 'TriggerMessage', payload: { requestedMessage: 'Heartbeat' } },
    { station: 'k201', action: 'ClearCache', payload: {} },
    { station: 'k201', action: 'SendLocalList', payload: { versionNumber: 3, updateType: 'Full', localAuthorizationList: [{ idToken: { idToken: 'A', type: 'ISO14443' }, idTokenInfo: { status: 'Accepted' } }] } },
    { station: 'k201', action: 'GetLocalListVersion', payload: {} },
    { station: 'k201', action: 'ReserveNow', payload: { id: 5, expiryDateTime: ISO, idToken: { idToken: 'A', type: 'ISO14443' } } },
    { station: 'k201', action: 'CancelReservation', payload: { reservationId: 5 } },
    { station: 'k201', action: 'UpdateFirmware', payload: { requestId: 1, firmware: { location: 'https://fw.example/fw.bin', retrieveDateTime: ISO } } },
    { station: 'k201', action: 'GetLog', payload: { logType: 'DiagnosticsLog', requestId: 1, log: { remoteLocation: 'https://logs.example/' } } },
    { station: 'k201', action: 'DataTransfer', payload: { vendorId: 'acme', data: { ping: 1 } } },
    {
      station: 'k201',
      action: 'SetChargingProfile',
      payload: {
        evseId: 1,
        chargingProfile: { id: 1, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute', chargingSchedule: [{ id: 1, startSchedule: ISO, chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 11000 }] }] },
      },
    },
    { station: 'k201', action: 'ClearChargingProfile', payload: { chargingProfileId: 1 } },
    { station: 'k201', action: 'GetCompositeSchedule', payload: { duration: 3600, evseId: 1 } },
    { station: 'k201', action: 'GetChargingProfiles', payload: { requestId: 1, chargingProfile: { chargingProfilePurpose: 'TxDefaultProfile' } } },
  ];
  for (const c of cases) {
    seen.length = 0;
    const r = await cmd(c.station, c.action, { payload: c.payload });
    const protocol = c.station === 'k16' ? 'ocpp1.6' : 'ocpp2.0.1';
    assert.equal(r.status, 200, `${c.station} ${c.action}: ${JSON.stringify(r.body)}`);
    assert.deepEqual(r.body, { status: 'Answered', stationId: c.station, action: c.action, protocol, response: ANSWERS[protocol][c.action] ?? { status: 'Accepted' } });
    assert.deepEqual(seen, [{ station: c.station, action: c.action, params: c.payload }], `${c.action} sent verbatim`);
  }
});

test('generic route: every CSMS action of both versions is validated against its own OCA schema before sending', async () => {
  mode = 'accept';
  seen.length = 0;
  for (const [stationId, protocol] of [['k16', 'ocpp1.6'], ['k201', 'ocpp2.0.1']] as const) {
    for (const action of CSMS_ACTIONS[protocol]) {
      const r = await cmd(stationId, action, { payload: { notAField: 1 } });
      assert.equal(r.status, 400, `${protocol} ${action}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, 'InvalidOcppRequest');
      assert.match(r.body.message, new RegExp(`^${action} payload is not valid ${protocol.replace('.', '\\.')}: `));
    }
  }
  // The schema's own wording reaches the caller.
  const r = await cmd('k16', 'Reset', { payload: { type: 'Soft-ish' } });
  assert.match(r.body.message, /\/type: must be one of \["Hard","Soft"\]/);
  assert.equal(seen.length, 0, 'nothing invalid was sent');
  // A payload that is valid for the other version only.
  const wrongVersion = await cmd('k201', 'Reset', { payload: { type: 'Soft' } });
  assert.equal(wrongVersion.body.error, 'InvalidOcppRequest');
});

test('neutral commands map to each version\'s action and payload', async () => {
  mode = 'accept';
  // Open transactions to stop.
  const st16 = (await c16.call('StartTransaction', { connectorId: 2, idTag: 'T', meterStart: 0, timestamp: new Date().toISOString() })) as { transactionId: number };
  await c201.call('TransactionEvent', { eventType: 'Started', timestamp: new Date().toISOString(), triggerReason: 'Authorized', seqNo: 0, evse: { id: 1, connectorId: 1 }, transactionInfo: { transactionId: 'ntx-1' } });
  const active = (await api('/api/v1/transactions?state=active')).body.data as any[];
  const tx16 = active.find((t) => t.stationId === 'k16');
  const tx201 = active.find((t) => t.stationId === 'k201');

  const cases: Array<{ station: 'k16' | 'k201'; command: string; body: Record<string, unknown>; action: string; params: (p: any) => void }> = [
    { station: 'k16', command: 'remote-start', body: { evseId: 1, idTag: 'TAG9' }, action: 'RemoteStartTransaction', params: (p) => assert.deepEqual(p, { connectorId: 1, idTag: 'TAG9' }) },
    { station: 'k16', command: 'remote-start', body: { idTag: 'TAG9' }, action: 'RemoteStartTransaction', params: (p) => assert.deepEqual(p, { idTag: 'TAG9' }) },
    {
      station: 'k201',
      command: 'remote-start',
      body: { evseId: 1, idTag: 'TAG9' },
      action: 'RequestStartTransaction',
      params: (p) => {
        assert.equal(p.evseId, 1);
        assert.deepEqual(p.idToken, { idToken: 'TAG9', type: 'ISO14443' });
        assert.equal(typeof p.remoteStartId, 'number');
      },
    },
    { station: 'k16', command: 'remote-stop', body: { transactionId: tx16.id }, action: 'RemoteStopTransaction', params: (p) => assert.deepEqual(p, { transactionId: st16.transactionId }) },
    { station: 'k16', command: 'remote-stop', body: { evseId: 2 }, action: 'RemoteStopTransaction', params: (p) => assert.deepEqual(p, { transactionId: st16.transactionId }) },
    { station: 'k201', command: 'remote-stop', body: { transactionId: tx201.id }, action: 'RequestStopTransaction', params: (p) => assert.deepEqual(p, { transactionId: 'ntx-1' }) },
    { station: 'k201', command: 'remote-stop', body: { evseId: 1 }, action: 'RequestStopTransaction', params: (p) => assert.deepEqual(p, { transactionId: 'ntx-1' }) },
    { station: 'k16', command: 'reset', body: {}, action: 'Reset', params: (p) => assert.deepEqual(p, { type: 'Soft' }) },
    { station: 'k16', command: 'reset', body: { type: 'hard' }, action: 'Reset', params: (p) => assert.deepEqual(p, { type: 'Hard' }) },
    { station: 'k201', command: 'reset', body: { type: 'soft' }, action: 'Reset', params: (p) => assert.deepEqual(p, { type: 'OnIdle' }) },
    { station: 'k201', command: 'reset', body: { type: 'hard' }, action: 'Reset', params: (p) => assert.deepEqual(p, { type: 'Immediate' }) },
    { station: 'k16', command: 'unlock', body: { evseId: 1 }, action: 'UnlockConnector', params: (p) => assert.deepEqual(p, { connectorId: 1 }) },
    { station: 'k201', command: 'unlock', body: { evseId: 1 }, action: 'UnlockConnector', params: (p) => assert.deepEqual(p, { evseId: 1, connectorId: 1 }) },
    { station: 'k201', command: 'unlock', body: { evseId: 1, connectorId: 2 }, action: 'UnlockConnector', params: (p) => assert.deepEqual(p, { evseId: 1, connectorId: 2 }) },
    { station: 'k16', command: 'change-availability', body: { evseId: 0, operative: false }, action: 'ChangeAvailability', params: (p) => assert.deepEqual(p, { connectorId: 0, type: 'Inoperative' }) },
    { station: 'k201', command: 'change-availability', body: { evseId: 0, operative: false }, action: 'ChangeAvailability', params: (p) => assert.deepEqual(p, { operationalStatus: 'Inoperative' }) },
    { station: 'k201', command: 'change-availability', body: { evseId: 1, operative: true }, action: 'ChangeAvailability', params: (p) => assert.deepEqual(p, { operationalStatus: 'Operative', evse: { id: 1 } }) },
    { station: 'k16', command: 'trigger-message', body: { message: 'StatusNotification', evseId: 1 }, action: 'TriggerMessage', params: (p) => assert.deepEqual(p, { requestedMessage: 'StatusNotification', connectorId: 1 }) },
    { station: 'k16', command: 'trigger-message', body: { message: 'LogStatusNotification' }, action: 'ExtendedTriggerMessage', params: (p) => assert.deepEqual(p, { requestedMessage: 'LogStatusNotification' }) },
    { station: 'k16', command: 'trigger-message', body: { message: 'SignChargingStationCertificate' }, action: 'ExtendedTriggerMessage', params: (p) => assert.deepEqual(p, { requestedMessage: 'SignChargePointCertificate' }) },
    { station: 'k201', command: 'trigger-message', body: { message: 'StatusNotification', evseId: 1 }, action: 'TriggerMessage', params: (p) => assert.deepEqual(p, { requestedMessage: 'StatusNotification', evse: { id: 1 } }) },
    { station: 'k201', command: 'trigger-message', body: { message: 'SignChargePointCertificate' }, action: 'TriggerMessage', params: (p) => assert.deepEqual(p, { requestedMessage: 'SignChargingStationCertificate' }) },
    { station: 'k16', command: 'clear-cache', body: {}, action: 'ClearCache', params: (p) => assert.deepEqual(p, {}) },
    { station: 'k201', command: 'clear-cache', body: {}, action: 'ClearCache', params: (p) => assert.deepEqual(p, {}) },
    { station: 'k16', command: 'data-transfer', body: { vendorId: 'acme', messageId: 'm', data: { a: 1 } }, action: 'DataTransfer', params: (p) => assert.deepEqual(p, { vendorId: 'acme', messageId: 'm', data: '{"a":1}' }) },
    { station: 'k201', command: 'data-transfer', body: { vendorId: 'acme', data: { a: 1 } }, action: 'DataTransfer', params: (p) => assert.deepEqual(p, { vendorId: 'acme', data: { a: 1 } }) },
  ];
  for (const c of cases) {
    seen.length = 0;
    const r = await cmd(c.station, c.command, c.body);
    const label = `${c.station} ${c.command} ${JSON.stringify(c.body)}`;
    assert.equal(r.status, 200, `${label}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.status, 'Answered', label);
    assert.equal(r.body.action, c.action, label);
    assert.equal(seen.length, 1, label);
    assert.equal(seen[0]!.action, c.action, label);
    const protocol = c.station === 'k16' ? 'ocpp1.6' : 'ocpp2.0.1';
    assert.ok(validatePayload(protocol, c.action, 'req', seen[0]!.params).ok, label);
    c.params(seen[0]!.params);
  }
  // clear-cache needs no body at all
  const noBody = await fetch(`${csms.url}/api/v1/stations/k16/commands/clear-cache`, { method: 'POST', headers: { 'x-api-key': ADMIN } });
  assert.equal(noBody.status, 200);

  // Refused before anything is sent.
  await c16.call('StopTransaction', { transactionId: st16.transactionId, meterStop: 10, timestamp: new Date().toISOString() });
  seen.length = 0;
  const refusals: Array<{ station: string; command: string; body: unknown; status: number; error: string }> = [
    { station: 'k16', command: 'remote-stop', body: { transactionId: tx16.id }, status: 424, error: 'NoOpenTransaction' },
    { station: 'k16', command: 'remote-stop', body: { evseId: 2 }, status: 424, error: 'NoOpenTransaction' },
    { station: 'k16', command: 'remote-stop', body: { transactionId: tx201.id }, status: 404, error: 'UnknownTransaction' },
    { station: 'k16', command: 'remote-stop', body: { transactionId: 'nope' }, status: 404, error: 'UnknownTransaction' },
    { station: 'k16', command: 'remote-stop', body: {}, status: 400, error: 'BadRequest' },
    { station: 'k16', command: 'remote-stop', body: { evseId: 1, transactionId: tx16.id }, status: 400, error: 'BadRequest' },
    { station: 'k16', command: 'trigger-message', body: { message: 'TransactionEvent' }, status: 400, error: 'InvalidOcppRequest' },
    { station: 'k201', command: 'trigger-message', body: { message: 'DiagnosticsStatusNotification' }, status: 400, error: 'InvalidOcppRequest' },
    { station: 'k16', command: 'trigger-message', body: { message: 'Nonsense' }, status: 400, error: 'BadRequest' },
    { station: 'k16', command: 'remote-start', body: { idTag: 'x'.repeat(21) }, status: 400, error: 'InvalidOcppRequest' },
    { station: 'k16', command: 'unlock', body: {}, status: 400, error: 'BadRequest' },
    { station: 'k16', command: 'unlock', body: { evseId: '1' }, status: 400, error: 'BadRequest' },
    { station: 'k16', command: 'change-availability', body: { evseId: 1, operative: 'yes' }, status: 400, error: 'BadRequest' },
    { station: 'k16', command: 'reset', body: { type: 'Soft' }, status: 400, error: 'BadRequest' },
    { station: 'k16', command: 'clear-cache', body: { please: true }, status: 400, error: 'BadRequest' },
  ];
  for (const c of refusals) {
    const r = await cmd(c.station, c.command, c.body);
    assert.deepEqual([r.status, r.body.error], [c.status, c.error], `${c.command} ${JSON.stringify(c.body)}: ${JSON.stringify(r.body)}`);
  }
  assert.equal(seen.length, 0, 'nothing was sent for refused commands');
});

test('station answers Rejected, CALLERROR at once, an invalid payload, or nothing (504 after the bound)', async () => {
  mode = 'reject';
  assert.deepEqual((await cmd('k16', 'reset')).body.response, { status: 'Rejected' });
  assert.deepEqual((await cmd('k201', 'unlock', { evseId: 1 })).body.response, { status: 'UnlockFailed' });
  assert.deepEqual((await cmd('k201', 'RequestStartTransaction', { payload: { idToken: { idToken: 'A', type: 'ISO14443' }, remoteStartId: 2 } })).body.response, { status: 'Rejected' });

  mode = 'callerror';
  for (const [station, path, body] of [['k16', 'clear-cache', {}], ['k201', 'GetVariables', { payload: { getVariableData: [{ component: { name: 'X' }, variable: { name: 'Y' } }] } }]] as const) {
    const t0 = Date.now();
    const r = await cmd(station, path, body);
    assert.deepEqual([r.status, r.body.error, r.body.errorCode], [502, 'ChargerCallError', 'NotSupported'], JSON.stringify(r.body));
    assert.equal(r.body.errorDescription, 'not on this box');
    assert.ok(Date.now() - t0 < 800, 'CALLERROR reported before the timeout');
  }

  mode = 'invalid';
  const inv = await cmd('k16', 'reset');
  assert.deepEqual([inv.status, inv.body.error], [502, 'ChargerInvalidResponse']);

  mode = 'silent';
  const t0 = Date.now();
  const to = await cmd('k201', 'reset');
  assert.deepEqual([to.status, to.body.error], [504, 'Timeout']);
  assert.ok(Date.now() - t0 >= 900 && Date.now() - t0 < 3000, 'default bound (AMPLINE_API_COMMAND_TIMEOUT_S=1)');
  const to2 = await cmd('k16', 'ClearCache', { payload: {}, timeoutS: 1 });
  assert.deepEqual([to2.status, to2.body.error], [504, 'Timeout']);
  mode = 'accept';
});

test('unknown, offline, wrong-version and malformed commands', async () => {
  mode = 'accept';
  seen.length = 0;
  const cases: Array<{ path: string; body?: unknown; status: number; error: string }> = [
    { path: '/api/v1/stations/nosuch/commands/reset', body: {}, status: 404, error: 'UnknownStation' },
    { path: '/api/v1/stations/nosuch/commands/Reset', body: { payload: { type: 'Soft' } }, status: 404, error: 'UnknownStation' },
    { path: '/api/v1/stations/gone/commands/Reset', body: { payload: { type: 'Soft' } }, status: 409, error: 'StationOffline' },
    { path: '/api/v1/stations/gone/commands/clear-cache', body: {}, status: 409, error: 'StationOffline' },
    { path: '/api/v1/stations/k16/commands/Bogus', body: {}, status: 404, error: 'UnknownCommand' },
    { path: '/api/v1/stations/k16/commands/reboot-now', body: {}, status: 404, error: 'UnknownCommand' },
    { path: '/api/v1/stations/k16/commands/BootNotification', body: {}, status: 404, error: 'UnknownCommand' },
    { path: '/api/v1/stations/k16/commands/GetVariables', body: { payload: {} }, status: 404, error: 'UnknownCommand' },
    { path: '/api/v1/stations/k201/commands/GetConfiguration', body: { payload: {} }, status: 404, error: 'UnknownCommand' },
    { path: '/api/v1/stations/k16/commands/Reset', body: { payload: 'Soft' }, status: 400, error: 'BadRequest' },
    { path: '/api/v1/stations/k16/commands/Reset', body: { payload: [] }, status: 400, error: 'BadRequest' },
    { path: '/api/v1/stations/k16/commands/Reset', body: { payload: { type: 'Soft' }, extra: 1 }, status: 400, error: 'BadRequest' },
    { path: '/api/v1/stations/k16/commands/Reset', body: { payload: { type: 'Soft' }, timeoutS: 0 }, status: 400, error: 'BadRequest' },
    { path: '/api/v1/stations/k16/commands/Reset', body: { payload: { type: 'Soft' }, timeoutS: 601 }, status: 400, error: 'BadRequest' },
    { path: '/api/v1/stations/k16/commands/Reset', body: { payload: { type: 'Soft' }, timeoutS: '5' }, status: 400, error: 'BadRequest' },
    { path: '/api/v1/stations/k16/commands/Reset', body: { payload: { type: 'Soft' }, callbackUrl: 'ftp://example.org/x' }, status: 400, error: 'BadRequest' },
    { path: '/api/v1/stations/k16/commands/Reset', body: { payload: { type: 'Soft' }, callbackUrl: 'not a url' }, status: 400, error: 'BadRequest' },
    { path: '/api/v1/stations/k16/commands/Reset', body: { payload: {} }, status: 400, error: 'InvalidOcppRequest' },
    { path: '/api/v1/stations/k16/commands/Reset', status: 400, error: 'InvalidOcppRequest' },
  ];
  for (const c of cases) {
    const r = c.body === undefined ? await fetch(csms.url + c.path, { method: 'POST', headers: { 'x-api-key': ADMIN } }).then(async (x) => ({ status: x.status, body: await x.json() })) : await api(c.path, c.body);
    assert.deepEqual([r.status, r.body.error], [c.status, c.error], `${c.path} ${JSON.stringify(c.body)}: ${JSON.stringify(r.body)}`);
    assert.equal(typeof r.body.message, 'string');
  }
  assert.equal(seen.length, 0);
  const malformed = await fetch(`${csms.url}/api/v1/stations/k16/commands/Reset`, { method: 'POST', headers: { 'x-api-key': ADMIN, 'content-type': 'application/json' }, body: '{"payload":' });
  assert.equal(malformed.status, 400);
});

test('asynchronous commands: 202 at once, result POSTed to the callback URL and readable by id', async () => {
  mode = 'accept';
  received.length = 0;
  const r = await cmd('k201', 'Reset', { payload: { type: 'OnIdle' }, callbackUrl: hookUrl });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.match(r.body.commandId, /^[0-9a-f-]{36}$/);
  assert.equal(r.body.status, 'Pending');
  assert.equal(r.headers.get('location'), `/api/v1/commands/${r.body.commandId}`);
  const got = await waitFor(() => received.find((x) => x.body.commandId === r.body.commandId));
  assert.equal(got.headers['content-type'], 'application/json');
  assert.equal(got.headers['x-ampline-command-id'], r.body.commandId);
  assert.deepEqual(
    { ...got.body, createdAt: undefined, completedAt: undefined },
    { commandId: r.body.commandId, stationId: 'k201', action: 'Reset', protocol: 'ocpp2.0.1', status: 'Answered', response: { status: 'Accepted' }, createdAt: undefined, completedAt: undefined },
  );
  const delivered = await pollCommand(r.body.commandId, (b) => b.callback.delivered);
  assert.equal(delivered.status, 'Answered');
  assert.deepEqual(delivered.response, { status: 'Accepted' });
  assert.deepEqual(delivered.callback, { delivered: true, attempts: 1 });

  // Neutral commands too.
  const n = await cmd('k16', 'trigger-message', { message: 'Heartbeat', callbackUrl: hookUrl });
  assert.equal(n.status, 202);
  const ng = await waitFor(() => received.find((x) => x.body.commandId === n.body.commandId));
  assert.equal(ng.body.action, 'TriggerMessage');
});

test('asynchronous outcomes: Timeout, CallError, Offline (connection lost while waiting), and callback retries', async () => {
  received.length = 0;
  mode = 'silent';
  const t = await cmd('k16', 'reset', { timeoutS: 1, callbackUrl: hookUrl });
  assert.equal(t.status, 202);
  mode = 'callerror';
  const ce = await cmd('k201', 'clear-cache', { callbackUrl: hookUrl });
  const ceBody = (await waitFor(() => received.find((x) => x.body.commandId === ce.body.commandId))).body;
  assert.equal(ceBody.status, 'CallError');
  assert.deepEqual([ceBody.error.code, ceBody.error.errorCode], ['ChargerCallError', 'NotSupported']);
  const tBody = (await waitFor(() => received.find((x) => x.body.commandId === t.body.commandId), 4000)).body;
  assert.equal(tBody.status, 'Timeout');
  assert.equal(tBody.error.code, 'Timeout');
  assert.equal(tBody.response, undefined);

  mode = 'silent';
  const drop = await station('kdrop', 'ocpp2.0.1');
  const off = await cmd('kdrop', 'Reset', { payload: { type: 'Immediate' }, timeoutS: 30, callbackUrl: hookUrl });
  assert.equal(off.status, 202);
  await waitFor(() => (seen.some((s) => s.station === 'kdrop' && s.action === 'Reset') ? true : undefined));
  await drop.close({ force: true });
  const offBody = (await waitFor(() => received.find((x) => x.body.commandId === off.body.commandId))).body;
  assert.equal(offBody.status, 'Offline');

  // The receiver fails once: delivered on the second try (after the 1 s backoff).
  mode = 'accept';
  failNext = 1;
  const retry = await cmd('k16', 'clear-cache', { callbackUrl: hookUrl });
  await waitFor(() => received.find((x) => x.body.commandId === retry.body.commandId), 5000);
  const retried = await pollCommand(retry.body.commandId, (b) => b.callback.delivered);
  assert.deepEqual(retried.callback, { delivered: true, attempts: 2 });

  // A callback URL nobody listens on: the command still completes and is readable; delivery keeps trying.
  const dead = await cmd('k16', 'clear-cache', { callbackUrl: 'http://127.0.0.1:9/unreachable' });
  assert.equal(dead.status, 202);
  const deadRec = await pollCommand(dead.body.commandId, (b) => b.callback.attempts >= 1 && b.callback.lastError !== undefined);
  assert.equal(deadRec.status, 'Answered');
  assert.equal(deadRec.callback.delivered, false);
});

test('command results are kept in a bounded store (oldest evicted)', () => {
  const store = new CommandResults(3);
  const rec = (id: string) => ({ commandId: id, stationId: 's', action: 'Reset', protocol: 'ocpp1.6' as const, status: 'Pending' as const, createdAt: '', callback: { delivered: false, attempts: 0 } });
  for (const id of ['a', 'b', 'c', 'd']) store.put(rec(id));
  assert.equal(store.size, 3);
  assert.equal(store.get('a'), undefined);
  store.put(rec('b')); // rewritten: now the newest
  store.put(rec('e'));
  assert.deepEqual(['b', 'c', 'd', 'e'].map((id) => store.get(id) !== undefined), [true, false, true, true]);
});
