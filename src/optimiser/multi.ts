/**
 * Several EVs sharing a site limit (protocols.md §5.1, "many EVs"). Methods:
 *
 * - `milp`: the exact MILP on HiGHS (semi-continuous power), started from the heuristic plan and bounded
 *   by `timeLimitS`; the best plan found is kept.
 * - `flow`: the relaxed optimum by the polymatroid greedy with max-flow re-routing (`flow.ts`, exact for a
 *   total-power limit, no solver), then the minimum-power repair (`repair.ts`). Fast: the path for large
 *   instances.
 * - `lp-round`: the relaxed optimum from the HiGHS LP (also handles per-phase limits), then the repair.
 * - `auto` (default): `milp` while the instance is small (≤ `maxMilpSessionSlots` session-slots), else
 *   `flow` for a total-power limit, `lp-round` with per-phase limits.
 *
 * Charge-now minimums are allocated first (as soon as possible, first come under the site limit) and are
 * lower bounds for every method. Whatever the method, the returned plan is never worse (by the objective
 * cost + penalty × shortfall) than uncontrolled charging: if that plan wins, it is returned (method
 * `uncontrolled`).
 */
import { buildProblem, costOf, type Energies, type Problem } from './problem.js';
import { relaxedFlow, type FlowStats } from './flow.js';
import { solveLp, solveMilp } from './highs.js';
import { repairSemiContinuity, type RepairStats } from './repair.js';
import { buildResult } from './result.js';
import { chargeNowAllocation, uncontrolledAllocation } from './site.js';
import { OptimiserInputError, type OptimiserInput, type PlanMethod, type PlanResult, type SolverInfo } from './types.js';

export type MultiMethod = 'auto' | 'milp' | 'flow' | 'lp-round';

export interface MultiOptions {
  method?: MultiMethod;
  /** MILP time limit (default 1 s). */
  timeLimitS?: number;
  /** MILP relative gap (default 1e-4). */
  mipRelGap?: number;
  /** `auto` uses the MILP up to this many session-slots (default 1,500). */
  maxMilpSessionSlots?: number;
  /** Filled with what the heuristic did (for benchmarks and diagnostics). */
  diagnostics?: MultiDiagnostics;
}

export interface MultiDiagnostics {
  method?: PlanMethod;
  flow?: FlowStats;
  repair?: RepairStats;
  /** Objective of the relaxed solution the repair started from. */
  relaxedObjective?: number;
  /** Objective of the heuristic plan (before any MILP). */
  heuristicObjective?: number;
  /** Objective of the returned plan before its powers are rounded to 0.1 W and on-times to seconds. */
  objective?: number;
}

const sessionSlots = (p: Problem) => p.sessions.reduce((a, s) => a + (s.end - s.first), 0);

/** The heuristic plan: relaxed optimum (flow, or the LP with per-phase limits) + minimum-power repair. */
async function heuristic(p: Problem, floor: Energies, use: 'flow' | 'lp-round', diag?: MultiDiagnostics): Promise<{ energies: Energies; solver?: SolverInfo }> {
  let relaxed: Energies;
  let solver: SolverInfo | undefined;
  if (use === 'flow') {
    const stats: FlowStats = { dinicSlots: 0, phases: 0, augmentations: 0 };
    relaxed = relaxedFlow(p, floor, stats);
    if (diag) diag.flow = stats;
  } else {
    const lp = await solveLp(p, floor, { tieBreak: true });
    if (!lp) throw new Error('LP relaxation returned no solution');
    relaxed = lp.energies;
    solver = { status: lp.status, timeS: lp.timeS };
  }
  const { energies, stats } = repairSemiContinuity(p, relaxed, floor);
  if (diag) {
    diag.repair = stats;
    diag.relaxedObjective = costOf(p, relaxed).objective;
    diag.heuristicObjective = costOf(p, energies).objective;
  }
  return { energies, ...(solver ? { solver } : {}) };
}

/**
 * Plans every session under the shared site limit. Async because the MILP and LP run on HiGHS (loaded
 * once); `flow` needs no solver.
 */
export async function planMulti(input: OptimiserInput, options: MultiOptions = {}): Promise<PlanResult> {
  const p = buildProblem(input);
  const method = options.method ?? 'auto';
  if (!['auto', 'milp', 'flow', 'lp-round'].includes(method)) throw new OptimiserInputError(`method: must be auto, milp, flow or lp-round (got ${JSON.stringify(method)})`);
  if (method === 'flow' && p.siteA) throw new OptimiserInputError('method flow: per-phase site limits need lp-round or milp');
  const chargeNow = chargeNowAllocation(p);
  const floor = chargeNow.energies;
  const uncontrolled = uncontrolledAllocation(p, chargeNow);
  const diag = options.diagnostics;
  const fast: 'flow' | 'lp-round' = p.siteA ? 'lp-round' : 'flow';
  const useMilp = method === 'milp' || (method === 'auto' && sessionSlots(p) <= (options.maxMilpSessionSlots ?? 1500));

  const h = await heuristic(p, floor, method === 'lp-round' ? 'lp-round' : fast, diag);
  let best: { energies: Energies; method: PlanMethod; solver?: SolverInfo } = { energies: h.energies, method: method === 'lp-round' ? 'lp-round' : fast, ...(h.solver ? { solver: h.solver } : {}) };
  let bestObjective = costOf(p, best.energies).objective;

  if (useMilp) {
    const m = await solveMilp(p, floor, { timeLimitS: options.timeLimitS ?? 1, mipRelGap: options.mipRelGap ?? 1e-4, start: best.energies });
    if (m) {
      const obj = costOf(p, m.energies).objective;
      const solver: SolverInfo = { status: m.status, timeS: m.timeS, startObjective: bestObjective, ...(m.gap !== undefined ? { gap: m.gap } : {}) };
      if (obj <= bestObjective + 1e-9 * Math.max(1, Math.abs(bestObjective))) {
        best = { energies: m.energies, method: 'milp', solver };
        bestObjective = obj;
      } else best.solver = solver;
    }
  }
  const uObjective = costOf(p, uncontrolled).objective;
  if (uObjective < bestObjective - 1e-9 * Math.max(1, Math.abs(uObjective))) best = { energies: uncontrolled, method: 'uncontrolled', ...(best.solver ? { solver: best.solver } : {}) };
  if (diag) {
    diag.method = best.method;
    diag.objective = costOf(p, best.energies).objective;
  }
  return buildResult(p, best.energies, uncontrolled, best.method, floor, best.solver);
}

/** The optimum of the LP relaxation on HiGHS (no minimum power, no tie-break): the lower bound every plan is compared with. */
export async function relaxedOptimum(input: OptimiserInput): Promise<{ objective: number; cost: number; deliveredWh: number; shortfallWh: number; status: string; timeS: number }> {
  const p = buildProblem(input);
  const floor = chargeNowAllocation(p).energies;
  const lp = await solveLp(p, floor);
  if (!lp) throw new Error('LP relaxation returned no solution');
  return { ...costOf(p, lp.energies), status: lp.status, timeS: lp.timeS };
}
