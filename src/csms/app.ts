/**
 * The CSMS composition root: one hand-written place that builds every part from the configuration and
 * wires them. `startCsms` returns a running instance; tests start as many as they like (port 0).
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { CsmsConfig } from '../config.js';
import { type Db, openDb } from '../store/db.js';
import { GroupCommit } from '../store/group-commit.js';
import { OcppTransport } from '../ocpp/transport.js';
import { warmValidators } from '../ocpp/schemas.js';
import { createDispatcher } from '../ocpp/router.js';
import type { CsmsServices } from '../ocpp/context.js';
import { DomainEvents } from '../services/events.js';
import { StationService } from '../services/stations.js';
import { TransactionService } from '../services/transactions.js';
import { AuthService } from '../services/auth.js';
import { CommandService } from '../services/commands.js';
import { SmartChargingService } from '../services/smart-charging.js';
import { LoadBalancer, loadSitesFile } from '../services/load-balancer.js';
import { startScspLink, type ScspLink } from '../scsp-link/index.js';
import { registerOcppCoreApi } from '../api/ocppcore.js';
import { registerApiV1 } from '../api/v1/index.js';
import { ApiKeyAuth } from '../api/v1/auth.js';
import { registerChargerConnect } from '../api/charger-connect.js';
import { installErrorHandlers } from '../api/errors.js';
import { registerCpoOcpi } from '../ocpi/cpo.js';
import { type CpoOcpiModules, createCpoOcpiModules } from '../ocpi/cpo/index.js';
import type { OcpiNode } from '../ocpi/node.js';
import { registerDashboard, type Dashboard } from '../dashboard/index.js';
import { type CsmsMetrics, createMetrics } from '../util/metrics.js';
import { type Clock, systemClock } from '../util/clock.js';
import { type Logger, createLogger } from '../util/log.js';

export interface CsmsDeps {
  log?: Logger;
  clock?: Clock;
  /** Collect Node process metrics too (off in tests: one registry per instance). */
  processMetrics?: boolean;
  /** Compile every OCPP validator before listening (production); otherwise each compiles on first use. */
  warmValidators?: boolean;
}

export interface Csms {
  readonly config: CsmsConfig;
  /** http://host:port of the running server. */
  readonly url: string;
  /** ws://host:port/ocpp — append the station identity. */
  readonly ocppUrl: string;
  readonly port: number;
  readonly db: Db;
  readonly http: FastifyInstance;
  readonly transport: OcppTransport;
  readonly services: CsmsServices;
  readonly commands: CommandService;
  readonly smart: SmartChargingService;
  readonly balancer: LoadBalancer;
  readonly scsp: ScspLink;
  /** OCPI 2.2.1 (CPO role): `/ocpi/...`, partners, the typed client. */
  readonly ocpi: OcpiNode;
  /** The CPO's OCPI Sessions sender and ChargingProfiles receiver. */
  readonly ocpiModules: CpoOcpiModules;
  readonly events: DomainEvents;
  readonly metrics: CsmsMetrics;
  /** The live dashboard at `/` (src/dashboard): its snapshot builder and SSE hub. */
  readonly dashboard: Dashboard;
  stop(): Promise<void>;
}

export async function startCsms(config: CsmsConfig, deps: CsmsDeps = {}): Promise<Csms> {
  const log = deps.log ?? createLogger({ level: config.logLevel });
  const clock = deps.clock ?? systemClock;
  const metrics = createMetrics({ defaultMetrics: deps.processMetrics ?? false });
  if (deps.warmValidators) warmValidators();

  const db = await openDb({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, pgSchema: config.pgSchema });
  const events = new DomainEvents(log);
  const writer = new GroupCommit(db.kysely);
  const auth = new AuthService({ db: db.kysely, clock, policy: config.auth });
  const stations = new StationService({ db: db.kysely, clock, log, events, writer, nodeId: config.nodeId, boot: config.boot });
  const transactions = new TransactionService({ db: db.kysely, clock, log, events, auth, writer });
  const smart = new SmartChargingService({ db: db.kysely, clock, log, events, commands: () => commands });
  smart.start();
  const services: CsmsServices = { stations, transactions, auth, smart, clock, log, events };
  // Whatever this node had connected before a crash is not connected now.
  await stations.resetPresence();

  const transport = new OcppTransport({ log, metrics, dispatch: createDispatcher(services), options: config.ocpp });
  transport.onConnected((c) => {
    log.info({ stationId: c.stationId, protocol: c.protocol, remote: c.remoteAddress }, 'station connected');
    stations.connected(c.stationId, c.protocol).catch((err: unknown) => log.error({ err }, 'recording connect failed'));
  });
  transport.onDisconnected((c, reason) => {
    log.info({ stationId: c.stationId, reason }, 'station disconnected');
    stations.disconnected(c.stationId).catch((err: unknown) => log.error({ err }, 'recording disconnect failed'));
  });

  const commands = new CommandService({ db: db.kysely, transport, clock, defaultTimeoutMs: config.commandTimeoutMs });
  const balancer = new LoadBalancer({ db: db.kysely, clock, log, events, smart });
  balancer.start(config.sitesFile ? loadSitesFile(config.sitesFile) : []);

  // forceCloseConnections: an aborted streaming client (dashboard SSE) leaves an idle keep-alive
  // connection behind that would otherwise hold up stop() for the keep-alive timeout.
  const http = Fastify({ logger: false, bodyLimit: 1024 * 1024, forceCloseConnections: true });
  installErrorHandlers(http);
  const keys = new ApiKeyAuth({
    db: db.kysely,
    clock,
    bootstrapKey: config.apiKey,
    onError: (err) => log.warn({ err }, 'recording API key use failed'),
  });
  registerOcppCoreApi(http, { db: db.kysely, commands, auth, smart, clock, keys, timeoutMs: config.commandTimeoutMs });
  const ocpiModules = createCpoOcpiModules({ db: db.kysely, clock, log, events, smart, commands, config });
  const ocpi = registerCpoOcpi(http, { db: db.kysely, clock, log, config, modules: ocpiModules.modules });
  registerApiV1(http, { db: db.kysely, commands, smart, clock, log, keys, timeoutMs: config.commandTimeoutMs, scsp: () => scsp, ocpi: () => ocpi });
  registerChargerConnect(http, { db: db.kysely, transport, clock, keys });
  http.get('/healthz', async (_req, reply) => {
    try {
      await db.kysely.selectFrom('counters').select('value').limit(1).execute();
      return { status: 'ok', node: config.nodeId, connectedStations: transport.size, database: db.dialect };
    } catch {
      return reply.code(503).send({ status: 'error', reason: 'database unavailable' });
    }
  });
  http.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  const dashboard = registerDashboard(http, { db: db.kysely, events, smart, balancer, keys, clock, log, nodeId: config.nodeId });
  const scsp = await startScspLink({
    db: db.kysely,
    clock,
    log,
    events,
    smart,
    commands,
    http,
    partnersFile: config.partnersFile,
    forwarding: config.scspForwarding,
    metricsRegistry: metrics.registry,
  });
  http.server.on('upgrade', transport.handleUpgrade);

  await http.listen({ host: config.host, port: config.port });
  const addr = http.server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${addr.port}`;
  log.info({ url, database: db.location, node: config.nodeId }, `listening on ${url}`);
  ocpiModules.start(ocpi);

  let stopped = false;
  return {
    config,
    url,
    ocppUrl: `ws://${host}:${addr.port}/ocpp`,
    port: addr.port,
    db,
    http,
    transport,
    services,
    commands,
    smart,
    balancer,
    scsp,
    ocpi,
    ocpiModules,
    events,
    metrics,
    dashboard,
    async stop() {
      if (stopped) return;
      stopped = true;
      await ocpiModules.stop();
      await scsp.stop();
      await balancer.stop();
      smart.stop();
      await transport.close();
      await http.close();
      await stations.stop();
      await db.close();
    },
  };
}
