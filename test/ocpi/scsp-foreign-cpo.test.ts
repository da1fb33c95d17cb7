/**
 * The SCSP service's OCPI counterpart (issue 8 §5) against a foreign OCPI 2.2.1 CPO on loopback, written
 * from the spec text: it registers with the SCSP (test/ocpi/helpers.ts ForeignPeer: token A → B → C),
 * pushes Sessions in the spec's shapes (mod_sessions examples) to the SCSP's `sessions` RECEIVER, and
 * hosts a `chargingprofiles` RECEIVER (below) that answers ChargingProfileResponses and POSTs the async
 * results to the `response_url` it was given, as mod_charging_profiles describes.
 *
 * The SCSP plans with the built-in ASAP planner on a manual clock, so profiles are exact: an EV wants the
 * default 20 kWh at the EVSE maximum (seed station: 3 × 220 V × 16 A = 10 560 W).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ManualClock } from '../../src/util/clock.js';
import { waitFor } from '../helpers/wire.js';
import { CpoCaller, admin, pairStation, seedStation, startTestScsp, te201, type TestScsp } from '../scsp/helpers.js';
import { ForeignPeer, ocpi, type Answer } from './helpers.js';

const T0 = Date.parse('2025-06-02T18:00:00Z');
const clock = new ManualClock(T0);
const EVSE_MAX_W = 3 * 220 * 16;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** The OCPI role of the foreign CPO: the spec examples' party. */
const STK_ROLES = [{ role: 'CPO', party_id: 'STK', country_code: 'NL', business_details: { name: 'Example CPO' } }];

/** The spec's "Simple Session example of just starting a session" (2.2.1), at our test time. */
function specSession(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    country_code: 'NL',
    party_id: 'STK',
    id: '101',
    start_date_time: iso(T0),
    kwh: 0.0,
    cdr_token: { country_code: 'NL', party_id: 'TST', uid: '123abc', type: 'RFID', contract_id: 'NL-TST-C12345678-S' },
    auth_method: 'WHITELIST',
    location_id: 'LOC1',
    evse_uid: '3256',
    connector_id: '1',
    currency: 'EUR',
    total_cost: { excl_vat: 2.5 },
    status: 'PENDING',
    last_updated: iso(T0),
    ...over,
  };
}

// ── the foreign CPO's chargingprofiles RECEIVER ─────────────────────────────────────────────────

interface ScriptedAnswer {
  /** HTTP status (default 200). */
  http?: number;
  /** ChargingProfileResponse.result (default ACCEPTED). */
  result?: string;
  timeout?: number;
  /** The async result POSTed to response_url when ACCEPTED (default ACCEPTED; null: none). */
  async?: string | null;
}

interface Received {
  method: string;
  sessionId: string;
  body: any;
  responseUrl: string;
  query: Record<string, string>;
}

class ProfilesReceiver {
  url = '';
  app: FastifyInstance | undefined;
  readonly received: Received[] = [];
  /** Answers for the next requests, in order (then the default). */
  readonly script: ScriptedAnswer[] = [];
  /** What the SCSP answered our result POSTs. */
  readonly callbacks: Array<{ url: string; status: number; body: any }> = [];

  constructor(readonly peer: ForeignPeer) {}

  get endpoint(): string {
    return `${this.url}/ocpi/cpo/2.2.1/chargingprofiles`;
  }

  private envelope(reply: FastifyReply, http: number, statusCode: number, data?: unknown) {
    return reply.code(http).send({ ...(data !== undefined ? { data } : {}), status_code: statusCode, timestamp: new Date().toISOString() });
  }

  /** "The Receiver SHALL ... POST the result to the response_url" — authenticated with the token the SCSP gave us. */
  private postResult(url: string, body: unknown) {
    setTimeout(() => {
      void this.peer.call(url, 'POST', body).then((a: Answer) => this.callbacks.push({ url, status: a.status, body: a.body }));
    }, 5);
  }

  async start(): Promise<this> {
    const app = Fastify({ logger: false });
    const handle = async (req: FastifyRequest<{ Params: { session_id: string } }>, reply: FastifyReply) => {
      const h = req.headers.authorization;
      const token = typeof h === 'string' && h.startsWith('Token ') ? Buffer.from(h.slice(6), 'base64').toString('utf8') : undefined;
      if (!token || this.peer.accepted.get(token) !== 'full') return this.envelope(reply, 401, 2000);
      const query = req.query as Record<string, string>;
      const body = req.body as any;
      const responseUrl = req.method === 'PUT' ? body?.response_url : query.response_url;
      // "Missing duration / response_url → 2001"
      if (typeof responseUrl !== 'string' || (req.method === 'GET' && !query.duration) || (req.method === 'PUT' && !body?.charging_profile)) return this.envelope(reply, 200, 2001);
      this.received.push({ method: req.method, sessionId: req.params.session_id, body, responseUrl, query });
      const a = this.script.shift() ?? {};
      if ((a.http ?? 200) !== 200) return this.envelope(reply, a.http!, 3000);
      const result = a.result ?? 'ACCEPTED';
      if (result === 'ACCEPTED' && a.async !== null) {
        const r = a.async ?? 'ACCEPTED';
        if (req.method === 'GET') {
          this.postResult(responseUrl, {
            result: r,
            ...(r === 'ACCEPTED' ? { profile: { start_date_time: iso(clock.now().getTime()), charging_profile: { charging_rate_unit: 'W', charging_profile_period: [{ start_period: 0, limit: 7400 }] } } } : {}),
          });
        } else this.postResult(responseUrl, { result: r });
      }
      return this.envelope(reply, 200, 1000, { result, timeout: a.timeout ?? 5 });
    };
    app.put('/ocpi/cpo/2.2.1/chargingprofiles/:session_id', handle);
    app.delete('/ocpi/cpo/2.2.1/chargingprofiles/:session_id', handle);
    app.get('/ocpi/cpo/2.2.1/chargingprofiles/:session_id', handle);
    await app.listen({ host: '127.0.0.1', port: 0 });
    this.url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    this.app = app;
    return this;
  }

  for(sessionId: string): Received[] {
    return this.received.filter((r) => r.sessionId === sessionId);
  }

  async stop(): Promise<void> {
    await this.app?.close();
  }
}

// ── fixture ─────────────────────────────────────────────────────────────────────────────────────

let scsp: TestScsp;
let peer: ForeignPeer;
let profiles: ProfilesReceiver;
let caller: CpoCaller;
let sessionsUrl: string;
let profilesSenderUrl: string;

/** An SCSP partner registration by a foreign peer (token A issued by the SCSP admin). */
async function register(p: ForeignPeer, id: string): Promise<void> {
  const issued = await admin(scsp, 'POST', '/api/v1/ocpi/partners', { id });
  assert.equal(issued.status, 201, issued.text);
  const { post } = await p.registerWith(issued.body.versionsUrl, issued.body.tokenA);
  assert.equal(post.body.status_code, 1000, JSON.stringify(post.body));
}

before(async () => {
  scsp = await startTestScsp({
    deps: { clock, ocpiProfiles: { resultWaitMaxMs: 1500, resultWaitMarginMs: 100 } },
    env: { AMPLINE_SCSP_PLANNER: 'asap', AMPLINE_SCSP_SEND_MAX_ATTEMPTS: '3' },
  });
  let profilesUrl = '';
  peer = new ForeignPeer({
    roles: STK_ROLES,
    endpoints: (base, v) => [
      { identifier: 'credentials', role: 'SENDER', url: `${base}/ocpi/${v}/credentials` },
      { identifier: 'sessions', role: 'SENDER', url: `${base}/ocpi/cpo/${v}/sessions` },
      { identifier: 'chargingprofiles', role: 'RECEIVER', url: profilesUrl },
    ],
  });
  await peer.start();
  profiles = await new ProfilesReceiver(peer).start();
  profilesUrl = profiles.endpoint;
  await register(peer, 'stk');
  sessionsUrl = peer.amplineEndpoints.find((e) => e.identifier === 'sessions')!.url;
  profilesSenderUrl = peer.amplineEndpoints.find((e) => e.identifier === 'chargingprofiles')!.url;

  const r = await admin(scsp, 'POST', '/api/v1/cpos', {
    id: 'cpo-stk',
    baseUrl: 'http://127.0.0.1:9',
    cpoToken: 'cpo-token-for-the-scsp-0123456789',
    ocpiPartnerId: 'stk',
    profileRoute: 'ocpi',
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.warnings, undefined, 'a complete OCPI link has no warnings');
  caller = new CpoCaller(scsp, { cpoId: 'cpo-stk', ...r.body.credentials });
});

after(async () => {
  await scsp.idle();
  await Promise.all([scsp.destroy(), peer.stop(), profiles.stop()]);
});

const put = (s: Record<string, unknown>, path = `NL/STK/${s.id as string}`) => peer.call(`${sessionsUrl}/${path}`, 'PUT', s);
const patch = (id: string, body: unknown) => peer.call(`${sessionsUrl}/NL/STK/${id}`, 'PATCH', body);
const scspSessions = async (uid: string) => (await admin(scsp, 'GET', `/api/v1/sessions?cpoId=cpo-stk&uid=${uid}`)).body.data as any[];
const deliveries = async (uid: string) => (await admin(scsp, 'GET', `/api/v1/profile-deliveries?cpoId=cpo-stk&uid=${uid}`)).body.data as any[];
const ocpiSession = async (id: string) => (await admin(scsp, 'GET', `/api/v1/ocpi/partners/stk/sessions/NL/STK/${id}`)).body;

/** Pair a station and push an ACTIVE session on it; wait until the SCSP has planned and delivered. */
async function activeSession(uid: string, id: string, over: Record<string, unknown> = {}) {
  await pairStation(scsp, caller, uid, 'ocpp2.0.1', seedStation(uid));
  const r = await put(specSession({ id, location_id: uid, evse_uid: `${uid}*1`, status: 'ACTIVE', ...over }));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await scsp.idle();
}

// ── the tests ───────────────────────────────────────────────────────────────────────────────────

test('version details: sessions RECEIVER and chargingprofiles SENDER (with credentials)', () => {
  assert.deepEqual(
    peer.amplineEndpoints.map((e) => `${e.identifier} ${e.role}`),
    ['credentials SENDER', 'sessions RECEIVER', 'chargingprofiles SENDER'],
  );
});

test('Sessions PUT: the spec example → 201, GET gives our copy, a second PUT → 200; it becomes an SCSP session on the paired station', async () => {
  clock.set(T0);
  await pairStation(scsp, caller, 'LOC1');
  const first = await put(specSession());
  assert.equal(first.status, 201);
  assert.equal(first.body.status_code, 1000);
  assert.equal('data' in first.body, false, 'no data on a Session push');
  const got = await peer.call(`${sessionsUrl}/NL/STK/101`);
  assert.equal(got.status, 200);
  assert.deepEqual(got.body.data, specSession());
  const again = await put(specSession({ status: 'ACTIVE', last_updated: iso(T0 + 60_000) }));
  assert.equal(again.status, 200);
  assert.equal(again.body.status_code, 1000);
  await scsp.idle();
  const [s] = await scspSessions('LOC1');
  assert.equal(s.transactionId, '101');
  assert.equal(s.protocol, 'ocpi');
  assert.equal(s.evseId, 1, 'evse_uid "3256" has no "*": EVSE 1');
  assert.equal(s.state, 'active');
  assert.equal(s.startedAt, new Date(T0).toISOString());
  const view = await ocpiSession('101');
  assert.equal(view.uid, 'LOC1');
  assert.equal(view.scspSessionId, s.id);
  assert.equal(view.mapNote, null);
  // Unknown session → 404.
  const unknown = await peer.call(`${sessionsUrl}/NL/STK/nope`);
  assert.equal(unknown.status, 404);
});

test('Sessions PATCH appends charging_periods and merges kwh; power (kW → W) and SoC reach the SCSP session', async () => {
  clock.set(T0);
  await activeSession('LOC-P', 'p-1', { charging_periods: [{ start_date_time: iso(T0), dimensions: [{ type: 'ENERGY', volume: 0 }] }] });
  const p = await patch('p-1', {
    kwh: 3.2,
    charging_periods: [{ start_date_time: iso(T0 + 600_000), dimensions: [{ type: 'POWER', volume: 7.4 }, { type: 'STATE_OF_CHARGE', volume: 55 }] }],
    last_updated: iso(T0 + 900_000),
  });
  assert.equal(p.status, 200);
  assert.equal(p.body.status_code, 1000);
  const copy = (await peer.call(`${sessionsUrl}/NL/STK/p-1`)).body.data;
  assert.equal(copy.charging_periods.length, 2, 'appended, not replaced');
  assert.equal(copy.kwh, 3.2);
  assert.equal(copy.status, 'ACTIVE', 'fields not in the PATCH are kept');
  await scsp.idle();
  const [s] = await scspSessions('LOC-P');
  assert.deepEqual([s.energyWh, s.powerW, s.soc], [3200, 7400, 55]);
  // An older push changes nothing.
  const stale = await patch('p-1', { kwh: 1, last_updated: iso(T0 + 300_000) });
  assert.equal(stale.body.status_code, 1000);
  assert.match(stale.body.status_message, /ignored/);
  assert.equal((await peer.call(`${sessionsUrl}/NL/STK/p-1`)).body.data.kwh, 3.2);
});

test('Sessions: PATCH without last_updated → 2001; object id ≠ URL id → 2001; party ≠ URL → 2001; invalid body → 2001 naming the field; PATCH of an unknown session → 404', async () => {
  const noTs = await patch('101', { kwh: 1 });
  assert.deepEqual([noTs.status, noTs.body.status_code], [200, 2001]);
  assert.match(noTs.body.status_message, /last_updated/);
  const idMismatch = await put(specSession({ id: '102' }), 'NL/STK/101');
  assert.deepEqual([idMismatch.status, idMismatch.body.status_code], [200, 2001]);
  assert.match(idMismatch.body.status_message, /Session\.id '102' differs from the session_id in the URL \('101'\)/);
  const partyMismatch = await put(specSession({ party_id: 'XYZ' }));
  assert.equal(partyMismatch.body.status_code, 2001);
  assert.match(partyMismatch.body.status_message, /party_id 'XYZ' differs/);
  const notOurs = await put(specSession({ country_code: 'BE', party_id: 'BEC' }), 'BE/BEC/101');
  assert.equal(notOurs.body.status_code, 2001);
  assert.match(notOurs.body.status_message, /not a party of your credentials/);
  const bad = await put(specSession({ status: 'CHARGING' }));
  assert.equal(bad.body.status_code, 2001);
  assert.match(bad.body.status_message, /^Session\.status must be one of/);
  const unknown = await patch('never-put', { kwh: 1, last_updated: iso(T0) });
  assert.deepEqual([unknown.status, unknown.body.status_code], [404, 2001]);
  const badJson = await ocpi(`${sessionsUrl}/NL/STK/101`, { method: 'PUT', authorization: peer.header(peer.tokenForAmpline!), text: '{' });
  assert.equal(badJson.status, 400);
});

test('the SCSP plans an active session and PUTs a SetChargingProfile to the CPO; the async ACCEPTED result makes it delivered', async () => {
  clock.set(T0);
  await activeSession('LOC-A', 'a-1', { kwh: 5 });
  const [req] = profiles.for('a-1');
  assert.ok(req, 'the CPO got a profile');
  assert.equal(req.method, 'PUT');
  const needS = Math.ceil((15_000 / EVSE_MAX_W) * 3600);
  assert.deepEqual(req.body.charging_profile, {
    start_date_time: iso(T0),
    charging_rate_unit: 'W',
    charging_profile_period: [
      { start_period: 0, limit: EVSE_MAX_W },
      { start_period: needS, limit: 0 },
    ],
  });
  assert.match(req.responseUrl, new RegExp(`^${profilesSenderUrl}/results/[A-Za-z0-9_-]{20}$`));
  const [d] = await deliveries('LOC-A');
  assert.equal(d.route, 'ocpi');
  assert.equal(d.status, 'delivered', d.lastError);
  assert.equal(d.attempts, 1);
  assert.match(d.response, /ChargingProfileResult ACCEPTED/);
  await waitFor(() => profiles.callbacks.find((c) => c.url === req.responseUrl));
  const cb = profiles.callbacks.find((c) => c.url === req.responseUrl)!;
  assert.deepEqual([cb.status, cb.body.status_code, 'data' in cb.body], [200, 1000, false]);
  const view = await ocpiSession('a-1');
  assert.equal(view.profileState, 'set');
  assert.deepEqual(view.profile, req.body.charging_profile);
  // A PATCH that changes nothing for the plan sends nothing new.
  await patch('a-1', { kwh: 5, last_updated: iso(T0 + 1000) });
  await scsp.idle();
  assert.equal(profiles.for('a-1').length, 1);
});

test('a REJECTED ChargingProfileResult → the delivery failed (not retried)', async () => {
  clock.set(T0);
  profiles.script.push({ async: 'REJECTED' });
  await activeSession('LOC-R', 'r-1');
  const [d] = await deliveries('LOC-R');
  assert.equal(d.status, 'failed');
  assert.equal(d.attempts, 1);
  assert.match(d.lastError, /ChargingProfileResult REJECTED/);
  assert.equal((await ocpiSession('r-1')).profileState, 'rejected');
  // A sync refusal too.
  profiles.script.push({ result: 'NOT_SUPPORTED' });
  await activeSession('LOC-R2', 'r-2');
  const [d2] = await deliveries('LOC-R2');
  assert.equal(d2.status, 'failed');
  assert.match(d2.lastError, /NOT_SUPPORTED/);
});

test('TOO_OFTEN and a CPO 5xx are retried; the retry delivers', async () => {
  clock.set(T0);
  profiles.script.push({ result: 'TOO_OFTEN' }, { http: 503 });
  await activeSession('LOC-T', 't-1');
  const [d] = await deliveries('LOC-T');
  assert.equal(d.status, 'delivered', d.lastError);
  assert.equal(d.attempts, 3);
  assert.equal(profiles.for('t-1').length, 3);
  // No async result in time → retried as well (bounded wait: 1.5 s in this test).
  profiles.script.push({ async: null, timeout: 0 });
  await activeSession('LOC-T2', 't-2');
  const [d2] = await deliveries('LOC-T2');
  assert.equal(d2.status, 'delivered');
  assert.equal(d2.attempts, 2);
});

test('two sessions on one station: each gets its own profile, together the station plan', async () => {
  clock.set(T0);
  await pairStation(scsp, caller, 'LOC-2E', 'ocpp2.0.1', seedStation('LOC-2E', 2));
  await put(specSession({ id: 'm-1', location_id: 'LOC-2E', evse_uid: 'LOC-2E*1', status: 'ACTIVE', kwh: 10 }));
  await put(specSession({ id: 'm-2', location_id: 'LOC-2E', evse_uid: 'LOC-2E*2', status: 'ACTIVE', kwh: 0 }));
  await scsp.idle();
  const last = (id: string) => profiles.for(id).at(-1)!.body.charging_profile.charging_profile_period;
  assert.deepEqual(last('m-1'), [
    { start_period: 0, limit: EVSE_MAX_W },
    { start_period: Math.ceil((10_000 / EVSE_MAX_W) * 3600), limit: 0 },
  ]);
  assert.deepEqual(last('m-2'), [
    { start_period: 0, limit: EVSE_MAX_W },
    { start_period: Math.ceil((20_000 / EVSE_MAX_W) * 3600), limit: 0 },
  ]);
  const [d] = await deliveries('LOC-2E');
  assert.equal(d.status, 'delivered');
  assert.deepEqual(
    d.request.sessions.map((s: any) => s.evseId),
    [1, 2],
  );
});

test('the CPO PUTs an ActiveChargingProfile: accepted (no data) and stored with the session; invalid or unknown → 2001', async () => {
  const active = { start_date_time: iso(T0 + 60_000), charging_profile: { charging_rate_unit: 'W', charging_profile_period: [{ start_period: 0, limit: 3700 }] } };
  const r = await peer.call(`${profilesSenderUrl}/a-1`, 'PUT', active);
  assert.deepEqual([r.status, r.body.status_code, 'data' in r.body], [200, 1000, false]);
  const view = await ocpiSession('a-1');
  assert.deepEqual(view.activeProfile, active);
  assert.ok(view.activeProfileAt);
  const invalid = await peer.call(`${profilesSenderUrl}/a-1`, 'PUT', { charging_profile: active.charging_profile });
  assert.equal(invalid.body.status_code, 2001);
  assert.match(invalid.body.status_message, /start_date_time is required/);
  const unknown = await peer.call(`${profilesSenderUrl}/no-such-session`, 'PUT', active);
  assert.equal(unknown.body.status_code, 2001);
});

test('a result for an unknown request id is refused (2001); a repeated result is answered 1000 and changes nothing', async () => {
  const r = await peer.call(`${profilesSenderUrl}/results/unknown-request-id`, 'POST', { result: 'ACCEPTED' });
  assert.deepEqual([r.status, r.body.status_code], [200, 2001]);
  assert.match(r.body.status_message, /Unknown request id/);
  const known = profiles.for('a-1')[0]!.responseUrl;
  const again = await peer.call(known, 'POST', { result: 'REJECTED' });
  assert.equal(again.body.status_code, 1000);
  assert.equal((await ocpiSession('a-1')).profileState, 'set');
  const bad = await peer.call(known, 'POST', { result: 'MAYBE' });
  assert.equal(bad.body.status_code, 2001);
});

test('the CPO session COMPLETED ends the SCSP session; nothing is cleared at the CPO', async () => {
  clock.set(T0);
  await activeSession('LOC-C', 'c-1');
  const before = profiles.received.length;
  const r = await put(specSession({ id: 'c-1', location_id: 'LOC-C', evse_uid: 'LOC-C*1', status: 'COMPLETED', kwh: 12.5, end_date_time: iso(T0 + 3_600_000), last_updated: iso(T0 + 3_600_000) }));
  assert.equal(r.status, 200);
  await scsp.idle();
  const [s] = await scspSessions('LOC-C');
  assert.deepEqual([s.state, s.stoppedReason, s.energyWh, s.endedAt], ['ended', 'OCPI COMPLETED', 12_500, new Date(T0 + 3_600_000).toISOString()]);
  assert.equal(profiles.received.length, before, 'no DELETE, no new PUT');
});

test('preferences smartCharging: false → the SCSP stops steering: DELETE with a response_url, ClearProfileResult ACCEPTED → cleared', async () => {
  clock.set(T0);
  await activeSession('LOC-D', 'd-1');
  assert.equal((await ocpiSession('d-1')).profileState, 'set');
  const pref = await admin(scsp, 'PUT', '/api/v1/cpos/cpo-stk/stations/LOC-D/preferences', { smartCharging: false });
  assert.equal(pref.status, 200, pref.text);
  await scsp.idle();
  const del = await waitFor(() => profiles.for('d-1').find((x) => x.method === 'DELETE'));
  assert.match(del.responseUrl, new RegExp(`^${profilesSenderUrl}/results/`));
  await scsp.idle();
  await waitFor(async () => (await ocpiSession('d-1')).profileState === 'cleared');
  assert.equal(profiles.for('d-1').filter((x) => x.method === 'DELETE').length, 1, 'cleared once');
});

test('the operator unpairs a station: its profiles are DELETEd first (OCPI has no unpair that clears them)', async () => {
  clock.set(T0);
  await activeSession('LOC-U', 'u-1');
  const r = await admin(scsp, 'DELETE', '/api/v1/cpos/cpo-stk/stations/LOC-U?force=true');
  assert.equal(r.status, 200, r.text);
  assert.ok(profiles.for('u-1').some((x) => x.method === 'DELETE'));
});

test('GET ActiveChargingProfile through the admin API: OCPI GET with duration and response_url; the result is stored', async () => {
  const r = await admin(scsp, 'POST', '/api/v1/ocpi/partners/stk/sessions/NL/STK/a-1/active-profile?duration=900');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.outcome.kind, 'delivered');
  assert.equal(r.body.profile.charging_profile.charging_profile_period[0].limit, 7400);
  const get = profiles.for('a-1').find((x) => x.method === 'GET')!;
  assert.equal(get.query.duration, '900');
  assert.equal((await ocpiSession('a-1')).activeProfile.charging_profile.charging_profile_period[0].limit, 7400);
});

test('a location that is no paired station: stored (201), not planned, note says why', async () => {
  const r = await put(specSession({ id: 'x-1', location_id: 'NOT-PAIRED', status: 'ACTIVE' }));
  assert.equal(r.status, 201);
  const view = await ocpiSession('x-1');
  assert.match(view.mapNote, /not a station of CPO 'cpo-stk' paired with this SCSP/);
  assert.equal(view.scspSessionId, null);
  assert.equal((await scspSessions('NOT-PAIRED')).length, 0);
});

test('auth: no token / unknown token / a token A → 401 (core); an OCPI partner no CPO names → 2000 with a clear message', async () => {
  const url = `${sessionsUrl}/NL/STK/101`;
  assert.equal((await ocpi(url, { method: 'PUT', body: specSession() })).status, 401);
  assert.equal((await ocpi(url, { method: 'PUT', token: 'not-a-token', body: specSession() })).status, 401);
  const a = await admin(scsp, 'POST', '/api/v1/ocpi/partners', { id: 'pending-peer' });
  assert.equal((await ocpi(url, { method: 'PUT', token: a.body.tokenA, body: specSession() })).status, 401);

  const stranger = await new ForeignPeer({ roles: STK_ROLES }).start();
  try {
    await register(stranger, 'stranger');
    const r = await stranger.call(url, 'PUT', specSession());
    assert.deepEqual([r.status, r.body.status_code], [200, 2000]);
    assert.match(r.body.status_message, /OCPI partner 'stranger' is not linked to a CPO of this SCSP/);
  } finally {
    await stranger.stop();
  }
});

test('a CPO whose OCPI platform has no chargingprofiles RECEIVER: registered anyway, warned, deliveries fail with a clear message', async () => {
  clock.set(T0);
  const bare = await new ForeignPeer({ roles: [{ role: 'CPO', party_id: 'BAR', country_code: 'NL', business_details: { name: 'Bare CPO' } }] }).start();
  try {
    await register(bare, 'bare');
    const r = await admin(scsp, 'POST', '/api/v1/cpos', { id: 'cpo-bare', baseUrl: 'http://127.0.0.1:9', cpoToken: 'cpo-token-for-the-scsp-0123456789', ocpiPartnerId: 'bare', profileRoute: 'ocpi' });
    assert.equal(r.status, 201);
    assert.ok(r.body.warnings.some((w: string) => /no chargingprofiles RECEIVER endpoint: the ocpi profile route cannot deliver/.test(w)));
    const bareCaller = new CpoCaller(scsp, { cpoId: 'cpo-bare', ...r.body.credentials });
    await pairStation(scsp, bareCaller, 'BARE-1');
    const pushUrl = bare.amplineEndpoints.find((e) => e.identifier === 'sessions')!.url;
    const pushed = await bare.call(`${pushUrl}/NL/BAR/b-1`, 'PUT', specSession({ party_id: 'BAR', id: 'b-1', location_id: 'BARE-1', status: 'ACTIVE' }));
    assert.equal(pushed.status, 201);
    await scsp.idle();
    const [d] = (await admin(scsp, 'GET', '/api/v1/profile-deliveries?cpoId=cpo-bare')).body.data;
    assert.equal(d.status, 'failed');
    assert.match(d.lastError, /lists no chargingprofiles RECEIVER endpoint/);
  } finally {
    await bare.stop();
  }
});

test('one charging session fed twice (OCPP-format events and OCPI Sessions): one SCSP session; the OCPI route addresses the OCPI session', async () => {
  clock.set(T0);
  // OCPP-format first, then OCPI.
  await pairStation(scsp, caller, 'LOC-W');
  const ev = await caller.event('LOC-W', 'ocpp2.0.1', 'TransactionEvent', te201({ eventType: 'Started', tx: 'ocpp-tx-w', seqNo: 0, at: T0, evse: 1, chargingState: 'Charging', energyWh: 0 }));
  assert.equal(ev.status, 200, ev.text);
  await scsp.idle();
  const pushed = await put(specSession({ id: 'w-1', location_id: 'LOC-W', evse_uid: 'LOC-W*1', status: 'ACTIVE', start_date_time: iso(T0 + 5000), last_updated: iso(T0 + 6000) }));
  assert.equal(pushed.status, 201);
  await scsp.idle();
  const list = await scspSessions('LOC-W');
  assert.deepEqual(
    list.map((x) => [x.protocol, x.transactionId, x.state]),
    [['ocpp2.0.1', 'ocpp-tx-w', 'active']],
  );
  const view = await ocpiSession('w-1');
  assert.equal(view.scspSessionId, list[0].id);
  assert.match(view.mapNote, /fed over the OCPP-format route/);
  assert.equal(profiles.for('w-1').at(-1)!.method, 'PUT', 'the profile went to the OCPI session');
  assert.equal((await deliveries('LOC-W'))[0].status, 'delivered');

  // OCPI first, then OCPP-format: the OCPP-format session wins, the OCPI-fed one ends as a twin.
  await pairStation(scsp, caller, 'LOC-V');
  await put(specSession({ id: 'v-1', location_id: 'LOC-V', evse_uid: 'LOC-V*1', status: 'ACTIVE', last_updated: iso(T0 + 1000) }));
  await scsp.idle();
  await caller.event('LOC-V', 'ocpp2.0.1', 'TransactionEvent', te201({ eventType: 'Started', tx: 'ocpp-tx-v', seqNo: 0, at: T0 + 2000, evse: 1, chargingState: 'Charging', energyWh: 0 }));
  await patch('v-1', { kwh: 1, last_updated: iso(T0 + 60_000) });
  await scsp.idle();
  const v = await scspSessions('LOC-V');
  assert.deepEqual(
    v.map((x) => [x.protocol, x.state, x.stoppedReason]).sort(),
    [
      ['ocpi', 'ended', 'Twin'],
      ['ocpp2.0.1', 'active', null],
    ],
  );
  assert.equal((await ocpiSession('v-1')).scspSessionId, v.find((x) => x.protocol === 'ocpp2.0.1').id);
});

test('CPO records: profileRoute ocpi needs ocpiPartnerId; one OCPI partner per CPO; an unknown partner is a warning, not a refusal', async () => {
  const base = { baseUrl: 'http://127.0.0.1:9', cpoToken: 'cpo-token-for-the-scsp-0123456789' };
  const noLink = await admin(scsp, 'POST', '/api/v1/cpos', { id: 'cpo-x', ...base, profileRoute: 'ocpi' });
  assert.equal(noLink.status, 400);
  assert.match(noLink.body.message, /"ocpi" needs ocpiPartnerId/);
  const taken = await admin(scsp, 'POST', '/api/v1/cpos', { id: 'cpo-y', ...base, ocpiPartnerId: 'stk' });
  assert.equal(taken.status, 400);
  assert.match(taken.body.message, /linked to CPO "cpo-stk"/);
  const later = await admin(scsp, 'POST', '/api/v1/cpos', { id: 'cpo-z', ...base, ocpiPartnerId: 'registers-later' });
  assert.equal(later.status, 201);
  assert.equal(later.body.cpo.profileRoute, 'ocpp-format');
  assert.match(later.body.warnings[0], /does not exist \(yet\)/);
  const badRoute = await admin(scsp, 'POST', '/api/v1/cpos', { id: 'cpo-w', ...base, profileRoute: 'smtp' });
  assert.match(badRoute.body.message, /profileRoute must be one of ocpp-format, ocpi/);
});
