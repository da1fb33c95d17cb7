/**
 * The CPO half of the SCSP integration (issue 6; seeds 000, 001 and the OCPP-format profile route):
 * partners, pairing and unpair, the durable outbox forwarder, and the `/v1/cpo/...` routes an SCSP
 * calls. `startScspLink` is called by the composition root (src/csms/app.ts).
 *
 * Files:
 * - partners.ts — partner model, validation, storage, inbound bearer-token check
 * - oauth.ts / client.ts — OAuth 2.0 client credentials and the authenticated HTTP client
 * - (pairing, outbox/forwarder, profile receiver — see their files)
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
}

export interface ScspLink {
  partners: PartnerService;
  oauth: OAuthClient;
  client: ScspClient;
  stop(): Promise<void>;
}

export async function startScspLink(deps: ScspLinkDeps): Promise<ScspLink> {
  const partners = new PartnerService({ db: deps.db, clock: deps.clock });
  if (deps.partnersFile) for (const p of loadPartnersFile(deps.partnersFile)) await partners.upsert(p);
  const oauth = new OAuthClient({ clock: deps.clock, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
  const client = new ScspClient({ oauth, log: deps.log, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
  const stoppers: Array<() => Promise<void> | void> = [];
  return {
    partners,
    oauth,
    client,
    async stop() {
      for (const s of stoppers.reverse()) await s();
    },
  };
}
