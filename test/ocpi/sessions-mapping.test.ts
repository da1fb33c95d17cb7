/**
 * OCPI Sessions, the pure part (src/ocpi/cpo/session-mapping.ts and the ChargingPreferences parser):
 * transaction row + meter history → Session object, charging periods per push interval, and the
 * property the PATCH path relies on (periods built incrementally from a cursor equal those built from
 * scratch). Table-driven; no I/O.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type MeterRow,
  type OcpiSession,
  type Reading,
  type SessionTx,
  allPeriods,
  authMethodOf,
  buildPeriods,
  cdrTokenOf,
  changedFields,
  closedBefore,
  fullSession,
  initialCursor,
  readingsOf,
  sessionReadings,
  sessionStatusOf,
  tokenTypeOf,
  toOcpiSession,
} from '../../src/ocpi/cpo/session-mapping.js';
import { rmSync } from 'node:fs';
import { OcpiSessionsSender, parseChargingPreferences, sessionsSenderOptions } from '../../src/ocpi/cpo/sessions.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/util/log.js';
import { tempDir } from '../helpers/csms.js';
import { isOcpiDateTime } from '../../src/ocpi/core/datetime.js';
import { OcpiError } from '../../src/ocpi/core/status.js';

const ID = '0f8e9a4c-2d7b-4c1e-9a3f-5b6c7d8e9f01';
const OPTS = { countryCode: 'NL', partyId: 'AMP', currency: 'EUR' };
const MIN = 60_000;
const T0 = Date.parse('2025-03-01T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function tx(over: Partial<SessionTx> = {}): SessionTx {
  return {
    id: ID,
    station_id: 'CP-1',
    evse_id: 1,
    connector_id: 1,
    id_token: 'TAG-1',
    id_token_type: 'ISO14443',
    auth_status: 'Accepted',
    state: 'active',
    charging_state: 'Charging',
    started_at: iso(T0 + 15_000),
    stopped_at: null,
    meter_start_wh: 1000,
    meter_stop_wh: null,
    energy_wh: 0,
    offline: 0,
    remote_start_id: null,
    updated_at: iso(T0 + 15_000),
    ...over,
  };
}

const energyRow = (ms: number, wh: number, extra: Partial<MeterRow> = {}): MeterRow => ({ timestamp: iso(ms), measurand: 'Energy.Active.Import.Register', phase: null, location: 'Outlet', value: wh, ...extra });
const powerRow = (ms: number, w: number): MeterRow => ({ timestamp: iso(ms), measurand: 'Power.Active.Import', phase: null, location: 'Outlet', value: w });
const socRow = (ms: number, soc: number): MeterRow => ({ timestamp: iso(ms), measurand: 'SoC', phase: null, location: 'EV', value: soc });
const currentRow = (ms: number, a: number, phase: string | null): MeterRow => ({ timestamp: iso(ms), measurand: 'Current.Import', phase, location: 'Outlet', value: a });

// ── token, auth method, status ────────────────────────────────────────────────────────────────────

test('token type from the OCPP id token type', () => {
  const table: Array<[string | null, boolean, string]> = [
    ['ISO14443', false, 'RFID'],
    ['ISO15693', false, 'RFID'],
    ['Central', false, 'APP_USER'],
    ['eMAID', false, 'OTHER'],
    ['MacAddress', false, 'OTHER'],
    ['Local', false, 'OTHER'],
    ['KeyCode', false, 'AD_HOC_USER'],
    ['NoAuthorization', false, 'AD_HOC_USER'],
    [null, true, 'APP_USER'],
    [null, false, 'OTHER'],
  ];
  for (const [type, remote, want] of table) assert.equal(tokenTypeOf(type, remote), want, `${type} remote=${remote}`);
});

test('auth method as far as it can be derived', () => {
  const base = { remote_start_id: null, id_token_type: 'ISO14443', auth_status: 'Accepted', offline: 0 };
  const table: Array<[Partial<typeof base> | Record<string, unknown>, string]> = [
    [{}, 'AUTH_REQUEST'],
    [{ remote_start_id: 7 }, 'COMMAND'],
    [{ id_token_type: 'Central' }, 'COMMAND'],
    [{ auth_status: null }, 'WHITELIST'],
    [{ offline: 1 }, 'WHITELIST'],
    [{ id_token_type: 'NoAuthorization' }, 'WHITELIST'],
  ];
  for (const [over, want] of table) assert.equal(authMethodOf({ ...base, ...over } as never), want, JSON.stringify(over));
});

test('status: ACTIVE, COMPLETED, and PENDING before a 2.0.1 transaction charges', () => {
  const table: Array<[Partial<SessionTx>, Record<string, string | null>, string]> = [
    [{}, {}, 'ACTIVE'],
    [{ state: 'ended' }, {}, 'COMPLETED'],
    [{ charging_state: 'EVConnected', energy_wh: 0 }, {}, 'PENDING'],
    [{ charging_state: 'Idle', energy_wh: null }, {}, 'PENDING'],
    [{ charging_state: 'EVConnected', energy_wh: 12 }, {}, 'ACTIVE'],
    [{ charging_state: 'EVConnected', energy_wh: 0 }, { firstActiveAt: iso(T0) }, 'ACTIVE'],
    [{ charging_state: 'SuspendedEV', energy_wh: 0 }, {}, 'ACTIVE'],
    [{ charging_state: null, energy_wh: 0 }, {}, 'ACTIVE'],
    [{ state: 'ended', charging_state: 'EVConnected', energy_wh: 0 }, {}, 'COMPLETED'],
  ];
  for (const [over, start, want] of table) assert.equal(sessionStatusOf(tx(over), start), want, JSON.stringify(over));
});

test('cdr_token: our identity, the id token (hashed when it does not fit CiString(36)), placeholders', () => {
  assert.deepEqual(cdrTokenOf(tx(), OPTS), { country_code: 'NL', party_id: 'AMP', uid: 'TAG-1', type: 'RFID', contract_id: 'TAG-1' });
  const long = cdrTokenOf(tx({ id_token: 'X'.repeat(40), id_token_type: 'eMAID' }), OPTS);
  assert.equal(long.uid.length, 36);
  assert.match(long.uid, /^T[0-9a-f]{35}$/);
  assert.equal(long.type, 'OTHER');
  const spaced = cdrTokenOf(tx({ id_token: 'ünïcode' }), OPTS);
  assert.match(spaced.uid, /^T[0-9a-f]{35}$/, 'non-ASCII is not a CiString');
  assert.deepEqual(cdrTokenOf(tx({ id_token: null, id_token_type: null, remote_start_id: 42 }), OPTS), { country_code: 'NL', party_id: 'AMP', uid: 'REMOTE-42', type: 'APP_USER', contract_id: 'REMOTE-42' });
  assert.equal(cdrTokenOf(tx({ id_token: null, id_token_type: null }), OPTS).uid, 'UNKNOWN');
});

// ── the Session object ────────────────────────────────────────────────────────────────────────────

test('Session object: every field, formats and lengths', () => {
  const s = toOcpiSession(tx({ energy_wh: 1234.56, updated_at: '2025-03-01T10:05:00.250Z' }), OPTS, []);
  assert.deepEqual(s, {
    country_code: 'NL',
    party_id: 'AMP',
    id: ID,
    start_date_time: '2025-03-01T10:00:15Z',
    kwh: 1.235,
    cdr_token: { country_code: 'NL', party_id: 'AMP', uid: 'TAG-1', type: 'RFID', contract_id: 'TAG-1' },
    auth_method: 'AUTH_REQUEST',
    location_id: 'CP-1',
    evse_uid: 'CP-1*1',
    connector_id: '1',
    currency: 'EUR',
    charging_periods: [],
    status: 'ACTIVE',
    last_updated: '2025-03-01T10:05:00.250Z',
  });
  for (const k of ['start_date_time', 'last_updated'] as const) assert.ok(isOcpiDateTime(s[k]), k);
  // Long station ids: CiString(36) through a hash; connector unknown → "1"; negative energy → 0; no periods → field absent.
  const long = toOcpiSession(tx({ station_id: 'S'.repeat(60), evse_id: 12, connector_id: null, energy_wh: -5 }), OPTS);
  assert.ok(long.location_id.length <= 36 && long.evse_uid.length <= 36);
  assert.notEqual(long.location_id, long.evse_uid);
  assert.equal(long.connector_id, '1');
  assert.equal(long.kwh, 0);
  assert.equal('charging_periods' in long, false);
  assert.equal(toOcpiSession(tx({ connector_id: 2 }), { ...OPTS, currency: 'CHF' }).currency, 'CHF');
});

test('Session object: COMPLETED carries end_date_time; PENDING→ACTIVE moves start_date_time to when charging began', () => {
  const done = toOcpiSession(tx({ state: 'ended', stopped_at: iso(T0 + 3_600_000), energy_wh: 5000 }), OPTS);
  assert.equal(done.status, 'COMPLETED');
  assert.equal(done.end_date_time, '2025-03-01T11:00:00Z');
  assert.equal(done.kwh, 5);
  assert.equal('end_date_time' in toOcpiSession(tx(), OPTS), false);

  const start = { firstPendingAt: iso(T0 + 15_000), firstActiveAt: iso(T0 + 300_000) };
  const pending = toOcpiSession(tx({ charging_state: 'EVConnected', energy_wh: 0 }), OPTS, undefined, { firstPendingAt: start.firstPendingAt, firstActiveAt: null });
  assert.equal(pending.status, 'PENDING');
  assert.equal(pending.start_date_time, '2025-03-01T10:00:15Z');
  const active = toOcpiSession(tx({ charging_state: 'Charging', energy_wh: 100 }), OPTS, undefined, start);
  assert.equal(active.status, 'ACTIVE');
  assert.equal(active.start_date_time, '2025-03-01T10:05:00Z');
  // Charging from the start: the transaction start.
  assert.equal(toOcpiSession(tx(), OPTS, undefined, { firstActiveAt: iso(T0 + 15_000), firstPendingAt: iso(T0 + 999_000) }).start_date_time, '2025-03-01T10:00:15Z');
});

// ── readings ──────────────────────────────────────────────────────────────────────────────────────

test('readings: totals preferred, outlet over inlet, phases summed (energy, power) or averaged (current)', () => {
  const t = T0 + 20_000;
  const rows: MeterRow[] = [
    energyRow(t, 5000, { location: 'Inlet' }),
    energyRow(t, 4900),
    { timestamp: iso(t), measurand: 'Power.Active.Import', phase: 'L1', location: 'Outlet', value: 3000 },
    { timestamp: iso(t), measurand: 'Power.Active.Import', phase: 'L2', location: 'Outlet', value: 3100 },
    { timestamp: iso(t), measurand: 'Power.Active.Import', phase: 'L3-N', location: 'Outlet', value: 2900 },
    currentRow(t, 13, 'L1'),
    currentRow(t, 14, 'L2'),
    currentRow(t, 15, 'L3'),
    currentRow(t, 99, 'N'),
    socRow(t, 55.55),
    { timestamp: iso(t + 1000), measurand: 'SoC', phase: null, location: 'EV', value: null },
  ];
  assert.deepEqual(readingsOf(rows), [{ at: t, energyWh: 4900, powerW: 9000, currentA: 14, soc: 55.55 }, { at: t + 1000 }]);
  // Once over, the stop register ends the readings (replacing a reading at the same instant).
  const over = sessionReadings(tx({ state: 'ended', stopped_at: iso(t + 1000), meter_stop_wh: 6000 }), rows);
  assert.deepEqual(over.at(-1), { at: t + 1000, energyWh: 6000 });
  assert.equal(sessionReadings(tx({ state: 'ended', stopped_at: iso(t + 5000), meter_stop_wh: 6000 }), rows).length, 3);
  assert.equal(sessionReadings(tx(), rows).length, 2);
});

// ── periods ───────────────────────────────────────────────────────────────────────────────────────

test('periods: one per interval cell with readings, closed cells only, dimensions per cell', () => {
  const start = T0 + 15_000; // session starts 10:00:15
  const readings: Reading[] = [
    { at: start, energyWh: 1000 },
    { at: T0 + 30_000, energyWh: 1100, powerW: 12_000, currentA: 17.4, soc: 20 },
    { at: T0 + 50_000, energyWh: 1200, powerW: 12_400, currentA: 18, soc: 21 },
    // 10:01 cell: nothing. 10:02 cell: energy only (power derived).
    { at: T0 + 150_000, energyWh: 1500 },
    // A meter reset (register goes down): never negative.
    { at: T0 + 200_000, energyWh: 900, soc: 25 },
    // 10:04 cell: open (the newest reading is in it).
    { at: T0 + 250_000, energyWh: 1000 },
  ];
  const { periods, cursor } = buildPeriods({ readings, cursor: initialCursor(tx()), periodMs: MIN, sessionStartMs: start, closedBeforeMs: closedBefore(tx(), readings) });
  assert.deepEqual(periods, [
    {
      start_date_time: '2025-03-01T10:00:15Z',
      dimensions: [
        { type: 'ENERGY', volume: 0.2 },
        { type: 'POWER', volume: 12.2 },
        { type: 'CURRENT', volume: 17.7 },
        { type: 'STATE_OF_CHARGE', volume: 21 },
      ],
    },
    // 300 Wh between 10:00:50 and 10:02:30 → 10.8 kW.
    { start_date_time: '2025-03-01T10:02:00Z', dimensions: [{ type: 'ENERGY', volume: 0.3 }, { type: 'POWER', volume: 10.8 }] },
    { start_date_time: '2025-03-01T10:03:00Z', dimensions: [{ type: 'ENERGY', volume: 0 }, { type: 'POWER', volume: 0 }, { type: 'STATE_OF_CHARGE', volume: 25 }] },
  ]);
  assert.deepEqual(cursor, { fromMs: T0 + 240_000, baselineWh: 900, baselineAtMs: T0 + 200_000, count: 3 });
  for (const p of periods) assert.ok(isOcpiDateTime(p.start_date_time));
});

test('periods: without a meter start the first register reading is the baseline; readings before the start count at the start', () => {
  const t = tx({ meter_start_wh: null });
  const readings: Reading[] = [
    { at: T0 - 5_000, energyWh: 2000 },
    { at: T0 + 40_000, energyWh: 2060 },
    { at: T0 + 70_000, energyWh: 2100 },
  ];
  const { periods } = buildPeriods({ readings, cursor: initialCursor(t), periodMs: MIN, sessionStartMs: Date.parse(t.started_at), closedBeforeMs: T0 + 70_000 });
  // 60 Wh between the start (10:00:15, where the early reading counts) and 10:00:40 → 8.64 kW.
  assert.deepEqual(periods, [{ start_date_time: '2025-03-01T10:00:15Z', dimensions: [{ type: 'ENERGY', volume: 0.06 }, { type: 'POWER', volume: 8.64 }] }]);
  assert.throws(() => buildPeriods({ readings, cursor: initialCursor(t), periodMs: 0, sessionStartMs: 0, closedBeforeMs: undefined }), RangeError);
});

test('periods: built incrementally from cursors equal the periods built from scratch (what PATCH appends)', () => {
  // A deterministic pseudo-random session: readings every 7–23 s, some with power and SoC.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const t = tx();
  const rows: MeterRow[] = [];
  let at = Date.parse(t.started_at);
  let wh = 1000;
  for (let i = 0; i < 200; i++) {
    at += 7_000 + Math.floor(rnd() * 16_000);
    wh += Math.floor(rnd() * 80);
    rows.push(energyRow(at, wh));
    if (rnd() < 0.7) rows.push(powerRow(at, Math.round(rnd() * 11_000)));
    if (rnd() < 0.3) rows.push(socRow(at, 20 + i / 10));
  }
  for (const periodMs of [MIN, 45_000, 5 * MIN]) {
    const whole = allPeriods(t, rows, periodMs);
    // Push at irregular moments: each push sees the rows that had arrived by then, from its cursor on.
    let cursor = initialCursor(t);
    const appended = [];
    for (let cut = 5; cut <= rows.length; cut += 1 + Math.floor(rnd() * 30)) {
      const seen = rows.slice(0, cut);
      const fresh = readingsOf(seen.filter((r) => Date.parse(r.timestamp) >= cursor.fromMs));
      const allSeen = readingsOf(seen);
      const step = buildPeriods({ readings: fresh, cursor, periodMs, sessionStartMs: Date.parse(t.started_at), closedBeforeMs: closedBefore(t, allSeen) });
      appended.push(...step.periods);
      cursor = step.cursor;
    }
    const last = readingsOf(rows.filter((r) => Date.parse(r.timestamp) >= cursor.fromMs));
    const tail = buildPeriods({ readings: last, cursor, periodMs, sessionStartMs: Date.parse(t.started_at), closedBeforeMs: closedBefore(t, readingsOf(rows)) });
    appended.push(...tail.periods);
    assert.deepEqual(appended, whole.periods, `periodMs ${periodMs}`);
    assert.equal(tail.cursor.count, whole.cursor.count);
    assert.ok(whole.periods.length > 3);
    // Strictly increasing starts, one per cell at most.
    for (let i = 1; i < whole.periods.length; i++) assert.ok(whole.periods[i]!.start_date_time > whole.periods[i - 1]!.start_date_time);
  }
});

test('completed session: every cell closed, the stop register ends the last period, energy adds up to kwh', () => {
  const stop = T0 + 200_000;
  const t = tx({ state: 'ended', stopped_at: iso(stop), meter_stop_wh: 1850, energy_wh: 850, updated_at: iso(stop) });
  const rows = [energyRow(T0 + 15_000, 1000), energyRow(T0 + 70_000, 1300), energyRow(T0 + 130_000, 1600), energyRow(T0 + 190_000, 1800)];
  const { session } = fullSession(t, rows, { ...OPTS, periodMs: MIN });
  assert.equal(session.status, 'COMPLETED');
  assert.equal(session.kwh, 0.85);
  const energy = session.charging_periods!.map((p) => p.dimensions.find((d) => d.type === 'ENERGY')!.volume);
  assert.deepEqual(energy, [0, 0.3, 0.3, 0.25]);
  assert.equal(Math.round(energy.reduce((a, b) => a + b, 0) * 1000) / 1000, session.kwh);
  assert.equal(session.charging_periods!.at(-1)!.start_date_time, '2025-03-01T10:03:00Z');
  // While active the same history keeps its newest cell open.
  assert.equal(fullSession(tx(), rows, { ...OPTS, periodMs: MIN }).session.charging_periods!.length, 3);
});

test('changed fields for a PATCH: periods excluded, removed fields ignored', () => {
  const a = toOcpiSession(tx(), OPTS) as OcpiSession;
  const b = toOcpiSession(tx({ energy_wh: 500, updated_at: iso(T0 + 99_000) }), OPTS);
  assert.deepEqual(changedFields(a, b), { kwh: 0.5, last_updated: '2025-03-01T10:01:39Z' });
  assert.deepEqual(changedFields(a, { ...a, charging_periods: [] }), {});
  const c = toOcpiSession(tx({ charging_state: 'EVConnected', energy_wh: 0 }), OPTS, undefined, { firstPendingAt: iso(T0) });
  const d = toOcpiSession(tx({ charging_state: 'Charging', energy_wh: 0 }), OPTS, undefined, { firstPendingAt: iso(T0), firstActiveAt: iso(T0 + 120_000) });
  assert.deepEqual(changedFields(c, d), { start_date_time: '2025-03-01T10:02:00Z', status: 'ACTIVE' });
});

// ── charging preferences ──────────────────────────────────────────────────────────────────────────

test('ChargingPreferences: valid inputs normalised, invalid ones are 2001', () => {
  const ok: Array<[unknown, unknown]> = [
    [{ profile_type: 'CHEAP' }, { profile_type: 'CHEAP' }],
    [
      { profile_type: 'FAST', departure_time: '2025-03-01T18:00:00', energy_need: 12.5, discharge_allowed: false },
      { profile_type: 'FAST', departure_time: '2025-03-01T18:00:00Z', energy_need: 12.5, discharge_allowed: false },
    ],
    [{ profile_type: 'GREEN', departure_time: null, energy_need: null, extra: 1 }, { profile_type: 'GREEN' }],
    [{ profile_type: 'REGULAR', energy_need: 0 }, { profile_type: 'REGULAR', energy_need: 0 }],
  ];
  for (const [input, want] of ok) assert.deepEqual(parseChargingPreferences(input), want);
  const bad: unknown[] = [
    undefined,
    null,
    [],
    'CHEAP',
    {},
    { profile_type: 'cheap' },
    { profile_type: 'SLOW' },
    { profile_type: 'CHEAP', departure_time: 'tomorrow' },
    { profile_type: 'CHEAP', departure_time: 1700000000 },
    { profile_type: 'CHEAP', energy_need: -1 },
    { profile_type: 'CHEAP', energy_need: '10' },
    { profile_type: 'CHEAP', discharge_allowed: 'yes' },
  ];
  for (const input of bad) {
    assert.throws(
      () => parseChargingPreferences(input),
      (e: unknown) => e instanceof OcpiError && e.statusCode === 2001 && e.httpStatus === 200,
      JSON.stringify(input),
    );
  }
});

// ── configuration ─────────────────────────────────────────────────────────────────────────────────

test('configuration: AMPLINE_OCPI_SESSION_UPDATE_INTERVAL_S and AMPLINE_OCPI_CURRENCY reach the sender', () => {
  const dir = tempDir();
  try {
    const base = { AMPLINE_API_KEY: 'k'.repeat(12) };
    assert.deepEqual(loadConfig(base, { dataDir: dir }).ocpi.sessions, { updateIntervalS: 60, currency: 'EUR' });
    const c = loadConfig({ ...base, AMPLINE_OCPI_SESSION_UPDATE_INTERVAL_S: '300', AMPLINE_OCPI_CURRENCY: 'chf' }, { dataDir: dir });
    assert.deepEqual(c.ocpi.sessions, { updateIntervalS: 300, currency: 'CHF' });
    for (const [k, v] of [['AMPLINE_OCPI_SESSION_UPDATE_INTERVAL_S', '0'], ['AMPLINE_OCPI_SESSION_UPDATE_INTERVAL_S', 'soon'], ['AMPLINE_OCPI_CURRENCY', 'EURO']] as const) {
      assert.throws(() => loadConfig({ ...base, [k]: v }, { dataDir: dir }), (e: Error) => e instanceof ConfigError && e.message.includes(k), `${k}=${v}`);
    }
    assert.deepEqual(sessionsSenderOptions(c.ocpi.sessions), { updateIntervalMs: 300_000, currency: 'CHF' });
    const ctx = { log: silentLogger(), config: c } as unknown as ConstructorParameters<typeof OcpiSessionsSender>[0];
    assert.equal(new OcpiSessionsSender(ctx).updateIntervalMs, 300_000);
    assert.equal(new OcpiSessionsSender(ctx, { updateIntervalMs: 1000 }).updateIntervalMs, 1000, 'an explicit option wins');
    assert.equal(new OcpiSessionsSender({ log: silentLogger() } as never).updateIntervalMs, 60_000, 'default without configuration');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('periods: POWER is not derived from energy over less than 10 s (Wh resolution)', () => {
  const t = tx();
  const start = Date.parse(t.started_at);
  const readings: Reading[] = [{ at: start + 2_000, energyWh: 1004 }, { at: start + 70_000, energyWh: 1010 }];
  const { periods } = buildPeriods({ readings, cursor: initialCursor(t), periodMs: MIN, sessionStartMs: start, closedBeforeMs: start + 70_000 });
  assert.deepEqual(periods, [{ start_date_time: '2025-03-01T10:00:15Z', dimensions: [{ type: 'ENERGY', volume: 0.004 }] }]);
});
