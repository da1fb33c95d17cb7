/**
 * The CPO's OCPI functional modules (issue 8 §3–4), composed for src/csms/app.ts:
 * - sessions.ts — Sessions, CPO as SENDER: pushes paired EVSEs' sessions (PUT/PATCH), GET for catch-up,
 *   the charging-preferences PUT;
 * - chargingprofiles.ts — ChargingProfiles, CPO as RECEIVER: PUT/DELETE/GET per session with async
 *   results to `response_url`, and ActiveChargingProfile PUTs to the sender;
 * - context.ts — shared services, OCPI identifiers, the access rule.
 */
import type { OcpiModule } from '../core/plugin.js';
import type { PartnerPrincipal } from '../credentials.js';
import type { OcpiNode } from '../node.js';
import { OcpiChargingProfilesReceiver } from './chargingprofiles.js';
import type { CpoOcpiContext } from './context.js';
import { OcpiSessionsSender } from './sessions.js';

export interface CpoOcpiModules {
  readonly sessions: OcpiSessionsSender;
  readonly profiles: OcpiChargingProfilesReceiver;
  /** For `registerCpoOcpi({modules})`. */
  modules(node: OcpiNode): OcpiModule<PartnerPrincipal>[];
  /** After the server listens (pushers, subscriptions). */
  start(node: OcpiNode): void;
  stop(): Promise<void>;
}

export function createCpoOcpiModules(ctx: CpoOcpiContext): CpoOcpiModules {
  const sessions = new OcpiSessionsSender(ctx);
  const profiles = new OcpiChargingProfilesReceiver(ctx);
  return {
    sessions,
    profiles,
    modules: (node) => [...sessions.modules(node), ...profiles.modules(node)],
    start(node) {
      sessions.start(node);
      profiles.start(node);
    },
    async stop() {
      await profiles.stop();
      await sessions.stop();
    },
  };
}
