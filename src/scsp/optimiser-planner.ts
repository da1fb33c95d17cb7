/**
 * The optimiser (src/optimiser) behind the SCSP's {@link Planner} port: price-optimal schedules under
 * departure, energy need, power bounds and site limits.
 *
 * - Sessions of one site are planned together (`planMulti`, shared limit); sessions outside any site
 *   one by one (`planSingle`).
 * - The plan covers the known prices only. After the last priced slot the schedule continues at the
 *   session's maximum power (nothing is known to wait for), so an EV is never left at 0 W by a plan
 *   that simply ran out of prices.
 * - Without prices covering `now` the optimiser has nothing to optimise: the built-in
 *   {@link AsapPlanner} plans (charge at once), and the result says so in the log.
 */
import { planMulti, planSingle, type PlanResult, type PriceCurve, type SessionInput } from '../optimiser/index.js';
import { epochMs, seconds, watts } from '../smart/units.js';
import type { Logger } from '../util/log.js';
import { AsapPlanner, type PlanSession, type Planner, type PowerSchedule, type PriceSlot, type SiteLimit } from './planner.js';

export class OptimiserPlanner implements Planner {
  readonly name = 'optimiser';
  private readonly fallback = new AsapPlanner();

  constructor(private readonly deps: { log?: Logger; currency?: string } = {}) {}

  async plan(sessions: readonly PlanSession[], prices: readonly PriceSlot[], siteLimits: readonly SiteLimit[], now: Date): Promise<Map<string, PowerSchedule>> {
    const curve = toCurve(prices, now, this.deps.currency ?? 'EUR');
    if (!curve) {
      this.deps.log?.info({ sessions: sessions.length }, 'no prices cover now: planning to charge at once');
      return this.fallback.plan(sessions, prices, siteLimits, now);
    }
    const out = new Map<string, PowerSchedule>();
    const inSite = new Set<string>();
    for (const site of siteLimits) {
      const members = sessions.filter((s) => site.sessionIds.includes(s.sessionId));
      members.forEach((m) => inSite.add(m.sessionId));
      if (members.length === 0) continue;
      const res = await planMulti({ now: epochMs(now.getTime()), prices: curve, sessions: members.map(toInput), site: { powerW: watts(site.maxPowerW) } });
      this.collect(res, members, out);
    }
    for (const s of sessions) {
      if (inSite.has(s.sessionId)) continue;
      const res = planSingle({ now: epochMs(now.getTime()), prices: curve, session: toInput(s) });
      this.collect(res, [s], out);
    }
    return out;
  }

  private collect(res: PlanResult, sessions: readonly PlanSession[], out: Map<string, PowerSchedule>): void {
    const byId = new Map(sessions.map((s) => [s.sessionId, s]));
    for (const p of res.sessions) {
      const s = byId.get(p.id);
      if (!s) continue;
      const steps = p.schedule.periods.map((q) => ({ start: new Date(p.schedule.start + q.startPeriod * 1000), powerW: q.limit as number }));
      const end = p.schedule.start + p.schedule.duration * 1000;
      // Beyond the known prices (and before departure): charge at once.
      if (end < s.departure.getTime()) steps.push({ start: new Date(end), powerW: s.maxPowerW });
      if (steps.length === 0) steps.push({ start: new Date(p.schedule.start), powerW: 0 });
      out.set(p.id, steps);
    }
    this.deps.log?.debug(
      { method: res.method, sessions: res.sessions.length, cost: res.summary.totalCost, savings: res.summary.savings, shortfallWh: res.summary.shortfallWh },
      'optimised',
    );
  }
}

function toInput(s: PlanSession): SessionInput {
  const input: SessionInput = {
    id: s.sessionId,
    arrival: epochMs(s.arrival.getTime()),
    departure: epochMs(s.departure.getTime()),
    need: { energyWh: s.energyNeedWh },
    minPowerW: watts(Math.min(s.minPowerW, s.maxPowerW)),
    maxPowerW: watts(s.maxPowerW),
  };
  if (s.chargeNowWh > 0) input.chargeNow = { energyWh: s.chargeNowWh };
  return input;
}

/**
 * The slots from the one covering `now` on, made contiguous (a gap ends the curve: the optimiser needs
 * contiguous slots, and nothing is known after it); undefined when no slot covers `now`.
 */
function toCurve(prices: readonly PriceSlot[], now: Date, currency: string): PriceCurve | undefined {
  const sorted = [...prices].sort((a, b) => a.start.getTime() - b.start.getTime());
  const first = sorted.findIndex((p) => p.start.getTime() <= now.getTime() && p.end.getTime() > now.getTime());
  if (first < 0) return undefined;
  const slots: Array<PriceCurve['slots'][number]> = [];
  let t = sorted[first]!.start.getTime();
  for (const p of sorted.slice(first)) {
    if (p.start.getTime() !== t) break;
    const durationS = Math.round((p.end.getTime() - p.start.getTime()) / 1000);
    if (durationS <= 0 || durationS % 60 !== 0) break;
    slots.push({ start: epochMs(t), durationS: seconds(durationS), price: p.price });
    t = p.end.getTime();
  }
  return slots.length > 0 ? { currency, slots } : undefined;
}
