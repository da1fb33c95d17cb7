/**
 * Event ingest (seed 001; protocols.md §1.5): `…/events/{pp}/TransactionEvent/` and `…/MeterValues` with
 * strict OCPP schema validation for 2.0.1 and 1.6 payloads, the 1.6 StartTransaction/StopTransaction/
 * StatusNotification interpretation, authentication failures, idempotent retries, and the session state
 * built per station and EVSE.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CpoCaller,
  admin,
  iso,
  mv16,
  mv201,
  pairStation,
  registerCpo,
  sessionsOf,
  startFakeCpo,
  startTestScsp,
  te201,
  type FakeCpo,
  type TestScsp,
} from './helpers.js';

let scsp: TestScsp;
let fake: FakeCpo;
let cpo: CpoCaller;
const T0 = Date.parse('2025-06-02T18:00:00Z');
const min = (n: number) => T0 + n * 60_000;

before(async () => {
  [scsp, fake] = await Promise.all([startTestScsp(), startFakeCpo()]);
  cpo = new CpoCaller(scsp, await registerCpo(scsp, 'cpo-a', { baseUrl: fake.url, cpoToken: fake.token }));
  await Promise.all(['st-201', 'st-16', 'st-bad', 'st-idem', 'st-order', 'st-16te', 'st-auth'].map((uid) => pairStation(scsp, cpo, uid, uid.includes('16') ? 'ocpp1.6' : 'ocpp2.0.1')));
});
after(async () => {
  await scsp.idle();
  await Promise.all([scsp.destroy(), fake.close()]);
});

test('2.0.1: Started → Updated → MeterValues → Ended builds the session (energy, power, SoC, charging state)', async () => {
  const uid = 'st-201';
  const steps: Array<{ action: string; body: Record<string, unknown> }> = [
    { action: 'TransactionEvent', body: te201({ eventType: 'Started', tx: 'tx-201', seqNo: 0, at: min(0), evse: 2, chargingState: 'Charging', energyWh: 1000, powerW: 0, soc: 20 }) },
    { action: 'TransactionEvent', body: te201({ eventType: 'Updated', tx: 'tx-201', seqNo: 1, at: min(1), chargingState: 'SuspendedEV' }) },
    { action: 'MeterValues', body: mv201(2, min(5), { energyWh: 1900, powerW: 10_200, soc: 24 }) },
  ];
  for (const s of steps) {
    const r = await cpo.event(uid, 'ocpp2.0.1', s.action, s.body);
    assert.equal(r.status, 200, `${s.action}: ${r.text}`);
    assert.deepEqual(r.body, { message: 'OK' });
  }
  let [s] = await sessionsOf(scsp, 'cpo-a', uid);
  assert.deepEqual(
    { tx: s.transactionId, evse: s.evseId, state: s.state, cs: s.chargingState, energy: s.energyWh, power: s.powerW, soc: s.soc, meter: s.meterWh, started: s.startedAt, protocol: s.protocol },
    { tx: 'tx-201', evse: 2, state: 'active', cs: 'SuspendedEV', energy: 900, power: 10_200, soc: 24, meter: 1900, started: iso(min(0)), protocol: 'ocpp2.0.1' },
  );
  const ended = await cpo.event(uid, 'ocpp2.0.1', 'TransactionEvent', te201({ eventType: 'Ended', tx: 'tx-201', seqNo: 2, at: min(60), chargingState: 'Idle', stoppedReason: 'EVDisconnected', energyWh: 9000 }));
  assert.equal(ended.status, 200);
  [s] = await sessionsOf(scsp, 'cpo-a', uid);
  assert.deepEqual(
    { state: s.state, cs: s.chargingState, energy: s.energyWh, power: s.powerW, endedAt: s.endedAt, reason: s.stoppedReason },
    { state: 'ended', cs: 'Idle', energy: 8000, power: 0, endedAt: iso(min(60)), reason: 'EVDisconnected' },
  );
  // EVSE state is kept per EVSE too.
  const st = await admin(scsp, 'GET', `/api/v1/cpos/cpo-a/stations/${uid}`);
  const evse2 = st.body.evses.find((e: { evseId: number }) => e.evseId === 2);
  assert.equal(evse2.meterWh, 9000);
  // The route without the trailing slash is the same endpoint.
  const noSlash = await cpo.post(`/v1/scsp/chargingstations/${uid}/events/ocpp2.0.1/TransactionEvent`, te201({ eventType: 'Started', tx: 'tx-201b', seqNo: 0, at: min(70), evse: 1 }));
  assert.equal(noSlash.status, 200);
  // MeterValues with a trailing slash too.
  assert.equal((await cpo.post(`/v1/scsp/chargingstations/${uid}/events/ocpp2.0.1/MeterValues/`, mv201(1, min(71), { energyWh: 5 }))).status, 200);
});

test('2.0.1: the seed\'s own examples and other invalid payloads are 400 with the validation errors', async () => {
  const uid = 'st-bad';
  const seedStarted = { timestamp: '2023-09-21T14:00:00Z', eventType: 'Started', evse: { id: 123, connectorId: 1 }, triggerReason: 'Authorized', transactionInfo: { transactionId: '123', chargingState: 'Charging' } };
  const seedMeter = { evseId: 123, MeterValue: [{ timestamp: '2023-09-21T14:00:00Z', sampledValue: [{ value: 5324, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }] }] };
  const valid = te201({ eventType: 'Started', tx: 'tx-bad', seqNo: 0, at: min(0), evse: 1 });
  const cases: Array<{ name: string; action: string; body: unknown; path: RegExp }> = [
    { name: 'seed TransactionEvent example (no seqNo)', action: 'TransactionEvent', body: seedStarted, path: /seqNo/ },
    { name: 'seed MeterValues example (MeterValue, capital M)', action: 'MeterValues', body: seedMeter, path: /MeterValue|meterValue/ },
    { name: 'unknown eventType', action: 'TransactionEvent', body: { ...valid, eventType: 'Paused' }, path: /eventType/ },
    { name: 'unknown property', action: 'TransactionEvent', body: { ...valid, colour: 'red' }, path: /colour/ },
    { name: 'string value in 2.0.1', action: 'MeterValues', body: { evseId: 1, meterValue: [{ timestamp: iso(min(1)), sampledValue: [{ value: '5' }] }] }, path: /value/ },
    { name: 'bad timestamp', action: 'TransactionEvent', body: { ...valid, timestamp: 'yesterday' }, path: /timestamp/ },
    { name: 'empty object', action: 'MeterValues', body: {}, path: /evseId|meterValue/ },
    { name: 'not an object', action: 'TransactionEvent', body: [1, 2], path: /./ },
  ];
  for (const c of cases) {
    const r = await cpo.event(uid, 'ocpp2.0.1', c.action, c.body);
    assert.equal(r.status, 400, `${c.name}: ${r.text}`);
    assert.match(r.body.message, c.path, c.name);
    assert.ok(Array.isArray(r.body.errors) && r.body.errors.length > 0, `${c.name}: errors listed`);
    assert.equal(typeof r.body.errors[0].path, 'string');
    assert.equal(typeof r.body.errors[0].keyword, 'string');
  }
  const empty = await cpo.post(`/v1/scsp/chargingstations/${uid}/events/ocpp2.0.1/MeterValues`, undefined, { raw: '', headers: { 'content-type': 'application/json' } });
  assert.equal(empty.status, 400);
  const malformed = await cpo.post(`/v1/scsp/chargingstations/${uid}/events/ocpp2.0.1/MeterValues`, undefined, { raw: '{"evseId":', headers: { 'content-type': 'application/json' } });
  assert.equal(malformed.status, 400);
  const unknownPp = await cpo.event(uid, 'ocpp2.1', 'TransactionEvent', valid);
  assert.equal(unknownPp.status, 400);
  assert.match(unknownPp.body.message, /payload protocol/);
  const unknownAction = await cpo.event(uid, 'ocpp2.0.1', 'BootNotification', { reason: 'PowerUp', chargingStation: { model: 'm', vendorName: 'v' } });
  assert.equal(unknownAction.status, 404);
  const startTx201 = await cpo.event(uid, 'ocpp2.0.1', 'StartTransaction', { connectorId: 1, idTag: 'x', meterStart: 0, timestamp: iso(min(0)) });
  assert.equal(startTx201.status, 404, '1.6 actions exist only under ocpp1.6');
  assert.deepEqual(await sessionsOf(scsp, 'cpo-a', uid), [], 'nothing was applied');
});

test('unknown or unpaired uid → 404; auth failures → 401; nothing applied', async () => {
  const body = te201({ eventType: 'Started', tx: 'tx-auth', seqNo: 0, at: min(0), evse: 1 });
  const unknown = await cpo.event('never-paired', 'ocpp2.0.1', 'TransactionEvent', body);
  assert.equal(unknown.status, 404);
  assert.equal(typeof unknown.body.message, 'string');
  const path = '/v1/scsp/chargingstations/st-auth/events/ocpp2.0.1/TransactionEvent/';
  const cases = [
    { name: 'no token', opts: { token: null } },
    { name: 'forged token', opts: { token: 'forged-0123456789abcdef' } },
    { name: 'no ApiKey', opts: { apiKey: null } },
    { name: 'wrong ApiKey', opts: { apiKey: 'wrong-0123456789abcdef' } },
  ];
  for (const c of cases) {
    const r = await cpo.post(path, body, c.opts);
    assert.equal(r.status, 401, c.name);
  }
  // An invalid body without credentials is 401, not 400: authentication comes first.
  assert.equal((await cpo.post(path, { nonsense: true }, { token: null })).status, 401);
  assert.deepEqual(await sessionsOf(scsp, 'cpo-a', 'st-auth'), []);
});

test('1.6: StartTransaction → MeterValues (correlates the transactionId) → StatusNotification → StopTransaction', async () => {
  const uid = 'st-16';
  const post = (action: string, body: unknown) => cpo.event(uid, 'ocpp1.6', action, body);
  assert.equal((await post('StatusNotification', { connectorId: 2, errorCode: 'NoError', status: 'Preparing', timestamp: iso(min(0)) })).status, 200);
  assert.equal((await post('StartTransaction', { connectorId: 2, idTag: 'TAG-1', meterStart: 10_000, timestamp: iso(min(1)) })).status, 200);
  let [s] = await sessionsOf(scsp, 'cpo-a', uid);
  assert.deepEqual({ tx: s.transactionId, evse: s.evseId, state: s.state, start: s.meterStartWh }, { tx: null, evse: 2, state: 'active', start: 10_000 });
  assert.equal((await post('StatusNotification', { connectorId: 2, errorCode: 'NoError', status: 'Charging', timestamp: iso(min(2)) })).status, 200);
  assert.equal((await post('MeterValues', mv16(2, min(10), { tx: 77, energyWh: 11_500, powerW: 7_400, soc: 55 }))).status, 200);
  [s] = await sessionsOf(scsp, 'cpo-a', uid);
  assert.deepEqual(
    { tx: s.transactionId, cs: s.chargingState, energy: s.energyWh, power: s.powerW, soc: s.soc },
    { tx: '77', cs: 'Charging', energy: 1500, power: 7400, soc: 55 },
  );
  assert.equal((await post('StatusNotification', { connectorId: 2, errorCode: 'NoError', status: 'SuspendedEV', timestamp: iso(min(20)) })).status, 200);
  // A 1.6 reading without transactionId goes to the connector's running session.
  assert.equal((await post('MeterValues', mv16(2, min(25), { energyWh: 12_000, powerW: 0 }))).status, 200);
  [s] = await sessionsOf(scsp, 'cpo-a', uid);
  assert.deepEqual({ cs: s.chargingState, energy: s.energyWh, power: s.powerW }, { cs: 'SuspendedEV', energy: 2000, power: 0 });
  const stop = await post('StopTransaction', {
    transactionId: 77,
    meterStop: 13_000,
    timestamp: iso(min(30)),
    reason: 'EVDisconnected',
    transactionData: [{ timestamp: iso(min(30)), sampledValue: [{ value: '13000', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }],
  });
  assert.equal(stop.status, 200, stop.text);
  [s] = await sessionsOf(scsp, 'cpo-a', uid);
  assert.deepEqual({ state: s.state, energy: s.energyWh, reason: s.stoppedReason, endedAt: s.endedAt, power: s.powerW }, { state: 'ended', energy: 3000, reason: 'EVDisconnected', endedAt: iso(min(30)), power: 0 });
  // A stop whose start was never correlated: the station's only pending session.
  assert.equal((await post('StartTransaction', { connectorId: 1, idTag: 'TAG-2', meterStart: 0, timestamp: iso(min(40)) })).status, 200);
  assert.equal((await post('StopTransaction', { transactionId: 78, meterStop: 4200, timestamp: iso(min(50)) })).status, 200);
  const list = await sessionsOf(scsp, 'cpo-a', uid);
  const s78 = list.find((x) => x.transactionId === '78');
  assert.deepEqual({ evse: s78.evseId, state: s78.state, energy: s78.energyWh, reason: s78.stoppedReason }, { evse: 1, state: 'ended', energy: 4200, reason: 'Local' });
  const st = await admin(scsp, 'GET', `/api/v1/cpos/cpo-a/stations/${uid}`);
  assert.equal(st.body.evses.find((e: { evseId: number }) => e.evseId === 2).status, 'SuspendedEV');
});

test('1.6: invalid 1.6 payloads are 400 (1.6 schema: values are strings, no unknown properties)', async () => {
  const uid = 'st-16';
  const cases: Array<{ name: string; action: string; body: unknown }> = [
    { name: 'numeric sampled value', action: 'MeterValues', body: { connectorId: 1, meterValue: [{ timestamp: iso(min(0)), sampledValue: [{ value: 5 }] }] } },
    { name: 'StartTransaction without idTag', action: 'StartTransaction', body: { connectorId: 1, meterStart: 0, timestamp: iso(min(0)) } },
    { name: 'StopTransaction with a string id', action: 'StopTransaction', body: { transactionId: '77', meterStop: 1, timestamp: iso(min(0)) } },
    { name: 'unknown status', action: 'StatusNotification', body: { connectorId: 1, errorCode: 'NoError', status: 'Sleeping' } },
    { name: '2.0.1 MeterValues under ocpp1.6', action: 'MeterValues', body: mv201(1, min(0), { energyWh: 1 }) },
  ];
  for (const c of cases) {
    const r = await cpo.event(uid, 'ocpp1.6', c.action, c.body);
    assert.equal(r.status, 400, `${c.name}: ${r.text}`);
    assert.ok(r.body.errors.length > 0, c.name);
  }
});

test('1.6 TransactionEvent (interpretation): the 2.0.1 shape under ocpp1.6, checked against the 2.0.1 schema', async () => {
  const uid = 'st-16te';
  const ok = await cpo.event(uid, 'ocpp1.6', 'TransactionEvent', te201({ eventType: 'Started', tx: '501', seqNo: 0, at: min(0), evse: 1, chargingState: 'Charging', energyWh: 0 }));
  assert.equal(ok.status, 200, ok.text);
  const [s] = await sessionsOf(scsp, 'cpo-a', uid);
  assert.deepEqual({ tx: s.transactionId, protocol: s.protocol, cs: s.chargingState }, { tx: '501', protocol: 'ocpp1.6', cs: 'Charging' });
  const bad = await cpo.event(uid, 'ocpp1.6', 'TransactionEvent', { connectorId: 1, idTag: 'x', meterStart: 0, timestamp: iso(min(0)) });
  assert.equal(bad.status, 400);
});

test('idempotent retries: same body, same Idempotency-Key, same (transactionId, seqNo) → 200 duplicate, state unchanged', async () => {
  const uid = 'st-idem';
  const started = te201({ eventType: 'Started', tx: 'tx-i', seqNo: 0, at: min(0), evse: 1, energyWh: 100 });
  assert.deepEqual((await cpo.event(uid, 'ocpp2.0.1', 'TransactionEvent', started)).body, { message: 'OK' });
  const retry = await cpo.event(uid, 'ocpp2.0.1', 'TransactionEvent', started);
  assert.equal(retry.status, 200);
  assert.deepEqual(retry.body, { message: 'OK', duplicate: true });
  // A retransmission of seqNo 0 re-serialised differently (key order, extra meter value) is the same event.
  const reordered = { seqNo: 0, ...started, meterValue: [{ timestamp: iso(min(0)), sampledValue: [{ value: 999_999, measurand: 'Energy.Active.Import.Register' }] }] };
  assert.deepEqual((await cpo.event(uid, 'ocpp2.0.1', 'TransactionEvent', reordered)).body, { message: 'OK', duplicate: true });

  // MeterValues have no natural key: the content hash makes retries idempotent; new readings apply.
  const reading = mv201(1, min(10), { energyWh: 2100, powerW: 7000 });
  assert.deepEqual((await cpo.event(uid, 'ocpp2.0.1', 'MeterValues', reading)).body, { message: 'OK' });
  assert.deepEqual((await cpo.event(uid, 'ocpp2.0.1', 'MeterValues', reading)).body, { message: 'OK', duplicate: true });

  // With an Idempotency-Key: the key decides; the same key with another body is 422.
  const withKey = mv201(1, min(20), { energyWh: 3100, powerW: 7100 });
  assert.deepEqual((await cpo.event(uid, 'ocpp2.0.1', 'MeterValues', withKey, { 'idempotency-key': 'outbox-17' })).body, { message: 'OK' });
  assert.deepEqual((await cpo.event(uid, 'ocpp2.0.1', 'MeterValues', withKey, { 'idempotency-key': 'outbox-17' })).body, { message: 'OK', duplicate: true });
  const reused = await cpo.event(uid, 'ocpp2.0.1', 'MeterValues', mv201(1, min(30), { energyWh: 4100 }), { 'idempotency-key': 'outbox-17' });
  assert.equal(reused.status, 422);

  const [s] = await sessionsOf(scsp, 'cpo-a', uid);
  assert.deepEqual({ energy: s.energyWh, meter: s.meterWh, power: s.powerW }, { energy: 3000, meter: 3100, power: 7100 }, 'the 999999 Wh retransmission and the 422 changed nothing');
  const m = await fetch(`${scsp.url}/metrics`).then((r) => r.text());
  assert.match(m, /ampline_scsp_events_total\{protocol="ocpp2.0.1",action="TransactionEvent",result="duplicate"\} 2/);
});

test('out of order: Ended before Started, older readings and states do not overwrite newer ones; a new Started supersedes a lost Ended', async () => {
  const uid = 'st-order';
  const post = (body: unknown, action = 'TransactionEvent') => cpo.event(uid, 'ocpp2.0.1', action, body);
  assert.equal((await post(te201({ eventType: 'Ended', tx: 'tx-o1', seqNo: 3, at: min(30), stoppedReason: 'Local', energyWh: 5000 }))).status, 200);
  assert.equal((await post(te201({ eventType: 'Started', tx: 'tx-o1', seqNo: 0, at: min(0), evse: 1, energyWh: 1000, chargingState: 'Charging' }))).status, 200);
  assert.equal((await post(te201({ eventType: 'Updated', tx: 'tx-o1', seqNo: 1, at: min(10), chargingState: 'SuspendedEV', energyWh: 2000 }))).status, 200);
  let [s] = await sessionsOf(scsp, 'cpo-a', uid);
  assert.deepEqual(
    { state: s.state, started: s.startedAt, ended: s.endedAt, evse: s.evseId, meter: s.meterWh, start: s.meterStartWh, energy: s.energyWh, cs: s.chargingState },
    { state: 'ended', started: iso(min(0)), ended: iso(min(30)), evse: 1, meter: 5000, start: 1000, energy: 4000, cs: null },
    'Ended stays final; the older readings did not replace the newer one, but the late Started gave the start register',
  );

  assert.equal((await post(te201({ eventType: 'Started', tx: 'tx-o2', seqNo: 0, at: min(40), evse: 1, chargingState: 'Charging' }))).status, 200);
  assert.equal((await post(mv201(1, min(45), { powerW: 11_000 }), 'MeterValues')).status, 200);
  assert.equal((await post(mv201(1, min(44), { powerW: 3_000 }), 'MeterValues')).status, 200);
  // tx-o2's Ended is lost; tx-o3 starts on the same EVSE.
  assert.equal((await post(te201({ eventType: 'Started', tx: 'tx-o3', seqNo: 0, at: min(90), evse: 1 }))).status, 200);
  const list = await sessionsOf(scsp, 'cpo-a', uid);
  const o2 = list.find((x) => x.transactionId === 'tx-o2');
  const o3 = list.find((x) => x.transactionId === 'tx-o3');
  assert.deepEqual({ state: o2.state, reason: o2.stoppedReason, endedAt: o2.endedAt }, { state: 'ended', reason: 'Superseded', endedAt: iso(min(90)) });
  assert.equal(o2.powerW, 0);
  assert.equal(o3.state, 'active');
  s = (await admin(scsp, 'GET', `/api/v1/sessions/${o3.id}`)).body;
  assert.equal(s.state, 'active');
  assert.ok(s.planInput, 'a running session shows the planner input in force');
  assert.equal(s.planInput.energySource, 'default');
  assert.equal(s.planInput.departureSource === 'default' || s.planInput.departureSource === 'overdue', true);
});

test('sessions API: filters, pagination, 404s', async () => {
  const all = await admin(scsp, 'GET', '/api/v1/sessions?limit=2');
  assert.equal(all.status, 200);
  assert.equal(all.body.data.length, 2);
  assert.ok(all.body.total >= 5);
  assert.equal(all.body.limit, 2);
  const ended = await admin(scsp, 'GET', '/api/v1/sessions?state=ended&limit=500');
  assert.ok(ended.body.data.every((s: { state: string }) => s.state === 'ended'));
  assert.equal((await admin(scsp, 'GET', '/api/v1/sessions?state=maybe')).status, 400);
  assert.equal((await admin(scsp, 'GET', '/api/v1/sessions?limit=0')).status, 400);
  assert.equal((await admin(scsp, 'GET', '/api/v1/sessions/nope')).status, 404);
});
