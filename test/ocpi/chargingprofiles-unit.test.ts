/** Pure parts of the OCPI ChargingProfiles receiver: body validation, ActiveChargingProfile shape and comparison. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OcpiError } from '../../src/ocpi/core/status.js';
import { type ActiveChargingProfile, activeProfileOf, parseSetChargingProfile, sameActiveProfile } from '../../src/ocpi/cpo/chargingprofiles.js';
import { DEFAULT_OCPI_CHARGING_PROFILES, loadConfig, ConfigError } from '../../src/config.js';
import { DEFAULT_TRANSPORT_OPTIONS } from '../../src/ocpp/transport.js';
import { epochMs, seconds, watts } from '../../src/smart/units.js';
import { tempDir } from '../helpers/csms.js';
import { JEDLIX_SEED_BODY } from './chargingprofiles-fixture.js';
import type { OCPP20 } from 'typed-ocpp';
import { type StationFacts, translateScspProfile } from '../../src/scsp-link/profile-receiver.js';

test('the Jedlix seed body parses: W, absolute start, three periods', () => {
  const p = parseSetChargingProfile(JEDLIX_SEED_BODY);
  assert.equal(p.response_url, JEDLIX_SEED_BODY.response_url);
  assert.equal(p.charging_profile.unit, 'W');
  assert.equal(p.charging_profile.start?.toISOString(), '2023-10-01T12:00:00.000Z');
  assert.equal(p.charging_profile.duration, undefined);
  assert.deepEqual(p.charging_profile.periods, JEDLIX_SEED_BODY.charging_profile.charging_profile_period);
});

test('invalid bodies are 2001', () => {
  const ok = { charging_rate_unit: 'A', charging_profile_period: [{ start_period: 0, limit: 16 }] };
  const url = 'https://scsp.example.com/r?id=1';
  for (const body of [
    null,
    { charging_profile: ok },
    { charging_profile: ok, response_url: 'ftp://x' },
    { charging_profile: { ...ok, charging_rate_unit: 'w' }, response_url: url },
    { charging_profile: { ...ok, charging_profile_period: [] }, response_url: url },
    { charging_profile: { ...ok, charging_profile_period: [{ start_period: 0, limit: 6.05 }] }, response_url: url },
    { charging_profile: { ...ok, charging_profile_period: [{ start_period: 0.5, limit: 6 }] }, response_url: url },
    { charging_profile: { ...ok, duration: 0 }, response_url: url },
    { charging_profile: { ...ok, min_charging_rate: -1 }, response_url: url },
  ]) {
    assert.throws(
      () => parseSetChargingProfile(body),
      (e: unknown) => e instanceof OcpiError && e.statusCode === 2001 && e.httpStatus === 200,
      JSON.stringify(body),
    );
  }
  // One decimal, lenient date-time without Z, min rate: fine.
  const p = parseSetChargingProfile({ charging_profile: { ...ok, start_date_time: '2030-01-01T00:00:00', min_charging_rate: 6.5, duration: 60 }, response_url: url });
  assert.equal(p.charging_profile.start?.toISOString(), '2030-01-01T00:00:00.000Z');
  assert.equal(p.charging_profile.minRate, 6.5);
});

test('activeProfileOf: scheduleStart → start_date_time (Z, no millis), periods renamed, floored to 0.1', () => {
  const a = activeProfileOf({
    evseId: 1,
    duration: seconds(900),
    scheduleStart: epochMs(Date.parse('2030-01-01T00:00:00Z')),
    chargingRateUnit: 'W',
    chargingSchedulePeriod: [
      { startPeriod: seconds(0), limit: watts(11000) },
      { startPeriod: seconds(600), limit: watts(7000.06) },
    ],
  });
  assert.deepEqual(a, {
    start_date_time: '2030-01-01T00:00:00Z',
    charging_profile: { charging_rate_unit: 'W', duration: 900, charging_profile_period: [{ start_period: 0, limit: 11000 }, { start_period: 600, limit: 7000 }] },
  });
});

test('sameActiveProfile compares limits over absolute time on the common window', () => {
  const at = (start: string, periods: Array<[number, number]>, unit: 'W' | 'A' = 'W', duration = 900): ActiveChargingProfile => ({
    start_date_time: start,
    charging_profile: { charging_rate_unit: unit, duration, charging_profile_period: periods.map(([start_period, limit]) => ({ start_period, limit })) },
  });
  const base = at('2030-01-01T00:00:00Z', [[0, 7000], [600, 5000]]);
  // The same plan computed 5 minutes later (window slid): same.
  assert.ok(sameActiveProfile(base, at('2030-01-01T00:05:00Z', [[0, 7000], [300, 5000]])));
  // The window slid past the change: still the same plan.
  assert.ok(sameActiveProfile(base, at('2030-01-01T00:12:00Z', [[0, 5000]])));
  // A different limit inside the common window, a different unit, no common window: different.
  assert.ok(!sameActiveProfile(base, at('2030-01-01T00:05:00Z', [[0, 7000], [200, 5000]])));
  assert.ok(!sameActiveProfile(base, at('2030-01-01T00:05:00Z', [[0, 7000], [300, 5000]], 'A')));
  assert.ok(!sameActiveProfile(base, at('2030-01-01T00:20:00Z', [[0, 5000]])));
  assert.ok(!sameActiveProfile(base, at('2030-01-01T00:00:00Z', [[0, 6000], [600, 5000]])));
});

test('configuration: defaults (timeout 30 + 30 = 60 s, 5 s between requests, 60 min horizon) and bounds', () => {
  assert.deepEqual(DEFAULT_OCPI_CHARGING_PROFILES, { minIntervalS: 5, resultMarginS: 30, activeHorizonS: 3600, activeDebounceMs: 1000 });
  assert.equal(DEFAULT_TRANSPORT_OPTIONS.callTimeoutMs / 1000 + DEFAULT_OCPI_CHARGING_PROFILES.resultMarginS, 60);
  const dir = tempDir();
  const base = { AMPLINE_API_KEY: 'test-api-key-123' };
  assert.deepEqual(loadConfig(base, { dataDir: dir }).ocpi.chargingProfiles, DEFAULT_OCPI_CHARGING_PROFILES);
  const c = loadConfig(
    { ...base, AMPLINE_OCPI_PROFILE_MIN_INTERVAL_S: '0', AMPLINE_OCPI_PROFILE_RESULT_MARGIN_S: '60', AMPLINE_OCPI_ACTIVE_PROFILE_HORIZON_S: '300', AMPLINE_OCPI_ACTIVE_PROFILE_DEBOUNCE_MS: '250' },
    { dataDir: dir },
  );
  assert.deepEqual(c.ocpi.chargingProfiles, { minIntervalS: 0, resultMarginS: 60, activeHorizonS: 300, activeDebounceMs: 250 });
  assert.throws(() => loadConfig({ ...base, AMPLINE_OCPI_ACTIVE_PROFILE_HORIZON_S: '60' }, { dataDir: dir }), ConfigError);
  assert.throws(() => loadConfig({ ...base, AMPLINE_OCPI_ACTIVE_PROFILE_HORIZON_S: '7200' }, { dataDir: dir }), ConfigError);
});

test('translateScspProfile keeps min_charging_rate when asked (one session), converted with the limits', () => {
  const facts: StationFacts = {
    protocol: 'ocpp2.0.1',
    capabilities: { rateUnits: ['A'], maxPeriodsPerSchedule: 24, maxStackLevel: 8 },
    evses: [{ evseId: 1, transaction: { id: 'tx-1' }, maxCurrentA: 16, phases: 3, voltageV: 230 }],
    now: epochMs(Date.parse('2030-01-01T00:00:00Z')),
  };
  const body = {
    evseId: 1,
    chargingProfile: {
      id: 8001,
      stackLevel: 1,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Relative',
      transactionId: 'tx-1',
      chargingSchedule: [{ id: 1, duration: 3600, chargingRateUnit: 'W', minChargingRate: 4140, chargingSchedulePeriod: [{ startPeriod: 0, limit: 11000 }] }],
    },
  } as OCPP20.SetChargingProfileRequest;
  const kept = translateScspProfile({ payloadProtocol: 'ocpp2.0.1', body }, facts, { keepMinChargingRate: true });
  assert.ok(kept.ok);
  const s = kept.targets[0]!.profile.chargingSchedule[0]!;
  assert.equal(s.chargingRateUnit, 'A');
  assert.deepEqual(s.chargingSchedulePeriod.map((p) => p.limit), [15.9]);
  assert.equal(s.minChargingRate, 6);
  assert.equal(s.duration, 3600);
  assert.equal(kept.targets[0]!.profile.chargingProfileKind, 'Relative');
  assert.ok(!kept.targets[0]!.adjustments.includes('minChargingRate dropped'));
  // Default (the OCPP-format route): dropped, as before.
  const dropped = translateScspProfile({ payloadProtocol: 'ocpp2.0.1', body }, facts);
  assert.ok(dropped.ok);
  assert.equal(dropped.targets[0]!.profile.chargingSchedule[0]!.minChargingRate, undefined);
});
