/**
 * The SCSP's OCPI pieces that need no network: Session / ChargingProfile validation with its messages,
 * OCPI Session → SessionEvents, PATCH merging, station and EVSE matching, and plans → ChargingProfile
 * bodies (one per session, adding up to the station schedule).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  OcpiValidationError,
  parseChargingProfileResponse,
  validateActiveChargingProfile,
  validateChargingProfile,
  validateProfileResult,
  validateSession,
  validateSessionPatch,
  type OcpiSession,
} from '../../src/ocpi/objects.js';
import { amplineLocationId, chargingProfileOf, evseIdOf, matchStation, mergePatch, readingOf, sessionEvents } from '../../src/ocpi/scsp/mapping.js';
import { OcpiProfileSender } from '../../src/ocpi/scsp/profile-sender.js';
import { ResultWaiters } from '../../src/ocpi/scsp/chargingprofiles.js';
import { sumSchedules, valueAt, type PowerSchedule } from '../../src/scsp/planner.js';
import { silentLogger } from '../../src/util/log.js';
import { ManualClock } from '../../src/util/clock.js';
import type { Cpo } from '../../src/scsp/cpos.js';
import type { ChargingStation } from '../../src/scsp/charging-station.js';

/** The spec's "Simple Session example of just starting a session" (mod_sessions, 2.2.1). */
const SPEC_SESSION = {
  country_code: 'NL',
  party_id: 'STK',
  id: '101',
  start_date_time: '2020-03-09T10:17:09Z',
  kwh: 0.0,
  cdr_token: { country_code: 'NL', party_id: 'TST', uid: '123abc', type: 'RFID', contract_id: 'NL-TST-C12345678-S' },
  auth_method: 'WHITELIST',
  location_id: 'LOC1',
  evse_uid: '3256',
  connector_id: '1',
  currency: 'EUR',
  total_cost: { excl_vat: 2.5 },
  status: 'PENDING',
  last_updated: '2020-03-09T10:17:09Z',
};

const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof OcpiValidationError, `expected a validation error, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected a validation error');
};

test('validateSession: the spec example passes; a 2.2 CdrToken without country_code/party_id passes; extensions are kept', () => {
  assert.equal(validateSession(SPEC_SESSION).id, '101');
  const v22 = { ...SPEC_SESSION, cdr_token: { uid: '123abc', type: 'RFID', contract_id: 'NL-TST-C12345678-S' }, x_vendor: { a: 1 } };
  assert.deepEqual(validateSession(v22).x_vendor, { a: 1 });
  // The d2 DateTime forms: fractions, no designator.
  assert.ok(validateSession({ ...SPEC_SESSION, last_updated: '2016-12-29T17:45:09.2', start_date_time: '2018-01-01T01:08:01.123Z' }));
});

test('validateSession: every refusal names the field', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ kwh: undefined }, /^Session\.kwh is required/],
    [{ kwh: -1 }, /^Session\.kwh must be a number ≥ 0/],
    [{ status: 'active' }, /^Session\.status must be one of ACTIVE, COMPLETED, INVALID, PENDING, RESERVATION \(got "active"\)/],
    [{ id: 'x'.repeat(37) }, /^Session\.id must be a CiString\(36\)/],
    [{ country_code: 'NLD' }, /^Session\.country_code must be an ISO-3166/],
    [{ party_id: 'ST' }, /^Session\.party_id must be a party id/],
    [{ start_date_time: '09-03-2020 10:17' }, /^Session\.start_date_time must be an OCPI DateTime/],
    [{ last_updated: null }, /^Session\.last_updated is required/],
    [{ cdr_token: { uid: 'a', type: 'CARD', contract_id: 'c' } }, /^Session\.cdr_token\.type must be one of AD_HOC_USER, APP_USER, OTHER, RFID/],
    [{ cdr_token: 'abc' }, /^Session\.cdr_token must be an object/],
    [{ auth_method: 'NONE' }, /^Session\.auth_method must be one of/],
    [{ currency: 'EURO' }, /^Session\.currency must be an ISO 4217/],
    [{ charging_periods: [{ start_date_time: '2020-03-09T10:17:09Z', dimensions: [] }] }, /^Session\.charging_periods\[0\]\.dimensions must have at least 1/],
    [{ charging_periods: [{ start_date_time: '2020-03-09T10:17:09Z', dimensions: [{ type: 'WATTS', volume: 1 }] }] }, /^Session\.charging_periods\[0\]\.dimensions\[0\]\.type must be one of CURRENT,/],
    [{ total_cost: { incl_vat: 3 } }, /^Session\.total_cost\.excl_vat is required/],
  ];
  for (const [change, re] of cases) {
    const body: Record<string, unknown> = { ...SPEC_SESSION, ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete body[k];
    assert.match(refusal(() => validateSession(body)), re, JSON.stringify(change));
  }
  assert.match(refusal(() => validateSession([SPEC_SESSION])), /^Session must be a JSON object/);
});

test('validateSessionPatch: last_updated required; present fields checked; required fields cannot be nulled', () => {
  assert.match(refusal(() => validateSessionPatch({ kwh: 3 })), /last_updated is required: every PATCH must contain last_updated/);
  assert.match(refusal(() => validateSessionPatch({ kwh: 'x', last_updated: '2020-03-09T10:20:00Z' })), /^Session PATCH\.kwh must be a number/);
  assert.match(refusal(() => validateSessionPatch({ status: null, last_updated: '2020-03-09T10:20:00Z' })), /^Session PATCH\.status cannot be null/);
  assert.deepEqual(validateSessionPatch({ kwh: 3, last_updated: '2020-03-09T10:20:00Z' }), { kwh: 3, last_updated: '2020-03-09T10:20:00Z' });
});

test('mergePatch: charging_periods are appended (an identical repeat is skipped), other fields replace, null removes', () => {
  const p1 = { start_date_time: '2020-03-09T10:17:09Z', dimensions: [{ type: 'ENERGY', volume: 1.5 }] };
  const p2 = { start_date_time: '2020-03-09T10:30:00Z', dimensions: [{ type: 'POWER', volume: 7.4 }] };
  const stored = validateSession({ ...SPEC_SESSION, status: 'ACTIVE', charging_periods: [p1], end_date_time: '2020-03-09T11:00:00Z' });
  const merged = mergePatch(stored, { kwh: 2.1, charging_periods: [p1, p2], end_date_time: null, last_updated: '2020-03-09T10:31:00Z' });
  assert.deepEqual(merged.charging_periods, [p1, p2]);
  assert.equal(merged.kwh, 2.1);
  assert.equal(merged.last_updated, '2020-03-09T10:31:00Z');
  assert.equal('end_date_time' in merged, false);
  assert.equal(merged.location_id, 'LOC1', 'fields not in the PATCH are kept');
});

test('sessionEvents: ACTIVE → Started at start_date_time + Updated at last_updated with kWh→Wh, last period POWER kW→W, newest SoC', () => {
  const s = validateSession({
    ...SPEC_SESSION,
    status: 'ACTIVE',
    kwh: 3.25,
    last_updated: '2020-03-09T10:40:00Z',
    charging_periods: [
      { start_date_time: '2020-03-09T10:17:09Z', dimensions: [{ type: 'POWER', volume: 11 }, { type: 'STATE_OF_CHARGE', volume: 40 }] },
      { start_date_time: '2020-03-09T10:30:00Z', dimensions: [{ type: 'POWER', volume: 7.4 }, { type: 'ENERGY', volume: 3.25 }] },
    ],
  });
  assert.deepEqual(sessionEvents(s, { first: true, evseId: 2 }), [
    { kind: 'transaction', transactionId: '101', evseId: 2, meterStartWh: 0, eventType: 'Started', timestamp: '2020-03-09T10:17:09.000Z' },
    {
      kind: 'transaction',
      transactionId: '101',
      evseId: 2,
      meterStartWh: 0,
      eventType: 'Updated',
      timestamp: '2020-03-09T10:40:00.000Z',
      meter: { timestamp: '2020-03-09T10:40:00.000Z', energyWh: 3250, powerW: 7400, soc: 40 },
    },
  ]);
  // Not the first copy: Updated; a last period without POWER gives no power (an older one is stale).
  const later = mergePatch(s, { charging_periods: [{ start_date_time: '2020-03-09T10:45:00Z', dimensions: [{ type: 'ENERGY', volume: 4 }] }], last_updated: '2020-03-09T10:50:00Z' });
  const ev = sessionEvents(later, { first: false, evseId: 2 });
  assert.equal(ev[0]!.kind === 'transaction' && ev[0]!.eventType, 'Updated');
  assert.deepEqual(readingOf(later), { timestamp: '2020-03-09T10:50:00.000Z', energyWh: 3250, soc: 40 });
});

test('sessionEvents: COMPLETED / INVALID end the session; RESERVATION gives nothing; PENDING starts it', () => {
  const done = validateSession({ ...SPEC_SESSION, status: 'COMPLETED', kwh: 41.12, end_date_time: '2020-03-09T11:50:16Z', last_updated: '2020-03-09T11:50:17Z' });
  const ev = sessionEvents(done, { first: false, evseId: 1 });
  assert.equal(ev.length, 3);
  assert.deepEqual(ev[2], {
    kind: 'transaction',
    transactionId: '101',
    evseId: 1,
    meterStartWh: 0,
    eventType: 'Ended',
    timestamp: '2020-03-09T11:50:16.000Z',
    stoppedReason: 'OCPI COMPLETED',
    meterStopWh: 41120,
  });
  const invalid = sessionEvents(validateSession({ ...SPEC_SESSION, status: 'INVALID' }), { first: true, evseId: 1 });
  assert.equal(invalid.at(-1)!.kind === 'transaction' && (invalid.at(-1) as { stoppedReason?: string }).stoppedReason, 'OCPI INVALID');
  assert.deepEqual(sessionEvents(validateSession({ ...SPEC_SESSION, status: 'RESERVATION' }), { first: true, evseId: 1 }), []);
  assert.equal(sessionEvents(validateSession(SPEC_SESSION), { first: true, evseId: 1 }).length, 2);
});

test('evseIdOf: the integer after the last "*", the Ampline hash form, else 1', () => {
  assert.equal(evseIdOf('LOC1*2'), 2);
  assert.equal(evseIdOf('NL*STK*E*LOC1*12'), 12);
  assert.equal(evseIdOf('3256'), 1, 'the spec example: no "*"');
  assert.equal(evseIdOf('LOC1*0'), 1);
  assert.equal(evseIdOf('LOC1*'), 1);
  const uid = 'a-station-id-that-is-far-longer-than-thirty-six-characters';
  const station: ChargingStation = { uid, evses: [1, 2, 3].map((e) => ({ evse_id: e, capabilities: [], connectors: [{ id: '1', power_type: 'AC_3_PHASE', max_voltage: 230, max_amperage: 16 }] })) };
  const hashed = 'E' + createHash('sha256').update(`${uid}*3`).digest('hex').slice(0, 35);
  assert.equal(evseIdOf(hashed, { uid, chargingStation: station }), 3);
  assert.equal(evseIdOf(hashed), 1);
});

test('matchStation: the uid, case-insensitively, or the Ampline hash form of a long uid', () => {
  const long = 'a-station-id-that-is-far-longer-than-thirty-six-characters';
  const uids = ['LOC1', 'cp-7', long];
  assert.equal(matchStation('LOC1', uids), 'LOC1');
  assert.equal(matchStation('CP-7', uids), 'cp-7');
  assert.equal(amplineLocationId('LOC1'), 'LOC1');
  assert.match(amplineLocationId(long), /^S[0-9a-f]{35}$/);
  assert.equal(matchStation(amplineLocationId(long), uids), long);
  assert.equal(matchStation('LOC2', uids), undefined);
});

test('chargingProfileOf: the Jedlix shape (protocols.md §1.7) — W, absolute start_date_time, periods; no duration, no min_charging_rate', () => {
  const t0 = Date.parse('2023-10-01T12:00:00Z');
  const plan: PowerSchedule = [
    { start: new Date(t0 + 400), powerW: 22000 },
    { start: new Date(t0 + 1800_000), powerW: 0 },
    { start: new Date(t0 + 3600_000), powerW: 10000.9 },
  ];
  const p = chargingProfileOf(plan);
  assert.deepEqual(p, {
    start_date_time: '2023-10-01T12:00:00Z',
    charging_rate_unit: 'W',
    charging_profile_period: [
      { start_period: 0, limit: 22000 },
      { start_period: 1800, limit: 0 },
      { start_period: 3600, limit: 10000 },
    ],
  });
  assert.deepEqual(validateChargingProfile(p), p);
});

test('the ocpi route: one SetChargingProfile per session, adding up to the station schedule at every instant', () => {
  const now = new Date('2025-06-02T18:00:00Z');
  const t = (s: number) => new Date(now.getTime() + s * 1000);
  const a: PowerSchedule = [
    { start: now, powerW: 7400 },
    { start: t(3600), powerW: 0 },
  ];
  const b: PowerSchedule = [
    { start: now, powerW: 3700 },
    { start: t(1800), powerW: 11000 },
    { start: t(7200), powerW: 0 },
  ];
  const sender = new OcpiProfileSender({ node: () => assert.fail('no network in prepare'), store: {} as never, waiters: new ResultWaiters(), clock: new ManualClock(now), log: silentLogger() });
  const cpo = { id: 'c', profileRoute: 'ocpi', ocpiPartnerId: 'p' } as Cpo;
  const station = sumSchedules([a, b], now);
  const req = sender.prepare(
    {
      cpo,
      uid: 'S1',
      payloadProtocol: 'ocpp2.0.1',
      sessions: [
        { id: 'sa', evseId: 1, transactionId: 'ocpi-a', protocol: 'ocpi', schedule: a },
        { id: 'sb', evseId: 2, transactionId: 'ocpi-b', protocol: 'ocpi', schedule: b },
      ],
    },
    station,
  );
  assert.deepEqual(
    req.sessions.map((s) => [s.scspSessionId, s.evseId, s.charging_profile.charging_profile_period]),
    [
      ['sa', 1, [{ start_period: 0, limit: 7400 }, { start_period: 3600, limit: 0 }]],
      ['sb', 2, [{ start_period: 0, limit: 3700 }, { start_period: 1800, limit: 11000 }, { start_period: 7200, limit: 0 }]],
    ],
  );
  const limitAt = (periods: Array<{ start_period: number; limit: number }>, s: number) => periods.filter((p) => p.start_period <= s).at(-1)!.limit;
  for (const s of [0, 900, 1800, 3599, 3600, 5000, 7200, 9000]) {
    const sum = req.sessions.reduce((acc, x) => acc + limitAt(x.charging_profile.charging_profile_period!, s), 0);
    assert.equal(sum, valueAt(station, now.getTime() + s * 1000), `at +${s} s`);
  }
  assert.throws(() => sender.prepare({ cpo, uid: 'S1', payloadProtocol: 'ocpp2.0.1' }, station), /per-session schedules/);
});

test('ChargingProfile rules: periods from 0, increasing, ≤ 1 decimal; ActiveChargingProfile; results; the sync response', () => {
  const ok = { charging_rate_unit: 'A', charging_profile_period: [{ start_period: 0, limit: 16 }, { start_period: 60, limit: 6.5 }] };
  assert.ok(validateChargingProfile(ok));
  assert.match(refusal(() => validateChargingProfile({ ...ok, charging_profile_period: [{ start_period: 5, limit: 1 }] })), /charging_profile_period\[0\]\.start_period must be 0/);
  assert.match(refusal(() => validateChargingProfile({ ...ok, charging_profile_period: [{ start_period: 0, limit: 1 }, { start_period: 0, limit: 2 }] })), /\[1\]\.start_period must be greater/);
  assert.match(refusal(() => validateChargingProfile({ ...ok, charging_profile_period: [{ start_period: 0, limit: 1.25 }] })), /limit must have at most one decimal/);
  assert.match(refusal(() => validateChargingProfile({ charging_rate_unit: 'kW' })), /charging_rate_unit must be one of W, A/);
  assert.ok(validateActiveChargingProfile({ start_date_time: '2023-10-01T12:00:00Z', charging_profile: ok }));
  assert.match(refusal(() => validateActiveChargingProfile({ charging_profile: ok })), /^ActiveChargingProfile\.start_date_time is required/);
  assert.deepEqual(validateProfileResult({ result: 'ACCEPTED' }, 'ChargingProfileResult'), { result: 'ACCEPTED' });
  assert.match(refusal(() => validateProfileResult({ result: 'accepted' }, 'ClearProfileResult')), /^ClearProfileResult\.result must be one of ACCEPTED, REJECTED, UNKNOWN/);
  assert.deepEqual(parseChargingProfileResponse({ result: 'TOO_OFTEN', timeout: 30 }), { result: 'TOO_OFTEN', timeout: 30 });
  assert.ok(Number.isNaN(parseChargingProfileResponse({ result: 'ACCEPTED' })!.timeout), 'a missing timeout is left to the caller');
  assert.equal(parseChargingProfileResponse({ result: 'OK', timeout: 1 }), undefined);
});

test('ResultWaiters: a result that arrives before wait() is not lost; timeouts and aborts resolve', async () => {
  const w = new ResultWaiters();
  const early = w.expect('r1');
  w.notify('r1', { result: 'ACCEPTED', body: { result: 'ACCEPTED' } });
  assert.deepEqual(await early.wait(1000), { result: 'ACCEPTED', body: { result: 'ACCEPTED' } });
  assert.deepEqual(await w.expect('r2').wait(5), { timeout: true });
  const ac = new AbortController();
  const pending = w.expect('r3').wait(10_000, ac.signal);
  ac.abort();
  assert.deepEqual(await pending, { aborted: true });
  assert.equal(w.size, 0);
});

test('OcpiSession type: the validated spec example reads as one', () => {
  const s: OcpiSession = validateSession(SPEC_SESSION);
  assert.equal(s.cdr_token.contract_id, 'NL-TST-C12345678-S');
});
