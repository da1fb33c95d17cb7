/**
 * Smart charging in /api/v1 (issue 5): the profiles Ampline knows a station has installed (the shadow of
 * SmartChargingService), setting and clearing profiles, the composite schedule (the station's answer next
 * to Ampline's prediction) and the 2.0.1 profile report. Every send goes through SmartChargingService,
 * which checks the profile first (OCPP 2.0.1 K01 and the 1.6 equivalents, against the station's
 * capabilities, EVSEs, transactions and installed profiles): a profile that breaks a rule is refused with
 * 422 ProfileRejected and the list of violations, and nothing is sent to the station.
 *
 * Profiles are JSON in the version-neutral model, shaped like OCPP 2.0.1 ChargingProfileType plus the
 * `evseId` it is set on, with ISO 8601 date-times. `POST` also takes the raw OCPP request in the station's
 * version as `{"ocpp": …}` (validated against the OCA schema, then mapped to the same model).
 */
import type { Kysely } from 'kysely';
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import type { Database } from '../../store/schema.js';
import type { CommandService } from '../../services/commands.js';
import type {
  ClearSelector,
  CompositeResult,
  ProfileRecord,
  ReportCriteria,
  SmartChargingService,
  StationAnswer,
} from '../../services/smart-charging.js';
import { ReportTimeoutError } from '../../services/smart-charging.js';
import type { CompositeSchedule } from '../../smart/composite.js';
import type { CompositeDifference } from '../../smart/composite-wire.js';
import {
  fromOcpp16,
  fromOcpp201,
  type ChargingProfile,
  type ChargingSchedule,
  type ProfileKind,
  type ProfilePurpose,
  type RecurrencyKind,
} from '../../smart/profile.js';
import { epochMs, epochToIso, seconds, type EpochMs, type RateUnit } from '../../smart/units.js';
import { validatePayload } from '../../ocpp/schemas.js';
import type { Logger } from '../../util/log.js';
import { ApiError, toApiError } from '../errors.js';
import { type JsonSchema, type RouteSpec, ref, stationOr404 } from './http.js';

export interface ChargingProfileRouteDeps {
  db: Kysely<Database>;
  commands: CommandService;
  smart: SmartChargingService;
  log: Logger;
  /** Default bound on the wait for the station's answer. */
  timeoutMs: number;
}

// --- JSON shapes ----------------------------------------------------------------------------------

const PURPOSES: readonly ProfilePurpose[] = ['ChargingStationMaxProfile', 'ChargingStationExternalConstraints', 'TxDefaultProfile', 'TxProfile'];
const KINDS: readonly ProfileKind[] = ['Absolute', 'Recurring', 'Relative'];
const RECURRENCY: readonly RecurrencyKind[] = ['Daily', 'Weekly'];
const UNITS: readonly RateUnit[] = ['A', 'W'];
const LIMIT_SOURCES = ['CSO', 'EMS', 'SO', 'Other'] as const;

const dateTime = (description: string): JsonSchema => ({ type: 'string', format: 'date-time', description });

const PERIOD: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['startPeriod', 'limit'],
  properties: {
    startPeriod: { type: 'integer', minimum: 0, description: 'Seconds from the start of the schedule; the first period starts at 0, then strictly increasing.' },
    limit: { type: 'number', minimum: 0, description: 'A per phase or W in total (the schedule\'s unit), at most one decimal.' },
    numberPhases: { type: 'integer', minimum: 1, maximum: 3, description: 'Phases the EV may use; absent = 3.' },
    phaseToUse: { type: 'integer', minimum: 1, maximum: 3, description: 'OCPP 2.0.1 only: with numberPhases 1, on a station that can switch phases.' },
  },
};

function scheduleSchema(output: boolean): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    required: output ? ['id', 'chargingRateUnit', 'chargingSchedulePeriod'] : ['chargingRateUnit', 'chargingSchedulePeriod'],
    properties: {
      id: {
        type: 'integer',
        minimum: 0,
        description: output ? 'Schedule id (for OCPP 1.6 stations: the profile id).' : "Schedule id. Default for the first schedule: the profile's id; required for further schedules.",
      },
      startSchedule: dateTime('Absolute and Recurring: when the schedule starts (Recurring: the anchor of the recurrence). Relative: absent.'),
      duration: { type: 'integer', minimum: 0, description: 'Seconds; absent = the last period runs on.' },
      chargingRateUnit: { type: 'string', enum: [...UNITS], description: 'A (per phase) or W (total).' },
      chargingSchedulePeriod: { type: 'array', minItems: 1, maxItems: 1024, items: PERIOD },
      minChargingRate: { type: 'number', minimum: 0, description: 'In the schedule\'s unit, at most one decimal.' },
    },
  };
}

/** The profile as JSON: input (POST body, remote-start `chargingProfile`) or output (what Ampline keeps). */
function profileSchema(mode: 'input' | 'remote-start' | 'output'): JsonSchema {
  const output = mode === 'output';
  const required = ['id', 'stackLevel', 'chargingProfilePurpose', 'chargingProfileKind', 'chargingSchedule'];
  return {
    type: 'object',
    additionalProperties: false,
    required: mode === 'remote-start' ? required : ['evseId', ...required],
    properties: {
      evseId: {
        type: 'integer',
        minimum: 0,
        maximum: 10_000,
        description:
          mode === 'remote-start'
            ? 'Optional here: the command\'s `evseId` (must be the same if given).'
            : 'EVSE the profile is set on (OCPP 1.6: the connector). 0 = the station: the station-wide maximum, or a TxDefaultProfile for every EVSE.',
      },
      id: { type: 'integer', minimum: 0, description: 'Profile id (1.6 chargingProfileId). A profile with the same id on the station is replaced.' },
      stackLevel: { type: 'integer', minimum: 0, description: "0 … the station's maximum (1.6 ChargeProfileMaxStackLevel, 2.0.1 SmartChargingCtrlr.ProfileStackLevel)." },
      chargingProfilePurpose: {
        type: 'string',
        enum: [...PURPOSES],
        description: 'OCPP 2.0.1 names; ChargingStationMaxProfile is 1.6 ChargePointMaxProfile. ChargingStationExternalConstraints are set by external systems only (always refused).',
      },
      chargingProfileKind: { type: 'string', enum: [...KINDS] },
      recurrencyKind: { type: 'string', enum: [...RECURRENCY], description: 'Recurring only.' },
      validFrom: dateTime('Start of validity; absent = now.'),
      validTo: dateTime('End of validity; absent = forever.'),
      transactionId: output
        ? { type: 'string', description: 'TxProfile: the transaction on the wire (1.6: the integer as text).' }
        : {
            type: ['string', 'integer'],
            minLength: 1,
            maxLength: 36,
            description:
              mode === 'remote-start'
                ? 'Not allowed in a remote start (the transaction does not exist yet).'
                : 'TxProfile only, required there: the transaction id on the wire, `ocppTransactionId` in /api/v1/transactions (1.6: an integer, also accepted as text).',
          },
      chargingSchedule: { type: 'array', minItems: 1, maxItems: 3, items: scheduleSchema(output), description: 'OCPP 1.6 stations take exactly one schedule.' },
    },
  };
}

export const PROFILE_INPUT = profileSchema('input');
/** The `chargingProfile` of the version-neutral remote-start command. */
export const REMOTE_START_PROFILE_INPUT = profileSchema('remote-start');

const RAW_OCPP_INPUT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['ocpp'],
  properties: {
    ocpp: {
      type: 'object',
      description:
        "The OCPP request in the station's version: 1.6 SetChargingProfile.req `{connectorId, csChargingProfiles}` or 2.0.1 " +
        'SetChargingProfileRequest `{evseId, chargingProfile}`, validated against the OCA schema (400 InvalidOcppRequest). ' +
        'It is mapped to the same model and checked the same way; 2.0.1 `salesTariff` and `customData` are not kept.',
    },
  },
};

const STATUS_INFO: JsonSchema = {
  type: 'object',
  required: ['reasonCode'],
  description: 'OCPP 2.0.1 statusInfo, when the station gave one.',
  properties: { reasonCode: { type: 'string' }, additionalInfo: { type: 'string' } },
};

const stationStatus = (words: string): JsonSchema => ({ type: 'string', description: `The station's status word (${words}).` });

const COMPOSITE: JsonSchema = {
  type: 'object',
  required: ['evseId', 'duration', 'scheduleStart', 'chargingRateUnit', 'chargingSchedulePeriod'],
  properties: {
    evseId: { type: 'integer' },
    duration: { type: 'integer', description: 'Seconds.' },
    scheduleStart: { type: 'string', format: 'date-time' },
    chargingRateUnit: { type: 'string', enum: [...UNITS] },
    chargingSchedulePeriod: {
      type: 'array',
      items: {
        type: 'object',
        required: ['startPeriod', 'limit'],
        properties: { startPeriod: { type: 'integer' }, limit: { type: 'number' }, numberPhases: { type: 'integer' } },
      },
    },
    minChargingRate: { type: 'number' },
  },
};

const LIMIT_AT: JsonSchema = {
  type: ['object', 'null'],
  required: ['limit', 'numberPhases'],
  properties: { limit: { type: 'number' }, numberPhases: { type: 'integer' } },
  description: 'null: no limit there.',
};

export const chargingProfileComponents: Record<string, JsonSchema> = {
  ChargingProfileInput: {
    ...PROFILE_INPUT,
    description: 'A charging profile in the version-neutral model: OCPP 2.0.1 ChargingProfileType plus `evseId`, ISO 8601 date-times.',
  },
  RawOcppChargingProfile: RAW_OCPP_INPUT,
  ChargingProfile: { ...profileSchema('output'), description: 'A charging profile in the version-neutral model (as sent to the station).' },
  InstalledChargingProfile: {
    type: 'object',
    required: ['profile', 'source', 'installedAt'],
    properties: {
      profile: ref('ChargingProfile'),
      source: {
        type: 'string',
        description:
          'Who installed it: `api` (this API), `management` (/API/SetChargingLimit), `balancer`, `scsp`, `remote-start`, ' +
          '`station` (reported by the station, 2.0.1 source CSO), `external:<EMS|SO|Other>` (2.0.1 limits set outside the CSMS).',
      },
      installedAt: { type: 'string', format: 'date-time', description: 'When Ampline recorded it (the station accepted it, or reported it).' },
    },
  },
  SetChargingProfileResult: {
    type: 'object',
    required: ['status', 'replaced', 'profile'],
    properties: {
      status: stationStatus('Accepted, Rejected; 1.6 also NotSupported'),
      statusInfo: STATUS_INFO,
      replaced: { type: 'array', items: { type: 'integer' }, description: 'Ids of other installed profiles this one replaced (1.6: same stack level and purpose on the connector).' },
      profile: ref('ChargingProfile'),
    },
  },
  ClearChargingProfileResult: {
    type: 'object',
    required: ['status', 'removed'],
    properties: {
      status: stationStatus('Accepted, Unknown'),
      statusInfo: STATUS_INFO,
      removed: { type: 'array', items: { type: 'integer' }, description: 'Ids removed from the shadow (when Accepted).' },
    },
  },
  CompositeSchedule: COMPOSITE,
  CompositeScheduleResult: {
    type: 'object',
    required: ['status', 'expected', 'differences'],
    properties: {
      status: stationStatus('Accepted, Rejected'),
      statusInfo: STATUS_INFO,
      schedule: { ...ref('CompositeSchedule'), description: "The station's composite schedule (when Accepted)." },
      expected: { ...ref('CompositeSchedule'), description: "Ampline's prediction from the profiles it knows are installed, same window and unit." },
      differences: {
        type: 'array',
        description: 'Where the two disagree by more than 0.1 (empty when they agree or the station gave no schedule).',
        items: {
          type: 'object',
          required: ['at', 'expected', 'actual'],
          properties: { at: { type: 'string', format: 'date-time' }, expected: LIMIT_AT, actual: LIMIT_AT },
        },
      },
    },
  },
  ChargingProfileReport: {
    type: 'object',
    required: ['status', 'profiles'],
    properties: {
      status: stationStatus('Accepted, NoProfiles'),
      statusInfo: STATUS_INFO,
      profiles: {
        type: 'array',
        items: {
          type: 'object',
          required: ['evseId', 'source', 'profile'],
          properties: { evseId: { type: 'integer' }, source: { type: 'string', description: 'chargingLimitSource: CSO, EMS, SO, Other.' }, profile: ref('ChargingProfile') },
        },
      },
    },
  },
};

// --- JSON ⇄ model ---------------------------------------------------------------------------------

export interface ProfileJson {
  evseId?: number;
  id: number;
  stackLevel: number;
  chargingProfilePurpose: ProfilePurpose;
  chargingProfileKind: ProfileKind;
  recurrencyKind?: RecurrencyKind;
  validFrom?: string;
  validTo?: string;
  transactionId?: string | number;
  chargingSchedule: Array<{
    id?: number;
    startSchedule?: string;
    duration?: number;
    chargingRateUnit: RateUnit;
    chargingSchedulePeriod: Array<{ startPeriod: number; limit: number; numberPhases?: number; phaseToUse?: number }>;
    minChargingRate?: number;
  }>;
}

/** Copies the keys whose value is not `undefined`. */
function compact<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

const toEpoch = (iso: string | undefined): EpochMs | undefined => (iso === undefined ? undefined : epochMs(Date.parse(iso)));
const toIso = (t: EpochMs | undefined): string | undefined => (t === undefined ? undefined : epochToIso(t));

/** A schema-valid JSON profile → the model. `where` prefixes messages (`body`, `body/chargingProfile`). */
export function profileFromJson(j: ProfileJson, evseId: number, where = 'body'): ChargingProfile {
  const chargingSchedule = j.chargingSchedule.map((s, i): ChargingSchedule => {
    const id = s.id ?? (i === 0 ? j.id : undefined);
    if (id === undefined) {
      throw new ApiError('BadRequest', `${where}/chargingSchedule/${i}: missing required property 'id' (only the first schedule defaults to the profile's id)`);
    }
    return compact({
      id,
      startSchedule: toEpoch(s.startSchedule),
      duration: s.duration === undefined ? undefined : seconds(s.duration),
      chargingRateUnit: s.chargingRateUnit,
      chargingSchedulePeriod: s.chargingSchedulePeriod.map((p) => compact({ ...p, startPeriod: seconds(p.startPeriod) })),
      minChargingRate: s.minChargingRate,
    }) as ChargingSchedule;
  });
  return compact<ChargingProfile>({
    id: j.id,
    evseId,
    stackLevel: j.stackLevel,
    chargingProfilePurpose: j.chargingProfilePurpose,
    chargingProfileKind: j.chargingProfileKind,
    recurrencyKind: j.recurrencyKind,
    validFrom: toEpoch(j.validFrom),
    validTo: toEpoch(j.validTo),
    transactionId: j.transactionId === undefined ? undefined : String(j.transactionId),
    chargingSchedule,
  });
}

/** The model → JSON (ISO date-times). */
export function profileView(p: ChargingProfile) {
  return compact({
    evseId: p.evseId,
    id: p.id,
    stackLevel: p.stackLevel,
    chargingProfilePurpose: p.chargingProfilePurpose,
    chargingProfileKind: p.chargingProfileKind,
    recurrencyKind: p.recurrencyKind,
    validFrom: toIso(p.validFrom),
    validTo: toIso(p.validTo),
    transactionId: p.transactionId,
    chargingSchedule: p.chargingSchedule.map((s) =>
      compact({
        id: s.id,
        startSchedule: toIso(s.startSchedule),
        duration: s.duration as number | undefined,
        chargingRateUnit: s.chargingRateUnit,
        chargingSchedulePeriod: s.chargingSchedulePeriod.map((q) =>
          compact({ startPeriod: q.startPeriod as number, limit: q.limit as number, numberPhases: q.numberPhases, phaseToUse: q.phaseToUse }),
        ),
        minChargingRate: s.minChargingRate as number | undefined,
      }),
    ),
  });
}

function installedView(r: ProfileRecord) {
  return { profile: profileView(r.profile), source: r.source, installedAt: r.installedAt };
}

function answerView(a: StationAnswer) {
  return compact({ status: a.status, statusInfo: a.statusInfo });
}

function compositeView(c: CompositeSchedule) {
  return compact({
    evseId: c.evseId,
    duration: c.duration as number,
    scheduleStart: epochToIso(c.scheduleStart),
    chargingRateUnit: c.chargingRateUnit,
    chargingSchedulePeriod: c.chargingSchedulePeriod.map((p) => compact({ startPeriod: p.startPeriod as number, limit: p.limit as number, numberPhases: p.numberPhases })),
    minChargingRate: c.minChargingRate,
  });
}

function differenceView(d: CompositeDifference) {
  return { at: epochToIso(d.at), expected: d.expected ?? null, actual: d.actual ?? null };
}

function compositeResultView(r: CompositeResult) {
  return {
    ...answerView(r),
    ...(r.schedule ? { schedule: compositeView(r.schedule) } : {}),
    expected: compositeView(r.expected),
    differences: r.differences.map(differenceView),
  };
}

// --- routes ---------------------------------------------------------------------------------------

const stationId = { type: 'string', minLength: 1, maxLength: 255, description: 'Charging station identity.' };
const stationParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: stationId } };
const profileParams = {
  type: 'object',
  required: ['id', 'profileId'],
  additionalProperties: false,
  properties: { id: stationId, profileId: { type: 'integer', minimum: 0, maximum: 2_147_483_647, description: 'Charging profile id.' } },
};
const timeoutS = { type: 'integer', minimum: 1, maximum: 600, description: 'Bound on the wait for the station (default: AMPLINE_API_COMMAND_TIMEOUT_S).' };
const evseFilter = (description: string) => ({ type: 'integer', minimum: 0, maximum: 10_000, description });
const purposeFilter = { type: 'string', enum: [...PURPOSES] };
const stackLevelFilter = { type: 'integer', minimum: 0, maximum: 1000 };

/** Errors of the routes that talk to the station. */
const SEND_ERRORS = [404, 409, 422, 502, 504];

export function chargingProfileRoutes(deps: ChargingProfileRouteDeps): RouteSpec[] {
  const { db, smart, commands, log } = deps;

  /** The catalogue's error for `err`; anything unexpected is logged before it becomes a bare Internal. */
  function apiErrorOf(err: unknown): ApiError {
    const api = toApiError(err);
    if (api.code === 'Internal') log.error({ err }, 'api/v1 charging-profile request failed');
    return api;
  }

  async function guarded<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw apiErrorOf(err);
    }
  }

  const opts = (q: { timeoutS?: number }) => ({ timeoutMs: q.timeoutS !== undefined ? q.timeoutS * 1000 : deps.timeoutMs });

  /** `{ocpp: …}` in the station's version → the model (400 when it is not a valid request of that version). */
  async function fromRaw(id: string, raw: Record<string, unknown>): Promise<ChargingProfile> {
    const protocol = await guarded(() => commands.target(id));
    const v = validatePayload(protocol, 'SetChargingProfile', 'req', raw);
    if (!v.ok) throw new ApiError('InvalidOcppRequest', `body/ocpp is not a valid OCPP ${protocol.slice(4)} SetChargingProfile request ('${id}' speaks ${protocol}): ${v.message}`);
    if (protocol === 'ocpp1.6') {
      const r = raw as unknown as OCPP16.SetChargingProfileRequest;
      return fromOcpp16(r.connectorId, r.csChargingProfiles);
    }
    const r = raw as unknown as OCPP20.SetChargingProfileRequest;
    return fromOcpp201(r.evseId, r.chargingProfile);
  }

  return [
    {
      method: 'GET',
      url: '/api/v1/stations/:id/charging-profiles',
      operationId: 'listChargingProfiles',
      summary: 'Charging profiles installed on the station (as far as Ampline knows)',
      description:
        "Ampline's shadow of the station's installed profiles: written from the station's answers only (SetChargingProfile " +
        'Accepted, ClearChargingProfile Accepted, remote starts with a profile, 2.0.1 ReportChargingProfiles); TxProfiles go when ' +
        'their transaction ends. No station call. Refresh it from a 2.0.1 station with `POST …/charging-profiles/report`.',
      tag: 'Smart charging',
      scope: 'read',
      schema: {
        params: stationParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { evseId: evseFilter('Only profiles set on this EVSE (0 = the station).'), purpose: purposeFilter },
        },
      },
      responses: {
        200: {
          description: 'The installed profiles, by EVSE, purpose, stack level and id (not paginated: a station has few).',
          schema: { type: 'object', required: ['data'], properties: { data: { type: 'array', items: ref('InstalledChargingProfile') } } },
        },
      },
      errors: [404],
      async handler(req) {
        const { id } = await stationOr404(db, req);
        const q = req.query as { evseId?: number; purpose?: ProfilePurpose };
        const rows = await smart.installed(id);
        const data = rows.filter((r) => (q.evseId === undefined || r.profile.evseId === q.evseId) && (q.purpose === undefined || r.profile.chargingProfilePurpose === q.purpose));
        return { data: data.map(installedView) };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/stations/:id/charging-profiles/:profileId',
      operationId: 'getChargingProfile',
      summary: 'One installed charging profile (from the shadow)',
      tag: 'Smart charging',
      scope: 'read',
      schema: { params: profileParams },
      responses: { 200: { description: 'The profile.', schema: ref('InstalledChargingProfile') } },
      errors: [404],
      async handler(req) {
        const { id } = await stationOr404(db, req);
        const { profileId } = req.params as { profileId: number };
        const rec = (await smart.installed(id)).find((r) => r.profile.id === profileId);
        if (!rec) throw new ApiError('UnknownChargingProfile', `Charging station '${id}' has no installed charging profile ${profileId} (as far as Ampline knows)`);
        return installedView(rec);
      },
    },
    {
      method: 'POST',
      url: '/api/v1/stations/:id/charging-profiles',
      operationId: 'setChargingProfile',
      summary: 'Set a charging profile (SetChargingProfile, checked first)',
      description:
        "The profile is checked against OCPP 2.0.1 K01 (1.6: the equivalent rules) and the station's capabilities, EVSEs, " +
        'active transactions and installed profiles. Any violation: 422 `ProfileRejected` with `violations` ' +
        '[{code, requirement, path, detail}], and nothing is sent. Otherwise SetChargingProfile goes out in the station\'s version ' +
        "and the answer is 200 with the station's status; an Accepted profile is recorded as installed (source `api`).\n\n" +
        'Body: the version-neutral profile (ChargingProfileInput), or `{"ocpp": <SetChargingProfile request in the station\'s version>}`.',
      tag: 'Smart charging',
      scope: 'command',
      schema: {
        params: stationParams,
        querystring: { type: 'object', additionalProperties: false, properties: { timeoutS } },
        body: { if: { type: 'object', required: ['ocpp'] }, then: RAW_OCPP_INPUT, else: PROFILE_INPUT },
      },
      docBody: { oneOf: [ref('ChargingProfileInput'), ref('RawOcppChargingProfile')] },
      bodyRequired: true,
      responses: { 200: { description: "The station's answer.", schema: ref('SetChargingProfileResult') } },
      errors: SEND_ERRORS,
      async handler(req) {
        const { id } = req.params as { id: string };
        const body = req.body as ProfileJson | { ocpp: Record<string, unknown> };
        const profile = 'ocpp' in body ? await fromRaw(id, body.ocpp) : profileFromJson(body, body.evseId!);
        const res = await guarded(() => smart.set(id, profile, { ...opts(req.query as { timeoutS?: number }), source: 'api' }));
        return { ...answerView(res), replaced: res.replaced, profile: profileView(profile) };
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/stations/:id/charging-profiles/:profileId',
      operationId: 'clearChargingProfile',
      summary: 'Clear one charging profile by id (ClearChargingProfile)',
      description: "Sends ClearChargingProfile for this id; on Accepted it leaves the shadow. 200 with the station's answer (Unknown: the station has no such profile).",
      tag: 'Smart charging',
      scope: 'command',
      schema: { params: profileParams, querystring: { type: 'object', additionalProperties: false, properties: { timeoutS } } },
      responses: { 200: { description: "The station's answer.", schema: ref('ClearChargingProfileResult') } },
      errors: SEND_ERRORS,
      async handler(req) {
        const { id, profileId } = req.params as { id: string; profileId: number };
        const res = await guarded(() => smart.clear(id, { id: profileId }, opts(req.query as { timeoutS?: number })));
        return { ...answerView(res), removed: res.removed };
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/stations/:id/charging-profiles',
      operationId: 'clearChargingProfiles',
      summary: 'Clear charging profiles by criteria, or all (ClearChargingProfile)',
      description:
        'The criteria combine (AND). **Without any, every profile on the station is cleared** (also ones Ampline did not set). ' +
        'ChargingStationExternalConstraints are never cleared by the CSMS (422).',
      tag: 'Smart charging',
      scope: 'command',
      schema: {
        params: stationParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { evseId: evseFilter('EVSE (1.6: connector); 0 = the station.'), purpose: purposeFilter, stackLevel: stackLevelFilter, timeoutS },
        },
      },
      responses: { 200: { description: "The station's answer.", schema: ref('ClearChargingProfileResult') } },
      errors: SEND_ERRORS,
      async handler(req) {
        const { id } = req.params as { id: string };
        const q = req.query as { evseId?: number; purpose?: ProfilePurpose; stackLevel?: number; timeoutS?: number };
        const sel: ClearSelector = compact({ evseId: q.evseId, purpose: q.purpose, stackLevel: q.stackLevel });
        const res = await guarded(() => smart.clear(id, sel, opts(q)));
        return { ...answerView(res), removed: res.removed };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/stations/:id/composite-schedule',
      operationId: 'getCompositeSchedule',
      summary: "The station's composite schedule next to Ampline's prediction (GetCompositeSchedule)",
      description:
        "Asks the station (GetCompositeSchedule) and computes what the installed profiles Ampline knows of should give for the " +
        'same window and unit; `differences` lists where the two disagree. Read-only: it changes nothing on the station.',
      tag: 'Smart charging',
      scope: 'read',
      schema: {
        params: stationParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['evseId', 'duration'],
          properties: {
            evseId: evseFilter('EVSE (1.6: connector); 0 = the grid connection of the whole station.'),
            duration: { type: 'integer', minimum: 1, maximum: 2_592_000, description: 'Seconds from now (at most 30 days).' },
            unit: { type: 'string', enum: [...UNITS], description: "Unit of the answer; default: the station's choice." },
            timeoutS,
          },
        },
      },
      responses: { 200: { description: "The station's answer and Ampline's prediction.", schema: ref('CompositeScheduleResult') } },
      errors: SEND_ERRORS,
      async handler(req) {
        const { id } = req.params as { id: string };
        const q = req.query as { evseId: number; duration: number; unit?: RateUnit; timeoutS?: number };
        const res = await guarded(() => smart.composite(id, q.evseId, q.duration, q.unit, opts(q)));
        return compositeResultView(res);
      },
    },
    {
      method: 'POST',
      url: '/api/v1/stations/:id/charging-profiles/report',
      operationId: 'reportChargingProfiles',
      summary: 'Ask an OCPP 2.0.1 station for its installed profiles (GetChargingProfiles)',
      description:
        'Sends GetChargingProfiles and collects the ReportChargingProfiles messages that follow. They refresh the shadow; a report ' +
        "without criteria replaces it entirely. OCPP 1.6 has no such message: 409 `NotSupportedByProtocol`.",
      tag: 'Smart charging',
      scope: 'command',
      schema: {
        params: stationParams,
        querystring: { type: 'object', additionalProperties: false, properties: { timeoutS } },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            evseId: evseFilter('Only profiles on this EVSE (0 = the station).'),
            ids: { type: 'array', minItems: 1, maxItems: 100, uniqueItems: true, items: { type: 'integer', minimum: 0 }, description: 'Only these profile ids (chargingProfileId).' },
            purpose: purposeFilter,
            stackLevel: stackLevelFilter,
            sources: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...LIMIT_SOURCES] }, description: 'chargingLimitSource: CSO (set by the CSMS), EMS, SO, Other.' },
          },
        },
      },
      responses: { 200: { description: "The station's answer and the reported profiles.", schema: ref('ChargingProfileReport') } },
      errors: SEND_ERRORS,
      async handler(req) {
        const { id } = req.params as { id: string };
        const criteria = req.body as ReportCriteria;
        const res = await guarded(async () => {
          try {
            return await smart.report(id, criteria, opts(req.query as { timeoutS?: number }));
          } catch (err) {
            if (err instanceof ReportTimeoutError) {
              throw new ApiError('Timeout', `The charging station accepted GetChargingProfiles but did not finish its report in time: ${err.message}`);
            }
            throw err;
          }
        });
        return { ...answerView(res), profiles: res.profiles.map((r) => ({ evseId: r.evseId, source: r.source, profile: profileView(r.profile) })) };
      },
    },
  ];
}
