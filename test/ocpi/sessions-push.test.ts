/**
 * OCPI Sessions, CPO as Sender, end to end: a real CSMS (temp SQLite), simulated chargers (OCPP 2.0.1 and
 * 1.6) running real transactions, and hand-written foreign OCPI SCSPs (./sessions-peer.ts, from the spec
 * text) registered as OCPI partners through the repository (the handshake is tested elsewhere) and linked
 * to SCSP partners (`ocpiPartnerId`). Stations are paired by inserting `pairings` rows.
 *
 * Checked: the PUT on start and its shape; PATCHes that append only new periods, carry `last_updated` and
 * are throttled; the COMPLETED PUT at the end whose periods extend what was appended; isolation (unpaired
 * stations, stations of another partner, a partner not registered); a MeterValues storm costs no pushes;
 * the GET list with pagination headers and Link; charging preferences; push failures (503 and dropped
 * connections) followed by recovery that delivers the final state as a PUT.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SimChargePoint, type Amps, type Watts, type WattHours } from '../../src/sim/index.js';
import { hashToken, tokenHint } from '../../src/ocpi/core/auth.js';
import { isOcpiDateTime } from '../../src/ocpi/core/datetime.js';
import { startTestCsms, type TestCsms } from '../helpers/csms.js';
import { uniqueId, waitFor } from '../helpers/wire.js';
import { csmsAdmin, ocpi } from './helpers.js';
import { SessionsPeer, type SessionsPeerRequest } from './sessions-peer.js';

const INTERVAL = 1000;
const LONG = 30_000;
const EV = { batteryWh: 60_000 as WattHours, socPercent: 20, maxPowerW: 11_000 as Watts, phases: 3 };

let csms: TestCsms;
let jed: SessionsPeer;
let other: SessionsPeer;
const sims: SimChargePoint[] = [];

/** Tokens the peers present to Ampline. */
const JED_TOKEN = 'jed-calls-ampline-token-0001';
const OTHER_TOKEN = 'other-calls-ampline-token-0002';

const ST = { a: uniqueId('OA'), a16: uniqueId('OA16'), b: uniqueId('OB'), c: uniqueId('OC'), d: uniqueId('OD') };
const cp: Record<keyof typeof ST, SimChargePoint> = {} as never;

async function registerOcpiPartner(id: string, peer: SessionsPeer, inbound: string, party: string, state: 'registered' | 'pending' = 'registered') {
  await csms.ocpi.partners.insert(
    {
      id,
      name: id,
      state,
      ourTokenHash: hashToken(inbound),
      ourTokenKind: state === 'registered' ? 'C' : 'A',
      ourTokenHint: tokenHint(inbound),
      ourNextTokenHash: null,
      theirToken: peer.token,
      versionsUrl: `${peer.url}/ocpi/versions`,
      version: '2.2.1',
      tokenEncoding: 'auto',
      endpoints: [
        { identifier: 'credentials', role: 'SENDER', url: `${peer.url}/ocpi/2.2.1/credentials` },
        { identifier: 'sessions', role: 'RECEIVER', url: peer.sessionsUrl },
        { identifier: 'chargingprofiles', role: 'SENDER', url: `${peer.url}/ocpi/2.2.1/chargingprofiles` },
      ],
      roles: [{ role: 'SCSP', party_id: party, country_code: 'NL', business_details: { name: id } }],
      auth: null,
      registeredAt: state === 'registered' ? new Date().toISOString() : null,
    },
    new Date(),
  );
}

async function linkScspPartner(id: string, peer: SessionsPeer, ocpiPartnerId: string) {
  await csms.scsp.partners.upsert({
    id,
    name: id,
    baseUrl: peer.url,
    tokenUrl: `${peer.url}/oauth/token`,
    clientId: 'ampline',
    clientSecret: 'secret',
    apiKey: 'api-key',
    payloadProtocol: 'ocpp2.0.1',
    inboundToken: `inbound-${id}-0123456789abcdef`,
    ocpiPartnerId,
    sessionData: 'ocpi',
  });
}

async function pair(stationId: string, partnerId: string) {
  await csms.db.kysely
    .insertInto('pairings')
    .values({ station_id: stationId, partner_id: partnerId, payload_protocol: 'ocpp2.0.1', origin: 'cpo-code', paired_at: new Date().toISOString() })
    .execute();
}

async function charger(id: string, protocol: 'ocpp1.6' | 'ocpp2.0.1'): Promise<SimChargePoint> {
  const c = new SimChargePoint({
    url: csms.ocppUrl,
    identity: id,
    protocol,
    evses: [{ id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 16 as Amps }] }],
    meterIntervalS: 1,
    reconnect: false,
  });
  sims.push(c);
  await c.connect();
  await waitFor(async () => (await csms.db.kysely.selectFrom('connectors').select('evse_id').where('station_id', '=', id).where('evse_id', '=', 1).execute()).length === 1, {
    what: `${id} connector`,
    timeoutMs: LONG,
  });
  return c;
}

/** Start a session and return Ampline's session id (transactions.id). */
async function startSession(key: keyof typeof ST, tag = 'TAG-' + key.toUpperCase()): Promise<string> {
  const stationId = ST[key];
  const before = new Set((await csms.db.kysely.selectFrom('transactions').select('id').where('station_id', '=', stationId).execute()).map((r) => r.id));
  await cp[key].startSession({ evseId: 1, idTag: tag, ev: EV });
  return waitFor(
    async () => (await csms.db.kysely.selectFrom('transactions').select('id').where('station_id', '=', stationId).execute()).map((r) => r.id).find((id) => !before.has(id)),
    { what: `${stationId} transaction`, timeoutMs: LONG },
  );
}

const txRow = (id: string) => csms.db.kysely.selectFrom('transactions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const pushRow = (partnerId: string, id: string) => csms.db.kysely.selectFrom('ocpi_sessions').selectAll().where('partner_id', '=', partnerId).where('session_id', '=', id).executeTakeFirst();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ok = (r: SessionsPeerRequest) => r.http >= 200 && r.http < 300 && r.statusCode === 1000;
const energyOf = (p: any) => p.dimensions.find((d: any) => d.type === 'ENERGY')?.volume ?? 0;

before(async () => {
  [jed, other] = await Promise.all([new SessionsPeer('ampline-calls-jed-token-01').start(), new SessionsPeer('ampline-calls-other-token-2').start()]);
  csms = await startTestCsms();
  csms.ocpiModules.sessions.configure({ updateIntervalMs: INTERVAL, retryBaseMs: 200, retryMaxMs: 800, targetCacheMs: 200 });
  await registerOcpiPartner('ocpi-jed', jed, JED_TOKEN, 'JED');
  await registerOcpiPartner('ocpi-other', other, OTHER_TOKEN, 'OTH');
  // Linked, but its OCPI registration is not complete: nothing may be pushed to it (it points at jed's URL to catch leaks).
  await registerOcpiPartner('ocpi-pending', jed, 'pending-token-a-000000000', 'PND', 'pending');
  await linkScspPartner('jed', jed, 'ocpi-jed');
  await linkScspPartner('oth', other, 'ocpi-other');
  await linkScspPartner('pnd', jed, 'ocpi-pending');
  await pair(ST.a, 'jed');
  await pair(ST.a16, 'jed');
  await pair(ST.b, 'oth');
  await pair(ST.d, 'pnd');
  cp.a = await charger(ST.a, 'ocpp2.0.1');
  cp.a16 = await charger(ST.a16, 'ocpp1.6');
  cp.b = await charger(ST.b, 'ocpp2.0.1');
  cp.c = await charger(ST.c, 'ocpp2.0.1');
  cp.d = await charger(ST.d, 'ocpp1.6');
});

after(async () => {
  await Promise.all(sims.map((s) => s.close().catch(() => undefined)));
  await csms?.destroy();
  await Promise.all([jed?.stop(), other?.stop()]);
});

const sessionIds = { a1: '', b: '', c: '', d: '' };

test('a paired session: PUT on start, throttled PATCHes that append new periods only, COMPLETED PUT at the end; others are isolated', async () => {
  const t0 = Date.now();
  [sessionIds.a1, sessionIds.b, sessionIds.c, sessionIds.d] = await Promise.all([startSession('a'), startSession('b'), startSession('c'), startSession('d')]);
  const id = sessionIds.a1;

  // ── the PUT on start ──
  const put = await waitFor(() => jed.for(id).find((r) => r.method === 'PUT'), { what: 'PUT on start', timeoutMs: LONG });
  assert.equal(put.path, `/ocpi/2.2.1/sessions/NL/AMP/${id}`);
  assert.equal(put.headers.authorization, `Token ${Buffer.from(jed.token).toString('base64')}`);
  assert.equal(put.headers['content-type'], 'application/json');
  assert.deepEqual(
    [put.headers['ocpi-from-country-code'], put.headers['ocpi-from-party-id'], put.headers['ocpi-to-country-code'], put.headers['ocpi-to-party-id']],
    ['NL', 'AMP', 'NL', 'JED'],
  );
  assert.ok(put.headers['x-request-id'] && put.headers['x-correlation-id']);
  assert.equal(put.http, 201);
  const s = put.body;
  assert.equal(s.country_code, 'NL');
  assert.equal(s.party_id, 'AMP');
  assert.equal(s.id, id);
  assert.ok(['ACTIVE', 'PENDING'].includes(s.status), s.status);
  assert.deepEqual(s.cdr_token, { country_code: 'NL', party_id: 'AMP', uid: 'TAG-A', type: 'RFID', contract_id: 'TAG-A' });
  assert.equal(s.auth_method, 'AUTH_REQUEST');
  assert.equal(s.location_id, ST.a);
  assert.equal(s.evse_uid, `${ST.a}*1`);
  assert.equal(s.connector_id, '1');
  assert.equal(s.currency, 'EUR');
  assert.ok(typeof s.kwh === 'number' && s.kwh >= 0);
  assert.ok(Array.isArray(s.charging_periods));
  assert.equal(s.end_date_time, undefined);
  for (const k of ['start_date_time', 'last_updated']) assert.ok(isOcpiDateTime(s[k]) && s[k].endsWith('Z'), `${k}: ${s[k]}`);
  assert.equal(s.start_date_time, new Date((await txRow(id)).started_at).toISOString().replace('.000Z', 'Z'));

  // ── PATCHes while charging ──
  await waitFor(() => jed.for(id).filter((r) => r.method === 'PATCH' && r.body.charging_periods).length >= 3, { what: '3 PATCHes with periods', timeoutMs: LONG });
  const activeFor = Date.now() - t0;
  await Promise.all([cp.a.stopSession(1), cp.b.stopSession(1), cp.c.stopSession(1), cp.d.stopSession(1)]);
  const done = await waitFor(() => jed.for(id).find((r) => r.method === 'PUT' && r.body.status === 'COMPLETED'), { what: 'COMPLETED PUT', timeoutMs: LONG });

  const reqs = jed.for(id);
  assert.ok(reqs.every(ok), JSON.stringify(reqs.filter((r) => !ok(r)).map((r) => [r.method, r.http, r.statusCode])));
  const patches = reqs.filter((r) => r.method === 'PATCH');
  let lastUpdated = s.last_updated;
  for (const p of patches) {
    assert.ok(isOcpiDateTime(p.body.last_updated), 'PATCH carries last_updated');
    assert.ok(p.body.last_updated >= lastUpdated, 'last_updated never goes back');
    lastUpdated = p.body.last_updated;
    for (const k of Object.keys(p.body)) assert.ok(['kwh', 'charging_periods', 'last_updated', 'status', 'start_date_time', 'cdr_token', 'auth_method', 'connector_id', 'evse_uid'].includes(k), k);
  }
  assert.ok(patches.some((p) => typeof p.body.kwh === 'number'), 'kwh is patched');
  // Throttled: a readings every second, yet at most one push per interval (start and end go at once).
  const seq = reqs.filter((r) => r !== done);
  for (let i = 1; i < seq.length; i++) assert.ok(seq[i]!.at - seq[i - 1]!.at >= INTERVAL * 0.85, `push ${i} came ${seq[i]!.at - seq[i - 1]!.at} ms after the previous one`);
  assert.ok(patches.length <= activeFor / INTERVAL + 2, `${patches.length} PATCHes in ${activeFor} ms`);
  const readings = await csms.db.kysely.selectFrom('meter_values').select('timestamp').distinct().where('transaction_id', '=', id).execute();
  assert.ok(readings.length > patches.length, `${readings.length} readings → ${patches.length} PATCHes`);

  // Appended periods: strictly increasing, never repeated, and the final PUT's periods extend them.
  const appended = [...s.charging_periods, ...patches.flatMap((p) => p.body.charging_periods ?? [])];
  for (let i = 1; i < appended.length; i++) assert.ok(appended[i].start_date_time > appended[i - 1].start_date_time, 'only new periods are appended');
  const final = done.body;
  assert.deepEqual(final.charging_periods.slice(0, appended.length), appended, 'the COMPLETED PUT repeats every appended period unchanged');
  assert.ok(final.charging_periods.length >= appended.length);
  for (const p of final.charging_periods) {
    assert.ok(isOcpiDateTime(p.start_date_time));
    const types = p.dimensions.map((d: any) => d.type);
    assert.ok(types.includes('ENERGY'), JSON.stringify(p));
    for (const d of p.dimensions) assert.ok(d.volume >= 0 && Number.isFinite(d.volume), JSON.stringify(d));
    if (types.includes('POWER')) assert.ok(p.dimensions.find((d: any) => d.type === 'POWER').volume <= 11.05, `POWER in kW (the EV takes 11 kW): ${JSON.stringify(p)}`);
  }
  // Per push interval: period starts on interval boundaries (the first at the session start).
  for (const p of final.charging_periods.slice(1)) assert.equal(Date.parse(p.start_date_time) % INTERVAL, 0);

  // ── the end ──
  const tx = await txRow(id);
  assert.equal(final.status, 'COMPLETED');
  assert.equal(final.kwh, Math.round((tx.energy_wh ?? 0)) / 1000);
  assert.ok(final.kwh > 0);
  assert.ok(isOcpiDateTime(final.end_date_time));
  assert.ok(Math.abs(final.charging_periods.reduce((a: number, p: any) => a + energyOf(p), 0) - final.kwh) < 0.005, 'periods add up to kwh');
  assert.deepEqual(jed.sessions.get(`NL/AMP/${id}`), final, 'the peer holds the final object');
  // The push state is written once the answer is in (just after the peer logged the request).
  const row = await waitFor(async () => {
    const r = await pushRow('ocpi-jed', id);
    return r?.pushed_status === 'COMPLETED' ? r : undefined;
  }, { what: 'ocpi_sessions COMPLETED' });
  assert.equal(row?.push_error, null);
  assert.equal(row?.periods_pushed, final.charging_periods.length);
  assert.equal(row?.pushed_kwh, final.kwh);

  // ── isolation ──
  await waitFor(() => other.for(sessionIds.b).find((r) => r.body?.status === 'COMPLETED'), { what: 'B completed at its partner', timeoutMs: LONG });
  assert.deepEqual(new Set(jed.requests.map((r) => r.sessionId)), new Set([id]), 'jed saw only its session (not B, C, nor the not-registered partner’s D)');
  assert.deepEqual(new Set(other.requests.map((r) => r.sessionId)), new Set([sessionIds.b]));
  assert.equal(other.for(sessionIds.b)[0]!.body.location_id, ST.b);
  await sleep(INTERVAL * 1.5);
  assert.equal(jed.requests.filter((r) => r.sessionId !== id).length, 0);
  assert.equal(jed.for(id).length, reqs.length, 'nothing after COMPLETED');
  const rows = await csms.db.kysely.selectFrom('ocpi_sessions').select(['partner_id', 'session_id']).execute();
  assert.ok(!rows.some((r) => r.session_id === sessionIds.c || r.session_id === sessionIds.d), 'no push state for unpaired / unregistered');
});

test('a MeterValues storm is coalesced: thousands of events, at most one push per interval, no work on the hot path', async () => {
  const id = await startSession('a');
  await waitFor(() => jed.for(id).find((r) => r.method === 'PUT'), { what: 'PUT', timeoutMs: LONG });
  const before = jed.for(id).length;
  const t = performance.now();
  for (let i = 0; i < 20_000; i++) csms.events.publish({ type: 'MeterValues', stationId: ST.a, evseId: 1, transactionId: id, samples: [] });
  const spent = performance.now() - t;
  assert.ok(spent < 2000, `20 000 events took ${spent.toFixed(0)} ms in all listeners`);
  await sleep(INTERVAL * 2.5);
  const during = jed.for(id).length - before;
  assert.ok(during <= 3, `${during} pushes in 2.5 intervals`);
  await cp.a.stopSession(1);
  await waitFor(() => jed.for(id).find((r) => r.body?.status === 'COMPLETED'), { what: 'COMPLETED', timeoutMs: LONG });
});

test('GET list: only the caller’s sessions, paginated with X-Total-Count, X-Limit and a Link that keeps the filters', async () => {
  for (let i = 0; i < 2; i++) {
    const id = await startSession('a16', `TAG16-${i}`);
    await waitFor(() => jed.for(id).find((r) => r.method === 'PUT'), { what: 'PUT', timeoutMs: LONG });
    await cp.a16.stopSession(1);
    await waitFor(() => jed.for(id).find((r) => r.body?.status === 'COMPLETED'), { what: 'COMPLETED', timeoutMs: LONG });
  }
  const mine = (await csms.db.kysely.selectFrom('transactions').select('id').where('station_id', 'in', [ST.a, ST.a16]).execute()).map((r) => r.id);
  assert.equal(mine.length, 4);
  const base = `${csms.url}/ocpi/2.2.1/sessions`;

  const all: any[] = [];
  let url: string | undefined = `${base}?limit=3`;
  let pages = 0;
  while (url) {
    const r = await ocpi(url, { token: JED_TOKEN });
    assert.equal(r.status, 200);
    assert.equal(r.body.status_code, 1000);
    assert.equal(r.headers.get('x-total-count'), '4');
    assert.equal(r.headers.get('x-limit'), '3');
    assert.equal(r.headers.get('ocpi-to-party-id'), 'JED');
    all.push(...r.body.data);
    const link = r.headers.get('link');
    url = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1] : undefined;
    if (url) assert.match(url, /offset=3/);
    pages++;
  }
  assert.equal(pages, 2);
  assert.deepEqual(new Set(all.map((s) => s.id)), new Set(mine));
  for (let i = 1; i < all.length; i++) assert.ok(all[i].last_updated >= all[i - 1].last_updated, 'oldest first');
  const first = all.find((s) => s.id === sessionIds.a1);
  assert.deepEqual(first, jed.sessions.get(`NL/AMP/${sessionIds.a1}`), 'the listed object is the one pushed');
  assert.ok(all.filter((s) => s.location_id === ST.a16).every((s) => s.status === 'COMPLETED' && s.cdr_token.type === 'RFID'));

  // date_from (inclusive) / date_to (exclusive) on last_updated; the Link keeps them.
  const from = all[1].last_updated;
  const r1 = await ocpi(`${base}?date_from=${from}&limit=1`, { token: JED_TOKEN });
  assert.equal(r1.headers.get('x-total-count'), String(all.filter((s) => s.last_updated >= from).length));
  assert.equal(r1.body.data.length, 1);
  const next = /^<([^>]+)>; rel="next"$/.exec(r1.headers.get('link') ?? '')?.[1];
  assert.ok(next && new URL(next).searchParams.get('date_from') === from && new URL(next).searchParams.get('offset') === '1', next);
  const r2 = await ocpi(`${base}?date_to=${from}`, { token: JED_TOKEN });
  assert.deepEqual(r2.body.data.map((s: any) => s.id), all.filter((s) => s.last_updated < from).map((s) => s.id));
  assert.equal(r2.headers.get('link'), null);
  assert.equal(r2.headers.get('x-limit'), '100', 'the server maximum when no limit is asked');
  assert.equal((await ocpi(`${base}?limit=1000`, { token: JED_TOKEN })).headers.get('x-limit'), '100');
  assert.equal((await ocpi(`${base}?date_from=yesterday`, { token: JED_TOKEN })).body.status_code, 2001);

  // The other partner sees its own session only.
  const o = await ocpi(base, { token: OTHER_TOKEN });
  assert.deepEqual(o.body.data.map((s: any) => s.id), [sessionIds.b]);
  assert.equal(o.headers.get('x-total-count'), '1');
  assert.equal(o.headers.get('link'), null);
  // No token: 401 in the envelope.
  const anon = await ocpi(base);
  assert.equal(anon.status, 401);
});

test('charging preferences: ACCEPTED and stored; 2001 for bad input; 404 + 2001 for unknown or foreign sessions; NOT_POSSIBLE once over', async () => {
  const id = await startSession('a');
  const url = (sid: string) => `${csms.url}/ocpi/2.2.1/sessions/${sid}/charging_preferences`;
  const prefs = { profile_type: 'CHEAP', departure_time: '2030-01-01T18:00:00Z', energy_need: 20.5, discharge_allowed: false };
  const r = await ocpi(url(id), { method: 'PUT', token: JED_TOKEN, body: prefs });
  assert.equal(r.status, 200);
  assert.equal(r.body.status_code, 1000);
  assert.equal(r.body.data, 'ACCEPTED');
  const stored = await csms.ocpiModules.sessions.preferences('ocpi-jed', id);
  assert.deepEqual({ ...stored, receivedAt: undefined }, { ...prefs, receivedAt: undefined });
  // A second PUT replaces them.
  assert.equal((await ocpi(url(id), { method: 'PUT', token: JED_TOKEN, body: { profile_type: 'FAST' } })).body.data, 'ACCEPTED');
  assert.deepEqual({ ...(await csms.ocpiModules.sessions.preferences('ocpi-jed', id)), receivedAt: undefined }, { profile_type: 'FAST', receivedAt: undefined });

  for (const bad of [{ profile_type: 'SLOW' }, { profile_type: 'CHEAP', energy_need: -3 }, { departure_time: '2030-01-01T18:00:00Z' }, [1]]) {
    const b = await ocpi(url(id), { method: 'PUT', token: JED_TOKEN, body: bad });
    assert.equal(b.status, 200, JSON.stringify(bad));
    assert.equal(b.body.status_code, 2001, JSON.stringify(bad));
    assert.equal(b.body.data, undefined);
  }
  for (const sid of ['00000000-0000-0000-0000-000000000000', sessionIds.b, sessionIds.c]) {
    const u = await ocpi(url(sid), { method: 'PUT', token: JED_TOKEN, body: prefs });
    assert.equal(u.status, 404, sid);
    assert.equal(u.body.status_code, 2001);
  }
  assert.equal((await ocpi(url(sessionIds.a1), { method: 'PUT', token: JED_TOKEN, body: prefs })).body.data, 'NOT_POSSIBLE');
  assert.equal((await ocpi(url(sessionIds.b), { method: 'PUT', token: OTHER_TOKEN, body: prefs })).body.data, 'NOT_POSSIBLE', 'its own completed session');
  await cp.a.stopSession(1);
  await waitFor(() => jed.for(id).find((x) => x.body?.status === 'COMPLETED'), { what: 'COMPLETED', timeoutMs: LONG });
});

test('push failures (503, dropped connections) are retried as the latest state; the end arrives as a full PUT after recovery', async () => {
  const id = await startSession('a');
  await waitFor(() => jed.for(id).find((r) => r.method === 'PUT' && ok(r)), { what: 'PUT on start', timeoutMs: LONG });
  jed.mode = 'error';
  await waitFor(() => jed.for(id).find((r) => r.http === 503), { what: 'a failed push (503)', timeoutMs: LONG });
  jed.mode = 'drop';
  const dropsFrom = jed.for(id).length;
  await waitFor(() => jed.for(id).slice(dropsFrom).find((r) => r.http === 0), { what: 'a failed push (dropped)', timeoutMs: LONG });
  await cp.a.stopSession(1);
  await waitFor(async () => (await txRow(id)).state === 'ended', { what: 'ended in the CSMS', timeoutMs: LONG });
  await waitFor(() => jed.for(id).find((r) => r.method === 'PUT' && r.body.status === 'COMPLETED' && r.http === 0), { what: 'COMPLETED PUT tried while down', timeoutMs: LONG });
  const row = await waitFor(async () => {
    const r = await pushRow('ocpi-jed', id);
    return r?.push_error?.startsWith('PUT') ? r : undefined;
  }, { what: 'the failed COMPLETED PUT recorded' });
  assert.equal(row.pushed_status, 'ACTIVE', 'the partner has the ACTIVE state');
  const failedAttempts = jed.for(id).filter((r) => !ok(r));
  assert.ok(failedAttempts.slice(1).every((r) => r.method === 'PUT'), 'after a failed push the next one is a full PUT');

  const downUntil = jed.requests.length;
  jed.mode = 'ok';
  const delivered = await waitFor(() => jed.requests.slice(downUntil).find((r) => r.sessionId === id && ok(r)), { what: 'delivery after recovery', timeoutMs: LONG });
  assert.equal(delivered.method, 'PUT');
  assert.equal(delivered.body.status, 'COMPLETED');
  const tx = await txRow(id);
  assert.equal(delivered.body.kwh, Math.round(tx.energy_wh ?? 0) / 1000);
  assert.ok(delivered.body.charging_periods.length > 0);
  assert.deepEqual(jed.sessions.get(`NL/AMP/${id}`), delivered.body);
  const after = await waitFor(async () => {
    const r = await pushRow('ocpi-jed', id);
    return r?.pushed_status === 'COMPLETED' ? r : undefined;
  }, { what: 'ocpi_sessions COMPLETED' });
  assert.equal(after?.push_error, null);
  const n = jed.for(id).length;
  await sleep(1500);
  assert.equal(jed.for(id).length, n, 'no more pushes once COMPLETED is delivered');
  assert.equal(csms.ocpiModules.sessions.pending, 0, 'no push state left in memory');
});

test('management API: an SCSP partner carries ocpiPartnerId and sessionData', async () => {
  const body = {
    name: 'Linked SCSP',
    baseUrl: jed.url,
    tokenUrl: `${jed.url}/oauth/token`,
    clientId: 'ampline',
    clientSecret: 'secret',
    apiKey: 'api-key',
    inboundToken: 'inbound-api-linked-0123456789',
    ocpiPartnerId: 'ocpi-jed',
    sessionData: 'ocpi',
  };
  const created = await csmsAdmin(csms, 'PUT', '/api/v1/partners/api-linked', body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.ocpiPartnerId, 'ocpi-jed');
  assert.equal(created.body.sessionData, 'ocpi');
  assert.equal(created.body.clientSecret, '***');
  const got = await csmsAdmin(csms, 'GET', '/api/v1/partners/api-linked');
  assert.deepEqual([got.body.ocpiPartnerId, got.body.sessionData], ['ocpi-jed', 'ocpi']);
  // Unlinking: null; sessionData back to the default.
  const unlinked = await csmsAdmin(csms, 'PUT', '/api/v1/partners/api-linked', { ...body, ocpiPartnerId: null, sessionData: undefined, clientSecret: '***', apiKey: '***' });
  assert.equal(unlinked.status, 200, JSON.stringify(unlinked.body));
  assert.deepEqual([unlinked.body.ocpiPartnerId, unlinked.body.sessionData], [null, 'ocpp']);
  for (const bad of [{ sessionData: 'ocpi', ocpiPartnerId: null }, { sessionData: 'OCPI' }, { ocpiPartnerId: '' }, { ocpiPartnerId: 'has space' }, { ocpiPartnerId: 7 }]) {
    const r = await csmsAdmin(csms, 'PUT', '/api/v1/partners/api-linked', { ...body, ...bad });
    assert.equal(r.status, 400, `${JSON.stringify(bad)} → ${r.status} ${JSON.stringify(r.body)}`);
  }
  // The OpenAPI document declares both.
  const doc = await csmsAdmin(csms, 'GET', '/docs/openapi.json');
  assert.ok(doc.body.components.schemas.ScspPartnerInput.properties.ocpiPartnerId);
  assert.deepEqual(doc.body.components.schemas.ScspPartner.properties.sessionData.enum, ['ocpp', 'ocpi']);
  assert.equal((await csmsAdmin(csms, 'DELETE', '/api/v1/partners/api-linked')).status, 204);
});

test('a restart does not lose the end: sessions whose COMPLETED push failed are pushed again by the next process', async () => {
  const id = await startSession('a');
  await waitFor(() => jed.for(id).find((r) => r.method === 'PUT' && ok(r)), { what: 'PUT on start', timeoutMs: LONG });
  jed.mode = 'error';
  await cp.a.stopSession(1);
  await waitFor(() => jed.for(id).find((r) => r.body?.status === 'COMPLETED' && r.http === 503), { what: 'COMPLETED PUT refused', timeoutMs: LONG });
  await waitFor(async () => (await pushRow('ocpi-jed', id))?.push_error?.includes('503'), { what: 'failure recorded' });
  const dataDir = csms.dataDir;
  await csms.stop();
  const n = jed.for(id).length;
  jed.mode = 'ok';
  csms = await startTestCsms({ dataDir });
  csms.ocpiModules.sessions.configure({ updateIntervalMs: INTERVAL, retryBaseMs: 200, retryMaxMs: 800, targetCacheMs: 200 });
  await waitFor(() => csms.ocpiModules.sessions.pending > 0, { what: 'picked up from ocpi_sessions', timeoutMs: LONG });
  csms.ocpiModules.sessions.retryNow();
  const delivered = await waitFor(() => jed.for(id).slice(n).find(ok), { what: 'COMPLETED after the restart', timeoutMs: LONG });
  assert.equal(delivered.method, 'PUT');
  assert.equal(delivered.body.status, 'COMPLETED');
  assert.equal(delivered.body.kwh, Math.round((await txRow(id)).energy_wh ?? 0) / 1000);
  await waitFor(async () => (await pushRow('ocpi-jed', id))?.pushed_status === 'COMPLETED', { what: 'recorded' });
  // Sessions already COMPLETED at the partner are not picked up again.
  assert.equal(csms.ocpiModules.sessions.pending, 0);
});
