/**
 * The plumbing every /api/v1 route shares: one route table type (registered with Fastify AND turned into
 * the OpenAPI document, so both use the same schema objects), the Ajv compilers, the validation-error
 * wording, pagination, the row→JSON helpers and the station lookup of `/stations/:id/…` routes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Kysely } from 'kysely';
import type { Database, StationRow } from '../../store/schema.js';
import { ApiError } from '../errors.js';
import type { Scope } from './auth.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export type JsonSchema = Record<string, unknown>;
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface DocResponse {
  description: string;
  /** JSON schema of the body (usually a `$ref` to a component); none for 204. */
  schema?: JsonSchema;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
}

/** One /api/v1 operation: how Fastify serves it and how the OpenAPI document describes it. */
export interface RouteSpec {
  method: HttpMethod;
  /** Fastify path syntax (`/api/v1/stations/:id`). */
  url: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /** Least scope the caller's key needs. */
  scope: Scope;
  /** Validated by Fastify (Ajv) before the handler runs; documented as-is. */
  schema: { params?: JsonSchema; querystring?: JsonSchema; body?: JsonSchema };
  /** Documentation of the success responses (errors are added from `errors`). */
  responses: Record<string, DocResponse>;
  /** Error statuses this route can answer besides 400/401/403 (documented with the Error schema). */
  errors?: number[];
  /** Replaces `schema.body` in the document only (e.g. per-action OCPP payload schemas). */
  docBody?: JsonSchema;
  /** Whether the document marks the body required (default: the body schema has `required` properties). */
  bodyRequired?: boolean;
  /** Leave out of the OpenAPI document (documented through `docOnly` entries instead). */
  hidden?: boolean;
  /** Only documents a concrete instance of a hidden parametric route; not registered with Fastify. */
  docOnly?: boolean;
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

// --- validation -----------------------------------------------------------------------------------

/**
 * Bodies: no type coercion (`"5"` is not an integer), defaults applied, unknown properties rejected
 * (Fastify's default Ajv would silently strip them). Query strings and path parameters are text on the
 * wire, so they are coerced ("50" → 50, "true" → true).
 */
function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: false, coerceTypes: coerce, useDefaults: true, removeAdditional: false });
  addFormats(ajv);
  return ajv;
}

/** Clear messages: `body/evseId: must be integer`, `body: unknown property 'foo'`. */
export function describeValidation(errors: ErrorObject[], dataVar: string): string {
  const e = errors[0];
  if (!e) return `${dataVar}: invalid`;
  const where = `${dataVar}${e.instancePath}`;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${where}: unknown property '${String((e.params as { additionalProperty?: string }).additionalProperty)}'`;
    case 'required':
      return `${where}: missing required property '${String((e.params as { missingProperty?: string }).missingProperty)}'`;
    case 'enum':
      return `${where}: must be one of ${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)}`;
    default:
      return `${where}: ${e.message ?? e.keyword}`;
  }
}

/** Install the compilers and error wording on the /api/v1 plugin scope (not on other APIs). */
export function installValidation(app: FastifyInstance): void {
  const bodyAjv = makeAjv(false);
  const textAjv = makeAjv(true);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema));
  app.setSchemaErrorFormatter((errors, dataVar) => new Error(describeValidation(errors as ErrorObject[], dataVar)));
}

// --- pagination -----------------------------------------------------------------------------------

export const MAX_LIMIT = 500;
export const DEFAULT_LIMIT = 50;

export const paginationProps = {
  limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: `Page size, 1–${MAX_LIMIT}.` },
  offset: { type: 'integer', minimum: 0, maximum: 1_000_000_000, default: 0, description: 'Number of items to skip.' },
} as const;

export interface Page {
  limit: number;
  offset: number;
}

export function pageOf(query: unknown): Page {
  const q = query as { limit?: number; offset?: number };
  return { limit: q.limit ?? DEFAULT_LIMIT, offset: q.offset ?? 0 };
}

/**
 * `{data, total, limit, offset}` plus an RFC 8288 `Link` header (next/prev), as a path relative to the
 * server root with the caller's other query parameters kept.
 */
export function sendPage<T>(req: FastifyRequest, reply: FastifyReply, data: T[], total: number, page: Page): unknown {
  const links: string[] = [];
  const link = (offset: number, rel: string): string => {
    const [path, qs] = req.url.split('?', 2) as [string, string | undefined];
    const params = new URLSearchParams(qs ?? '');
    params.set('limit', String(page.limit));
    params.set('offset', String(offset));
    return `<${path}?${params.toString()}>; rel="${rel}"`;
  };
  if (page.offset + data.length < total) links.push(link(page.offset + page.limit, 'next'));
  if (page.offset > 0) links.push(link(Math.max(0, page.offset - page.limit), 'prev'));
  if (links.length) reply.header('link', links.join(', '));
  return { data, total, limit: page.limit, offset: page.offset };
}

export const linkHeaderDoc = {
  link: { description: 'RFC 8288 links to the next and previous pages (`rel="next"`, `rel="prev"`), when there are any.', schema: { type: 'string' } },
};

/** A paginated response schema for items of `itemRef`. */
export function pageSchema(itemRef: string): JsonSchema {
  return {
    type: 'object',
    required: ['data', 'total', 'limit', 'offset'],
    properties: {
      data: { type: 'array', items: { $ref: itemRef } },
      total: { type: 'integer', minimum: 0, description: 'Number of items matching the filters (all pages).' },
      limit: { type: 'integer' },
      offset: { type: 'integer' },
    },
  };
}

// --- small helpers --------------------------------------------------------------------------------

/** `lower(column) LIKE %q%` pattern with LIKE wildcards escaped (used with `escape '\'`). */
export function likePattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/**
 * The station of a `/stations/:id/…` route: its `:id` path parameter, looked up in the store (404
 * `UnknownStation` when Ampline does not know it). No station call: offline stations are found too.
 */
export async function stationOr404(db: Kysely<Database>, req: FastifyRequest): Promise<StationRow> {
  const { id } = req.params as { id: string };
  const row = await db.selectFrom('stations').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new ApiError('UnknownStation', `Unknown charging station '${id}'`);
  return row;
}

/** `{ type: [t, 'null'] }` (JSON Schema 2020-12 / OpenAPI 3.1 style nullability). */
export const nullable = (type: string, extra: JsonSchema = {}): JsonSchema => ({ type: [type, 'null'], ...extra });
