/** OCPP 1.6J driver: the messages a 1.6 charge point sends, and routing of CSMS calls to handlers16. */
import type { OCPP16 } from 'typed-ocpp';
import type { Outbound16, Req, Res } from './actions.js';
import { UNSUPPORTED_16 } from './actions.js';
import type { AuthStatus, BootReason, BootResponse, Driver, MeterContext, StartTrigger, StopTrigger } from './driver.js';
import { HANDLERS16 } from './handlers16.js';
import { buildSamples, type Sample } from './meter.js';
import type { OutboxItem } from './outbox.js';
import type { Station } from './station.js';
import type { ConnectorState, ConnectorStatus, EvseState, NeutralStopReason, TxState } from './types.js';

type SampledValue16 = OCPP16.MeterValuesRequest['meterValue'][number]['sampledValue'][number];
type MeterValue16 = OCPP16.MeterValuesRequest['meterValue'][number];
type Context16 = NonNullable<SampledValue16['context']>;
type StopReason16 = NonNullable<OCPP16.StopTransactionRequest['reason']>;

/** Typed 1.6 call (the CSMS's answer is schema-checked in Station.send). */
export function call16<A extends keyof Outbound16 & string>(st: Station, action: A, payload: Req<Outbound16, A>): Promise<Res<Outbound16, A>> {
  return st.send(action, payload as object) as Promise<Res<Outbound16, A>>;
}

const cut = (s: string, n: number) => s.slice(0, n);

export function samples16(samples: readonly Sample[], context: Context16): SampledValue16[] {
  return samples.map((s) => {
    const v: SampledValue16 = {
      value: String(s.value),
      context,
      measurand: s.measurand,
      unit: s.unit,
      location: s.location,
    };
    if (s.phase) v.phase = s.phase;
    return v;
  });
}

/** 1.6 has no ImmediateReset/SOCLimitReached/…: map the neutral reason onto the 1.6 enum. */
export function stopReason16(r: NeutralStopReason): StopReason16 {
  switch (r) {
    case 'ImmediateReset':
      return 'HardReset';
    case 'EnergyLimitReached':
    case 'SOCLimitReached':
    case 'StoppedByEV':
    case 'TimeLimitReached':
      return 'Other';
    default:
      return r;
  }
}

const HANDLED = new Set(Object.keys(HANDLERS16));
const UNSUPPORTED = new Set<string>(UNSUPPORTED_16);

export class Driver16 implements Driver {
  readonly protocol = 'ocpp1.6' as const;

  constructor(private readonly st: Station) {}

  boot(_reason: BootReason): Promise<BootResponse> {
    const o = this.st.opts;
    const req: OCPP16.BootNotificationRequest = {
      chargePointVendor: cut(o.vendor ?? 'Ampline', 20),
      chargePointModel: cut(o.model ?? 'SimCharger', 20),
    };
    if (o.serialNumber !== undefined) req.chargePointSerialNumber = cut(o.serialNumber, 25);
    req.firmwareVersion = cut(o.firmwareVersion ?? '1.0.0', 50);
    return call16(this.st, 'BootNotification', req);
  }

  wireStatus(status: ConnectorStatus): string {
    return status;
  }

  async heartbeat(): Promise<void> {
    await call16(this.st, 'Heartbeat', {});
  }

  async status(_e: EvseState | undefined, c: ConnectorState | undefined, status: ConnectorStatus): Promise<void> {
    await call16(this.st, 'StatusNotification', {
      connectorId: c?.globalId ?? 0,
      errorCode: 'NoError',
      status,
      timestamp: this.st.nowIso(),
    });
  }

  async authorize(idTag: string): Promise<AuthStatus> {
    const res = await call16(this.st, 'Authorize', { idTag });
    return res.idTagInfo.status;
  }

  private connectorOf(e: EvseState, connectorId: number): ConnectorState | undefined {
    return e.connectors.find((c) => c.id === connectorId) ?? e.connectors[0];
  }

  /** Resolve once delivered when online; when offline the message waits in the queue and we do not. */
  private deliveredOrQueued(p: Promise<unknown>): Promise<void> {
    if (this.st.online) return p.then(() => undefined);
    p.catch((err: Error) => this.st.log('warn', 'queued message dropped', { error: err.message }));
    return Promise.resolve();
  }

  startTransaction(e: EvseState, tx: TxState, _trigger: StartTrigger): Promise<AuthStatus> {
    const req: OCPP16.StartTransactionRequest = {
      connectorId: this.connectorOf(e, tx.connectorId)?.globalId ?? 1,
      idTag: tx.idTag,
      meterStart: tx.meterStartWh,
      timestamp: new Date(tx.startedAt).toISOString(),
    };
    if (tx.reservationId !== undefined) req.reservationId = tx.reservationId;
    let status: AuthStatus = 'Accepted';
    return this.st.outbox
      .send('StartTransaction', req, tx, (res) => {
        // Set synchronously: the queued MeterValues/StopTransaction behind it need the id (prepare()).
        const conf = res as OCPP16.StartTransactionResponse;
        tx.csmsId = conf.transactionId;
        status = conf.idTagInfo.status;
      })
      .then(() => status);
  }

  stopTransaction(e: EvseState, tx: TxState, reason: NeutralStopReason, _trigger: StopTrigger): Promise<void> {
    const now = this.st.nowIso();
    const c = this.connectorOf(e, tx.connectorId);
    const measurands = this.st.settings.list('measurands');
    const req: OCPP16.StopTransactionRequest = {
      transactionId: tx.csmsId ?? -1, // filled in by prepare() if the start is still queued
      meterStop: Math.round(e.energyWh),
      timestamp: now,
      reason: stopReason16(reason),
      idTag: tx.idTag,
    };
    if (c) {
      // StopTxnSampledData: the register at both ends of the transaction (1.6 §9.1.25).
      const begin = buildSamples({ energyWh: tx.meterStartWh, powerW: 0, phasesUsed: 1 }, c.elec, measurands, true);
      const end = buildSamples({ energyWh: e.energyWh, powerW: 0, phasesUsed: 1 }, c.elec, measurands, true);
      req.transactionData = [
        { timestamp: new Date(tx.startedAt).toISOString(), sampledValue: samples16(begin, 'Transaction.Begin') },
        { timestamp: now, sampledValue: samples16(end, 'Transaction.End') },
      ];
    }
    return this.deliveredOrQueued(this.st.outbox.send('StopTransaction', req, tx));
  }

  meterValues(e: EvseState, context: MeterContext): Promise<void> {
    const tx = e.tx && !e.tx.ended ? e.tx : undefined;
    const c = this.connectorOf(e, tx?.connectorId ?? e.plugged?.connectorId ?? 1);
    if (!c) return Promise.resolve();
    const phasesUsed = e.plugged && e.phasesUsed > 0 ? e.phasesUsed : c.elec.phases;
    const reading = { energyWh: e.energyWh, powerW: e.powerW, phasesUsed, ...(c.elec.dc && e.plugged ? { soc: e.plugged.soc } : {}) };
    const mv: MeterValue16 = {
      // The instant the register was integrated to (not a second clock read: under load the two differ
      // and the sample would claim energy for time that was not integrated).
      timestamp: tx ? new Date(e.lastUpdate).toISOString() : this.st.nowIso(),
      sampledValue: samples16(buildSamples(reading, c.elec, this.st.settings.list('measurands')), context),
    };
    const req: OCPP16.MeterValuesRequest = { connectorId: c.globalId, meterValue: [mv] };
    if (tx) {
      if (tx.csmsId !== undefined) req.transactionId = tx.csmsId;
      return this.deliveredOrQueued(this.st.outbox.send('MeterValues', req, tx));
    }
    if (!this.st.online) return Promise.resolve(); // sampled values outside transactions are not buffered
    return call16(this.st, 'MeterValues', req).then(() => undefined);
  }

  transactionUpdated(): void {
    // 1.6 reports charging-state changes with StatusNotification only (done by the station).
  }

  prepare(item: OutboxItem): object | null {
    const tx = item.tx;
    if (!tx || item.action === 'StartTransaction') return item.payload;
    if (tx.csmsId === undefined) return null; // its StartTransaction was never accepted
    return { ...item.payload, transactionId: tx.csmsId };
  }

  handles(action: string): boolean {
    return HANDLED.has(action);
  }

  unsupported(action: string): boolean {
    return UNSUPPORTED.has(action);
  }

  async dispatch(action: string, payload: unknown): Promise<unknown> {
    // Routing boundary: the payload has passed the action's request schema (Station.onCall).
    const handler = (HANDLERS16 as unknown as Record<string, (st: Station, req: unknown) => unknown>)[action];
    if (!handler) throw new Error(`no handler for ${action}`);
    return handler(this.st, payload);
  }
}
