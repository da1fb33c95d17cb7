/**
 * Seed 003 `/API/...` over real HTTP against real OCPP clients of both versions: every command, the
 * charger answering Accepted / Rejected / CALLERROR / nothing, and each kind of bad input.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import ocppRpc from 'ocpp-rpc';
import { startTestCsms, rawClient, type TestCsms, type RawClient } from './helpers/csms.js';
import { parseLimit, ocppCoreStatusCode } from '../src/api/ocppcore.js';

const KEY = 'test-api-key-123';
let csms: TestCsms;
let c16: RawClient;
let c201: RawClient;
const seen: Array<{ id: string; action: string; params: any }> = [];
let mode: 'accept' | 'reject' | 'callerror' | 'silent' = 'accept';

function answer(action: string, params: any): unknown {
  if (mode === 'callerror') throw ocppRpc.createRPCError('NotSupported', 'not here');
  if (mode === 'silent') return new Promise(() => undefined);
  const ok = mode === 'accept';
  switch (action) {
    case 'UnlockConnector':
      return { status: ok ? 'Unlocked' : 'UnlockFailed' };
    case 'ClearChargingProfile':
      return { status: ok ? 'Accepted' : 'Unknown' };
    default:
      void params;
      return { status: ok ? 'Accepted' : 'Rejected' };
  }
}

async function station(id: string, protocol: 'ocpp1.6' | 'ocpp2.0.1'): Promise<RawClient> {
  const cli = await rawClient(csms, id, protocol);
  for (const a of ['Reset', 'UnlockConnector', 'SetChargingProfile', 'ClearChargingProfile', 'RemoteStartTransaction', 'RemoteStopTransaction', 'RequestStartTransaction', 'RequestStopTransaction']) {
    cli.handle(a, ({ params }) => {
      seen.push({ id, action: a, params });
      return answer(a, params);
    });
  }
  if (protocol === 'ocpp1.6') {
    await cli.call('BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' });
    await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
    await cli.call('StatusNotification', { connectorId: 2, errorCode: 'NoError', status: 'Charging' });
  } else {
    await cli.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'M', vendorName: 'V' } });
    await cli.call('StatusNotification', { timestamp: new Date().toISOString(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
  }
  return cli;
}

async function api(path: string, opts: { key?: string | null; method?: string } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (opts.key !== null) headers['X-API-Key'] = opts.key ?? KEY;
  const res = await fetch(csms.url + path, { method: opts.method ?? 'GET', headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

before(async () => {
  csms = await startTestCsms({ env: { AMPLINE_API_COMMAND_TIMEOUT_S: '1' } });
  c16 = await station('cp16', 'ocpp1.6');
  c201 = await station('cp201', 'ocpp2.0.1');
  // A known station that is offline.
  const gone = await station('gone', 'ocpp1.6');
  await gone.close();
  for (let i = 0; i < 50 && csms.transport.get('gone'); i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 50));
});

after(async () => {
  // force: the "silent" case leaves a handler pending on the charger side.
  await c16.close({ force: true });
  await c201.close({ force: true });
  await csms.destroy();
});

test('Status lists online stations with OCPP.Core connector codes', async () => {
  const ts = new Date().toISOString();
  const st = (await c16.call('StartTransaction', { connectorId: 2, idTag: 'T1', meterStart: 1000, timestamp: ts })) as { transactionId: number };
  await c16.call('MeterValues', { connectorId: 2, transactionId: st.transactionId, meterValue: [{ timestamp: ts, sampledValue: [{ value: '3500' }, { value: '7400', measurand: 'Power.Active.Import', unit: 'W' }] }] });
  const { status, body } = await api('/API/Status');
  assert.equal(status, 200);
  const ids = body.map((s: any) => s.id);
  assert.deepEqual(ids, ['cp16', 'cp201']);
  const s16 = body.find((s: any) => s.id === 'cp16');
  assert.equal(s16.protocol, 'ocpp1.6');
  assert.deepEqual(s16.OnlineConnectors['1'], { Status: 1, ChargeRateKW: null, MeterKWH: null, MeterValueDate: '0001-01-01T00:00:00+00:00', SoC: null });
  assert.equal(s16.OnlineConnectors['2'].Status, 2);
  assert.equal(s16.OnlineConnectors['2'].ChargeRateKW, 7.4);
  assert.equal(s16.OnlineConnectors['2'].MeterKWH, 3.5);
  await c16.call('StopTransaction', { transactionId: st.transactionId, meterStop: 4000, timestamp: new Date().toISOString() });
});

test('commands send the version-correct OCPP message and return the charger status word', async () => {
  mode = 'accept';
  const cases: Array<{ path: string; station: string; action: string; status: string; check?: (p: any) => void }> = [
    { path: '/API/Reset/cp16', station: 'cp16', action: 'Reset', status: 'Accepted', check: (p) => assert.deepEqual(p, { type: 'Soft' }) },
    { path: '/API/Reset/cp201', station: 'cp201', action: 'Reset', status: 'Accepted', check: (p) => assert.deepEqual(p, { type: 'OnIdle' }) },
    { path: '/API/UnlockConnector/cp16/1', station: 'cp16', action: 'UnlockConnector', status: 'Unlocked', check: (p) => assert.deepEqual(p, { connectorId: 1 }) },
    { path: '/API/UnlockConnector/cp201/1', station: 'cp201', action: 'UnlockConnector', status: 'Unlocked', check: (p) => assert.deepEqual(p, { evseId: 1, connectorId: 1 }) },
    {
      path: '/API/SetChargingLimit/cp16/1/16A',
      station: 'cp16',
      action: 'SetChargingProfile',
      status: 'Accepted',
      check: (p) => {
        assert.equal(p.connectorId, 1);
        assert.equal(p.csChargingProfiles.chargingProfileId, 100);
        assert.equal(p.csChargingProfiles.chargingProfilePurpose, 'TxDefaultProfile');
        assert.equal(p.csChargingProfiles.chargingProfileKind, 'Absolute');
        assert.ok(p.csChargingProfiles.chargingSchedule.startSchedule);
        assert.deepEqual(p.csChargingProfiles.chargingSchedule.chargingSchedulePeriod, [{ startPeriod: 0, limit: 16 }]);
        assert.equal(p.csChargingProfiles.chargingSchedule.chargingRateUnit, 'A');
      },
    },
    {
      path: '/API/SetChargingLimit/cp201/1/11000.55W',
      station: 'cp201',
      action: 'SetChargingProfile',
      status: 'Accepted',
      check: (p) => {
        assert.equal(p.evseId, 1);
        assert.equal(p.chargingProfile.id, 100);
        assert.equal(p.chargingProfile.chargingSchedule[0].id, 101);
        assert.ok(p.chargingProfile.chargingSchedule[0].startSchedule);
        assert.deepEqual(p.chargingProfile.chargingSchedule[0].chargingSchedulePeriod, [{ startPeriod: 0, limit: 11000.5 }]);
      },
    },
    { path: '/API/SetChargingLimit/cp16/0/2000w', station: 'cp16', action: 'SetChargingProfile', status: 'Accepted', check: (p) => assert.equal(p.connectorId, 0) },
    { path: '/API/ClearChargingLimit/cp16/1', station: 'cp16', action: 'ClearChargingProfile', status: 'Accepted', check: (p) => assert.equal(p.id, 100) },
    { path: '/API/ClearChargingLimit/cp201/1', station: 'cp201', action: 'ClearChargingProfile', status: 'Accepted', check: (p) => assert.equal(p.chargingProfileId, 100) },
    { path: '/API/StartTransaction/cp16/1/TAG9', station: 'cp16', action: 'RemoteStartTransaction', status: 'Accepted', check: (p) => assert.deepEqual(p, { connectorId: 1, idTag: 'TAG9' }) },
    {
      path: '/API/StartTransaction/cp201/1/TAG9',
      station: 'cp201',
      action: 'RequestStartTransaction',
      status: 'Accepted',
      check: (p) => {
        assert.equal(p.evseId, 1);
        assert.deepEqual(p.idToken, { idToken: 'TAG9', type: 'ISO14443' });
        assert.equal(typeof p.remoteStartId, 'number');
      },
    },
  ];
  for (const c of cases) {
    seen.length = 0;
    const r = await api(c.path, { method: 'POST' });
    assert.equal(r.status, 200, `${c.path}: ${JSON.stringify(r.body)}`);
    assert.deepEqual(r.body, { status: c.status }, c.path);
    assert.equal(seen.length, 1, c.path);
    assert.equal(seen[0]!.action, c.action);
    assert.equal(seen[0]!.id, c.station);
    c.check?.(seen[0]!.params);
  }
});

test('StopTransaction stops the open transaction, 424 when none is open', async () => {
  mode = 'accept';
  const st = (await c16.call('StartTransaction', { connectorId: 1, idTag: 'T2', meterStart: 0, timestamp: new Date().toISOString() })) as { transactionId: number };
  seen.length = 0;
  const r = await api('/API/StopTransaction/cp16/1');
  assert.deepEqual(r.body, { status: 'Accepted' });
  assert.deepEqual(seen[0]!.params, { transactionId: st.transactionId });
  await c16.call('StopTransaction', { transactionId: st.transactionId, meterStop: 10, timestamp: new Date().toISOString() });
  const none = await api('/API/StopTransaction/cp16/1');
  assert.equal(none.status, 424);
  assert.equal(none.body.error, 'NoOpenTransaction');

  const ts = new Date().toISOString();
  await c201.call('TransactionEvent', { eventType: 'Started', timestamp: ts, triggerReason: 'Authorized', seqNo: 0, evse: { id: 1, connectorId: 1 }, transactionInfo: { transactionId: 'abc-1' } });
  seen.length = 0;
  const r2 = await api('/API/StopTransaction/cp201/1');
  assert.deepEqual(r2.body, { status: 'Accepted' });
  assert.deepEqual(seen[0]!.params, { transactionId: 'abc-1' });
});

test('charger answers Rejected, CALLERROR at once, or nothing (Timeout)', async () => {
  mode = 'reject';
  assert.deepEqual((await api('/API/Reset/cp16')).body, { status: 'Rejected' });
  assert.deepEqual((await api('/API/UnlockConnector/cp201/1')).body, { status: 'UnlockFailed' });
  assert.deepEqual((await api('/API/ClearChargingLimit/cp201/1')).body, { status: 'Unknown' });
  mode = 'callerror';
  const t0 = Date.now();
  const ce = await api('/API/SetChargingLimit/cp16/1/16A');
  assert.equal(ce.status, 502);
  assert.equal(ce.body.error, 'ChargerCallError');
  assert.equal(ce.body.errorCode, 'NotSupported');
  assert.ok(Date.now() - t0 < 900, 'CALLERROR reported before the timeout');
  mode = 'silent';
  const to = await api('/API/Reset/cp201');
  assert.equal(to.status, 200);
  assert.deepEqual(to.body, { status: 'Timeout' });
  mode = 'accept';
});

test('bad input: each a clear 4xx with a JSON error body', async () => {
  mode = 'accept';
  const cases: Array<{ path: string; key?: string | null; status: number; error: string }> = [
    { path: '/API/Status', key: null, status: 401, error: 'Unauthorized' },
    { path: '/API/Status', key: 'wrong-key-xyz', status: 401, error: 'Unauthorized' },
    { path: '/API/Nope/cp16', status: 404, error: 'UnknownCommand' },
    { path: '/API/reset/cp16', status: 404, error: 'UnknownCommand' },
    { path: '/API/Reset', status: 400, error: 'MissingParameter' },
    { path: '/API/Reset/nosuch', status: 404, error: 'UnknownStation' },
    { path: '/API/Reset/gone', status: 409, error: 'StationOffline' },
    { path: '/API/UnlockConnector/cp16/7', status: 404, error: 'UnknownConnector' },
    { path: '/API/UnlockConnector/cp16/x', status: 400, error: 'InvalidConnector' },
    { path: '/API/UnlockConnector/cp16', status: 400, error: 'MissingParameter' },
    { path: '/API/SetChargingLimit/cp16/1/-5A', status: 400, error: 'InvalidLimit' },
    { path: '/API/SetChargingLimit/cp16/1/16X', status: 400, error: 'InvalidLimit' },
    { path: '/API/SetChargingLimit/cp16/1/1e9W', status: 400, error: 'InvalidLimit' },
    { path: '/API/SetChargingLimit/cp16/1/11kW', status: 400, error: 'InvalidLimit' },
    { path: '/API/SetChargingLimit/cp16/1/99999999W', status: 400, error: 'InvalidLimit' },
    { path: '/API/SetChargingLimit/cp16/1', status: 400, error: 'MissingParameter' },
    { path: '/API/StartTransaction/cp16/1', status: 400, error: 'MissingParameter' },
  ];
  for (const c of cases) {
    const r = await api(c.path, { key: c.key });
    assert.equal(r.status, c.status, `${c.path}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, c.error, c.path);
    assert.equal(typeof r.body.message, 'string');
  }
});

test('parseLimit and status codes (pure)', () => {
  assert.deepEqual(parseLimit('16A'), { limit: 16, unit: 'A' });
  assert.deepEqual(parseLimit('6.5a'), { limit: 6.5, unit: 'A' });
  assert.deepEqual(parseLimit('2000W'), { limit: 2000, unit: 'W' });
  for (const bad of ['', 'A', '16', '+16A', '16 A', '1e3W', '11kW', '0x10A']) assert.throws(() => parseLimit(bad), /Invalid limit/, bad);
  assert.deepEqual(['Available', 'Occupied', 'Reserved', 'Unavailable', 'Faulted', null].map(ocppCoreStatusCode), [1, 2, 2, 3, 4, 0]);
});

test('scoped keys from /api/v1 work here too: read may Status, only command may act', async () => {
  const mk = async (scopes: string[]) => {
    const res = await fetch(`${csms.url}/api/v1/api-keys`, {
      method: 'POST',
      headers: { 'X-API-Key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `k-${scopes.join('-')}`, scopes }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    return ((await res.json()) as { key: string }).key;
  };
  const readKey = await mk(['read']);
  const commandKey = await mk(['command']);
  assert.equal((await api('/API/Status', { key: readKey })).status, 200);
  const denied = await api('/API/Reset/cp16', { key: readKey });
  assert.equal(denied.status, 403);
  assert.equal(denied.body.error, 'Forbidden');
  mode = 'accept';
  assert.deepEqual((await api('/API/Reset/cp16', { key: commandKey })).body, { status: 'Accepted' });
});
