/**
 * OCPP-format profile receiver, pure half (issue 6 §4; protocols.md §1.6, §3.4, §3.5): turns the
 * `SetChargingProfileRequest` an SCSP (Jedlix) POSTs for a whole charging station into the TxProfiles
 * Ampline sends to the station's EVSEs. No I/O, no clock: the shell (routes-profiles.ts) gathers the
 * station facts and sends the result through SmartChargingService.
 *
 * What Jedlix sends (protocols.md §1.6): 2.0.1 `{evseId: 0, chargingProfile: {id, stackLevel: 1,
 * chargingProfilePurpose: TxProfile, chargingProfileKind: Absolute, chargingSchedule: [{chargingRateUnit:
 * W, startSchedule?, chargingSchedulePeriod}]}}` (the 1.6 shape `{connectorId: 0, csChargingProfiles}`
 * when the path says ocpp1.6). A TxProfile on EVSE 0 is invalid on the wire (2.0.1 K01.FR.16; 1.6
 * "TxProfile SHALL only be set at ConnectorId > 0"), so it must be translated. The rules, in order:
 *
 * R1  Purpose. Only TxProfile is received (the SCSP plans transactions; station maxima and defaults are
 *     the operator's) → otherwise refusal `NotTxProfile`.
 * R2  Schedule sanity before any rewriting: the first schedule is used (2.0.1 allows up to three for
 *     ISO 15118 negotiation, a 1.6 station takes one); it needs periods, the first at 0 (K01.FR.31),
 *     strictly increasing (K01.FR.35), limits ≥ 0 → otherwise refusal `InvalidSchedule`.
 *     `minChargingRate` is dropped: the EV's minimum of the whole station does not split — unless the
 *     caller asks to keep it (`keepMinChargingRate`, the OCPI ChargingProfiles receiver: one session,
 *     one EV), then it is converted like a limit (R6, without the pause) and clamped (R7).
 * R3  Targets. The EVSEs with an active transaction. `transactionId` given → the EVSE of that transaction
 *     (`UnknownTransaction` when none is active); `evseId` > 0 → that EVSE (`UnknownEvse`, or
 *     `NoTransaction` when it has no transaction); `evseId` 0 → every EVSE with a transaction
 *     (`NoTransaction` when there is none). Each target's profile carries its `transactionId` (2.0.1
 *     string; the 1.6 integer as text, turned into an integer by the 1.6 mapper).
 * R4  Start. Absolute and Recurring keep `startSchedule`; absent → `now` (K01.FR.40). An Absolute plan
 *     that started in the past is re-based on the period in force at `now` (elapsed periods are dropped,
 *     `startSchedule` moves forward, `duration` shrinks) so the period budget of R8 is spent on the
 *     future; a plan whose `duration` has already run out is refused (`InvalidSchedule`). Relative
 *     plans start with the transaction and are left as they are.
 * R5  Split (policy). A station-level limit (`evseId` 0) is shared **equally among the EVSEs whose EV
 *     wants energy**, water-filled: an EVSE whose maximum is below its equal share gets its maximum and
 *     the rest is shared among the others. "Wants energy" = every charging state except `SuspendedEV`
 *     and `Idle` (the EV itself declines power or is not there); `SuspendedEVSE` counts as wanting, since
 *     the station may be holding it back because of an earlier share of 0. EVSEs whose EV does not
 *     want energy get 0 (so the station total stays within the SCSP's limit if such an EV wakes up; it
 *     then goes Charging/SuspendedEVSE, the state change is forwarded to the SCSP, which re-plans); if
 *     no EV wants energy, all transactions share. Why equal and not proportional to each EVSE's
 *     maximum: the connection limit binds long before the EVSE maxima, the SCSP's plan is per car, and
 *     a 1φ car on a 22 kW EVSE would otherwise be given power it cannot draw — water-filling hands
 *     such unused shares to the others. Shares are floored to 0.1, so they never add up to more
 *     than the limit.
 *     The limit is first clamped to the site limit when one is known (the station maximum in force).
 * R6  Unit. The request's unit is kept when the station takes it, otherwise converted (protocols.md §3.5):
 *     per-phase A = W / (phases × V_LN), floored to 0.1 (W = A × phases × V_LN, floored to 0.1); phases
 *     = min(period `numberPhases` ?? 3, the EVSE's phases ?? 3), V_LN the EVSE's voltage ?? 230 V.
 *     A converted current below 6 A (IEC 61851-1 minimum) becomes 0 — a pause, not a phase switch. An
 *     EVSE of unknown phases is taken as 3φ: for a 1φ car that under-delivers, never over-delivers.
 *     When the conversion used fewer than 3 phases the period says so in `numberPhases`. DC: A = W / V
 *     of the output (no phases, no 6 A minimum).
 * R7  Clamp to the connector: A limits to the EVSE's maximum current, W limits to max A × phases × V_LN
 *     (unknown maximum → no clamp; the charger enforces its own hardware limit).
 * R8  Periods. Consecutive periods left equal by R5–R7 are merged; then at most the station's
 *     `maxPeriodsPerSchedule` are kept — the **first** ones: the near future is what matters and the SCSP
 *     re-plans long before the kept horizon runs out; the last kept period runs on (no `duration` is
 *     invented), the station is never left without a limit from this plan.
 * R9  Identity. One profile id per EVSE, {@link SCSP_PROFILE_ID_BASE} + evseId (8001, 8002, …; the
 *     balancer uses 9000+/9500+, the management limit 100), so a new plan replaces the previous one
 *     (K01.FR.05; 1.6 same id) and each transaction has exactly one SCSP profile. The SCSP's own id and
 *     stackLevel are not used: the stack level is {@link SCSP_STACK_LEVEL} (what Jedlix sends), kept
 *     strictly below the station's maximum, which is where the load balancer puts min(plan, allocation)
 *     (protocols.md §3.4) — it reads this profile as the session's plan.
 * R10 Validity. No `validFrom` → none (valid at once); `validFrom`/`validTo` are otherwise kept (after
 *     `validTo` the station falls back to its TxDefaultProfile).
 */
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import type { OcppProtocol } from '../ocpp/protocol.js';
import { fromOcpp16, fromOcpp201, type ChargingProfile, type ChargingSchedule, type ProfileKind } from '../smart/profile.js';
import type { StationCapabilities } from '../smart/validate.js';
import {
  MIN_CURRENT,
  NOMINAL_VOLTAGE,
  amps,
  epochMs,
  floorTenth,
  seconds,
  truncateToSecond,
  watts,
  type EpochMs,
  type RateUnit,
} from '../smart/units.js';
import type { PayloadProtocol } from './partners.js';

/** Profile id of the SCSP's plan on EVSE n: 8000 + n. */
export const SCSP_PROFILE_ID_BASE = 8000;
/** Stack level of the SCSP's plan (Jedlix sends 1), below the load balancer's (the station maximum). */
export const SCSP_STACK_LEVEL = 1;

/** Stack level for a station whose maximum is `maxStackLevel`: 1, but strictly below the maximum when it can be. */
export function scspStackLevel(maxStackLevel: number): number {
  return Math.max(0, Math.min(SCSP_STACK_LEVEL, maxStackLevel - 1));
}

/** What the translation needs to know about one EVSE of the station. */
export interface EvseFacts {
  evseId: number;
  /** The active transaction, if any. */
  transaction?: {
    /** 2.0.1 transactionId; 1.6 integer as decimal text. */
    id: string;
    /** 2.0.1 ChargingStateEnumType (Charging, EVConnected, SuspendedEV, SuspendedEVSE, Idle); 1.6: from the connector status. */
    chargingState?: string;
  };
  /** Per-phase maximum current of the EVSE's connectors (A); unknown → no clamp. */
  maxCurrentA?: number;
  /** Phases the EVSE is wired for (1–3); unknown → 3. Ignored for DC. */
  phases?: number;
  /** Line-to-neutral voltage (DC: the output voltage); unknown → 230 V. */
  voltageV?: number;
  /** A DC EVSE: A is the output current, A = W / V (no phases). */
  dc?: boolean;
}

export interface StationFacts {
  protocol: OcppProtocol;
  capabilities: Pick<StationCapabilities, 'rateUnits' | 'maxPeriodsPerSchedule' | 'maxStackLevel'>;
  /** Every EVSE of the station (> 0). */
  evses: readonly EvseFacts[];
  /** A cap on the station's total right now (e.g. the ChargingStationMaxProfile in force), in its unit. */
  siteLimit?: { limit: number; unit: RateUnit };
  now: EpochMs;
}

export type ScspProfileRequest =
  | { payloadProtocol: Extract<PayloadProtocol, 'ocpp2.0.1'>; body: OCPP20.SetChargingProfileRequest }
  | { payloadProtocol: Extract<PayloadProtocol, 'ocpp1.6'>; body: OCPP16.SetChargingProfileRequest };

export type RefusalReason = 'NotTxProfile' | 'InvalidSchedule' | 'InvalidDate' | 'NoTransaction' | 'UnknownEvse' | 'UnknownTransaction' | 'UnitNotSupported';

export interface Refusal {
  ok: false;
  reason: RefusalReason;
  message: string;
}

export interface TargetProfile {
  evseId: number;
  transactionId: string;
  /** The model profile to send (SmartChargingService.set validates it once more). */
  profile: ChargingProfile;
  /** What the translation did to this EVSE's share, in words (for the 200 answer and logs). */
  adjustments: string[];
}

export type Translation = { ok: true; targets: TargetProfile[] } | Refusal;

export interface TranslateOptions {
  /** Keep `minChargingRate` (R2): for a request that names one transaction (one EV). Default: dropped. */
  keepMinChargingRate?: boolean;
}

const refuse = (reason: RefusalReason, message: string): Refusal => ({ ok: false, reason, message });

interface Period {
  startPeriod: number;
  limit: number;
  numberPhases?: number;
  phaseToUse?: number;
}

/** A charging state in which the EV itself wants no energy (R5). */
export function evDeclinesEnergy(chargingState: string | undefined): boolean {
  return chargingState === 'SuspendedEV' || chargingState === 'Idle';
}

/**
 * Equal shares of `total` with caps (water-filling): members whose cap is below the equal share get their
 * cap, the rest is shared among the others. `undefined` = no cap. Floored to 0.1 (the sum never exceeds
 * `total`).
 */
export function waterFill(total: number, caps: ReadonlyArray<number | undefined>): number[] {
  const shares = caps.map(() => 0);
  let open = caps.map((_, i) => i);
  let remaining = Math.max(0, total);
  while (open.length > 0) {
    const equal = remaining / open.length;
    const capped = open.filter((i) => {
      const c = caps[i];
      return c !== undefined && c <= equal;
    });
    if (capped.length === 0) {
      for (const i of open) shares[i] = equal;
      break;
    }
    for (const i of capped) {
      const c = Math.max(0, caps[i] ?? 0);
      shares[i] = c;
      remaining -= c;
    }
    open = open.filter((i) => !capped.includes(i));
  }
  return shares.map((s) => floorTenth(s));
}

function parse(req: ScspProfileRequest): { ok: true; evseId: number; profile: ChargingProfile } | Refusal {
  try {
    if (req.payloadProtocol === 'ocpp1.6') {
      return { ok: true, evseId: req.body.connectorId, profile: fromOcpp16(req.body.connectorId, req.body.csChargingProfiles) };
    }
    return { ok: true, evseId: req.body.evseId, profile: fromOcpp201(req.body.evseId, req.body.chargingProfile) };
  } catch (err) {
    return refuse('InvalidDate', err instanceof Error ? err.message : 'unreadable date-time');
  }
}

function checkSchedule(s: ChargingSchedule | undefined): Refusal | undefined {
  if (s === undefined) return refuse('InvalidSchedule', 'the profile has no chargingSchedule');
  const periods = s.chargingSchedulePeriod;
  if (periods.length === 0) return refuse('InvalidSchedule', 'chargingSchedulePeriod is empty');
  for (let i = 0; i < periods.length; i++) {
    const p = periods[i]!;
    if (i === 0 && p.startPeriod !== 0) return refuse('InvalidSchedule', `the first period must start at 0 (K01.FR.31), it starts at ${p.startPeriod}`);
    const prev = periods[i - 1];
    if (prev !== undefined && !(p.startPeriod > prev.startPeriod)) {
      return refuse('InvalidSchedule', `startPeriod must increase (K01.FR.35): ${p.startPeriod} after ${prev.startPeriod}`);
    }
    if (!(p.limit >= 0)) return refuse('InvalidSchedule', `limit ${p.limit} of period ${i} is negative`);
  }
  return undefined;
}

/** R4: the schedule's start, with elapsed periods dropped for Absolute plans. */
function rebase(
  kind: ProfileKind,
  s: ChargingSchedule,
  now: EpochMs,
): { ok: true; start?: EpochMs; duration?: number; periods: Period[]; note?: string } | Refusal {
  const periods: Period[] = s.chargingSchedulePeriod.map((p) => ({ ...p, startPeriod: p.startPeriod as number, limit: p.limit as number }));
  const duration = s.duration === undefined ? undefined : (s.duration as number);
  if (kind === 'Relative') return { ok: true, periods, ...(duration !== undefined ? { duration } : {}) };
  const nowS = truncateToSecond(now);
  if (s.startSchedule === undefined) {
    return { ok: true, start: nowS, periods, ...(duration !== undefined ? { duration } : {}), note: 'startSchedule absent: set to now (K01.FR.40)' };
  }
  const start = truncateToSecond(s.startSchedule);
  if (kind !== 'Absolute' || start >= nowS) return { ok: true, start, periods, ...(duration !== undefined ? { duration } : {}) };
  const elapsed = Math.floor((nowS - start) / 1000);
  if (duration !== undefined && duration <= elapsed) {
    return refuse('InvalidSchedule', `the schedule ended at ${new Date(start + duration * 1000).toISOString()}, before now`);
  }
  let i = 0;
  while (i + 1 < periods.length && periods[i + 1]!.startPeriod <= elapsed) i++;
  const offset = periods[i]!.startPeriod;
  if (offset === 0) return { ok: true, start, periods, ...(duration !== undefined ? { duration } : {}) };
  return {
    ok: true,
    start: epochMs(start + offset * 1000),
    periods: periods.slice(i).map((p) => ({ ...p, startPeriod: p.startPeriod - offset })),
    ...(duration !== undefined ? { duration: duration - offset } : {}),
    note: `${i} elapsed period(s) dropped; startSchedule moved to the period in force`,
  };
}

function mergeEqual(periods: readonly Period[]): Period[] {
  const out: Period[] = [];
  for (const p of periods) {
    const last = out[out.length - 1];
    if (last && last.limit === p.limit && last.numberPhases === p.numberPhases && last.phaseToUse === p.phaseToUse) continue;
    out.push(p);
  }
  return out;
}

/** Translates the SCSP's request into one TxProfile per target EVSE (rules R1–R10 above). */
export function translateScspProfile(req: ScspProfileRequest, facts: StationFacts, opts: TranslateOptions = {}): Translation {
  const parsed = parse(req);
  if (!parsed.ok) return parsed;
  const { evseId: requestedEvse, profile: p } = parsed;

  // R1, R2
  if (p.chargingProfilePurpose !== 'TxProfile') {
    return refuse('NotTxProfile', `only TxProfile plans are accepted here, not ${p.chargingProfilePurpose}`);
  }
  const schedule = p.chargingSchedule[0];
  const bad = checkSchedule(schedule);
  if (bad || schedule === undefined) return bad ?? refuse('InvalidSchedule', 'the profile has no chargingSchedule');

  // R3
  const active = facts.evses.filter((e) => e.transaction !== undefined);
  let targets: EvseFacts[];
  if (p.transactionId !== undefined) {
    const e = active.find((x) => x.transaction?.id === p.transactionId);
    if (!e || (requestedEvse > 0 && e.evseId !== requestedEvse)) {
      return refuse('UnknownTransaction', `transaction ${p.transactionId} is not active${requestedEvse > 0 ? ` on EVSE ${requestedEvse}` : ''} at this charging station`);
    }
    targets = [e];
  } else if (requestedEvse > 0) {
    const e = facts.evses.find((x) => x.evseId === requestedEvse);
    if (!e) return refuse('UnknownEvse', `EVSE ${requestedEvse} does not exist at this charging station`);
    if (!e.transaction) return refuse('NoTransaction', `there is no active transaction on EVSE ${requestedEvse}`);
    targets = [e];
  } else {
    if (active.length === 0) return refuse('NoTransaction', 'there is no active transaction at this charging station');
    targets = [...active].sort((a, b) => a.evseId - b.evseId);
  }

  // R6 (unit choice)
  const inUnit = schedule.chargingRateUnit;
  const units = facts.capabilities.rateUnits;
  const outUnit: RateUnit | undefined = units.includes(inUnit) ? inUnit : units.find((u) => u === 'A' || u === 'W');
  if (outUnit === undefined) return refuse('UnitNotSupported', 'the charging station takes neither A nor W');

  // R4
  const based = rebase(p.chargingProfileKind, schedule, facts.now);
  if (!based.ok) return based;

  // R5: per period, the station total → a share per target (in the request's unit).
  const wanting = targets.filter((e) => !evDeclinesEnergy(e.transaction?.chargingState));
  const pool = new Set((wanting.length > 0 ? wanting : targets).map((e) => e.evseId));
  const phasesFor = (e: EvseFacts, period: Period): number => (e.dc ? 1 : Math.min(period.numberPhases ?? 3, e.phases ?? 3));
  const voltageOf = (e: EvseFacts): number => e.voltageV ?? NOMINAL_VOLTAGE;
  const capIn = (e: EvseFacts, period: Period, unit: RateUnit): number | undefined =>
    e.maxCurrentA === undefined ? undefined : unit === 'A' ? e.maxCurrentA : e.maxCurrentA * phasesFor(e, period) * voltageOf(e);
  let siteCap: number | undefined;
  if (facts.siteLimit) {
    const s = facts.siteLimit;
    // Station-level conversion between units at 3φ and 230 V (R6 defaults).
    siteCap = s.unit === inUnit ? s.limit : inUnit === 'W' ? s.limit * 3 * NOMINAL_VOLTAGE : s.limit / (3 * NOMINAL_VOLTAGE);
  }
  const shares = new Map<number, number[]>(targets.map((e) => [e.evseId, []]));
  let siteClamped = false;
  for (const period of based.periods) {
    let total = period.limit;
    if (siteCap !== undefined && total > siteCap) {
      total = siteCap;
      siteClamped = true;
    }
    const members = targets.filter((e) => pool.has(e.evseId));
    const split = targets.length === 1 ? [total] : waterFill(total, members.map((e) => capIn(e, period, inUnit)));
    for (const e of targets) {
      const k = members.indexOf(e);
      shares.get(e.evseId)!.push(k < 0 ? 0 : (split[k] ?? 0));
    }
  }

  const id = (evseId: number): number => SCSP_PROFILE_ID_BASE + evseId;
  const stackLevel = scspStackLevel(facts.capabilities.maxStackLevel);
  const maxPeriods = Math.max(1, facts.capabilities.maxPeriodsPerSchedule);
  const out: TargetProfile[] = [];
  for (const e of targets) {
    const adjustments: string[] = [];
    if (based.note) adjustments.push(based.note);
    if (p.evseId === 0) adjustments.push(`station-level limit retargeted to EVSE ${e.evseId} with transaction ${e.transaction!.id}`);
    if (targets.length > 1) {
      adjustments.push(pool.has(e.evseId) ? `equal share among ${pool.size} EVSE(s) whose EV wants energy` : `EV does not want energy (${e.transaction?.chargingState}): share 0`);
    }
    if (siteClamped) adjustments.push(`limited to the site limit ${facts.siteLimit!.limit} ${facts.siteLimit!.unit}`);
    const keepMin = opts.keepMinChargingRate === true && schedule.minChargingRate !== undefined;
    if (schedule.minChargingRate !== undefined && !keepMin) adjustments.push('minChargingRate dropped');
    if (p.chargingSchedule.length > 1) adjustments.push(`only the first of ${p.chargingSchedule.length} schedules kept`);
    if (outUnit !== inUnit) adjustments.push(`converted ${inUnit} → ${outUnit} at ${voltageOf(e)} V ${e.dc ? 'DC' : `line-to-neutral, ${e.phases ?? 3} phase(s)`}`);
    let clamped = false;
    let paused = false;
    const mine = shares.get(e.evseId)!;
    let periods: Period[] = based.periods.map((period, i) => {
      let limit = mine[i] ?? 0;
      const phases = phasesFor(e, period);
      const v = voltageOf(e);
      const q: Period = { startPeriod: period.startPeriod, limit: 0 };
      if (period.numberPhases !== undefined) q.numberPhases = period.numberPhases;
      if (period.phaseToUse !== undefined) q.phaseToUse = period.phaseToUse;
      if (outUnit !== inUnit) {
        if (outUnit === 'A') {
          limit = floorTenth(limit / (phases * v));
          if (!e.dc && limit > 0 && limit < MIN_CURRENT) {
            limit = 0;
            paused = true;
          }
        } else {
          limit = floorTenth(limit * phases * v);
        }
        if (!e.dc && phases < 3 && q.numberPhases === undefined) q.numberPhases = phases;
      }
      const cap = capIn(e, period, outUnit);
      if (cap !== undefined && limit > cap) {
        limit = floorTenth(cap);
        clamped = true;
      }
      q.limit = floorTenth(limit);
      return q;
    });
    if (paused) adjustments.push(`below ${MIN_CURRENT} A per phase: paused (0 A)`);
    if (clamped) adjustments.push(`clamped to the connector maximum ${e.maxCurrentA} A`);
    const merged = mergeEqual(periods);
    if (merged.length < periods.length) adjustments.push(`${periods.length - merged.length} equal consecutive period(s) merged`);
    periods = merged;
    if (periods.length > maxPeriods) {
      adjustments.push(`${periods.length} periods truncated to the station's maximum of ${maxPeriods} (the first ones kept)`);
      periods = periods.slice(0, maxPeriods);
    }
    let minRate: number | undefined;
    if (keepMin) {
      // R2 (kept): converted like a limit of the first period (R6, no pause), clamped to the connector (R7).
      const first = based.periods[0]!;
      const phases = phasesFor(e, first);
      let m = schedule.minChargingRate as number;
      if (outUnit !== inUnit) m = outUnit === 'A' ? m / (phases * voltageOf(e)) : m * phases * voltageOf(e);
      const cap = capIn(e, first, outUnit);
      if (cap !== undefined && m > cap) m = cap;
      minRate = floorTenth(m);
    }
    const common = {
      id: id(e.evseId),
      ...(based.start !== undefined ? { startSchedule: based.start } : {}),
      ...(based.duration !== undefined ? { duration: seconds(based.duration) } : {}),
    };
    const chargingSchedule: ChargingSchedule =
      outUnit === 'A'
        ? {
            ...common,
            chargingRateUnit: 'A',
            chargingSchedulePeriod: periods.map((q) => ({ ...q, startPeriod: seconds(q.startPeriod), limit: amps(q.limit) })),
            ...(minRate !== undefined ? { minChargingRate: amps(minRate) } : {}),
          }
        : {
            ...common,
            chargingRateUnit: 'W',
            chargingSchedulePeriod: periods.map((q) => ({ ...q, startPeriod: seconds(q.startPeriod), limit: watts(q.limit) })),
            ...(minRate !== undefined ? { minChargingRate: watts(minRate) } : {}),
          };
    const profile: ChargingProfile = {
      id: id(e.evseId),
      evseId: e.evseId,
      stackLevel,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: p.chargingProfileKind,
      ...(p.recurrencyKind !== undefined ? { recurrencyKind: p.recurrencyKind } : {}),
      ...(p.validFrom !== undefined ? { validFrom: p.validFrom } : {}),
      ...(p.validTo !== undefined ? { validTo: p.validTo } : {}),
      transactionId: e.transaction!.id,
      chargingSchedule: [chargingSchedule],
    };
    out.push({ evseId: e.evseId, transactionId: e.transaction!.id, profile, adjustments });
  }
  return { ok: true, targets: out };
}
