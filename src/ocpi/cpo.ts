/**
 * The CSMS's OCPI platform: party role **CPO** (protocols.md §2.4). Version details list
 * `credentials` (SENDER, as the spec advises for one's own credentials endpoint); the second wave adds
 * `sessions` (SENDER: the CPO owns sessions) and `chargingprofiles` (RECEIVER: the SCSP sets profiles on
 * the CPO) through `modules`.
 *
 * Partners live in the CSMS's database (`ocpi_partners`, migration 0006; SQLite or PostgreSQL).
 * Mounted at `/ocpi/...` on the CSMS's HTTP port by src/csms/app.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { CsmsConfig } from '../config.js';
import type { Database } from '../store/schema.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { OcpiModule } from './core/plugin.js';
import type { PartnerPrincipal } from './credentials.js';
import { type OcpiNode, mountOcpiNode } from './node.js';
import { kyselyPartnerRepository } from './storage.js';
import type { EndpointRequirement } from './versions.js';

export interface CpoOcpiDeps {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  config: Pick<CsmsConfig, 'publicUrl' | 'ocpi'>;
  /** Outgoing HTTP (tests). */
  fetch?: typeof fetch;
  /** The CPO's functional modules (second wave). */
  modules?: (node: OcpiNode) => OcpiModule<PartnerPrincipal>[];
  requiredPeerEndpoints?: EndpointRequirement[];
}

/** Build the CPO node and mount `/ocpi/...` (call before the server listens). */
export function registerCpoOcpi(http: FastifyInstance, deps: CpoOcpiDeps): OcpiNode {
  return mountOcpiNode(http, {
    role: 'CPO',
    party: deps.config.ocpi,
    publicUrl: deps.config.publicUrl,
    partners: kyselyPartnerRepository(deps.db),
    clock: deps.clock,
    log: deps.log,
    fetch: deps.fetch,
    modules: deps.modules,
    requiredPeerEndpoints: deps.requiredPeerEndpoints,
  });
}
