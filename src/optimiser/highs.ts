/**
 * The multi-EV LP and MILP on HiGHS (`highs` npm package: HiGHS compiled to WebAssembly, MIT;
 * protocols.md §7.3). The WASM module is loaded once, lazily, and reused; a WASM abort drops it so that
 * the next call loads a fresh one. Models are passed as sparse column-wise arrays (no LP text, so no
 * line-length limits) and always disposed (persistent models leak WASM memory otherwise). Solves are
 * synchronous and block the event loop for their duration; bound them with `timeLimitS` (or run the
 * optimiser in a worker thread).
 *
 * Variables (kWh, kW): e_it energy of session i in slot t of its window, s_i shortfall; MILP also P_it.
 *
 *   min  Σ_it (p_t + δ·t) e_it + M Σ_i s_i                       (δ: tie-break, earlier at equal price; MILP only)
 *   s.t. Σ_t e_it + s_i = E_i                                     (soft need: the plan never exceeds it)
 *        LP:   Σ_i e_it / h_t ≤ L_t,   Σ_{i on φ} e_it / h_t · 1000 / (V_i n_i) ≤ A_t,φ
 *        MILP: e_it ≤ h_t P_it,  P_it ∈ {0} ∪ [P_min,i, P_max,i] (HiGHS semi-continuous column),
 *              Σ_i P_it ≤ L_t,   Σ_{i on φ} P_it · 1000 / (V_i n_i) ≤ A_t,φ
 *        floor_it ≤ e_it ≤ P_max,i h_t,  s_i ≥ 0
 *
 * The MILP checks the site limit against the power P_it while on, the LP against the slot average —
 * the LP is the relaxation (drop the minimum and let P_it = e_it / h_t). M = 10 000 × the largest |price|
 * (≥ 1 per kWh): shortfall only happens when the energy cannot be delivered, or (MILP) when delivering a
 * remainder would need over ~10 000 times its energy moved to dearer slots to make room for a minimum.
 */
import * as highsModule from 'highs';
import type { Highs, Model } from 'highs';
import { EPS_WH, emptyEnergies, levelOf, type Energies, type Problem } from './problem.js';
import { OptimiserSolverError } from './types.js';

let cached: Promise<Highs> | undefined;

/**
 * The package's loader. Its declaration file is CommonJS-typed (`export default` = `module.exports.default`)
 * while Node's ESM import of `highs.mjs` gives the function itself; accept both shapes.
 */
function loader(): () => Promise<Highs> {
  let f: unknown = (highsModule as unknown as { default?: unknown }).default;
  if (typeof f !== 'function' && f !== null && typeof f === 'object') f = (f as { default?: unknown }).default;
  if (typeof f !== 'function') throw new OptimiserSolverError('the highs package exports no loader function');
  return f as () => Promise<Highs>;
}

/** The HiGHS instance, loaded on first use and then shared. */
export function getHighs(): Promise<Highs> {
  const p =
    cached ??
    loader()().catch((err: unknown) => {
      cached = undefined;
      throw err;
    });
  cached = p;
  return p;
}

const STATUS: Record<number, string> = {
  0: 'NotSet',
  1: 'LoadError',
  2: 'ModelError',
  3: 'PresolveError',
  4: 'SolveError',
  5: 'PostsolveError',
  6: 'Empty',
  7: 'Optimal',
  8: 'Infeasible',
  9: 'UnboundedOrInfeasible',
  10: 'Unbounded',
  11: 'ObjectiveBound',
  12: 'ObjectiveTarget',
  13: 'TimeLimit',
  14: 'IterationLimit',
  15: 'Unknown',
  16: 'SolutionLimit',
  17: 'Interrupted',
};

interface ColumnBuilder {
  cost: number[];
  lower: number[];
  upper: number[];
  integrality: number[];
  starts: number[];
  indices: number[];
  values: number[];
}

interface Layout {
  /** Column of e for (session, window offset); P follows e in the MILP. */
  eCol: Int32Array[];
  shortCol: Int32Array;
  numRows: number;
  rowLower: number[];
  rowUpper: number[];
  cols: ColumnBuilder;
}

function build(p: Problem, floor: Energies, milp: boolean, tieBreak: boolean): Layout {
  const N = p.sessions.length;
  const T = p.slots.length;
  const rowLower: number[] = [];
  const rowUpper: number[] = [];
  for (const s of p.sessions) {
    rowLower.push(s.needWh / 1000);
    rowUpper.push(s.needWh / 1000);
  }
  const siteRow = new Int32Array(T).fill(-1);
  for (let t = 0; t < T; t++)
    if (Number.isFinite(p.siteW[t]!)) {
      siteRow[t] = rowLower.length;
      rowLower.push(-Infinity);
      rowUpper.push(p.siteW[t]! / 1000);
    }
  const phaseRow = { L1: new Int32Array(T).fill(-1), L2: new Int32Array(T).fill(-1), L3: new Int32Array(T).fill(-1) };
  if (p.siteA)
    for (const ph of ['L1', 'L2', 'L3'] as const)
      for (let t = 0; t < T; t++)
        if (Number.isFinite(p.siteA[ph][t]!)) {
          phaseRow[ph][t] = rowLower.length;
          rowLower.push(-Infinity);
          rowUpper.push(p.siteA[ph][t]!);
        }

  const cols: ColumnBuilder = { cost: [], lower: [], upper: [], integrality: [], starts: [0], indices: [], values: [] };
  const addCol = (cost: number, lower: number, upper: number, type: number, entries: Array<[number, number]>) => {
    cols.cost.push(cost);
    cols.lower.push(lower);
    cols.upper.push(upper);
    cols.integrality.push(type);
    entries.sort((a, b) => a[0] - b[0]);
    for (const [r, v] of entries) {
      cols.indices.push(r);
      cols.values.push(v);
    }
    cols.starts.push(cols.indices.length);
    return cols.cost.length - 1;
  };

  let maxAbs = 0;
  for (const x of p.price) maxAbs = Math.max(maxAbs, Math.abs(x));
  const delta = tieBreak ? (1e-7 * Math.max(1, maxAbs)) / Math.max(1, T) : 0;
  const eCol = p.sessions.map((s) => new Int32Array(s.end - s.first));
  for (const s of p.sessions) {
    for (let t = s.first; t < s.end; t++) {
      const k = t - s.first;
      const h = p.hours[t]!;
      const lo = floor[s.index]![k]! / 1000;
      const upE = (s.maxW * h) / 1000;
      if (!milp) {
        const entries: Array<[number, number]> = [[s.index, 1]];
        if (siteRow[t]! >= 0) entries.push([siteRow[t]!, 1 / h]);
        for (const ph of s.phases) if (phaseRow[ph][t]! >= 0) entries.push([phaseRow[ph][t]!, (1000 * s.ampsPerW) / h]);
        eCol[s.index]![k] = addCol(p.price[t]! + delta * t, Math.min(lo, upE), upE, 0, entries);
      } else {
        const link = rowLower.length;
        rowLower.push(-Infinity);
        rowUpper.push(0);
        eCol[s.index]![k] = addCol(p.price[t]! + delta * t, Math.min(lo, upE), upE, 0, [
          [s.index, 1],
          [link, 1],
        ]);
        const pEntries: Array<[number, number]> = [[link, -h]];
        if (siteRow[t]! >= 0) pEntries.push([siteRow[t]!, 1]);
        for (const ph of s.phases) if (phaseRow[ph][t]! >= 0) pEntries.push([phaseRow[ph][t]!, 1000 * s.ampsPerW]);
        const on = lo > EPS_WH / 1000;
        const pLo = on ? levelOf(s, lo * 1000, h) / 1000 : s.minW / 1000;
        const type = on || s.minW <= 0 ? 0 : 2;
        addCol(0, type === 0 && !on ? 0 : Math.min(pLo, s.maxW / 1000), s.maxW / 1000, type, pEntries);
      }
    }
  }
  const shortCol = new Int32Array(N);
  for (const s of p.sessions) shortCol[s.index] = addCol(p.penaltyPerKWh, 0, Infinity, 0, [[s.index, 1]]);
  return { eCol, shortCol, numRows: rowLower.length, rowLower, rowUpper, cols };
}

function energiesFrom(p: Problem, floor: Energies, layout: Layout, x: Float64Array): Energies {
  const e = emptyEnergies(p);
  for (const s of p.sessions) {
    for (let k = 0; k < s.end - s.first; k++) {
      const h = p.hours[s.first + k]!;
      const v = x[layout.eCol[s.index]![k]!]! * 1000;
      const lo = floor[s.index]![k]!;
      e[s.index]![k] = Math.min(s.maxW * h, Math.max(lo, v <= EPS_WH ? 0 : v));
    }
  }
  return e;
}

export interface SolveOutcome {
  energies: Energies;
  status: string;
  timeS: number;
  gap?: number;
}

async function solve(p: Problem, floor: Energies, milp: boolean, opts: { tieBreak: boolean; timeLimitS?: number; mipRelGap?: number; start?: Energies }): Promise<SolveOutcome | undefined> {
  const highs = await getHighs();
  const layout = build(p, floor, milp, opts.tieBreak);
  const c = layout.cols;
  const numCols = c.cost.length;
  if (numCols === 0) return { energies: emptyEnergies(p), status: 'Empty', timeS: 0 };
  let model: Model | undefined;
  const t0 = performance.now();
  try {
    model = highs.createModel({
      numCols,
      numRows: layout.numRows,
      colCost: c.cost,
      colLower: c.lower,
      colUpper: c.upper,
      rowLower: layout.rowLower,
      rowUpper: layout.rowUpper,
      matrix: { format: 'csc', numRows: layout.numRows, numCols, starts: c.starts, indices: c.indices, values: c.values },
      ...(milp ? { integrality: Int32Array.from(c.integrality) } : {}),
    });
    model.options.set({ output_flag: false, ...(opts.timeLimitS !== undefined ? { time_limit: opts.timeLimitS } : {}), ...(milp ? { mip_rel_gap: opts.mipRelGap ?? 1e-4 } : {}) });
    if (milp && opts.start) {
      const x = new Float64Array(numCols);
      for (const s of p.sessions) {
        let d = 0;
        for (let k = 0; k < s.end - s.first; k++) {
          const v = opts.start[s.index]![k]!;
          d += v;
          const col = layout.eCol[s.index]![k]!;
          x[col] = v / 1000;
          x[col + 1] = levelOf(s, v, p.hours[s.first + k]!) / 1000;
        }
        x[layout.shortCol[s.index]!] = Math.max(0, s.needWh - d) / 1000;
      }
      try {
        model.setSolution({ colValue: x });
      } catch {
        // A start HiGHS will not take only costs time: solve without it.
      }
    }
    const run = model.run();
    const status = STATUS[run.modelStatus] ?? String(run.modelStatus);
    const primal = Number(model.info.get('primal_solution_status'));
    if (run.modelStatus !== 7 && primal !== 2) return undefined;
    const energies = energiesFrom(p, floor, layout, model.getSolution().colValue);
    const gap = milp ? Number(model.info.get('mip_gap')) : undefined;
    return { energies, status, timeS: (performance.now() - t0) / 1000, ...(gap !== undefined && Number.isFinite(gap) ? { gap } : {}) };
  } catch (err) {
    if ((err as Error)?.name === 'RuntimeError') cached = undefined; // a WASM abort: load a fresh instance next time
    throw new OptimiserSolverError(`HiGHS ${milp ? 'MILP' : 'LP'} failed: ${(err as Error)?.message ?? err}`);
  } finally {
    model?.dispose();
  }
}

/** The LP relaxation (no minimum power; site limit on slot averages). `tieBreak` adds the earlier-slot preference. */
export function solveLp(p: Problem, floor: Energies, opts: { tieBreak?: boolean; timeLimitS?: number } = {}): Promise<SolveOutcome | undefined> {
  return solve(p, floor, false, { tieBreak: opts.tieBreak ?? false, ...(opts.timeLimitS !== undefined ? { timeLimitS: opts.timeLimitS } : {}) });
}

/** The MILP with semi-continuous power, optionally started from a known plan. undefined = no solution in time. */
export function solveMilp(p: Problem, floor: Energies, opts: { timeLimitS?: number; mipRelGap?: number; start?: Energies } = {}): Promise<SolveOutcome | undefined> {
  return solve(p, floor, true, { tieBreak: true, ...opts });
}
