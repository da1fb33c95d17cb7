/**
 * From slot energies to what leaves the optimiser: per slot a power and an on-time, per session an
 * absolute schedule in W, costs, and the comparison with uncontrolled charging.
 *
 * Slot t with energy e and length h: the session draws e / h for the whole slot when that reaches
 * P_min; otherwise P_min from the slot start for round(e / P_min × 3600) s, then 0. Powers are floored to
 * 0.1 W (P_min and P_max were rounded inwards, so a floored power stays within them and a site limit
 * that held still holds). Energies and costs are recomputed from these powers and on-times, so the
 * figures match the schedule exactly. The rounding can leave a session a little under its need — at
 * most {@link roundingAllowanceWh}: 0.1 W × the slot length plus P_min × 0.5 s per slot of its window.
 * That remainder is reported as shortfall but not penalised in the summary's objective.
 */
import { floorTenth, seconds, watts } from '../smart/units.js';
import { EPS_WH, costOf, type Energies, type NormSession, type Problem } from './problem.js';
import type { AbsoluteSchedule, PlanMethod, PlanResult, SessionPlan, SlotAllocation, SolverInfo } from './types.js';

const ZERO: SlotAllocation = { powerW: watts(0), onS: seconds(0), energyWh: 0 };

/** The most energy rounding to 0.1 W and whole seconds can take from a session (Wh). */
export function roundingAllowanceWh(p: Problem, s: NormSession): number {
  let a = 1e-6;
  for (let t = s.first; t < s.end; t++) a += 0.1 * p.hours[t]! + (s.minW * 0.5) / 3600;
  return a;
}

/** Per-slot allocations of one session (one entry per grid slot). */
export function allocationsOf(p: Problem, s: NormSession, x: Float64Array): SlotAllocation[] {
  const out: SlotAllocation[] = [];
  for (let t = 0; t < p.slots.length; t++) {
    const e = t >= s.first && t < s.end ? x[t - s.first]! : 0;
    if (e <= EPS_WH) {
      out.push(ZERO);
      continue;
    }
    const h = p.hours[t]!;
    const durS = p.slots[t]!.durationS;
    const avg = e / h;
    if (avg >= s.minW * (1 - 1e-9)) {
      const level = Math.max(s.minW, floorTenth(Math.min(avg, s.maxW)));
      out.push({ powerW: watts(level), onS: seconds(durS), energyWh: level * h });
    } else {
      const onS = Math.min(durS, Math.round((e / s.minW) * 3600));
      out.push(onS <= 0 ? ZERO : { powerW: watts(s.minW), onS: seconds(onS), energyWh: (s.minW * onS) / 3600 });
    }
  }
  return out;
}

/** The absolute schedule: from the plan start to the end of the session's window, equal periods merged. */
export function scheduleOf(p: Problem, s: NormSession, alloc: SlotAllocation[]): AbsoluteSchedule {
  const end = s.end > s.first ? s.end : 0;
  const raw: Array<[number, number]> = [[0, 0]];
  for (let t = 0; t < end; t++) {
    const slot = p.slots[t]!;
    const off = Math.round((slot.start - p.start) / 1000);
    const a = alloc[t]!;
    raw.push([off, a.powerW]);
    if (a.powerW > 0 && a.onS < slot.durationS) raw.push([off + a.onS, 0]);
  }
  // The later of two periods at the same offset wins; then equal neighbours merge.
  const at: Array<{ startPeriod: number; limit: number }> = [];
  for (const [o, l] of raw) {
    const last = at[at.length - 1];
    if (last && last.startPeriod === o) last.limit = l;
    else at.push({ startPeriod: o, limit: l });
  }
  const merged = at.filter((q, k) => k === 0 || q.limit !== at[k - 1]!.limit);
  const last = end > 0 ? p.slots[end - 1]! : undefined;
  return {
    start: p.start,
    duration: seconds(last ? Math.round((last.start - p.start) / 1000) + last.durationS : 0),
    chargingRateUnit: 'W',
    periods: merged.map((q) => ({ startPeriod: seconds(q.startPeriod), limit: watts(q.limit) })),
  };
}

/** Assembles the result: allocations, schedules, per-session and total figures, the uncontrolled comparison. */
export function buildResult(p: Problem, e: Energies, uncontrolled: Energies, method: PlanMethod, chargeNow?: Energies, solver?: SolverInfo): PlanResult {
  const sessions: SessionPlan[] = p.sessions.map((s) => {
    const slots = allocationsOf(p, s, e[s.index]!);
    let delivered = 0;
    let cost = 0;
    let cnDelivered = 0;
    slots.forEach((a, t) => {
      delivered += a.energyWh;
      cost += (a.energyWh / 1000) * p.price[t]!;
      if (chargeNow && t >= s.first && t < s.end) cnDelivered += Math.min(a.energyWh, chargeNow[s.index]![t - s.first]!);
    });
    const u = uncontrolled[s.index]!;
    let uCost = 0;
    let uDelivered = 0;
    u.forEach((x, k) => {
      uDelivered += x;
      uCost += (x / 1000) * p.price[s.first + k]!;
    });
    return {
      id: s.id,
      schedule: scheduleOf(p, s, slots),
      slots,
      window: { first: s.first, end: s.end },
      needWh: s.needWh,
      deliveredWh: delivered,
      shortfallWh: Math.max(0, s.needWh - delivered),
      cost,
      chargeNowWh: s.chargeNowWh,
      chargeNowDeliveredWh: Math.min(s.chargeNowWh, cnDelivered),
      minPowerW: watts(s.minW),
      maxPowerW: watts(s.maxW),
      uncontrolled: { cost: uCost, deliveredWh: uDelivered },
      notes: [...s.notes],
    };
  });
  const sum = (f: (x: SessionPlan) => number) => sessions.reduce((a, x) => a + f(x), 0);
  const totalCost = sum((x) => x.cost);
  const penalisedWh = p.sessions.reduce((a, s) => a + Math.max(0, sessions[s.index]!.shortfallWh - roundingAllowanceWh(p, s)), 0);
  const deliveredWh = sum((x) => x.deliveredWh);
  const shortfallWh = sum((x) => x.shortfallWh);
  const unc = costOf(p, uncontrolled);
  const perKWh = deliveredWh > EPS_WH ? totalCost / (deliveredWh / 1000) : 0;
  const uPerKWh = unc.deliveredWh > EPS_WH ? unc.cost / (unc.deliveredWh / 1000) : 0;
  return {
    method,
    slots: p.slots.map((s) => ({ ...s })),
    sessions,
    summary: {
      currency: p.currency,
      totalCost,
      deliveredWh,
      needWh: sum((x) => x.needWh),
      shortfallWh,
      penaltyPerKWh: p.penaltyPerKWh,
      objective: totalCost + (penalisedWh / 1000) * p.penaltyPerKWh,
      uncontrolled: { cost: unc.cost, deliveredWh: unc.deliveredWh, shortfallWh: unc.shortfallWh, objective: unc.objective },
      savings: uPerKWh > 0 && deliveredWh > EPS_WH ? 1 - perKWh / uPerKWh : null,
    },
    ...(solver ? { solver } : {}),
  };
}
