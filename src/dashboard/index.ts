/**
 * The live dashboard the CSMS serves at `/` (read-only operational view).
 *
 *   GET /                          the page (static, no data in it)
 *   GET /dashboard/app.js          its one ES module; /dashboard/style.css its styles
 *   GET /dashboard/api/state       the snapshot as JSON (snapshot.ts)            ┐ API key with the
 *   GET /dashboard/api/events      the snapshot as Server-Sent Events (hub.ts)   ┘ `read` scope
 *
 * Authentication: the same keys as /api/v1 (`X-API-Key` or `Authorization: Bearer`), scope `read`. The
 * page asks for a key, keeps it in sessionStorage (gone when the tab closes) and sends it as a header —
 * never in a URL, so it stays out of access logs and browser history; it reads the event stream with
 * fetch() for the same reason (EventSource cannot send headers). There is no unauthenticated mode, not
 * even on loopback: the CSMS listens on 0.0.0.0 by default, and behind a reverse proxy on the same host
 * every request comes from loopback, so "loopback means trusted" would quietly publish the fleet.
 *
 * The static files are three small files read once at start and served from memory by exact path (no
 * file-system lookup per request, so no path traversal to guard against); @fastify/static would add a
 * dependency for no gain here. Every page response carries a strict Content-Security-Policy (same-origin
 * script, style and connect only; no inline script), which together with DOM building through
 * textContent keeps station-supplied strings from ever running as code next to the stored key.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { DomainEvents } from '../services/events.js';
import type { SmartChargingService } from '../services/smart-charging.js';
import type { LoadBalancer } from '../services/load-balancer.js';
import { ApiKeyAuth, scopeAllows } from '../api/v1/auth.js';
import { ApiError } from '../api/errors.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { SnapshotBuilder, type SnapshotOptions } from './snapshot.js';
import { DashboardHub, type HubOptions } from './hub.js';

export type { DashboardSnapshot } from './snapshot.js';

export interface DashboardDeps {
  db: Kysely<Database>;
  events: DomainEvents;
  smart: Pick<SmartChargingService, 'installed' | 'predictComposite'>;
  balancer: Pick<LoadBalancer, 'list'>;
  keys: ApiKeyAuth;
  clock: Clock;
  log: Logger;
  nodeId: string;
  options?: Partial<HubOptions & SnapshotOptions>;
}

export interface Dashboard {
  readonly hub: DashboardHub;
  readonly snapshots: SnapshotBuilder;
  /** Stop streaming and unsubscribe (also done by the server's preClose). */
  close(): void;
}

const STATIC_DIR = new URL('./static/', import.meta.url);

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const STATIC_FILES: ReadonlyArray<{ route: string; file: string; type: string }> = [
  { route: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { route: '/dashboard/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { route: '/dashboard/style.css', file: 'style.css', type: 'text/css; charset=utf-8' },
];

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

export function registerDashboard(http: FastifyInstance, deps: DashboardDeps): Dashboard {
  const snapshots = new SnapshotBuilder({
    db: deps.db,
    smart: deps.smart,
    balancer: deps.balancer,
    clock: deps.clock,
    log: deps.log,
    nodeId: deps.nodeId,
    ...(deps.options ? { options: deps.options } : {}),
  });
  const hub = new DashboardHub({
    build: () => snapshots.build(),
    stillAuthorized: async (key) => {
      try {
        return scopeAllows((await deps.keys.authenticate(key)).scopes, 'read');
      } catch (err) {
        if (err instanceof ApiError) return false;
        throw err;
      }
    },
    log: deps.log,
    ...(deps.options ? { options: deps.options } : {}),
  });
  const unsubscribe = deps.events.subscribe((e) => {
    snapshots.onEvent(e);
    hub.changed();
  });

  for (const f of STATIC_FILES) {
    const body = readFileSync(new URL(f.file, STATIC_DIR));
    http.get(f.route, async (_req, reply) => securityHeaders(reply).header('cache-control', 'no-cache').type(f.type).send(body));
  }
  http.get('/dashboard', async (_req, reply) => reply.redirect('/'));
  http.get('/dashboard/', async (_req, reply) => reply.redirect('/'));

  const read = deps.keys.guard('read');
  http.get('/dashboard/api/state', { onRequest: read }, async (_req, reply) => {
    const b = await hub.current();
    return reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(b.json);
  });
  http.get('/dashboard/api/events', { onRequest: read }, async (req, reply) => {
    if (!hub.canAccept()) {
      return reply
        .code(503)
        .header('retry-after', '10')
        .send({ error: 'TooManyStreams', message: `At most ${hub.options.maxStreams} dashboard streams at a time; try again later` });
    }
    const key = ApiKeyAuth.presentedKey(req) ?? '';
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // The stream ends only when one side goes: no keep-alive reuse after it (lets close() finish at once).
      connection: 'close',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    hub.attach(reply.raw, key);
    return reply;
  });

  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    hub.close();
  };
  http.addHook('preClose', (done) => {
    close();
    done();
  });
  return { hub, snapshots, close };
}
