/**
 * What the SCSP's OCPI functional modules share: the SCSP services they use and **who may push and
 * steer what**.
 *
 * Access rule: an OCPI partner acts for exactly the CPO record whose `ocpiPartnerId` names it
 * (src/scsp/cpos.ts). A partner no (enabled) CPO names is refused on the Sessions receiver with status
 * 2000 and a message saying so (HTTP 200: the request is authenticated and well-formed — it is our
 * configuration that does not allow it). Sessions are then mapped among that CPO's paired stations
 * only; ChargingProfiles results and ActiveChargingProfile PUTs are only accepted for requests and
 * sessions of the calling partner.
 */
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';
import type { Cpo, CpoRegistry } from '../../scsp/cpos.js';
import type { PairingService } from '../../scsp/pairing.js';
import type { SessionStore, StationKey } from '../../scsp/sessions.js';
import type { ScspKysely } from '../../scsp/store.js';
import { OcpiError, OcpiStatus } from '../core/status.js';
import type { OcpiPartner } from '../storage.js';
import type { OcpiScspStore } from './store.js';

export interface ScspOcpiContext {
  db: ScspKysely;
  store: OcpiScspStore;
  clock: Clock;
  log: Logger;
  cpos: CpoRegistry;
  pairing: PairingService;
  sessions: SessionStore;
  /** Re-plan a station (the driver's `touch`, bound late). */
  touch: (st: StationKey) => void;
  /** Register background work (so `idle()` waits for it); optional. */
  work?: { begin(): () => void };
}

/** The CPO record the calling OCPI partner acts for, or a clear OCPI refusal. */
export async function cpoOfPartner(ctx: Pick<ScspOcpiContext, 'cpos'>, partner: OcpiPartner): Promise<Cpo> {
  const cpo = await ctx.cpos.byOcpiPartner(partner.id);
  if (!cpo) {
    throw new OcpiError(
      OcpiStatus.ClientError,
      `OCPI partner '${partner.id}' is not linked to a CPO of this SCSP: the SCSP operator must set ocpiPartnerId '${partner.id}' on the CPO record before sessions are accepted`,
    );
  }
  if (!cpo.enabled) throw new OcpiError(OcpiStatus.ClientError, `The CPO '${cpo.id}' linked to OCPI partner '${partner.id}' is disabled at this SCSP`);
  return cpo;
}
