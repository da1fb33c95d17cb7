/**
 * The SCSP's OCPI functional modules (issue 8 §5), composed for src/scsp/app.ts:
 * - objects.ts — the OCPI objects and their validation (pure);
 * - mapping.ts — OCPI Session → the SCSP's SessionEvents, plans → ChargingProfiles (pure);
 * - store.ts — `ocpi_sessions`, `ocpi_profile_requests` (SCSP database);
 * - context.ts — shared services and the access rule (an OCPI partner acts for the CPO record naming it);
 * - sessions.ts — Sessions, SCSP as **RECEIVER** (`2.2.1/sessions`);
 * - chargingprofiles.ts — ChargingProfiles, SCSP as **SENDER** (`2.2.1/chargingprofiles`: results on our
 *   response URLs, ActiveChargingProfile PUTs);
 * - profile-sender.ts — the `ocpi` profile route (`OcpiProfileSender`, the `ProfileSender` port).
 *
 * Peer endpoints: a CPO is **not** refused at registration for lacking `sessions` SENDER or
 * `chargingprofiles` RECEIVER (a CPO may push sessions without offering either, and may use the
 * OCPP-format profile route); {@link ocpiLinkWarnings} reports what a CPO record's link lacks, and the
 * `ocpi` route refuses each delivery with the same clear message while the endpoint is missing.
 */
import type { Cpo } from '../../scsp/cpos.js';
import type { OcpiModule } from '../core/plugin.js';
import type { PartnerPrincipal } from '../credentials.js';
import type { OcpiPartner } from '../storage.js';
import { findEndpoint, type EndpointRequirement } from '../versions.js';
import { OcpiChargingProfilesSenderModule, ResultWaiters } from './chargingprofiles.js';
import type { ScspOcpiContext } from './context.js';
import { OcpiSessionsReceiver } from './sessions.js';

export { OcpiProfileSender, type OcpiProfileSenderOptions } from './profile-sender.js';
export { OcpiScspStore } from './store.js';
export { ResultWaiters } from './chargingprofiles.js';
export type { ScspOcpiContext } from './context.js';

/** What the SCSP uses of a CPO's OCPI platform (reported, never required at registration). */
export const SCSP_PEER_ENDPOINTS: readonly EndpointRequirement[] = [
  { identifier: 'sessions', role: 'SENDER' },
  { identifier: 'chargingprofiles', role: 'RECEIVER' },
];

export interface ScspOcpiModules {
  readonly sessions: OcpiSessionsReceiver;
  readonly profiles: OcpiChargingProfilesSenderModule;
  /** For `registerScspOcpi({modules})`. */
  modules(): OcpiModule<PartnerPrincipal>[];
}

export function createScspOcpiModules(ctx: ScspOcpiContext, waiters: ResultWaiters = new ResultWaiters()): ScspOcpiModules {
  const sessions = new OcpiSessionsReceiver(ctx);
  const profiles = new OcpiChargingProfilesSenderModule(ctx, waiters);
  return { sessions, profiles, modules: () => [sessions.module(), profiles.module()] };
}

/** What a CPO record's OCPI link lacks, in words (admin API); empty when nothing. */
export function ocpiLinkWarnings(cpo: Cpo, partner: OcpiPartner | undefined): string[] {
  if (!cpo.ocpiPartnerId) return [];
  const out: string[] = [];
  if (!partner) {
    out.push(`OCPI partner '${cpo.ocpiPartnerId}' does not exist (yet): its Sessions are refused and the ocpi profile route cannot deliver until it is registered (/api/v1/ocpi)`);
    return out;
  }
  if (partner.state !== 'registered') out.push(`OCPI partner '${partner.id}' is not registered (state ${partner.state})`);
  else if (!findEndpoint(partner.endpoints, 'chargingprofiles', 'RECEIVER')) {
    out.push(
      cpo.profileRoute === 'ocpi'
        ? `OCPI partner '${partner.id}' lists no chargingprofiles RECEIVER endpoint: the ocpi profile route cannot deliver (every plan will fail)`
        : `OCPI partner '${partner.id}' lists no chargingprofiles RECEIVER endpoint: profileRoute ocpi would not work`,
    );
  }
  if (partner.state === 'registered' && !findEndpoint(partner.endpoints, 'sessions', 'SENDER')) {
    out.push(`OCPI partner '${partner.id}' lists no sessions SENDER endpoint (it can still push Sessions to us)`);
  }
  return out;
}
