/**
 * One version-neutral charging-profile model, shaped like OCPP 2.0.1 `ChargingProfileType` plus the
 * `evseId` it is set on, with mappers to and from OCPP 1.6 and 2.0.1 (protocols.md §3.3: "Model profiles
 * 2.0.1-shaped with a 1.6 adapter").
 *
 * Differences from the wire shapes:
 * - times are epoch milliseconds ({@link EpochMs}), periods and durations branded {@link Seconds};
 * - limits are branded by the schedule's unit (`A` → {@link Amps} per phase, `W` → {@link Watts} total);
 * - `transactionId` is a string (2.0.1 string ≤ 36; 1.6 integers as decimal text);
 * - 1.6 `ChargePointMaxProfile` is `ChargingStationMaxProfile`; 1.6 connector n is EVSE n, connector 0 is
 *   EVSE 0 (the station), as in src/domain/model.ts.
 *
 * Mapping 1.6 → model gives the single schedule the profile's id as schedule id (1.6 has none), so
 * 1.6 → model → 1.6 and model(schedule id = profile id) → 1.6 → model are exact round trips. ISO strings
 * come back normalised (`…T12:00:00.000Z`).
 */
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import {
  epochToIso,
  isoToEpoch,
  seconds,
  type Amps,
  type EpochMs,
  type RateOf,
  type RateUnit,
  type Seconds,
  type Watts,
} from './units.js';

export type ProfilePurpose =
  | 'ChargingStationMaxProfile'
  | 'ChargingStationExternalConstraints'
  | 'TxDefaultProfile'
  | 'TxProfile';
export type ProfileKind = 'Absolute' | 'Recurring' | 'Relative';
export type RecurrencyKind = 'Daily' | 'Weekly';

export interface SchedulePeriod<R extends number = Amps | Watts> {
  /** Seconds from the start of the schedule. */
  startPeriod: Seconds;
  /** Per phase when the schedule is in A, total when in W. */
  limit: R;
  /** Phases that may be used; absent ⇒ 3. */
  numberPhases?: number;
  /** 2.0.1 only: the phase (1–3) to use when `numberPhases` is 1 and the station can switch phases. */
  phaseToUse?: number;
}

interface ScheduleOf<U extends RateUnit> {
  id: number;
  /** Absolute/Recurring: the start (Recurring: the anchor of the recurrence). Relative: absent. */
  startSchedule?: EpochMs;
  /** Absent: the last period runs on (Recurring: until the next recurrence). */
  duration?: Seconds;
  chargingRateUnit: U;
  chargingSchedulePeriod: Array<SchedulePeriod<RateOf<U>>>;
  minChargingRate?: RateOf<U>;
}
export type AmpSchedule = ScheduleOf<'A'>;
export type WattSchedule = ScheduleOf<'W'>;
export type ChargingSchedule = AmpSchedule | WattSchedule;

export interface ChargingProfile {
  id: number;
  /** 0 = the station (Max/External: whole-station limit; TxDefault: every EVSE). */
  evseId: number;
  stackLevel: number;
  chargingProfilePurpose: ProfilePurpose;
  chargingProfileKind: ProfileKind;
  recurrencyKind?: RecurrencyKind;
  validFrom?: EpochMs;
  validTo?: EpochMs;
  /** TxProfile only. 1.6 integer ids as decimal text. */
  transactionId?: string;
  /** 1–3 schedules (2.0.1); 1.6 has exactly one. The first is the one in force (see composite.md). */
  chargingSchedule: ChargingSchedule[];
}

export type CsChargingProfiles16 = OCPP16.SetChargingProfileRequest['csChargingProfiles'];
export type Schedule16 = CsChargingProfiles16['chargingSchedule'];
export type ChargingProfile201 = OCPP20.SetChargingProfileRequest['chargingProfile'];
export type Schedule201 = ChargingProfile201['chargingSchedule'][number];

/** Why a model profile cannot be expressed in a protocol version. */
export type MappingIssue =
  | 'ExternalConstraintsNotIn16'
  | 'MultipleSchedulesNotIn16'
  | 'NoSchedule'
  | 'PhaseToUseNotIn16'
  | 'TransactionIdNotInteger';

export type MapResult<T> = { ok: true; value: T } | { ok: false; issues: MappingIssue[] };

/** Copies the keys whose value is not `undefined` (so round trips compare with deepStrictEqual). */
function defined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

function periodsFromWire<U extends RateUnit>(
  periods: ReadonlyArray<{ startPeriod: number; limit: number; numberPhases?: number; phaseToUse?: number }>,
): Array<SchedulePeriod<RateOf<U>>> {
  return periods.map((p) =>
    defined({
      startPeriod: seconds(p.startPeriod),
      limit: p.limit as RateOf<U>,
      numberPhases: p.numberPhases,
      phaseToUse: p.phaseToUse,
    }),
  );
}

function scheduleFromWire(
  s: {
    startSchedule?: string;
    duration?: number;
    chargingRateUnit: RateUnit;
    chargingSchedulePeriod: ReadonlyArray<{ startPeriod: number; limit: number; numberPhases?: number; phaseToUse?: number }>;
    minChargingRate?: number;
  },
  id: number,
): ChargingSchedule {
  const common = {
    id,
    startSchedule: s.startSchedule === undefined ? undefined : isoToEpoch(s.startSchedule),
    duration: s.duration === undefined ? undefined : seconds(s.duration),
  };
  if (s.chargingRateUnit === 'A') {
    return defined<AmpSchedule>({
      ...common,
      chargingRateUnit: 'A',
      chargingSchedulePeriod: periodsFromWire<'A'>(s.chargingSchedulePeriod),
      minChargingRate: s.minChargingRate as Amps | undefined,
    });
  }
  return defined<WattSchedule>({
    ...common,
    chargingRateUnit: 'W',
    chargingSchedulePeriod: periodsFromWire<'W'>(s.chargingSchedulePeriod),
    minChargingRate: s.minChargingRate as Watts | undefined,
  });
}

function periodsToWire(s: ChargingSchedule, withPhaseToUse: boolean) {
  const out: Array<{ startPeriod: number; limit: number; numberPhases?: number; phaseToUse?: number }> = [];
  for (const p of s.chargingSchedulePeriod) {
    out.push(
      defined({
        startPeriod: p.startPeriod as number,
        limit: p.limit as number,
        numberPhases: p.numberPhases,
        phaseToUse: withPhaseToUse ? p.phaseToUse : undefined,
      }),
    );
  }
  return out;
}

// ───────────────────────────── OCPP 1.6 ─────────────────────────────

const PURPOSE_FROM_16: Record<CsChargingProfiles16['chargingProfilePurpose'], ProfilePurpose> = {
  ChargePointMaxProfile: 'ChargingStationMaxProfile',
  TxDefaultProfile: 'TxDefaultProfile',
  TxProfile: 'TxProfile',
};

/** 1.6 `SetChargingProfile.req` (or RemoteStartTransaction's profile + its connector) → model. */
export function fromOcpp16(connectorId: number, cs: CsChargingProfiles16): ChargingProfile {
  return defined<ChargingProfile>({
    id: cs.chargingProfileId,
    evseId: connectorId,
    stackLevel: cs.stackLevel,
    chargingProfilePurpose: PURPOSE_FROM_16[cs.chargingProfilePurpose],
    chargingProfileKind: cs.chargingProfileKind,
    recurrencyKind: cs.recurrencyKind,
    validFrom: cs.validFrom === undefined ? undefined : isoToEpoch(cs.validFrom),
    validTo: cs.validTo === undefined ? undefined : isoToEpoch(cs.validTo),
    transactionId: cs.transactionId === undefined ? undefined : String(cs.transactionId),
    chargingSchedule: [scheduleFromWire(cs.chargingSchedule, cs.chargingProfileId)],
  });
}

/** Model → 1.6 `SetChargingProfile.req`. Fails (enumerated) where 1.6 cannot express the profile. */
export function toOcpp16(p: ChargingProfile): MapResult<OCPP16.SetChargingProfileRequest> {
  const issues: MappingIssue[] = [];
  let purpose: CsChargingProfiles16['chargingProfilePurpose'] = 'TxProfile';
  switch (p.chargingProfilePurpose) {
    case 'ChargingStationMaxProfile':
      purpose = 'ChargePointMaxProfile';
      break;
    case 'ChargingStationExternalConstraints':
      issues.push('ExternalConstraintsNotIn16');
      break;
    case 'TxDefaultProfile':
    case 'TxProfile':
      purpose = p.chargingProfilePurpose;
      break;
  }
  const [schedule, ...more] = p.chargingSchedule;
  if (schedule === undefined) issues.push('NoSchedule');
  if (more.length > 0) issues.push('MultipleSchedulesNotIn16');
  if (schedule?.chargingSchedulePeriod.some((x) => x.phaseToUse !== undefined)) issues.push('PhaseToUseNotIn16');
  let transactionId: number | undefined;
  if (p.transactionId !== undefined) {
    if (/^-?\d+$/.test(p.transactionId) && Number.isSafeInteger(Number(p.transactionId))) {
      transactionId = Number(p.transactionId);
    } else {
      issues.push('TransactionIdNotInteger');
    }
  }
  if (issues.length > 0 || schedule === undefined) return { ok: false, issues };
  const chargingSchedule: Schedule16 = defined({
    duration: schedule.duration as number | undefined,
    startSchedule: schedule.startSchedule === undefined ? undefined : epochToIso(schedule.startSchedule),
    chargingRateUnit: schedule.chargingRateUnit,
    chargingSchedulePeriod: periodsToWire(schedule, false),
    minChargingRate: schedule.minChargingRate as number | undefined,
  });
  return {
    ok: true,
    value: {
      connectorId: p.evseId,
      csChargingProfiles: defined<CsChargingProfiles16>({
        chargingProfileId: p.id,
        transactionId,
        stackLevel: p.stackLevel,
        chargingProfilePurpose: purpose,
        chargingProfileKind: p.chargingProfileKind,
        recurrencyKind: p.recurrencyKind,
        validFrom: p.validFrom === undefined ? undefined : epochToIso(p.validFrom),
        validTo: p.validTo === undefined ? undefined : epochToIso(p.validTo),
        chargingSchedule,
      }),
    },
  };
}

// ───────────────────────────── OCPP 2.0.1 ─────────────────────────────

/** 2.0.1 `SetChargingProfileRequest` (`evseId` + `chargingProfile`) → model. `salesTariff`/`customData` are not kept. */
export function fromOcpp201(evseId: number, cp: ChargingProfile201): ChargingProfile {
  return defined<ChargingProfile>({
    id: cp.id,
    evseId,
    stackLevel: cp.stackLevel,
    chargingProfilePurpose: cp.chargingProfilePurpose,
    chargingProfileKind: cp.chargingProfileKind,
    recurrencyKind: cp.recurrencyKind,
    validFrom: cp.validFrom === undefined ? undefined : isoToEpoch(cp.validFrom),
    validTo: cp.validTo === undefined ? undefined : isoToEpoch(cp.validTo),
    transactionId: cp.transactionId,
    chargingSchedule: cp.chargingSchedule.map((s) => scheduleFromWire(s, s.id)),
  });
}

/** Model → 2.0.1 `SetChargingProfileRequest`. Every model profile is expressible in 2.0.1. */
export function toOcpp201(p: ChargingProfile): OCPP20.SetChargingProfileRequest {
  return {
    evseId: p.evseId,
    chargingProfile: defined<ChargingProfile201>({
      id: p.id,
      stackLevel: p.stackLevel,
      chargingProfilePurpose: p.chargingProfilePurpose,
      chargingProfileKind: p.chargingProfileKind,
      recurrencyKind: p.recurrencyKind,
      validFrom: p.validFrom === undefined ? undefined : epochToIso(p.validFrom),
      validTo: p.validTo === undefined ? undefined : epochToIso(p.validTo),
      transactionId: p.transactionId,
      chargingSchedule: p.chargingSchedule.map(
        (s): Schedule201 =>
          defined({
            id: s.id,
            startSchedule: s.startSchedule === undefined ? undefined : epochToIso(s.startSchedule),
            duration: s.duration as number | undefined,
            chargingRateUnit: s.chargingRateUnit,
            chargingSchedulePeriod: periodsToWire(s, true),
            minChargingRate: s.minChargingRate as number | undefined,
          }),
      ),
    }),
  };
}

// ───────────────────────────── helpers ─────────────────────────────

/** The schedule in force: the first (2.0.1 allows up to 3 for ISO 15118 negotiation; see composite.md). */
export function activeSchedule(p: ChargingProfile): ChargingSchedule | undefined {
  return p.chargingSchedule[0];
}

/**
 * Installed profiles that a successful install of `p` replaces on the station: the same id
 * (2.0.1 K01.FR.05, 1.6 §3.13) and, in 1.6 only, the same stackLevel + purpose on the same connector
 * (1.6 §3.13 "same combination of stackLevel / ChargingProfilePurpose … SHALL replace"; scoping it to
 * the connector is an interpretation). In 2.0.1 such a pair is a CSMS error instead (K01.FR.06/39,
 * see validate.ts). For the CSMS shadow store.
 */
export function replacedBy(installed: readonly ChargingProfile[], p: ChargingProfile, version: '1.6' | '2.0.1'): number[] {
  const ids = new Set<number>();
  for (const q of installed) {
    if (q.id === p.id) ids.add(q.id);
    else if (
      version === '1.6' &&
      q.evseId === p.evseId &&
      q.stackLevel === p.stackLevel &&
      q.chargingProfilePurpose === p.chargingProfilePurpose
    ) {
      ids.add(q.id);
    }
  }
  return [...ids].sort((a, b) => a - b);
}
