/**
 * The seam between the version-neutral station and one OCPP version: a driver builds and sends the
 * version's messages (protocol16.ts / protocol201.ts) and routes CSMS calls to its handler table
 * (handlers16.ts / handlers201.ts). The station never looks at a payload shape itself.
 */
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import type { OcppProtocol } from '../ocpp/protocol.js';
import type { OutboxItem } from './outbox.js';
import type { ConnectorState, ConnectorStatus, EvseState, NeutralStopReason, TxState } from './types.js';

export type BootResponse = OCPP16.BootNotificationResponse | OCPP20.BootNotificationResponse;
export type BootReason = OCPP20.BootNotificationRequest['reason'];

/** Union of the 1.6 and 2.0.1 authorization statuses. */
export type AuthStatus =
  | OCPP16.AuthorizeResponse['idTagInfo']['status']
  | OCPP20.AuthorizeResponse['idTokenInfo']['status'];

/** Why a transaction starts (2.0.1 triggerReason; 1.6 ignores it). */
export type StartTrigger = 'Authorized' | 'RemoteStart';
/** Why a transaction ends (2.0.1 triggerReason; 1.6 ignores it). */
export type StopTrigger = 'StopAuthorized' | 'RemoteStop' | 'EVCommunicationLost' | 'Deauthorized' | 'ResetCommand' | 'UnlockCommand' | 'AbnormalCondition';
export type UpdateTrigger = 'ChargingStateChanged' | 'ChargingRateChanged';
export type MeterContext = 'Sample.Periodic' | 'Trigger';

export interface Driver {
  readonly protocol: OcppProtocol;
  boot(reason: BootReason): Promise<BootResponse>;
  heartbeat(): Promise<void>;
  /** The status as this version reports it (2.0.1 folds Preparing…Finishing into Occupied). */
  wireStatus(status: ConnectorStatus): string;
  /** `e`/`c` undefined: the station as a whole (1.6 connector 0; nothing in 2.0.1). */
  status(e: EvseState | undefined, c: ConnectorState | undefined, status: ConnectorStatus): Promise<void>;
  authorize(idTag: string): Promise<AuthStatus>;
  /** Queue the start message; resolves with the id-token status once the CSMS answered. */
  startTransaction(e: EvseState, tx: TxState, trigger: StartTrigger): Promise<AuthStatus>;
  /** Queue the end message; resolves once the CSMS answered. */
  stopTransaction(e: EvseState, tx: TxState, reason: NeutralStopReason, trigger: StopTrigger): Promise<void>;
  /** A meter reading of the EVSE now: transaction message when a transaction runs, else plain MeterValues. */
  meterValues(e: EvseState, context: MeterContext): Promise<void>;
  /** 2.0.1 TransactionEvent(Updated) for a charging-state or rate change; 1.6 has no such message. */
  transactionUpdated(e: EvseState, tx: TxState, trigger: UpdateTrigger): void;
  /** Last-moment fix-up of a queued message (1.6: the transactionId learnt meanwhile); null drops it. */
  prepare(item: OutboxItem): object | null;
  /** Is this a CSMS action the handler table implements / a known one this simulator does not support? */
  handles(action: string): boolean;
  unsupported(action: string): boolean;
  dispatch(action: string, payload: unknown): Promise<unknown>;
}
