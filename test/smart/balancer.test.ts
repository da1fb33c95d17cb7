/**
 * src/smart/balancer.ts: site load balancing (protocols.md §5.3) — hand-computed scenarios, seeded
 * property tests of the invariants, the offline fallback, and a 1,000-session timing check.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocationProfile,
  balance,
  fallbackLimits,
  fallbackProfile,
  sessionMaxA,
  type BalancerParams,
  type BalancerSession,
  type SiteGroup,
  type StationEvses,
  type TickResult,
} from '../../src/smart/balancer.js';
import { compositeSchedule } from '../../src/smart/composite.js';
import { validateProfile } from '../../src/smart/validate.js';
import { PHASES, amps, epochMs, seconds, volts, watts, type Amps, type Phase } from '../../src/smart/units.js';
import { at, int, pick, render, rng } from './helpers.js';

const NOW = at('2024-03-01T10:00:00Z');
const ago = (s: number) => epochMs(NOW - s * 1000);
const perPhase = (l1: number, l2 = l1, l3 = l1) => ({ L1: amps(l1), L2: amps(l2), L3: amps(l3) });
const P3: Phase[] = ['L1', 'L2', 'L3'];

const PARAMS: BalancerParams = { hysteresisA: amps(1), minChangeA: amps(0), rotationPeriodS: seconds(900), reclaimThresholdA: amps(2) };

function group(o: Partial<SiteGroup> & { fuse?: number | [number, number, number]; base?: [number, number, number]; marginA?: number } = {}): SiteGroup {
  const fuse = o.fuse ?? 32;
  const [f1, f2, f3] = typeof fuse === 'number' ? [fuse, fuse, fuse] : fuse;
  const [b1, b2, b3] = o.base ?? [0, 0, 0];
  return {
    id: 'site',
    limit: { kind: 'perPhase', limitA: perPhase(f1, f2, f3), marginA: amps(o.marginA ?? 0) },
    voltage: volts(230),
    baseLoad: { perPhaseA: perPhase(b1, b2, b3), at: NOW },
    maxBaseLoadAgeS: seconds(60),
    fallbackBaseLoadA: perPhase(10),
    ...o,
  };
}

type SessionSpec = Partial<Omit<BalancerSession, 'max' | 'priority'>> & {
  key: string;
  max?: Partial<BalancerSession['max']>;
  priority?: Partial<BalancerSession['priority']>;
};
function session(s: SessionSpec): BalancerSession {
  return {
    phases: P3,
    minA: amps(6),
    currentA: amps(0),
    stateSince: ago(3600),
    ...s,
    max: { evseA: amps(32), ...s.max },
    priority: { arrival: ago(3600), ...s.priority },
  };
}

interface Scenario {
  name: string;
  group?: SiteGroup;
  sessions: BalancerSession[];
  params?: Partial<BalancerParams>;
  /** key → allocated A */
  expect: Record<string, number>;
  /** keys expected to be sent */
  send?: string[];
  minimumsFit?: boolean;
  check?: (r: TickResult) => void;
}

const scenarios: Scenario[] = [
  {
    name: 'all minimums fit: 32 A shared equally by two 3φ EVs',
    sessions: [session({ key: 'a' }), session({ key: 'b' })],
    expect: { a: 16, b: 16 },
    send: ['a', 'b'],
    minimumsFit: true,
  },
  {
    name: 'water-fill up to each maximum: a (max 10) 10, b takes the rest 22',
    sessions: [session({ key: 'a', max: { evseA: amps(10) } }), session({ key: 'b' })],
    expect: { a: 10, b: 22 },
  },
  {
    name: 'maximum = min(EVSE 32, cable 20, EV 16, SCSP plan 13) = 13',
    sessions: [session({ key: 'a', max: { evseA: amps(32), cableA: amps(20), evA: amps(16), planA: amps(13) } })],
    expect: { a: 13 },
  },
  {
    name: 'per-phase accounting: 1φ EVs on L1 and L2 and a 3φ EV on a 16 A fuse → 8 / 8 / 8',
    group: group({ fuse: 16 }),
    sessions: [session({ key: 'a', phases: ['L1'] }), session({ key: 'b', phases: ['L2'] }), session({ key: 'c' })],
    expect: { a: 8, b: 8, c: 8 },
  },
  {
    name: 'per-phase accounting: a 1φ EV on L1 cannot use L2/L3 headroom; L1 shared 10 / 10',
    group: group({ fuse: 20 }),
    sessions: [session({ key: 'a', phases: ['L1'] }), session({ key: 'c' })],
    expect: { a: 10, c: 10 },
  },
  {
    name: 'per-phase accounting: the 3φ EV is held by L1 while 1φ EVs on L2/L3 fill their phases',
    group: group({ fuse: 20 }),
    sessions: [session({ key: 'a', phases: ['L1'] }), session({ key: 'b', phases: ['L2'] }), session({ key: 'c' })],
    // L1: a + c ≤ 20 and L2: b + c ≤ 20 tie at level 10; L3 keeps 10 spare
    expect: { a: 10, b: 10, c: 10 },
  },
  {
    name: 'base load 10 A on L1 and margin 2 A: budget L1 20 → a 3φ EV gets 20',
    group: group({ base: [10, 0, 0], marginA: 2 }),
    sessions: [session({ key: 'a' })],
    expect: { a: 20 },
    check: (r) => {
      assert.deepEqual(r.budget.perPhaseA, { L1: 20, L2: 30, L3: 30 });
      assert.equal(r.baseLoad, 'measured');
    },
  },
  {
    name: 'stale base-load reading counts as overloaded: static budget 32 − 10 = 22',
    group: group({ baseLoad: { perPhaseA: perPhase(0), at: ago(120) } }),
    sessions: [session({ key: 'a' })],
    expect: { a: 22 },
    check: (r) => assert.equal(r.baseLoad, 'stale-fallback'),
  },
  {
    name: 'no base-load reading at all: static budget',
    group: { ...group(), baseLoad: undefined },
    sessions: [session({ key: 'a' })],
    expect: { a: 22 },
  },
  {
    name: 'total power 22 080 W at 230 V = 96 phase-A: 1φ + 3φ EVs → 24 A each (24 + 3 × 24 = 96)',
    group: group({ limit: { kind: 'totalPower', limitW: watts(22_080), marginW: watts(0) } }),
    sessions: [session({ key: 'a', phases: ['L2'] }), session({ key: 'b' })],
    expect: { a: 24, b: 24 },
    check: (r) => assert.equal(r.budget.totalPhaseA, 96),
  },
  {
    name: 'total power minus base load: (22 080 − 5 A × 230 V) / 230 = 91 phase-A → 3φ EV 30.3 A',
    group: group({ limit: { kind: 'totalPower', limitW: watts(22_080), marginW: watts(0) }, base: [5, 0, 0] }),
    sessions: [session({ key: 'a' })],
    expect: { a: 30.3 },
  },
  {
    name: 'minimums do not fit (16 A for three EVs): earliest departures first at their share, the third paused',
    group: group({ fuse: 16 }),
    sessions: [
      session({ key: 'a', priority: { departure: at('2024-03-01T12:00:00Z') } }),
      session({ key: 'b', priority: { departure: at('2024-03-01T11:00:00Z') } }),
      session({ key: 'c' }),
    ],
    expect: { a: 8, b: 8, c: 0 },
    send: ['a', 'b'],
    minimumsFit: false,
    check: (r) => assert.equal(r.allocations.find((x) => x.key === 'c')?.pausedBecause, 'NoCapacity'),
  },
  {
    name: 'rotation: a running session past its 900 s slot yields to the longest-waiting one',
    group: group({ fuse: 10 }),
    sessions: [
      session({ key: 'a', currentA: amps(10), stateSince: ago(1000) }),
      session({ key: 'b', stateSince: ago(1000) }),
      session({ key: 'c', stateSince: ago(500) }),
    ],
    expect: { a: 0, b: 10, c: 0 },
    send: ['a', 'b'],
    check: (r) => {
      const [a, b, c] = r.allocations;
      assert.equal(a?.change, 'pause');
      assert.equal(a?.stateSince, NOW);
      assert.equal(b?.change, 'start');
      assert.equal(b?.stateSince, NOW);
      assert.equal(c?.stateSince, ago(500));
    },
  },
  {
    name: 'rotation: a running session inside its slot keeps it',
    group: group({ fuse: 10 }),
    sessions: [session({ key: 'a', currentA: amps(10), stateSince: ago(300) }), session({ key: 'b', stateSince: ago(1000) })],
    expect: { a: 10, b: 0 },
    send: [],
  },
  {
    name: 'priority level beats the rotation slot',
    group: group({ fuse: 10 }),
    sessions: [session({ key: 'a', currentA: amps(10), stateSince: ago(300) }), session({ key: 'b', priority: { level: 1 } })],
    expect: { a: 0, b: 10 },
  },
  {
    name: 'hysteresis: a paused EV needs min + 1 A; 12.5 A leaves 6.5 after the running EV → stays paused',
    group: group({ fuse: 12.5 }),
    sessions: [session({ key: 'a', currentA: amps(6), stateSince: ago(60), max: { evseA: amps(6) } }), session({ key: 'b' })],
    expect: { a: 6, b: 0 },
  },
  {
    name: 'hysteresis: with 13 A there is min + 1 for the paused EV → it resumes',
    group: group({ fuse: 13 }),
    sessions: [session({ key: 'a', currentA: amps(6), stateSince: ago(60), max: { evseA: amps(6) } }), session({ key: 'b' })],
    expect: { a: 6, b: 7 },
  },
  {
    name: 'hysteresis: a running EV keeps running at exactly its minimum, a paused one would not start',
    group: group({ fuse: 6 }),
    sessions: [session({ key: 'a', currentA: amps(6), stateSince: ago(60) }), session({ key: 'b', phases: ['L1'], priority: { level: -1 } })],
    expect: { a: 6, b: 0 },
  },
  {
    name: 'reclaim: a draws 4 of its 16 A → capped at 4 + 2 × 2 = 8; b gets the rest in the same tick (24)',
    sessions: [session({ key: 'a', currentA: amps(16), measuredA: amps(4) }), session({ key: 'b', currentA: amps(16), measuredA: amps(16) })],
    expect: { a: 8, b: 24 },
    check: (r) => assert.equal(r.allocations[0]?.effectiveMaxA, 8),
  },
  {
    name: 'reclaim never goes below the minimum: draw 0 → 6',
    sessions: [session({ key: 'a', currentA: amps(16), measuredA: amps(0) }), session({ key: 'b', currentA: amps(16) })],
    expect: { a: 6, b: 26 },
  },
  {
    name: 'no reclaim when the draw is within the threshold (16 − 15 ≤ 2)',
    sessions: [session({ key: 'a', currentA: amps(16), measuredA: amps(15) }), session({ key: 'b', currentA: amps(16) })],
    expect: { a: 16, b: 16 },
    send: [],
  },
  {
    name: 'minChangeA 1: a 0.5 A increase is not sent',
    group: group({ fuse: 16 }),
    params: { minChangeA: amps(1) },
    sessions: [session({ key: 'a', currentA: amps(15.5), stateSince: ago(60) })],
    expect: { a: 15.5 },
    send: [],
    check: (r) => assert.equal(r.allocations[0]?.targetA, 16),
  },
  {
    name: 'minChangeA 1: a 0.4 A decrease that would overload is sent',
    group: group({ fuse: 15.6 }),
    params: { minChangeA: amps(1) },
    sessions: [session({ key: 'a', currentA: amps(16), stateSince: ago(60) })],
    expect: { a: 15.6 },
    send: ['a'],
  },
  {
    name: 'minChangeA 1: a small decrease is kept when a kept small increase makes room (nothing sent)',
    group: group({ fuse: 20 }),
    params: { minChangeA: amps(1) },
    sessions: [session({ key: 'a', currentA: amps(10.4), stateSince: ago(60) }), session({ key: 'b', currentA: amps(9.6), stateSince: ago(60) })],
    expect: { a: 10.4, b: 9.6 },
    send: [],
  },
  {
    name: 'SCSP plan 0 (max below the minimum) ⇒ paused; the other EV gets everything',
    sessions: [session({ key: 'a', currentA: amps(16), max: { planA: amps(0) } }), session({ key: 'b', currentA: amps(16) })],
    expect: { a: 0, b: 32 },
    check: (r) => assert.equal(r.allocations[0]?.pausedBecause, 'MaxBelowMinimum'),
  },
  {
    name: 'base load above the fuse on L1 ⇒ every EV on L1 paused',
    group: group({ base: [40, 0, 0] }),
    sessions: [session({ key: 'a', currentA: amps(16) }), session({ key: 'b', phases: ['L1'], currentA: amps(16) })],
    expect: { a: 0, b: 0 },
  },
  {
    name: 'a 1φ EV on a full phase waits while a 1φ EV on another phase runs',
    group: group({ base: [27, 0, 0] }),
    sessions: [session({ key: 'a', phases: ['L1'] }), session({ key: 'b', phases: ['L2'] })],
    expect: { a: 0, b: 32 },
  },
];

describe('balance: scenarios', () => {
  for (const s of scenarios) {
    test(s.name, () => {
      const r = balance(s.group ?? group(), s.sessions, { ...PARAMS, ...s.params }, NOW);
      assert.deepEqual(Object.fromEntries(r.allocations.map((a) => [a.key, a.allocatedA])), s.expect);
      if (s.send !== undefined) assert.deepEqual(r.allocations.filter((a) => a.send).map((a) => a.key), s.send);
      if (s.minimumsFit !== undefined) assert.equal(r.minimumsFit, s.minimumsFit);
      s.check?.(r);
    });
  }
  test('sessionMaxA takes the smallest given source', () => {
    assert.equal(sessionMaxA({ evseA: amps(32) }), 32);
    assert.equal(sessionMaxA({ evseA: amps(32), evA: amps(20), planA: amps(24) }), 20);
  });
});

// ───────────────────────────── property tests ─────────────────────────────

function randomGroup(r: () => number): SiteGroup {
  const total = r() < 0.3;
  return {
    id: 'g',
    limit: total
      ? { kind: 'totalPower', limitW: watts(int(r, 10, 200) * 1000), marginW: watts(int(r, 0, 2000)) }
      : { kind: 'perPhase', limitA: perPhase(int(r, 10, 250), int(r, 10, 250), int(r, 10, 250)), marginA: amps(int(r, 0, 5)) },
    voltage: volts(pick(r, [230, 220])),
    baseLoad: { perPhaseA: perPhase(int(r, 0, 400) / 10, int(r, 0, 400) / 10, int(r, 0, 400) / 10), at: epochMs(NOW - int(r, 0, 90) * 1000) },
    maxBaseLoadAgeS: seconds(60),
    fallbackBaseLoadA: perPhase(int(r, 0, 60), int(r, 0, 60), int(r, 0, 60)),
  };
}

function randomSession(r: () => number, key: string): BalancerSession {
  const phases: Phase[] = r() < 0.35 ? [pick(r, PHASES)] : P3;
  const current = r() < 0.4 ? 0 : int(r, 60, 320) / 10;
  const s: BalancerSession = {
    key,
    phases,
    minA: amps(pick(r, [6, 6, 6, 8])),
    max: { evseA: amps(pick(r, [16, 32])) },
    priority: { arrival: epochMs(NOW - int(r, 0, 36_000) * 1000) },
    currentA: amps(current),
    stateSince: epochMs(NOW - int(r, 0, 3600) * 1000),
  };
  if (r() < 0.3) s.max.evA = amps(int(r, 0, 320) / 10);
  if (r() < 0.2) s.max.planA = amps(pick(r, [0, 6, 10, 16]));
  if (r() < 0.5 && current > 0) s.measuredA = amps(int(r, 0, current * 10) / 10);
  if (r() < 0.5) s.priority.departure = epochMs(NOW + int(r, 600, 36_000) * 1000);
  if (r() < 0.1) s.priority.level = int(r, 0, 2);
  return s;
}

function randomParams(r: () => number): BalancerParams {
  return {
    hysteresisA: amps(pick(r, [0, 0.5, 1, 2])),
    minChangeA: amps(pick(r, [0, 0, 0.5, 1])),
    rotationPeriodS: seconds(pick(r, [0, 300, 900])),
    reclaimThresholdA: amps(pick(r, [1, 2, 3])),
  };
}

/** Load per constraint (per phase, or phase-amperes for a total limit) and its budget. */
function loads(g: SiteGroup, ss: readonly BalancerSession[], alloc: ReadonlyMap<string, number>, r: TickResult) {
  /** `flooring`: the most the 0.1 A flooring can leave unused on this budget (0.1 × Σ member weights). */
  const out: Array<{ name: string; load: number; budget: number; members: string[]; flooring: number }> = [];
  if (r.budget.perPhaseA !== undefined) {
    for (const ph of PHASES) {
      const members = ss.filter((s) => s.phases.includes(ph)).map((s) => s.key);
      out.push({ name: ph, load: members.reduce((x, k) => x + alloc.get(k)!, 0), budget: r.budget.perPhaseA[ph], members, flooring: 0.1 * members.length });
    }
  }
  if (r.budget.totalPhaseA !== undefined) {
    out.push({
      name: 'total',
      load: ss.reduce((x, s) => x + alloc.get(s.key)! * s.phases.length, 0),
      budget: r.budget.totalPhaseA,
      members: ss.map((s) => s.key),
      flooring: 0.1 * ss.reduce((x, s) => x + s.phases.length, 0),
    });
  }
  // the budget itself is limit − base − margin (base = fallback when stale)
  const stale = g.baseLoad === undefined || NOW - g.baseLoad.at > g.maxBaseLoadAgeS * 1000;
  assert.equal(r.baseLoad, stale ? 'stale-fallback' : 'measured');
  return out;
}

function checkInvariants(g: SiteGroup, ss: readonly BalancerSession[], params: BalancerParams, r: TickResult, tag: string): void {
  const alloc = new Map(r.allocations.map((a) => [a.key, a.allocatedA as number]));
  assert.deepEqual(r.allocations.map((a) => a.key), ss.map((s) => s.key).sort(), `${tag}: one allocation per session, sorted`);
  for (const s of ss) {
    const a = alloc.get(s.key)!;
    assert.ok(a === 0 || a >= s.minA - 1e-9, `${tag}: ${s.key} = ${a} is neither 0 nor ≥ min ${s.minA}`);
    assert.ok(a <= sessionMaxA(s.max) + 1e-9, `${tag}: ${s.key} = ${a} above its max ${sessionMaxA(s.max)}`);
    assert.ok(Math.abs(a * 10 - Math.round(a * 10)) < 1e-6, `${tag}: ${s.key} = ${a} not a multiple of 0.1`);
  }
  const cons = loads(g, ss, alloc, r);
  // Σ ≤ limit − base − margin; when the base load alone exceeds the limit, EVs can only go to 0.
  for (const c of cons) assert.ok(c.load <= Math.max(0, c.budget) + 1e-6, `${tag}: ${c.name} load ${c.load} > budget ${c.budget}`);
  // Work conservation (freed capacity is reassigned in the same tick): with no change suppression every
  // running session is at its effective max or sits on a budget that is full up to the 0.1 A flooring.
  if (params.minChangeA === 0) {
    for (const a of r.allocations) {
      if (a.allocatedA === 0 || a.allocatedA >= a.effectiveMaxA - 0.1 - 1e-9) continue;
      const blocked = cons.some((c) => c.members.includes(a.key) && c.budget - c.load < c.flooring + 1e-6);
      assert.ok(blocked, `${tag}: ${a.key} at ${a.allocatedA} < max ${a.effectiveMaxA} with spare capacity ${JSON.stringify(cons)}`);
    }
  }
}

describe('balance: invariants on random sites (seeded)', () => {
  test('1 000 random ticks: per-phase/total ≤ budget, 0 or ≥ min, ≤ max, multiples of 0.1, work-conserving', () => {
    const r = rng(20240301);
    for (let n = 0; n < 1000; n++) {
      const g = randomGroup(r);
      const ss = Array.from({ length: int(r, 0, 12) }, (_, i) => randomSession(r, `s${String(i).padStart(2, '0')}`));
      const params = randomParams(r);
      checkInvariants(g, ss, params, balance(g, ss, params, NOW), `case ${n}`);
    }
  });

  test('deterministic: same input → same output, whatever the order of the sessions', () => {
    const r = rng(7);
    for (let n = 0; n < 300; n++) {
      const g = randomGroup(r);
      const ss = Array.from({ length: int(r, 1, 10) }, (_, i) => randomSession(r, `k${i}`));
      const params = randomParams(r);
      const once = balance(g, ss, params, NOW);
      assert.deepEqual(balance(g, ss, params, NOW), once);
      const shuffled = [...ss].sort(() => r() - 0.5);
      assert.deepEqual(balance(g, shuffled, params, NOW), once, `case ${n}`);
    }
  });

  test('stable: applying a tick’s result and ticking again at the same instant sends nothing', () => {
    const r = rng(99);
    for (let n = 0; n < 300; n++) {
      const g = randomGroup(r);
      const params = randomParams(r);
      const ss = Array.from({ length: int(r, 1, 10) }, (_, i) => randomSession(r, `k${i}`)).map((s) => ({ ...s, measuredA: undefined }));
      const first = balance(g, ss, params, NOW);
      const applied = ss.map((s) => {
        const a = first.allocations.find((x) => x.key === s.key)!;
        return { ...s, currentA: a.allocatedA, stateSince: a.stateSince };
      });
      const second = balance(g, applied, params, NOW);
      assert.deepEqual(second.allocations.filter((a) => a.send).map((a) => a.key), [], `case ${n}`);
    }
  });

  test('multi-tick runs with arrivals, departures and base-load swings: invariants every tick; departures freed in the same tick', () => {
    const r = rng(4242);
    for (let run = 0; run < 25; run++) {
      const g0 = randomGroup(r);
      const params = { ...randomParams(r), minChangeA: amps(0) };
      let ss: BalancerSession[] = [];
      let next = 0;
      for (let tick = 0; tick < 60; tick++) {
        const now = epochMs(NOW + tick * 30_000);
        const g: SiteGroup = { ...g0, baseLoad: { perPhaseA: perPhase(int(r, 0, 300) / 10, int(r, 0, 300) / 10, int(r, 0, 300) / 10), at: now } };
        if (r() < 0.3) ss.push({ ...randomSession(r, `n${String(next++).padStart(3, '0')}`), currentA: amps(0), stateSince: now, measuredA: undefined });
        if (r() < 0.15 && ss.length > 0) ss.splice(int(r, 0, ss.length - 1), 1);
        const res = balance(g, ss, params, now);
        // re-express the invariants at this tick's `now`
        checkInvariants({ ...g, baseLoad: { ...g.baseLoad!, at: NOW } }, ss, params, res, `run ${run} tick ${tick}`);
        ss = ss.map((s) => {
          const a = res.allocations.find((x) => x.key === s.key)!;
          const drawn = a.allocatedA === 0 ? 0 : Math.min(a.allocatedA, int(r, 0, 400) / 10);
          return { ...s, currentA: a.allocatedA, stateSince: a.stateSince, measuredA: amps(drawn) };
        });
      }
    }
  });

  test('rotation is fair: with room for one EV, three EVs each run one slot in turn', () => {
    let ss = ['a', 'b', 'c'].map((key) => session({ key, stateSince: NOW, priority: { arrival: NOW } }));
    const runner: string[] = [];
    for (let slot = 0; slot < 6; slot++) {
      const now = epochMs(NOW + slot * 900_000);
      const g = group({ fuse: 10, baseLoad: { perPhaseA: perPhase(0), at: now } });
      const res = balance(g, ss, PARAMS, now);
      const running = res.allocations.filter((a) => a.allocatedA > 0).map((a) => a.key);
      assert.equal(running.length, 1);
      runner.push(running[0]!);
      ss = ss.map((s) => {
        const a = res.allocations.find((x) => x.key === s.key)!;
        return { ...s, currentA: a.allocatedA, stateSince: a.stateSince };
      });
    }
    assert.deepEqual(runner, ['a', 'b', 'c', 'a', 'b', 'c']);
  });
});

describe('offline fallback', () => {
  const g = group({ marginA: 2, fallbackBaseLoadA: perPhase(8) }); // budget 32 − 8 − 2 = 22 A per phase
  const threePhase = (stationId: string, n: number): StationEvses => ({ stationId, evses: Array.from({ length: n }, (_, i) => ({ evseId: i + 1, phases: P3 })) });
  const cases: Array<{ name: string; group: SiteGroup; stations: StationEvses[]; limits: number[] }> = [
    { name: '22 A budget, three 3φ EVSEs → 7.33 → 7.3 A each', group: g, stations: [threePhase('s1', 2), threePhase('s2', 1)], limits: [7.3, 7.3, 7.3] },
    { name: '22 A budget, four 3φ EVSEs → 5.5 A < 6 → 0 (paused, never a non-executable limit)', group: g, stations: [threePhase('s1', 4)], limits: [0, 0, 0, 0] },
    {
      name: 'per phase: 1φ L1, 1φ L2, 1φ L1, 3φ → L1 shared by 3 (7.3), L2 by 2 (11); the 3φ EVSE takes its smallest share',
      group: g,
      stations: [
        { stationId: 's1', evses: [{ evseId: 1, phases: ['L1'] }, { evseId: 2, phases: ['L2'] }] },
        { stationId: 's2', evses: [{ evseId: 1, phases: ['L1'] }, { evseId: 2, phases: P3 }] },
      ],
      limits: [7.3, 11, 7.3, 7.3],
    },
    {
      name: 'total power 22 080 W = 96 phase-A over 2 × 3φ + 1 × 1φ = 7 phase slots → 13.7 A',
      group: group({ limit: { kind: 'totalPower', limitW: watts(22_080), marginW: watts(0) }, fallbackBaseLoadA: perPhase(0) }),
      stations: [{ stationId: 's1', evses: [{ evseId: 1, phases: P3 }, { evseId: 2, phases: P3 }, { evseId: 3, phases: ['L3'] }] }],
      limits: [13.7, 13.7, 13.7],
    },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(fallbackLimits(c.group, c.stations).map((f) => f.limitA), c.limits));

  test('property: if every station goes offline, Σ fallback limits per phase ≤ the static budget', () => {
    const r = rng(31337);
    for (let n = 0; n < 500; n++) {
      const grp = randomGroup(r);
      const stations: StationEvses[] = Array.from({ length: int(r, 1, 6) }, (_, i) => ({
        stationId: `st${i}`,
        evses: Array.from({ length: int(r, 1, 4) }, (_, e) => ({ evseId: e + 1, phases: r() < 0.3 ? [pick(r, PHASES)] : P3 })),
      }));
      const lim = fallbackLimits(grp, stations);
      const all = stations.flatMap((s) => s.evses.map((e) => ({ ...e, stationId: s.stationId })));
      const limitOf = (i: number) => lim[i]!.limitA as number;
      for (const l of lim) assert.ok(l.limitA === 0 || l.limitA >= 6, `case ${n}: ${l.limitA}`);
      if (grp.limit.kind === 'perPhase') {
        for (const ph of PHASES) {
          const budget = grp.limit.limitA[ph] - grp.fallbackBaseLoadA[ph] - grp.limit.marginA;
          const load = all.reduce((x, e, i) => x + (e.phases.includes(ph) ? limitOf(i) : 0), 0);
          assert.ok(load <= Math.max(0, budget) + 1e-6, `case ${n} ${ph}: ${load} > ${budget}`);
        }
      } else {
        const base = (grp.fallbackBaseLoadA.L1 + grp.fallbackBaseLoadA.L2 + grp.fallbackBaseLoadA.L3) * grp.voltage;
        const budgetW = grp.limit.limitW - base - grp.limit.marginW;
        const loadW = all.reduce((x, e, i) => x + limitOf(i) * e.phases.length * grp.voltage, 0);
        assert.ok(loadW <= Math.max(0, budgetW) + 1e-6, `case ${n}: ${loadW} W > ${budgetW} W`);
      }
    }
  });

  test('fallbackProfile: a valid Relative TxDefault per EVSE (checked by validateProfile)', () => {
    const stations: StationEvses[] = [{ stationId: 's1', evses: [{ evseId: 1, phases: ['L2'] }, { evseId: 2, phases: P3 }] }];
    const out = fallbackProfile(g, stations, { profileId: 900, stackLevel: 0 });
    assert.deepEqual(
      out.map((o) => ({ evse: o.evseId, periods: o.profile.chargingSchedule[0]?.chargingSchedulePeriod })),
      [
        { evse: 1, periods: [{ startPeriod: 0, limit: 11, numberPhases: 1 }] },
        { evse: 2, periods: [{ startPeriod: 0, limit: 11 }] },
      ],
    );
    for (const o of out) {
      const v = validateProfile(o.profile, {
        version: '2.0.1',
        capabilities: { rateUnits: ['A'], maxStackLevel: 8, maxPeriodsPerSchedule: 24 },
        evseIds: [1, 2],
        activeTransactions: [],
        installed: [],
        now: NOW,
        via: 'SetChargingProfile',
      });
      assert.deepEqual(v, { ok: true, replaces: [] });
    }
  });

  test('an allocation TxProfile expires after its ttl, so an offline station falls back to the safe TxDefault', () => {
    const [fb] = fallbackProfile(g, [threePhase('s1', 3)], { profileId: 900, stackLevel: 0 });
    const alloc = allocationProfile(
      { evseId: 1, transactionId: 'T1', limitA: amps(16) as Amps, numberPhases: 3 },
      { profileId: 901, stackLevel: 1, now: NOW, ttlS: seconds(120) },
    );
    const v = validateProfile(alloc, {
      version: '2.0.1',
      capabilities: { rateUnits: ['A'], maxStackLevel: 8, maxPeriodsPerSchedule: 24 },
      evseIds: [1, 2, 3],
      activeTransactions: [{ transactionId: 'T1', evseId: 1 }],
      installed: [fb!.profile],
      now: NOW,
      via: 'SetChargingProfile',
    });
    assert.deepEqual(v, { ok: true, replaces: [] });
    const c = compositeSchedule({
      profiles: [fb!.profile, alloc],
      evseId: 1,
      now: NOW,
      duration: seconds(600),
      unit: 'A',
      transaction: { id: 'T1', start: ago(600) },
      evse: { maxCurrentA: amps(32), phases: 3, voltage: volts(230) },
    });
    assert.equal(render(c), '0:16 120:7.3');
  });
});

// Speed is measured by `npm run bench -- --only smart` (BENCHMARKS.md), never asserted in tests.
