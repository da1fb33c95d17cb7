/**
 * The public face of a simulated charge point (OCPP 1.6J or 2.0.1). All behaviour lives in Station;
 * this class is the stable API used by tests, the demo and the benchmarks.
 */
import type { OcppProtocol } from '../ocpp/protocol.js';
import type { CompositeSchedule, Profile } from './composite.js';
import type { BootResponse } from './driver.js';
import { Station, type Registration } from './station.js';
import { connectorStatus, type ChargingCondition, type ConnectorStatus, type EvInput, type NeutralStopReason, type Responder, type SimChargePointOptions } from './types.js';
import type { RateUnit, Seconds } from './units.js';

export interface StartSessionRequest {
  evseId: number;
  connectorId?: number;
  idTag: string;
  ev?: EvInput;
}

export interface EvseSnapshot {
  evseId: number;
  /** Energy register (Wh). */
  energyWh: number;
  powerW: number;
  /** Limit currently offered to the EV: A per phase (AC) or W (DC). */
  offered: { limit: number; unit: RateUnit };
  /** Status of the connector in use (or the first connector). */
  status: ConnectorStatus;
  plugged: boolean;
  socPercent?: number;
  transaction?: {
    id: string;
    /** 1.6: the CSMS's transaction id once known. */
    csmsId?: number;
    idTag: string;
    startedAt: string;
    meterStartWh: number;
    condition: ChargingCondition;
  };
}

export class SimChargePoint {
  private readonly st: Station;

  constructor(options: SimChargePointOptions) {
    this.st = new Station(options);
  }

  get identity(): string {
    return this.st.identity;
  }

  get protocol(): OcppProtocol {
    return this.st.protocol;
  }

  /** Socket open and BootNotification accepted. */
  get online(): boolean {
    return this.st.online;
  }

  get registration(): Registration {
    return this.st.registration;
  }

  /** The CSMS's last BootNotification response. */
  get bootResponse(): BootResponse | undefined {
    return this.st.bootResponse;
  }

  /** Transaction messages waiting for delivery (offline queue / retries). */
  get queuedMessages(): number {
    return this.st.outbox.size;
  }

  /**
   * Open the socket (subprotocol exactly `[protocol]`), send BootNotification until Accepted (retrying
   * after `interval` on Pending/Rejected), send a StatusNotification per connector, start heartbeats.
   * Resolves with the accepted BootNotification response.
   */
  connect(): Promise<BootResponse> {
    return this.st.connect();
  }

  /** Close the socket and stop all timers. A later connect() boots again (power-up). */
  close(): Promise<void> {
    return this.st.close();
  }

  /** Simulate a network outage: the socket drops (no close frame) and stays down until goOnline(). */
  goOffline(): Promise<void> {
    return this.st.suspend();
  }

  goOnline(): Promise<void> {
    return this.st.resume();
  }

  /** Plug an EV into an EVSE's connector (1.6 Preparing / 2.0.1 Occupied). */
  plugIn(evseId: number, connectorId = 1, ev?: EvInput): Promise<void> {
    return this.st.plugIn(evseId, connectorId, ev);
  }

  /**
   * Authorize the id tag and start a transaction (plugging an EV in first if needed). Resolves with the
   * transaction id: 1.6 the CSMS's integer from StartTransaction.conf, 2.0.1 the station's own UUID.
   * Throws SessionRejectedError when the id tag is not accepted. If the CSMS rejects the id tag in
   * its start answer, the transaction is stopped at once (StopTransactionOnInvalidId).
   */
  startSession(req: StartSessionRequest): Promise<number | string> {
    return this.st.startSession(req);
  }

  /** End the transaction on an EVSE (1.6 StopTransaction / 2.0.1 TransactionEvent Ended). */
  stopSession(evseId: number, reason: NeutralStopReason = 'Local'): Promise<void> {
    return this.st.stopSession(evseId, reason);
  }

  /** Unplug the EV (ends a running transaction with reason EVDisconnected). */
  unplug(evseId: number): Promise<void> {
    return this.st.unplug(evseId);
  }

  /** Take and send a meter reading now (transaction message while charging). */
  sendMeterValues(evseId: number): Promise<void> {
    return this.st.sendMeterValues(evseId, 'Trigger');
  }

  /** Override answers to CSMS calls (undefined restores the default behaviour). */
  setResponder(responder: Responder | undefined): void {
    this.st.responder = responder;
  }

  /** Integrate energy up to the clock's now and report state changes (after advancing a ManualClock). */
  refresh(): void {
    this.st.refresh();
  }

  /** State of one EVSE, brought up to the clock's now. */
  evse(evseId: number): EvseSnapshot {
    const e = this.st.evse(evseId);
    if (!e) throw new Error(`${this.identity} has no EVSE ${evseId}`);
    this.st.update(e);
    const c = e.connectors.find((x) => x.id === (e.plugged?.connectorId ?? e.tx?.connectorId)) ?? e.connectors[0];
    const snap: EvseSnapshot = {
      evseId: e.id,
      energyWh: e.energyWh,
      powerW: e.powerW,
      offered: { limit: e.offered, unit: c?.elec.dc ? 'W' : 'A' },
      status: c ? connectorStatus(e, c, this.st.stationOperative) : 'Unavailable',
      plugged: !!e.plugged,
    };
    if (e.plugged) snap.socPercent = e.plugged.soc;
    if (e.tx && !e.tx.ended) {
      snap.transaction = {
        id: e.tx.id,
        idTag: e.tx.idTag,
        startedAt: new Date(e.tx.startedAt).toISOString(),
        meterStartWh: e.tx.meterStartWh,
        condition: e.tx.condition,
      };
      if (e.tx.csmsId !== undefined) snap.transaction.csmsId = e.tx.csmsId;
    }
    return snap;
  }

  /** Installed charging profiles (neutral model; 1.6 connector → its EVSE). */
  chargingProfiles(): readonly Profile[] {
    return this.st.profiles.all();
  }

  /** The station's own composite schedule (what GetCompositeSchedule would answer). */
  compositeSchedule(evseId: number, durationS: Seconds, unit?: RateUnit): CompositeSchedule | undefined {
    return this.st.composite(evseId, durationS, unit);
  }

  /**
   * A configuration value: 1.6 key (`HeartbeatInterval`) or 2.0.1 station variable
   * (`OCPPCommCtrlr.HeartbeatInterval`, `OCPPCommCtrlr.MessageAttempts[TransactionEvent]`).
   */
  getConfiguration(key: string): string | undefined {
    if (this.st.config16) return this.st.config16.get(key);
    const m = /^([^.[\]]+)\.([^.[\]]+)(?:\[([^\]]+)\])?$/.exec(key);
    return m ? this.st.dm?.read(m[1] ?? '', m[2] ?? '', m[3]) : undefined;
  }
}
