// Placeholder: replaced by the OCPI ChargingProfiles receiver (issue 8 §4).
import type { OcpiModule } from '../core/plugin.js';
import type { PartnerPrincipal } from '../credentials.js';
import type { OcpiNode } from '../node.js';
import type { CpoOcpiContext } from './context.js';

export class OcpiChargingProfilesReceiver {
  constructor(readonly ctx: CpoOcpiContext) {}
  modules(_node: OcpiNode): OcpiModule<PartnerPrincipal>[] {
    return [];
  }
  start(_node: OcpiNode): void {}
  async stop(): Promise<void> {}
}
