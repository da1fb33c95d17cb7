/** API-key management (admin scope). The key itself is returned once, at creation; never a hash. */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../store/schema.js';
import { ApiError } from '../errors.js';
import { ApiKeyAuth, SCOPES, apiKeyView } from './auth.js';
import { type JsonSchema, type RouteSpec, linkHeaderDoc, nullable, pageOf, pageSchema, paginationProps, ref, sendPage } from './http.js';

export const apiKeyComponents: Record<string, JsonSchema> = {
  ApiKey: {
    type: 'object',
    required: ['id', 'name', 'prefix', 'scopes', 'createdAt'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      name: { type: 'string' },
      prefix: { type: 'string', description: 'The first characters of the key, to recognise it.' },
      scopes: { type: 'array', items: { type: 'string', enum: [...SCOPES] } },
      createdAt: { type: 'string', format: 'date-time' },
      createdBy: nullable('string', { description: "Id of the key that created it ('bootstrap': AMPLINE_API_KEY)." }),
      lastUsedAt: nullable('string', { format: 'date-time', description: 'Updated at most once a minute.' }),
      revokedAt: nullable('string', { format: 'date-time' }),
    },
  },
  ApiKeyCreated: {
    allOf: [
      ref('ApiKey'),
      { type: 'object', required: ['key'], properties: { key: { type: 'string', description: 'The API key. Shown only now: Ampline stores only its hash.' } } },
    ],
  },
};

const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } };

export function apiKeyRoutes(deps: { db: Kysely<Database>; auth: ApiKeyAuth }): RouteSpec[] {
  const { db, auth } = deps;
  return [
    {
      method: 'POST',
      url: '/api/v1/api-keys',
      operationId: 'createApiKey',
      summary: 'Create an API key',
      description: 'Scopes: `read` (GET resources), `command` (send commands; includes read), `admin` (manage keys and id tokens; includes all).',
      tag: 'API keys',
      scope: 'admin',
      schema: {
        body: {
          type: 'object',
          required: ['name', 'scopes'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            scopes: { type: 'array', minItems: 1, maxItems: SCOPES.length, uniqueItems: true, items: { type: 'string', enum: [...SCOPES] } },
          },
        },
      },
      responses: { 201: { description: 'Created; the body holds the key, shown this once.', schema: ref('ApiKeyCreated') } },
      async handler(req, reply) {
        const b = req.body as { name: string; scopes: Array<(typeof SCOPES)[number]> };
        const creator = ApiKeyAuth.principalOf(req)?.keyId ?? 'unknown';
        const { view, key } = await auth.create(b.name, b.scopes, creator);
        reply.code(201).header('location', `/api/v1/api-keys/${view.id}`).header('cache-control', 'no-store');
        return { ...view, key };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/api-keys',
      operationId: 'listApiKeys',
      summary: 'List API keys (never the keys or their hashes)',
      tag: 'API keys',
      scope: 'admin',
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { revoked: { type: 'boolean', description: 'Only revoked (true) or only usable (false) keys.' }, ...paginationProps },
        },
      },
      responses: { 200: { description: 'A page of keys, oldest first.', schema: pageSchema('#/components/schemas/ApiKey'), headers: linkHeaderDoc } },
      async handler(req, reply) {
        const q = req.query as { revoked?: boolean };
        const page = pageOf(req.query);
        let base = db.selectFrom('api_keys');
        if (q.revoked !== undefined) base = base.where('revoked_at', q.revoked ? 'is not' : 'is', null);
        const [rows, count] = await Promise.all([
          base.selectAll().orderBy('created_at').orderBy('id').limit(page.limit).offset(page.offset).execute(),
          base.select(sql<number | string>`count(*)`.as('n')).executeTakeFirst(),
        ]);
        return sendPage(req, reply, rows.map(apiKeyView), Number(count?.n ?? 0), page);
      },
    },
    {
      method: 'GET',
      url: '/api/v1/api-keys/:id',
      operationId: 'getApiKey',
      summary: 'Get an API key (never the key or its hash)',
      tag: 'API keys',
      scope: 'admin',
      schema: { params: idParams },
      responses: { 200: { description: 'The key.', schema: ref('ApiKey') } },
      errors: [404],
      async handler(req) {
        const { id } = req.params as { id: string };
        const row = await db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
        if (!row) throw new ApiError('NotFound', `Unknown API key '${id}'`);
        return apiKeyView(row);
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/api-keys/:id',
      operationId: 'revokeApiKey',
      summary: 'Revoke an API key',
      description: 'Takes effect on the next request. Idempotent. The bootstrap key (AMPLINE_API_KEY) is configuration, not a row: change it there.',
      tag: 'API keys',
      scope: 'admin',
      schema: { params: idParams },
      responses: { 204: { description: 'Revoked.' } },
      errors: [404],
      async handler(req, reply) {
        const { id } = req.params as { id: string };
        if (!(await auth.revoke(id))) throw new ApiError('NotFound', `Unknown API key '${id}'`);
        return reply.code(204).send();
      },
    },
  ];
}
