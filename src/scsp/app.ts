/**
 * The SCSP composition root: one hand-written place that builds every part of the smart charging
 * service from the configuration and wires them. `startScsp` returns a running instance; tests start as
 * many as they like (port 0, a temporary data directory each).
 *
 * The SCSP meets CPOs (Ampline's CSMS or a foreign one) only over HTTP. It imports no CSMS internals;
 * it shares only pure libraries (OCPP schemas, meter-value normalisation, units, clock, logging).
 *
 * ```
 *  CPO ──POST /oauth/token──────────────► oauth.ts (TokenService)           ◄── cpos.ts (registry)
 *  CPO ──/v1/scsp/{pp}/pair, unpair─────► routes-partner.ts ─► pairing.ts
 *  CPO ──/v1/scsp/…/events/{pp}/{Action}► routes-partner.ts ─► ingest.ts ─► sessions.ts
 *                                                                   │ touch(station)
 *                                                                   ▼
 *                       prices.ts, preferences ─► driver.ts ─► planner.ts (Planner port)
 *                                                     │ station plan
 *                                                     ▼
 *  CPO ◄─POST /v1/cpo/…/SetChargingProfile── sender.ts ◄─ delivery.ts (lanes, retries)
 *  operator ──/api/v1/...──► routes-admin.ts, routes-ocpi.ts
 *
 *  OCPI 2.2.1 (src/ocpi/scsp/, role SCSP, per CPO record with `ocpiPartnerId`):
 *  CPO ──PUT/PATCH /ocpi/2.2.1/sessions/{cc}/{pid}/{id}──► sessions.ts ─► sessions.ts (SCSP) ─► touch
 *  CPO ◄─PUT {chargingprofiles}/{session_id}── profile-sender.ts ◄─ delivery.ts   (profileRoute `ocpi`)
 *  CPO ──POST /ocpi/2.2.1/chargingprofiles/results/{request}, PUT …/{session_id}──► chargingprofiles.ts
 * ```
 *
 * The profile route is chosen per CPO record (`profileRoute`, sender.ts `ProfileRouter`), unless a
 * test gives one `sender` for all.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { warmValidators } from '../ocpp/schemas.js';
import { type Clock, systemClock } from '../util/clock.js';
import { type Logger, createLogger } from '../util/log.js';
import type { ScspConfig } from './config.js';
import { type ScspDb, openScspDb } from './store.js';
import { CpoRegistry, loadCposFile } from './cpos.js';
import { TokenService, registerTokenEndpoint } from './oauth.js';
import { CpoClient } from './cpo-client.js';
import { PairingService } from './pairing.js';
import { SessionStore } from './sessions.js';
import { PreferenceStore } from './preference-store.js';
import { SiteRegistry } from './sites.js';
import { AsapPlanner, type Planner } from './planner.js';
import { type PriceSource, loadPricesFile, noPrices, sampleDayPath } from './prices.js';
import { OptimiserPlanner } from './optimiser-planner.js';
import { OcppFormatSender, ProfileRouter, type ProfileSender } from './sender.js';
import { ProfileDelivery } from './delivery.js';
import { OptimisationDriver } from './driver.js';
import { WorkTracker } from './work.js';
import { type ScspMetrics, createScspMetrics } from './metrics.js';
import { registerPartnerRoutes } from './routes-partner.js';
import { registerAdminRoutes } from './routes-admin.js';
import { registerOcpiAdminRoutes } from './routes-ocpi.js';
import { registerScspOcpi } from '../ocpi/scsp.js';
import type { OcpiNode } from '../ocpi/node.js';
import { OcpiProfileSender, type OcpiProfileSenderOptions, OcpiScspStore, ResultWaiters, createScspOcpiModules, ocpiLinkWarnings } from '../ocpi/scsp/index.js';

export interface ScspDeps {
  log?: Logger;
  clock?: Clock;
  /** The planner (default: the built-in {@link AsapPlanner}; the optimiser plugs in here). */
  planner?: Planner;
  /** Energy prices (default: AMPLINE_SCSP_PRICES_FILE, else none). */
  prices?: PriceSource;
  /** How plans reach every CPO (default: per CPO record, `profileRoute`: OCPP-format or OCPI). */
  sender?: ProfileSender;
  /** Bounds of the OCPI profile route (waiting for async results …); defaults in profile-sender.ts. */
  ocpiProfiles?: Pick<OcpiProfileSenderOptions, 'resultWaitMaxMs' | 'resultWaitMarginMs' | 'defaultTimeoutS' | 'requestTtlMs'>;
  /** fetch for outgoing calls (tests). */
  fetch?: typeof fetch;
  /** Collect Node process metrics too (off in tests: one registry per instance). */
  processMetrics?: boolean;
  /** Compile the OCPP validators before listening (production). */
  warmValidators?: boolean;
  /** Jitter source of delivery retries (tests). */
  random?: () => number;
  /** Housekeeping interval (purge of expired tokens, codes, old events); default 15 min. */
  housekeepingMs?: number;
}

export interface Scsp {
  readonly config: ScspConfig;
  /** http://host:port of the running server. */
  readonly url: string;
  readonly port: number;
  /** `${publicUrl ?? url}/oauth/token`. */
  readonly tokenUrl: string;
  readonly db: ScspDb;
  readonly http: FastifyInstance;
  readonly cpos: CpoRegistry;
  readonly tokens: TokenService;
  readonly pairing: PairingService;
  readonly sessions: SessionStore;
  readonly preferences: PreferenceStore;
  readonly sites: SiteRegistry;
  readonly delivery: ProfileDelivery;
  readonly driver: OptimisationDriver;
  readonly metrics: ScspMetrics;
  /** OCPI 2.2.1 (SCSP role): `/ocpi/...`, partners, the typed client. */
  readonly ocpi: OcpiNode;
  /** Received OCPI Sessions and ChargingProfiles requests. */
  readonly ocpiStore: OcpiScspStore;
  /** The `ocpi` profile route. */
  readonly ocpiSender: OcpiProfileSender;
  /** Resolves when no planning run, delivery or retry timer is outstanding. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export async function startScsp(config: ScspConfig, deps: ScspDeps = {}): Promise<Scsp> {
  const log = deps.log ?? createLogger({ level: config.logLevel, name: 'ampline-scsp' });
  const clock = deps.clock ?? systemClock;
  const metrics = createScspMetrics({ defaultMetrics: deps.processMetrics ?? false });
  if (deps.warmValidators) warmValidators();

  const db = await openScspDb({ dataDir: config.dataDir });
  const cpos = new CpoRegistry({ db: db.kysely, clock });
  if (config.cposFile) {
    const list = loadCposFile(config.cposFile);
    for (const c of list) await cpos.upsert(c);
    log.info({ file: config.cposFile, count: list.length }, 'CPO clients loaded');
  }
  const tokens = new TokenService({ db: db.kysely, clock, ttlS: config.tokenTtlS });
  const client = new CpoClient({ ...(deps.fetch ? { fetch: deps.fetch } : {}), timeoutMs: config.delivery.timeoutMs });
  const work = new WorkTracker();
  const sessions = new SessionStore({ db: db.kysely, clock });
  const preferences = new PreferenceStore({ db: db.kysely, clock });
  const sites = new SiteRegistry({ db: db.kysely, clock });
  const ocpiStore = new OcpiScspStore(db.kysely);
  const waiters = new ResultWaiters();
  let ocpi!: OcpiNode;
  const ocpiSender = new OcpiProfileSender({ node: () => ocpi, store: ocpiStore, waiters, clock, log: log.child({ component: 'ocpi-profiles' }), work, ...deps.ocpiProfiles });
  const router = new ProfileRouter({ 'ocpp-format': new OcppFormatSender({ client }), ocpi: ocpiSender });
  const sender = deps.sender ?? router.get('ocpp-format')!;
  const delivery = new ProfileDelivery({
    db: db.kysely,
    clock,
    log,
    sender,
    ...(deps.sender ? {} : { senderFor: (t: Parameters<ProfileRouter['for']>[0]) => router.for(t) }),
    metrics,
    config: config.delivery,
    work,
    ...(deps.random ? { random: deps.random } : {}),
  });
  await delivery.abandonLeftovers();
  const prices =
    deps.prices ?? (config.pricesFile ? loadPricesFile(config.pricesFile === 'sample' ? sampleDayPath() : config.pricesFile, { replay: config.pricesReplay }) : noPrices);
  const planner = deps.planner ?? (config.planner === 'asap' ? new AsapPlanner() : new OptimiserPlanner({ log }));

  // The driver and pairing need each other (pairing re-plans; the driver reads pairings): late binding.
  let driver!: OptimisationDriver;
  const pairing = new PairingService({
    db: db.kysely,
    clock,
    log,
    client,
    codeTtlS: config.pairingCodeTtlS,
    onPaired: (cpoId, uid) => driver.touch({ cpoId, uid }),
    // OCPI: remove our profiles while the CPO still lets us address the sessions (bounded; best effort).
    beforeUnpairAtCpo: async (cpo, uid) => {
      await Promise.race([
        ocpiSender.clearStation(cpo, uid, { wait: false }).catch((err: unknown) => log.warn({ err, cpoId: cpo.id, uid }, 'clearing OCPI profiles before unpairing failed')),
        new Promise((r) => setTimeout(r, 15_000).unref()),
      ]);
    },
    onUnpaired: (cpoId, uid) => {
      delivery.cancel({ cpoId, uid }).catch((err: unknown) => log.error({ err }, 'cancelling deliveries failed'));
      driver.touch({ cpoId, uid }); // the other stations of its site
    },
  });
  driver = new OptimisationDriver({
    clock,
    log,
    planner,
    prices,
    sessions,
    pairing,
    preferences,
    sites,
    cpos,
    delivery,
    metrics,
    work,
    defaults: config.defaults,
    minIntervalMs: config.replanIntervalMs,
    release: (target, released) => (deps.sender ? undefined : ocpiSender.release(target, released)),
  });
  const ocpiModules = createScspOcpiModules(
    { db: db.kysely, store: ocpiStore, clock, log: log.child({ component: 'ocpi-scsp' }), cpos, pairing, sessions, touch: (st) => driver.touch(st), work },
    waiters,
  );

  const http = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  http.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    if (path.startsWith('/api/')) return reply.code(404).send({ error: 'NotFound', message: `No route ${req.method} ${path}` });
    return reply.code(404).send({ message: 'Not Found' });
  });
  http.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ message: err.message });
    log.error({ err, method: req.method, url: req.url.split('?')[0] }, 'request failed');
    return reply.code(500).send({ message: 'Internal Server Error' });
  });

  let tokenUrl = '';
  registerTokenEndpoint(http, { tokens, cpos, log, metrics, audiences: config.audiences });
  registerPartnerRoutes(http, { tokens, cpos, pairing, sessions, driver, clock, log, metrics });
  registerAdminRoutes(http, {
    apiKey: config.apiKey,
    cpos,
    pairing,
    sessions,
    preferences,
    delivery,
    sites,
    driver,
    clock,
    log,
    tokenUrl: () => tokenUrl,
    cpoWarnings: async (cpo) => ocpiLinkWarnings(cpo, cpo.ocpiPartnerId ? await ocpi.partners.get(cpo.ocpiPartnerId) : undefined),
  });
  ocpi = registerScspOcpi(http, { db: db.kysely, clock, log, config, modules: () => ocpiModules.modules() });
  registerOcpiAdminRoutes(http, { apiKey: config.apiKey, ocpi, log, scsp: { cpos, store: ocpiStore, sender: ocpiSender } });
  http.get('/healthz', async (_req, reply) => {
    try {
      const n = async (table: 'cpos' | 'stations') => Number((await db.kysely.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n ?? 0);
      const active = Number(
        (await db.kysely.selectFrom('sessions').select((eb) => eb.fn.countAll<number>().as('n')).where('state', '=', 'active').executeTakeFirst())?.n ?? 0,
      );
      return { status: 'ok', service: 'scsp', cpos: await n('cpos'), pairedStations: await n('stations'), activeSessions: active, planner: planner.name, profileRoute: deps.sender ? deps.sender.route : 'per-cpo' };
    } catch {
      return reply.code(503).send({ status: 'error', reason: 'database unavailable' });
    }
  });
  http.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  http.get('/', async (_req, reply) => {
    reply.type('text/html; charset=utf-8');
    return `<!doctype html><meta charset="utf-8"><title>Ampline SCSP</title>
<h1>Ampline SCSP</h1><p>Smart charging service. CPOs: <code>POST /oauth/token</code>, <code>/v1/scsp/...</code>.
Operators: <code>/api/v1/...</code> · <a href="/healthz">/healthz</a> · <a href="/metrics">/metrics</a></p>`;
  });

  await http.listen({ host: config.host, port: config.port });
  const addr = http.server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${addr.port}`;
  tokenUrl = `${config.publicUrl ?? url}/oauth/token`;
  log.info({ url, database: db.location, planner: planner.name, profileRoute: deps.sender ? deps.sender.route : 'per-cpo' }, `listening on ${url}`);

  const housekeeping = setInterval(() => {
    const now = clock.now();
    Promise.all([
      tokens.purge(new Date(now.getTime() - 86_400_000)),
      sessions.purgeEvents(new Date(now.getTime() - config.eventRetentionS * 1000)),
      db.kysely.deleteFrom('pairing_codes').where('expires_at', '<', new Date(now.getTime() - 86_400_000).toISOString()).execute(),
      ocpiStore.purgeRequests(now),
    ]).catch((err: unknown) => log.warn({ err }, 'housekeeping failed'));
  }, deps.housekeepingMs ?? 15 * 60_000);
  housekeeping.unref();

  // Plans are not resumed after a restart: every station with a running session is planned afresh.
  for (const st of await sessions.stationsWithActiveSessions()) driver.touch(st);

  let stopped = false;
  return {
    config,
    url,
    port: addr.port,
    tokenUrl,
    db,
    http,
    cpos,
    tokens,
    pairing,
    sessions,
    preferences,
    sites,
    delivery,
    driver,
    metrics,
    ocpi,
    ocpiStore,
    ocpiSender,
    idle: () => work.idle(),
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(housekeeping);
      driver.stop();
      delivery.stop();
      await http.close();
      // Let a planning run that was under way finish its database work (bounded).
      await Promise.race([work.idle(), new Promise((r) => setTimeout(r, 5000).unref())]);
      await db.close();
    },
  };
}
