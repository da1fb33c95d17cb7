/**
 * OCPI 2.2.1 objects of the second-wave modules, for both roles (the CPO builds and parses them in
 * src/ocpi/cpo, the SCSP in src/ocpi/scsp), and their validation (pure). Spec: mod_sessions
 * (Session, ChargingPeriod, CdrToken, Price), mod_cdrs (CdrDimension), mod_charging_profiles
 * (ChargingProfile, ActiveChargingProfile, SetChargingProfile, ChargingProfileResponse and the async
 * results); protocols.md §2.5–2.7.
 *
 * Validation policy (every failure is one clear message naming the field, for a 2001 answer):
 * - **Strict on known fields**: types, enums (case-sensitive), CiString/string lengths, DateTimes,
 *   required fields present (`null` counts as absent: fine for optional fields, an error for required
 *   ones).
 * - **Lenient where the spec or its peers force it**: DateTimes are read leniently (core/datetime.ts:
 *   no designator = UTC, offsets converted); `cdr_token.country_code` / `party_id` (added, mandatory,
 *   by 2.2.1) may be absent for 2.2 peers; unknown fields are kept as sent (OCPI allows extensions), never refused.
 * - `kwh` ≥ 0; dimension volumes are any finite number (CURRENT may be negative: export).
 * - ChargingProfile: periods (if any) start at 0 and strictly increase, limits ≥ 0 — what a Receiver
 *   is told to validate (§2.7) — and we hold an ActiveChargingProfile to the same rules.
 */
import { parseDateTime } from './core/datetime.js';
import { isCiString, isCountryCode, isOcpiString, isPartyId } from './core/strings.js';

// ── enums ───────────────────────────────────────────────────────────────────────────────────────

export const SESSION_STATUSES = ['ACTIVE', 'COMPLETED', 'INVALID', 'PENDING', 'RESERVATION'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

export const AUTH_METHODS = ['AUTH_REQUEST', 'COMMAND', 'WHITELIST'] as const;
export const TOKEN_TYPES = ['AD_HOC_USER', 'APP_USER', 'OTHER', 'RFID'] as const;
export const CDR_DIMENSION_TYPES = [
  'CURRENT',
  'ENERGY',
  'ENERGY_EXPORT',
  'ENERGY_IMPORT',
  'MAX_CURRENT',
  'MIN_CURRENT',
  'MAX_POWER',
  'MIN_POWER',
  'PARKING_TIME',
  'POWER',
  'RESERVATION_TIME',
  'STATE_OF_CHARGE',
  'TIME',
] as const;
export type CdrDimensionType = (typeof CDR_DIMENSION_TYPES)[number];

export const CHARGING_RATE_UNITS = ['W', 'A'] as const;
/** ChargingProfileResponse `result` (synchronous). */
export const PROFILE_RESPONSE_TYPES = ['ACCEPTED', 'NOT_SUPPORTED', 'REJECTED', 'TOO_OFTEN', 'UNKNOWN_SESSION'] as const;
export type ChargingProfileResponseType = (typeof PROFILE_RESPONSE_TYPES)[number];
/** ChargingProfileResultType (asynchronous results). */
export const PROFILE_RESULT_TYPES = ['ACCEPTED', 'REJECTED', 'UNKNOWN'] as const;
export type ChargingProfileResultType = (typeof PROFILE_RESULT_TYPES)[number];

// ── objects ─────────────────────────────────────────────────────────────────────────────────────

export interface CdrDimension {
  type: CdrDimensionType;
  volume: number;
}

export interface ChargingPeriod {
  start_date_time: string;
  dimensions: CdrDimension[];
  tariff_id?: string;
}

export interface CdrToken {
  country_code?: string;
  party_id?: string;
  uid: string;
  type: string;
  contract_id: string;
}

/** The Session object (only the fields the SCSP reads are typed tightly; the rest is kept as sent). */
export interface OcpiSession {
  country_code: string;
  party_id: string;
  id: string;
  start_date_time: string;
  end_date_time?: string;
  kwh: number;
  cdr_token: CdrToken;
  auth_method: string;
  authorization_reference?: string;
  location_id: string;
  evse_uid: string;
  connector_id: string;
  meter_id?: string;
  currency: string;
  charging_periods?: ChargingPeriod[];
  total_cost?: { excl_vat: number; incl_vat?: number };
  status: SessionStatus;
  last_updated: string;
  [extension: string]: unknown;
}

export interface ChargingProfilePeriod {
  start_period: number;
  limit: number;
}

export interface ChargingProfile {
  start_date_time?: string;
  duration?: number;
  charging_rate_unit: 'W' | 'A';
  min_charging_rate?: number;
  charging_profile_period?: ChargingProfilePeriod[];
}

export interface ActiveChargingProfile {
  start_date_time: string;
  charging_profile: ChargingProfile;
}

export interface SetChargingProfile {
  charging_profile: ChargingProfile;
  response_url: string;
}

export interface ChargingProfileResponse {
  result: ChargingProfileResponseType;
  timeout: number;
}

// ── validation helpers ──────────────────────────────────────────────────────────────────────────

/** A validation failure; `message` names the field (for `status_message`). */
export class OcpiValidationError extends Error {
  override name = 'OcpiValidationError';
}

type Check = (v: unknown, path: string) => void;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const fail = (path: string, msg: string, v?: unknown): never => {
  const got = v === undefined ? '' : ` (got ${JSON.stringify(v)?.slice(0, 60)})`;
  throw new OcpiValidationError(`${path} ${msg}${got}`);
};

const ciString =
  (max: number): Check =>
  (v, p) => {
    if (!isCiString(v, max)) fail(p, `must be a CiString(${max}): 1–${max} printable ASCII characters`, v);
  };
const ocpiString =
  (max: number): Check =>
  (v, p) => {
    if (!isOcpiString(v, max)) fail(p, `must be a string(${max}): 1–${max} characters without control characters`, v);
  };
const dateTime: Check = (v, p) => {
  if (parseDateTime(v) === undefined) fail(p, 'must be an OCPI DateTime (RFC 3339, UTC, e.g. 2015-06-29T20:39:09Z)', v);
};
const number =
  (min = Number.NEGATIVE_INFINITY): Check =>
  (v, p) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) fail(p, min === Number.NEGATIVE_INFINITY ? 'must be a number' : `must be a number ≥ ${min}`, v);
  };
const integer =
  (min: number): Check =>
  (v, p) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(p, `must be an integer ≥ ${min}`, v);
  };
const oneOf =
  (values: readonly string[]): Check =>
  (v, p) => {
    if (typeof v !== 'string' || !values.includes(v)) fail(p, `must be one of ${values.join(', ')}`, v);
  };
const countryCode: Check = (v, p) => {
  if (!isCountryCode(v)) fail(p, 'must be an ISO-3166 alpha-2 country code (CiString(2))', v);
};
const partyId: Check = (v, p) => {
  if (!isPartyId(v)) fail(p, 'must be a party id: CiString(3), three letters or digits', v);
};
const currency: Check = (v, p) => {
  if (typeof v !== 'string' || !/^[A-Za-z]{3}$/.test(v)) fail(p, 'must be an ISO 4217 currency code (string(3))', v);
};

interface FieldSpec {
  required: boolean;
  check: Check;
}

/** Check an object against field specs; `partial`: only the fields present (a PATCH). */
function checkFields(o: Record<string, unknown>, fields: Record<string, FieldSpec>, path: string, partial = false): void {
  for (const [k, f] of Object.entries(fields)) {
    const v = o[k];
    if (v === undefined || v === null) {
      if (f.required && !partial) fail(`${path}.${k}`, 'is required');
      if (f.required && partial && v === null) fail(`${path}.${k}`, 'cannot be null (it is a required field)');
      continue;
    }
    f.check(v, `${path}.${k}`);
  }
}

const object =
  (fields: Record<string, FieldSpec>): Check =>
  (v, p) => {
    if (!isObject(v)) fail(p, 'must be an object', v);
    checkFields(v as Record<string, unknown>, fields, p);
  };
const list =
  (item: Check, minItems = 0): Check =>
  (v, p) => {
    if (!Array.isArray(v)) fail(p, 'must be an array', v);
    const a = v as unknown[];
    if (a.length < minItems) fail(p, `must have at least ${minItems} element(s)`);
    a.forEach((x, i) => item(x, `${p}[${i}]`));
  };

const req = (check: Check): FieldSpec => ({ required: true, check });
const opt = (check: Check): FieldSpec => ({ required: false, check });

// ── Session ─────────────────────────────────────────────────────────────────────────────────────

const CDR_DIMENSION = object({ type: req(oneOf(CDR_DIMENSION_TYPES)), volume: req(number()) });
const CHARGING_PERIOD_FIELDS: Record<string, FieldSpec> = {
  start_date_time: req(dateTime),
  dimensions: req(list(CDR_DIMENSION, 1)),
  tariff_id: opt(ciString(36)),
};
const CHARGING_PERIOD = object(CHARGING_PERIOD_FIELDS);

export const SESSION_FIELDS: Record<string, FieldSpec> = {
  country_code: req(countryCode),
  party_id: req(partyId),
  id: req(ciString(36)),
  start_date_time: req(dateTime),
  end_date_time: opt(dateTime),
  kwh: req(number(0)),
  cdr_token: req(
    object({
      // Both added by 2.2.1 (mandatory there); a 2.2 CdrToken has neither (lenient).
      country_code: opt(countryCode),
      party_id: opt(partyId),
      uid: req(ciString(36)),
      type: req(oneOf(TOKEN_TYPES)),
      contract_id: req(ciString(36)),
    }),
  ),
  auth_method: req(oneOf(AUTH_METHODS)),
  authorization_reference: opt(ciString(36)),
  location_id: req(ciString(36)),
  evse_uid: req(ciString(36)),
  connector_id: req(ciString(36)),
  meter_id: opt(ocpiString(255)),
  currency: req(currency),
  charging_periods: opt(list(CHARGING_PERIOD)),
  total_cost: opt(object({ excl_vat: req(number()), incl_vat: opt(number()) })),
  status: req(oneOf(SESSION_STATUSES)),
  last_updated: req(dateTime),
};

/** A full Session (PUT). Throws {@link OcpiValidationError}. */
export function validateSession(body: unknown): OcpiSession {
  if (!isObject(body)) fail('Session', 'must be a JSON object', Array.isArray(body) ? 'array' : body);
  checkFields(body as Record<string, unknown>, SESSION_FIELDS, 'Session');
  return body as OcpiSession;
}

/** A Session PATCH: the fields present are checked; `last_updated` is required (spec). */
export function validateSessionPatch(body: unknown): Partial<OcpiSession> & { last_updated: string } {
  if (!isObject(body)) fail('Session PATCH', 'must be a JSON object', Array.isArray(body) ? 'array' : body);
  const o = body as Record<string, unknown>;
  if (o.last_updated === undefined || o.last_updated === null) fail('Session PATCH.last_updated', 'is required: every PATCH must contain last_updated');
  checkFields(o, SESSION_FIELDS, 'Session PATCH', true);
  return o as Partial<OcpiSession> & { last_updated: string };
}

// ── ChargingProfiles ────────────────────────────────────────────────────────────────────────────

/** One decimal at most (protocols.md §2.3: limit, min_charging_rate). */
const decimal1: Check = (v, p) => {
  number(0)(v, p);
  if (Math.abs((v as number) * 10 - Math.round((v as number) * 10)) > 1e-9) fail(p, 'must have at most one decimal', v);
};

const PROFILE_PERIOD = object({ start_period: req(integer(0)), limit: req(decimal1) });

export const CHARGING_PROFILE: Check = (v, p) => {
  object({
    start_date_time: opt(dateTime),
    duration: opt(integer(0)),
    charging_rate_unit: req(oneOf(CHARGING_RATE_UNITS)),
    min_charging_rate: opt(decimal1),
    charging_profile_period: opt(list(PROFILE_PERIOD)),
  })(v, p);
  const periods = ((v as Record<string, unknown>).charging_profile_period as ChargingProfilePeriod[] | undefined | null) ?? [];
  periods.forEach((x, i) => {
    if (i === 0 && x.start_period !== 0) fail(`${p}.charging_profile_period[0].start_period`, 'must be 0 (the first period starts the profile)', x.start_period);
    if (i > 0 && x.start_period <= periods[i - 1]!.start_period) fail(`${p}.charging_profile_period[${i}].start_period`, 'must be greater than the previous period\'s', x.start_period);
  });
};

export function validateChargingProfile(body: unknown, path = 'ChargingProfile'): ChargingProfile {
  CHARGING_PROFILE(body, path);
  return body as ChargingProfile;
}

export function validateActiveChargingProfile(body: unknown, path = 'ActiveChargingProfile'): ActiveChargingProfile {
  object({ start_date_time: req(dateTime), charging_profile: req(CHARGING_PROFILE) })(body, path);
  return body as ActiveChargingProfile;
}

/** ChargingProfileResult / ClearProfileResult: `{result}`. */
export function validateProfileResult(body: unknown, path: string): { result: ChargingProfileResultType } {
  object({ result: req(oneOf(PROFILE_RESULT_TYPES)) })(body, path);
  return body as { result: ChargingProfileResultType };
}

/** ActiveChargingProfileResult: `{result, profile?}` (the profile when ACCEPTED; lenient when absent). */
export function validateActiveProfileResult(body: unknown): { result: ChargingProfileResultType; profile?: ActiveChargingProfile } {
  object({ result: req(oneOf(PROFILE_RESULT_TYPES)), profile: opt((v, p) => validateActiveChargingProfile(v, p)) })(body, 'ActiveChargingProfileResult');
  return body as { result: ChargingProfileResultType; profile?: ActiveChargingProfile };
}

/** The CPO's synchronous ChargingProfileResponse, or undefined when `data` is not one. */
export function parseChargingProfileResponse(data: unknown): ChargingProfileResponse | undefined {
  if (!isObject(data)) return undefined;
  const { result, timeout } = data;
  if (typeof result !== 'string' || !(PROFILE_RESPONSE_TYPES as readonly string[]).includes(result)) return undefined;
  // `timeout` is mandatory in the spec; a peer that leaves it out gets the caller's default (lenient).
  const t = typeof timeout === 'number' && Number.isFinite(timeout) && timeout >= 0 ? timeout : Number.NaN;
  return { result: result as ChargingProfileResponseType, timeout: t };
}
