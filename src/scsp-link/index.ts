/**
 * The CPO half of the SCSP integration (issue 6; seeds 000, 001 and the OCPP-format profile route):
 * partners, pairing and unpair, the durable outbox forwarder, and the `/v1/cpo/...` routes an SCSP
 * calls. `startScspLink` is called by the composition root (src/csms/app.ts).
 *
 * Files:
 * - partners.ts — partner model, validation, storage, inbound bearer-token check
 * - oauth.ts / client.ts — OAuth 2.0 client credentials and the authenticated HTTP client
 * - profile-receiver.ts / routes-profiles.ts — the OCPP-format SetChargingProfile receiver
 *   (`POST /v1/cpo/chargingstation[s]/{uid}/events/{payload-protocol}/SetChargingProfile`)
 * - station-description.ts — the seed-000 `charging_station` object from the station model
 * - pairing.ts — pairing codes (CPO- and SCSP-issued), pairings, unpair both ways, clearing SCSP profiles
 * - routes-pairing.ts / inbound-auth.ts — `/v1/cpo/{pp}/pair`, `/v1/cpo/chargingstations/{uid}/unpair`;
 *   the bearer-token guard and `{message}` error shape every `/v1/cpo` route shares
 * - mapping.ts / outbox.ts / forwarder.ts — event forwarding (seed 001): domain → OCPP payloads, the
 *   durable outbox written in the state change's database transaction, and its dispatcher
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { DomainEvents } from '../services/events.js';
import type { SmartChargingService } from '../services/smart-charging.js';
import type { CommandService } from '../services/commands.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { OAuthClient } from './oauth.js';
import { ScspClient } from './client.js';
import { PartnerService, loadPartnersFile } from './partners.js';
import { registerProfileRoutes } from './routes-profiles.js';
import { PairingService } from './pairing.js';
import { registerPairingRoutes } from './routes-pairing.js';
import { type Forwarding, startForwarding } from './forwarder.js';
import type { Registry } from 'prom-client';
import type { ScspForwardingConfig } from '../config.js';

export interface ScspLinkDeps {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  events: DomainEvents;
  smart: SmartChargingService;
  commands: CommandService;
  http: FastifyInstance;
  /** AMPLINE_SCSP_PARTNERS_FILE, upserted at start. */
  partnersFile?: string | undefined;
  /** Test hook: the fetch used for calls to SCSPs. */
  fetch?: typeof fetch;
  /** Lifetime of a CPO-issued pairing code when the caller gives none (default 15 min). */
  pairingCodeTtlS?: number;
  /** Event forwarding settings (meter cadence, retries); defaults from DEFAULT_SCSP_FORWARDING. */
  forwarding?: Partial<ScspForwardingConfig> | undefined;
  /** The CSMS's metrics registry, for the forwarding metrics. */
  metricsRegistry?: Registry | undefined;
}

export interface ScspLink {
  partners: PartnerService;
  oauth: OAuthClient;
  client: ScspClient;
  /** Pairing codes, pairings and unpair (pairing.ts); its `/v1/cpo` routes are in routes-pairing.ts. */
  pairing: PairingService;
  /** The outbox hook, its dispatcher (`forwarding.forwarder.wake`) and metrics (forwarder.ts). */
  forwarding: Forwarding;
  stop(): Promise<void>;
}

export async function startScspLink(deps: ScspLinkDeps): Promise<ScspLink> {
  const partners = new PartnerService({ db: deps.db, clock: deps.clock });
  if (deps.partnersFile) for (const p of loadPartnersFile(deps.partnersFile)) await partners.upsert(p);
  const oauth = new OAuthClient({ clock: deps.clock, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
  const client = new ScspClient({ oauth, log: deps.log, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
  const stoppers: Array<() => Promise<void> | void> = [];
  // Last to stop (stoppers run in reverse): the keep-alive sockets of the HTTP pools.
  stoppers.push(() => client.close(), () => oauth.close());
  registerProfileRoutes(deps.http, { db: deps.db, clock: deps.clock, log: deps.log, smart: deps.smart, commands: deps.commands, partners });
  const pairing = new PairingService({
    db: deps.db,
    clock: deps.clock,
    log: deps.log,
    events: deps.events,
    partners,
    client,
    smart: deps.smart,
    ...(deps.pairingCodeTtlS !== undefined ? { codeTtlS: deps.pairingCodeTtlS } : {}),
  });
  pairing.start();
  stoppers.push(() => pairing.stop());
  registerPairingRoutes(deps.http, { partners, pairing, log: deps.log });
  const forwarding = startForwarding({ db: deps.db, clock: deps.clock, log: deps.log, events: deps.events, client, partners, registry: deps.metricsRegistry, settings: deps.forwarding });
  stoppers.push(() => forwarding.stop());
  return {
    partners,
    oauth,
    client,
    pairing,
    forwarding,
    async stop() {
      for (const s of stoppers.reverse()) await s();
    },
  };
}
