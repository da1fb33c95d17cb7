/**
 * The relaxed multi-EV problem with a total-power site limit, solved exactly without an LP solver.
 *
 *     min Σ_t p_t Σ_i e_it   s.t.  Σ_t e_it ≤ E_i (as much as possible: shortfall is penalised),
 *                                  0 ≤ e_it ≤ P_max,i h_t (t in i's window),  Σ_i e_it ≤ L_t h_t.
 *
 * This is a transportation problem — source → session i (capacity E_i) → slot t (capacity P_max,i h_t)
 * → sink (capacity L_t h_t) — whose cost depends on the slot only. The vectors of slot loads (u_t) a
 * flow can reach form a polymatroid (rank f(S) = max flow into the slots S), so a linear cost over its
 * maximal vectors is minimised greedily (Edmonds): take the slots in ascending (price, start) order and
 * give each the largest load it can still get while the loads of the slots already taken stay as they
 * are. That largest load is a max-flow into slot τ on the residual network: augmenting paths start at a
 * session with need left and may re-route earlier allocations (session i takes j's place in a cheaper
 * slot s, j moves to τ) without changing any earlier slot's load. Each step is a Dinic max-flow (BFS
 * levels, blocking flow by DFS) on a bipartite graph of N sessions and T slots; a direct fill of slot τ
 * from the sessions that can use it comes first and usually leaves Dinic nothing to do.
 *
 * The result maximises the delivered energy first and minimises the cost among the maximal plans — the
 * optimum of the LP with a shortfall penalty larger than any price difference — and equals the HiGHS LP
 * optimum (tests compare the two). It ignores the minimum power; `repair.ts` restores it. Per-phase site
 * limits are not a network (a 3φ session uses three phase capacities at once): they go through the LP.
 */
import { EPS_WH, type Energies, type Problem } from './problem.js';

export interface FlowStats {
  /** Slots in which a max-flow (re-routing) was needed after the direct fill. */
  dinicSlots: number;
  /** BFS phases over all slots. */
  phases: number;
  /** Augmenting paths found. */
  augmentations: number;
}

/**
 * Relaxed optimum above `floor` (the charge-now energies, kept as lower bounds). Energies per session
 * window, Wh. Throws when the site has per-phase limits.
 */
export function relaxedFlow(p: Problem, floor: Energies, stats?: FlowStats): Energies {
  if (p.siteA) throw new Error('relaxedFlow: per-phase site limits need the LP (method lp-round)');
  const N = p.sessions.length;
  const T = p.slots.length;
  const S = p.sessions;
  const first = Int32Array.from(S, (s) => s.first);
  const cap: Float64Array[] = S.map((s) => Float64Array.from(floor[s.index]!, (f, k) => Math.max(0, s.maxW * p.hours[s.first + k]! - f)));
  const flow: Float64Array[] = S.map((s) => new Float64Array(s.end - s.first));
  const resid = Float64Array.from(S, (s) => Math.max(0, s.needWh - floor[s.index]!.reduce((a, b) => a + b, 0)));
  const slotCap = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let used = 0;
    for (const i of p.slotSessions[t]!) used += floor[i]![t - first[i]!]!;
    slotCap[t] = Math.max(0, p.siteW[t]! * p.hours[t]! - used);
  }
  const processed = new Uint8Array(T);
  const order = Array.from({ length: T }, (_, t) => t).sort((a, b) => p.price[a]! - p.price[b]! || a - b);
  let totalResid = resid.reduce((a, b) => a + b, 0);

  const levS = new Int32Array(N);
  const levT = new Int32Array(T);
  const ptrS = new Int32Array(N);
  const ptrT = new Int32Array(T);
  const queue = new Int32Array(N + T);
  let tau = -1;
  let dSink = 0;

  const bfs = (): boolean => {
    levS.fill(-1);
    levT.fill(-1);
    let head = 0;
    let tail = 0;
    for (let i = 0; i < N; i++)
      if (resid[i]! > EPS_WH) {
        levS[i] = 0;
        queue[tail++] = i;
      }
    dSink = Infinity;
    while (head < tail) {
      const node = queue[head++]!;
      if (node < N) {
        const i = node;
        const L = levS[i]!;
        if (L + 1 > dSink) continue;
        const c = cap[i]!;
        const f = flow[i]!;
        const a = first[i]!;
        for (let k = 0; k < c.length; k++) {
          if (c[k]! - f[k]! <= EPS_WH) continue;
          const t = a + k;
          if (t === tau) dSink = Math.min(dSink, L + 1);
          else if (processed[t] === 1 && levT[t] === -1) {
            levT[t] = L + 1;
            queue[tail++] = N + t;
          }
        }
      } else {
        const s = node - N;
        const L = levT[s]!;
        if (L + 1 >= dSink) continue;
        for (const j of p.slotSessions[s]!) {
          if (levS[j] !== -1 || flow[j]![s - first[j]!]! <= EPS_WH) continue;
          levS[j] = L + 1;
          queue[tail++] = j;
        }
      }
    }
    return dSink !== Infinity;
  };

  // Path search: session at level L → (sink via τ when L = dSink − 1) or → processed slot at L + 1 →
  // (back along an allocation) session at L + 2 → …
  const dfsSession = (i: number, lim: number): number => {
    const L = levS[i]!;
    const a = first[i]!;
    if (L === dSink - 1) {
      const k = tau - a;
      if (k < 0 || k >= cap[i]!.length) return 0;
      const r = cap[i]![k]! - flow[i]![k]!;
      if (r <= EPS_WH) return 0;
      const d = Math.min(lim, r);
      flow[i]![k] = flow[i]![k]! + d;
      return d;
    }
    const c = cap[i]!;
    const f = flow[i]!;
    for (; ptrS[i]! < c.length; ptrS[i] = ptrS[i]! + 1) {
      const k = ptrS[i]!;
      const t = a + k;
      if (t === tau || levT[t] !== L + 1) continue;
      const r = c[k]! - f[k]!;
      if (r <= EPS_WH) continue;
      const got = dfsSlot(t, Math.min(lim, r));
      if (got > EPS_WH) {
        f[k] = f[k]! + got;
        return got;
      }
    }
    return 0;
  };
  const dfsSlot = (s: number, lim: number): number => {
    const L = levT[s]!;
    const list = p.slotSessions[s]!;
    for (; ptrT[s]! < list.length; ptrT[s] = ptrT[s]! + 1) {
      const j = list[ptrT[s]!]!;
      if (levS[j] !== L + 1) continue;
      const k = s - first[j]!;
      const fj = flow[j]![k]!;
      if (fj <= EPS_WH) continue;
      const got = dfsSession(j, Math.min(lim, fj));
      if (got > EPS_WH) {
        flow[j]![k] = fj - got;
        return got;
      }
    }
    return 0;
  };

  for (const t of order) {
    if (totalResid <= EPS_WH) break;
    let rem = slotCap[t]!;
    // Direct fill.
    for (const i of p.slotSessions[t]!) {
      if (rem <= EPS_WH) break;
      if (resid[i]! <= EPS_WH) continue;
      const k = t - first[i]!;
      const d = Math.min(resid[i]!, cap[i]![k]! - flow[i]![k]!, rem);
      if (d <= EPS_WH) continue;
      flow[i]![k] = flow[i]![k]! + d;
      resid[i] = resid[i]! - d;
      totalResid -= d;
      rem -= d;
    }
    // Re-routing through earlier slots.
    if (rem > EPS_WH && totalResid > EPS_WH) {
      tau = t;
      let used = false;
      for (let guard = 0; guard < 10_000 && rem > EPS_WH && bfs(); guard++) {
        used = true;
        if (stats) stats.phases++;
        ptrS.fill(0);
        ptrT.fill(0);
        for (let i = 0; i < N && rem > EPS_WH; i++) {
          if (levS[i] !== 0) continue;
          while (resid[i]! > EPS_WH && rem > EPS_WH) {
            const got = dfsSession(i, Math.min(resid[i]!, rem));
            if (got <= EPS_WH) break;
            if (stats) stats.augmentations++;
            resid[i] = resid[i]! - got;
            totalResid -= got;
            rem -= got;
          }
        }
      }
      if (used && stats) stats.dinicSlots++;
    }
    processed[t] = 1;
  }

  return S.map((s) => {
    const f = flow[s.index]!;
    const lo = floor[s.index]!;
    return Float64Array.from(f, (x, k) => lo[k]! + Math.min(Math.max(0, x), cap[s.index]![k]!));
  });
}
