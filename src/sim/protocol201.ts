/** OCPP 2.0.1 driver: the messages a 2.0.1 station sends, and routing of CSMS calls to handlers201. */
import type { OCPP20 } from 'typed-ocpp';
import type { Outbound201, Req, Res } from './actions.js';
import { UNSUPPORTED_201 } from './actions.js';
import type { AuthStatus, BootReason, BootResponse, Driver, MeterContext, StartTrigger, StopTrigger, UpdateTrigger } from './driver.js';
import { HANDLERS201 } from './handlers201.js';
import { buildSamples, phasesInUse, type Sample } from './meter.js';
import type { OutboxItem } from './outbox.js';
import type { Station } from './station.js';
import { connectorStatus201, type ConnectorState, type ConnectorStatus, type EvseState, type NeutralStopReason, type TxState } from './types.js';

type TransactionEvent = OCPP20.TransactionEventRequest;
type MeterValue201 = NonNullable<TransactionEvent['meterValue']>[number];
type SampledValue201 = MeterValue201['sampledValue'][number];
type Context201 = NonNullable<SampledValue201['context']>;
type Reason201 = NonNullable<TransactionEvent['transactionInfo']['stoppedReason']>;
type ChargingState201 = NonNullable<TransactionEvent['transactionInfo']['chargingState']>;

/** Typed 2.0.1 call (the CSMS's answer is schema-checked in Station.send). */
export function call201<A extends keyof Outbound201 & string>(
  st: Station,
  action: A,
  payload: Req<Outbound201, A>,
): Promise<Res<Outbound201, A>> {
  return st.send(action, payload as object) as Promise<Res<Outbound201, A>>;
}

const cut = (s: string, n: number) => s.slice(0, n);

export function samples201(samples: readonly Sample[], context: Context201): SampledValue201[] {
  return samples.map((s) => {
    const v: SampledValue201 = {
      value: s.value,
      context,
      measurand: s.measurand,
      location: s.location,
      unitOfMeasure: { unit: s.unit },
    };
    if (s.phase) v.phase = s.phase;
    return v;
  });
}

/** 2.0.1 has no Hard/SoftReset or UnlockCommand stop reasons. */
export function stopReason201(r: NeutralStopReason): Reason201 {
  switch (r) {
    case 'HardReset':
    case 'SoftReset':
      return 'ImmediateReset';
    case 'UnlockCommand':
      return 'Other';
    default:
      return r;
  }
}

function chargingState(tx: TxState): ChargingState201 {
  return tx.condition;
}

const HANDLED = new Set(Object.keys(HANDLERS201));
const UNSUPPORTED = new Set<string>(UNSUPPORTED_201);

export class Driver201 implements Driver {
  readonly protocol = 'ocpp2.0.1' as const;

  constructor(private readonly st: Station) {}

  boot(reason: BootReason): Promise<BootResponse> {
    const o = this.st.opts;
    const chargingStation: OCPP20.BootNotificationRequest['chargingStation'] = {
      model: cut(o.model ?? 'SimCharger', 20),
      vendorName: cut(o.vendor ?? 'Ampline', 50),
      firmwareVersion: cut(o.firmwareVersion ?? '1.0.0', 50),
    };
    if (o.serialNumber !== undefined) chargingStation.serialNumber = cut(o.serialNumber, 25);
    return call201(this.st, 'BootNotification', { reason, chargingStation });
  }

  wireStatus(status: ConnectorStatus): string {
    return connectorStatus201(status);
  }

  async heartbeat(): Promise<void> {
    await call201(this.st, 'Heartbeat', {});
  }

  async status(e: EvseState | undefined, c: ConnectorState | undefined, status: ConnectorStatus): Promise<void> {
    if (!e || !c) return; // 2.0.1 reports connectors only
    await call201(this.st, 'StatusNotification', {
      timestamp: this.st.nowIso(),
      connectorStatus: connectorStatus201(status),
      evseId: e.id,
      connectorId: c.id,
    });
  }

  async authorize(idTag: string): Promise<AuthStatus> {
    const res = await call201(this.st, 'Authorize', { idToken: { idToken: idTag, type: 'ISO14443' } });
    return res.idTokenInfo.status;
  }

  private deliveredOrQueued(p: Promise<unknown>): Promise<void> {
    if (this.st.online) return p.then(() => undefined);
    p.catch((err: Error) => this.st.log('warn', 'queued message dropped', { error: err.message }));
    return Promise.resolve();
  }

  private reading(e: EvseState, c: ConnectorState, energyWh = e.energyWh) {
    const pl = e.plugged;
    return {
      energyWh,
      powerW: e.powerW,
      phasesUsed: pl && e.phasesUsed > 0 ? e.phasesUsed : c.elec.phases,
      ...(pl && (c.elec.dc || pl.reportSoc) ? { soc: pl.soc } : {}),
    };
  }

  private meterValue(
    e: EvseState,
    c: ConnectorState,
    context: Context201,
    energyOnly: boolean,
    // The instant the register was integrated to during a transaction (see protocol16.ts meterValues).
    timestamp = e.tx && !e.tx.ended ? new Date(e.lastUpdate).toISOString() : this.st.nowIso(),
  ): MeterValue201 {
    const measurands = this.st.settings.list('measurands');
    return { timestamp, sampledValue: samples201(buildSamples(this.reading(e, c), c.elec, measurands, energyOnly), context) };
  }

  private connectorOf(e: EvseState, connectorId: number): ConnectorState | undefined {
    return e.connectors.find((x) => x.id === connectorId) ?? e.connectors[0];
  }

  private event(e: EvseState, tx: TxState, eventType: TransactionEvent['eventType'], triggerReason: TransactionEvent['triggerReason']): TransactionEvent {
    return {
      eventType,
      timestamp: this.st.nowIso(),
      triggerReason,
      seqNo: tx.seqNo++,
      transactionInfo: { transactionId: tx.id, chargingState: chargingState(tx) },
      evse: { id: e.id, connectorId: tx.connectorId },
    };
  }

  startTransaction(e: EvseState, tx: TxState, trigger: StartTrigger): Promise<AuthStatus> {
    const c = this.connectorOf(e, tx.connectorId);
    const ev = this.event(e, tx, 'Started', trigger);
    ev.timestamp = new Date(tx.startedAt).toISOString();
    if (tx.remoteStartId !== undefined) ev.transactionInfo.remoteStartId = tx.remoteStartId;
    ev.idToken = { idToken: tx.idTag, type: tx.idTokenType ?? 'ISO14443' };
    if (tx.reservationId !== undefined) ev.reservationId = tx.reservationId;
    if (c) {
      if (!c.elec.dc && e.plugged) ev.numberOfPhasesUsed = e.phasesUsed > 0 ? e.phasesUsed : phasesInUse(c.elec, e.plugged.ev);
      ev.meterValue = [this.meterValue(e, c, 'Transaction.Begin', true, ev.timestamp)];
    }
    let status: AuthStatus = 'Accepted';
    return this.st.outbox
      .send('TransactionEvent', ev, tx, (res) => {
        status = (res as OCPP20.TransactionEventResponse).idTokenInfo?.status ?? 'Accepted';
      })
      .then(() => status);
  }

  stopTransaction(e: EvseState, tx: TxState, reason: NeutralStopReason, trigger: StopTrigger): Promise<void> {
    const c = this.connectorOf(e, tx.connectorId);
    const ev = this.event(e, tx, 'Ended', trigger);
    ev.transactionInfo.chargingState = e.plugged ? 'EVConnected' : 'Idle';
    ev.transactionInfo.stoppedReason = stopReason201(reason);
    if (trigger === 'StopAuthorized') ev.idToken = { idToken: tx.idTag, type: tx.idTokenType ?? 'ISO14443' };
    if (c) ev.meterValue = [this.meterValue(e, c, 'Transaction.End', true)];
    return this.deliveredOrQueued(this.st.outbox.send('TransactionEvent', ev, tx));
  }

  meterValues(e: EvseState, context: MeterContext): Promise<void> {
    const tx = e.tx && !e.tx.ended ? e.tx : undefined;
    const c = this.connectorOf(e, tx?.connectorId ?? e.plugged?.connectorId ?? 1);
    if (!c) return Promise.resolve();
    if (tx) {
      // E02: meter values during a transaction travel in TransactionEvent(Updated).
      const ev = this.event(e, tx, 'Updated', context === 'Trigger' ? 'Trigger' : 'MeterValuePeriodic');
      ev.meterValue = [this.meterValue(e, c, context, false)];
      return this.deliveredOrQueued(this.st.outbox.send('TransactionEvent', ev, tx));
    }
    if (!this.st.online) return Promise.resolve();
    return call201(this.st, 'MeterValues', { evseId: e.id, meterValue: [this.meterValue(e, c, context, false)] }).then(() => undefined);
  }

  /** A plain MeterValuesRequest (TriggerMessage(MeterValues), F06), also during a transaction. */
  async plainMeterValues(e: EvseState): Promise<void> {
    const c = this.connectorOf(e, e.tx?.connectorId ?? e.plugged?.connectorId ?? 1);
    if (!c) return;
    await call201(this.st, 'MeterValues', { evseId: e.id, meterValue: [this.meterValue(e, c, 'Trigger', false)] });
  }

  /** TriggerMessage(TransactionEvent): TransactionEvent(Updated, Trigger) with the current meter values. */
  triggeredEvent(e: EvseState, tx: TxState): Promise<void> {
    const c = this.connectorOf(e, tx.connectorId);
    const ev = this.event(e, tx, 'Updated', 'Trigger');
    if (c) ev.meterValue = [this.meterValue(e, c, 'Trigger', false)];
    return this.deliveredOrQueued(this.st.outbox.send('TransactionEvent', ev, tx));
  }

  transactionUpdated(e: EvseState, tx: TxState, trigger: UpdateTrigger): void {
    const ev = this.event(e, tx, 'Updated', trigger);
    const c = this.connectorOf(e, tx.connectorId);
    if (c && trigger === 'ChargingRateChanged') ev.meterValue = [this.meterValue(e, c, 'Trigger', false)];
    this.st.outbox.post('TransactionEvent', ev, tx);
  }

  prepare(item: OutboxItem): object | null {
    // E04: messages generated while offline are flagged when they are finally delivered.
    return item.queuedOffline ? { ...item.payload, offline: true } : item.payload;
  }

  handles(action: string): boolean {
    return HANDLED.has(action);
  }

  unsupported(action: string): boolean {
    return UNSUPPORTED.has(action);
  }

  async dispatch(action: string, payload: unknown): Promise<unknown> {
    // Routing boundary: the payload has passed the action's request schema (Station.onCall).
    const handler = (HANDLERS201 as unknown as Record<string, (st: Station, req: unknown) => unknown>)[action];
    if (!handler) throw new Error(`no handler for ${action}`);
    return handler(this.st, payload);
  }
}
