/**
 * One EV: the greedy plan (protocols.md §5.1, "one EV": fractional knapsack, greedy optimal).
 *
 * Per slot the EV can draw up to cap_t = min(P_max, site W_t, min over its phases of site A_t,φ × V ×
 * phases); a slot is usable when cap_t ≥ P_min. Any energy 0 ≤ e_t ≤ cap_t × h_t is then executable
 * (below P_min × h_t: P_min for part of the slot), so the problem is
 *
 *     min Σ_t p_t e_t   s.t.  Σ_t e_t = E,  0 ≤ e_t ≤ cap_t h_t,
 *
 * a fractional knapsack whose optimum fills the cheapest slots first. Order: (price, start) — at equal
 * price the earlier slot wins. The charge-now minimum is taken first, chronologically at cap_t (as soon
 * as possible, whatever the price); the rest of the need then fills the cheapest remaining room. The
 * result costs no more than uncontrolled charging (cap_t from arrival until full): that plan is a
 * feasible point of the same knapsack and contains the charge-now prefix.
 */
import { EPS_WH, buildProblem, type NormSession, type Problem } from './problem.js';
import { buildResult } from './result.js';
import { TOL_W, chargeNowAllocation, uncontrolledAllocation } from './site.js';
import type { PlanResult, SingleInput } from './types.js';

/** cap_t for a session alone at the site (W); 0 when the slot is unusable (below the minimum). */
export function singleCaps(p: Problem, s: NormSession): Float64Array {
  const caps = new Float64Array(s.end - s.first);
  for (let t = s.first; t < s.end; t++) {
    let cap = Math.min(s.maxW, p.siteW[t]!);
    if (p.siteA) for (const ph of s.phases) cap = Math.min(cap, p.siteA[ph][t]! / s.ampsPerW);
    caps[t - s.first] = cap >= s.minW - TOL_W && cap > 0 ? cap : 0;
  }
  return caps;
}

/** The greedy energies of session s over its window (Wh per slot). */
export function greedySingle(p: Problem, s: NormSession): Float64Array {
  const caps = singleCaps(p, s);
  const e = new Float64Array(caps.length);
  const room = (k: number) => caps[k]! * p.hours[s.first + k]! - e[k]!;
  let cn = s.chargeNowWh;
  for (let k = 0; k < e.length && cn > EPS_WH; k++) {
    const x = Math.min(room(k), cn);
    e[k] = e[k]! + x;
    cn -= x;
  }
  let rest = s.needWh - e.reduce((a, b) => a + b, 0);
  const order = Array.from(e.keys()).sort((a, b) => p.price[s.first + a]! - p.price[s.first + b]! || a - b);
  for (const k of order) {
    if (rest <= EPS_WH) break;
    const x = Math.min(room(k), rest);
    if (x <= 0) continue;
    e[k] = e[k]! + x;
    rest -= x;
  }
  return e;
}

/**
 * Plans one EV: cheapest slots first within [now, departure), P ∈ {0} ∪ [P_min, P_max], the site limit,
 * the charge-now minimum first. Synchronous, no solver.
 */
export function planSingle(input: SingleInput): PlanResult {
  const p = buildProblem({ now: input.now, prices: input.prices, sessions: [input.session], ...(input.site ? { site: input.site } : {}), ...(input.horizonEnd !== undefined ? { horizonEnd: input.horizonEnd } : {}) });
  const s = p.sessions[0]!;
  const chargeNow = chargeNowAllocation(p);
  return buildResult(p, [greedySingle(p, s)], uncontrolledAllocation(p, chargeNow), 'greedy', chargeNow.energies);
}
