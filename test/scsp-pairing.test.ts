/**
 * Pairing and unpair with an SCSP (seed 000; protocols.md §1.2–1.4; issue 6 §2), end to end: a real CSMS
 * with simulated chargers (1.6 and 2.0.1), a foreign SCSP peer built from the seeds (its own OAuth 2.0
 * token endpoint, Bearer + ApiKey checks), the `/v1/cpo` routes the SCSP calls and the `/api/v1`
 * management routes the operator uses.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SimChargePoint, type Amps, type EvseConfig, type Watts, type WattHours } from '../src/sim/index.js';
import { startTestCsms, type TestCsms } from './helpers/csms.js';
import { startScspPeer, type ScspPeer } from './helpers/scsp-peer.js';
import { waitFor } from './helpers/wire.js';
import { ManualClock } from '../src/util/clock.js';
import type { ChargingProfile } from '../src/smart/profile.js';
import { describeStation, NoEvsesKnownError } from '../src/scsp-link/station-description.js';

const KEY = 'test-api-key-123';
const TOKEN_A = 'scsp-a-inbound-token-0123456789';
const TOKEN_B = 'scsp-b-inbound-token-9876543210';
const INCORRECT = 'Incorrect Code, please check the code and try again.';
const UNPAIRED = 'Charging station successfully unpaired.';

let csms: TestCsms;
let peerA: ScspPeer;
let peerB: ScspPeer;
const sims: SimChargePoint[] = [];

interface Answer {
  status: number;
  body: any;
  text: string;
}

async function call(base: string, method: string, path: string, opts: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, text };
}

/** The management API with the bootstrap admin key (or `key`). */
const api = (method: string, path: string, body?: unknown, key = KEY, c: TestCsms = csms) =>
  call(c.url, method, path, { ...(body !== undefined ? { body } : {}), headers: { 'x-api-key': key } });

/** What the SCSP sends to Ampline's `/v1/cpo` routes. */
const cpo = (path: string, body?: unknown, token: string | null = TOKEN_A, extra: { raw?: string; headers?: Record<string, string>; c?: TestCsms } = {}) =>
  call((extra.c ?? csms).url, 'POST', path, {
    ...(body !== undefined ? { body } : {}),
    ...(extra.raw !== undefined ? { raw: extra.raw } : {}),
    headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...extra.headers },
  });

const ac3 = (maxCurrentA: number) => ({ powerType: 'AC_3_PHASE' as const, maxCurrentA: maxCurrentA as Amps });
const ac1 = (maxCurrentA: number) => ({ powerType: 'AC_1_PHASE' as const, maxCurrentA: maxCurrentA as Amps });

async function station(id: string, protocol: 'ocpp1.6' | 'ocpp2.0.1', evses: EvseConfig[] = [{ id: 1, connectors: [{ id: 1, ...ac3(32) }] }], c: TestCsms = csms): Promise<SimChargePoint> {
  const cp = new SimChargePoint({ url: c.ocppUrl, identity: id, protocol, evses, meterIntervalS: 0, reconnect: false });
  sims.push(cp);
  await cp.connect();
  const n = evses.reduce((a, e) => a + e.connectors.length, 0);
  await waitFor(
    async () => (await c.db.kysely.selectFrom('connectors').select('evse_id').where('station_id', '=', id).where('evse_id', '>', 0).where('connector_id', '>', 0).execute()).length >= n,
    { what: `${id} connectors` },
  );
  return cp;
}

/** Operator data on a connector (nothing in OCPP reports it; these columns are the station model's). */
async function setConnector(id: string, evseId: number, connectorId: number, v: { power_type?: string; phases?: number; max_voltage_v?: number; max_current_a?: number }) {
  await csms.db.kysely.updateTable('connectors').set(v).where('station_id', '=', id).where('evse_id', '=', evseId).where('connector_id', '=', connectorId).execute();
}

const partnerInput = (peer: ScspPeer, id: string, token: string, payloadProtocol: 'ocpp2.0.1' | 'ocpp1.6') => ({
  id,
  name: `SCSP ${id}`,
  baseUrl: peer.url,
  tokenUrl: peer.tokenUrl,
  clientId: peer.clientId,
  clientSecret: peer.clientSecret,
  apiKey: peer.apiKey,
  payloadProtocol,
  inboundToken: token,
});

async function issueCode(stationId: string, c: TestCsms = csms, body: unknown = {}): Promise<string> {
  const r = await api('POST', `/api/v1/stations/${stationId}/pairing-codes`, body, KEY, c);
  assert.equal(r.status, 201, r.text);
  assert.match(r.body.code, /^[0-9]{6}$/);
  return r.body.code as string;
}

function profile(id: number, purpose: 'TxDefaultProfile' | 'TxProfile', limitA: number, transactionId?: string): ChargingProfile {
  return {
    id,
    evseId: 1,
    stackLevel: 1,
    chargingProfilePurpose: purpose,
    chargingProfileKind: 'Absolute',
    ...(transactionId !== undefined ? { transactionId } : {}),
    chargingSchedule: [{ id, startSchedule: Date.now() - 1000, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: limitA }] }],
  } as unknown as ChargingProfile;
}

before(async () => {
  [csms, peerA, peerB] = await Promise.all([startTestCsms(), startScspPeer(), startScspPeer({ clientId: 'ampline-b', apiKey: 'peer-b-api-key' })]);
  await csms.scsp.partners.upsert(partnerInput(peerA, 'jedlix', TOKEN_A, 'ocpp2.0.1'));
  await csms.scsp.partners.upsert(partnerInput(peerB, 'other-scsp', TOKEN_B, 'ocpp1.6'));
});

after(async () => {
  await Promise.all(sims.map((s) => s.close().catch(() => undefined)));
  await csms.destroy();
  await Promise.all([peerA.close(), peerB.close()]);
});

// ── the station description ─────────────────────────────────────────────────────────────────────

test('station description: pure mapping, defaults and the no-EVSE error', () => {
  assert.throws(() => describeStation({ stationId: 'X', evseIds: [0], connectors: [], deviceModel: [] }), NoEvsesKnownError);
  const d = describeStation({
    stationId: 'X',
    evseIds: [0, 2],
    connectors: [
      { evseId: 1, connectorId: 1, powerType: 'DC', phases: null, maxVoltageV: 800, maxCurrentA: 200 },
      { evseId: 1, connectorId: 0, powerType: null, phases: null, maxVoltageV: null, maxCurrentA: null },
    ],
    deviceModel: [{ component: 'SmartChargingCtrlr', evseId: 0, connectorId: 0, variable: 'Enabled', value: 'false' }],
  });
  assert.deepEqual(d, {
    uid: 'X',
    evses: [
      // DC voltage is not converted; no capability when the station's smart charging is off.
      { evse_id: 1, capabilities: [], connectors: [{ id: '1', power_type: 'DC', max_voltage: 800, max_amperage: 200 }] },
      // An EVSE known without connector rows gets connector 1 with the documented defaults.
      { evse_id: 2, capabilities: [], connectors: [{ id: '1', power_type: 'AC_3_PHASE', max_voltage: 230, max_amperage: 32 }] },
    ],
  });
});

// ── CPO-issued codes (seed 000, POST /v1/cpo/{payload-protocol}/pair) ───────────────────────────

test('CPO code, 1.6 station: 200 with charging_station; the pairing is recorded; the code is single use', async () => {
  const id = 'PAIR-16';
  await station(id, 'ocpp1.6', [
    { id: 1, connectors: [{ id: 1, ...ac3(32) }] },
    { id: 2, connectors: [{ id: 1, ...ac1(16) }] },
  ]);
  // Operator data: EVSE 1 given line-to-line (400 V → 231 V line-to-neutral); EVSE 2 single-phase 16 A.
  await setConnector(id, 1, 1, { phases: 3, max_voltage_v: 400, max_current_a: 32 });
  await setConnector(id, 2, 1, { power_type: 'AC_1_PHASE', max_current_a: 16 });

  const before = Date.now();
  const issued = await api('POST', `/api/v1/stations/${id}/pairing-codes`, {});
  assert.equal(issued.status, 201, issued.text);
  assert.equal(issued.body.stationId, id);
  const ttlMs = Date.parse(issued.body.expiresAt) - before;
  assert.ok(ttlMs > 14.9 * 60_000 && ttlMs <= 15 * 60_000 + 5000, `default expiry 15 min (${ttlMs} ms)`);

  const r = await cpo('/v1/cpo/ocpp1.6/pair', { code: issued.body.code });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body, {
    charging_station: {
      uid: id,
      evses: [
        { evse_id: 1, capabilities: ['CHARGING_PROFILE_CAPABLE'], connectors: [{ id: '1', power_type: 'AC_3_PHASE', max_voltage: 231, max_amperage: 32 }] },
        { evse_id: 2, capabilities: ['CHARGING_PROFILE_CAPABLE'], connectors: [{ id: '1', power_type: 'AC_1_PHASE', max_voltage: 230, max_amperage: 16 }] },
      ],
    },
  });

  const p = await api('GET', `/api/v1/stations/${id}/pairing`);
  assert.equal(p.status, 200);
  assert.deepEqual({ ...p.body, pairedAt: undefined }, { stationId: id, partnerId: 'jedlix', payloadProtocol: 'ocpp1.6', origin: 'cpo-code', pairedAt: undefined });
  const list = await api('GET', '/api/v1/pairings?partnerId=jedlix');
  assert.ok(list.body.data.some((x: { stationId: string }) => x.stationId === id));

  // Reused: 404 with the seed's exact message, as valid JSON.
  const again = await cpo('/v1/cpo/ocpp1.6/pair', { code: issued.body.code });
  assert.equal(again.status, 404);
  assert.equal(again.text, JSON.stringify({ message: INCORRECT }));
});

test('CPO code, 2.0.1 station with three EVSEs (1φ/3φ, two connectors on one): description from the device model and operator data', async () => {
  const id = 'PAIR-201';
  await station(id, 'ocpp2.0.1', [
    { id: 1, connectors: [{ id: 1, ...ac3(32) }] },
    { id: 2, connectors: [{ id: 1, ...ac1(16) }] },
    { id: 3, connectors: [{ id: 1, ...ac3(16) }, { id: 2, ...ac1(16), connectorType: 's309-1P-16A' }] },
  ]);
  // The station's own report (B07 GetBaseReport → NotifyReport) fills the device model: EVSE.SupplyPhases, Connector.ConnectorType.
  const rep = await csms.commands.send(id, 'GetBaseReport', { requestId: 7, reportBase: 'FullInventory' });
  assert.equal(rep.status, 'Accepted');
  await waitFor(
    async () =>
      (await csms.db.kysely.selectFrom('device_model').select('value').where('station_id', '=', id).where('component', '=', 'Connector').where('variable', '=', 'ConnectorType').where('evse_id', '=', 3).where('connector_id', '=', 2).executeTakeFirst())
        ?.value === 's309-1P-16A',
    { what: 'NotifyReport stored' },
  );
  await setConnector(id, 2, 1, { max_current_a: 16 });
  await setConnector(id, 3, 1, { max_current_a: 16 });

  const code = await issueCode(id);
  const r = await cpo('/v1/cpo/ocpp2.0.1/pair', { code });
  assert.equal(r.status, 200, r.text);
  const CPC = ['CHARGING_PROFILE_CAPABLE'];
  assert.deepEqual(r.body.charging_station, {
    uid: id,
    evses: [
      { evse_id: 1, capabilities: CPC, connectors: [{ id: '1', power_type: 'AC_3_PHASE', max_voltage: 230, max_amperage: 32 }] },
      { evse_id: 2, capabilities: CPC, connectors: [{ id: '1', power_type: 'AC_1_PHASE', max_voltage: 230, max_amperage: 16 }] },
      {
        evse_id: 3,
        capabilities: CPC,
        connectors: [
          { id: '1', power_type: 'AC_3_PHASE', max_voltage: 230, max_amperage: 16 },
          { id: '2', power_type: 'AC_1_PHASE', max_voltage: 230, max_amperage: 16 },
        ],
      },
    ],
  });
  const p = await api('GET', `/api/v1/stations/${id}/pairing`);
  assert.equal(p.body.payloadProtocol, 'ocpp2.0.1');
  assert.equal(p.body.origin, 'cpo-code');
});

test('CPO code: wrong codes are 404 with the exact message; a station without EVSEs gets no code', async () => {
  await station('PAIR-WRONG', 'ocpp2.0.1');
  const code = await issueCode('PAIR-WRONG');
  const wrong = code === '000000' ? '000001' : '000000';
  for (const c of [wrong, 'abc', '1234567']) {
    const r = await cpo('/v1/cpo/ocpp2.0.1/pair', { code: c });
    assert.equal(r.status, 404, c);
    assert.equal(r.text, '{"message":"Incorrect Code, please check the code and try again."}');
  }
  // The real code still works (wrong attempts do not burn it); as an integer too (lenient), spaces ignored.
  const ok = await cpo('/v1/cpo/ocpp2.0.1/pair', { code: ` ${code} ` });
  assert.equal(ok.status, 200, ok.text);
  const asNumber = await issueCode('PAIR-WRONG');
  assert.equal((await cpo('/v1/cpo/ocpp2.0.1/pair/', { code: Number(asNumber) })).status, 200, 'an integer code, zero-padded; trailing slash');

  // Unknown station → 404; a station row without any EVSE → 409 NoEvsesKnown.
  assert.equal((await api('POST', '/api/v1/stations/NOPE/pairing-codes', {})).body.error, 'UnknownStation');
  const t = new Date().toISOString();
  await csms.db.kysely.insertInto('stations').values({ id: 'PAIR-BARE', online: 0, created_at: t, updated_at: t }).execute();
  const bare = await api('POST', '/api/v1/stations/PAIR-BARE/pairing-codes', {});
  assert.equal(bare.status, 409);
  assert.equal(bare.body.error, 'NoEvsesKnown');
});

test('CPO code: expired codes are 404 (injected clock); ttlS is configurable per code', async () => {
  const clock = new ManualClock(new Date());
  const c = await startTestCsms({ clock });
  try {
    await c.scsp.partners.upsert(partnerInput(peerA, 'jedlix', TOKEN_A, 'ocpp2.0.1'));
    await station('EXP-1', 'ocpp2.0.1', undefined, c);
    await station('EXP-2', 'ocpp2.0.1', undefined, c);
    const stale = await issueCode('EXP-1', c);
    clock.advance(15 * 60_000 + 1);
    const r = await cpo('/v1/cpo/ocpp2.0.1/pair', { code: stale }, TOKEN_A, { c });
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, { message: INCORRECT });

    const short = await api('POST', '/api/v1/stations/EXP-2/pairing-codes', { ttlS: 60 }, KEY, c);
    assert.equal(short.status, 201);
    assert.equal(Date.parse(short.body.expiresAt), clock.now().getTime() + 60_000);
    clock.advance(59_000);
    assert.equal((await cpo('/v1/cpo/ocpp2.0.1/pair', { code: short.body.code }, TOKEN_A, { c })).status, 200);
    // The expired one stays expired; the station can have a new code.
    assert.equal((await cpo('/v1/cpo/ocpp2.0.1/pair', { code: stale }, TOKEN_A, { c })).status, 404);
    const fresh = await issueCode('EXP-1', c);
    assert.notEqual(fresh, stale);
    assert.equal((await cpo('/v1/cpo/ocpp2.0.1/pair', { code: fresh }, TOKEN_A, { c })).status, 200);
    assert.equal((await api('POST', '/api/v1/stations/EXP-1/pairing-codes', { ttlS: 5 }, KEY, c)).status, 400, 'below the minimum ttl');
  } finally {
    await c.destroy();
  }
});

test('/v1/cpo routes: 401 without a valid partner bearer token, in the seed shape', async () => {
  await station('PAIR-AUTH', 'ocpp2.0.1');
  const code = await issueCode('PAIR-AUTH');
  const cases: Array<[string, Record<string, string>]> = [
    ['no header', {}],
    ['unknown token', { authorization: 'Bearer not-a-partner-token-at-all' }],
    ['Basic scheme', { authorization: `Basic ${Buffer.from(`x:${TOKEN_A}`).toString('base64')}` }],
    ['the management API key', { authorization: `Bearer ${KEY}` }],
  ];
  for (const [what, headers] of cases) {
    for (const path of ['/v1/cpo/ocpp2.0.1/pair', '/v1/cpo/chargingstations/PAIR-AUTH/unpair']) {
      const r = await cpo(path, { code }, null, { headers });
      assert.equal(r.status, 401, `${what} ${path}`);
      assert.deepEqual(r.body, { message: 'Unauthorized' });
    }
  }
  // 401 comes before the body is looked at.
  assert.equal((await cpo('/v1/cpo/ocpp2.0.1/pair', undefined, null, { raw: '{oops', headers: { 'content-type': 'application/json' } })).status, 401);
  // A disabled partner is refused too.
  await csms.scsp.partners.upsert({ ...partnerInput(peerB, 'disabled-scsp', 'disabled-inbound-token-000000', 'ocpp2.0.1'), clientId: 'x', enabled: false });
  assert.equal((await cpo('/v1/cpo/ocpp2.0.1/pair', { code }, 'disabled-inbound-token-000000')).status, 401);
  await csms.scsp.partners.remove('disabled-scsp');
  // Nothing was used up.
  assert.equal((await cpo('/v1/cpo/ocpp2.0.1/pair', { code })).status, 200);
});

test('/v1/cpo/{pp}/pair: bad bodies and unknown payload protocols are 400 {message} (not the /api/v1 shape)', async () => {
  const cases: Array<[string, string, { body?: unknown; raw?: string; headers?: Record<string, string> }]> = [
    ['empty object', '/v1/cpo/ocpp2.0.1/pair', { body: {} }],
    ['code not a string', '/v1/cpo/ocpp2.0.1/pair', { body: { code: true } }],
    ['code a fraction', '/v1/cpo/ocpp2.0.1/pair', { body: { code: 12.5 } }],
    ['code blank', '/v1/cpo/ocpp2.0.1/pair', { body: { code: '  ' } }],
    ['array body', '/v1/cpo/ocpp2.0.1/pair', { body: ['362821'] }],
    ['no body', '/v1/cpo/ocpp2.0.1/pair', {}],
    ['empty JSON body', '/v1/cpo/ocpp2.0.1/pair', { raw: '', headers: { 'content-type': 'application/json' } }],
    ['malformed JSON', '/v1/cpo/ocpp2.0.1/pair', { raw: '{"code": "1', headers: { 'content-type': 'application/json' } }],
    ['prototype poisoning', '/v1/cpo/ocpp2.0.1/pair', { raw: '{"code": "1", "__proto__": {"x": 1}}', headers: { 'content-type': 'application/json' } }],
    ['unknown payload protocol', '/v1/cpo/ocpp2.1/pair', { body: { code: '362821' } }],
    ['OCPI-shaped variant not offered', '/v1/cpo/ocpi2.2/pair', { body: { code: '362821' } }],
  ];
  for (const [what, path, o] of cases) {
    const r = await cpo(path, o.body, TOKEN_A, { ...(o.raw !== undefined ? { raw: o.raw } : {}), ...(o.headers ? { headers: o.headers } : {}) });
    assert.equal(r.status, 400, `${what}: ${r.text}`);
    assert.deepEqual(Object.keys(r.body), ['message'], `${what}: ${r.text}`);
    assert.equal(typeof r.body.message, 'string');
  }
  // Text is not an object (400); an unknown media type is 415 — both in the seed shape.
  const text = await cpo('/v1/cpo/ocpp2.0.1/pair', undefined, TOKEN_A, { raw: 'code=1', headers: { 'content-type': 'text/plain' } });
  assert.equal(text.status, 400);
  assert.deepEqual(Object.keys(text.body), ['message']);
  const wrongType = await cpo('/v1/cpo/ocpp2.0.1/pair', undefined, TOKEN_A, { raw: 'code=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(wrongType.status, 415);
  assert.deepEqual(Object.keys(wrongType.body), ['message']);
});

test('a 2.0.1 station is not paired for ocpp1.6 payloads (400 on /v1/cpo, 409 PayloadProtocolMismatch on /api/v1); the code stays usable', async () => {
  const id = 'PAIR-MISMATCH';
  await station(id, 'ocpp2.0.1');
  const code = await issueCode(id);
  const r = await cpo('/v1/cpo/ocpp1.6/pair', { code });
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.message, /speaks ocpp2\.0\.1/);
  assert.equal((await api('GET', `/api/v1/stations/${id}/pairing`)).status, 404);
  const ok = await cpo('/v1/cpo/ocpp2.0.1/pair', { code });
  assert.equal(ok.status, 200, ok.text);
  await api('DELETE', `/api/v1/stations/${id}/pairing?force=true`);
});

test('CPO code for a station paired with another SCSP: 409, and the code stays usable', async () => {
  await station('PAIR-TAKEN', 'ocpp1.6');
  assert.equal((await cpo('/v1/cpo/ocpp1.6/pair', { code: await issueCode('PAIR-TAKEN') }, TOKEN_B)).status, 200);
  const code = await issueCode('PAIR-TAKEN');
  const r = await cpo('/v1/cpo/ocpp2.0.1/pair', { code }, TOKEN_A);
  assert.equal(r.status, 409);
  assert.deepEqual(Object.keys(r.body), ['message']);
  assert.equal((await api('GET', '/api/v1/stations/PAIR-TAKEN/pairing')).body.partnerId, 'other-scsp');
  // The same partner again is idempotent (one pairing, same partner).
  assert.equal((await cpo('/v1/cpo/ocpp1.6/pair', { code }, TOKEN_B)).status, 200);
  assert.equal((await api('GET', '/api/v1/stations/PAIR-TAKEN/pairing')).body.partnerId, 'other-scsp');
});

// ── SCSP-issued codes (seed 000, POST /v1/scsp/{payload-protocol}/pair) ─────────────────────────

test('SCSP code: 200 → paired, the SCSP got the code and the station; repeat is idempotent', async () => {
  const id = 'SCODE-OK';
  await station(id, 'ocpp2.0.1', [{ id: 1, connectors: [{ id: 1, ...ac3(32) }] }, { id: 2, connectors: [{ id: 1, ...ac3(32) }] }]);
  peerA.codes.set('362821', 'ok');
  const r = await api('POST', `/api/v1/stations/${id}/pairing`, { partnerId: 'jedlix', code: '362821' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.origin, 'scsp-code');
  assert.equal(r.body.alreadyPaired, false);
  assert.equal(r.body.payloadProtocol, 'ocpp2.0.1');
  const atPeer = peerA.paired.get(id);
  assert.ok(atPeer, 'the SCSP recorded the station');
  assert.equal(atPeer.code, '362821');
  assert.equal(atPeer.protocol, 'ocpp2.0.1', "the partner's payload protocol is in the path");
  assert.deepEqual(atPeer.chargingStation, r.body.chargingStation);
  assert.deepEqual(
    (atPeer.chargingStation as { evses: Array<{ evse_id: number }> }).evses.map((e) => e.evse_id),
    [1, 2],
  );
  assert.equal((await api('GET', `/api/v1/stations/${id}/pairing`)).body.origin, 'scsp-code');

  const before = peerA.refused.length;
  const again = await api('POST', `/api/v1/stations/${id}/pairing`, { partnerId: 'jedlix', code: 'whatever' });
  assert.equal(again.status, 200);
  assert.equal(again.body.alreadyPaired, true);
  assert.equal(peerA.refused.length, before);

  // Another partner for the same station: local conflict, nothing sent.
  const other = await api('POST', `/api/v1/stations/${id}/pairing`, { partnerId: 'other-scsp', code: '111111' });
  assert.equal(other.status, 409);
  assert.equal(other.body.error, 'PairingConflict');
  assert.equal(other.body.by, 'local');
  assert.equal(other.body.pairedWith, 'jedlix');
});

test('SCSP code: unknown code → 404, SCSP conflict → 409, SCSP down/unreachable → 502; nothing recorded', async () => {
  const id = 'SCODE-FAIL';
  await station(id, 'ocpp1.6');
  const notPaired = async () => {
    const p = await api('GET', `/api/v1/stations/${id}/pairing`);
    assert.equal(p.status, 404);
    assert.equal(p.body.error, 'NotPaired');
  };

  const unknown = await api('POST', `/api/v1/stations/${id}/pairing`, { partnerId: 'jedlix', code: '999999' });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error, 'IncorrectPairingCode');
  await notPaired();

  peerA.codes.set('409409', 'conflict');
  const conflict = await api('POST', `/api/v1/stations/${id}/pairing`, { partnerId: 'jedlix', code: '409409' });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.error, 'PairingConflict');
  assert.equal(conflict.body.by, 'scsp');
  await notPaired();

  peerA.codes.set('555555', 'ok');
  peerA.faults.down = true;
  try {
    const down = await api('POST', `/api/v1/stations/${id}/pairing`, { partnerId: 'jedlix', code: '555555' });
    assert.equal(down.status, 502);
    assert.equal(down.body.error, 'ScspUnavailable');
    assert.equal(down.body.upstreamStatus, 503);
  } finally {
    peerA.faults.down = false;
  }
  await notPaired();
  assert.ok(!peerA.paired.has(id));

  // Nobody listening at all: status 0 upstream.
  await csms.scsp.partners.upsert({ ...partnerInput(peerA, 'nowhere', 'nowhere-inbound-token-00000', 'ocpp2.0.1'), baseUrl: 'http://127.0.0.1:9' });
  const gone = await api('POST', `/api/v1/stations/${id}/pairing`, { partnerId: 'nowhere', code: '555555' });
  assert.equal(gone.status, 502);
  assert.equal(gone.body.upstreamStatus, 0);
  await csms.scsp.partners.remove('nowhere');
  await notPaired();

  // Unknown partner / station; invalid bodies.
  assert.equal((await api('POST', `/api/v1/stations/${id}/pairing`, { partnerId: 'nobody', code: '555555' })).body.error, 'UnknownPartner');
  assert.equal((await api('POST', '/api/v1/stations/NOPE/pairing', { partnerId: 'jedlix', code: '555555' })).body.error, 'UnknownStation');
  for (const body of [{ partnerId: 'jedlix' }, { code: '1' }, { partnerId: 'jedlix', code: '' }, { partnerId: 'jedlix', code: '1', extra: 1 }]) {
    const r = await api('POST', `/api/v1/stations/${id}/pairing`, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error, 'BadRequest');
  }

  // Now it works.
  const ok = await api('POST', `/api/v1/stations/${id}/pairing`, { partnerId: 'jedlix', code: '555555' });
  assert.equal(ok.status, 200, ok.text);
  assert.equal((peerA.paired.get(id) as { protocol: string }).protocol, 'ocpp2.0.1');
});

test('SCSP code: a revoked OAuth token is refreshed once on 401 and the call succeeds', async () => {
  const id = 'SCODE-TOKEN';
  await station(id, 'ocpp2.0.1');
  // Make sure a token is cached, then have the SCSP forget every token it issued.
  await csms.scsp.oauth.token((await csms.scsp.partners.get('jedlix'))!);
  peerA.revokeTokens();
  const issued = peerA.tokensIssued;
  const refused = peerA.refused.length;
  peerA.codes.set('777777', 'ok');
  const r = await api('POST', `/api/v1/stations/${id}/pairing`, { partnerId: 'jedlix', code: '777777' });
  assert.equal(r.status, 200, r.text);
  assert.equal(peerA.tokensIssued, issued + 1, 'exactly one new token');
  assert.deepEqual(peerA.refused.slice(refused).map((x) => [x.status, x.reason]), [[401, 'bad bearer token']]);
  assert.ok(peerA.paired.has(id));
});

// ── unpair ──────────────────────────────────────────────────────────────────────────────────────

test('unpair by the SCSP (POST /v1/cpo/chargingstations/{uid}/unpair): 200, forwarding state gone, SCSP profile cleared on the charger', async () => {
  const id = 'UNPAIR-SCSP';
  const cp = await station(id, 'ocpp2.0.1');
  assert.equal((await cpo('/v1/cpo/ocpp2.0.1/pair', { code: await issueCode(id) })).status, 200);

  // A session with the SCSP's TxProfile (10 A) and an operator's TxDefaultProfile that must survive.
  const txId = await cp.startSession({ evseId: 1, idTag: 'UNPAIR1', ev: { batteryWh: 60000 as WattHours, socPercent: 20, maxPowerW: 22000 as Watts, phases: 3 } });
  await waitFor(async () => (await csms.smart.activeTransactions(id)).length === 1);
  assert.equal((await csms.smart.set(id, profile(501, 'TxDefaultProfile', 20), { source: 'api' })).status, 'Accepted');
  assert.equal((await csms.smart.set(id, profile(502, 'TxProfile', 10, String(txId)), { source: 'scsp' })).status, 'Accepted');
  await waitFor(() => Math.abs(cp.evse(1).powerW - 6900) < 1, { timeoutMs: 5000, what: 'charging at the SCSP limit' });

  // Only the partner the station is paired with can unpair it; unknown uids are 404.
  const foreign = await cpo(`/v1/cpo/chargingstations/${id}/unpair`, undefined, TOKEN_B);
  assert.equal(foreign.status, 404);
  assert.deepEqual(Object.keys(foreign.body), ['message']);
  assert.equal((await cpo('/v1/cpo/chargingstations/NOPE/unpair', undefined)).status, 404);

  // As the seed shows it: no body (and a JSON content type with an empty body is fine too).
  const r = await cpo(`/v1/cpo/chargingstations/${id}/unpair`, undefined, TOKEN_A, { raw: '', headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.text, JSON.stringify({ message: UNPAIRED }));
  assert.equal((await api('GET', `/api/v1/stations/${id}/pairing`)).status, 404);
  assert.equal(await csms.db.kysely.selectFrom('pairings').select('station_id').where('station_id', '=', id).executeTakeFirst(), undefined);

  await waitFor(() => !cp.chargingProfiles().some((p) => p.id === 502), { timeoutMs: 5000, what: 'SCSP profile cleared on the charger' });
  assert.ok(cp.chargingProfiles().some((p) => p.id === 501), "the operator's profile stays");
  await csms.scsp.pairing.settled();
  assert.deepEqual((await csms.smart.installed(id)).map((p) => [p.profile.id, p.source]), [[501, 'api']]);
  await waitFor(() => cp.evse(1).powerW > 13000, { timeoutMs: 5000, what: 'back to the 20 A default limit' });

  // Twice: nothing to unpair any more.
  assert.equal((await cpo(`/v1/cpo/chargingstations/${id}/unpair`, undefined)).status, 404);
  assert.equal((await cpo(`/v1/cpo/chargingstations/${id}/unpair/`, undefined)).status, 404);
  await cp.stopSession(1);
});

test('unpair by the CPO (DELETE /api/v1/stations/{id}/pairing): reaches the SCSP, removes the pairing, clears the SCSP profile', async () => {
  const id = 'UNPAIR-CPO';
  const cp = await station(id, 'ocpp1.6');
  peerA.codes.set('246810', 'ok');
  assert.equal((await api('POST', `/api/v1/stations/${id}/pairing`, { partnerId: 'jedlix', code: '246810' })).status, 200);
  assert.equal((await csms.smart.set(id, profile(601, 'TxDefaultProfile', 8), { source: 'scsp' })).status, 'Accepted');
  assert.ok(cp.chargingProfiles().some((p) => p.id === 601));

  // The SCSP is down: 502, the pairing is kept.
  peerA.faults.down = true;
  try {
    const down = await api('DELETE', `/api/v1/stations/${id}/pairing`);
    assert.equal(down.status, 502);
    assert.equal(down.body.error, 'ScspUnavailable');
  } finally {
    peerA.faults.down = false;
  }
  assert.equal((await api('GET', `/api/v1/stations/${id}/pairing`)).status, 200);
  assert.ok(peerA.paired.has(id));

  const r = await api('DELETE', `/api/v1/stations/${id}/pairing`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.scspStatus, 200);
  assert.equal(r.body.partnerId, 'jedlix');
  assert.ok(peerA.unpaired.includes(id), "the SCSP's unpair endpoint was called");
  assert.ok(!peerA.paired.has(id));
  assert.equal((await api('GET', `/api/v1/stations/${id}/pairing`)).status, 404);
  await waitFor(() => !cp.chargingProfiles().some((p) => p.id === 601), { timeoutMs: 5000, what: 'SCSP profile cleared' });
  assert.equal((await api('DELETE', `/api/v1/stations/${id}/pairing`)).body.error, 'NotPaired');
});

test('unpair by the CPO: the SCSP not knowing the station (404) still unpairs; force=true unpairs when the SCSP is down', async () => {
  const a = 'UNPAIR-404';
  const b = 'UNPAIR-FORCE';
  await station(a, 'ocpp2.0.1');
  await station(b, 'ocpp2.0.1');
  // Paired through a CPO code: the peer never saw these stations, so its unpair answers 404.
  assert.equal((await cpo('/v1/cpo/ocpp2.0.1/pair', { code: await issueCode(a) })).status, 200);
  assert.equal((await cpo('/v1/cpo/ocpp2.0.1/pair', { code: await issueCode(b) })).status, 200);
  const r = await api('DELETE', `/api/v1/stations/${a}/pairing`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.scspStatus, 404);

  peerA.faults.down = true;
  try {
    assert.equal((await api('DELETE', `/api/v1/stations/${b}/pairing`)).status, 502);
    const forced = await api('DELETE', `/api/v1/stations/${b}/pairing?force=true`);
    assert.equal(forced.status, 200);
    assert.equal(forced.body.scspStatus, 503);
  } finally {
    peerA.faults.down = false;
  }
  assert.equal((await api('GET', `/api/v1/stations/${b}/pairing`)).status, 404);
});

test('unpair while the charger is offline: the SCSP profile is cleared when it boots again', async () => {
  const id = 'UNPAIR-OFFLINE';
  const cp = await station(id, 'ocpp2.0.1');
  assert.equal((await cpo('/v1/cpo/ocpp2.0.1/pair', { code: await issueCode(id) })).status, 200);
  assert.equal((await csms.smart.set(id, profile(701, 'TxDefaultProfile', 8), { source: 'scsp' })).status, 'Accepted');
  await cp.close();
  await waitFor(() => csms.transport.get(id) === undefined, { what: 'station gone' });

  assert.equal((await cpo(`/v1/cpo/chargingstations/${id}/unpair`, undefined)).status, 200);
  await csms.scsp.pairing.settled();
  assert.ok(cp.chargingProfiles().some((p) => p.id === 701), 'still installed: the station was offline');
  assert.ok((await csms.smart.installed(id)).some((p) => p.profile.id === 701));

  await cp.connect();
  await waitFor(() => !cp.chargingProfiles().some((p) => p.id === 701), { timeoutMs: 5000, what: 'cleared after the boot' });
  await waitFor(async () => !(await csms.smart.installed(id)).some((p) => p.profile.id === 701));
});

// ── partners API ────────────────────────────────────────────────────────────────────────────────

test('partners API: create, list, get with masked secrets; replace keeping secrets; validation; in-use guard; delete', async () => {
  const body = { ...partnerInput(peerB, 'api-partner', 'api-partner-inbound-token-0001', 'ocpp1.6'), clientSecret: 'super-secret-value', apiKey: 'static-api-key-value' };
  const { id: _id, ...withoutId } = body;
  const created = await api('PUT', '/api/v1/partners/api-partner', withoutId);
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.clientSecret, '***');
  assert.equal(created.body.apiKey, '***');
  assert.equal(created.body.payloadProtocol, 'ocpp1.6');
  assert.equal(created.body.enabled, true);
  assert.equal(created.body.pairedStations, 0);
  for (const secret of ['super-secret-value', 'static-api-key-value', 'api-partner-inbound-token-0001']) assert.ok(!created.text.includes(secret));
  assert.ok(!('inboundToken' in created.body));

  const list = await api('GET', '/api/v1/partners');
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.data.map((p: { id: string }) => p.id).sort(), ['api-partner', 'jedlix', 'other-scsp']);
  assert.ok(!list.text.includes(peerA.clientSecret) && !list.text.includes(peerA.apiKey) && !list.text.includes('super-secret-value'));
  assert.ok(list.body.data.every((p: { clientSecret: string; apiKey: string }) => p.clientSecret === '***' && p.apiKey === '***'));
  assert.equal((await api('GET', '/api/v1/partners/jedlix')).body.baseUrl, peerA.url);
  assert.ok((await api('GET', '/api/v1/partners/jedlix')).body.pairedStations >= 1);

  // Replace: '***' keeps the stored secrets; 200.
  const replaced = await api('PUT', '/api/v1/partners/api-partner', { ...body, name: 'Renamed', clientSecret: '***', apiKey: '***', enabled: false });
  assert.equal(replaced.status, 200, replaced.text);
  assert.equal(replaced.body.name, 'Renamed');
  assert.equal(replaced.body.enabled, false);
  const stored = (await csms.scsp.partners.get('api-partner'))!;
  assert.equal(stored.clientSecret, 'super-secret-value');
  assert.equal(stored.apiKey, 'static-api-key-value');

  // Validation errors: the /api/v1 shape.
  const bad: Array<[string, unknown, string]> = [
    ['missing baseUrl', { ...withoutId, baseUrl: undefined }, 'baseUrl'],
    ['not an URL', { ...withoutId, baseUrl: 'ftp://x' }, 'baseUrl'],
    ['short inbound token', { ...withoutId, inboundToken: 'short' }, 'inboundToken'],
    ['unknown property', { ...withoutId, colour: 'red' }, 'colour'],
    ['unknown protocol', { ...withoutId, payloadProtocol: 'ocpi2.2' }, 'payloadProtocol'],
    ['id differs', { ...withoutId, id: 'other' }, 'id'],
    ['mask for a new partner', { ...withoutId, clientSecret: '***' }, 'clientSecret'],
  ];
  for (const [what, b, field] of bad) {
    const r = await api('PUT', `/api/v1/partners/${what === 'mask for a new partner' ? 'brand-new' : 'api-partner'}`, JSON.parse(JSON.stringify(b)));
    assert.equal(r.status, 400, `${what}: ${r.text}`);
    assert.equal(r.body.error, 'BadRequest', what);
    assert.match(r.body.message, new RegExp(field), what);
  }
  assert.equal((await api('PUT', '/api/v1/partners/bad id!', withoutId)).status, 400);
  // The inbound token must be unique across partners.
  const dup = await api('PUT', '/api/v1/partners/dup', { ...withoutId, inboundToken: TOKEN_A });
  assert.equal(dup.status, 409);
  assert.equal(dup.body.error, 'AlreadyExists');

  // A partner with paired stations cannot be deleted.
  const inUse = await api('DELETE', '/api/v1/partners/jedlix');
  assert.equal(inUse.status, 409);
  assert.equal(inUse.body.error, 'PartnerInUse');
  assert.equal((await api('DELETE', '/api/v1/partners/api-partner')).status, 204);
  assert.equal((await api('GET', '/api/v1/partners/api-partner')).body.error, 'UnknownPartner');
  assert.equal((await api('DELETE', '/api/v1/partners/api-partner')).status, 404);
});

test('scopes: partners need admin; codes, pairing and unpair need command; reading a pairing needs read', async () => {
  const keyWith = async (scope: string) => {
    const r = await api('POST', '/api/v1/api-keys', { name: `k-${scope}`, scopes: [scope] });
    assert.equal(r.status, 201);
    return r.body.key as string;
  };
  const [read, command] = await Promise.all([keyWith('read'), keyWith('command')]);
  await station('SCOPE-1', 'ocpp2.0.1');
  for (const key of [read, command]) {
    assert.equal((await api('GET', '/api/v1/partners', undefined, key)).status, 403);
    assert.equal((await api('GET', '/api/v1/partners/jedlix', undefined, key)).status, 403);
    assert.equal((await api('PUT', '/api/v1/partners/x', partnerInput(peerA, 'x', 'x-inbound-token-000000000', 'ocpp2.0.1'), key)).status, 403);
    assert.equal((await api('DELETE', '/api/v1/partners/jedlix', undefined, key)).status, 403);
  }
  assert.equal((await api('GET', '/api/v1/partners', undefined, 'wrong-key-123')).status, 401);
  assert.equal((await api('POST', '/api/v1/stations/SCOPE-1/pairing-codes', {}, read)).status, 403);
  assert.equal((await api('POST', '/api/v1/stations/SCOPE-1/pairing', { partnerId: 'jedlix', code: '1' }, read)).status, 403);
  assert.equal((await api('DELETE', '/api/v1/stations/SCOPE-1/pairing', undefined, read)).status, 403);
  assert.equal((await api('GET', '/api/v1/stations/SCOPE-1/pairing', undefined, read)).status, 404);
  assert.equal((await api('GET', '/api/v1/pairings', undefined, read)).status, 200);
  assert.equal((await api('POST', '/api/v1/stations/SCOPE-1/pairing-codes', {}, command)).status, 201);
});
