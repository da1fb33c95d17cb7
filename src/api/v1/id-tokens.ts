/**
 * Id tokens (the table `AuthService` authorizes against): list and read with `read`, write with `admin`.
 * `type` takes the 2.0.1 IdTokenEnumType values from the OCA schema; 1.6 idTags are ISO14443 by default.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, IdTokenRow } from '../../store/schema.js';
import type { Clock } from '../../util/clock.js';
import { ApiError } from '../errors.js';
import { definitionEnum } from './actions.js';
import { type JsonSchema, type RouteSpec, likePattern, linkHeaderDoc, nullable, pageOf, pageSchema, paginationProps, ref, sendPage } from './http.js';

export interface IdTokenDeps {
  db: Kysely<Database>;
  clock: Clock;
}

export const ID_TOKEN_TYPES: readonly string[] = definitionEnum('ocpp2.0.1', 'Authorize', 'IdTokenEnumType');
export const ID_TOKEN_STATUSES = ['Accepted', 'Blocked', 'Expired', 'Invalid'] as const;

export function idTokenView(r: IdTokenRow) {
  return {
    idToken: r.id_token,
    type: r.type,
    status: r.status,
    groupId: r.group_id,
    expiryDate: r.expiry_date,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Printable ASCII without spaces, at most 36 characters (2.0.1 IdTokenType.idToken; 1.6 idTag is ≤ 20). */
const idTokenString = { type: 'string', minLength: 1, maxLength: 36, pattern: '^[\\x21-\\x7e]+$' };

const writable: Record<string, JsonSchema> = {
  type: { type: 'string', enum: [...ID_TOKEN_TYPES], default: 'ISO14443', description: 'OCPP 2.0.1 IdTokenEnumType.' },
  status: { type: 'string', enum: [...ID_TOKEN_STATUSES] },
  groupId: { type: ['string', 'null'], minLength: 1, maxLength: 36, description: 'Group id token (1.6 parentIdTag).' },
  expiryDate: { type: ['string', 'null'], format: 'date-time', description: 'After this time the token authorizes as Expired.' },
};

export const idTokenComponents: Record<string, JsonSchema> = {
  IdToken: {
    type: 'object',
    required: ['idToken', 'type', 'status', 'createdAt', 'updatedAt'],
    properties: {
      idToken: { type: 'string' },
      type: { type: 'string' },
      status: { type: 'string', enum: [...ID_TOKEN_STATUSES] },
      groupId: nullable('string'),
      expiryDate: nullable('string', { format: 'date-time' }),
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
    },
  },
};

const tokenParams = { type: 'object', required: ['idToken'], additionalProperties: false, properties: { idToken: idTokenString } };

interface TokenBody {
  idToken?: string;
  type?: string;
  status: string;
  groupId?: string | null;
  expiryDate?: string | null;
}

export function idTokenRoutes(deps: IdTokenDeps): RouteSpec[] {
  const { db, clock } = deps;
  const now = () => clock.now().toISOString();
  const fields = (b: TokenBody) => ({
    type: b.type ?? 'ISO14443',
    status: b.status,
    group_id: b.groupId ?? null,
    expiry_date: b.expiryDate ? new Date(b.expiryDate).toISOString() : null,
  });
  const find = (idToken: string) => db.selectFrom('id_tokens').selectAll().where('id_token', '=', idToken).executeTakeFirst();

  return [
    {
      method: 'GET',
      url: '/api/v1/id-tokens',
      operationId: 'listIdTokens',
      summary: 'List id tokens, ordered by token',
      tag: 'Id tokens',
      scope: 'read',
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: [...ID_TOKEN_STATUSES] },
            groupId: { type: 'string', minLength: 1, maxLength: 36 },
            q: { type: 'string', minLength: 1, maxLength: 36, description: 'Case-insensitive substring of the token.' },
            ...paginationProps,
          },
        },
      },
      responses: { 200: { description: 'A page of id tokens.', schema: pageSchema('#/components/schemas/IdToken'), headers: linkHeaderDoc } },
      async handler(req, reply) {
        const q = req.query as { status?: string; groupId?: string; q?: string };
        const page = pageOf(req.query);
        let base = db.selectFrom('id_tokens');
        if (q.status) base = base.where('status', '=', q.status);
        if (q.groupId) base = base.where('group_id', '=', q.groupId);
        if (q.q) base = base.where(sql<boolean>`lower(${sql.ref('id_token')}) like ${likePattern(q.q)} escape '\\'`);
        const [rows, count] = await Promise.all([
          base.selectAll().orderBy('id_token').limit(page.limit).offset(page.offset).execute(),
          base.select(sql<number | string>`count(*)`.as('n')).executeTakeFirst(),
        ]);
        return sendPage(req, reply, rows.map(idTokenView), Number(count?.n ?? 0), page);
      },
    },
    {
      method: 'GET',
      url: '/api/v1/id-tokens/:idToken',
      operationId: 'getIdToken',
      summary: 'Get an id token',
      tag: 'Id tokens',
      scope: 'read',
      schema: { params: tokenParams },
      responses: { 200: { description: 'The id token.', schema: ref('IdToken') } },
      errors: [404],
      async handler(req) {
        const { idToken } = req.params as { idToken: string };
        const row = await find(idToken);
        if (!row) throw new ApiError('UnknownIdToken', `Unknown id token '${idToken}'`);
        return idTokenView(row);
      },
    },
    {
      method: 'POST',
      url: '/api/v1/id-tokens',
      operationId: 'createIdToken',
      summary: 'Create an id token',
      tag: 'Id tokens',
      scope: 'admin',
      schema: {
        body: { type: 'object', required: ['idToken', 'status'], additionalProperties: false, properties: { idToken: idTokenString, ...writable } },
      },
      responses: { 201: { description: 'Created.', schema: ref('IdToken') } },
      errors: [409],
      async handler(req, reply) {
        const b = req.body as TokenBody & { idToken: string };
        const t = now();
        const inserted = await db
          .insertInto('id_tokens')
          .values({ id_token: b.idToken, ...fields(b), parent_id_tag: null, created_at: t, updated_at: t })
          .onConflict((oc) => oc.column('id_token').doNothing())
          .returningAll()
          .executeTakeFirst();
        if (!inserted) throw new ApiError('AlreadyExists', `Id token '${b.idToken}' already exists (use PUT to replace it)`);
        reply.code(201).header('location', `/api/v1/id-tokens/${encodeURIComponent(b.idToken)}`);
        return idTokenView(inserted);
      },
    },
    {
      method: 'PUT',
      url: '/api/v1/id-tokens/:idToken',
      operationId: 'putIdToken',
      summary: 'Create or replace an id token',
      description: 'Fields left out are reset to their defaults (type ISO14443, no group, no expiry).',
      tag: 'Id tokens',
      scope: 'admin',
      schema: { params: tokenParams, body: { type: 'object', required: ['status'], additionalProperties: false, properties: writable } },
      responses: { 200: { description: 'Replaced.', schema: ref('IdToken') }, 201: { description: 'Created.', schema: ref('IdToken') } },
      async handler(req, reply) {
        const { idToken } = req.params as { idToken: string };
        const b = req.body as TokenBody;
        const t = now();
        const existed = (await find(idToken)) !== undefined;
        const row = await db
          .insertInto('id_tokens')
          .values({ id_token: idToken, ...fields(b), parent_id_tag: null, created_at: t, updated_at: t })
          .onConflict((oc) => oc.column('id_token').doUpdateSet({ ...fields(b), updated_at: t }))
          .returningAll()
          .executeTakeFirstOrThrow();
        reply.code(existed ? 200 : 201);
        return idTokenView(row);
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/id-tokens/:idToken',
      operationId: 'deleteIdToken',
      summary: 'Delete an id token',
      description: 'The token is then unknown: whether it authorizes follows AMPLINE_UNKNOWN_TOKENS.',
      tag: 'Id tokens',
      scope: 'admin',
      schema: { params: tokenParams },
      responses: { 204: { description: 'Deleted.' } },
      errors: [404],
      async handler(req, reply) {
        const { idToken } = req.params as { idToken: string };
        const res = await db.deleteFrom('id_tokens').where('id_token', '=', idToken).executeTakeFirst();
        if (Number(res.numDeletedRows) === 0) throw new ApiError('UnknownIdToken', `Unknown id token '${idToken}'`);
        return reply.code(204).send();
      },
    },
  ];
}
