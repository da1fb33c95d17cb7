/**
 * The OpenAPI 3.1 document of /api/v1, built from the same route table Fastify serves (the `schema`
 * objects its Ajv validates with) and, for OCPP payloads, from the OCA schemas `validatePayload` compiles:
 * each request/response becomes a component (`ocpp16.ResetRequest`, `ocpp201.ResetRequest`), their
 * shared `definitions` become components too (`ocpp201.IdTokenType`) and `#/definitions/X` refs are
 * rewritten to them. 3.1 because its schema objects are plain JSON Schema, as the OCA schemas are.
 *
 * Served at GET /docs/openapi.json, with Swagger UI (assets from the `swagger-ui-dist` package) at /docs.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { API_ERRORS, type ApiErrorCode } from '../errors.js';
import { PROTOCOLS } from '../../ocpp/protocol.js';
import { CSMS_ACTIONS, OCA_SCHEMAS, VERSION_TAG } from './actions.js';
import type { JsonSchema, RouteSpec } from './http.js';

type Json = Record<string, unknown>;

const REF_PREFIX = '#/components/schemas/';

/** Deep copy with `#/definitions/X` → `#/components/schemas/<tag>.X`, `$schema`/`$id` dropped. */
function rewriteOca(node: unknown, tag: string, seen: Set<string>): unknown {
  if (Array.isArray(node)) return node.map((n) => rewriteOca(n, tag, seen));
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node as Json)) {
    if (k === '$schema' || k === '$id' || k === 'definitions') continue;
    if (k === '$ref' && typeof v === 'string') {
      const m = /^#\/definitions\/(.+)$/.exec(v);
      if (!m) throw new Error(`unexpected $ref ${v} in an OCA schema`);
      seen.add(m[1]!);
      out.$ref = `${REF_PREFIX}${tag}.${m[1]}`;
      continue;
    }
    // `properties` maps names to schemas: keep the names, rewrite the values.
    out[k] = k === 'properties' && v && typeof v === 'object' ? Object.fromEntries(Object.entries(v as Json).map(([pk, pv]) => [pk, rewriteOca(pv, tag, seen)])) : rewriteOca(v, tag, seen);
  }
  return out;
}

/**
 * OCA components: every request and response of the CSMS-initiated actions of both versions, and every
 * definition they (or `extraRefs`, e.g. `ocpp201.ChargingProfileType`) use, transitively.
 */
export function ocaComponents(extraRefs: Iterable<string> = []): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const protocol of PROTOCOLS) {
    const tag = VERSION_TAG[protocol];
    const schemas = OCA_SCHEMAS[protocol];
    // typed-ocpp gives every file the version's whole definitions set; merge them, refusing conflicts.
    const defs = new Map<string, unknown>();
    for (const s of Object.values(schemas)) {
      for (const [name, def] of Object.entries(((s as Json).definitions ?? {}) as Json)) {
        const prev = defs.get(name);
        if (prev !== undefined && JSON.stringify(prev) !== JSON.stringify(def)) throw new Error(`${tag}: conflicting definitions of ${name}`);
        defs.set(name, def);
      }
    }
    const wanted = new Set<string>();
    for (const action of CSMS_ACTIONS[protocol]) {
      for (const dir of ['Request', 'Response'] as const) {
        const schema = schemas[`${action}${dir}`];
        if (schema) out[`${tag}.${action}${dir}`] = rewriteOca(schema, tag, wanted) as JsonSchema;
      }
    }
    for (const r of extraRefs) if (r.startsWith(`${tag}.`)) wanted.add(r.slice(tag.length + 1));
    const done = new Set<string>();
    while (wanted.size > done.size) {
      for (const name of [...wanted]) {
        if (done.has(name)) continue;
        done.add(name);
        const key = `${tag}.${name}`;
        if (out[key]) throw new Error(`component name clash: ${key}`);
        const def = defs.get(name);
        if (def === undefined) throw new Error(`${tag}: unknown definition ${name}`);
        out[key] = rewriteOca(def, tag, wanted) as JsonSchema;
      }
    }
  }
  return out;
}

/** Every `$ref` string in a JSON tree. */
export function collectRefs(node: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => collectRefs(n, into));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node as Json)) {
      if (k === '$ref' && typeof v === 'string') into.add(v);
      else collectRefs(v, into);
    }
  }
  return into;
}

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error', 'message'],
  description:
    'Every error has this shape; some add details (e.g. `errorCode`/`errorDescription` for ChargerCallError, `requiredScope` for Forbidden, ' +
    '`violations` for ProfileRejected, `protocol`/`operation` for NotSupportedByProtocol).',
  properties: {
    error: { type: 'string', enum: Object.keys(API_ERRORS), description: 'Stable error code.' },
    message: { type: 'string', description: 'Human-readable explanation.' },
    violations: {
      type: 'array',
      description: 'ProfileRejected: every rule the request breaks (nothing was sent to the station).',
      items: {
        type: 'object',
        required: ['code', 'requirement', 'path', 'detail'],
        properties: {
          code: { type: 'string', description: 'Stable violation code, e.g. FirstPeriodNotZero, StackLevelOutOfRange, NoActiveTransaction.' },
          requirement: { type: 'string', description: 'The OCPP requirement for the station\'s version, e.g. K01.FR.31 or "1.6 §3.13".' },
          path: { type: 'string', description: 'The offending field in the profile, e.g. chargingSchedule[0].chargingSchedulePeriod[0].startPeriod.' },
          detail: { type: 'string' },
        },
      },
    },
  },
};

/** The catalogue codes /api/v1 answers with, per status (the Error schema lists every code). */
const V1_ERRORS: Record<number, ApiErrorCode[]> = {
  400: ['BadRequest', 'InvalidOcppRequest'],
  401: ['Unauthorized'],
  403: ['Forbidden'],
  404: ['UnknownStation', 'UnknownTransaction', 'UnknownIdToken', 'UnknownChargingProfile', 'UnknownCommand', 'NotFound'],
  409: ['StationOffline', 'AlreadyExists', 'NotSupportedByProtocol'],
  422: ['ProfileRejected'],
  424: ['NoOpenTransaction'],
  502: ['ChargerCallError', 'ChargerInvalidResponse'],
  504: ['Timeout'],
};

function errorResponse(status: number): Json {
  const codes = V1_ERRORS[status] ?? Object.entries(API_ERRORS).filter(([, s]) => s === status).map(([c]) => c as ApiErrorCode);
  return {
    description: `Error: ${codes.join(', ')}.`,
    content: { 'application/json': { schema: { $ref: `${REF_PREFIX}Error` }, example: { error: codes[0], message: '…' } } },
  };
}

function stripDescription(s: JsonSchema): { schema: JsonSchema; description?: string } {
  const { description, ...schema } = s as JsonSchema & { description?: string };
  return description === undefined ? { schema } : { schema, description };
}

function parametersOf(route: RouteSpec): Json[] {
  const params: Json[] = [];
  for (const [part, where] of [
    ['params', 'path'],
    ['querystring', 'query'],
  ] as const) {
    const s = route.schema[part] as { properties?: Record<string, JsonSchema>; required?: string[] } | undefined;
    for (const [name, prop] of Object.entries(s?.properties ?? {})) {
      const { schema, description } = stripDescription(prop);
      params.push({ name, in: where, required: where === 'path' || (s?.required ?? []).includes(name), ...(description ? { description } : {}), schema });
    }
  }
  return params;
}

export interface OpenApiInfo {
  version: string;
  /** Extra component schemas (resource shapes). */
  components: Record<string, JsonSchema>;
}

export function buildOpenApi(routes: readonly RouteSpec[], info: OpenApiInfo): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    if (route.hidden) continue;
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const responses: Json = {};
    for (const [status, r] of Object.entries(route.responses)) {
      responses[status] = {
        description: r.description,
        ...(r.headers ? { headers: r.headers } : {}),
        ...(r.schema ? { content: { 'application/json': { schema: r.schema } } } : {}),
      };
    }
    for (const status of [400, 401, 403, ...(route.errors ?? [])]) responses[String(status)] ??= errorResponse(status);
    const body = route.docBody ?? route.schema.body;
    const op: Json = {
      operationId: route.operationId,
      summary: route.summary,
      description: `${route.description ? `${route.description}\n\n` : ''}Requires an API key with scope \`${route.scope}\` (or a broader one).`,
      tags: [route.tag],
      'x-required-scope': route.scope,
      parameters: parametersOf(route),
      ...(body
        ? {
            requestBody: {
              required: route.bodyRequired ?? (Array.isArray((body as { required?: unknown }).required) && (body as { required: unknown[] }).required.length > 0),
              content: { 'application/json': { schema: body } },
            },
          }
        : {}),
      responses,
    };
    (paths[path] ??= {})[route.method.toLowerCase()] = op;
  }

  const own: Record<string, JsonSchema> = { Error: ERROR_SCHEMA, ...info.components };
  // OCA definitions my own components point at (e.g. ocpp201.ChargingProfileType) are pulled in too.
  const extra = [...collectRefs(own)].filter((r) => r.startsWith(`${REF_PREFIX}ocpp`)).map((r) => r.slice(REF_PREFIX.length));
  const schemas = { ...own, ...ocaComponents(extra) };

  return {
    openapi: '3.1.0',
    info: {
      title: 'Ampline CSMS management API',
      version: info.version,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      description: DESCRIPTION,
    },
    servers: [{ url: '/' }],
    security: [{ apiKeyHeader: [] }, { bearer: [] }],
    tags: [
      { name: 'Stations', description: 'Charging stations, EVSEs, connectors, event log.' },
      { name: 'Transactions', description: 'Charging sessions and their meter values.' },
      { name: 'Id tokens', description: 'The tokens the CSMS authorizes against.' },
      {
        name: 'Smart charging',
        description: 'Charging profiles (checked against OCPP K01 before anything is sent), the installed-profile shadow, composite schedules.',
      },
      { name: 'Commands (version-neutral)', description: 'One meaning in both versions; Ampline picks the action and payload.' },
      { name: 'Commands', description: 'Every CSMS-initiated OCPP action, payload in the station\'s version (OCA schemas below).' },
      { name: 'API keys', description: 'Keys with scopes read, command, admin.' },
    ],
    paths,
    components: {
      securitySchemes: {
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        bearer: { type: 'http', scheme: 'bearer', description: 'The same API key as a bearer token.' },
      },
      schemas,
    },
  };
}

const DESCRIPTION = `Manage charging stations (OCPP 1.6J and 2.0.1) connected to this Ampline CSMS.

**Authentication.** \`X-API-Key: <key>\` or \`Authorization: Bearer <key>\`. The configured \`AMPLINE_API_KEY\` is an admin key;
more keys come from \`POST /api/v1/api-keys\`. Scopes: \`read\` (GET) ⊂ \`command\` (send commands) ⊂ \`admin\` (keys, id tokens).
401 for a missing/unknown/revoked key, 403 for a missing scope.

**Errors.** Always JSON \`{"error": CODE, "message": "..."}\` (see the Error schema for the codes); unknown properties,
wrong types and out-of-range values are 400 \`BadRequest\`.

**Lists.** \`limit\` (1–500, default 50) and \`offset\`; answers \`{data, total, limit, offset}\` with a \`Link\` header
(\`rel="next"\`/\`rel="prev"\`).

**Commands.** Synchronous by default: 200 \`{status: "Answered", response}\` with the station's own answer; 504 \`Timeout\`,
502 \`ChargerCallError\` (with \`errorCode\`), 409 \`StationOffline\`, 404 \`UnknownStation\`. With \`callbackUrl\`: 202
\`{commandId}\` at once, then the CommandResult is POSTed to the URL (JSON, 10 s per try, 3 tries with backoff) and can be
read at \`GET /api/v1/commands/{commandId}\`.

**Smart charging.** Charging profiles are JSON in one version-neutral model (OCPP 2.0.1 ChargingProfileType plus \`evseId\`).
They are checked before sending (OCPP 2.0.1 K01, the 1.6 equivalents, the station's capabilities and installed profiles): a
violation is 422 \`ProfileRejected\` with \`violations\`, and nothing goes to the station.`;

// --- serving --------------------------------------------------------------------------------------

const UI_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

function swaggerUiDir(): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  } catch {
    return undefined;
  }
}

const INIT_JS = `window.ui = SwaggerUIBundle({
  url: '/docs/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  defaultModelsExpandDepth: 0,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'";

/** GET /docs (Swagger UI, or a plain page linking the JSON when the UI package is missing) and /docs/openapi.json. */
export function registerDocs(app: FastifyInstance, document: () => Json): void {
  let json: string | undefined;
  app.get('/docs/openapi.json', async (_req, reply) => {
    json ??= JSON.stringify(document());
    reply.type('application/json; charset=utf-8').header('cache-control', 'no-cache');
    return json;
  });

  const dir = swaggerUiDir();
  const cache = new Map<string, Buffer>();
  app.get('/docs', async (_req, reply) => {
    reply.type('text/html; charset=utf-8').header('content-security-policy', CSP);
    if (!dir) {
      return `<!doctype html><meta charset="utf-8"><title>Ampline API</title><h1>Ampline CSMS management API</h1>
<p>OpenAPI 3.1 document: <a href="/docs/openapi.json">/docs/openapi.json</a></p>`;
    }
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ampline CSMS management API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"><link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div><noscript><p>OpenAPI document: <a href="/docs/openapi.json">/docs/openapi.json</a></p></noscript>
<script src="/docs/assets/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body></html>`;
  });
  app.get('/docs/', async (_req, reply) => reply.redirect('/docs', 301));
  app.get('/docs/init.js', async (_req, reply) => {
    reply.type('text/javascript; charset=utf-8');
    return INIT_JS;
  });
  app.get('/docs/assets/:file', async (req, reply) => {
    const { file } = req.params as { file: string };
    const type = UI_FILES[file];
    if (!dir || !type) return reply.code(404).send({ error: 'NotFound', message: `No such documentation asset '${file}'` });
    let buf = cache.get(file);
    if (!buf) cache.set(file, (buf = readFileSync(join(dir, file))));
    reply.type(type).header('cache-control', 'public, max-age=86400');
    return buf;
  });
}
