/**
 * `/api/v1` for the SCSP link (issue 6 §1–2): SCSP partners (admin scope; secrets never shown), pairing
 * codes for customers, pairing with a code the SCSP issued, the current pairing of a station and
 * unpairing it. The work is done by src/scsp-link (PartnerService, PairingService); this file maps it
 * to HTTP and the error catalogue. A partner may name its OCPI registration (`ocpiPartnerId`): its paired
 * stations' sessions then go to that OCPI partner as OCPI Sessions (src/ocpi/cpo/sessions.ts), and
 * `sessionData` says whether OCPP-format events (seed 001) are forwarded as well (`ocpp`) or not (`ocpi`).
 *
 * The ScspLink is reached through a getter: the composition root builds it after the API is declared.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.js';
import type { ScspLink } from '../../scsp-link/index.js';
import { DuplicateInboundTokenError, PAYLOAD_PROTOCOLS, SESSION_DATA, type Partner, parsePartner, publicPartner } from '../../scsp-link/partners.js';
import { PARTNER_ID_PATTERN } from '../../ocpi/admin.js';
import {
  DEFAULT_CODE_TTL_S,
  IncorrectCodeError,
  MAX_CODE_TTL_S,
  NotPairedError,
  PairingConflictError,
  PayloadProtocolMismatchError,
  PartnerDisabledError,
  ScspUpstreamError,
  UnknownPartnerError,
  type Pairing,
} from '../../scsp-link/pairing.js';
import { NoEvsesKnownError } from '../../scsp-link/station-description.js';
import { ConfigError } from '../../config.js';
import { ApiError, toApiError } from '../errors.js';
import { type JsonSchema, type RouteSpec, linkHeaderDoc, nullable, pageOf, pageSchema, paginationProps, ref, sendPage, stationOr404 } from './http.js';

export interface ScspApiDeps {
  db: Kysely<Database>;
  /** The running SCSP link (late-bound: built after the API is declared). */
  scsp: () => ScspLink;
}

/** The value secrets are shown as; sent back in a PUT it keeps the stored secret. */
const MASK = '***';

const PARTNER_ID = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' };
const httpUrl = (description: string): JsonSchema => ({ type: 'string', minLength: 1, maxLength: 2048, pattern: '^https?://', description });

/** PUT body; the schema Fastify validates with is the documented component. */
const PARTNER_INPUT: JsonSchema = {
  type: 'object',
  required: ['baseUrl', 'tokenUrl', 'clientId', 'clientSecret', 'apiKey', 'inboundToken'],
  additionalProperties: false,
  properties: {
    id: { ...PARTNER_ID, description: 'Optional; must equal the id in the path.' },
    name: { type: 'string', minLength: 1, maxLength: 200, description: 'Default: the id.' },
    baseUrl: httpUrl("The SCSP's API root (Ampline calls `{baseUrl}/v1/scsp/...`)."),
    tokenUrl: httpUrl('OAuth 2.0 token endpoint (client credentials grant).'),
    clientId: { type: 'string', minLength: 1, maxLength: 512 },
    clientSecret: { type: 'string', minLength: 1, maxLength: 2048, description: `\`${MASK}\` keeps the stored secret of an existing partner.` },
    audience: { type: 'string', maxLength: 2048, description: 'OAuth `audience`, when the SCSP wants one.' },
    apiKey: { type: 'string', minLength: 1, maxLength: 2048, description: `Static \`ApiKey\` header sent on every call; \`${MASK}\` keeps the stored one.` },
    payloadProtocol: { type: 'string', enum: [...PAYLOAD_PROTOCOLS], default: 'ocpp2.0.1' },
    inboundToken: {
      type: 'string',
      minLength: 16,
      maxLength: 1024,
      description: 'The bearer token this SCSP presents on `/v1/cpo/...` (only its SHA-256 is stored; unique across partners).',
    },
    enabled: { type: 'boolean', default: true, description: 'A disabled partner is refused on `/v1/cpo/...` (401) and cannot be paired with.' },
    ocpiPartnerId: nullable('string', {
      pattern: PARTNER_ID_PATTERN,
      description:
        "The partner's OCPI registration (`/api/v1/ocpi/partners/{id}`). Once that OCPI partner is registered and lists a `sessions` RECEIVER endpoint, " +
        'the sessions of stations paired with this SCSP are pushed to it as OCPI Sessions, listed in its OCPI Sessions GET, and it may steer them with OCPI ChargingProfiles. ' +
        '`null` or absent: no OCPI link.',
    }),
    sessionData: {
      type: 'string',
      enum: [...SESSION_DATA],
      default: 'ocpp',
      description: '`ocpp`: transaction events and meter values are forwarded in OCPP format (seed 001); `ocpi`: the partner gets OCPI Sessions only (needs `ocpiPartnerId`).',
    },
  },
};

export const scspComponents: Record<string, JsonSchema> = {
  ScspPartner: {
    type: 'object',
    required: ['id', 'name', 'baseUrl', 'tokenUrl', 'clientId', 'clientSecret', 'apiKey', 'payloadProtocol', 'enabled', 'ocpiPartnerId', 'sessionData', 'pairedStations'],
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      baseUrl: { type: 'string', description: "The SCSP's API root: Ampline calls `{baseUrl}/v1/scsp/...`." },
      tokenUrl: { type: 'string', description: 'OAuth 2.0 token endpoint (client credentials).' },
      clientId: { type: 'string' },
      clientSecret: { type: 'string', enum: [MASK], description: 'Never shown.' },
      audience: { type: 'string' },
      apiKey: { type: 'string', enum: [MASK], description: 'The static `ApiKey` header; never shown.' },
      payloadProtocol: { type: 'string', enum: [...PAYLOAD_PROTOCOLS] },
      enabled: { type: 'boolean' },
      ocpiPartnerId: nullable('string', { description: 'The OCPI partner its paired stations\' sessions go to as OCPI Sessions; null: none.' }),
      sessionData: { type: 'string', enum: [...SESSION_DATA], description: '`ocpp`: OCPP-format events (seed 001) · `ocpi`: OCPI Sessions only.' },
      pairedStations: { type: 'integer', minimum: 0, description: 'Stations paired with this partner now.' },
    },
  },
  ScspPartnerInput: PARTNER_INPUT,
  Pairing: {
    type: 'object',
    required: ['stationId', 'partnerId', 'payloadProtocol', 'origin', 'pairedAt'],
    properties: {
      stationId: { type: 'string', description: 'The station (the `uid` the SCSP knows).' },
      partnerId: { type: 'string' },
      payloadProtocol: { type: 'string', enum: [...PAYLOAD_PROTOCOLS] },
      origin: { type: 'string', enum: ['cpo-code', 'scsp-code'], description: '`cpo-code`: the SCSP verified a code Ampline issued; `scsp-code`: Ampline sent the SCSP\'s code.' },
      pairedAt: { type: 'string', format: 'date-time' },
    },
  },
  PairingCode: {
    type: 'object',
    required: ['code', 'stationId', 'expiresAt'],
    properties: {
      code: { type: 'string', pattern: '^[0-9]{6}$', description: 'Six digits, single use. Give it to the customer to enter in the SCSP\'s app.' },
      stationId: { type: 'string' },
      expiresAt: { type: 'string', format: 'date-time' },
    },
  },
  ChargingStationDescription: {
    type: 'object',
    description: 'The `charging_station` object of the pairing calls (seed 000), built from the station model.',
    required: ['uid', 'evses'],
    properties: {
      uid: { type: 'string' },
      evses: {
        type: 'array',
        items: {
          type: 'object',
          required: ['evse_id', 'capabilities', 'connectors'],
          properties: {
            evse_id: { type: 'integer' },
            capabilities: { type: 'array', items: { type: 'string' } },
            connectors: {
              type: 'array',
              items: {
                type: 'object',
                required: ['id', 'power_type', 'max_voltage', 'max_amperage'],
                properties: {
                  id: { type: 'string' },
                  power_type: { type: 'string', enum: ['AC_1_PHASE', 'AC_2_PHASE', 'AC_2_PHASE_SPLIT', 'AC_3_PHASE', 'DC'] },
                  max_voltage: { type: 'number', description: 'Line-to-neutral for AC.' },
                  max_amperage: { type: 'number' },
                },
              },
            },
          },
        },
      },
    },
  },
  PairResult: {
    allOf: [
      ref('Pairing'),
      {
        type: 'object',
        required: ['chargingStation', 'alreadyPaired'],
        properties: {
          chargingStation: ref('ChargingStationDescription'),
          alreadyPaired: { type: 'boolean', description: 'The station was already paired with this partner; nothing was sent.' },
        },
      },
    ],
  },
  UnpairResult: {
    allOf: [
      ref('Pairing'),
      {
        type: 'object',
        required: ['scspStatus'],
        properties: {
          scspStatus: nullable('integer', { description: "The SCSP's answer to the unpair call (0: none came; null: the partner no longer exists, not called)." }),
        },
      },
    ],
  },
};

const partnerParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: PARTNER_ID } };
const stationParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', minLength: 1, maxLength: 255 } } };

/** Service errors → the catalogue. */
export function scspApiError(err: unknown): ApiError {
  if (err instanceof UnknownPartnerError) return new ApiError('UnknownPartner', `Unknown SCSP partner '${err.partnerId}'`);
  if (err instanceof PartnerDisabledError) return new ApiError('PartnerDisabled', `SCSP partner '${err.partnerId}' is disabled`);
  if (err instanceof PayloadProtocolMismatchError) return new ApiError('PayloadProtocolMismatch', err.message);
  if (err instanceof NoEvsesKnownError) return new ApiError('NoEvsesKnown', `Charging station '${err.stationId}' has reported no EVSE yet, so it cannot be described to an SCSP`);
  if (err instanceof NotPairedError) return new ApiError('NotPaired', `Charging station '${err.stationId}' is not paired with an SCSP`);
  if (err instanceof IncorrectCodeError) return new ApiError('IncorrectPairingCode', 'The SCSP does not know this code (404): Incorrect Code, please check the code and try again.');
  if (err instanceof PairingConflictError) {
    return err.by === 'local'
      ? new ApiError('PairingConflict', `Charging station '${err.stationId}' is already paired with partner '${err.pairedWith ?? '?'}'; unpair it first`, { by: 'local', pairedWith: err.pairedWith })
      : new ApiError('PairingConflict', `The SCSP already has charging station '${err.stationId}' (409 Conflict)`, { by: 'scsp' });
  }
  if (err instanceof ScspUpstreamError) {
    return new ApiError('ScspUnavailable', `SCSP '${err.partnerId}' ${err.status === 0 ? 'could not be reached' : `answered ${err.status}`}: ${err.detail}`, {
      upstreamStatus: err.status,
    });
  }
  return toApiError(err);
}

async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw scspApiError(err);
  }
}

const pairingView = (p: Pairing) => ({ stationId: p.stationId, partnerId: p.partnerId, payloadProtocol: p.payloadProtocol, origin: p.origin, pairedAt: p.pairedAt });

export function scspRoutes(deps: ScspApiDeps): RouteSpec[] {
  const { db } = deps;
  const partnerView = async (p: Partner) => ({
    ...publicPartner(p),
    ocpiPartnerId: p.ocpiPartnerId ?? null,
    sessionData: p.sessionData,
    pairedStations: await deps.scsp().pairing.countForPartner(p.id),
  });

  return [
    // ── partners ──────────────────────────────────────────────────────────────────────────────
    {
      method: 'GET',
      url: '/api/v1/partners',
      operationId: 'listScspPartners',
      summary: 'List SCSP partners (secrets masked)',
      tag: 'SCSP partners',
      scope: 'admin',
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { ...paginationProps } } },
      responses: { 200: { description: 'A page of partners, by id.', schema: pageSchema('#/components/schemas/ScspPartner'), headers: linkHeaderDoc } },
      async handler(req, reply) {
        const page = pageOf(req.query);
        const all = await deps.scsp().partners.list();
        const data = await Promise.all(all.slice(page.offset, page.offset + page.limit).map(partnerView));
        return sendPage(req, reply, data, all.length, page);
      },
    },
    {
      method: 'GET',
      url: '/api/v1/partners/:id',
      operationId: 'getScspPartner',
      summary: 'Get an SCSP partner (secrets masked)',
      tag: 'SCSP partners',
      scope: 'admin',
      schema: { params: partnerParams },
      responses: { 200: { description: 'The partner.', schema: ref('ScspPartner') } },
      errors: [404],
      async handler(req) {
        const { id } = req.params as { id: string };
        const p = await deps.scsp().partners.get(id);
        if (!p) throw new ApiError('UnknownPartner', `Unknown SCSP partner '${id}'`);
        return partnerView(p);
      },
    },
    {
      method: 'PUT',
      url: '/api/v1/partners/:id',
      operationId: 'putScspPartner',
      summary: 'Create or replace an SCSP partner',
      description:
        'The whole definition each time. `clientSecret` and `apiKey` may be sent as `***` to keep the stored values of an existing partner; ' +
        'the `inboundToken` is always required (only its hash is stored). A cached OAuth token is not reused once the credentials change.',
      tag: 'SCSP partners',
      scope: 'admin',
      schema: { params: partnerParams, body: PARTNER_INPUT },
      docBody: ref('ScspPartnerInput'),
      bodyRequired: true,
      responses: { 200: { description: 'Replaced.', schema: ref('ScspPartner') }, 201: { description: 'Created.', schema: ref('ScspPartner') } },
      errors: [409],
      async handler(req, reply) {
        const { id } = req.params as { id: string };
        const body = req.body as Record<string, unknown>;
        if (body.id !== undefined && body.id !== id) throw new ApiError('BadRequest', `body/id '${String(body.id)}' differs from the id in the path '${id}'`);
        const link = deps.scsp();
        const existing = await link.partners.get(id);
        const raw: Record<string, unknown> = { ...body, id };
        for (const k of ['clientSecret', 'apiKey'] as const) {
          if (raw[k] !== MASK) continue;
          if (!existing) throw new ApiError('BadRequest', `body/${k}: '${MASK}' keeps a stored value, but partner '${id}' does not exist yet`);
          raw[k] = existing[k];
        }
        let input;
        try {
          input = parsePartner(raw, 'body');
        } catch (err) {
          if (err instanceof ConfigError) throw new ApiError('BadRequest', err.message);
          throw err;
        }
        try {
          const saved = await link.partners.upsert(input);
          reply.code(existing ? 200 : 201);
          if (!existing) reply.header('location', `/api/v1/partners/${encodeURIComponent(id)}`);
          return await partnerView(saved);
        } catch (err) {
          if (err instanceof DuplicateInboundTokenError) throw new ApiError('AlreadyExists', 'Another partner already uses this inboundToken');
          throw err;
        }
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/partners/:id',
      operationId: 'deleteScspPartner',
      summary: 'Delete an SCSP partner',
      description: 'Refused with 409 `PartnerInUse` while stations are paired with it: unpair them first (`DELETE /api/v1/stations/{id}/pairing`).',
      tag: 'SCSP partners',
      scope: 'admin',
      schema: { params: partnerParams },
      responses: { 204: { description: 'Deleted.' } },
      errors: [404, 409],
      async handler(req, reply) {
        const { id } = req.params as { id: string };
        const link = deps.scsp();
        if (!(await link.partners.get(id))) throw new ApiError('UnknownPartner', `Unknown SCSP partner '${id}'`);
        const paired = await link.pairing.countForPartner(id);
        if (paired > 0) throw new ApiError('PartnerInUse', `${paired} charging station(s) are paired with partner '${id}'; unpair them first`, { pairedStations: paired });
        await link.partners.remove(id);
        return reply.code(204).send();
      },
    },

    // ── pairing ───────────────────────────────────────────────────────────────────────────────
    {
      method: 'GET',
      url: '/api/v1/pairings',
      operationId: 'listPairings',
      summary: 'List paired stations',
      tag: 'SCSP pairing',
      scope: 'read',
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { partnerId: PARTNER_ID, ...paginationProps } } },
      responses: { 200: { description: 'A page of pairings, by station id.', schema: pageSchema('#/components/schemas/Pairing'), headers: linkHeaderDoc } },
      async handler(req, reply) {
        const q = req.query as { partnerId?: string };
        const page = pageOf(req.query);
        const { data, total } = await deps.scsp().pairing.list({ ...(q.partnerId !== undefined ? { partnerId: q.partnerId } : {}), ...page });
        return sendPage(req, reply, data.map(pairingView), total, page);
      },
    },
    {
      method: 'POST',
      url: '/api/v1/stations/:id/pairing-codes',
      operationId: 'createPairingCode',
      summary: 'Issue a pairing code for a station (the customer enters it in the SCSP app)',
      description:
        `Six random digits, single use, valid for \`ttlS\` seconds (default ${DEFAULT_CODE_TTL_S}). The SCSP verifies it on \`POST /v1/cpo/{payload-protocol}/pair\` ` +
        'and gets the station\'s description; the station is then paired with that SCSP. 409 `NoEvsesKnown` while the station has reported no EVSE.',
      tag: 'SCSP pairing',
      scope: 'command',
      schema: {
        params: stationParams,
        body: { type: 'object', additionalProperties: false, properties: { ttlS: { type: 'integer', minimum: 30, maximum: MAX_CODE_TTL_S, description: 'Lifetime in seconds.' } } },
      },
      bodyRequired: false,
      responses: { 201: { description: 'Issued.', schema: ref('PairingCode') } },
      errors: [404, 409],
      async handler(req, reply) {
        const { id } = req.params as { id: string };
        const { ttlS } = req.body as { ttlS?: number };
        const issued = await guarded(() => deps.scsp().pairing.issueCode(id, ttlS !== undefined ? { ttlS } : {}));
        reply.code(201).header('cache-control', 'no-store');
        return issued;
      },
    },
    {
      method: 'POST',
      url: '/api/v1/stations/:id/pairing',
      operationId: 'pairWithScspCode',
      summary: 'Pair a station using a code the SCSP issued',
      description:
        "Sends `{code, charging_station}` to the partner's `POST /v1/scsp/{payload-protocol}/pair`. 404 `IncorrectPairingCode` when the SCSP does not know the code, " +
        '409 `PairingConflict` when the station is paired with another partner (`by: "local"`) or the SCSP already has it (`by: "scsp"`), 502 `ScspUnavailable` ' +
        'when the SCSP gives no usable answer (nothing is recorded). Pairing again with the same partner changes nothing.',
      tag: 'SCSP pairing',
      scope: 'command',
      schema: {
        params: stationParams,
        body: {
          type: 'object',
          required: ['partnerId', 'code'],
          additionalProperties: false,
          properties: { partnerId: PARTNER_ID, code: { type: 'string', minLength: 1, maxLength: 64, description: 'The code the SCSP showed the customer.' } },
        },
      },
      responses: { 200: { description: 'Paired.', schema: ref('PairResult') } },
      errors: [404, 409, 502],
      async handler(req) {
        const { id } = req.params as { id: string };
        const b = req.body as { partnerId: string; code: string };
        const code = b.code.trim();
        if (code === '') throw new ApiError('BadRequest', 'body/code: must not be blank');
        const res = await guarded(() => deps.scsp().pairing.pairWithScspCode(id, b.partnerId, code));
        return { ...pairingView(res.pairing), chargingStation: res.chargingStation, alreadyPaired: res.alreadyPaired };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/stations/:id/pairing',
      operationId: 'getPairing',
      summary: "A station's current SCSP pairing",
      tag: 'SCSP pairing',
      scope: 'read',
      schema: { params: stationParams },
      responses: { 200: { description: 'The pairing.', schema: ref('Pairing') } },
      errors: [404],
      async handler(req) {
        const { id } = await stationOr404(db, req);
        const p = await deps.scsp().pairing.get(id);
        if (!p) throw new ApiError('NotPaired', `Charging station '${id}' is not paired with an SCSP`);
        return pairingView(p);
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/stations/:id/pairing',
      operationId: 'unpairStation',
      summary: 'Unpair a station (tells the SCSP)',
      description:
        "Calls the partner's `POST /v1/scsp/chargingstations/{uid}/unpair`; on 2xx or 404 the pairing is removed, events stop being forwarded and the SCSP's " +
        'charging profiles are cleared from the station (in the background; an offline station is cleared when it next boots). Otherwise 502 `ScspUnavailable` ' +
        'and the pairing is kept — unless `force=true`, which removes it anyway.',
      tag: 'SCSP pairing',
      scope: 'command',
      schema: {
        params: stationParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { force: { type: 'boolean', default: false, description: 'Remove the pairing even when the SCSP cannot be told.' } },
        },
      },
      responses: { 200: { description: 'Unpaired.', schema: ref('UnpairResult') } },
      errors: [404, 502],
      async handler(req) {
        const { id } = await stationOr404(db, req);
        const { force } = req.query as { force?: boolean };
        const res = await guarded(() => deps.scsp().pairing.unpairFromCpo(id, { force: force === true }));
        return { ...pairingView(res.pairing), scspStatus: res.scspStatus ?? null };
      },
    },
  ];
}
