/** The optimiser behind the SCSP's planner port, and the replayed sample price day. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptimiserPlanner } from '../../src/scsp/optimiser-planner.js';
import { ReplayedDayPriceSource, loadPricesFile, sampleDayPath } from '../../src/scsp/prices.js';
import type { PlanSession, PowerSchedule, PriceSlot } from '../../src/scsp/planner.js';

const H = 3_600_000;
const T0 = Date.parse('2026-03-02T00:00:00Z');

function session(id: string, over: Partial<PlanSession> = {}): PlanSession {
  return {
    sessionId: id,
    cpoId: 'c',
    uid: 'u',
    evseId: 1,
    arrival: new Date(T0),
    departure: new Date(T0 + 12 * H),
    energyNeedWh: 11_000,
    chargeNowWh: 0,
    minPowerW: 4140,
    maxPowerW: 11_000,
    phases: 3,
    ...over,
  };
}

/** Energy of a schedule between `from` and `to` (Wh). */
function energy(s: PowerSchedule, from: number, to: number): number {
  let wh = 0;
  for (let i = 0; i < s.length; i++) {
    const a = Math.max(from, s[i]!.start.getTime());
    const b = Math.min(to, s[i + 1]?.start.getTime() ?? to);
    if (b > a) wh += (s[i]!.powerW * (b - a)) / H;
  }
  return wh;
}

test('replayed sample day: every day gets the same prices at the same time of day, contiguous', async () => {
  const src = loadPricesFile(sampleDayPath(), { replay: true });
  assert.ok(src instanceof ReplayedDayPriceSource);
  const slots = await src.prices(new Date(T0), new Date(T0 + 48 * H));
  assert.ok(slots.length >= 48, `${slots.length} slots`);
  for (let i = 1; i < slots.length; i++) assert.equal(slots[i]!.start.getTime(), slots[i - 1]!.end.getTime(), 'contiguous');
  const at = (t: number) => slots.find((s) => s.start.getTime() <= t && s.end.getTime() > t)!.price;
  for (let h = 0; h < 24; h++) assert.equal(at(T0 + h * H + 60_000), at(T0 + (h + 24) * H + 60_000), `hour ${h}`);
  assert.ok(slots[0]!.price > 0 && slots[0]!.price < 1, 'per kWh (EUR/MWh ÷ 1000)');
});

test('optimiser planner: the need is met in the cheapest hours before departure; beyond the prices it charges at once', async () => {
  // Prices: expensive, then two cheap hours (3–5 h), then expensive; 8 h known.
  const prices: PriceSlot[] = Array.from({ length: 8 }, (_, h) => ({ start: new Date(T0 + h * H), end: new Date(T0 + (h + 1) * H), price: h === 3 || h === 4 ? 0.05 : 0.3 }));
  const planner = new OptimiserPlanner();
  const plans = await planner.plan([session('a', { departure: new Date(T0 + 8 * H) })], prices, [], new Date(T0));
  const s = plans.get('a');
  assert.ok(s);
  assert.ok(Math.abs(energy(s, T0, T0 + 8 * H) - 11_000) < 5, `${energy(s, T0, T0 + 8 * H)} Wh`);
  assert.ok(energy(s, T0 + 3 * H, T0 + 5 * H) > 10_900, 'in the two cheap hours');
  assert.ok(energy(s, T0, T0 + 3 * H) < 1, 'nothing in the expensive hours before');

  // A 12 h stay outlasts the 8 h of prices: what fits after them (4 h × 11 kW = 44 kWh) is left for
  // later (the evcc rule, optimiser README), the rest (6 kWh) goes in the cheap hours, and after the
  // known prices the schedule is at full power.
  const long = (await planner.plan([session('b', { energyNeedWh: 50_000 })], prices, [], new Date(T0))).get('b')!;
  assert.ok(Math.abs(energy(long, T0, T0 + 8 * H) - 6000) < 5, `${energy(long, T0, T0 + 8 * H)} Wh before the horizon`);
  assert.ok(energy(long, T0 + 3 * H, T0 + 5 * H) > 5990);
  assert.equal(long[long.length - 1]!.start.getTime(), T0 + 8 * H);
  assert.equal(long[long.length - 1]!.powerW, 11_000);
});

test('optimiser planner: a site limit is shared; no prices covering now → charge at once (ASAP)', async () => {
  const prices: PriceSlot[] = Array.from({ length: 12 }, (_, h) => ({ start: new Date(T0 + h * H), end: new Date(T0 + (h + 1) * H), price: 0.1 + (h % 3) * 0.1 }));
  const planner = new OptimiserPlanner();
  const plans = await planner.plan([session('a'), session('b')], prices, [{ siteId: 'site', maxPowerW: 11_000, sessionIds: ['a', 'b'] }], new Date(T0));
  for (let t = T0; t < T0 + 12 * H; t += 15 * 60_000) {
    const at = (id: string) => {
      const s = plans.get(id)!;
      let p = 0;
      for (const st of s) if (st.start.getTime() <= t) p = st.powerW;
      return p;
    };
    assert.ok(at('a') + at('b') <= 11_000 + 0.5, `site limit at ${new Date(t).toISOString()}: ${at('a') + at('b')} W`);
  }
  const asap = await planner.plan([session('a')], [], [], new Date(T0));
  assert.equal(asap.get('a')![0]!.powerW, 11_000, 'no prices: full power at once');
});
