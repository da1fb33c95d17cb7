// Placeholder: replaced by the OCPI Sessions sender (issue 8 §3).
import type { OcpiModule } from '../core/plugin.js';
import type { PartnerPrincipal } from '../credentials.js';
import type { OcpiNode } from '../node.js';
import type { CpoOcpiContext } from './context.js';

export class OcpiSessionsSender {
  constructor(readonly ctx: CpoOcpiContext) {}
  modules(_node: OcpiNode): OcpiModule<PartnerPrincipal>[] {
    return [];
  }
  start(_node: OcpiNode): void {}
  async stop(): Promise<void> {}
}
