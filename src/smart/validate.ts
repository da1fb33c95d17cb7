/**
 * Checks a charging profile before the CSMS sends it (OCPP 2.0.1 Part 2 K01 and the OCPP 1.6
 * equivalents; protocols.md §3.3). Pure: every input the checks need is in {@link ValidationContext}.
 *
 * The outcome is data, not a thrown string: each {@link Violation} has a stable {@link ViolationCode}, the
 * requirement it comes from for the target version, the JSON path of the offending field and a detail.
 * All violations are collected (not just the first) so an API can report them together.
 */
import { replacedBy, type ChargingProfile, type ChargingSchedule } from './profile.js';
import { isMultipleOfTenth, type EpochMs, type RateUnit } from './units.js';

export type OcppVersion = '1.6' | '2.0.1';

/**
 * What the station accepts. 1.6 configuration keys / 2.0.1 SmartChargingCtrlr variables:
 * `rateUnits` ChargingScheduleAllowedChargingRateUnit (Current → A, Power → W) / RateUnit;
 * `maxStackLevel` ChargeProfileMaxStackLevel / ProfileStackLevel;
 * `maxPeriodsPerSchedule` ChargingScheduleMaxPeriods / PeriodsPerSchedule;
 * `maxProfilesInstalled` MaxChargingProfilesInstalled / Entries (ChargingProfiles);
 * `phaseSwitching` ConnectorSwitch3to1PhaseSupported / ACPhaseSwitchingSupported.
 */
export interface StationCapabilities {
  rateUnits: readonly RateUnit[];
  maxStackLevel: number;
  maxPeriodsPerSchedule: number;
  maxProfilesInstalled?: number;
  phaseSwitching?: boolean;
}

export interface ActiveTransaction {
  /** 2.0.1 transactionId; 1.6 integer as decimal text. */
  transactionId: string;
  evseId: number;
}

export interface ValidationContext {
  version: OcppVersion;
  capabilities: StationCapabilities;
  /** EVSE ids (1.6: connector ids) the station has; 0 always exists. */
  evseIds: readonly number[];
  activeTransactions: readonly ActiveTransaction[];
  /** The CSMS's shadow of the profiles installed on the station. */
  installed: readonly ChargingProfile[];
  now: EpochMs;
  /**
   * `SetChargingProfile`, or `RemoteStart` for the profile inside 1.6 RemoteStartTransaction.req /
   * 2.0.1 RequestStartTransactionRequest (a TxProfile for a transaction that does not exist yet).
   */
  via: 'SetChargingProfile' | 'RemoteStart';
}

export type ViolationCode =
  | 'NoSchedule'
  | 'TooManySchedules'
  | 'EmptyPeriods'
  | 'FirstPeriodNotZero'
  | 'PeriodsNotIncreasing'
  | 'StartPeriodInvalid'
  | 'TooManyPeriods'
  | 'UnitNotSupported'
  | 'LimitNegative'
  | 'LimitNotMultipleOfTenth'
  | 'NumberPhasesInvalid'
  | 'PhaseToUseInvalid'
  | 'PhaseToUseWithoutSinglePhase'
  | 'PhaseToUseNotSupported'
  | 'StartScheduleMissing'
  | 'StartScheduleNotAllowed'
  | 'DurationInvalid'
  | 'StackLevelOutOfRange'
  | 'RecurrencyKindWithoutRecurring'
  | 'RecurringWithoutRecurrencyKind'
  | 'ValidityEmpty'
  | 'ValidToInPast'
  | 'EvseUnknown'
  | 'StationMaxNotOnStation'
  | 'StationMaxRelative'
  | 'ExternalConstraintsByCsms'
  | 'TxProfileOnStation'
  | 'TxProfileWithoutTransactionId'
  | 'NoActiveTransaction'
  | 'TransactionMismatch'
  | 'TransactionIdNotAllowed'
  | 'TransactionIdNotInteger'
  | 'TransactionIdTooLong'
  | 'RemoteStartNotTxProfile'
  | 'RemoteStartWithTransactionId'
  | 'StackLevelConflict'
  | 'TooManyProfiles';

export interface Violation {
  code: ViolationCode;
  /** Requirement id or rule for the target version, e.g. `K01.FR.31`, `1.6 §3.13`. */
  requirement: string;
  /** JSON path in the 2.0.1-shaped model, e.g. `chargingSchedule[0].chargingSchedulePeriod[1].startPeriod`. */
  path: string;
  detail: string;
}

export type ValidationResult =
  | { ok: true; /** installed profile ids this one replaces (see profile.ts `replacedBy`) */ replaces: number[] }
  | { ok: false; violations: Violation[] };

/** Requirement per code and version. `—` where a rule does not exist in that version. */
export const REQUIREMENTS: Readonly<Record<ViolationCode, Readonly<Record<OcppVersion, string>>>> = {
  NoSchedule: { '2.0.1': 'ChargingProfileType.chargingSchedule 1..3', '1.6': '1.6 §7.8 chargingSchedule required' },
  TooManySchedules: { '2.0.1': 'ChargingProfileType.chargingSchedule 1..3', '1.6': '1.6 §7.8 one chargingSchedule' },
  EmptyPeriods: { '2.0.1': 'K01.FR.31 (chargingSchedulePeriod 1..*)', '1.6': '1.6 §7.13 chargingSchedulePeriod 1..*' },
  FirstPeriodNotZero: { '2.0.1': 'K01.FR.31', '1.6': '1.6 §7.14 (by analogy with K01.FR.31)' },
  PeriodsNotIncreasing: { '2.0.1': 'K01.FR.35', '1.6': '1.6 §7.14 (by analogy with K01.FR.35)' },
  StartPeriodInvalid: { '2.0.1': 'ChargingSchedulePeriodType.startPeriod integer ≥ 0', '1.6': '1.6 §7.14 startPeriod integer' },
  TooManyPeriods: { '2.0.1': 'SmartChargingCtrlr.PeriodsPerSchedule', '1.6': '1.6 §9.4 ChargingScheduleMaxPeriods' },
  UnitNotSupported: { '2.0.1': 'K01.FR.26', '1.6': '1.6 §9.4 ChargingScheduleAllowedChargingRateUnit' },
  LimitNegative: { '2.0.1': 'ChargingSchedulePeriodType.limit ≥ 0', '1.6': '1.6 §7.14 limit ≥ 0' },
  LimitNotMultipleOfTenth: { '2.0.1': 'ChargingSchedulePeriodType.limit (at most one digit fraction)', '1.6': '1.6 schema multipleOf 0.1' },
  NumberPhasesInvalid: { '2.0.1': 'ChargingSchedulePeriodType.numberPhases 1..3', '1.6': '1.6 §7.14 numberPhases 1..3' },
  PhaseToUseInvalid: { '2.0.1': 'ChargingSchedulePeriodType.phaseToUse 1..3', '1.6': '—' },
  PhaseToUseWithoutSinglePhase: { '2.0.1': 'K01.FR.19', '1.6': '—' },
  PhaseToUseNotSupported: { '2.0.1': 'K01.FR.20/K01.FR.48', '1.6': '1.6 has no phaseToUse' },
  StartScheduleMissing: { '2.0.1': 'K01.FR.40', '1.6': '1.6 §7.13 (OCTT TC_057: Absolute ⇒ startSchedule)' },
  StartScheduleNotAllowed: { '2.0.1': 'K01.FR.41', '1.6': '1.6 §7.13 (OCTT TC_057: Relative ⇒ no startSchedule)' },
  DurationInvalid: { '2.0.1': 'ChargingScheduleType.duration integer ≥ 0', '1.6': '1.6 §7.13 duration integer ≥ 0' },
  StackLevelOutOfRange: { '2.0.1': 'SmartChargingCtrlr.ProfileStackLevel', '1.6': '1.6 §9.4 ChargeProfileMaxStackLevel' },
  RecurrencyKindWithoutRecurring: { '2.0.1': 'ChargingProfileType.recurrencyKind', '1.6': '1.6 §7.8 recurrencyKind only with Recurring' },
  RecurringWithoutRecurrencyKind: { '2.0.1': 'ChargingProfileType.recurrencyKind', '1.6': '1.6 §7.8 recurrencyKind' },
  ValidityEmpty: { '2.0.1': 'ChargingProfileType.validFrom < validTo', '1.6': '1.6 §7.8 validFrom < validTo' },
  ValidToInPast: { '2.0.1': 'ChargingProfileType.validTo (interpretation: never send an expired profile)', '1.6': '1.6 §7.8 validTo (interpretation)' },
  EvseUnknown: { '2.0.1': 'K01.FR.28', '1.6': '1.6 §5.16 connectorId' },
  StationMaxNotOnStation: { '2.0.1': 'K01.FR.03', '1.6': '1.6 §3.13 ChargePointMaxProfile only on connectorId 0' },
  StationMaxRelative: { '2.0.1': 'K01.FR.38', '1.6': '—' },
  ExternalConstraintsByCsms: { '2.0.1': 'K01.FR.22', '1.6': '1.6 has no ChargingStationExternalConstraints' },
  TxProfileOnStation: { '2.0.1': 'K01.FR.16', '1.6': '1.6 §3.13 TxProfile only on connectorId > 0' },
  TxProfileWithoutTransactionId: { '2.0.1': 'K01.FR.03', '1.6': 'OCTT TC_057 (1.6 §7.8 optional; Ampline always binds a TxProfile to its transaction)' },
  NoActiveTransaction: { '2.0.1': 'K01.FR.09', '1.6': '1.6 §3.13 TxProfile without a transaction is discarded' },
  TransactionMismatch: { '2.0.1': 'K01.FR.33', '1.6': '1.6 §7.8 transactionId must match the transaction' },
  TransactionIdNotAllowed: { '2.0.1': 'ChargingProfileType.transactionId (TxProfile only)', '1.6': '1.6 §7.8 transactionId only with TxProfile' },
  TransactionIdNotInteger: { '2.0.1': '—', '1.6': '1.6 §7.8 transactionId integer' },
  TransactionIdTooLong: { '2.0.1': 'ChargingProfileType.transactionId string(36)', '1.6': '—' },
  RemoteStartNotTxProfile: { '2.0.1': 'RequestStartTransactionRequest.chargingProfile (TxProfile)', '1.6': '1.6 §5.11 RemoteStartTransaction.req chargingProfile (TxProfile)' },
  RemoteStartWithTransactionId: { '2.0.1': 'RequestStartTransactionRequest.chargingProfile (no transactionId)', '1.6': '1.6 §5.11 RemoteStartTransaction.req chargingProfile (no transactionId)' },
  StackLevelConflict: { '2.0.1': 'K01.FR.06', '1.6': '—' },
  TooManyProfiles: { '2.0.1': 'SmartChargingCtrlr.Entries (ChargingProfiles)', '1.6': '1.6 §9.4 MaxChargingProfilesInstalled' },
};

const isNonNegInt = (n: number): boolean => Number.isInteger(n) && n >= 0;

/** Validates `p` for sending to a station of `ctx.version`. */
export function validateProfile(p: ChargingProfile, ctx: ValidationContext): ValidationResult {
  const v: Violation[] = [];
  const add = (code: ViolationCode, path: string, detail: string, requirement?: string): void => {
    v.push({ code, requirement: requirement ?? REQUIREMENTS[code][ctx.version], path, detail });
  };
  const is16 = ctx.version === '1.6';
  const purpose = p.chargingProfilePurpose;
  const kind = p.chargingProfileKind;

  // ── profile level ──
  if (!Number.isInteger(p.stackLevel) || p.stackLevel < 0 || p.stackLevel > ctx.capabilities.maxStackLevel) {
    add('StackLevelOutOfRange', 'stackLevel', `stackLevel ${p.stackLevel} not in 0..${ctx.capabilities.maxStackLevel}`);
  }
  if (p.recurrencyKind !== undefined && kind !== 'Recurring') {
    add('RecurrencyKindWithoutRecurring', 'recurrencyKind', `recurrencyKind ${p.recurrencyKind} with ${kind}`);
  }
  if (kind === 'Recurring' && p.recurrencyKind === undefined) {
    add('RecurringWithoutRecurrencyKind', 'recurrencyKind', 'Recurring needs recurrencyKind Daily or Weekly');
  }
  if (p.validFrom !== undefined && p.validTo !== undefined && p.validFrom >= p.validTo) {
    add('ValidityEmpty', 'validTo', 'validTo is not after validFrom');
  }
  if (p.validTo !== undefined && p.validTo <= ctx.now) add('ValidToInPast', 'validTo', 'validTo is not in the future');
  if (p.evseId !== 0 && !ctx.evseIds.includes(p.evseId)) {
    add('EvseUnknown', 'evseId', `${is16 ? 'connector' : 'EVSE'} ${p.evseId} does not exist`);
  }

  if (purpose === 'ChargingStationMaxProfile') {
    if (p.evseId !== 0) add('StationMaxNotOnStation', 'evseId', `station maximum on ${p.evseId}, must be 0`);
    if (kind === 'Relative' && !is16) add('StationMaxRelative', 'chargingProfileKind', 'a ChargingStationMaxProfile cannot be Relative');
  }
  if (purpose === 'ChargingStationExternalConstraints') {
    add('ExternalConstraintsByCsms', 'chargingProfilePurpose', 'ChargingStationExternalConstraints are set by external systems, not the CSMS');
  }

  // transactions
  if (p.transactionId !== undefined) {
    if (purpose !== 'TxProfile') add('TransactionIdNotAllowed', 'transactionId', `transactionId with ${purpose}`);
    if (is16 && !/^-?\d+$/.test(p.transactionId)) add('TransactionIdNotInteger', 'transactionId', `"${p.transactionId}" is not an integer`);
    if (!is16 && p.transactionId.length > 36) add('TransactionIdTooLong', 'transactionId', `${p.transactionId.length} characters > 36`);
  }
  if (ctx.via === 'RemoteStart') {
    if (purpose !== 'TxProfile') add('RemoteStartNotTxProfile', 'chargingProfilePurpose', `${purpose} in a remote start`);
    if (p.transactionId !== undefined) add('RemoteStartWithTransactionId', 'transactionId', 'the transaction does not exist yet');
  } else if (purpose === 'TxProfile') {
    if (p.evseId === 0) add('TxProfileOnStation', 'evseId', 'a TxProfile needs an EVSE > 0');
    if (p.transactionId === undefined) add('TxProfileWithoutTransactionId', 'transactionId', 'a TxProfile needs the transactionId');
    if (p.evseId !== 0) {
      const onEvse = ctx.activeTransactions.filter((t) => t.evseId === p.evseId);
      if (onEvse.length === 0) add('NoActiveTransaction', 'evseId', `no active transaction on ${p.evseId}`);
      else if (p.transactionId !== undefined && !onEvse.some((t) => t.transactionId === p.transactionId)) {
        add('TransactionMismatch', 'transactionId', `transaction ${p.transactionId} is not the one active on ${p.evseId}`);
      }
    }
  }

  // ── schedules ──
  const maxSchedules = is16 ? 1 : 3;
  if (p.chargingSchedule.length === 0) add('NoSchedule', 'chargingSchedule', 'no chargingSchedule');
  if (p.chargingSchedule.length > maxSchedules) {
    add('TooManySchedules', 'chargingSchedule', `${p.chargingSchedule.length} schedules > ${maxSchedules}`);
  }
  p.chargingSchedule.forEach((s, i) => checkSchedule(s, `chargingSchedule[${i}]`, p, ctx, add));

  // ── against what is installed ──
  const replaces = replacedBy(ctx.installed, p, ctx.version);
  if (!is16) {
    // K01.FR.06: no two valid profiles with the same stackLevel + purpose (+ EVSE) unless the same id.
    // K01.FR.39: for TxProfiles the pair is stackLevel + transactionId.
    for (const q of ctx.installed) {
      if (q.id === p.id || q.chargingProfilePurpose !== purpose || q.stackLevel !== p.stackLevel) continue;
      if (q.evseId !== p.evseId) continue;
      if (purpose === 'TxProfile' && q.transactionId !== p.transactionId) continue;
      if (q.validTo !== undefined && q.validTo <= ctx.now) continue;
      if (!overlaps(p, q)) continue;
      add(
        'StackLevelConflict',
        'stackLevel',
        `profile ${q.id} already has stackLevel ${p.stackLevel} for ${purpose} on ${p.evseId}`,
        purpose === 'TxProfile' ? 'K01.FR.39' : 'K01.FR.06',
      );
    }
  }
  const max = ctx.capabilities.maxProfilesInstalled;
  if (max !== undefined && ctx.installed.length - replaces.length + 1 > max) {
    add('TooManyProfiles', 'id', `${ctx.installed.length - replaces.length + 1} profiles > ${max}`);
  }

  return v.length === 0 ? { ok: true, replaces } : { ok: false, violations: v };
}

function overlaps(a: ChargingProfile, b: ChargingProfile): boolean {
  const aFrom = a.validFrom ?? -Infinity;
  const bFrom = b.validFrom ?? -Infinity;
  const aTo = a.validTo ?? Infinity;
  const bTo = b.validTo ?? Infinity;
  return aFrom < bTo && bFrom < aTo;
}

function checkSchedule(
  s: ChargingSchedule,
  path: string,
  p: ChargingProfile,
  ctx: ValidationContext,
  add: (code: ViolationCode, path: string, detail: string) => void,
): void {
  const caps = ctx.capabilities;
  if (!caps.rateUnits.includes(s.chargingRateUnit)) {
    add('UnitNotSupported', `${path}.chargingRateUnit`, `${s.chargingRateUnit} not in [${caps.rateUnits.join(', ')}]`);
  }
  if (p.chargingProfileKind === 'Relative') {
    if (s.startSchedule !== undefined) add('StartScheduleNotAllowed', `${path}.startSchedule`, 'Relative schedules have no startSchedule');
  } else if (s.startSchedule === undefined) {
    add('StartScheduleMissing', `${path}.startSchedule`, `${p.chargingProfileKind} needs startSchedule`);
  }
  if (s.duration !== undefined && !isNonNegInt(s.duration)) add('DurationInvalid', `${path}.duration`, `duration ${s.duration}`);
  if (s.minChargingRate !== undefined) {
    if (s.minChargingRate < 0) add('LimitNegative', `${path}.minChargingRate`, `minChargingRate ${s.minChargingRate}`);
    if (!isMultipleOfTenth(s.minChargingRate)) add('LimitNotMultipleOfTenth', `${path}.minChargingRate`, `minChargingRate ${s.minChargingRate}`);
  }

  const periods = s.chargingSchedulePeriod;
  if (periods.length === 0) {
    add('EmptyPeriods', `${path}.chargingSchedulePeriod`, 'no periods');
    return;
  }
  if (periods.length > caps.maxPeriodsPerSchedule) {
    add('TooManyPeriods', `${path}.chargingSchedulePeriod`, `${periods.length} periods > ${caps.maxPeriodsPerSchedule}`);
  }
  periods.forEach((q, j) => {
    const at = `${path}.chargingSchedulePeriod[${j}]`;
    if (!isNonNegInt(q.startPeriod)) add('StartPeriodInvalid', `${at}.startPeriod`, `startPeriod ${q.startPeriod}`);
    if (j === 0 && q.startPeriod !== 0) add('FirstPeriodNotZero', `${at}.startPeriod`, `first startPeriod is ${q.startPeriod}`);
    const prev = periods[j - 1];
    if (prev !== undefined && !(q.startPeriod > prev.startPeriod)) {
      add('PeriodsNotIncreasing', `${at}.startPeriod`, `startPeriod ${q.startPeriod} after ${prev.startPeriod}`);
    }
    if (q.limit < 0) add('LimitNegative', `${at}.limit`, `limit ${q.limit}`);
    if (!isMultipleOfTenth(q.limit)) add('LimitNotMultipleOfTenth', `${at}.limit`, `limit ${q.limit}`);
    if (q.numberPhases !== undefined && !(Number.isInteger(q.numberPhases) && q.numberPhases >= 1 && q.numberPhases <= 3)) {
      add('NumberPhasesInvalid', `${at}.numberPhases`, `numberPhases ${q.numberPhases}`);
    }
    if (q.phaseToUse !== undefined) {
      if (ctx.version === '1.6') {
        add('PhaseToUseNotSupported', `${at}.phaseToUse`, '1.6 has no phaseToUse');
        return;
      }
      if (!(Number.isInteger(q.phaseToUse) && q.phaseToUse >= 1 && q.phaseToUse <= 3)) {
        add('PhaseToUseInvalid', `${at}.phaseToUse`, `phaseToUse ${q.phaseToUse}`);
      }
      if (q.numberPhases !== 1) add('PhaseToUseWithoutSinglePhase', `${at}.phaseToUse`, `phaseToUse with numberPhases ${q.numberPhases ?? 'absent (3)'}`);
      if (caps.phaseSwitching !== true) add('PhaseToUseNotSupported', `${at}.phaseToUse`, 'the station cannot switch phases (ACPhaseSwitchingSupported)');
    }
  });
}
