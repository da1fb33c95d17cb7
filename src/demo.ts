/**
 * `ampline demo` (what `npm start` runs): the whole loop on one machine.
 *
 *   simulated chargers ──OCPP──► CSMS ──events (seed 001)──► SCSP ──SetChargingProfile (OCPP format)──► CSMS ──► chargers
 *
 * or, with `--route ocpi` (AMPLINE_DEMO_ROUTE=ocpi), the OCPI 2.2.1 way (seed 002):
 *
 *   chargers ──OCPP──► CSMS ──OCPI Sessions PUT/PATCH──► SCSP ──OCPI ChargingProfiles PUT──► CSMS ──► chargers
 *                       ◄──────── results to response_url, ActiveChargingProfile PUTs ───────►
 *
 * The CSMS and the SCSP run in this one process but meet only over HTTP on loopback, exactly as two
 * companies would: the CSMS is registered at the SCSP as a CPO client (OAuth2 client credentials +
 * ApiKey), the SCSP at the CSMS as a partner (its token endpoint, credentials and the bearer token it
 * presents on `/v1/cpo/...`), and every charger is paired with a CPO-issued code that the SCSP verifies
 * through `POST /v1/cpo/ocpp2.0.1/pair`. Both sides keep their own database (`./data`, `./data-scsp`).
 */
import { randomBytes } from 'node:crypto';
import type { CsmsConfig } from './config.js';
import { startCsms, type Csms } from './csms/app.js';
import { startScsp, type Scsp } from './scsp/app.js';
import type { ScspConfig } from './scsp/config.js';
import type { Logger } from './util/log.js';

/** How the SCSP gets session data and sends profiles: seed 001 + OCPP-format route, or OCPI 2.2.1. */
export type DemoRoute = 'ocpp-format' | 'ocpi';

export interface DemoOptions {
  chargers: number;
  /** Default `ocpp-format`. */
  route?: DemoRoute;
  /** Log a one-line summary this often (ms); 0 = never. */
  summaryEveryMs?: number;
}

export interface Demo {
  csms: Csms;
  scsp: Scsp;
  stations: string[];
  paired: string[];
  stop(): Promise<void>;
}

const PARTNER_ID = 'ampline-scsp';
const CPO_ID = 'ampline-csms';
/** The parties' OCPI registrations of each other (ocpi_partners ids at the CSMS and at the SCSP). */
const OCPI_SCSP_AT_CSMS = 'ampline-scsp-ocpi';
const OCPI_CPO_AT_SCSP = 'ampline-csms-ocpi';
const secret = (): string => randomBytes(24).toString('base64url');

export async function startDemo(csmsConfig: CsmsConfig, scspConfig: ScspConfig, log: Logger, opts: DemoOptions): Promise<Demo> {
  const csms = await startCsms(csmsConfig, { log, processMetrics: true });
  const scsp = await startScsp(scspConfig, { log: log.child({ name: 'ampline-scsp' }) });

  await linkParties(csms, scsp, { route: opts.route ?? 'ocpp-format' });

  const { runFleet } = await import('./sim/fleet.js');
  const fleet = await runFleet({
    url: csms.ocppUrl,
    count: opts.chargers,
    protocol: 'mixed',
    prefix: 'DEMO-',
    sessions: true,
    connectConcurrency: 50,
    jitterMs: 100,
    meterIntervalS: 15,
    sessionPlan: { idleS: [20, 120], chargeS: [300, 1800] },
    logger: (level, message, fields) => {
      if (level === 'warn' || level === 'error') log[level]({ ...fields }, `[sim] ${message}`);
    },
  });
  const stations = fleet.results.filter((r) => r.ok).map((r) => r.identity);

  // Pair every charger: the CSMS issues a code, the SCSP verifies it over HTTP.
  const paired: string[] = [];
  for (const id of stations) {
    try {
      await pairStation(csms, scsp, id);
      paired.push(id);
    } catch (err) {
      log.warn({ err, stationId: id }, 'demo: pairing failed');
    }
  }
  log.info({ chargers: stations.length, paired: paired.length }, 'demo: chargers paired with the SCSP');

  let timer: NodeJS.Timeout | undefined;
  if ((opts.summaryEveryMs ?? 60_000) > 0) {
    timer = setInterval(() => void summary(csms, scsp, log).catch(() => undefined), opts.summaryEveryMs ?? 60_000);
    timer.unref();
  }
  return {
    csms,
    scsp,
    stations,
    paired,
    async stop() {
      if (timer) clearInterval(timer);
      await fleet.stop();
      await scsp.stop();
      await csms.stop();
    },
  };
}

/**
 * Register each party with the other, as two operators would: the CSMS becomes a CPO client of the SCSP
 * (OAuth2 client credentials + ApiKey, and the bearer token the SCSP presents on `/v1/cpo/...`), the
 * SCSP a partner of the CSMS. Idempotent (a restart re-issues the secrets).
 */
export async function linkParties(csms: Csms, scsp: Scsp, opts: { route?: DemoRoute } = {}): Promise<void> {
  const ocpi = opts.route === 'ocpi';
  if (ocpi) await registerOcpi(csms, scsp);
  const cpoToken = secret();
  const { credentials } = await scsp.cpos.upsert({
    id: CPO_ID,
    name: 'Ampline CSMS (demo)',
    baseUrl: csms.url,
    cpoToken,
    payloadProtocol: 'ocpp2.0.1',
    clientSecret: secret(),
    apiKey: secret(),
    ...(ocpi ? { ocpiPartnerId: OCPI_CPO_AT_SCSP, profileRoute: 'ocpi' as const } : {}),
  });
  if (!credentials.clientSecret || !credentials.apiKey) throw new Error('the SCSP did not return the CPO credentials');
  await csms.scsp.partners.upsert({
    id: PARTNER_ID,
    name: 'Ampline SCSP (demo)',
    baseUrl: scsp.url,
    tokenUrl: scsp.tokenUrl,
    clientId: credentials.clientId,
    clientSecret: credentials.clientSecret,
    apiKey: credentials.apiKey,
    payloadProtocol: 'ocpp2.0.1',
    inboundToken: cpoToken,
    ...(ocpi ? { ocpiPartnerId: OCPI_SCSP_AT_CSMS, sessionData: 'ocpi' as const } : {}),
  });
}

/**
 * The OCPI credentials handshake, as two operators would run it: the SCSP issues a token A for the CPO
 * (out of band), the CSMS registers with it (A → B → C over HTTP). Already registered: nothing to do.
 */
async function registerOcpi(csms: Csms, scsp: Scsp): Promise<void> {
  const atCsms = await csms.ocpi.partners.get(OCPI_SCSP_AT_CSMS);
  const atScsp = await scsp.ocpi.partners.get(OCPI_CPO_AT_SCSP);
  if (atCsms?.state === 'registered' && atScsp?.state === 'registered') return;
  if (atCsms?.state === 'registered') await csms.ocpi.credentials.unregister(OCPI_SCSP_AT_CSMS, { force: true });
  if (atScsp?.state === 'registered') await scsp.ocpi.credentials.unregister(OCPI_CPO_AT_SCSP, { force: true });
  const { tokenA } = atScsp
    ? await scsp.ocpi.credentials.reissueTokenA(OCPI_CPO_AT_SCSP)
    : await scsp.ocpi.credentials.createPartner({ id: OCPI_CPO_AT_SCSP, name: 'Ampline CSMS (demo, OCPI)' });
  await csms.ocpi.credentials.registerWith({ id: OCPI_SCSP_AT_CSMS, name: 'Ampline SCSP (demo, OCPI)', versionsUrl: scsp.ocpi.versionsUrl(), token: tokenA });
}

/** Pair one station: the CSMS issues a code, the SCSP verifies it with `POST /v1/cpo/ocpp2.0.1/pair`. */
export async function pairStation(csms: Csms, scsp: Scsp, stationId: string, timeoutMs = 15_000): Promise<void> {
  const cpo = await scsp.cpos.get(CPO_ID);
  if (!cpo) throw new Error('the CSMS is not registered at the SCSP (call linkParties first)');
  await waitForEvses(csms, stationId, timeoutMs);
  const { code } = await csms.scsp.pairing.issueCode(stationId);
  const out = await scsp.pairing.pairWithCpoCode(cpo, 'ocpp2.0.1', code);
  if (out.kind !== 'paired') throw new Error(`pairing ${stationId} failed: ${JSON.stringify(out)}`);
}

async function waitForEvses(csms: Csms, stationId: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const row = await csms.db.kysely.selectFrom('connectors').select('evse_id').where('station_id', '=', stationId).where('evse_id', '>', 0).executeTakeFirst();
    if (row) return;
    if (Date.now() > until) throw new Error(`station ${stationId} reported no EVSE within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One line for the operator: what is charging, what the SCSP planned, what the chargers were told. */
export async function summary(csms: Csms, scsp: Scsp, log: Logger): Promise<Record<string, number>> {
  const db = csms.db.kysely;
  const [active, scspProfiles, outbox] = await Promise.all([
    db.selectFrom('transactions').select(['power_w']).where('state', '=', 'active').execute(),
    db.selectFrom('charging_profiles').select('profile_id').where('source', '=', 'scsp').execute(),
    db.selectFrom('outbox').select(['state']).execute(),
  ]);
  const deliveries = await scsp.delivery.list({ limit: 1000 });
  const out = {
    activeSessions: active.length,
    chargingPowerKw: Math.round(active.reduce((s, t) => s + (t.power_w ?? 0), 0) / 100) / 10,
    scspProfilesInstalled: scspProfiles.length,
    eventsForwarded: outbox.filter((r) => r.state === 'delivered').length,
    eventsPending: outbox.filter((r) => r.state === 'pending').length,
    profileDeliveries: deliveries.rows.length,
  };
  log.info(out, 'demo: loop summary');
  return out;
}
