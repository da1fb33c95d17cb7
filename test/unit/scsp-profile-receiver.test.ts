/**
 * src/scsp-link/profile-receiver.ts: the SCSP's station-level SetChargingProfileRequest → one TxProfile
 * per EVSE with a transaction (rules R1–R10 in the file header). Pure, one row per rule.
 *
 * Period DSL: `'0:7000 1800:3000@1'` = period at 0 s limit 7000, period at 1800 s limit 3000 with
 * numberPhases 1. Profiles are rendered back into it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import {
  SCSP_PROFILE_ID_BASE,
  scspStackLevel,
  translateScspProfile,
  waterFill,
  type EvseFacts,
  type RefusalReason,
  type ScspProfileRequest,
  type StationFacts,
  type TargetProfile,
} from '../../src/scsp-link/profile-receiver.js';
import { validatePayload } from '../../src/ocpp/schemas.js';
import { isoToEpoch, type RateUnit } from '../../src/smart/units.js';

const NOW_ISO = '2024-03-01T10:00:00.000Z';
const NOW = isoToEpoch(NOW_ISO);
const iso = (offsetS: number): string => new Date(NOW + offsetS * 1000).toISOString();

function periods(dsl: string): Array<{ startPeriod: number; limit: number; numberPhases?: number }> {
  return dsl
    .trim()
    .split(/\s+/)
    .map((tok) => {
      const m = /^(\d+):([\d.]+)(?:@(\d))?$/.exec(tok);
      if (!m) throw new Error(`bad period ${tok}`);
      return { startPeriod: Number(m[1]), limit: Number(m[2]), ...(m[3] ? { numberPhases: Number(m[3]) } : {}) };
    });
}

function render(t: TargetProfile): string {
  const s = t.profile.chargingSchedule[0]!;
  return `${s.chargingRateUnit} ${s.chargingSchedulePeriod.map((p) => `${p.startPeriod}:${p.limit}${p.numberPhases === undefined ? '' : `@${p.numberPhases}`}`).join(' ')}`;
}

interface BodySpec {
  evseId?: number;
  unit?: RateUnit;
  periods: string;
  /** Seconds from NOW; `null` = no startSchedule. Default 0. */
  startAt?: number | null;
  purpose?: 'TxProfile' | 'TxDefaultProfile';
  kind?: 'Absolute' | 'Relative';
  transactionId?: string;
  validFrom?: string;
  validTo?: string;
  duration?: number;
  minChargingRate?: number;
}

/** What Jedlix sends in 2.0.1 (protocols.md §1.6). */
function body201(b: BodySpec): OCPP20.SetChargingProfileRequest {
  const kind = b.kind ?? 'Absolute';
  const startAt = b.startAt === undefined ? 0 : b.startAt;
  return {
    evseId: b.evseId ?? 0,
    chargingProfile: {
      id: 555,
      stackLevel: 1,
      chargingProfilePurpose: b.purpose ?? 'TxProfile',
      chargingProfileKind: kind,
      ...(b.transactionId !== undefined ? { transactionId: b.transactionId } : {}),
      ...(b.validFrom !== undefined ? { validFrom: b.validFrom } : {}),
      ...(b.validTo !== undefined ? { validTo: b.validTo } : {}),
      chargingSchedule: [
        {
          id: 1,
          chargingRateUnit: b.unit ?? 'W',
          ...(startAt !== null && kind !== 'Relative' ? { startSchedule: iso(startAt) } : {}),
          ...(b.duration !== undefined ? { duration: b.duration } : {}),
          ...(b.minChargingRate !== undefined ? { minChargingRate: b.minChargingRate } : {}),
          chargingSchedulePeriod: periods(b.periods),
        },
      ],
    },
  };
}

/** The same in the 1.6 shape (payload-protocol ocpp1.6). */
function body16(b: BodySpec): OCPP16.SetChargingProfileRequest {
  const two = body201(b);
  const cp = two.chargingProfile;
  const s = cp.chargingSchedule[0]!;
  const { id: _id, ...schedule } = s;
  return {
    connectorId: two.evseId,
    csChargingProfiles: {
      chargingProfileId: cp.id,
      stackLevel: cp.stackLevel,
      chargingProfilePurpose: cp.chargingProfilePurpose === 'TxDefaultProfile' ? 'TxDefaultProfile' : 'TxProfile',
      chargingProfileKind: cp.chargingProfileKind,
      ...(cp.transactionId !== undefined ? { transactionId: Number(cp.transactionId) } : {}),
      ...(cp.validFrom !== undefined ? { validFrom: cp.validFrom } : {}),
      ...(cp.validTo !== undefined ? { validTo: cp.validTo } : {}),
      chargingSchedule: schedule,
    },
  };
}

const evse = (evseId: number, over: Partial<EvseFacts> & { tx?: string; state?: string } = {}): EvseFacts => {
  const { tx, state, ...rest } = over;
  return { evseId, ...(tx !== undefined ? { transaction: { id: tx, ...(state !== undefined ? { chargingState: state } : {}) } } : {}), ...rest };
};

function facts(over: Partial<StationFacts> = {}): StationFacts {
  return {
    protocol: 'ocpp2.0.1',
    capabilities: { rateUnits: ['A', 'W'], maxPeriodsPerSchedule: 24, maxStackLevel: 8 },
    evses: [evse(1, { tx: 'T1', state: 'Charging' })],
    now: NOW,
    ...over,
  };
}

const A_ONLY = { rateUnits: ['A'] as RateUnit[], maxPeriodsPerSchedule: 24, maxStackLevel: 8 };
const W_ONLY = { rateUnits: ['W'] as RateUnit[], maxPeriodsPerSchedule: 24, maxStackLevel: 8 };

interface Case {
  name: string;
  req: ScspProfileRequest;
  facts?: Partial<StationFacts>;
  /** Expected per target EVSE: `evseId → 'unit dsl'`. */
  expect?: Record<number, string>;
  refusal?: RefusalReason;
  /** Extra checks on the targets. */
  check?: (targets: TargetProfile[]) => void;
}

const r201 = (b: BodySpec): ScspProfileRequest => ({ payloadProtocol: 'ocpp2.0.1', body: body201(b) });
const r16 = (b: BodySpec): ScspProfileRequest => ({ payloadProtocol: 'ocpp1.6', body: body16(b) });

const cases: Case[] = [
  // ── R3 targets ──
  {
    name: 'R3 EVSE 0 retargeted to the EVSE with the transaction, transactionId set, id 8000+evse, stack level 1',
    req: r201({ periods: '0:7000 3600:3000' }),
    expect: { 1: 'W 0:7000 3600:3000' },
    check: ([t]) => {
      assert.equal(t!.profile.evseId, 1);
      assert.equal(t!.profile.transactionId, 'T1');
      assert.equal(t!.profile.id, SCSP_PROFILE_ID_BASE + 1);
      assert.equal(t!.profile.stackLevel, 1);
      assert.equal(t!.profile.chargingProfilePurpose, 'TxProfile');
      assert.equal(t!.profile.chargingProfileKind, 'Absolute');
      assert.equal(t!.profile.chargingSchedule[0]!.startSchedule, NOW);
      assert.equal(t!.profile.validFrom, undefined, 'R10 no validFrom → immediate');
    },
  },
  {
    name: 'R3 the 1.6 body shape (connectorId 0, csChargingProfiles) to a 1.6 station: integer transaction id as text',
    req: r16({ periods: '0:7000' }),
    facts: { protocol: 'ocpp1.6', evses: [evse(1), evse(2, { tx: '42', state: 'Charging' })] },
    expect: { 2: 'W 0:7000' },
    check: ([t]) => assert.equal(t!.transactionId, '42'),
  },
  { name: 'R3 no transaction anywhere → NoTransaction', req: r201({ periods: '0:7000' }), facts: { evses: [evse(1), evse(2)] }, refusal: 'NoTransaction' },
  { name: 'R3 evseId 2 without a transaction → NoTransaction', req: r201({ evseId: 2, periods: '0:7000' }), facts: { evses: [evse(1, { tx: 'T1' }), evse(2)] }, refusal: 'NoTransaction' },
  { name: 'R3 evseId 3 does not exist → UnknownEvse', req: r201({ evseId: 3, periods: '0:7000' }), refusal: 'UnknownEvse' },
  {
    name: 'R3 evseId 2 given: only that EVSE, no split',
    req: r201({ evseId: 2, periods: '0:7000' }),
    facts: { evses: [evse(1, { tx: 'T1' }), evse(2, { tx: 'T2' })] },
    expect: { 2: 'W 0:7000' },
  },
  {
    name: 'R3 transactionId given: the EVSE of that transaction, no split',
    req: r201({ transactionId: 'T2', periods: '0:7000' }),
    facts: { evses: [evse(1, { tx: 'T1' }), evse(2, { tx: 'T2' })] },
    expect: { 2: 'W 0:7000' },
  },
  { name: 'R3 unknown transactionId → UnknownTransaction', req: r201({ transactionId: 'T9', periods: '0:7000' }), refusal: 'UnknownTransaction' },
  // ── R1, R2 ──
  { name: 'R1 TxDefaultProfile → NotTxProfile', req: r201({ purpose: 'TxDefaultProfile', periods: '0:7000' }), refusal: 'NotTxProfile' },
  { name: 'R2 K01.FR.31 first period not at 0 → InvalidSchedule', req: r201({ periods: '60:7000' }), refusal: 'InvalidSchedule' },
  { name: 'R2 K01.FR.35 startPeriods not increasing → InvalidSchedule', req: r201({ periods: '0:7000 900:5000 900:3000' }), refusal: 'InvalidSchedule' },
  {
    name: 'R2 minChargingRate dropped',
    req: r201({ periods: '0:7000', minChargingRate: 1400 }),
    expect: { 1: 'W 0:7000' },
    check: ([t]) => {
      assert.equal(t!.profile.chargingSchedule[0]!.minChargingRate, undefined);
      assert.ok(t!.adjustments.includes('minChargingRate dropped'));
    },
  },
  // ── R4 start ──
  {
    name: 'R4 K01.FR.40 no startSchedule → now (whole second)',
    req: r201({ periods: '0:7000', startAt: null }),
    facts: { now: (NOW + 456) as StationFacts['now'] },
    check: ([t]) => assert.equal(t!.profile.chargingSchedule[0]!.startSchedule, NOW),
  },
  {
    name: 'R4 a plan started an hour ago is re-based on the period in force',
    req: r201({ periods: '0:7000 1800:5000 3600:3000 5400:0', startAt: -3600 }),
    expect: { 1: 'W 0:3000 1800:0' },
    check: ([t]) => assert.equal(t!.profile.chargingSchedule[0]!.startSchedule, NOW),
  },
  {
    name: 'R4 re-basing shortens duration; a future start is kept as is',
    req: r201({ periods: '0:7000 1800:5000', startAt: -2000, duration: 7200 }),
    expect: { 1: 'W 0:5000' },
    check: ([t]) => {
      assert.equal(t!.profile.chargingSchedule[0]!.duration, 7200 - 1800);
      assert.equal(t!.profile.chargingSchedule[0]!.startSchedule, NOW - 200_000);
    },
  },
  { name: 'R4 a plan whose duration has run out → InvalidSchedule', req: r201({ periods: '0:7000', startAt: -7200, duration: 3600 }), refusal: 'InvalidSchedule' },
  {
    name: 'R4 Relative stays without startSchedule',
    req: r201({ kind: 'Relative', periods: '0:7000' }),
    check: ([t]) => {
      assert.equal(t!.profile.chargingProfileKind, 'Relative');
      assert.equal(t!.profile.chargingSchedule[0]!.startSchedule, undefined);
    },
  },
  // ── R5 split ──
  {
    name: 'R5 two charging EVSEs share equally',
    req: r201({ periods: '0:11000 3600:4000' }),
    facts: { evses: [evse(1, { tx: 'T1', state: 'Charging' }), evse(2, { tx: 'T2', state: 'Charging' })] },
    expect: { 1: 'W 0:5500 3600:2000', 2: 'W 0:5500 3600:2000' },
  },
  {
    name: 'R5 shares are floored to 0.1 and never add up to more than the limit',
    req: r201({ periods: '0:10000' }),
    facts: { evses: [1, 2, 3].map((n) => evse(n, { tx: `T${n}` })) },
    expect: { 1: 'W 0:3333.3', 2: 'W 0:3333.3', 3: 'W 0:3333.3' },
  },
  {
    name: 'R5 water-fill: a 1φ 6 A EVSE gets its 1380 W, the other the rest',
    req: r201({ periods: '0:11000' }),
    facts: { evses: [evse(1, { tx: 'T1', maxCurrentA: 6, phases: 1 }), evse(2, { tx: 'T2', maxCurrentA: 32, phases: 3 })] },
    expect: { 1: 'W 0:1380', 2: 'W 0:9620' },
  },
  {
    name: 'R5 an EV that declines energy (SuspendedEV) gets 0, the charging one all',
    req: r201({ periods: '0:11000' }),
    facts: { evses: [evse(1, { tx: 'T1', state: 'SuspendedEV' }), evse(2, { tx: 'T2', state: 'Charging' })] },
    expect: { 1: 'W 0:0', 2: 'W 0:11000' },
  },
  {
    name: 'R5 SuspendedEVSE (held back by the station) still counts as wanting energy',
    req: r201({ periods: '0:11000' }),
    facts: { evses: [evse(1, { tx: 'T1', state: 'SuspendedEVSE' }), evse(2, { tx: 'T2', state: 'Charging' })] },
    expect: { 1: 'W 0:5500', 2: 'W 0:5500' },
  },
  {
    name: 'R5 no EV wants energy: all transactions share',
    req: r201({ periods: '0:11000' }),
    facts: { evses: [evse(1, { tx: 'T1', state: 'SuspendedEV' }), evse(2, { tx: 'T2', state: 'SuspendedEV' })] },
    expect: { 1: 'W 0:5500', 2: 'W 0:5500' },
  },
  {
    name: 'R5 the site limit caps the station total before the split',
    req: r201({ periods: '0:22000 3600:4000' }),
    facts: { evses: [evse(1, { tx: 'T1' }), evse(2, { tx: 'T2' })], siteLimit: { limit: 7000, unit: 'W' } },
    expect: { 1: 'W 0:3500 3600:2000', 2: 'W 0:3500 3600:2000' },
  },
  // ── R6 unit ──
  {
    name: 'R6 W → A on a station that only takes A: 11 kW 3φ 230 V → 15.9 A',
    req: r201({ periods: '0:11000 3600:7000' }),
    facts: { capabilities: A_ONLY },
    expect: { 1: 'A 0:15.9 3600:10.1' },
  },
  {
    name: 'R6 W → A on a 1φ EVSE: 3680 W → 16 A, numberPhases 1',
    req: r201({ periods: '0:3680' }),
    facts: { capabilities: A_ONLY, evses: [evse(1, { tx: 'T1', phases: 1 })] },
    expect: { 1: 'A 0:16@1' },
  },
  {
    name: 'R6 W → A with the period numberPhases 1 on a 3φ EVSE',
    req: r201({ periods: '0:7360@1' }),
    facts: { capabilities: A_ONLY },
    expect: { 1: 'A 0:32@1' },
  },
  {
    name: 'R6 W → A uses the EVSE voltage (line-to-neutral)',
    req: r201({ periods: '0:6600' }),
    facts: { capabilities: A_ONLY, evses: [evse(1, { tx: 'T1', voltageV: 220 })] },
    expect: { 1: 'A 0:10' },
  },
  {
    name: 'R6 DC EVSE taking only A: A = W / V of the output, no phases, no 6 A minimum',
    req: r201({ periods: '0:40000 900:2000' }),
    facts: { capabilities: A_ONLY, evses: [evse(1, { tx: 'T1', dc: true, voltageV: 400, maxCurrentA: 125 })] },
    expect: { 1: 'A 0:100 900:5' },
  },
  {
    name: 'R6 below 6 A per phase → 0 (pause)',
    req: r201({ periods: '0:3000 900:4140' }),
    facts: { capabilities: A_ONLY },
    expect: { 1: 'A 0:0 900:6' },
  },
  {
    name: 'R6 W kept when the station takes W (1.6 Power)',
    req: r16({ periods: '0:11000' }),
    facts: { protocol: 'ocpp1.6', capabilities: W_ONLY, evses: [evse(1, { tx: '7' })] },
    expect: { 1: 'W 0:11000' },
  },
  {
    name: 'R6 A → W on a station that only takes W: 16 A 3φ → 11040 W',
    req: r201({ unit: 'A', periods: '0:16' }),
    facts: { capabilities: W_ONLY },
    expect: { 1: 'W 0:11040' },
  },
  {
    name: 'R5+R6 two EVSEs on an A-only station: 11 kW shared, then converted',
    req: r201({ periods: '0:11000' }),
    facts: { capabilities: A_ONLY, evses: [evse(1, { tx: 'T1' }), evse(2, { tx: 'T2' })] },
    expect: { 1: 'A 0:7.9', 2: 'A 0:7.9' },
  },
  // ── R7 clamp ──
  {
    name: 'R7 A clamped to the connector maximum',
    req: r201({ periods: '0:22000 3600:7000' }),
    facts: { capabilities: A_ONLY, evses: [evse(1, { tx: 'T1', maxCurrentA: 16 })] },
    expect: { 1: 'A 0:16 3600:10.1' },
    check: ([t]) => assert.ok(t!.adjustments.some((a) => a.includes('clamped'))),
  },
  {
    name: 'R7 W clamped to max A × phases × V',
    req: r201({ periods: '0:22000' }),
    facts: { evses: [evse(1, { tx: 'T1', maxCurrentA: 16 })] },
    expect: { 1: 'W 0:11040' },
  },
  // ── R8 periods ──
  {
    name: 'R8 periods equal after conversion are merged',
    req: r201({ periods: '0:11000 900:11001 1800:2000 2700:3000' }),
    facts: { capabilities: A_ONLY },
    expect: { 1: 'A 0:15.9 1800:0' },
  },
  {
    name: 'R8 truncated to the station maximum: the first periods kept',
    req: r201({ periods: Array.from({ length: 30 }, (_, i) => `${i * 900}:${1000 + i * 100}`).join(' ') }),
    facts: { capabilities: { rateUnits: ['W'], maxPeriodsPerSchedule: 24, maxStackLevel: 8 } },
    check: ([t]) => {
      const s = t!.profile.chargingSchedule[0]!;
      assert.equal(s.chargingSchedulePeriod.length, 24);
      assert.equal(s.chargingSchedulePeriod[23]!.startPeriod, 23 * 900);
      assert.equal(s.duration, undefined, 'no duration invented');
    },
  },
  // ── R9, R10 ──
  {
    name: 'R9 the same id for every plan on an EVSE, whatever id the SCSP used',
    req: r201({ periods: '0:7000' }),
    facts: { evses: [evse(3, { tx: 'T3' })] },
    check: ([t]) => assert.equal(t!.profile.id, 8003),
  },
  {
    name: 'R9 stack level below a station maximum of 1',
    req: r201({ periods: '0:7000' }),
    facts: { capabilities: { rateUnits: ['W'], maxPeriodsPerSchedule: 24, maxStackLevel: 1 } },
    check: ([t]) => assert.equal(t!.profile.stackLevel, 0),
  },
  {
    name: 'R10 validFrom and validTo kept',
    req: r201({ periods: '0:7000', validFrom: iso(600), validTo: iso(7200) }),
    check: ([t]) => {
      assert.equal(t!.profile.validFrom, NOW + 600_000);
      assert.equal(t!.profile.validTo, NOW + 7_200_000);
    },
  },
];

describe('translateScspProfile', () => {
  for (const c of cases) {
    test(c.name, () => {
      // Every request row is a schema-valid body of its version (what the route lets through).
      const v = validatePayload(c.req.payloadProtocol, 'SetChargingProfile', 'req', c.req.body);
      assert.ok(v.ok, v.ok ? '' : v.message);
      const res = translateScspProfile(c.req, facts(c.facts));
      if (c.refusal) {
        assert.equal(res.ok, false, `expected refusal ${c.refusal}`);
        if (!res.ok) {
          assert.equal(res.reason, c.refusal);
          assert.ok(res.message.length > 0);
        }
        return;
      }
      assert.ok(res.ok, res.ok ? '' : `${res.reason}: ${res.message}`);
      if (!res.ok) return;
      if (c.expect) {
        assert.deepEqual(Object.fromEntries(res.targets.map((t) => [t.evseId, render(t)])), Object.fromEntries(Object.entries(c.expect)));
      }
      for (const t of res.targets) {
        assert.equal(t.profile.id, SCSP_PROFILE_ID_BASE + t.evseId);
        assert.equal(t.profile.transactionId, t.transactionId);
        assert.equal(t.profile.chargingSchedule.length, 1);
      }
      c.check?.(res.targets);
    });
  }
});

describe('waterFill', () => {
  const rows: Array<{ name: string; total: number; caps: Array<number | undefined>; shares: number[] }> = [
    { name: 'no caps: equal', total: 9000, caps: [undefined, undefined, undefined], shares: [3000, 3000, 3000] },
    { name: 'one capped below the share, the rest to the others', total: 9000, caps: [1000, undefined, undefined], shares: [1000, 4000, 4000] },
    { name: 'cascading caps', total: 9000, caps: [1000, 3000, undefined], shares: [1000, 3000, 5000] },
    { name: 'more than all caps: each at its cap', total: 9000, caps: [1000, 2000], shares: [1000, 2000] },
    { name: 'zero total', total: 0, caps: [undefined, 5], shares: [0, 0] },
    { name: 'floored to 0.1', total: 100, caps: [undefined, undefined, undefined], shares: [33.3, 33.3, 33.3] },
  ];
  for (const r of rows) {
    test(r.name, () => assert.deepEqual(waterFill(r.total, r.caps), r.shares));
  }
});

describe('scspStackLevel', () => {
  for (const [max, level] of [
    [8, 1],
    [2, 1],
    [1, 0],
    [0, 0],
  ] as const) {
    test(`station maximum ${max} → ${level}`, () => assert.equal(scspStackLevel(max), level));
  }
});
