/**
 * Fixture for the OCPI ChargingProfiles receiver tests: a real CSMS (temp SQLite), a hand-written
 * foreign OCPI 2.2.1 SCSP on loopback, and simulated chargers.
 *
 * The foreign SCSP is written from the OCPI text (mod_charging_profiles, transport_and_format), not from
 * Ampline's code: it checks `Authorization: Token <Base64(token)>`, answers every call with the envelope
 * (`status_code` 1000, no `data`), takes a POST on any path as a result to a `response_url` (recording
 * path *and* query exactly as called) and the chargingprofiles SENDER endpoint `{url}/{session_id}` where the CPO
 * PUTs ActiveChargingProfiles, plus a sessions RECEIVER that takes anything (the Sessions sender may
 * push there). Its registration is written through the OCPI partner repository (state `registered`,
 * token hashes, endpoints, roles), as a completed credentials handshake would leave it; the SCSP partner
 * of the seed-000 pairing is linked to it with `ocpiPartnerId` (`sessionData: 'ocpi'`, so no OCPP-format
 * events are forwarded).
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { SimChargePoint, type Amps, type EvseConfig, type Watts, type WattHours } from '../../src/sim/index.js';
import type { OcppProtocol } from '../../src/ocpp/protocol.js';
import { hashToken } from '../../src/ocpi/core/auth.js';
import { startTestCsms, type TestCsms } from '../helpers/csms.js';
import { waitFor } from '../helpers/wire.js';
import { b64, ocpi, type Answer } from './helpers.js';

export interface Received {
  method: string;
  /** Path and query exactly as requested. */
  url: string;
  authorization: string | undefined;
  body: any;
  at: number;
}

export class ForeignScsp {
  url = '';
  /** What Ampline must present to us. */
  readonly tokenForUs = `cpo-to-scsp-${randomUUID()}`;
  /** What we present to Ampline. */
  readonly tokenForAmpline = `scsp-to-cpo-${randomUUID()}`;
  readonly results: Received[] = [];
  readonly active: Received[] = [];
  readonly unauthorised: Received[] = [];
  private app: FastifyInstance | undefined;

  async start(): Promise<this> {
    const app = Fastify({ logger: false });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, body === '' ? undefined : JSON.parse(String(body)));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    const envelope = () => ({ status_code: 1000, status_message: 'Success', timestamp: new Date().toISOString() });
    const authorised = (auth: string | undefined): boolean => auth === `Token ${b64(this.tokenForUs)}`;
    app.all('/*', async (req, reply) => {
      const rec: Received = { method: req.method, url: req.url, authorization: req.headers.authorization, body: req.body, at: Date.now() };
      reply.header('X-Request-ID', String(req.headers['x-request-id'] ?? randomUUID()));
      reply.header('X-Correlation-ID', String(req.headers['x-correlation-id'] ?? randomUUID()));
      if (!authorised(rec.authorization)) {
        this.unauthorised.push(rec);
        return reply.code(401).send({ status_code: 2000, status_message: 'Unauthorized', timestamp: new Date().toISOString() });
      }
      if (req.method === 'POST') this.results.push(rec);
      else if (req.method === 'PUT' && req.url.startsWith('/ocpi/2.2.1/chargingprofiles/')) this.active.push(rec);
      return reply.code(200).send(envelope());
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    this.url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    this.app = app;
    return this;
  }

  /** A response_url on this peer (path under /r/, with a query string). */
  responseUrl(tag: string): string {
    return `${this.url}/r/ocpi/2.2.1/chargingprofiles/response?request_id=${encodeURIComponent(tag)}`;
  }

  /** The result POSTed to this exact path + query. */
  async result(pathAndQuery: string, timeoutMs = 10_000): Promise<Received> {
    return waitFor(() => this.results.find((r) => r.url === pathAndQuery), { timeoutMs, what: `result POST to ${pathAndQuery}` });
  }

  activeFor(sessionId: string): Received[] {
    return this.active.filter((r) => r.url === `/ocpi/2.2.1/chargingprofiles/${sessionId}`);
  }

  async stop(): Promise<void> {
    await this.app?.close();
  }
}

export interface Fixture {
  csms: TestCsms;
  peer: ForeignScsp;
  sims: SimChargePoint[];
  /** Our chargingprofiles RECEIVER URL. */
  base: string;
  /** An OCPI call to the CSMS as the peer. */
  call(method: string, url: string, body?: unknown): Promise<Answer>;
  stop(): Promise<void>;
}

export const OCPI_PARTNER = 'jedlix-ocpi';
export const SCSP_PARTNER = 'jedlix';

/** Register an OCPI partner by writing its row, as a finished handshake leaves it. */
export async function registerOcpiPartner(csms: TestCsms, id: string, peer: Pick<ForeignScsp, 'url' | 'tokenForUs' | 'tokenForAmpline'>, partyId = 'JDX'): Promise<void> {
  await csms.ocpi.partners.insert(
    {
      id,
      name: `SCSP ${partyId}`,
      state: 'registered',
      ourTokenHash: hashToken(peer.tokenForAmpline),
      ourTokenKind: 'C',
      ourTokenHint: `${peer.tokenForAmpline.slice(0, 4)}…`,
      ourNextTokenHash: null,
      theirToken: peer.tokenForUs,
      versionsUrl: `${peer.url}/ocpi/versions`,
      version: '2.2.1',
      tokenEncoding: 'auto',
      endpoints: [
        { identifier: 'credentials', role: 'SENDER', url: `${peer.url}/ocpi/2.2.1/credentials` },
        { identifier: 'sessions', role: 'RECEIVER', url: `${peer.url}/ocpi/2.2.1/sessions` },
        { identifier: 'chargingprofiles', role: 'SENDER', url: `${peer.url}/ocpi/2.2.1/chargingprofiles` },
      ],
      roles: [{ role: 'SCSP', party_id: partyId, country_code: 'NL', business_details: { name: `SCSP ${partyId}` } }],
      auth: null,
      registeredAt: new Date().toISOString(),
    },
    new Date(),
  );
}

/** An SCSP partner (seed 000 pairing) linked to an OCPI registration. */
export async function linkScspPartner(csms: TestCsms, id: string, ocpiPartnerId: string | undefined, peerUrl: string): Promise<void> {
  await csms.scsp.partners.upsert({
    id,
    name: id,
    baseUrl: peerUrl,
    tokenUrl: `${peerUrl}/token`,
    clientId: 'ampline',
    clientSecret: 'secret-0123456789',
    apiKey: 'api-key',
    payloadProtocol: 'ocpp2.0.1',
    inboundToken: `inbound-${id}-${randomUUID()}`,
    ...(ocpiPartnerId ? { ocpiPartnerId, sessionData: 'ocpi' as const } : {}),
  });
}

export async function startFixture(opts: { env?: Record<string, string> } = {}): Promise<Fixture> {
  const csms = await startTestCsms({ env: { AMPLINE_API_COMMAND_TIMEOUT_S: '5', ...opts.env } });
  const peer = await new ForeignScsp().start();
  await registerOcpiPartner(csms, OCPI_PARTNER, peer);
  await linkScspPartner(csms, SCSP_PARTNER, OCPI_PARTNER, peer.url);
  const sims: SimChargePoint[] = [];
  const base = `${csms.url}/ocpi/2.2.1/chargingprofiles`;
  return {
    csms,
    peer,
    sims,
    base,
    call: (method, url, body) => ocpi(url, { method, token: peer.tokenForAmpline, ...(body !== undefined ? { body } : {}) }),
    async stop() {
      for (const cp of sims) await cp.close().catch(() => undefined);
      await csms.destroy();
      await peer.stop();
    },
  };
}

export const threePhase = (id: number, maxCurrentA = 32): EvseConfig => ({ id, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: maxCurrentA as Amps }] });

/** A booted simulated station paired with an SCSP partner (pairing row written directly). */
export async function pairedStation(
  f: Fixture,
  uid: string,
  protocol: OcppProtocol,
  opts: { evses?: EvseConfig[]; config?: Record<string, string>; partner?: string } = {},
): Promise<SimChargePoint> {
  await f.csms.db.kysely
    .insertInto('pairings')
    .values({ station_id: uid, partner_id: opts.partner ?? SCSP_PARTNER, payload_protocol: protocol, origin: 'cpo-code', paired_at: new Date().toISOString() })
    .execute();
  const evses = opts.evses ?? [threePhase(1)];
  const cp = new SimChargePoint({ url: f.csms.ocppUrl, identity: uid, protocol, evses, meterIntervalS: 0, reconnect: false, ...(opts.config ? { config: opts.config } : {}) });
  f.sims.push(cp);
  await cp.connect();
  await waitFor(async () => (await f.csms.db.kysely.selectFrom('connectors').select('evse_id').where('station_id', '=', uid).where('evse_id', '>', 0).execute()).length >= evses.length, {
    what: `${uid} connectors`,
  });
  return cp;
}

/** Start a transaction; returns the OCPI session id (Ampline's transactions.id) and the wire transaction id. */
export async function startSession(f: Fixture, cp: SimChargePoint, evseId: number): Promise<{ sessionId: string; txId: string }> {
  const id = await cp.startSession({ evseId, idTag: `TAG-${cp.identity}-${evseId}`, ev: { batteryWh: 60000 as WattHours, socPercent: 20, maxPowerW: 22000 as Watts, phases: 3 } });
  const txId = String(id);
  const row = await waitFor(
    async () =>
      f.csms.db.kysely
        .selectFrom('transactions')
        .select(['id'])
        .where('station_id', '=', cp.identity)
        .where('evse_id', '=', evseId)
        .where('state', '=', 'active')
        .executeTakeFirst(),
    { what: `${cp.identity} transaction on EVSE ${evseId}` },
  );
  await waitFor(async () => (await f.csms.smart.activeTransactions(cp.identity)).some((t) => t.evseId === evseId && t.transactionId === txId), { what: 'active transaction' });
  return { sessionId: row.id, txId };
}

/** The seed's SetChargingProfile body (Jedlix, protocols.md §1.7), verbatim. */
export const JEDLIX_SEED_BODY = {
  charging_profile: {
    start_date_time: '2023-10-01T12:00:00Z',
    charging_rate_unit: 'W',
    charging_profile_period: [
      { start_period: 0, limit: 22000 },
      { start_period: 1800, limit: 0 },
      { start_period: 3600, limit: 10000 },
    ],
  },
  response_url: 'https://www.jedlix.com/ocpi/2.2.1/chargingprofiles/response?request_id=123456',
};

export async function sessionRow(f: Fixture, sessionId: string, partnerId = OCPI_PARTNER) {
  return f.csms.db.kysely.selectFrom('ocpi_sessions').selectAll().where('partner_id', '=', partnerId).where('session_id', '=', sessionId).executeTakeFirst();
}
