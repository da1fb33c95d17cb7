/**
 * The seed-003 management limit (`/API/SetChargingLimit`) as a model charging profile, so that it goes
 * through SmartChargingService (validated, recorded in the shadow) instead of straight to the wire.
 *
 * It is exactly the profile CommandService.setChargingLimit puts on the wire: TxDefaultProfile id 100,
 * stack level 1, Absolute, `validFrom` and `startSchedule` now, `validTo` now + 1 year (365 days), one
 * period `{startPeriod: 0, limit}` floored to 0.1; 2.0.1 schedule id 101. The model → wire mappers give
 * the same 1.6 `csChargingProfiles` / 2.0.1 `chargingProfile` (the 1.6 mapper drops the schedule id).
 */
import { MANAGEMENT_LIMIT_PROFILE_ID, MANAGEMENT_LIMIT_SCHEDULE_ID, floorTenth, type ChargingRateUnit } from '../services/commands.js';
import type { ClearSelector } from '../services/smart-charging.js';
import type { ChargingProfile } from '../smart/profile.js';
import { epochMs, seconds, type Amps, type Watts } from '../smart/units.js';

const YEAR_MS = 365 * 24 * 3600 * 1000;

export function managementLimitProfile(evseId: number, limit: number, unit: ChargingRateUnit, now: Date): ChargingProfile {
  const start = epochMs(now.getTime());
  const period = { startPeriod: seconds(0), limit: floorTenth(limit) };
  return {
    id: MANAGEMENT_LIMIT_PROFILE_ID,
    evseId,
    stackLevel: 1,
    chargingProfilePurpose: 'TxDefaultProfile',
    chargingProfileKind: 'Absolute',
    validFrom: start,
    validTo: epochMs(now.getTime() + YEAR_MS),
    chargingSchedule: [
      unit === 'A'
        ? { id: MANAGEMENT_LIMIT_SCHEDULE_ID, startSchedule: start, chargingRateUnit: 'A', chargingSchedulePeriod: [{ ...period, limit: period.limit as Amps }] }
        : { id: MANAGEMENT_LIMIT_SCHEDULE_ID, startSchedule: start, chargingRateUnit: 'W', chargingSchedulePeriod: [{ ...period, limit: period.limit as Watts }] },
    ],
  };
}

/**
 * `/API/ClearChargingLimit/{cp}/{c}`: profile id 100. The other criteria keep the 1.6 message what it
 * always was (`{id: 100, connectorId: c, chargingProfilePurpose: TxDefaultProfile, stackLevel: 1}`); 2.0.1
 * sends `{chargingProfileId: 100}` only (an id excludes criteria there), and the shadow is matched by id.
 */
export function managementLimitSelector(evseId: number): ClearSelector {
  return { id: MANAGEMENT_LIMIT_PROFILE_ID, evseId, purpose: 'TxDefaultProfile', stackLevel: 1 };
}
