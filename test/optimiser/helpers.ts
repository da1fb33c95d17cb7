/**
 * Builders and invariant checks for the optimiser tests: a price curve from a list of prices, sessions
 * with named fields, and `checkPlan`, which asserts what every plan must satisfy whatever the method.
 */
import assert from 'node:assert/strict';
import type { OptimiserInput, PlanResult, SessionInput } from '../../src/optimiser/index.js';
import { PHASES, epochMs, seconds, watts, type EpochMs, type Phase } from '../../src/smart/units.js';

/** Midnight UTC of the test day. */
export const T0: EpochMs = epochMs(Date.parse('2025-09-17T00:00:00Z'));
export const HOUR = 3_600_000;
export const at = (hours: number): EpochMs => epochMs(T0 + hours * HOUR);

/** A curve of consecutive slots of `durationS` starting at T0 (prices per kWh). */
export function curve(prices: readonly number[], durationS = 3600): OptimiserInput['prices'] {
  return { currency: 'EUR', slots: prices.map((price, k) => ({ start: epochMs(T0 + k * durationS * 1000), durationS: seconds(durationS), price })) };
}

export interface SessionSpec {
  id: string;
  /** Hours after T0. */
  from?: number;
  to: number;
  wh?: number;
  maxW?: number;
  minW?: number;
  phases?: Phase[];
  chargeNowWh?: number;
  extra?: Partial<SessionInput>;
}

/** A session from T0 + from h to T0 + to h needing `wh` (default 3φ 11 040 W, minimum 6 A × 3 × 230 V). */
export function session(s: SessionSpec): SessionInput {
  return {
    id: s.id,
    arrival: at(s.from ?? 0),
    departure: at(s.to),
    need: { energyWh: s.wh ?? 10_000 },
    maxPowerW: watts(s.maxW ?? 11_040),
    ...(s.minW !== undefined ? { minPowerW: watts(s.minW) } : {}),
    ...(s.phases ? { phases: s.phases } : {}),
    ...(s.chargeNowWh !== undefined ? { chargeNow: { energyWh: s.chargeNowWh } } : {}),
    ...s.extra,
  };
}

/** Energy per slot (Wh) of one session, rounded to 0.1 Wh for readable comparisons. */
export function energies(r: PlanResult, id: string): number[] {
  const s = r.sessions.find((x) => x.id === id);
  assert.ok(s, `no session ${id}`);
  return s.slots.map((a) => Math.round(a.energyWh * 10) / 10);
}

/** Power per slot (W) of one session. */
export function powers(r: PlanResult, id: string): number[] {
  const s = r.sessions.find((x) => x.id === id);
  assert.ok(s, `no session ${id}`);
  return s.slots.map((a) => a.powerW);
}

/**
 * Power tolerance (W), and energy tolerance (Wh) per session: limits are floored to 0.1 W and on-times
 * rounded to whole seconds (≤ 0.1 W × slot length + 4 140 W × 0.5 s per slot), plus 1 Wh.
 */
export const TOL_W = 1e-3;
export const tolWh = (r: PlanResult) => r.slots.reduce((a, s) => a + (0.1 * s.durationS) / 3600 + 0.6, 0) + 1;

/**
 * What every plan satisfies: per slot the site limit (total and per phase) holds for the powers drawn;
 * every power is 0 or within [min, max] and only inside the session's window; the schedule has the same
 * powers (0 or ≥ min) in ascending whole-second periods, no two equal neighbours; a session never gets
 * more than its need; the figures add up.
 */
export function checkPlan(r: PlanResult, input: Pick<OptimiserInput, 'sessions' | 'site'>): void {
  const T = r.slots.length;
  const byId = new Map(input.sessions.map((s) => [s.id, s]));
  for (let t = 0; t < T; t++) {
    const slot = r.slots[t]!;
    let w = 0;
    const amps = { L1: 0, L2: 0, L3: 0 };
    for (const s of r.sessions) {
      const a = s.slots[t]!;
      w += a.powerW;
      if (a.powerW > 0) {
        assert.ok(t >= s.window.first && t < s.window.end, `${s.id} charges outside its window in slot ${t}`);
        assert.ok(a.powerW >= s.minPowerW - TOL_W, `${s.id} slot ${t}: ${a.powerW} W below its minimum ${s.minPowerW} W`);
        assert.ok(a.powerW <= s.maxPowerW + TOL_W, `${s.id} slot ${t}: ${a.powerW} W above its maximum ${s.maxPowerW} W`);
        assert.ok(a.onS > 0 && a.onS <= slot.durationS, `${s.id} slot ${t}: on-time ${a.onS} s`);
      } else assert.equal(a.energyWh, 0);
      assert.ok(Math.abs(a.energyWh - (a.powerW * a.onS) / 3600) < 1e-6, `${s.id} slot ${t}: energy ≠ power × on-time`);
    }
    assert.ok(w <= slot.siteLimitW + TOL_W, `slot ${t}: ${w} W over the site limit ${slot.siteLimitW} W`);
    if (slot.siteLimitA) {
      for (const s of r.sessions) {
        const a = s.slots[t]!;
        const si = byId.get(s.id)!;
        const phases: readonly Phase[] = si.phases ?? PHASES;
        for (const ph of phases) amps[ph] += a.powerW / ((si.voltage ?? input.site?.voltage ?? 230) * phases.length);
      }
      for (const ph of PHASES) assert.ok(amps[ph] <= slot.siteLimitA[ph] + 1e-5, `slot ${t} ${ph}: ${amps[ph]} A over the limit ${slot.siteLimitA[ph]} A`);
    }
  }
  for (const s of r.sessions) {
    assert.ok(s.deliveredWh <= s.needWh + tolWh(r), `${s.id}: delivered ${s.deliveredWh} Wh > need ${s.needWh} Wh`);
    assert.ok(Math.abs(s.deliveredWh - s.slots.reduce((a, x) => a + x.energyWh, 0)) < 1e-6, `${s.id}: deliveredWh ≠ Σ slot energies`);
    const p = s.schedule.periods;
    assert.equal(p[0]?.startPeriod, 0, `${s.id}: schedule must start at period 0`);
    for (let k = 0; k < p.length; k++) {
      const q = p[k]!;
      assert.ok(Number.isInteger(q.startPeriod), `${s.id}: startPeriod ${q.startPeriod} not whole seconds`);
      assert.ok(q.limit === 0 || (q.limit >= s.minPowerW - TOL_W && q.limit <= s.maxPowerW + TOL_W), `${s.id}: period limit ${q.limit} W`);
      if (k > 0) {
        assert.ok(q.startPeriod > p[k - 1]!.startPeriod, `${s.id}: periods not ascending`);
        assert.notEqual(q.limit, p[k - 1]!.limit, `${s.id}: equal neighbours not merged`);
      }
    }
    // The schedule says the same as the slots.
    for (let t = 0; t < s.window.end; t++) {
      const off = Math.round((r.slots[t]!.start - s.schedule.start) / 1000);
      assert.equal(limitAt(s.schedule.periods, off), s.slots[t]!.powerW, `${s.id}: schedule at ${off} s`);
    }
  }
  const sum = r.sessions.reduce((a, s) => a + s.cost, 0);
  assert.ok(Math.abs(sum - r.summary.totalCost) < 1e-9 * Math.max(1, Math.abs(sum)), `total cost ${r.summary.totalCost} ≠ Σ session costs ${sum}`);
}

/** The limit in force at offset `s` seconds. */
export function limitAt(periods: ReadonlyArray<{ startPeriod: number; limit: number }>, s: number): number {
  let l = 0;
  for (const q of periods) if (q.startPeriod <= s) l = q.limit;
  return l;
}
