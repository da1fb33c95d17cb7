/**
 * The planner port of the SCSP: sessions, prices and site limits in, one absolute power schedule (W) per
 * session out. Narrow on purpose so that the optimiser (src/optimiser/, a pure module built separately:
 * greedy single-EV, LP/MILP multi-EV with HiGHS) plugs in behind it with a thin adapter.
 *
 * {@link AsapPlanner} is the built-in implementation: every EV charges at full power from now until its
 * need is met ("uncontrolled" charging, the baseline the optimiser's savings are measured against), with
 * shared site limits honoured by water-filling. It ignores prices and departures.
 *
 * ```
 *   W ▲            site limit ─────────────────────────
 *     │ ┌──────────┐                 EV A: need met at t1 → 0
 *     │ │ A  B (½) │┌──────────┐     EV B: gets A's share once A is done
 *     │ │          ││ B (all)  │
 *     └─┴──────────┴┴──────────┴───► t
 *      now        t1          t2
 * ```
 */
export interface PlanSession {
  sessionId: string;
  cpoId: string;
  uid: string;
  evseId: number;
  /** When the EV arrived (the session started). */
  arrival: Date;
  /** When the EV leaves (always after `now`: see preferences.ts for overdue departures). */
  departure: Date;
  /** Energy still to deliver (Wh, ≥ 0). */
  energyNeedWh: number;
  /** Part of the need to deliver at once at full power ("charge now" minimum SoC), ≤ energyNeedWh. */
  chargeNowWh: number;
  /** While charging, power is 0 or within [minPowerW, maxPowerW] (W, total over phases). */
  minPowerW: number;
  maxPowerW: number;
  /** AC phases of the EVSE (null for DC). */
  phases: number | null;
}

/** An energy price over [start, end). */
export interface PriceSlot {
  start: Date;
  end: Date;
  /** Price per kWh (currency of the price source). */
  price: number;
}

/** A shared limit: the sessions listed may draw at most `maxPowerW` together. */
export interface SiteLimit {
  siteId: string;
  maxPowerW: number;
  sessionIds: readonly string[];
}

/** One step of a schedule: from `start` (until the next step) the limit is `powerW`. The last step runs on. */
export interface PowerStep {
  start: Date;
  powerW: number;
}

/** An absolute power schedule in W, steps sorted by start. */
export type PowerSchedule = readonly PowerStep[];

export interface Planner {
  readonly name: string;
  /**
   * One schedule per session (sessions left out are not limited). Schedules should start at `now`;
   * steps before `now` are ignored.
   */
  plan(sessions: readonly PlanSession[], prices: readonly PriceSlot[], siteLimits: readonly SiteLimit[], now: Date): Promise<Map<string, PowerSchedule>>;
}

// ── the built-in planner ─────────────────────────────────────────────────────────────────────

/** Guard against a runaway loop (a week of steps is far beyond any plan). */
const MAX_HORIZON_MS = 7 * 86_400_000;

/**
 * Water-fill `limit` among `demands` (each capped at its `max`), honouring minimum powers: when every
 * session's minimum fits, each gets its minimum and the rest is shared equally up to the maxima;
 * otherwise sessions are admitted in the given order (earliest departure first) while their minimums
 * fit, the others get 0. Pure.
 */
export function waterFill(demands: ReadonlyArray<{ id: string; min: number; max: number }>, limit: number): Map<string, number> {
  const out = new Map<string, number>();
  let admitted = [...demands];
  let sumMin = admitted.reduce((a, d) => a + d.min, 0);
  if (sumMin > limit) {
    admitted = [];
    sumMin = 0;
    for (const d of demands) {
      if (sumMin + d.min <= limit) {
        admitted.push(d);
        sumMin += d.min;
      }
    }
  }
  for (const d of demands) out.set(d.id, 0);
  let rest = Math.max(0, limit - sumMin);
  // Share `rest` over the headroom (max − min), smallest headroom first.
  const byRoom = admitted.map((d) => ({ id: d.id, base: d.min, room: Math.max(0, d.max - d.min) })).sort((a, b) => a.room - b.room);
  let left = byRoom.length;
  for (const d of byRoom) {
    const share = left > 0 ? rest / left : 0;
    const extra = Math.min(d.room, share);
    out.set(d.id, d.base + extra);
    rest -= extra;
    left--;
  }
  return out;
}

/** Charge at full power from now until the need is met, within site limits. */
export class AsapPlanner implements Planner {
  readonly name = 'asap';

  async plan(sessions: readonly PlanSession[], _prices: readonly PriceSlot[], siteLimits: readonly SiteLimit[], now: Date): Promise<Map<string, PowerSchedule>> {
    return planAsap(sessions, siteLimits, now);
  }
}

/** The pure core of {@link AsapPlanner}: an event loop over the instants at which some EV is done. */
export function planAsap(sessions: readonly PlanSession[], siteLimits: readonly SiteLimit[], now: Date): Map<string, PowerSchedule> {
  const t0 = now.getTime();
  const remaining = new Map(sessions.map((s) => [s.sessionId, Math.max(0, s.energyNeedWh)]));
  const steps = new Map<string, PowerStep[]>(sessions.map((s) => [s.sessionId, []]));
  const siteOf = new Map<string, SiteLimit>();
  for (const l of siteLimits) for (const id of l.sessionIds) if (!siteOf.has(id)) siteOf.set(id, l);
  const order = [...sessions].sort((a, b) => a.departure.getTime() - b.departure.getTime() || a.sessionId.localeCompare(b.sessionId));

  const push = (id: string, t: number, w: number) => {
    const list = steps.get(id)!;
    const last = list[list.length - 1];
    if (last && last.powerW === w) return;
    list.push({ start: new Date(t), powerW: w });
  };

  let t = t0;
  while (t - t0 < MAX_HORIZON_MS) {
    const wanting = order.filter((s) => remaining.get(s.sessionId)! > 1e-6 && s.maxPowerW > 0);
    const alloc = new Map<string, number>();
    for (const s of order) alloc.set(s.sessionId, 0);
    const bySite = new Map<SiteLimit | undefined, PlanSession[]>();
    for (const s of wanting) {
      const site = siteOf.get(s.sessionId);
      const list = bySite.get(site);
      if (list) list.push(s);
      else bySite.set(site, [s]);
    }
    for (const [site, list] of bySite) {
      if (!site) for (const s of list) alloc.set(s.sessionId, s.maxPowerW);
      else {
        const shares = waterFill(
          list.map((s) => ({ id: s.sessionId, min: s.minPowerW, max: s.maxPowerW })),
          site.maxPowerW,
        );
        for (const [id, w] of shares) alloc.set(id, w);
      }
    }
    for (const s of order) push(s.sessionId, t, Math.floor(alloc.get(s.sessionId)!));
    // Next event: the first EV whose need is met at its current power (to the next whole second).
    let next = Number.POSITIVE_INFINITY;
    for (const s of wanting) {
      const w = Math.floor(alloc.get(s.sessionId)!);
      if (w > 0) next = Math.min(next, t + Math.ceil((remaining.get(s.sessionId)! / w) * 3600) * 1000);
    }
    if (!Number.isFinite(next)) break;
    next = Math.max(next, t + 1000);
    const dtH = (next - t) / 3_600_000;
    for (const s of wanting) {
      const w = Math.floor(alloc.get(s.sessionId)!);
      remaining.set(s.sessionId, Math.max(0, remaining.get(s.sessionId)! - w * dtH));
    }
    t = next;
  }
  for (const s of order) push(s.sessionId, t, 0);
  return new Map([...steps].map(([id, list]) => [id, list]));
}

// ── schedule arithmetic ──────────────────────────────────────────────────────────────────────

/** The value of a schedule at instant `t` (0 before its first step). */
export function valueAt(schedule: PowerSchedule, t: number): number {
  let v = 0;
  for (const s of schedule) {
    if (s.start.getTime() <= t) v = s.powerW;
    else break;
  }
  return v;
}

/**
 * The sum of several schedules from `from` on (steps before `from` are folded into the first step),
 * floored to whole watts, equal neighbours merged.
 */
export function sumSchedules(schedules: readonly PowerSchedule[], from: Date): PowerSchedule {
  const f = from.getTime();
  const instants = new Set<number>([f]);
  for (const s of schedules) for (const step of s) if (step.start.getTime() > f) instants.add(step.start.getTime());
  const out: PowerStep[] = [];
  for (const t of [...instants].sort((a, b) => a - b)) {
    const w = Math.floor(schedules.reduce((a, s) => a + valueAt(s, t), 0));
    if (out.length > 0 && out[out.length - 1]!.powerW === w) continue;
    out.push({ start: new Date(t), powerW: w });
  }
  return out;
}

/**
 * Whether two schedules limit the future (from `from`) alike: the same sequence of limits (±1 W) with
 * step instants within `toleranceMs`. Used to skip sending a plan that changes nothing.
 */
export function sameFuture(a: PowerSchedule, b: PowerSchedule, from: Date, toleranceMs = 60_000): boolean {
  const norm = (s: PowerSchedule) => sumSchedules([s], from);
  const x = norm(a);
  const y = norm(b);
  if (x.length !== y.length) return false;
  return x.every((s, i) => {
    const o = y[i]!;
    return Math.abs(s.powerW - o.powerW) <= 1 && (i === 0 || Math.abs(s.start.getTime() - o.start.getTime()) <= toleranceMs);
  });
}
