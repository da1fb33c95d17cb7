/**
 * `/api/v1/ocpi/...` (issue 8): OCPI 2.2.1 partners of the CSMS — issue a CREDENTIALS_TOKEN_A for a peer
 * that will register with us, register with a peer, rotate, unregister, list (tokens masked). The work
 * is done by the OCPI node (src/ocpi/node.ts, credentials.ts); this file maps it to HTTP and the error
 * catalogue. The node is reached through a getter (the composition root builds it beside the API).
 */
import { DuplicatePartnerError } from '../../ocpi/storage.js';
import type { OcpiNode } from '../../ocpi/node.js';
import { MASK, OcpiAdminInputError, PARTNER_ID_PATTERN, parseNewPartner, parseRegistration, partnerView } from '../../ocpi/admin.js';
import { PartnerStateError, RegistrationError, UnknownPartnerError } from '../../ocpi/credentials.js';
import { TOKEN_ENCODINGS } from '../../ocpi/core/auth.js';
import { ApiError, toApiError } from '../errors.js';
import { type JsonSchema, type RouteSpec, linkHeaderDoc, nullable, pageOf, pageSchema, paginationProps, ref, sendPage } from './http.js';

export interface OcpiApiDeps {
  ocpi: () => OcpiNode;
}

const PARTNER_ID = { type: 'string', pattern: PARTNER_ID_PATTERN };
const partnerParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: PARTNER_ID } };
const httpUrl = (description: string): JsonSchema => ({ type: 'string', minLength: 1, maxLength: 2048, pattern: '^https?://', description });

const OAUTH2_AUTH: JsonSchema = {
  type: 'object',
  required: ['type', 'tokenUrl', 'clientId', 'clientSecret'],
  additionalProperties: false,
  description: 'Authenticate to this partner the Jedlix way (OAuth 2.0 client credentials → `Authorization: Bearer`, plus a static `ApiKey` header) instead of the OCPI token.',
  properties: {
    type: { type: 'string', enum: ['oauth2'] },
    tokenUrl: httpUrl('OAuth 2.0 token endpoint.'),
    clientId: { type: 'string', minLength: 1, maxLength: 512 },
    clientSecret: { type: 'string', minLength: 1, maxLength: 2048 },
    audience: { type: 'string', minLength: 1, maxLength: 2048 },
    apiKey: { type: 'string', minLength: 1, maxLength: 2048 },
  },
};

const REGISTRATION_INPUT: JsonSchema = {
  type: 'object',
  required: ['versionsUrl'],
  additionalProperties: false,
  properties: {
    versionsUrl: httpUrl("The peer's OCPI versions endpoint, given out of band with its token A."),
    token: { type: 'string', minLength: 1, maxLength: 255, description: "The peer's CREDENTIALS_TOKEN_A (required unless `auth` is given)." },
    id: { ...PARTNER_ID, description: 'Our id for the partner (default: generated).' },
    name: { type: 'string', minLength: 1, maxLength: 100, description: "Default: the peer's business name." },
    tokenEncoding: {
      type: 'string',
      enum: [...TOKEN_ENCODINGS],
      default: 'auto',
      description: '`auto`: Base64 for 2.2.1 peers, raw for 2.2 peers, and a 401 on the first GET tries the other encoding; `base64`/`raw` force one.',
    },
    auth: OAUTH2_AUTH,
  },
};

const NEW_PARTNER_INPUT: JsonSchema = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { ...PARTNER_ID, description: 'Our id for the partner.' }, name: { type: 'string', minLength: 1, maxLength: 100 } },
};

export const ocpiComponents: Record<string, JsonSchema> = {
  OcpiPartner: {
    type: 'object',
    required: ['id', 'name', 'state', 'version', 'versionsUrl', 'tokenEncoding', 'roles', 'endpoints', 'inboundToken', 'outboundToken', 'rotating', 'auth', 'createdAt', 'updatedAt', 'registeredAt'],
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      state: {
        type: 'string',
        enum: ['pending', 'registering', 'registered', 'unregistered'],
        description: '`pending`: token A issued, waiting for the peer to register; `registering`: our POST is under way; `registered`; `unregistered` (by the peer).',
      },
      version: nullable('string', { description: 'The OCPI version in use (2.2.1, or 2.2 for a lenient peer).' }),
      versionsUrl: nullable('string', { description: "The peer's versions endpoint." }),
      tokenEncoding: { type: 'string', enum: [...TOKEN_ENCODINGS], description: 'How our Authorization header carries the token.' },
      roles: { type: 'array', items: { type: 'object' }, description: "The peer's CredentialsRoles as it sent them." },
      endpoints: { type: 'array', items: { type: 'object', properties: { identifier: { type: 'string' }, role: { type: 'string' }, url: { type: 'string' } } } },
      inboundToken: {
        type: ['object', 'null'],
        description: 'The token the peer presents to us (only its hash is stored): `A` (registration only), `B` or `C`, and its first characters.',
        properties: { kind: { type: 'string', enum: ['A', 'B', 'C'] }, hint: nullable('string') },
      },
      outboundToken: { type: ['string', 'null'], enum: [MASK, null], description: 'The token we present to the peer; never shown.' },
      rotating: { type: 'boolean' },
      auth: { type: ['object', 'null'], description: 'OAuth2 strategy (secrets shown as `***`); null: the OCPI token.' },
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
      registeredAt: nullable('string', { format: 'date-time' }),
    },
  },
  OcpiTokenA: {
    type: 'object',
    required: ['partner', 'tokenA', 'versionsUrl'],
    properties: {
      partner: ref('OcpiPartner'),
      tokenA: { type: 'string', description: 'CREDENTIALS_TOKEN_A, shown once: give it to the peer with `versionsUrl`, out of band. Accepted on versions and credentials only.' },
      versionsUrl: { type: 'string', description: 'Our OCPI versions endpoint.' },
    },
  },
  OcpiRegistrationInput: REGISTRATION_INPUT,
};

/** Service errors → the catalogue. */
export function ocpiApiError(err: unknown): ApiError {
  if (err instanceof OcpiAdminInputError) return new ApiError('BadRequest', err.message);
  if (err instanceof UnknownPartnerError) return new ApiError('UnknownOcpiPartner', err.message);
  if (err instanceof DuplicatePartnerError) return new ApiError('AlreadyExists', `OCPI partner '${err.partnerId}' exists`);
  if (err instanceof PartnerStateError) return new ApiError('OcpiPartnerState', err.message, { state: err.state });
  if (err instanceof RegistrationError) {
    return new ApiError('OcpiRegistrationFailed', err.message, {
      reason: err.reason,
      statusCode: err.statusCode,
      ...(err.peerHttpStatus !== undefined ? { peerHttpStatus: err.peerHttpStatus } : {}),
      ...(err.peerStatusCode !== undefined ? { peerStatusCode: err.peerStatusCode } : {}),
    });
  }
  return toApiError(err);
}

async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw ocpiApiError(err);
  }
}

export function ocpiRoutes(deps: OcpiApiDeps): RouteSpec[] {
  const tag = 'OCPI partners';
  const node = () => deps.ocpi();
  const tokenAnswer = (r: { partner: Parameters<typeof partnerView>[0]; tokenA: string }) => ({ partner: partnerView(r.partner), tokenA: r.tokenA, versionsUrl: node().versionsUrl() });
  return [
    {
      method: 'GET',
      url: '/api/v1/ocpi/partners',
      operationId: 'listOcpiPartners',
      summary: 'List OCPI partners (tokens masked)',
      tag,
      scope: 'admin',
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { ...paginationProps } } },
      responses: { 200: { description: 'A page of partners, by id.', schema: pageSchema('#/components/schemas/OcpiPartner'), headers: linkHeaderDoc } },
      async handler(req, reply) {
        const page = pageOf(req.query);
        const all = await node().partners.list();
        return sendPage(req, reply, all.slice(page.offset, page.offset + page.limit).map(partnerView), all.length, page);
      },
    },
    {
      method: 'GET',
      url: '/api/v1/ocpi/partners/:id',
      operationId: 'getOcpiPartner',
      summary: 'Get an OCPI partner (tokens masked)',
      tag,
      scope: 'admin',
      schema: { params: partnerParams },
      responses: { 200: { description: 'The partner.', schema: ref('OcpiPartner') } },
      errors: [404],
      async handler(req) {
        const { id } = req.params as { id: string };
        const p = await node().partners.get(id);
        if (!p) throw new ApiError('UnknownOcpiPartner', `Unknown OCPI partner '${id}'`);
        return partnerView(p);
      },
    },
    {
      method: 'POST',
      url: '/api/v1/ocpi/partners',
      operationId: 'createOcpiPartner',
      summary: 'Issue a CREDENTIALS_TOKEN_A for a peer that will register with us',
      description:
        'Creates the partner (`pending`) and answers its token A once. Give the peer `versionsUrl` and `tokenA`; it GETs our versions with A and POSTs its ' +
        'credentials to us, we fetch its versions with its token B before answering with a token C (then A is dead). 409 `AlreadyExists` for an existing id.',
      tag,
      scope: 'admin',
      schema: { body: NEW_PARTNER_INPUT },
      bodyRequired: true,
      responses: { 201: { description: 'Issued.', schema: ref('OcpiTokenA') } },
      errors: [409],
      async handler(req, reply) {
        const input = await guarded(async () => parseNewPartner(req.body));
        const r = await guarded(() => node().credentials.createPartner(input));
        reply.code(201).header('cache-control', 'no-store');
        return tokenAnswer(r);
      },
    },
    {
      method: 'POST',
      url: '/api/v1/ocpi/partners/:id/token-a',
      operationId: 'reissueOcpiTokenA',
      summary: 'Issue a new CREDENTIALS_TOKEN_A for a partner that is not registered',
      description: 'The previous token A stops working. 409 `OcpiPartnerState` while the partner is registered.',
      tag,
      scope: 'admin',
      schema: { params: partnerParams },
      bodyRequired: false,
      responses: { 200: { description: 'Issued.', schema: ref('OcpiTokenA') } },
      errors: [404, 409],
      async handler(req, reply) {
        const { id } = req.params as { id: string };
        const r = await guarded(() => node().credentials.reissueTokenA(id));
        reply.header('cache-control', 'no-store');
        return tokenAnswer(r);
      },
    },
    {
      method: 'POST',
      url: '/api/v1/ocpi/registrations',
      operationId: 'registerWithOcpiPartner',
      summary: 'Register with a peer (its versions URL and token A)',
      description:
        'GETs the peer\'s versions and the details of 2.2.1 (else 2.2), POSTs our credentials with a new token B, stores the token C it answers. ' +
        '502 `OcpiRegistrationFailed` with `reason` (`unreachable` 3001, `unsupported-version` 3002, `no-matching-endpoints` 3003, `refused`, `invalid-answer`) ' +
        'and the OCPI `statusCode`; nothing is kept then. 409 `OcpiPartnerState` when that id is registered already.',
      tag,
      scope: 'admin',
      schema: { body: REGISTRATION_INPUT },
      docBody: ref('OcpiRegistrationInput'),
      bodyRequired: true,
      responses: { 201: { description: 'Registered.', schema: ref('OcpiPartner') } },
      errors: [409, 502],
      async handler(req, reply) {
        const input = await guarded(async () => parseRegistration(req.body));
        const p = await guarded(() => node().credentials.registerWith(input));
        reply.code(201).header('location', `/api/v1/ocpi/partners/${encodeURIComponent(p.id)}`);
        return partnerView(p);
      },
    },
    {
      method: 'POST',
      url: '/api/v1/ocpi/partners/:id/rotate',
      operationId: 'rotateOcpiCredentials',
      summary: 'Rotate the credentials with a registered partner (PUT)',
      description: 'PUTs our credentials with a new token to the peer (which fetches our endpoints again) and takes the new token it answers with. The spec advises monthly.',
      tag,
      scope: 'admin',
      schema: { params: partnerParams },
      bodyRequired: false,
      responses: { 200: { description: 'Rotated.', schema: ref('OcpiPartner') } },
      errors: [404, 409, 502],
      async handler(req) {
        const { id } = req.params as { id: string };
        return partnerView(await guarded(() => node().credentials.rotate(id)));
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/ocpi/partners/:id',
      operationId: 'deleteOcpiPartner',
      summary: 'Unregister (DELETE our credentials at the peer) and forget the partner',
      description: '`force=true` forgets the partner even when the peer cannot be told (502 `OcpiRegistrationFailed` otherwise).',
      tag,
      scope: 'admin',
      schema: { params: partnerParams, querystring: { type: 'object', additionalProperties: false, properties: { force: { type: 'boolean', default: false } } } },
      responses: {
        200: {
          description: 'Forgotten.',
          schema: { type: 'object', required: ['id', 'peerInformed'], properties: { id: { type: 'string' }, peerInformed: { type: 'boolean' } } },
        },
      },
      errors: [404, 502],
      async handler(req) {
        const { id } = req.params as { id: string };
        const { force } = req.query as { force?: boolean };
        const r = await guarded(() => node().credentials.unregister(id, { force: force === true }));
        return { id, peerInformed: r.peerInformed };
      },
    },
  ];
}
