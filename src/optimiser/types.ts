/**
 * Optimiser input and output types (protocols.md §5.1). Everything is plain data: inputs in, plans out.
 *
 * Units: power in W (total over the phases the session loads), current in A per phase, energy in Wh on
 * the grid side (what the meter counts and what is paid for), time as {@link EpochMs}, prices in a
 * currency per kWh. An SoC need is converted to grid energy with the charging efficiency η:
 * E = (SoC_target − SoC_now) × capacity / η.
 */
import type { Amps, EpochMs, PerPhase, Phase, Seconds, Volts, Watts } from '../smart/units.js';

/** One price interval: `price` (currency per kWh) applies to [start, start + durationS). */
export interface PriceSlot {
  start: EpochMs;
  durationS: Seconds;
  price: number;
}

/** A price curve: contiguous slots in ascending order (15-min and 60-min slots may be mixed). */
export interface PriceCurve {
  /** ISO 4217 code, e.g. `EUR`. */
  currency: string;
  slots: readonly PriceSlot[];
}

/** What the driver wants by departure: an energy amount, or a target SoC with the battery size. */
export type EnergyNeed =
  /** Energy for the whole session (Wh, grid side); `deliveredWh` is subtracted. */
  | { energyWh: number }
  /** Reach `targetSocPct` from `socPct` (now); `deliveredWh` is ignored (the SoC already reflects it). */
  | { targetSocPct: number; socPct: number; capacityWh: number };

/** "Charge now": this much is delivered as soon as possible, whatever the price. */
export type ChargeNow = { energyWh: number } | { minSocPct: number };

export interface SessionInput {
  id: string;
  /** Plug-in time; in the past = plugged in (the plan starts at `now`); in the future = expected arrival. */
  arrival: EpochMs;
  /** Expected departure; nothing is planned at or after it. */
  departure: EpochMs;
  need: EnergyNeed;
  /** Energy already delivered in this session (meter), subtracted from an `energyWh` need. */
  deliveredWh?: number;
  /** Grid → battery efficiency for SoC needs and SoC charge-now minimums (default 0.9). */
  efficiency?: number;
  /**
   * Smallest power while charging (semi-continuous: a slot is 0 or ≥ this). Default: 6 A × phases ×
   * voltage (IEC 61851-1). 0 = no minimum (e.g. DC).
   */
  minPowerW?: Watts;
  /** Largest power: the smallest of the EVSE, EV and cable maximums. */
  maxPowerW: Watts;
  /** Phases the session loads (a 1φ EV on L2: `['L2']`). Default all three. */
  phases?: readonly Phase[];
  /** Line-to-neutral voltage (default the site's, else 230 V). */
  voltage?: Volts;
  chargeNow?: ChargeNow;
}

/** A site limit that applies from `from` until the next step. */
export interface SiteLimitStep {
  from: EpochMs;
  /** Power available for EVs, total over the phases. */
  powerW?: Watts;
  /** Current available for EVs, per phase. */
  currentA?: PerPhase<Amps>;
}

/**
 * Power available for EVs at the site (connection − base load − margin). The constant limits and the
 * steps both apply (the smaller wins); a slot takes the smallest value of every step that overlaps it.
 * Absent = unlimited.
 */
export interface SiteLimit {
  powerW?: Watts;
  currentA?: PerPhase<Amps>;
  steps?: readonly SiteLimitStep[];
  /** Default line-to-neutral voltage of the sessions (230 V when absent). */
  voltage?: Volts;
}

export interface OptimiserInput {
  /** Plan start (the plan never looks before it). */
  now: EpochMs;
  prices: PriceCurve;
  sessions: readonly SessionInput[];
  site?: SiteLimit;
  /** Plan end; default the end of the price curve (no plan beyond known prices). */
  horizonEnd?: EpochMs;
}

/** Input of {@link planSingle}: one session. */
export interface SingleInput {
  now: EpochMs;
  prices: PriceCurve;
  session: SessionInput;
  site?: SiteLimit;
  horizonEnd?: EpochMs;
}

// ─────────────────────────────── output ───────────────────────────────

/** A slot of the planning grid: the price slots cut to [now, horizon end). */
export interface PlanSlot {
  start: EpochMs;
  durationS: Seconds;
  /** Currency per kWh. */
  price: number;
  /** Site power for EVs in this slot (Infinity = unlimited). */
  siteLimitW: number;
  /** Site current for EVs per phase (absent = no per-phase limit). */
  siteLimitA?: PerPhase<number>;
}

/** What one session does in one slot: `powerW` from the slot start for `onS` seconds, then 0. */
export interface SlotAllocation {
  powerW: Watts;
  onS: Seconds;
  energyWh: number;
}

/** An absolute charging schedule in W: `limit` from `start + startPeriod` until the next period. */
export interface AbsoluteSchedule {
  start: EpochMs;
  /** Until the end of the session's last plannable slot. */
  duration: Seconds;
  chargingRateUnit: 'W';
  /** Equal adjacent periods merged; 0 where not charging. */
  periods: Array<{ startPeriod: Seconds; limit: Watts }>;
}

export type SessionNote =
  /** Maximum power below the minimum: the session cannot charge. */
  | 'MaxBelowMinimum'
  /** No whole slot between arrival (or now) and departure inside the horizon. */
  | 'NoWindow'
  /** Departure after the horizon: the need was reduced by what can still be charged after it. */
  | 'BeyondHorizon';

export interface SessionPlan {
  id: string;
  schedule: AbsoluteSchedule;
  /** One entry per {@link PlanResult.slots} entry. */
  slots: SlotAllocation[];
  /** Plannable slots [first, end) (indices into the grid). */
  window: { first: number; end: number };
  /** Energy to deliver inside the horizon (Wh). */
  needWh: number;
  deliveredWh: number;
  /** needWh − deliveredWh when positive. Tiny values (< 1 Wh) come from rounding limits to 0.1 W and whole seconds. */
  shortfallWh: number;
  cost: number;
  chargeNowWh: number;
  /** Energy delivered in the slots the charge-now minimum took (ASAP). */
  chargeNowDeliveredWh: number;
  minPowerW: Watts;
  maxPowerW: Watts;
  uncontrolled: { cost: number; deliveredWh: number };
  notes: SessionNote[];
}

export type PlanMethod = 'greedy' | 'flow' | 'lp-round' | 'milp' | 'uncontrolled';

export interface PlanSummary {
  currency: string;
  totalCost: number;
  deliveredWh: number;
  needWh: number;
  shortfallWh: number;
  /** Penalty per kWh not delivered (the soft energy constraint of §5.1): 10 000 × the largest |price|. */
  penaltyPerKWh: number;
  /**
   * totalCost + penalty × shortfall: what the optimiser minimises. Shortfall within a session's rounding
   * allowance (limits floored to 0.1 W, on-times rounded to seconds: ≤ 0.1 W × slot length + P_min × 0.5 s
   * per slot) is not penalised.
   */
  objective: number;
  /** Charge at maximum power from arrival until full (first come, first served under the site limit). */
  uncontrolled: { cost: number; deliveredWh: number; shortfallWh: number; objective: number };
  /**
   * 1 − (cost per kWh) ÷ (uncontrolled cost per kWh): the same as 1 − cost ÷ uncontrolled cost when
   * both deliver the same energy. null when the uncontrolled cost per kWh is not positive.
   */
  savings: number | null;
}

export interface SolverInfo {
  /** HiGHS model status name, e.g. `Optimal`, `TimeLimit`. */
  status: string;
  /** Relative MIP gap at the end (MILP only). */
  gap?: number;
  timeS: number;
  /** Objective of the heuristic plan the MILP was started from. */
  startObjective?: number;
}

export interface PlanResult {
  /** The algorithm whose plan is returned. `uncontrolled` = nothing beat charging at once. */
  method: PlanMethod;
  slots: PlanSlot[];
  sessions: SessionPlan[];
  summary: PlanSummary;
  solver?: SolverInfo;
}

/** Bad input: the message names the field (`sessions[2].maxPowerW: …`). */
export class OptimiserInputError extends Error {
  override readonly name = 'OptimiserInputError';
}

/** The solver failed (WASM abort, unexpected status). */
export class OptimiserSolverError extends Error {
  override readonly name = 'OptimiserSolverError';
}
