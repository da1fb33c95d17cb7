/**
 * The SCSP service's OCPI platform.
 *
 * **Party role: `SCSP`.** OCPI 2.2.1 has the role (types.asciidoc Role _enum_: "Smart Charging Service
 * Provider Role"; protocols.md §2.3), and the ChargingProfiles module describes exactly this topology —
 * "the CPO delegated Smart Charging to SCSP", "if a SCSP uses this module, read eMSP as SCSP". `EMSP`
 * would claim tokens/CDR business the service does not do, and `OTHER` says nothing; both remain a
 * configuration choice (AMPLINE_SCSP_OCPI_ROLE) for peers that predate the role. The *interface* roles
 * are what matter on the wire: the SCSP lists `credentials`, `sessions` as RECEIVER (the CPO pushes
 * sessions to it) and `chargingprofiles` as SENDER (it sends profiles and receives their results). The
 * functional modules live in src/ocpi/scsp/ (built by src/scsp/app.ts with the SCSP's services and
 * passed as `modules`).
 *
 * Required peer endpoints: only `credentials` (the default). A CPO is not refused at registration for
 * lacking `sessions` SENDER or `chargingprofiles` RECEIVER — it may push Sessions without listing its
 * own sessions endpoint, and use the OCPP-format profile route; what a CPO record's link lacks is
 * reported by the admin API (`ocpiLinkWarnings`, src/ocpi/scsp/index.ts) and by the `ocpi` route's
 * refusals. `requiredPeerEndpoints` stays available to a stricter deployment.
 *
 * Partners live in the SCSP's own database (`ocpi_partners`, SCSP migration 0002). Mounted at
 * `/ocpi/...` on the SCSP port by src/scsp/app.ts. Imports no CSMS internals.
 */
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { ScspConfig } from '../scsp/config.js';
import type { ScspKysely } from '../scsp/store.js';
import type { OcpiModule } from './core/plugin.js';
import type { PartnerPrincipal } from './credentials.js';
import { type OcpiNode, mountOcpiNode } from './node.js';
import { kyselyPartnerRepository } from './storage.js';
import type { EndpointRequirement } from './versions.js';

export interface ScspOcpiDeps {
  db: ScspKysely;
  clock: Clock;
  log: Logger;
  config: Pick<ScspConfig, 'publicUrl' | 'ocpi'>;
  fetch?: typeof fetch;
  /** The SCSP's functional modules (src/ocpi/scsp/: sessions RECEIVER, chargingprofiles SENDER). */
  modules?: (node: OcpiNode) => OcpiModule<PartnerPrincipal>[];
  requiredPeerEndpoints?: EndpointRequirement[];
}

/** Build the SCSP node and mount `/ocpi/...` (call before the server listens). */
export function registerScspOcpi(http: FastifyInstance, deps: ScspOcpiDeps): OcpiNode {
  return mountOcpiNode(http, {
    role: deps.config.ocpi.role,
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
