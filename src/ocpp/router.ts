/** Routes inbound CALLs to the handler table of the connection's protocol version. */
import type { InboundDispatcher } from './transport.js';
import type { CsmsServices, HandlerCtx } from './context.js';
import type { OcppProtocol } from './protocol.js';
import { OcppCallError } from './errors.js';
import { handlers16 } from './v16/handlers.js';
import { handlers201 } from './v201/handlers.js';

type AnyHandler = (ctx: HandlerCtx, req: unknown) => Promise<unknown>;

const TABLES: Record<OcppProtocol, Readonly<Record<string, AnyHandler>>> = {
  'ocpp1.6': handlers16 as unknown as Record<string, AnyHandler>,
  'ocpp2.0.1': handlers201 as unknown as Record<string, AnyHandler>,
};

/** Charger-initiated actions Ampline handles, per version (derived from the handler tables). */
export const HANDLED_ACTIONS: Record<OcppProtocol, readonly string[]> = {
  'ocpp1.6': Object.keys(handlers16),
  'ocpp2.0.1': Object.keys(handlers201),
};

export function createDispatcher(svc: CsmsServices): InboundDispatcher {
  // Last registration status answered on each live connection (by epoch).
  const rejected = new Set<number>();
  return async (conn, action, payload) => {
    const handler = TABLES[conn.protocol][action];
    if (!handler) {
      // A known action of the version, but not one a charger initiates (e.g. a charger sending Reset).
      throw new OcppCallError('NotSupported', `${action} is not accepted from a charging station`);
    }
    svc.stations.touch(conn.stationId);
    if (action !== 'BootNotification' && rejected.has(conn.epoch)) {
      // B03: a Rejected station must not send other messages; answer SecurityError rather than act on them.
      throw new OcppCallError('SecurityError', 'BootNotification was rejected; boot again first');
    }
    const res = await handler({ conn, stationId: conn.stationId, svc }, payload);
    if (action === 'BootNotification') {
      if ((res as { status?: string }).status === 'Rejected') rejected.add(conn.epoch);
      else rejected.delete(conn.epoch);
    }
    return res;
  };
}
