/** What every OCPP handler gets: the connection it serves and the domain services. */
import type { StationConnection } from './transport.js';
import type { StationService } from '../services/stations.js';
import type { TransactionService } from '../services/transactions.js';
import type { AuthService } from '../services/auth.js';
import type { SmartChargingService } from '../services/smart-charging.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { DomainEvents } from '../services/events.js';

export interface CsmsServices {
  stations: StationService;
  transactions: TransactionService;
  auth: AuthService;
  smart: SmartChargingService;
  clock: Clock;
  log: Logger;
  /** Domain events that are not state changes of the services (e.g. 2.0.1 NotifyChargingLimit); absent in some unit tests. */
  events?: Pick<DomainEvents, 'publish'>;
}

export interface HandlerCtx {
  conn: StationConnection;
  stationId: string;
  svc: CsmsServices;
}

/**
 * A complete handler table for an action map `M` (action → [request, response]): the compiler rejects
 * a missing action or a wrongly typed handler.
 */
export type HandlerTable<M extends { [K in keyof M]: [unknown, unknown] }> = {
  [A in keyof M]: (ctx: HandlerCtx, req: M[A][0]) => Promise<M[A][1]>;
};
