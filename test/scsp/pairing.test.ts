/**
 * Pairing on the SCSP side (seed 000; protocols.md §1.2–1.4), both ways, and unpair both ways. The CPO
 * is a fake written in the test helpers from the seed (not Ampline's CSMS).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/util/clock.js';
import {
  CpoCaller,
  INCORRECT,
  UNPAIRED,
  admin,
  pairStation,
  registerCpo,
  seedStation,
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
let other: CpoCaller;

before(async () => {
  [scsp, fake] = await Promise.all([startTestScsp(), startFakeCpo()]);
  cpo = new CpoCaller(scsp, await registerCpo(scsp, 'cpo-a', { baseUrl: fake.url, cpoToken: fake.token }));
  other = new CpoCaller(scsp, await registerCpo(scsp, 'cpo-b'));
});
after(async () => {
  await Promise.all([scsp.destroy(), fake.close()]);
});

const newCode = async (body: Record<string, unknown> = {}) => {
  const r = await admin(scsp, 'POST', '/api/v1/pairing-codes', body);
  assert.equal(r.status, 201, r.text);
  assert.match(r.body.code, /^[0-9]{6}$/);
  return r.body as { code: string; expiresAt: string; userId: string | null; cpoId: string | null };
};

test('SCSP-issued code: the CPO pairs with it (200), then the code is used up (404)', async () => {
  const { code, userId } = await newCode({ userId: 'driver-42' });
  assert.equal(userId, 'driver-42');
  const station = seedStation('5f69ad2c0ed5ca86d449cc93');
  const r = await cpo.post('/v1/scsp/ocpp2.0.1/pair', { code, charging_station: station });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.message, 'Charging station successfully paired.');
  const stored = await admin(scsp, 'GET', '/api/v1/cpos/cpo-a/stations/5f69ad2c0ed5ca86d449cc93');
  assert.equal(stored.status, 200);
  assert.equal(stored.body.payloadProtocol, 'ocpp2.0.1');
  assert.equal(stored.body.origin, 'scsp-code');
  assert.equal(stored.body.userId, 'driver-42');
  assert.deepEqual(stored.body.chargingStation, station);
  const again = await cpo.post('/v1/scsp/ocpp2.0.1/pair', { code, charging_station: seedStation('another-uid') });
  assert.equal(again.status, 404);
  assert.deepEqual(again.body, { message: INCORRECT });
});

test('SCSP-issued code: a uid already paired is 409 and the code stays usable', async () => {
  await pairStation(scsp, cpo, 'dup-uid');
  const { code } = await newCode();
  const r = await cpo.post('/v1/scsp/ocpp1.6/pair', { code, charging_station: seedStation('dup-uid', 1) });
  assert.equal(r.status, 409, r.text);
  assert.equal(typeof r.body.message, 'string');
  const ok = await cpo.post('/v1/scsp/ocpp1.6/pair', { code, charging_station: seedStation('fresh-uid', 1) });
  assert.equal(ok.status, 200, 'the refused request did not consume the code');
  // The same uid at another CPO is another station.
  const { code: c2 } = await newCode();
  assert.equal((await other.post('/v1/scsp/ocpp2.0.1/pair', { code: c2, charging_station: seedStation('dup-uid') })).status, 200);
});

test('SCSP-issued code: wrong, expired, or bound to another CPO → 404 with the seed\'s message', async () => {
  const clock = new ManualClock('2025-05-01T08:00:00Z');
  const s = await startTestScsp({ deps: { clock }, env: { AMPLINE_SCSP_PAIRING_CODE_TTL_S: '900' } });
  try {
    const c1 = new CpoCaller(s, await registerCpo(s, 'c1'));
    await registerCpo(s, 'c2');
    const wrong = await c1.post('/v1/scsp/ocpp2.0.1/pair', { code: '000000', charging_station: seedStation('u1') });
    assert.equal(wrong.status, 404);
    assert.deepEqual(wrong.body, { message: INCORRECT });
    const expiring = (await admin(s, 'POST', '/api/v1/pairing-codes', {})).body.code as string;
    clock.advance(900_000);
    const expired = await c1.post('/v1/scsp/ocpp2.0.1/pair', { code: expiring, charging_station: seedStation('u1') });
    assert.equal(expired.status, 404);
    assert.deepEqual(expired.body, { message: INCORRECT });
    const bound = (await admin(s, 'POST', '/api/v1/pairing-codes', { cpoId: 'c2', ttlS: 60 })).body.code as string;
    assert.equal((await c1.post('/v1/scsp/ocpp2.0.1/pair', { code: bound, charging_station: seedStation('u1') })).status, 404);
    const numeric = (await admin(s, 'POST', '/api/v1/pairing-codes', {})).body.code as string;
    assert.equal((await c1.post('/v1/scsp/ocpp2.0.1/pair', { code: Number(numeric), charging_station: seedStation('u1') })).status, 200, 'an integer code is accepted leniently');
  } finally {
    await s.destroy();
  }
});

test('SCSP-issued code: bad requests are 400 with a message naming the problem; no token is 401', async () => {
  const { code } = await newCode();
  const cases: Array<{ name: string; path?: string; body: unknown; match: RegExp }> = [
    { name: 'unknown payload protocol', path: '/v1/scsp/ocpp9/pair', body: { code, charging_station: seedStation('x') }, match: /payload protocol/ },
    { name: 'no code', body: { charging_station: seedStation('x') }, match: /code/ },
    { name: 'no charging_station', body: { code }, match: /charging_station/ },
    { name: 'evses missing', body: { code, charging_station: { uid: 'x' } }, match: /evses/ },
    { name: 'bad power_type', body: { code, charging_station: { uid: 'x', evses: [{ evse_id: 1, connectors: [{ id: '1', power_type: 'AC', max_voltage: 230, max_amperage: 16 }] }] } }, match: /power_type/ },
    { name: 'evse_id 0', body: { code, charging_station: { uid: 'x', evses: [{ evse_id: 0, connectors: [{ id: '1', power_type: 'DC', max_voltage: 400, max_amperage: 100 }] }] } }, match: /evse_id/ },
    { name: 'not an object', body: ['x'], match: /object/ },
  ];
  for (const c of cases) {
    const r = await cpo.post(c.path ?? '/v1/scsp/ocpp2.0.1/pair', c.body);
    assert.equal(r.status, 400, `${c.name}: ${r.text}`);
    assert.match(r.body.message, c.match, c.name);
  }
  const malformed = await cpo.post('/v1/scsp/ocpp2.0.1/pair', undefined, { raw: '{"code": ', headers: { 'content-type': 'application/json' } });
  assert.equal(malformed.status, 400);
  assert.equal(typeof malformed.body.message, 'string');
  const noAuth = await cpo.post('/v1/scsp/ocpp2.0.1/pair', { code, charging_station: seedStation('x') }, { token: null });
  assert.equal(noAuth.status, 401);
  // None of these used the code.
  assert.equal((await cpo.post('/v1/scsp/ocpp2.0.1/pair', { code, charging_station: seedStation('after-400s') })).status, 200);
});

test('CPO-issued code: the SCSP calls the CPO\'s /v1/cpo/{pp}/pair with its bearer token and stores the station', async () => {
  const station = seedStation('cpo-coded-station');
  fake.codes.set('362821', station);
  const r = await admin(scsp, 'POST', '/api/v1/cpos/cpo-a/pairings', { code: '362821', userId: 'driver-7' });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.refreshed, false);
  assert.equal(r.body.station.uid, 'cpo-coded-station');
  assert.equal(r.body.station.origin, 'cpo-code');
  assert.equal(r.body.station.payloadProtocol, 'ocpp2.0.1', 'the CPO\'s payload protocol by default');
  assert.deepEqual(fake.pairCalls.at(-1), { pp: 'ocpp2.0.1', body: { code: '362821' } });
  assert.deepEqual(r.body.station.chargingStation, station);
  assert.equal(fake.refused.length, 0, 'the SCSP presented the CPO\'s token');
  // The code is now used at the CPO: redeeming it again is the CPO's 404.
  const again = await admin(scsp, 'POST', '/api/v1/cpos/cpo-a/pairings', { code: '362821' });
  assert.equal(again.status, 404);
  assert.equal(again.body.error, 'IncorrectPairingCode');
  // A second code for the same station refreshes the pairing instead of failing.
  fake.codes.set('111111', station);
  const refreshed = await admin(scsp, 'POST', '/api/v1/cpos/cpo-a/pairings', { code: '111111', payloadProtocol: 'ocpp1.6' });
  assert.equal(refreshed.status, 201);
  assert.equal(refreshed.body.refreshed, true);
  assert.equal(refreshed.body.station.payloadProtocol, 'ocpp1.6');
  assert.equal(fake.pairCalls.at(-1)?.pp, 'ocpp1.6');
});

test('CPO-issued code: CPO errors are 502 and record nothing', async () => {
  const before = (await admin(scsp, 'GET', '/api/v1/stations?cpoId=cpo-a')).body.total as number;
  const cases: Array<{ name: string; answer: { status: number; body: unknown } }> = [
    { name: 'CPO 500', answer: { status: 500, body: { message: 'Internal Server Error' } } },
    { name: 'CPO 401 (our token is wrong)', answer: { status: 401, body: { message: 'Unauthorized' } } },
    { name: '200 without charging_station', answer: { status: 200, body: { ok: true } } },
    { name: '200 with an invalid station', answer: { status: 200, body: { charging_station: { uid: 'x', evses: [] } } } },
  ];
  for (const c of cases) {
    fake.pairAnswer = c.answer;
    const r = await admin(scsp, 'POST', '/api/v1/cpos/cpo-a/pairings', { code: '999999' });
    assert.equal(r.status, 502, `${c.name}: ${r.text}`);
    assert.equal(r.body.error, 'CpoUnavailable', c.name);
  }
  fake.pairAnswer = undefined;
  const down = await startFakeCpo();
  await down.close();
  await admin(scsp, 'PUT', '/api/v1/cpos/cpo-down', { baseUrl: down.url, cpoToken: 'cpo-token-for-a-dead-cpo-01' });
  const r = await admin(scsp, 'POST', '/api/v1/cpos/cpo-down/pairings', { code: '123456' });
  assert.equal(r.status, 502);
  assert.equal(r.body.cpoStatus, 0);
  assert.equal((await admin(scsp, 'GET', '/api/v1/stations?cpoId=cpo-a')).body.total, before);
  assert.equal((await admin(scsp, 'POST', '/api/v1/cpos/cpo-a/pairings', {})).status, 400);
  assert.equal((await admin(scsp, 'POST', '/api/v1/cpos/nope/pairings', { code: '123456' })).status, 404);
});

test('unpair by the CPO: POST /v1/scsp/chargingstations/{uid}/unpair → 200 with the seed\'s message, then 404; sessions end', async () => {
  await pairStation(scsp, cpo, 'to-unpair');
  const t = Date.now();
  assert.equal((await cpo.event('to-unpair', 'ocpp2.0.1', 'TransactionEvent', te201({ eventType: 'Started', tx: 'tx-u', seqNo: 0, at: t, evse: 1, chargingState: 'Charging' }))).status, 200);
  const r = await cpo.post('/v1/scsp/chargingstations/to-unpair/unpair');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body, { message: UNPAIRED });
  const [s] = await sessionsOf(scsp, 'cpo-a', 'to-unpair');
  assert.equal(s.state, 'ended');
  assert.equal(s.stoppedReason, 'Unpaired');
  const again = await cpo.post('/v1/scsp/chargingstations/to-unpair/unpair');
  assert.equal(again.status, 404);
  // Another CPO cannot unpair this CPO's station.
  await pairStation(scsp, cpo, 'mine');
  assert.equal((await other.post('/v1/scsp/chargingstations/mine/unpair')).status, 404);
  // Events for an unpaired uid are 404.
  const ev = await cpo.event('to-unpair', 'ocpp2.0.1', 'TransactionEvent', te201({ eventType: 'Updated', tx: 'tx-u', seqNo: 1, at: t + 1000 }));
  assert.equal(ev.status, 404);
  // Re-pairing is possible after an unpair.
  await pairStation(scsp, cpo, 'to-unpair');
});

test('unpair by the SCSP: calls the CPO\'s /v1/cpo/chargingstations/{uid}/unpair; its 2xx or 404 unpairs, else 502 unless forced', async () => {
  // Paired through the CPO's code, so the fake CPO knows the pairing too.
  fake.codes.set('222222', seedStation('op-unpair'));
  assert.equal((await admin(scsp, 'POST', '/api/v1/cpos/cpo-a/pairings', { code: '222222' })).status, 201);
  const ok = await admin(scsp, 'DELETE', '/api/v1/cpos/cpo-a/stations/op-unpair');
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.cpoStatus, 200);
  assert.equal(ok.body.forced, false);
  assert.equal(fake.unpairCalls.at(-1), 'op-unpair');
  assert.equal((await admin(scsp, 'GET', '/api/v1/cpos/cpo-a/stations/op-unpair')).status, 404);
  assert.equal((await admin(scsp, 'DELETE', '/api/v1/cpos/cpo-a/stations/op-unpair')).status, 404);

  // The CPO no longer knows the pairing (404): unpaired here as well.
  await pairStation(scsp, cpo, 'cpo-forgot');
  const gone = await admin(scsp, 'DELETE', '/api/v1/cpos/cpo-a/stations/cpo-forgot');
  assert.equal(gone.status, 200);
  assert.equal(gone.body.cpoStatus, 404);

  // The CPO fails: the pairing stays; force unpairs anyway.
  await pairStation(scsp, cpo, 'cpo-fails');
  fake.unpairAnswer = 500;
  const failed = await admin(scsp, 'DELETE', '/api/v1/cpos/cpo-a/stations/cpo-fails');
  assert.equal(failed.status, 502);
  assert.equal(failed.body.error, 'CpoUnavailable');
  assert.equal((await admin(scsp, 'GET', '/api/v1/cpos/cpo-a/stations/cpo-fails')).status, 200);
  const forced = await admin(scsp, 'DELETE', '/api/v1/cpos/cpo-a/stations/cpo-fails?force=true');
  assert.equal(forced.status, 200);
  assert.equal(forced.body.forced, true);
  fake.unpairAnswer = undefined;
  assert.equal((await admin(scsp, 'GET', '/api/v1/cpos/cpo-a/stations/cpo-fails')).status, 404);
});

test('a CPO with paired stations cannot be deleted', async () => {
  const r = await admin(scsp, 'DELETE', '/api/v1/cpos/cpo-a');
  assert.equal(r.status, 409);
  assert.equal(r.body.error, 'CpoInUse');
  const empty = await registerCpo(scsp, 'cpo-empty');
  assert.ok(empty.clientId);
  assert.equal((await admin(scsp, 'DELETE', '/api/v1/cpos/cpo-empty')).status, 204);
});
