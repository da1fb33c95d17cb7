/**
 * From OCPI to the SCSP's session model and back (pure).
 *
 * **Session → SessionEvents** (applied by src/scsp/sessions.ts with protocol `ocpi`, exactly like the
 * OCPP-format events, so the driver re-plans the same way):
 *
 * | OCPI | SessionEvent |
 * |---|---|
 * | session `id` | `transactionId` (the SCSP session is keyed by (CPO, station uid, transactionId)) |
 * | `location_id` | the paired station (see {@link matchStation}) |
 * | `evse_uid` | `evseId` = the integer after the last `*` (`<location_id>*<evseId>`, Ampline's CPO convention), else the Ampline hash form matched against the station's EVSEs, else 1 |
 * | `status` ACTIVE / PENDING | a `Started` (first copy) or `Updated` event at `start_date_time` — so a session first seen mid-way still starts when it started — then an `Updated` at `last_updated` with the reading |
 * | `status` COMPLETED / INVALID | the same, then `Ended` at `end_date_time` (else `last_updated`), stopped reason `OCPI COMPLETED` / `OCPI INVALID` |
 * | `status` RESERVATION | nothing (no charging session yet) |
 * | `kwh` | energy: a register that starts at 0 (`meterStartWh` 0), so the SCSP's `energy_wh` = kwh × 1000 |
 * | last period's `POWER` | power (kW → W); absent in the last period → no power reading (an older period's power is stale) |
 * | newest `STATE_OF_CHARGE` | SoC (%) |
 *
 * The reading's instant is `last_updated` (what the CPO's copy describes). Older-than-applied readings
 * change nothing (sessions.ts rules), so out-of-order pushes are harmless.
 *
 * **Plan → ChargingProfile**: a session's power schedule (W) as `{start_date_time: schedule start (whole
 * seconds, UTC), charging_rate_unit: W, charging_profile_period: [{start_period, limit}]}` — the shape
 * Jedlix sends (protocols.md §1.7): absolute, no `duration` (the last period runs on until the session
 * ends or a new profile comes), no `min_charging_rate`, whole watts (never rounded up), at most 1024
 * periods (the first ones; the SCSP re-plans long before they run out) — the same periods the
 * OCPP-format route would send (src/scsp/profile.ts `toPeriods`).
 */
import { createHash } from 'node:crypto';
import { formatDateTime, parseDateTime } from '../core/datetime.js';
import type { ChargingStation } from '../../scsp/charging-station.js';
import { canonicalJson, type MeterReading, type SessionEvent } from '../../scsp/ingest.js';
import type { PowerSchedule } from '../../scsp/planner.js';
import { toPeriods } from '../../scsp/profile.js';
import type { ChargingPeriod, ChargingProfile, OcpiSession } from '../objects.js';

const CI_STRING_36 = /^[\x21-\x7e]{1,36}$/;
const hashed = (prefix: string, s: string): string => prefix + createHash('sha256').update(s, 'utf8').digest('hex').slice(0, 35);

/** Ampline's CPO `location_id` of a station id (the id itself, or `S` + 35 hex of its SHA-256 when it is not a CiString(36)). */
export function amplineLocationId(uid: string): string {
  return CI_STRING_36.test(uid) ? uid : hashed('S', uid);
}

/**
 * The paired station a `location_id` names, among the CPO's paired station uids: the uid itself, else
 * a case-insensitive match (CiString), else the uid whose Ampline hash form it is.
 */
export function matchStation(locationId: string, uids: readonly string[]): string | undefined {
  if (uids.includes(locationId)) return locationId;
  const lower = locationId.toLowerCase();
  const ci = uids.find((u) => u.toLowerCase() === lower);
  if (ci !== undefined) return ci;
  if (/^S[0-9a-f]{35}$/.test(locationId)) return uids.find((u) => !CI_STRING_36.test(u) && hashed('S', u) === locationId);
  return undefined;
}

/** The EVSE id an `evse_uid` names (see the table above). */
export function evseIdOf(evseUid: string, station?: { uid: string; chargingStation: ChargingStation }): number {
  const m = /\*(\d{1,9})$/.exec(evseUid);
  if (m) {
    const n = Number(m[1]);
    return n >= 1 ? n : 1;
  }
  if (station && /^E[0-9a-f]{35}$/.test(evseUid)) {
    for (const e of station.chargingStation.evses) if (hashed('E', `${station.uid}*${e.evse_id}`) === evseUid) return e.evse_id;
  }
  return 1;
}

const iso = (s: string): string => (parseDateTime(s) ?? new Date(s)).toISOString();

/** The reading of a Session: energy (kwh), power (last period's POWER), SoC (newest STATE_OF_CHARGE). */
export function readingOf(s: OcpiSession): MeterReading {
  const out: MeterReading = { timestamp: iso(s.last_updated), energyWh: Math.round(s.kwh * 1000 * 1000) / 1000 };
  const periods = s.charging_periods ?? [];
  const last = periods[periods.length - 1];
  const power = last?.dimensions.find((d) => d.type === 'POWER');
  if (power) out.powerW = Math.round(power.volume * 1000 * 1000) / 1000;
  for (let i = periods.length - 1; i >= 0; i--) {
    const soc = periods[i]!.dimensions.find((d) => d.type === 'STATE_OF_CHARGE');
    if (soc) {
      out.soc = soc.volume;
      break;
    }
  }
  return out;
}

/** The SessionEvents of a (stored, merged) Session; `first`: this is the first copy we got. */
export function sessionEvents(s: OcpiSession, opts: { first: boolean; evseId: number }): SessionEvent[] {
  if (s.status === 'RESERVATION') return [];
  const base = { kind: 'transaction' as const, transactionId: s.id, evseId: opts.evseId, meterStartWh: 0 };
  const meter = readingOf(s);
  const out: SessionEvent[] = [
    { ...base, eventType: opts.first ? 'Started' : 'Updated', timestamp: iso(s.start_date_time) },
    { ...base, eventType: 'Updated', timestamp: meter.timestamp, meter },
  ];
  if (s.status === 'COMPLETED' || s.status === 'INVALID') {
    out.push({
      ...base,
      eventType: 'Ended',
      timestamp: iso(s.end_date_time ?? s.last_updated),
      stoppedReason: `OCPI ${s.status}`,
      meterStopWh: meter.energyWh!,
    });
  }
  return out;
}

/**
 * A PATCH applied to the stored copy: `charging_periods` are **appended** (periods identical to one
 * already stored are skipped, so a repeated PATCH does not duplicate them); other fields replace;
 * `null` removes an optional field.
 */
export function mergePatch(stored: OcpiSession, patch: Record<string, unknown>): OcpiSession {
  const out: Record<string, unknown> = { ...stored };
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'charging_periods') continue;
    if (v === null) delete out[k];
    else if (v !== undefined) out[k] = v;
  }
  const added = patch.charging_periods;
  if (Array.isArray(added) && added.length > 0) {
    const have = (stored.charging_periods ?? []) as ChargingPeriod[];
    const seen = new Set(have.map(canonicalJson));
    const fresh = (added as ChargingPeriod[]).filter((p) => !seen.has(canonicalJson(p)));
    out.charging_periods = [...have, ...fresh];
  }
  return out as OcpiSession;
}

/** A session's power schedule as an OCPI ChargingProfile (W, absolute; see the header). */
export function chargingProfileOf(schedule: PowerSchedule): ChargingProfile {
  const { startSchedule, periods } = toPeriods(schedule);
  return {
    start_date_time: formatDateTime(new Date(startSchedule)),
    charging_rate_unit: 'W',
    charging_profile_period: periods.map((p) => ({ start_period: p.startPeriod, limit: p.limit })),
  };
}
