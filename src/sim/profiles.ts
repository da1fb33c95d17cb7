/**
 * Charger-side charging-profile handling: version adapters (1.6 / 2.0.1 → neutral model), validation
 * as a real charger would do it (enumerated reasons, no thrown strings), and the installed-profile store
 * (replacement, clearing, removal at transaction end). Pure apart from the store's own array.
 */
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import type { OcppProtocol } from '../ocpp/protocol.js';
import type { Profile, ProfilePurpose } from './composite.js';
import type { EpochMs, RateUnit } from './units.js';

export type Ocpp16Profile = OCPP16.SetChargingProfileRequest['csChargingProfiles'];
export type Ocpp201Profile = OCPP20.SetChargingProfileRequest['chargingProfile'];

/** An installed profile; 2.0.1 keeps the CSMS's object for GetChargingProfiles reports. */
export interface StoredProfile extends Profile {
  raw201?: Ocpp201Profile;
}

export type ProfileRejectReason =
  | 'InvalidDate'
  | 'UnknownEvse'
  | 'StationProfileOnEvse'
  | 'TxProfileOnStation'
  | 'NoActiveTransaction'
  | 'TransactionIdMissing'
  | 'TransactionIdMismatch'
  | 'ExternalConstraintsNotAllowed'
  | 'MissingStartSchedule'
  | 'UnexpectedStartSchedule'
  | 'MissingRecurrencyKind'
  | 'RelativeStationMax'
  | 'NoPeriods'
  | 'FirstPeriodNotZero'
  | 'PeriodsNotIncreasing'
  | 'UnsupportedRateUnit'
  | 'StackLevelTooHigh'
  | 'TooManyPeriods'
  | 'TooManyProfiles'
  | 'InvalidValidity'
  | 'NegativeLimit'
  | 'InvalidNumberPhases'
  | 'PhaseToUseNotAllowed';

/**
 * 2.0.1 statusInfo.reasonCode (≤ 20 characters) for a rejection, from the reason codes the 2.0.1
 * appendix uses for smart charging; the enumerated reason goes in additionalInfo.
 */
export function reasonCode201(r: ProfileRejectReason): string {
  switch (r) {
    case 'UnknownEvse':
      return 'UnknownEvse';
    case 'NoActiveTransaction':
    case 'TransactionIdMismatch':
      return 'TxNotFound';
    case 'UnsupportedRateUnit':
      return 'UnsupportedRateUnit';
    case 'StackLevelTooHigh':
      return 'InvalidStackLevel';
    case 'NoPeriods':
    case 'FirstPeriodNotZero':
    case 'PeriodsNotIncreasing':
    case 'TooManyPeriods':
    case 'MissingStartSchedule':
    case 'UnexpectedStartSchedule':
    case 'NegativeLimit':
    case 'InvalidNumberPhases':
    case 'PhaseToUseNotAllowed':
      return 'InvalidSchedule';
    case 'TooManyProfiles':
      return 'NoCapacity';
    default:
      return 'InvalidProfile';
  }
}

export type Check = { ok: true } | { ok: false; reason: ProfileRejectReason; detail: string };

const OK: Check = { ok: true };
const reject = (reason: ProfileRejectReason, detail: string): Check => ({ ok: false, reason, detail });

function parseTime(s: string | undefined): EpochMs | undefined | null {
  if (s === undefined) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
}

/** Result of mapping a wire profile into the neutral model. */
export type Mapped = { ok: true; profile: StoredProfile } | { ok: false; reason: 'InvalidDate'; detail: string };

/** 1.6 ChargePointMaxProfile is 2.0.1's ChargingStationMaxProfile; the other purposes share names. */
export function purposeFrom16<P extends Ocpp16Profile['chargingProfilePurpose'] | undefined>(p: P): P extends undefined ? undefined : ProfilePurpose;
export function purposeFrom16(p: Ocpp16Profile['chargingProfilePurpose'] | undefined): ProfilePurpose | undefined {
  return p === 'ChargePointMaxProfile' ? 'ChargingStationMaxProfile' : p;
}

/** 1.6 csChargingProfiles on `evseId` (the EVSE of the connector; 0 for connector 0) → neutral. */
export function from16(evseId: number, cp: Ocpp16Profile, now: EpochMs): Mapped {
  const validFrom = parseTime(cp.validFrom);
  const validTo = parseTime(cp.validTo);
  const start = parseTime(cp.chargingSchedule.startSchedule);
  if (validFrom === null || validTo === null || start === null) {
    return { ok: false, reason: 'InvalidDate', detail: 'unparseable date-time' };
  }
  const profile: StoredProfile = {
    evseId,
    id: cp.chargingProfileId,
    stackLevel: cp.stackLevel,
    purpose: purposeFrom16(cp.chargingProfilePurpose),
    kind: cp.chargingProfileKind,
    schedule: {
      chargingRateUnit: cp.chargingSchedule.chargingRateUnit,
      periods: cp.chargingSchedule.chargingSchedulePeriod.map((p) => ({ ...p })),
    },
    installedAt: now,
  };
  if (cp.recurrencyKind !== undefined) profile.recurrencyKind = cp.recurrencyKind;
  if (validFrom !== undefined) profile.validFrom = validFrom;
  if (validTo !== undefined) profile.validTo = validTo;
  if (cp.transactionId !== undefined) profile.transactionId = String(cp.transactionId);
  if (start !== undefined) profile.schedule.startSchedule = start;
  if (cp.chargingSchedule.duration !== undefined) profile.schedule.duration = cp.chargingSchedule.duration;
  if (cp.chargingSchedule.minChargingRate !== undefined) profile.schedule.minChargingRate = cp.chargingSchedule.minChargingRate;
  return { ok: true, profile };
}

/**
 * 2.0.1 chargingProfile on `evseId` → neutral. A 2.0.1 profile may carry up to three schedules (for
 * ISO 15118 the EV picks one); this charger executes the first one.
 */
export function from201(evseId: number, cp: Ocpp201Profile, now: EpochMs): Mapped {
  const sched = cp.chargingSchedule[0];
  const validFrom = parseTime(cp.validFrom);
  const validTo = parseTime(cp.validTo);
  const start = parseTime(sched?.startSchedule);
  if (!sched || validFrom === null || validTo === null || start === null) {
    return { ok: false, reason: 'InvalidDate', detail: sched ? 'unparseable date-time' : 'no chargingSchedule' };
  }
  const profile: StoredProfile = {
    evseId,
    id: cp.id,
    stackLevel: cp.stackLevel,
    purpose: cp.chargingProfilePurpose,
    kind: cp.chargingProfileKind,
    schedule: {
      chargingRateUnit: sched.chargingRateUnit,
      periods: sched.chargingSchedulePeriod.map(({ startPeriod, limit, numberPhases, phaseToUse }) => {
        const p: Profile['schedule']['periods'][number] = { startPeriod, limit };
        if (numberPhases !== undefined) p.numberPhases = numberPhases;
        if (phaseToUse !== undefined) p.phaseToUse = phaseToUse;
        return p;
      }),
    },
    installedAt: now,
    raw201: cp,
  };
  if (cp.recurrencyKind !== undefined) profile.recurrencyKind = cp.recurrencyKind;
  if (validFrom !== undefined) profile.validFrom = validFrom;
  if (validTo !== undefined) profile.validTo = validTo;
  if (cp.transactionId !== undefined) profile.transactionId = cp.transactionId;
  if (start !== undefined) profile.schedule.startSchedule = start;
  if (sched.duration !== undefined) profile.schedule.duration = sched.duration;
  if (sched.minChargingRate !== undefined) profile.schedule.minChargingRate = sched.minChargingRate;
  return { ok: true, profile };
}

/** What the station knows when it judges a profile. */
export interface ProfileRules {
  protocol: OcppProtocol;
  /** EVSE ids that exist (all > 0). */
  evseIds: readonly number[];
  /** Neutral id of the transaction active on an EVSE (1.6: the CSMS integer as a string), if any. */
  activeTransactionId(evseId: number): string | undefined;
  /** 1.6 ChargeProfileMaxStackLevel / 2.0.1 SmartChargingCtrlr.ProfileStackLevel. */
  maxStackLevel: number;
  /** 1.6 ChargingScheduleAllowedChargingRateUnit / 2.0.1 SmartChargingCtrlr.RateUnit. */
  rateUnits: readonly RateUnit[];
  /** 1.6 ChargingScheduleMaxPeriods / 2.0.1 SmartChargingCtrlr.PeriodsPerSchedule. */
  maxPeriods: number;
  /** 1.6 MaxChargingProfilesInstalled / 2.0.1 SmartChargingCtrlr.Entries (ChargingProfiles). */
  maxProfiles: number;
  /** 2.0.1 SmartChargingCtrlr.ACPhaseSwitchingSupported. */
  phaseSwitching: boolean;
}

/**
 * Would a real charger accept this profile? `options.remoteStart` skips the transaction checks for the
 * profile carried by RemoteStartTransaction / RequestStartTransaction (it gets the new transaction's id).
 */
export function validateProfile(
  p: Profile,
  installed: readonly Profile[],
  rules: ProfileRules,
  now: EpochMs,
  options: { remoteStart?: boolean } = {},
): Check {
  const v201 = rules.protocol === 'ocpp2.0.1';
  if (p.evseId !== 0 && !rules.evseIds.includes(p.evseId)) {
    return reject('UnknownEvse', `EVSE ${p.evseId} does not exist`); // K01.FR.28
  }
  if (p.purpose === 'ChargingStationExternalConstraints') {
    return reject('ExternalConstraintsNotAllowed', 'external constraints are not set by the CSMS'); // K01.FR.22
  }
  if (p.purpose === 'ChargingStationMaxProfile') {
    // 1.6 §5.16: ChargePointMaxProfile only on connectorId 0; 2.0.1 K01.FR.03 (evseId 0), K01.FR.38 (not Relative).
    if (p.evseId !== 0) return reject('StationProfileOnEvse', 'station maximum profile only on EVSE/connector 0');
    if (v201 && p.kind === 'Relative') return reject('RelativeStationMax', 'ChargingStationMaxProfile cannot be Relative');
  }
  if (p.purpose === 'TxProfile' && !options.remoteStart) {
    // 1.6 §5.16: TxProfile only on connectorId > 0 with an active transaction; 2.0.1 K01.FR.16 / K01.FR.09.
    if (p.evseId === 0) return reject('TxProfileOnStation', 'TxProfile needs an EVSE/connector > 0');
    const active = rules.activeTransactionId(p.evseId);
    if (active === undefined) return reject('NoActiveTransaction', `no transaction on EVSE ${p.evseId}`);
    if (p.transactionId === undefined) {
      if (v201) return reject('TransactionIdMissing', 'TxProfile needs transactionId'); // K01.FR.16
    } else if (p.transactionId !== active) {
      return reject('TransactionIdMismatch', `transaction ${p.transactionId} is not active on EVSE ${p.evseId}`); // K01.FR.33
    }
  }
  if (p.kind === 'Relative' && p.schedule.startSchedule !== undefined) {
    return reject('UnexpectedStartSchedule', 'Relative profile must not have startSchedule'); // K01.FR.41; 1.6 ChargingSchedule.startSchedule (not for Relative)
  }
  if (v201 && p.kind !== 'Relative' && p.schedule.startSchedule === undefined) {
    return reject('MissingStartSchedule', `${p.kind} profile needs startSchedule`); // K01.FR.40
  }
  if (p.kind === 'Recurring' && p.recurrencyKind === undefined) {
    return reject('MissingRecurrencyKind', 'Recurring profile needs recurrencyKind');
  }
  if (p.validFrom !== undefined && p.validTo !== undefined && p.validTo <= p.validFrom) {
    return reject('InvalidValidity', 'validTo is not after validFrom');
  }
  if (p.validTo !== undefined && p.validTo <= now) return reject('InvalidValidity', 'validTo is in the past');
  if (!rules.rateUnits.includes(p.schedule.chargingRateUnit)) {
    return reject('UnsupportedRateUnit', `rate unit ${p.schedule.chargingRateUnit} not supported`); // K01.FR.26
  }
  if (p.stackLevel > rules.maxStackLevel) {
    return reject('StackLevelTooHigh', `stackLevel ${p.stackLevel} > ${rules.maxStackLevel}`);
  }
  const periods = p.schedule.periods;
  const first = periods[0];
  if (!first) return reject('NoPeriods', 'no chargingSchedulePeriod');
  if (periods.length > rules.maxPeriods) return reject('TooManyPeriods', `${periods.length} periods > ${rules.maxPeriods}`);
  if (first.startPeriod !== 0) return reject('FirstPeriodNotZero', 'first startPeriod must be 0'); // K01.FR.31
  for (let i = 0; i < periods.length; i++) {
    const cur = periods[i];
    if (!cur) continue;
    const prev = periods[i - 1];
    if (prev && cur.startPeriod <= prev.startPeriod) {
      return reject('PeriodsNotIncreasing', 'startPeriod values must increase'); // K01.FR.35
    }
    if (cur.limit < 0) return reject('NegativeLimit', 'limit must not be negative');
    if (cur.numberPhases !== undefined && (cur.numberPhases < 1 || cur.numberPhases > 3)) {
      return reject('InvalidNumberPhases', 'numberPhases must be 1..3');
    }
    if (cur.phaseToUse !== undefined && (cur.numberPhases !== 1 || !rules.phaseSwitching)) {
      return reject('PhaseToUseNotAllowed', 'phaseToUse needs numberPhases 1 and phase switching'); // K01.FR.19/20
    }
  }
  const remaining = installed.filter((q) => !replaces(p, q)).length;
  if (remaining + 1 > rules.maxProfiles) return reject('TooManyProfiles', `more than ${rules.maxProfiles} profiles`);
  return OK;
}

/**
 * Does installing `p` replace `q`? Same id anywhere (1.6 §5.16, K01.FR.05), or same stackLevel and
 * purpose on the same EVSE (1.6 §5.16 "same combination of stackLevel / ChargingProfilePurpose",
 * K01.FR.06; scoped per EVSE — interpretation).
 */
export function replaces(p: Profile, q: Profile): boolean {
  return q.id === p.id || (q.evseId === p.evseId && q.stackLevel === p.stackLevel && q.purpose === p.purpose);
}

export interface ClearFilter {
  id?: number;
  evseId?: number;
  purpose?: ProfilePurpose;
  stackLevel?: number;
}

/** Does a ClearChargingProfile filter match? An id selects that profile alone; other fields are ANDed. */
export function clearMatches(f: ClearFilter, p: Profile): boolean {
  if (f.id !== undefined) return p.id === f.id;
  if (p.purpose === 'ChargingStationExternalConstraints') return false; // not the CSMS's to clear
  if (f.evseId !== undefined && p.evseId !== f.evseId) return false;
  if (f.purpose !== undefined && p.purpose !== f.purpose) return false;
  if (f.stackLevel !== undefined && p.stackLevel !== f.stackLevel) return false;
  return true;
}

/** Installed profiles of one station. Allocates nothing until the first profile arrives. */
export class ProfileStore {
  private items: StoredProfile[] | undefined;

  all(): readonly StoredProfile[] {
    return this.items ?? [];
  }

  install(p: StoredProfile): void {
    const kept = this.all().filter((q) => !replaces(p, q));
    kept.push(p);
    this.items = kept;
  }

  /** Removes matching profiles; returns how many went. */
  clear(filter: ClearFilter): number {
    const before = this.all();
    const kept = before.filter((p) => !clearMatches(filter, p));
    this.items = kept.length ? kept : undefined;
    return before.length - kept.length;
  }

  /** TxProfiles end with their transaction (1.6 §3.13.1 "SHOULD be deleted"; 2.0.1 K01). */
  removeTransactionProfiles(evseId: number): number {
    return this.clear({ evseId, purpose: 'TxProfile' });
  }
}
