/**
 * OCPI ChargingProfiles, CPO as Receiver, end to end (protocols.md §1.7, §2.6–2.8): a foreign OCPI SCSP
 * PUTs / DELETEs / GETs on a real CSMS; simulated chargers (2.0.1 and 1.6) get the OCPP messages; the
 * asynchronous results arrive at the exact `response_url`. Assertions are on the charger's installed
 * profiles and on what the peer received.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SimChargePoint } from '../../src/sim/index.js';
import { waitFor } from '../helpers/wire.js';
import { ocpi } from './helpers.js';
import {
  type Fixture,
  JEDLIX_SEED_BODY,
  ForeignScsp,
  linkScspPartner,
  pairedStation,
  registerOcpiPartner,
  sessionRow,
  startFixture,
  startSession,
  threePhase,
} from './chargingprofiles-fixture.js';

let f: Fixture;

before(async () => {
  f = await startFixture();
  f.csms.ocpiModules.profiles.configure({ minIntervalMs: 0, ocppTimeoutMs: 3000, activeDebounceMs: 50 });
});

after(async () => {
  await f?.stop();
});

const scspProfile = (cp: SimChargePoint, evseId: number) => cp.chargingProfiles().find((p) => p.evseId === evseId && p.id === 8000 + evseId);

/** A body with the peer's response URL. */
function setBody(tag: string, cp: Record<string, unknown>): { body: Record<string, unknown>; path: string } {
  const url = f.peer.responseUrl(tag);
  return { body: { charging_profile: cp, response_url: url }, path: url.slice(f.peer.url.length) };
}

const w = (limits: number[], step = 1800) => limits.map((limit, i) => ({ start_period: i * step, limit }));

describe('PUT SetChargingProfile', () => {
  test('the Jedlix seed body verbatim: {ACCEPTED, timeout}; an Absolute TxProfile re-based to the period in force; ChargingProfileResult ACCEPTED at the exact response_url', async () => {
    const cp = await pairedStation(f, 'OCPI-SEED-201', 'ocpp2.0.1');
    const { sessionId, txId } = await startSession(f, cp, 1);
    // The seed's body, only the host of its response_url moved to the peer (same path and query).
    const seed = structuredClone(JEDLIX_SEED_BODY);
    const path = new URL(seed.response_url).pathname + new URL(seed.response_url).search;
    seed.response_url = f.peer.url + path;
    assert.equal(path, '/ocpi/2.2.1/chargingprofiles/response?request_id=123456');

    const a = await f.call('PUT', `${f.base}/${sessionId}`, seed);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.status_code, 1000);
    assert.deepEqual(a.body.data, { result: 'ACCEPTED', timeout: f.csms.ocpiModules.profiles.timeoutS });
    assert.equal(a.body.data.timeout, 3 + 30, 'OCPP call timeout (3 s in this test) + the 30 s margin');

    const result = await f.peer.result(path);
    assert.deepEqual(result.body, { result: 'ACCEPTED' });
    assert.equal(result.method, 'POST');
    assert.equal(result.authorization, `Token ${Buffer.from(f.peer.tokenForUs).toString('base64')}`);

    // 2023-10-01T12:00:00Z is long past: R4 keeps the period in force now (the last one, from 13:00,
    // 10 kW) and moves startSchedule to its start; the elapsed 22 kW and pause periods are dropped.
    const p = scspProfile(cp, 1);
    assert.ok(p, 'TxProfile installed on the charger');
    assert.equal(p.purpose, 'TxProfile');
    assert.equal(p.kind, 'Absolute');
    assert.equal(p.transactionId, txId);
    assert.equal(p.stackLevel, 1);
    assert.equal(new Date(p.schedule.startSchedule!).toISOString(), '2023-10-01T13:00:00.000Z');
    assert.equal(p.schedule.chargingRateUnit, 'W');
    assert.deepEqual(p.schedule.periods.map((x) => [x.startPeriod, x.limit]), [[0, 10000]]);
    const row = await sessionRow(f, sessionId);
    assert.equal(row?.profile_state, 'set');
    assert.ok(row?.profile_set_at && row.profile_request_at);
    assert.deepEqual((await f.csms.smart.installed('OCPI-SEED-201')).filter((r) => r.source === 'scsp').map((r) => r.profile.id), [8001]);
  });

  test('a current start_date_time (1.6 station): Absolute with that startSchedule and all three periods; the 1.6 integer transaction id', async () => {
    const cp = await pairedStation(f, 'OCPI-NOW-16', 'ocpp1.6');
    const { sessionId, txId } = await startSession(f, cp, 1);
    assert.match(txId, /^\d+$/);
    const start = new Date(Math.floor(Date.now() / 1000) * 1000);
    const { body, path } = setBody('now-16', { start_date_time: start.toISOString().replace('.000Z', 'Z'), charging_rate_unit: 'W', charging_profile_period: w([22000, 0, 10000]) });
    const a = await f.call('PUT', `${f.base}/${sessionId}`, body);
    assert.equal(a.body.data.result, 'ACCEPTED', JSON.stringify(a.body));
    assert.deepEqual((await f.peer.result(path)).body, { result: 'ACCEPTED' });
    const p = scspProfile(cp, 1)!;
    assert.equal(p.kind, 'Absolute');
    assert.equal(p.transactionId, txId);
    assert.equal(p.schedule.startSchedule, start.getTime());
    assert.deepEqual(p.schedule.periods.map((x) => [x.startPeriod, x.limit]), [[0, 22000], [1800, 0], [3600, 10000]]);
  });

  test('no start_date_time → Relative without startSchedule; duration and min_charging_rate kept', async () => {
    const cp = await pairedStation(f, 'OCPI-REL', 'ocpp2.0.1');
    const { sessionId } = await startSession(f, cp, 1);
    const { body, path } = setBody('rel', { charging_rate_unit: 'W', duration: 7200, min_charging_rate: 4140, charging_profile_period: w([11000, 7000]) });
    assert.equal((await f.call('PUT', `${f.base}/${sessionId}`, body)).body.data.result, 'ACCEPTED');
    assert.deepEqual((await f.peer.result(path)).body, { result: 'ACCEPTED' });
    const p = scspProfile(cp, 1)!;
    assert.equal(p.kind, 'Relative');
    assert.equal(p.schedule.startSchedule, undefined);
    assert.equal(p.schedule.duration, 7200);
    assert.equal(p.schedule.minChargingRate, 4140);
    assert.deepEqual(p.schedule.periods.map((x) => x.limit), [11000, 7000]);
  });

  test('W → A on a charger that only takes A (R6): 11 kW on 3 × 16 A → 15.9 A', async () => {
    const cp = await pairedStation(f, 'OCPI-AMPS', 'ocpp2.0.1', { config: { 'SmartChargingCtrlr.RateUnit': 'A' }, evses: [threePhase(1, 16)] });
    const { sessionId } = await startSession(f, cp, 1);
    // The connector's maximum as the operator recorded it (the station description the SCSP planned with).
    await f.csms.db.kysely.updateTable('connectors').set({ max_current_a: 16, phases: 3 }).where('station_id', '=', 'OCPI-AMPS').where('evse_id', '=', 1).execute();
    const { body, path } = setBody('amps', { charging_rate_unit: 'W', charging_profile_period: w([11000, 22000]) });
    assert.equal((await f.call('PUT', `${f.base}/${sessionId}`, body)).body.data.result, 'ACCEPTED');
    assert.deepEqual((await f.peer.result(path)).body, { result: 'ACCEPTED' });
    const p = scspProfile(cp, 1)!;
    assert.equal(p.schedule.chargingRateUnit, 'A');
    assert.deepEqual(p.schedule.periods.map((x) => x.limit), [15.9, 16]);
  });

  test('a second PUT replaces the first: same profile id, one profile on the EVSE', async () => {
    const cp = await pairedStation(f, 'OCPI-TWICE', 'ocpp2.0.1');
    const { sessionId } = await startSession(f, cp, 1);
    const first = setBody('twice-1', { charging_rate_unit: 'W', charging_profile_period: w([7000]) });
    assert.equal((await f.call('PUT', `${f.base}/${sessionId}`, first.body)).body.data.result, 'ACCEPTED');
    await f.peer.result(first.path);
    const second = setBody('twice-2', { charging_rate_unit: 'W', charging_profile_period: w([4200, 9000]) });
    assert.equal((await f.call('PUT', `${f.base}/${sessionId}`, second.body)).body.data.result, 'ACCEPTED');
    assert.deepEqual((await f.peer.result(second.path)).body, { result: 'ACCEPTED' });
    const mine = cp.chargingProfiles().filter((p) => p.evseId === 1);
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!.id, 8001);
    assert.deepEqual(mine[0]!.schedule.periods.map((x) => x.limit), [4200, 9000]);
    assert.deepEqual((await f.csms.smart.installed('OCPI-TWICE')).map((r) => r.profile.id), [8001]);
  });

  test('the charger answers Rejected → sync ACCEPTED, then REJECTED at the response_url; a CALLERROR → REJECTED', async () => {
    const cp = await pairedStation(f, 'OCPI-REJ', 'ocpp2.0.1');
    const { sessionId } = await startSession(f, cp, 1);
    cp.setResponder((action) => (action === 'SetChargingProfile' ? { result: { status: 'Rejected', statusInfo: { reasonCode: 'TestRejected' } } } : undefined));
    const r1 = setBody('rej', { charging_rate_unit: 'W', charging_profile_period: w([7000]) });
    assert.equal((await f.call('PUT', `${f.base}/${sessionId}`, r1.body)).body.data.result, 'ACCEPTED');
    assert.deepEqual((await f.peer.result(r1.path)).body, { result: 'REJECTED' });
    cp.setResponder((action) => (action === 'SetChargingProfile' ? { error: { code: 'NotSupported', description: 'test' } } : undefined));
    const r2 = setBody('callerror', { charging_rate_unit: 'W', charging_profile_period: w([7000]) });
    assert.equal((await f.call('PUT', `${f.base}/${sessionId}`, r2.body)).body.data.result, 'ACCEPTED');
    assert.deepEqual((await f.peer.result(r2.path)).body, { result: 'REJECTED' });
    cp.setResponder(undefined);
    assert.equal(scspProfile(cp, 1), undefined);
    assert.equal((await sessionRow(f, sessionId))?.profile_state, null, 'never set successfully');
  });

  test('the charger does not answer in time → REJECTED', async () => {
    const cp = await pairedStation(f, 'OCPI-SLOW', 'ocpp2.0.1');
    const { sessionId } = await startSession(f, cp, 1);
    f.csms.ocpiModules.profiles.configure({ ocppTimeoutMs: 500 });
    cp.setResponder((action) => (action === 'SetChargingProfile' ? 'noreply' : undefined));
    try {
      const r = setBody('slow', { charging_rate_unit: 'W', charging_profile_period: w([7000]) });
      assert.equal((await f.call('PUT', `${f.base}/${sessionId}`, r.body)).body.data.result, 'ACCEPTED');
      assert.deepEqual((await f.peer.result(r.path)).body, { result: 'REJECTED' });
    } finally {
      f.csms.ocpiModules.profiles.configure({ ocppTimeoutMs: 3000 });
      cp.setResponder(undefined);
    }
  });

  test('the charger is offline → sync REJECTED, nothing posted', async () => {
    const cp = await pairedStation(f, 'OCPI-OFF', 'ocpp2.0.1');
    const { sessionId } = await startSession(f, cp, 1);
    await cp.close();
    await waitFor(() => !f.csms.transport.get('OCPI-OFF'), { what: 'station disconnected' });
    const r = setBody('offline', { charging_rate_unit: 'W', charging_profile_period: w([7000]) });
    const a = await f.call('PUT', `${f.base}/${sessionId}`, r.body);
    assert.equal(a.body.status_code, 1000);
    assert.equal(a.body.data.result, 'REJECTED');
    await f.csms.ocpiModules.profiles.idle();
    assert.equal(f.peer.results.filter((x) => x.url === r.path).length, 0);
  });

  test('NOT_SUPPORTED when the charger says it has no smart charging (SmartChargingCtrlr.Available false)', async () => {
    const cp = await pairedStation(f, 'OCPI-NOSC', 'ocpp2.0.1');
    const { sessionId } = await startSession(f, cp, 1);
    await f.csms.db.kysely
      .insertInto('device_model')
      .values({
        station_id: 'OCPI-NOSC',
        component: 'SmartChargingCtrlr',
        component_instance: '',
        evse_id: 0,
        connector_id: 0,
        variable: 'Available',
        variable_instance: '',
        attribute_type: 'Actual',
        value: 'false',
        mutability: 'ReadOnly',
        data_type: 'boolean',
        updated_at: new Date().toISOString(),
      })
      .execute();
    const r = setBody('nosc', { charging_rate_unit: 'W', charging_profile_period: w([7000]) });
    assert.equal((await f.call('PUT', `${f.base}/${sessionId}`, r.body)).body.data.result, 'NOT_SUPPORTED');
    assert.equal(scspProfile(cp, 1), undefined);
  });

  test('a plan whose duration ended before now → sync REJECTED', async () => {
    const cp = await pairedStation(f, 'OCPI-OLD', 'ocpp2.0.1');
    const { sessionId } = await startSession(f, cp, 1);
    const r = setBody('old', { start_date_time: '2023-10-01T12:00:00Z', duration: 3600, charging_rate_unit: 'W', charging_profile_period: w([7000]) });
    assert.equal((await f.call('PUT', `${f.base}/${sessionId}`, r.body)).body.data.result, 'REJECTED');
  });

  test('malformed bodies → 2001 (HTTP 200), nothing sent', async () => {
    const cp = await pairedStation(f, 'OCPI-BAD', 'ocpp2.0.1');
    const { sessionId } = await startSession(f, cp, 1);
    const url = f.peer.responseUrl('bad');
    const bad: Array<[string, unknown]> = [
      ['empty periods', { charging_profile: { charging_rate_unit: 'W', charging_profile_period: [] }, response_url: url }],
      ['no periods', { charging_profile: { charging_rate_unit: 'W' }, response_url: url }],
      ['first period not at 0', { charging_profile: { charging_rate_unit: 'W', charging_profile_period: [{ start_period: 60, limit: 7000 }] }, response_url: url }],
      ['periods not increasing', { charging_profile: { charging_rate_unit: 'W', charging_profile_period: [{ start_period: 0, limit: 1 }, { start_period: 0, limit: 2 }] }, response_url: url }],
      ['negative limit', { charging_profile: { charging_rate_unit: 'W', charging_profile_period: [{ start_period: 0, limit: -1 }] }, response_url: url }],
      ['two decimals', { charging_profile: { charging_rate_unit: 'A', charging_profile_period: [{ start_period: 0, limit: 10.25 }] }, response_url: url }],
      ['unit kW', { charging_profile: { charging_rate_unit: 'kW', charging_profile_period: w([7]) }, response_url: url }],
      ['bad date', { charging_profile: { start_date_time: 'yesterday', charging_rate_unit: 'W', charging_profile_period: w([7000]) }, response_url: url }],
      ['no response_url', { charging_profile: { charging_rate_unit: 'W', charging_profile_period: w([7000]) } }],
      ['no charging_profile', { response_url: url }],
      ['not an object', [1, 2]],
    ];
    for (const [what, body] of bad) {
      const a = await f.call('PUT', `${f.base}/${sessionId}`, body);
      assert.equal(a.status, 200, what);
      assert.equal(a.body.status_code, 2001, `${what}: ${JSON.stringify(a.body)}`);
      assert.equal(typeof a.body.status_message, 'string');
    }
    await f.csms.ocpiModules.profiles.idle();
    assert.equal(scspProfile(cp, 1), undefined);
    assert.equal(f.peer.results.filter((x) => x.url.includes('request_id=bad')).length, 0);
  });
});

describe('UNKNOWN_SESSION and TOO_OFTEN', () => {
  test('unknown, foreign (another partner’s station, an unlinked SCSP’s station) and ended sessions → UNKNOWN_SESSION', async () => {
    // Another OCPI partner with its own SCSP pairing: its sessions are not ours to steer.
    const other = await new ForeignScsp().start();
    try {
      await registerOcpiPartner(f.csms, 'other-ocpi', other, 'OTH');
      await linkScspPartner(f.csms, 'other-scsp', 'other-ocpi', other.url);
      await linkScspPartner(f.csms, 'plain-scsp', undefined, other.url);
      const theirs = await pairedStation(f, 'OCPI-THEIRS', 'ocpp2.0.1', { partner: 'other-scsp' });
      const plain = await pairedStation(f, 'OCPI-PLAIN', 'ocpp2.0.1', { partner: 'plain-scsp' });
      const mine = await pairedStation(f, 'OCPI-ENDED', 'ocpp2.0.1');
      const s1 = await startSession(f, theirs, 1);
      const s2 = await startSession(f, plain, 1);
      const s3 = await startSession(f, mine, 1);
      await mine.stopSession(1);
      await waitFor(async () => (await f.csms.db.kysely.selectFrom('transactions').select('state').where('id', '=', s3.sessionId).executeTakeFirst())?.state === 'ended');
      const r = setBody('unknown', { charging_rate_unit: 'W', charging_profile_period: w([7000]) });
      for (const id of ['00000000-0000-0000-0000-000000000000', 'not-a-session', s1.sessionId, s2.sessionId, s3.sessionId]) {
        const a = await f.call('PUT', `${f.base}/${id}`, r.body);
        assert.equal(a.status, 200);
        assert.equal(a.body.data.result, 'UNKNOWN_SESSION', `${id}: ${JSON.stringify(a.body)}`);
        assert.equal((await f.call('DELETE', `${f.base}/${id}?response_url=${encodeURIComponent(r.body.response_url as string)}`)).body.data.result, 'UNKNOWN_SESSION');
        assert.equal((await f.call('GET', `${f.base}/${id}?duration=900&response_url=${encodeURIComponent(r.body.response_url as string)}`)).body.data.result, 'UNKNOWN_SESSION');
      }
      // The other partner may steer its own session.
      const own = await ocpiAs(other, 'PUT', `${f.base}/${s1.sessionId}`, { charging_profile: { charging_rate_unit: 'W', charging_profile_period: w([7000]) }, response_url: other.responseUrl('own') });
      assert.equal(own.body.data.result, 'ACCEPTED');
      await other.result(new URL(other.responseUrl('own')).pathname + new URL(other.responseUrl('own')).search);
      await f.csms.ocpiModules.profiles.idle();
      assert.equal(f.peer.results.filter((x) => x.url.includes('request_id=unknown')).length, 0);
    } finally {
      await other.stop();
    }
  });

  test('a burst on one session: one ACCEPTED, the rest TOO_OFTEN (per method); another session is not affected', async () => {
    const cp = await pairedStation(f, 'OCPI-BURST', 'ocpp2.0.1', { evses: [threePhase(1), threePhase(2)] });
    const a = await startSession(f, cp, 1);
    const b = await startSession(f, cp, 2);
    f.csms.ocpiModules.profiles.configure({ minIntervalMs: 5000 });
    try {
      const r = setBody('burst', { charging_rate_unit: 'W', charging_profile_period: w([7000]) });
      const answers = await Promise.all(Array.from({ length: 6 }, () => f.call('PUT', `${f.base}/${a.sessionId}`, r.body)));
      const results = answers.map((x) => x.body.data.result).sort();
      assert.deepEqual(results, ['ACCEPTED', 'TOO_OFTEN', 'TOO_OFTEN', 'TOO_OFTEN', 'TOO_OFTEN', 'TOO_OFTEN']);
      for (const x of answers) assert.equal(x.body.data.timeout, f.csms.ocpiModules.profiles.timeoutS);
      // Per method: a GET (reading the plan back) right after the PUT goes through; a second GET does not.
      const get = (tag: string) => f.call('GET', `${f.base}/${a.sessionId}?duration=900&response_url=${encodeURIComponent(f.peer.responseUrl(tag))}`);
      assert.equal((await get('burst-get-1')).body.data.result, 'ACCEPTED');
      assert.equal((await get('burst-get-2')).body.data.result, 'TOO_OFTEN');
      // A DELETE right after the PUT is honoured too (a plan just set may be withdrawn at once).
      const del = (tag: string) => f.call('DELETE', `${f.base}/${a.sessionId}?response_url=${encodeURIComponent(f.peer.responseUrl(tag))}`);
      const dels = await Promise.all([del('burst-del-1'), del('burst-del-2'), del('burst-del-3')]);
      assert.deepEqual(dels.map((x) => x.body.data.result).sort(), ['ACCEPTED', 'TOO_OFTEN', 'TOO_OFTEN']);
      // Another session is not limited by this one.
      const other = setBody('burst-other', { charging_rate_unit: 'W', charging_profile_period: w([7000]) });
      assert.equal((await f.call('PUT', `${f.base}/${b.sessionId}`, other.body)).body.data.result, 'ACCEPTED');
      await f.peer.result(other.path);
      await f.peer.result(r.path);
      await f.csms.ocpiModules.profiles.idle();
      assert.equal(f.peer.results.filter((x) => x.url === r.path).length, 1, 'one result for the one accepted request');
      assert.equal(f.peer.results.filter((x) => x.url.includes('request_id=burst-del')).length, 1, 'one clear result');
    } finally {
      f.csms.ocpiModules.profiles.configure({ minIntervalMs: 0 });
    }
  });
});

describe('DELETE and GET', () => {
  test('DELETE → ClearChargingProfile of the session’s profile; ClearProfileResult ACCEPTED, then UNKNOWN when nothing is left', async () => {
    const cp = await pairedStation(f, 'OCPI-DEL', 'ocpp2.0.1');
    const { sessionId } = await startSession(f, cp, 1);
    const set = setBody('del-set', { charging_rate_unit: 'W', charging_profile_period: w([7000]) });
    assert.equal((await f.call('PUT', `${f.base}/${sessionId}`, set.body)).body.data.result, 'ACCEPTED');
    await f.peer.result(set.path);
    assert.ok(scspProfile(cp, 1));

    const url = f.peer.responseUrl('del-1');
    const a = await f.call('DELETE', `${f.base}/${sessionId}?response_url=${encodeURIComponent(url)}`);
    assert.deepEqual(a.body.data, { result: 'ACCEPTED', timeout: f.csms.ocpiModules.profiles.timeoutS });
    assert.deepEqual((await f.peer.result(url.slice(f.peer.url.length))).body, { result: 'ACCEPTED' });
    assert.equal(scspProfile(cp, 1), undefined, 'cleared on the charger');
    assert.deepEqual(await f.csms.smart.installed('OCPI-DEL'), []);
    assert.equal((await sessionRow(f, sessionId))?.profile_state, 'cleared');

    const url2 = f.peer.responseUrl('del-2');
    assert.equal((await f.call('DELETE', `${f.base}/${sessionId}?response_url=${encodeURIComponent(url2)}`)).body.data.result, 'ACCEPTED');
    assert.deepEqual((await f.peer.result(url2.slice(f.peer.url.length))).body, { result: 'UNKNOWN' });
  });

  test('DELETE on a session never set: the result, but the session does not become profiled', async () => {
    const cp = await pairedStation(f, 'OCPI-DEL-NEVER', 'ocpp1.6');
    const { sessionId } = await startSession(f, cp, 1);
    const url = f.peer.responseUrl('del-never');
    assert.equal((await f.call('DELETE', `${f.base}/${sessionId}?response_url=${encodeURIComponent(url)}`)).body.data.result, 'ACCEPTED');
    assert.deepEqual((await f.peer.result(url.slice(f.peer.url.length))).body, { result: 'UNKNOWN' });
    assert.equal((await sessionRow(f, sessionId))?.profile_state ?? null, null);
  });

  test('GET 900 → ActiveChargingProfileResult with start_date_time = the station’s scheduleStart and its periods', async () => {
    const cp = await pairedStation(f, 'OCPI-GET', 'ocpp2.0.1');
    const { sessionId } = await startSession(f, cp, 1);
    const seen: unknown[] = [];
    cp.setResponder((action, payload) => {
      if (action !== 'GetCompositeSchedule') return undefined;
      seen.push(payload);
      return {
        result: {
          status: 'Accepted',
          schedule: {
            evseId: 1,
            duration: 900,
            scheduleStart: '2030-01-01T00:00:00.000Z',
            chargingRateUnit: 'W',
            chargingSchedulePeriod: [
              { startPeriod: 0, limit: 11000 },
              { startPeriod: 600, limit: 7000.5 },
            ],
          },
        },
      };
    });
    try {
      const url = f.peer.responseUrl('get-900');
      const a = await f.call('GET', `${f.base}/${sessionId}?duration=900&response_url=${encodeURIComponent(url)}`);
      assert.deepEqual(a.body.data, { result: 'ACCEPTED', timeout: f.csms.ocpiModules.profiles.timeoutS });
      const r = await f.peer.result(url.slice(f.peer.url.length));
      assert.deepEqual(r.body, {
        result: 'ACCEPTED',
        profile: {
          start_date_time: '2030-01-01T00:00:00Z',
          charging_profile: {
            charging_rate_unit: 'W',
            duration: 900,
            charging_profile_period: [
              { start_period: 0, limit: 11000 },
              { start_period: 600, limit: 7000.5 },
            ],
          },
        },
      });
      assert.deepEqual(seen, [{ evseId: 1, duration: 900, chargingRateUnit: 'W' }]);
      // The station refusing → REJECTED.
      cp.setResponder((action) => (action === 'GetCompositeSchedule' ? { result: { status: 'Rejected' } } : undefined));
      const url2 = f.peer.responseUrl('get-rejected');
      assert.equal((await f.call('GET', `${f.base}/${sessionId}?duration=900&response_url=${encodeURIComponent(url2)}`)).body.data.result, 'ACCEPTED');
      assert.deepEqual((await f.peer.result(url2.slice(f.peer.url.length))).body, { result: 'REJECTED' });
    } finally {
      cp.setResponder(undefined);
    }
  });

  test('GET after a PUT (1.6 charger’s own composite): the limit set, in the partner’s unit', async () => {
    const cp = await pairedStation(f, 'OCPI-GET-16', 'ocpp1.6');
    const { sessionId } = await startSession(f, cp, 1);
    const set = setBody('get16-set', { charging_rate_unit: 'W', charging_profile_period: w([7000]) });
    assert.equal((await f.call('PUT', `${f.base}/${sessionId}`, set.body)).body.data.result, 'ACCEPTED');
    await f.peer.result(set.path);
    const url = f.peer.responseUrl('get16');
    assert.equal((await f.call('GET', `${f.base}/${sessionId}?duration=900&response_url=${encodeURIComponent(url)}`)).body.data.result, 'ACCEPTED');
    const r = await f.peer.result(url.slice(f.peer.url.length));
    assert.equal(r.body.result, 'ACCEPTED', JSON.stringify(r.body));
    assert.equal(r.body.profile.charging_profile.charging_rate_unit, 'W');
    // The Relative plan starts with the transaction; a GET in the same second as the start sees the
    // EVSE maximum for the fraction of the first second before it (the station's composite is exact).
    const periods = r.body.profile.charging_profile.charging_profile_period as Array<{ start_period: number; limit: number }>;
    assert.equal(periods.at(-1)!.limit, 7000, JSON.stringify(r.body));
    assert.ok(periods.every((p) => p.limit === 7000 || p.start_period === 0), JSON.stringify(r.body));
    assert.ok(Math.abs(Date.parse(r.body.profile.start_date_time) - Date.now()) < 10_000);
  });

  test('GET / DELETE without response_url, GET without or with a bad duration → 2001', async () => {
    const cp = await pairedStation(f, 'OCPI-Q', 'ocpp2.0.1');
    const { sessionId } = await startSession(f, cp, 1);
    const url = encodeURIComponent(f.peer.responseUrl('q'));
    for (const [method, q] of [
      ['GET', '?duration=900'],
      ['GET', `?response_url=${url}`],
      ['GET', `?duration=0&response_url=${url}`],
      ['GET', `?duration=abc&response_url=${url}`],
      ['GET', ''],
      ['DELETE', ''],
      ['DELETE', '?response_url=not-a-url'],
    ] as const) {
      const a = await f.call(method, `${f.base}/${sessionId}${q}`);
      assert.equal(a.status, 200, `${method} ${q}`);
      assert.equal(a.body.status_code, 2001, `${method} ${q}: ${JSON.stringify(a.body)}`);
    }
  });

  test('the module is listed in version details as chargingprofiles RECEIVER; 401 without a token', async () => {
    const details = await f.call('GET', `${f.csms.url}/ocpi/2.2.1`);
    assert.ok(
      (details.body.data.endpoints as Array<{ identifier: string; role: string; url: string }>).some(
        (e) => e.identifier === 'chargingprofiles' && e.role === 'RECEIVER' && e.url === `${f.csms.url}/ocpi/2.2.1/chargingprofiles`,
      ),
    );
    const res = await fetch(`${f.base}/whatever`, { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 401);
  });
});

/** An OCPI call to the CSMS as another peer. */
function ocpiAs(peer: ForeignScsp, method: string, url: string, body?: unknown) {
  return ocpi(url, { method, token: peer.tokenForAmpline, ...(body !== undefined ? { body } : {}) });
}
