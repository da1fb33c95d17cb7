/**
 * Instantaneous site load per slot (W in total, A per phase) and the two first-come allocations built
 * on it: the charge-now pre-allocation and the uncontrolled baseline.
 *
 * A session drawing P W loads each of its phases with P / (V × phases) A. The site check is on the power
 * a session draws while on (its level), not on the slot average: a session that stops early in a slot
 * still draws its full level until it stops.
 */
import { EPS_WH, cloneEnergies, emptyEnergies, levelOf, type Energies, type NormSession, type Problem } from './problem.js';

/** Tolerance on power comparisons (W). */
export const TOL_W = 1e-6;

export class SiteLoad {
  readonly loadW: Float64Array;
  readonly loadA?: { L1: Float64Array; L2: Float64Array; L3: Float64Array };

  constructor(private readonly p: Problem) {
    const T = p.slots.length;
    this.loadW = new Float64Array(T);
    if (p.siteA) this.loadA = { L1: new Float64Array(T), L2: new Float64Array(T), L3: new Float64Array(T) };
  }

  /** The largest additional power session s can draw in slot t (may be negative when over the limit). */
  headroomW(s: NormSession, t: number): number {
    let h = this.p.siteW[t]! - this.loadW[t]!;
    if (this.loadA && this.p.siteA) for (const ph of s.phases) h = Math.min(h, (this.p.siteA[ph][t]! - this.loadA[ph][t]!) / s.ampsPerW);
    return h;
  }

  clone(): SiteLoad {
    const c = new SiteLoad(this.p);
    c.loadW.set(this.loadW);
    if (this.loadA && c.loadA) for (const ph of ['L1', 'L2', 'L3'] as const) c.loadA[ph].set(this.loadA[ph]);
    return c;
  }

  add(s: NormSession, t: number, dW: number): void {
    this.loadW[t] = this.loadW[t]! + dW;
    if (this.loadA) for (const ph of s.phases) this.loadA[ph][t] = this.loadA[ph][t]! + dW * s.ampsPerW;
  }

  /** True when slot t is over a limit (total W, or a phase's A) by more than the tolerance. */
  exceeds(t: number): boolean {
    if (this.loadW[t]! > this.p.siteW[t]! + TOL_W) return true;
    if (this.loadA && this.p.siteA) for (const ph of ['L1', 'L2', 'L3'] as const) if (this.loadA[ph][t]! > this.p.siteA[ph][t]! + TOL_W / 230) return true;
    return false;
  }

  /** The load of a whole plan (every session's level in every slot). */
  static of(p: Problem, e: Energies): SiteLoad {
    const site = new SiteLoad(p);
    for (const s of p.sessions) {
      const x = e[s.index]!;
      for (let k = 0; k < x.length; k++) {
        const t = s.first + k;
        const l = levelOf(s, x[k]!, p.hours[t]!);
        if (l > 0) site.add(s, t, l);
      }
    }
    return site;
  }
}

/** Sessions in first-come order: arrival, then input order. */
export function firstComeOrder(p: Problem): NormSession[] {
  return [...p.sessions].sort((a, b) => a.arrival - b.arrival || a.index - b.index);
}

/**
 * Chronological, first-come allocation of `amount(s)` Wh per session at the largest power the session and
 * the site allow (paused where that is below the minimum), on top of `start` (energies already there).
 * `reserve`: the power a session holds in the slot — its level for the energy it got (`level`), or the
 * full power it was given (`max`: an uncontrolled EV draws its maximum until full, then stops).
 */
export function firstComeAllocation(
  p: Problem,
  amount: (s: NormSession) => number,
  reserve: 'level' | 'max',
  start?: { energies: Energies; site: SiteLoad },
): { energies: Energies; site: SiteLoad } {
  const e = start ? cloneEnergies(start.energies) : emptyEnergies(p);
  const site = start ? start.site.clone() : new SiteLoad(p);
  const order = firstComeOrder(p).filter((s) => s.end > s.first && amount(s) > EPS_WH);
  const rest = new Float64Array(p.sessions.length);
  for (const s of order) rest[s.index] = amount(s);
  for (let t = 0; t < p.slots.length; t++) {
    const h = p.hours[t]!;
    for (const s of order) {
      if (t < s.first || t >= s.end || rest[s.index]! <= EPS_WH) continue;
      const cur = e[s.index]![t - s.first]!;
      const l0 = levelOf(s, cur, h);
      const level = Math.min(s.maxW, l0 + site.headroomW(s, t));
      if (level < s.minW - TOL_W || level <= 0) continue;
      const x = Math.min(level * h - cur, rest[s.index]!);
      if (x <= EPS_WH) continue;
      e[s.index]![t - s.first] = cur + x;
      rest[s.index] = rest[s.index]! - x;
      site.add(s, t, (reserve === 'max' ? level : levelOf(s, cur + x, h)) - l0);
    }
  }
  return { energies: e, site };
}

/** Charge-now minimums, as soon as possible (first come under the site limit). */
export function chargeNowAllocation(p: Problem): { energies: Energies; site: SiteLoad } {
  return firstComeAllocation(p, (s) => s.chargeNowWh, 'level');
}

/**
 * Uncontrolled charging: the charge-now minimums as every plan has them, then maximum power from arrival
 * until full, first come first served under the site limit.
 */
export function uncontrolledAllocation(p: Problem, chargeNow = chargeNowAllocation(p)): Energies {
  const floorWh = (s: NormSession) => chargeNow.energies[s.index]!.reduce((a, b) => a + b, 0);
  return firstComeAllocation(p, (s) => s.needWh - floorWh(s), 'max', chargeNow).energies;
}
