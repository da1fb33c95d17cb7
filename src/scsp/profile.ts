/**
 * A station's plan as the OCPP `SetChargingProfileRequest` the SCSP POSTs to the CPO (protocols.md §1.6,
 * "OCPP-format SetChargingProfile receiver"). Pure.
 *
 * Jedlix "does not (yet) support controlling the individual EVSEs": the request targets the whole
 * station, and the CPO translates it (a TxProfile on EVSE 0 is invalid on the wire; the CPO puts it on
 * the EVSEs with a transaction — Ampline's CPO side shares it among the EVSEs whose EV wants energy).
 * So the station's limit is the **sum** of the plans of its running sessions.
 *
 * - 2.0.1: `{evseId: 0, chargingProfile: {id: 1, stackLevel: 1, chargingProfilePurpose: TxProfile,
 *   chargingProfileKind: Absolute, chargingSchedule: [{id: 1, startSchedule, chargingRateUnit: W,
 *   chargingSchedulePeriod}]}}`
 * - 1.6: `{connectorId: 0, csChargingProfiles: {chargingProfileId: 1, stackLevel: 1,
 *   chargingProfilePurpose: TxProfile, chargingProfileKind: Absolute, chargingSchedule: {startSchedule,
 *   chargingRateUnit: W, chargingSchedulePeriod}}}`
 *
 * One profile id per station (1), so each new plan replaces the previous one at a CPO that passes ids
 * through (K01.FR.05). No `validFrom` (valid at once), no `validTo`, no `duration`: the last period runs
 * until the transaction ends or a new plan comes — the CPO drops TxProfiles when their transaction ends,
 * so the SCSP sends nothing at session end. `startSchedule` is the planning instant (whole seconds);
 * limits are whole watts (never rounded up); at most {@link MAX_PERIODS} periods, the first ones (the
 * near future matters, and the SCSP re-plans long before the horizon runs out).
 */
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import { validatePayload } from '../ocpp/schemas.js';
import type { PayloadProtocol } from './cpos.js';
import type { PowerSchedule } from './planner.js';

export const SCSP_PROFILE_ID = 1;
export const SCSP_STACK_LEVEL = 1;
/** The 2.0.1 schema's maxItems of chargingSchedulePeriod. */
export const MAX_PERIODS = 1024;

export type SetChargingProfileRequest = OCPP20.SetChargingProfileRequest | OCPP16.SetChargingProfileRequest;

export interface Period {
  startPeriod: number;
  limit: number;
}

/** `schedule` as `startSchedule` (whole seconds) and periods in seconds from it. */
export function toPeriods(schedule: PowerSchedule): { startSchedule: string; periods: Period[] } {
  if (schedule.length === 0) throw new RangeError('toPeriods: empty schedule');
  const startMs = Math.floor(schedule[0]!.start.getTime() / 1000) * 1000;
  const periods: Period[] = [];
  for (const step of schedule) {
    // The first period starts the schedule (K01.FR.31) even when the plan's first step is not on a
    // whole second; the others are rounded to the nearest second.
    const startPeriod = periods.length === 0 ? 0 : Math.max(0, Math.round((step.start.getTime() - startMs) / 1000));
    const limit = Math.max(0, Math.floor(step.powerW));
    const last = periods[periods.length - 1];
    if (last && last.startPeriod === startPeriod) {
      last.limit = limit; // two steps within one second: the later wins
    } else if (last && last.limit === limit) {
      continue;
    } else {
      periods.push({ startPeriod, limit });
    }
  }
  return { startSchedule: new Date(startMs).toISOString().replace('.000Z', 'Z'), periods: periods.slice(0, MAX_PERIODS) };
}

export function setChargingProfileRequest(pp: PayloadProtocol, schedule: PowerSchedule): SetChargingProfileRequest {
  const { startSchedule, periods } = toPeriods(schedule);
  if (pp === 'ocpp2.0.1') {
    const req: OCPP20.SetChargingProfileRequest = {
      evseId: 0,
      chargingProfile: {
        id: SCSP_PROFILE_ID,
        stackLevel: SCSP_STACK_LEVEL,
        chargingProfilePurpose: 'TxProfile',
        chargingProfileKind: 'Absolute',
        chargingSchedule: [{ id: SCSP_PROFILE_ID, startSchedule, chargingRateUnit: 'W', chargingSchedulePeriod: periods }],
      },
    };
    return req;
  }
  const req: OCPP16.SetChargingProfileRequest = {
    connectorId: 0,
    csChargingProfiles: {
      chargingProfileId: SCSP_PROFILE_ID,
      stackLevel: SCSP_STACK_LEVEL,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Absolute',
      chargingSchedule: { startSchedule, chargingRateUnit: 'W', chargingSchedulePeriod: periods },
    },
  };
  return req;
}

/** The request against the OCA schema of its version (what a strict CPO checks). */
export function checkRequest(pp: PayloadProtocol, req: SetChargingProfileRequest): { ok: true } | { ok: false; message: string } {
  const v = validatePayload(pp, 'SetChargingProfile', 'req', req);
  return v.ok ? { ok: true } : { ok: false, message: v.message };
}
