/**
 * `/api/v1`: the management API (resources, smart charging, id tokens, commands, API keys) and its OpenAPI document at
 * /docs. One encapsulated Fastify plugin: its Ajv settings, hooks and error wording apply to these
 * routes only; errors go through the shared catalogue (src/api/errors.ts) via the app's error handler.
 */
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.js';
import type { CommandService } from '../../services/commands.js';
import type { SmartChargingService } from '../../services/smart-charging.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';
import { ApiError } from '../errors.js';
import { ApiKeyAuth } from './auth.js';
import { apiKeyComponents, apiKeyRoutes } from './api-keys.js';
import { commandComponents, commandRoutes } from './commands.js';
import { chargingProfileComponents, chargingProfileRoutes } from './charging-profiles.js';
import { idTokenComponents, idTokenRoutes } from './id-tokens.js';
import { resourceComponents, resourceRoutes } from './resources.js';
import { scspComponents, scspRoutes } from './scsp.js';
import { outboxComponents, outboxRoutes } from './outbox.js';
import type { ScspLink } from '../../scsp-link/index.js';
import { ocpiComponents, ocpiRoutes } from './ocpi.js';
import type { OcpiNode } from '../../ocpi/node.js';
import { type RouteSpec, installValidation } from './http.js';
import { buildOpenApi, registerDocs } from './openapi.js';

export interface ApiV1Deps {
  db: Kysely<Database>;
  commands: CommandService;
  /** Smart charging: charging profiles, the installed-profile shadow, composite schedules. */
  smart: SmartChargingService;
  clock: Clock;
  log: Logger;
  /** API-key authentication shared by every management API (bootstrap key + stored scoped keys). */
  keys: ApiKeyAuth;
  /** Default bound on a synchronous command's wait. */
  timeoutMs: number;
  /** Callback retry delays (tests); default 1 s, 3 s. */
  callbackBackoffMs?: readonly number[];
  /** SCSP partners and pairing (late-bound: the composition root builds the link after the API). */
  scsp: () => ScspLink;
  /** OCPI 2.2.1 partners (src/ocpi); the routes are left out when absent. */
  ocpi?: () => OcpiNode;
}

function packageVersion(): string {
  try {
    return (createRequire(import.meta.url)('../../../package.json') as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function apiV1Routes(deps: ApiV1Deps, auth: ApiKeyAuth) {
  const commands = commandRoutes({
    db: deps.db,
    commands: deps.commands,
    smart: deps.smart,
    clock: deps.clock,
    log: deps.log,
    timeoutMs: deps.timeoutMs,
    ...(deps.callbackBackoffMs ? { callbackBackoffMs: deps.callbackBackoffMs } : {}),
  });
  const routes: RouteSpec[] = [
    ...resourceRoutes({ db: deps.db }),
    ...chargingProfileRoutes({ db: deps.db, commands: deps.commands, smart: deps.smart, log: deps.log, timeoutMs: deps.timeoutMs }),
    ...idTokenRoutes({ db: deps.db, clock: deps.clock }),
    ...commands.routes,
    ...apiKeyRoutes({ db: deps.db, auth }),
    ...scspRoutes({ db: deps.db, scsp: deps.scsp }),
    ...outboxRoutes({ db: deps.db, clock: deps.clock, wake: (stationId) => deps.scsp().forwarding.forwarder.wake(stationId, { force: true }) }),
    ...(deps.ocpi ? ocpiRoutes({ ocpi: deps.ocpi }) : []),
  ];
  const components = {
    ...resourceComponents,
    ...chargingProfileComponents,
    ...idTokenComponents,
    ...commandComponents,
    ...apiKeyComponents,
    ...scspComponents,
    ...outboxComponents,
    ...(deps.ocpi ? ocpiComponents : {}),
  };
  return { routes, components, commands };
}

export function registerApiV1(http: FastifyInstance, deps: ApiV1Deps): void {
  void http.register(async (app) => {
    installValidation(app);
    // A POST/PUT without a body is an empty object (then `required` says what is missing).
    app.addHook('preValidation', async (req) => {
      if (req.body === undefined && (req.method === 'POST' || req.method === 'PUT')) req.body = {};
    });
    const auth = deps.keys;
    // The app's Fastify logs nothing (logger: false): record unexpected failures here, without headers.
    app.addHook('onError', async (req, _reply, err) => {
      const internal = err instanceof ApiError ? err.code === 'Internal' : (err.statusCode ?? 500) >= 500;
      if (internal) deps.log.error({ err, method: req.method, url: req.url.split('?')[0] }, 'api/v1 request failed');
    });
    const { routes, components, commands } = apiV1Routes(deps, auth);
    for (const r of routes) {
      if (r.docOnly) continue;
      app.route({ method: r.method, url: r.url, schema: r.schema, onRequest: auth.guard(r.scope), handler: r.handler });
    }
    const version = packageVersion();
    registerDocs(app, () => buildOpenApi(routes, { version, components }));
    app.addHook('onClose', async () => commands.close());
  });
}
