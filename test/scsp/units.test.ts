/**
 * The SCSP's pure parts, table-driven: the built-in planner and water-filling, schedule arithmetic,
 * SetChargingProfileRequest building (schema-valid in both versions), planner inputs from preferences
 * (defaults, SoC targets, "charge now", departures across DST), the charging_station parser, ingest
 * normalisation and idempotency keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validatePayload } from '../../src/ocpp/schemas.js';
import { planAsap, waterFill, sumSchedules, sameFuture, valueAt, type PlanSession, type PowerSchedule } from '../../src/scsp/planner.js';
import { setChargingProfileRequest, toPeriods } from '../../src/scsp/profile.js';
import { nextTimeOfDay, parsePreferences, resolvePlanInput, mergePreferences, PreferencesError } from '../../src/scsp/preferences.js';
import { evsePower, parseChargingStation } from '../../src/scsp/charging-station.js';
import { bodyHash, canonicalJson, idempotencyKey, ingestAction } from '../../src/scsp/ingest.js';
import { classify } from '../../src/scsp/sender.js';
import { DEFAULT_PREFERENCES, loadScspConfig, ScspConfigError } from '../../src/scsp/config.js';
import { rmSync } from 'node:fs';
import { tempDir } from './helpers.js';

const T = Date.parse('2025-01-15T12:00:00Z');
const at = (s: number) => new Date(T + s * 1000);
const sched = (...steps: Array<[number, number]>): PowerSchedule => steps.map(([s, w]) => ({ start: at(s), powerW: w }));
const flat = (s: PowerSchedule) => s.map((p) => [(p.start.getTime() - T) / 1000, p.powerW]);

function session(id: string, o: Partial<PlanSession> = {}): PlanSession {
  return {
    sessionId: id,
    cpoId: 'c',
    uid: 'u',
    evseId: 1,
    arrival: at(0),
    departure: at(8 * 3600),
    energyNeedWh: 11_000,
    chargeNowWh: 0,
    minPowerW: 4140,
    maxPowerW: 11_000,
    phases: 3,
    ...o,
  };
}

test('waterFill: equal shares up to each maximum, minimums honoured, admission by order when minimums do not fit', () => {
  const cases: Array<{ name: string; demands: Array<{ id: string; min: number; max: number }>; limit: number; want: Record<string, number> }> = [
    { name: 'plenty', demands: [{ id: 'a', min: 0, max: 5 }, { id: 'b', min: 0, max: 7 }], limit: 100, want: { a: 5, b: 7 } },
    { name: 'equal split', demands: [{ id: 'a', min: 0, max: 10 }, { id: 'b', min: 0, max: 10 }], limit: 12, want: { a: 6, b: 6 } },
    { name: 'small max gives its share away', demands: [{ id: 'a', min: 0, max: 2 }, { id: 'b', min: 0, max: 10 }], limit: 12, want: { a: 2, b: 10 } },
    { name: 'minimums first', demands: [{ id: 'a', min: 4, max: 10 }, { id: 'b', min: 4, max: 10 }], limit: 9, want: { a: 4.5, b: 4.5 } },
    { name: 'minimums do not fit: first admitted', demands: [{ id: 'a', min: 4, max: 10 }, { id: 'b', min: 4, max: 10 }], limit: 6, want: { a: 6, b: 0 } },
    { name: 'zero limit', demands: [{ id: 'a', min: 4, max: 10 }], limit: 0, want: { a: 0 } },
  ];
  for (const c of cases) assert.deepEqual(Object.fromEntries(waterFill(c.demands, c.limit)), c.want, c.name);
});

test('planAsap: full power until the need is met, then 0; site limits water-filled over time', () => {
  // One EV: 11 kWh at 11 kW → 1 h.
  let plans = planAsap([session('a')], [], at(0));
  assert.deepEqual(flat(plans.get('a')!), [[0, 11_000], [3600, 0]]);
  // No need: 0 from now.
  plans = planAsap([session('a', { energyNeedWh: 0 })], [], at(0));
  assert.deepEqual(flat(plans.get('a')!), [[0, 0]]);
  // Two EVs behind 11 kW: 5.5 kW each; A (2.75 kWh) is done after 30 min, then B gets all 11 kW.
  plans = planAsap([session('a', { energyNeedWh: 2750, departure: at(3600) }), session('b', { energyNeedWh: 11_000 })], [{ siteId: 's', maxPowerW: 11_000, sessionIds: ['a', 'b'] }], at(0));
  assert.deepEqual(flat(plans.get('a')!), [[0, 5500], [1800, 0]]);
  assert.deepEqual(flat(plans.get('b')!), [[0, 5500], [1800, 11_000], [1800 + Math.ceil(((11_000 - 2750) / 11_000) * 3600), 0]]);
  // A limit below two minimums: the earlier departure charges, the other waits for it.
  plans = planAsap([session('late', { departure: at(7200), energyNeedWh: 1000 }), session('early', { departure: at(3600), energyNeedWh: 1000 })], [{ siteId: 's', maxPowerW: 6000, sessionIds: ['late', 'early'] }], at(0));
  assert.deepEqual(flat(plans.get('early')!), [[0, 6000], [600, 0]]);
  assert.deepEqual(flat(plans.get('late')!), [[0, 0], [600, 6000], [1200, 0]]);
  // A session outside the site is not limited by it.
  plans = planAsap([session('in'), session('out')], [{ siteId: 's', maxPowerW: 5000, sessionIds: ['in'] }], at(0));
  assert.equal(plans.get('in')![0]!.powerW, 5000);
  assert.equal(plans.get('out')![0]!.powerW, 11_000);
});

test('planAsap properties: the need is delivered, the site limit holds at every step, no EV between 0 and its minimum', () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let run = 0; run < 200; run++) {
    const n = 1 + Math.floor(rnd() * 6);
    const sessions = Array.from({ length: n }, (_, i) => {
      const phases = rnd() < 0.3 ? 1 : 3;
      return session(`s${i}`, { energyNeedWh: Math.round(rnd() * 40_000), maxPowerW: phases * 230 * (6 + Math.floor(rnd() * 27)), minPowerW: phases * 230 * 6, phases, departure: at(3600 * (1 + rnd() * 10)) });
    });
    const limit = 5000 + Math.round(rnd() * 40_000);
    const plans = planAsap(sessions, [{ siteId: 's', maxPowerW: limit, sessionIds: sessions.map((s) => s.sessionId) }], at(0));
    const instants = [...new Set([...plans.values()].flatMap((p) => p.map((x) => x.start.getTime())))].sort((a, b) => a - b);
    for (const t of instants) {
      const total = [...plans.values()].reduce((a, p) => a + valueAt(p, t), 0);
      assert.ok(total <= limit + 1e-6, `run ${run}: ${total} W > limit ${limit} W`);
      for (const s of sessions) {
        const w = valueAt(plans.get(s.sessionId)!, t);
        assert.ok(w === 0 || (w >= Math.floor(s.minPowerW) && w <= s.maxPowerW), `run ${run}: ${s.sessionId} at ${w} W outside {0} ∪ [${s.minPowerW}, ${s.maxPowerW}]`);
      }
    }
    for (const s of sessions) {
      const p = plans.get(s.sessionId)!;
      let wh = 0;
      for (let i = 0; i < p.length - 1; i++) wh += (p[i]!.powerW * (p[i + 1]!.start.getTime() - p[i]!.start.getTime())) / 3_600_000;
      if (sessions.reduce((a, x) => a + x.minPowerW, 0) <= limit || s.minPowerW <= limit) {
        assert.ok(wh >= s.energyNeedWh - 1e-6 || s.energyNeedWh === 0, `run ${run}: ${s.sessionId} got ${wh} of ${s.energyNeedWh} Wh`);
      }
      assert.equal(p[p.length - 1]!.powerW, 0, 'every plan ends at 0');
    }
  }
});

test('sumSchedules and sameFuture', () => {
  const a = sched([0, 5000], [3600, 0]);
  const b = sched([-600, 3000], [1800, 2000], [7200, 0]);
  assert.deepEqual(flat(sumSchedules([a, b], at(0))), [[0, 8000], [1800, 7000], [3600, 2000], [7200, 0]]);
  assert.deepEqual(flat(sumSchedules([sched([600, 1000])], at(0))), [[0, 0], [600, 1000]], 'before a schedule starts it is 0');
  assert.ok(sameFuture(sched([0, 5000], [3600, 0]), sched([-300, 5000], [3630, 0]), at(0)), 'boundaries within 60 s');
  assert.ok(!sameFuture(sched([0, 5000], [3600, 0]), sched([0, 5000], [3700, 0]), at(0)), 'boundary 100 s later');
  assert.ok(!sameFuture(sched([0, 5000]), sched([0, 4000]), at(0)), 'another limit');
  assert.ok(sameFuture(sched([0, 5000], [100, 0]), sched([0, 0]), at(200)), 'only the future counts');
});

test('toPeriods / setChargingProfileRequest: whole seconds and watts, merged, schema-valid in both versions', () => {
  const s: PowerSchedule = [
    { start: new Date(T + 400), powerW: 7360.9 },
    { start: new Date(T + 1400), powerW: 7360.2 },
    { start: new Date(T + 900_000), powerW: 0 },
    { start: new Date(T + 900_200), powerW: 3000 },
  ];
  assert.deepEqual(toPeriods(s), { startSchedule: '2025-01-15T12:00:00Z', periods: [{ startPeriod: 0, limit: 7360 }, { startPeriod: 900, limit: 3000 }] });
  for (const pp of ['ocpp2.0.1', 'ocpp1.6'] as const) {
    const req = setChargingProfileRequest(pp, s);
    const v = validatePayload(pp, 'SetChargingProfile', 'req', req);
    assert.ok(v.ok, `${pp}: ${v.ok ? '' : v.message}`);
  }
  // A plan whose first step is past the half second still starts at 0 (K01.FR.31; the CPO refuses otherwise).
  assert.deepEqual(toPeriods([{ start: new Date(T + 600), powerW: 5000 }, { start: new Date(T + 60_600), powerW: 0 }]).periods, [
    { startPeriod: 0, limit: 5000 },
    { startPeriod: 61, limit: 0 },
  ]);
  const long: PowerSchedule = Array.from({ length: 2000 }, (_, i) => ({ start: at(i * 60), powerW: i % 2 === 0 ? 1000 : 2000 }));
  const req = setChargingProfileRequest('ocpp2.0.1', long) as { chargingProfile: { chargingSchedule: Array<{ chargingSchedulePeriod: unknown[] }> } };
  assert.equal(req.chargingProfile.chargingSchedule[0]!.chargingSchedulePeriod.length, 1024, 'the first 1024 periods');
  assert.ok(validatePayload('ocpp2.0.1', 'SetChargingProfile', 'req', req).ok);
});

test('planner input: defaults, energy need, target SoC, charge-now minimum SoC, max power, overdue departure', () => {
  const power = { maxPowerW: 11_040, minPowerW: 4140, phases: 3, voltage: 230 };
  const base = { id: 's', cpoId: 'c', uid: 'u', evseId: 1, startedAt: '2025-01-15T18:00:00Z', energyWh: 2000, soc: null as number | null };
  const now = new Date('2025-01-15T19:00:00Z');
  const cases: Array<{ name: string; soc?: number; prefs: object; want: Record<string, unknown> }> = [
    { name: 'defaults', prefs: {}, want: { energyNeedWh: 18_000, energySource: 'default', departure: '2025-01-16T02:00:00.000Z', departureSource: 'default', maxPowerW: 11_040, minPowerW: 4140, chargeNowWh: 0 } },
    { name: 'energy need', prefs: { energyNeedWh: 5000 }, want: { energyNeedWh: 3000, energySource: 'energyNeedWh' } },
    { name: 'need already met', prefs: { energyNeedWh: 1000 }, want: { energyNeedWh: 0 } },
    { name: 'target SoC', soc: 30, prefs: { targetSoc: 80, batteryCapacityWh: 60_000 }, want: { energyNeedWh: 30_000, energySource: 'targetSoc' } },
    { name: 'target SoC without a reported SoC falls back', prefs: { targetSoc: 80, batteryCapacityWh: 60_000, energyNeedWh: 9000 }, want: { energyNeedWh: 7000, energySource: 'energyNeedWh' } },
    { name: 'charge now', soc: 10, prefs: { minSoc: 25, targetSoc: 80, batteryCapacityWh: 60_000 }, want: { chargeNowWh: 9000, energyNeedWh: 42_000 } },
    { name: 'charge now above the target', soc: 10, prefs: { minSoc: 30, targetSoc: 20, batteryCapacityWh: 50_000 }, want: { chargeNowWh: 10_000, energyNeedWh: 10_000 } },
    { name: 'max power below the EVSE', prefs: { maxPowerW: 3000 }, want: { maxPowerW: 3000, minPowerW: 3000 } },
    { name: 'session departure', prefs: { departureAt: '2025-01-16T06:30:00.000Z' }, want: { departure: '2025-01-16T06:30:00.000Z', departureSource: 'session' } },
    { name: 'time of day', prefs: { departureTimeOfDay: '07:00', timeZone: 'Europe/Amsterdam' }, want: { departure: '2025-01-16T06:00:00.000Z', departureSource: 'timeOfDay' } },
    { name: 'overdue: as soon as possible', prefs: { departureAt: '2025-01-15T18:30:00.000Z', energyNeedWh: 13_040 }, want: { departure: new Date(now.getTime() + Math.ceil((11_040 / 11_040) * 3600) * 1000).toISOString(), departureSource: 'overdue' } },
  ];
  for (const c of cases) {
    const r = resolvePlanInput({ session: { ...base, soc: c.soc ?? null }, prefs: c.prefs, power, defaults: DEFAULT_PREFERENCES, now });
    const got: Record<string, unknown> = { ...r, departure: r.departure.toISOString() };
    for (const [k, v] of Object.entries(c.want)) assert.deepEqual(got[k], v, `${c.name}: ${k}`);
  }
});

test('nextTimeOfDay across time zones and DST; preference parsing and merging', () => {
  const cases = [
    { after: '2025-01-15T18:00:00Z', hhmm: '07:00', tz: 'UTC', want: '2025-01-16T07:00:00.000Z' },
    { after: '2025-01-15T05:00:00Z', hhmm: '07:00', tz: 'UTC', want: '2025-01-15T07:00:00.000Z' },
    { after: '2025-03-29T20:00:00Z', hhmm: '07:00', tz: 'Europe/Amsterdam', want: '2025-03-30T05:00:00.000Z' }, // spring forward: CEST
    { after: '2025-10-25T20:00:00Z', hhmm: '07:00', tz: 'Europe/Amsterdam', want: '2025-10-26T06:00:00.000Z' }, // fall back: CET
    { after: '2025-06-01T12:00:00Z', hhmm: '07:00', tz: 'America/New_York', want: '2025-06-02T11:00:00.000Z' },
  ];
  for (const c of cases) assert.equal(nextTimeOfDay(new Date(c.after), c.hhmm, c.tz).toISOString(), c.want, `${c.after} ${c.tz}`);
  assert.throws(() => parsePreferences({ departureTimeOfDay: '7:00' }, 'station'), PreferencesError);
  assert.throws(() => parsePreferences({ departureAt: '2025-01-01T07:00:00Z' }, 'evse'), PreferencesError);
  assert.throws(() => parsePreferences({ departureAt: '2025-01-01T07:00:00' }, 'session'), /time zone/);
  assert.throws(() => parsePreferences({ maxPowerW: -1 }, 'session'), PreferencesError);
  assert.deepEqual(parsePreferences({ departureAt: '2025-01-01T08:00:00+01:00', minSoc: 20, maxPowerW: null }, 'session'), { departureAt: '2025-01-01T07:00:00.000Z', minSoc: 20 });
  assert.deepEqual(mergePreferences({ energyNeedWh: 1, maxPowerW: 5 }, undefined, { energyNeedWh: 2 }), { energyNeedWh: 2, maxPowerW: 5 });
});

test('charging_station: parsing and EVSE power (seed 000 example: 3 × 220 V × 16 A)', () => {
  const seed = {
    uid: '5f69ad2c0ed5ca86d449cc93',
    evses: [
      { evse_id: 1, capabilities: ['CHARGING_PROFILE_CAPABLE'], connectors: [{ id: '1', power_type: 'AC_3_PHASE', max_voltage: 220, max_amperage: 16 }] },
      { evse_id: 2, capabilities: ['CHARGING_PROFILE_CAPABLE'], connectors: [{ id: '1', power_type: 'AC_1_PHASE', max_voltage: 220, max_amperage: 16 }, { id: '2', power_type: 'DC', max_voltage: 400, max_amperage: 125 }] },
    ],
  };
  const p = parseChargingStation(seed);
  assert.ok(p.ok);
  if (!p.ok) return;
  assert.deepEqual(evsePower(p.value, 1), { maxPowerW: 10_560, minPowerW: 3960, phases: 3, voltage: 220 });
  assert.deepEqual(evsePower(p.value, 2), { maxPowerW: 50_000, minPowerW: 0, phases: null, voltage: 400 }, 'the strongest connector');
  assert.equal(evsePower(p.value, 9).maxPowerW, 50_000, 'an EVSE not described: the station\'s strongest');
  const bad: Array<[unknown, RegExp]> = [
    [null, /object/],
    [{ uid: '', evses: [] }, /uid/],
    [{ uid: 'x', evses: [{ evse_id: 1, connectors: [] }] }, /connectors/],
    [{ uid: 'x', evses: [{ evse_id: 1, connectors: [{ id: 1, power_type: 'DC', max_voltage: 1, max_amperage: 1 }] }] }, /id/],
    [{ uid: 'x', evses: [{ evse_id: 1, connectors: [{ id: '1', power_type: 'DC', max_voltage: -1, max_amperage: 1 }] }] }, /max_voltage/],
    [{ uid: 'x', evses: [{ evse_id: 1, connectors: [{ id: '1', power_type: 'DC', max_voltage: 1, max_amperage: 1 }] }, { evse_id: 1, connectors: [{ id: '1', power_type: 'DC', max_voltage: 1, max_amperage: 1 }] }] }, /twice/],
  ];
  for (const [raw, re] of bad) {
    const r = parseChargingStation(raw);
    assert.ok(!r.ok && re.test(r.message), JSON.stringify(raw));
  }
});

test('ingest: the action table, normalisation and idempotency keys', () => {
  assert.equal(ingestAction('ocpp2.0.1', 'StartTransaction'), undefined);
  assert.equal(ingestAction('ocpp1.6', 'StartTransaction')?.schema.protocol, 'ocpp1.6');
  assert.equal(ingestAction('ocpp1.6', 'TransactionEvent')?.schema.protocol, 'ocpp2.0.1');
  assert.equal(ingestAction('ocpp2.0.1', 'toString'), undefined, 'no prototype lookups');
  const te = { eventType: 'Updated', timestamp: '2025-01-15T12:00:00+01:00', triggerReason: 'MeterValuePeriodic', seqNo: 4, transactionInfo: { transactionId: 'T1' }, meterValue: [{ timestamp: '2025-01-15T11:00:00Z', sampledValue: [{ value: 7.5, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'kWh' } }, { value: 3.2, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W', multiplier: 3 } }] }] };
  assert.deepEqual(ingestAction('ocpp2.0.1', 'TransactionEvent')!.events(te, 'x'), [
    { kind: 'transaction', eventType: 'Updated', timestamp: '2025-01-15T11:00:00.000Z', transactionId: 'T1', meter: { timestamp: '2025-01-15T11:00:00.000Z', energyWh: 7500, powerW: 3200 } },
  ]);
  const status = ingestAction('ocpp1.6', 'StatusNotification')!.events({ connectorId: 2, errorCode: 'NoError', status: 'Finishing' }, '2025-01-15T12:00:00.000Z');
  assert.deepEqual(status, [{ kind: 'status', evseId: 2, status: 'Finishing', chargingState: 'EVConnected', timestamp: '2025-01-15T12:00:00.000Z' }]);
  assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), canonicalJson({ a: [{ c: 3, d: 2 }], b: 1 }));
  const h = bodyHash('ocpp2.0.1', 'TransactionEvent', te);
  const key = (header: string | undefined, uid = 'u', body: unknown = te, action = 'TransactionEvent') => idempotencyKey({ header, pp: 'ocpp2.0.1', action, uid, body, hash: h }).key;
  assert.equal(key('abc'), 'h:abc');
  assert.equal(key(undefined), 'n:u:TransactionEvent:T1:4');
  assert.notEqual(key(undefined, 'u'), key(undefined, 'v'), 'per station');
  assert.equal(key(undefined, 'u', { evseId: 1, meterValue: [] }, 'MeterValues'), `c:u:${h}`);
});

test('sender: CPO answers → delivered / rejected / retry', () => {
  const cases: Array<[number, string]> = [[200, 'delivered'], [204, 'delivered'], [400, 'rejected'], [401, 'rejected'], [404, 'rejected'], [409, 'rejected'], [408, 'retry'], [429, 'retry'], [500, 'retry'], [503, 'retry'], [0, 'retry']];
  for (const [status, kind] of cases) assert.equal(classify({ status, body: undefined, text: '' }).kind, kind, String(status));
});

test('config: defaults, ports, validation', (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const c = loadScspConfig({ AMPLINE_SCSP_API_KEY: 'k'.repeat(12) }, { dataDir: dir });
  assert.equal(c.port, 8280);
  assert.equal(c.replanIntervalMs, 10_000);
  assert.equal(c.tokenTtlS, 3600);
  assert.deepEqual(c.defaults, DEFAULT_PREFERENCES);
  assert.equal(loadScspConfig({ AMPLINE_SCSP_API_KEY: 'k'.repeat(12), AMPLINE_SCSP_PORT: '9000' }, { dataDir: dir }).port, 9000);
  assert.equal(loadScspConfig({ AMPLINE_SCSP_API_KEY: 'k'.repeat(12), AMPLINE_SCSP_PORT: '9000' }, { dataDir: dir, port: 0 }).port, 0);
  const generated = loadScspConfig({}, { dataDir: dir });
  assert.equal(generated.apiKeyGenerated, true);
  assert.equal(loadScspConfig({}, { dataDir: dir }).apiKey, generated.apiKey, 'kept in the data directory');
  for (const [k, v] of [['AMPLINE_SCSP_PORT', '70000'], ['AMPLINE_SCSP_TIMEZONE', 'Nowhere/City'], ['AMPLINE_SCSP_API_KEY', 'short'], ['AMPLINE_SCSP_PUBLIC_URL', 'ftp://x'], ['AMPLINE_SCSP_TOKEN_TTL_S', '5']] as const) {
    assert.throws(() => loadScspConfig({ AMPLINE_SCSP_API_KEY: 'k'.repeat(12), [k]: v }, { dataDir: dir }), (e: Error) => e instanceof ScspConfigError && e.message.includes(k), k);
  }
});
