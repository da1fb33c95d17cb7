/**
 * From a relaxed plan (flow or LP: any 0 ≤ e_it ≤ P_max h_t) to one that respects the minimum power
 * under the site limit.
 *
 * A relaxed plan may give a session less than P_min × h_t in a slot. Alone that is executable (P_min for
 * part of the slot), but the session then draws P_min, more than its slot average, so a slot whose load
 * the relaxation filled to the limit goes over it by δ/h = P_min − e/h. For each such slot, cheapest
 * first, while it is over, for a session i below its minimum (x = its energy there, δ = P_min h − x):
 *
 * 1. **Swaps** (cost-neutral: both slots keep their energy, so the cost does not change):
 *    - *top-up*: another session j in the slot gives δ to i (i now runs at P_min for the whole slot, j
 *      stays at or above its minimum); in return i gives δ to j in some other slot s;
 *    - *give-away*: i's x goes to another session j in the slot; in return j gives x to i in a slot s.
 *    Accepted only when slot s stays within its limits.
 * 2. **Shave** (when δ < x): sessions above their minimum in the slot give up δ in total (a debt of theirs,
 *    placed later); i is topped up to P_min for the whole slot and sheds δ where it is dearest.
 * 3. **Evict**: i's x leaves the slot and becomes a debt of i.
 *
 * Debts are then placed, earliest departure first, in the cheapest slots of the session's window that
 * still have room for its power (a new allocation needs room for P_min); where a slot is full, room is
 * made by moving other sessions' energy to their other slots (chains up to three sessions deep). What
 * cannot be placed is shortfall. A final pass guarantees the plan is within every limit whatever
 * happened before. Charge-now energies (`floor`) are never moved.
 */
import { EPS_WH, cloneEnergies, levelOf, type Energies, type NormSession, type Problem } from './problem.js';
import { SiteLoad, TOL_W } from './site.js';

/** How many sessions deep a chain of moves may go to make room for a debt. */
const MAKE_ROOM_DEPTH = 3;

export interface RepairStats {
  /** Session-slots below the minimum in an over-limit slot, before the repair. */
  violations: number;
  swaps: number;
  evictions: number;
  shaves: number;
  /** Energy moved to other slots (Wh) and energy that found no place (Wh). */
  movedWh: number;
  unplacedWh: number;
}

export function repairSemiContinuity(p: Problem, relaxed: Energies, floor: Energies): { energies: Energies; stats: RepairStats } {
  const e = cloneEnergies(relaxed);
  const S = p.sessions;
  const site = SiteLoad.of(p, e);
  const stats: RepairStats = { violations: 0, swaps: 0, evictions: 0, shaves: 0, movedWh: 0, unplacedWh: 0 };
  const debt = new Float64Array(S.length);
  const get = (s: NormSession, t: number) => (t >= s.first && t < s.end ? e[s.index]![t - s.first]! : 0);
  const lo = (s: NormSession, t: number) => (t >= s.first && t < s.end ? floor[s.index]![t - s.first]! : 0);
  const lvl = (s: NormSession, x: number, t: number) => levelOf(s, x, p.hours[t]!);
  /** Sets e(s, t) = x and updates the site load. */
  const set = (s: NormSession, t: number, xIn: number) => {
    const x = Math.max(0, xIn);
    const old = e[s.index]![t - s.first]!;
    e[s.index]![t - s.first] = x;
    const d = lvl(s, x, t) - lvl(s, old, t);
    if (d !== 0) site.add(s, t, d);
  };
  /**
   * Would level changes dA (session a) and dB (session b) keep slot t within its limits? With `mustFit`
   * false it is enough not to make an exceeded limit worse.
   */
  const fits2 = (t: number, a: NormSession, dA: number, b: NormSession, dB: number, mustFit: boolean): boolean => {
    const w0 = site.loadW[t]!;
    const w = w0 + dA + dB;
    const limW = p.siteW[t]!;
    if (w > limW + TOL_W && (mustFit || w > w0 + TOL_W)) return false;
    if (site.loadA && p.siteA) {
      for (const ph of ['L1', 'L2', 'L3'] as const) {
        const a0 = site.loadA[ph][t]!;
        let x = a0;
        if (a.phases.includes(ph)) x += dA * a.ampsPerW;
        if (b.phases.includes(ph)) x += dB * b.ampsPerW;
        const lim = p.siteA[ph][t]!;
        if (x > lim + TOL_W / 230 && (mustFit || x > a0 + TOL_W / 230)) return false;
      }
    }
    return true;
  };
  const belowMin = (s: NormSession, t: number): boolean => {
    const x = get(s, t);
    return x - lo(s, t) > EPS_WH && x / p.hours[t]! < s.minW - TOL_W;
  };

  /** Session j can give `d` in slot t and stay at or above its minimum (and its charge-now floor). */
  const canGiveFull = (j: NormSession, t: number, d: number) => get(j, t) - d >= Math.max(lo(j, t), j.minW * p.hours[t]!) - EPS_WH;

  /** Top-up swap: j gives `d` to i in slot t; i gives `d` back to j in another slot s. */
  const topUpSwap = (i: NormSession, t: number, d: number): boolean => {
    const cands: NormSession[] = [];
    for (const jx of p.slotSessions[t]!) {
      const j = S[jx]!;
      if (j !== i && canGiveFull(j, t, d)) cands.push(j);
    }
    if (cands.length === 0) return false;
    for (const pass of [0, 1]) {
      for (let s = i.first; s < i.end; s++) {
        if (s === t) continue;
        const eis = get(i, s);
        if (eis - d < lo(i, s) - EPS_WH) continue;
        const left = eis - d;
        // First the slots where i keeps a full-level allocation or none (no new partial).
        const clean = left <= EPS_WH || left >= i.minW * p.hours[s]! - EPS_WH;
        if ((pass === 0) !== clean) continue;
        const dIs = lvl(i, Math.max(0, left), s) - lvl(i, eis, s);
        const hs = p.hours[s]!;
        for (const j of cands) {
          if (s < j.first || s >= j.end) continue;
          const ejs = get(j, s);
          if (ejs + d > j.maxW * hs + EPS_WH) continue;
          const dJs = lvl(j, ejs + d, s) - lvl(j, ejs, s);
          if (!fits2(s, i, dIs, j, dJs, true)) continue;
          set(j, t, get(j, t) - d);
          set(i, t, get(i, t) + d);
          set(j, s, ejs + d);
          set(i, s, Math.max(0, left));
          return true;
        }
      }
    }
    return false;
  };

  /** Give-away swap: i's movable x in slot t goes to j; j gives x back to i in another slot s. */
  const giveAwaySwap = (i: NormSession, t: number): boolean => {
    const x = get(i, t) - lo(i, t);
    const h = p.hours[t]!;
    const dIt = lvl(i, get(i, t) - x, t) - lvl(i, get(i, t), t);
    const cands: Array<[NormSession, number]> = [];
    for (const jx of p.slotSessions[t]!) {
      const j = S[jx]!;
      const ejt = get(j, t);
      if (j === i || ejt <= EPS_WH || ejt + x > j.maxW * h + EPS_WH) continue;
      const dJt = lvl(j, ejt + x, t) - lvl(j, ejt, t);
      if (dIt + dJt >= -TOL_W || !fits2(t, i, dIt, j, dJt, false)) continue; // t must get lighter
      cands.push([j, dJt]);
    }
    if (cands.length === 0) return false;
    for (const pass of [0, 1]) {
      for (let s = i.first; s < i.end; s++) {
        if (s === t) continue;
        const eis = get(i, s);
        if ((pass === 0) !== eis > EPS_WH) continue; // first where i already charges
        if (eis + x > i.maxW * p.hours[s]! + EPS_WH) continue;
        const dIs = lvl(i, eis + x, s) - lvl(i, eis, s);
        for (const [j] of cands) {
          if (s < j.first || s >= j.end) continue;
          const ejs = get(j, s);
          if (ejs - x < lo(j, s) - EPS_WH) continue;
          const dJs = lvl(j, Math.max(0, ejs - x), s) - lvl(j, ejs, s);
          if (!fits2(s, i, dIs, j, dJs, true)) continue;
          const ejt = get(j, t);
          set(i, t, get(i, t) - x);
          set(j, t, ejt + x);
          set(i, s, eis + x);
          set(j, s, Math.max(0, ejs - x));
          return true;
        }
      }
    }
    return false;
  };

  /** Sessions in slot t that can give energy while staying at or above their minimum, most spare first. */
  const giversAt = (t: number, except?: NormSession): Array<[NormSession, number]> => {
    const out: Array<[NormSession, number]> = [];
    for (const jx of p.slotSessions[t]!) {
      const j = S[jx]!;
      if (j === except) continue;
      const spare = get(j, t) - Math.max(lo(j, t), j.minW * p.hours[t]!);
      if (spare > EPS_WH) out.push([j, spare]);
    }
    return out.sort((a, b) => b[1] - a[1] || a[0].index - b[0].index);
  };

  /** Takes `amount` Wh from the givers in slot t (they keep their minimum); returns what was taken. */
  const shave = (t: number, amount: number, except?: NormSession): number => {
    let left = amount;
    for (const [j, spare] of giversAt(t, except)) {
      if (left <= EPS_WH) break;
      const d = Math.min(spare, left);
      set(j, t, get(j, t) - d);
      debt[j.index] = debt[j.index]! + d;
      left -= d;
    }
    return amount - left;
  };

  /** i sheds `d` Wh from its dearest slots other than t (never below its floor); returns what was shed. */
  const shed = (i: NormSession, t: number, d: number): number => {
    let left = d;
    const slots = Array.from({ length: i.end - i.first }, (_, k) => i.first + k).sort((a, b) => p.price[b]! - p.price[a]! || b - a);
    for (const s of slots) {
      if (left <= EPS_WH) break;
      if (s === t) continue;
      const x = Math.min(left, get(i, s) - lo(i, s));
      if (x <= EPS_WH) continue;
      set(i, s, get(i, s) - x);
      left -= x;
    }
    return d - left;
  };

  const order = Array.from({ length: p.slots.length }, (_, t) => t).sort((a, b) => p.price[a]! - p.price[b]! || a - b);
  for (const t of order) {
    if (!site.exceeds(t)) continue;
    const h = p.hours[t]!;
    for (const jx of p.slotSessions[t]!) if (belowMin(S[jx]!, t)) stats.violations++;
    const noSwap = new Set<number>();
    for (let guard = 0; guard < 100_000 && site.exceeds(t); guard++) {
      // Sessions below their minimum, the closest to it first (the least energy to move).
      const below: NormSession[] = [];
      for (const jx of p.slotSessions[t]!) if (belowMin(S[jx]!, t)) below.push(S[jx]!);
      below.sort((a, b) => a.minW * h - get(a, t) - (b.minW * h - get(b, t)) || a.index - b.index);
      if (below.length > 0) {
        let done = false;
        for (const i of below) {
          if (noSwap.has(i.index)) continue;
          const d = i.minW * h - get(i, t);
          const x = get(i, t) - lo(i, t);
          if (d <= x ? topUpSwap(i, t, d) || giveAwaySwap(i, t) : giveAwaySwap(i, t) || topUpSwap(i, t, d)) {
            stats.swaps++;
            done = true;
            break;
          }
          noSwap.add(i.index); // not retried in this slot: a failed search is the expensive case
        }
        if (done) continue;
        const i = below[0]!;
        const x = get(i, t) - lo(i, t);
        const d = i.minW * h - get(i, t);
        const spare = giversAt(t, i).reduce((a, [, v]) => a + v, 0);
        if (d < x && spare >= d) {
          // Make room for i's minimum at the others' expense, then let i use it for the whole slot.
          const took = shave(t, d, i);
          const moved = shed(i, t, took);
          set(i, t, get(i, t) + moved);
          stats.shaves++;
          continue;
        }
        set(i, t, lo(i, t));
        debt[i.index] = debt[i.index]! + x;
        stats.evictions++;
        continue;
      }
      // Nobody below the minimum (over through charge-now floors or per-phase loads): shave the excess.
      let overW = site.loadW[t]! - p.siteW[t]!;
      if (site.loadA && p.siteA) for (const ph of ['L1', 'L2', 'L3'] as const) overW = Math.max(overW, (site.loadA[ph][t]! - p.siteA[ph][t]!) * 230);
      const took = shave(t, Math.max(overW, TOL_W) * h * (1 + 1e-9));
      if (took <= EPS_WH) break;
      stats.shaves++;
    }
  }

  /** Adds up to `amount` Wh for session s in slot t where the site has room; returns what was added. */
  const addAt = (s: NormSession, t: number, amount: number): number => {
    const h = p.hours[t]!;
    const cur = get(s, t);
    const l0 = lvl(s, cur, t);
    const head = site.headroomW(s, t);
    let maxLevel: number;
    if (cur <= EPS_WH) {
      if (head < s.minW - TOL_W) return 0;
      maxLevel = Math.min(s.maxW, head);
    } else maxLevel = Math.min(s.maxW, Math.max(l0, l0 + head));
    const add = Math.min(amount, maxLevel * h - cur);
    if (add <= EPS_WH) return 0;
    set(s, t, cur + add);
    return add;
  };
  const byPrice = (s: NormSession, except = -1) =>
    Array.from({ length: s.end - s.first }, (_, k) => s.first + k)
      .filter((t) => t !== except)
      .sort((a, b) => p.price[a]! - p.price[b]! || a - b);
  /** Slots being freed further up a makeRoom chain: nothing may be placed there meanwhile. */
  const busy = new Set<number>();

  /**
   * Places `amount` Wh for session s outside slot `except`: directly where there is room, then (depth
   * permitting) by making room in its cheapest slots. Returns what was placed.
   */
  const placeWithRoom = (s: NormSession, amount: number, except: number, depth: number): number => {
    let left = amount;
    for (const t of byPrice(s, except)) {
      if (left <= EPS_WH) break;
      if (!busy.has(t)) left -= addAt(s, t, left);
    }
    if (depth <= 0) return amount - left;
    for (const t of byPrice(s, except)) {
      if (left <= EPS_WH) break;
      if (busy.has(t)) continue;
      const cur = get(s, t);
      const add = Math.min(left, s.maxW * p.hours[t]! - cur);
      if (add <= EPS_WH) continue;
      const need = lvl(s, cur + add, t) - lvl(s, cur, t) - Math.max(0, site.headroomW(s, t));
      if (need > TOL_W) makeRoom(t, need, s, depth - 1);
      left -= addAt(s, t, left);
    }
    return amount - left;
  };

  /**
   * Frees `needW` of site power in slot t by moving other sessions' energy to their other slots (those
   * sessions stay at or above their minimum in t, or leave it), recursively up to `depth` levels. Returns
   * the power freed; energy that finds no other place stays where it was.
   */
  const makeRoom = (t: number, needW: number, except: NormSession, depth: number): number => {
    const h = p.hours[t]!;
    let freed = 0;
    const givers: NormSession[] = [];
    for (const jx of p.slotSessions[t]!) {
      const j = S[jx]!;
      if (j !== except && get(j, t) - lo(j, t) > EPS_WH && j.phases.some((ph) => except.phases.includes(ph))) givers.push(j);
    }
    givers.sort((a, b) => get(b, t) - get(a, t) || a.index - b.index);
    busy.add(t);
    for (const j of givers) {
      if (freed >= needW - TOL_W) break;
      const e0 = get(j, t);
      const l0 = lvl(j, e0, t);
      const want = needW - freed;
      // Lower j's level (not below its minimum), or take it out of the slot when that frees more.
      const lower = e0 / h >= j.minW - TOL_W ? Math.min(want, l0 - Math.max(j.minW, lo(j, t) / h)) : 0;
      const take = lower >= want - TOL_W || lo(j, t) > EPS_WH ? Math.max(0, lower) * h : e0 - lo(j, t);
      if (take <= EPS_WH) continue;
      set(j, t, e0 - take);
      const placed = placeWithRoom(j, take, t, depth);
      if (placed < take - EPS_WH) set(j, t, get(j, t) + (take - placed)); // back to at most where it was
      freed += Math.max(0, l0 - lvl(j, get(j, t), t));
    }
    busy.delete(t);
    return freed;
  };

  // Place debts: earliest departure first, cheapest slots first; where the site is full, make room by
  // moving more flexible sessions.
  const debtors = S.filter((s) => debt[s.index]! > EPS_WH).sort((a, b) => a.end - b.end || a.index - b.index);
  for (const s of debtors) {
    let d = debt[s.index]!;
    stats.movedWh += d;
    d -= placeWithRoom(s, d, -1, MAKE_ROOM_DEPTH);
    stats.movedWh -= d;
    stats.unplacedWh += d;
  }

  // Safety net: whatever happened above, no slot leaves over its limit.
  for (let t = 0; t < p.slots.length; t++) {
    for (let guard = 0; guard < 100_000 && site.exceeds(t); guard++) {
      let victim: NormSession | undefined;
      for (const jx of p.slotSessions[t]!) {
        const j = S[jx]!;
        if (get(j, t) - lo(j, t) > EPS_WH && (!victim || get(j, t) < get(victim, t))) victim = j;
      }
      if (!victim) break;
      stats.unplacedWh += get(victim, t) - lo(victim, t);
      set(victim, t, lo(victim, t));
    }
  }
  return { energies: e, stats };
}
