/**
 * The version-neutral core of a simulated charge point: connection lifecycle (boot, heartbeat,
 * reconnect, reboot), EVSE/transaction state, the EV's energy over time under the composite limit,
 * statuses, authorization, reservations and the installed charging profiles.
 *
 * Per-station cost is kept small for fleets of thousands: a heartbeat timer, one meter timer while a
 * transaction runs, shared handler tables and settings definitions, lazily allocated maps.
 */
import { randomUUID } from 'node:crypto';
import type { OCPP20 } from 'typed-ocpp';
import type { OcppProtocol } from '../ocpp/protocol.js';
import { systemClock, type Clock } from '../util/clock.js';
import { evseCompositeInput, gridCompositeInput, nextLimitChange, settleEnergy, updateCharging, usedConnector } from './charging.js';
import { compositeSchedule, type CompositeInput, type CompositeSchedule } from './composite.js';
import { Config16 } from './config16.js';
import { Connection } from './connection.js';
import { DeviceModel } from './device-model.js';
import type { AuthStatus, BootReason, BootResponse, Driver, MeterContext, StartTrigger, StopTrigger } from './driver.js';
import { Outbox, type OutboxItem } from './outbox.js';
import { ProfileStore } from './profiles.js';
import { SessionRejectedError } from './errors.js';
import { Driver16 } from './protocol16.js';
import { Driver201 } from './protocol201.js';
import { createRpcError, NOREPLY, type RpcHandlerContext } from './rpc.js';
import { SETTINGS, Settings, type SettingName } from './settings.js';
import {
  buildEvses,
  connectorStatus,
  DEFAULT_EVSES,
  evFor,
  type ConnectorState,
  type ConnectorStatus,
  type EvInput,
  type EvseState,
  type IdTokenType,
  type LogLevel,
  type NeutralStopReason,
  type Responder,
  type SimChargePointOptions,
  type TxState,
} from './types.js';
import type { EpochMs, RateUnit, Seconds } from './units.js';
import { validateRequest, validatorFor } from './validation.js';

export type Registration = 'none' | 'pending' | 'accepted' | 'rejected';

export interface StartSessionOptions {
  evseId: number;
  connectorId?: number;
  idTag: string;
  idTokenType?: IdTokenType;
  ev?: EvInput;
  /** 2.0.1 remoteStartId of a RequestStartTransaction. */
  remoteStartId?: number;
  /** CSMS-initiated start: Authorize only if AuthorizeRemoteTxRequests / AuthorizeRemoteStart. */
  remote?: boolean;
  /**
   * Called once the transaction runs (1.6: once StartTransaction.conf gave its id); remote starts use it
   * to install the TxProfile they carried.
   */
  onStarted?: (tx: TxState) => void;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class Station {
  readonly protocol: OcppProtocol;
  readonly identity: string;
  readonly clock: Clock;
  readonly evses: EvseState[];
  readonly profiles = new ProfileStore();
  readonly settings: Settings;
  readonly config16: Config16 | undefined;
  readonly dm: DeviceModel | undefined;
  readonly driver: Driver;
  readonly outbox: Outbox;
  readonly conn: Connection;
  readonly opts: SimChargePointOptions;
  readonly random: () => number;

  registration: Registration = 'none';
  bootResponse: BootResponse | undefined;
  stationOperative = true;
  /** 1.6 connector 0 status last sent. */
  stationReported: ConnectorStatus | undefined;
  responder: Responder | undefined;
  localList: Map<string, AuthStatus> | undefined;
  localListVersion = 0;
  authCache: Map<string, AuthStatus> | undefined;
  /** Last firmware status reported (2.0.1 enum, a superset of 1.6's), for TriggerMessage. */
  firmwareStatus: OCPP20.FirmwareStatusNotificationRequest['status'] = 'Idle';
  diagnosticsStatus: 'Idle' | 'Uploading' | 'Uploaded' | 'UploadFailed' = 'Idle';
  logStatus: { status: 'Idle' | 'Uploading' | 'Uploaded'; requestId?: number } = { status: 'Idle' };
  /** 2.0.1 Reset(OnIdle) answered Scheduled: reboot when the last transaction ends. */
  resetWhenIdle = false;
  /** One-shot actions after the next accepted boot (e.g. FirmwareStatusNotification Installed). */
  private bootHooks: (() => Promise<unknown>)[] | undefined;

  private closed = true;
  private bootReason: BootReason = 'PowerUp';
  private registered: { promise: Promise<BootResponse>; resolve: (r: BootResponse) => void; reject: (e: Error) => void } | undefined;
  private heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  private meterTimer: ReturnType<typeof setTimeout> | undefined;
  private nextMeterDue: EpochMs | undefined;
  private bootWait: { timer: ReturnType<typeof setTimeout>; wake: () => void } | undefined;
  private pending: Set<ReturnType<typeof setTimeout>> | undefined;
  private suspended = false;
  /** Incremented per socket opening: a boot loop of an older connection stops. */
  private generation = 0;

  constructor(opts: SimChargePointOptions) {
    this.opts = opts;
    this.protocol = opts.protocol;
    this.identity = opts.identity;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.responder = opts.responder;
    this.evses = buildEvses(opts.evses ?? DEFAULT_EVSES, this.nowMs());
    const meterIntervalS = opts.meterIntervalS ?? 60;
    if (this.protocol === 'ocpp1.6') {
      this.config16 = new Config16({ numberOfConnectors: this.allConnectors().length, meterIntervalS }, opts.config);
      this.dm = undefined;
      const cfg = this.config16;
      this.settings = new Settings((name) => cfg.get(SETTINGS[name].v16));
      this.driver = new Driver16(this);
    } else {
      this.config16 = undefined;
      const dm = new DeviceModel(
        {
          identity: this.identity,
          meterIntervalS,
          callTimeoutS: Math.round((opts.callTimeoutMs ?? 30_000) / 1000),
          securityProfile: opts.password !== undefined ? 1 : 0,
          evses: () =>
            this.evses.map((e) => ({
              id: e.id,
              connectors: e.connectors.map((c) => ({ id: c.id, type: c.type })),
              phases: Math.max(...e.connectors.map((c) => c.elec.phases)),
              maxPowerW: Math.max(...e.connectors.map((c) => c.elec.maxPowerW)),
            })),
          availability: (evseId, connectorId) => this.availabilityState(evseId, connectorId),
          now: () => this.clock.now(),
        },
        opts.config,
      );
      this.dm = dm;
      this.settings = new Settings((name) => {
        const ref: { component: string; variable: string; instance?: string } = SETTINGS[name].v201;
        return dm.read(ref.component, ref.variable, ref.instance);
      });
      this.driver = new Driver201(this);
    }
    const r = opts.reconnect ?? true;
    this.conn = new Connection({
      url: opts.url,
      identity: opts.identity,
      protocol: opts.protocol,
      ...(opts.password !== undefined ? { password: opts.password } : {}),
      callTimeoutMs: opts.callTimeoutMs ?? 30_000,
      reconnect:
        r === false
          ? false
          : {
              initialDelayMs: 1000,
              maxDelayMs: 30_000,
              factor: 2,
              jitter: 0.3,
              ...(r === true ? {} : r),
            },
      random: this.random,
      log: (level, message, fields) => this.log(level, message, fields),
      handler: (ctx) => this.onCall(ctx),
      onOpen: () => this.onSocketOpen(),
      onDrop: () => this.onSocketDrop(),
    });
    this.outbox = new Outbox({
      isOnline: () => this.online,
      send: (action, payload) => this.send(action, payload),
      prepare: (item: OutboxItem) => this.driver.prepare(item),
      maxAttempts: () => Math.max(1, this.settings.int('txMessageAttempts', 3)),
      retryIntervalMs: (attempt) => Math.max(0, this.settings.int('txMessageRetryInterval', 10)) * 1000 * attempt,
      log: (level, message, fields) => this.log(level, message, fields),
    });
  }

  // ── basics ──────────────────────────────────────────────────────────────────────────────────

  nowMs(): EpochMs {
    return this.clock.now().getTime();
  }

  nowIso(): string {
    return this.clock.now().toISOString();
  }

  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
    this.opts.logger?.(level, `${this.identity}: ${message}`, fields);
  }

  /** Socket open and registration accepted: the station may send anything. */
  get online(): boolean {
    return this.conn.open && this.registration === 'accepted';
  }

  get meterIntervalS(): Seconds {
    return this.settings.int('meterInterval', this.opts.meterIntervalS ?? 60);
  }

  allConnectors(): { e: EvseState; c: ConnectorState }[] {
    return this.evses.flatMap((e) => e.connectors.map((c) => ({ e, c })));
  }

  evse(evseId: number): EvseState | undefined {
    return this.evses.find((e) => e.id === evseId);
  }

  /** The EVSE and connector behind a 1.6 connectorId (> 0). */
  byGlobalConnector(globalId: number): { e: EvseState; c: ConnectorState } | undefined {
    return this.allConnectors().find(({ c }) => c.globalId === globalId);
  }

  /** The EVSE with a transaction whose own id (2.0.1) or CSMS id (1.6) matches. */
  evseByTransaction(id: string | number): EvseState | undefined {
    return this.evses.find((e) => e.tx && !e.tx.ended && (e.tx.id === id || (e.tx.csmsId !== undefined && e.tx.csmsId === id)));
  }

  /** Neutral transaction id used to match TxProfiles: 2.0.1 own id; 1.6 the CSMS integer as a string. */
  neutralTxId(tx: TxState): string {
    if (this.protocol === 'ocpp2.0.1') return tx.id;
    return tx.csmsId !== undefined ? String(tx.csmsId) : `local:${tx.id}`;
  }

  /** Schedule a one-off follow-up (firmware steps, reboot…) in wall ms; cancelled by close(). */
  later(ms: number, fn: () => unknown): void {
    const t = setTimeout(() => {
      this.pending?.delete(t);
      Promise.resolve()
        .then(fn)
        .catch((err: Error) => this.log('warn', 'follow-up failed', { error: err.message }));
    }, Math.max(0, ms));
    (this.pending ??= new Set()).add(t);
  }

  /** Run after the current CALLRESULT has been sent (follow-up messages of a CSMS request). */
  afterReply(fn: () => unknown): void {
    this.later(0, fn);
  }

  get operationDelayMs(): number {
    return this.opts.operationDelayMs ?? 200;
  }

  private wallMs(clockMs: number): number {
    return Math.min(MAX_TIMER_MS, Math.max(0, clockMs / (this.opts.clockSpeed ?? 1)));
  }

  // ── transport ───────────────────────────────────────────────────────────────────────────────

  /**
   * Send one CALL now (throws OfflineError when the socket is closed). The CSMS's answer is checked
   * against the response schema: a violation is logged, and fails the call with `strictResponses`.
   */
  send(action: string, payload: object): Promise<unknown> {
    if (this.opts.logger) this.log('debug', `→ ${action}`, { payload });
    return this.conn.call(action, payload).then((res) => {
      const v = validatorFor(this.protocol, `${action}Response`);
      if (v && !v(res)) {
        this.log('warn', `${action} response violates the schema`, { errors: v.errors, response: res });
        if (this.opts.strictResponses) throw new Error(`${action} response violates the schema`);
      }
      return res;
    });
  }

  private async onCall({ method, params }: RpcHandlerContext): Promise<unknown> {
    if (this.opts.logger) this.log('debug', `← ${method}`, { params });
    const scripted = await this.responder?.(method, params);
    if (scripted === 'noreply') return NOREPLY;
    if (scripted && 'error' in scripted) {
      throw createRpcError(scripted.error.code, scripted.error.description ?? '', scripted.error.details ?? {});
    }
    if (scripted && 'result' in scripted) {
      if (scripted.delayMs) await new Promise((r) => setTimeout(r, scripted.delayMs));
      return scripted.result;
    }
    if (!this.driver.handles(method)) {
      if (this.driver.unsupported(method)) throw createRpcError('NotSupported', `${method} is not supported`, {});
      throw createRpcError('NotImplemented', `Unable to handle '${method}' calls`, {});
    }
    if (this.opts.validateRequests ?? true) {
      const v = validateRequest(this.protocol, method, params);
      if (!v.ok) throw createRpcError(v.code, v.message, {});
    }
    try {
      return await this.driver.dispatch(method, params);
    } catch (err) {
      this.log('error', `${method} handler failed`, { error: (err as Error).message });
      throw createRpcError('InternalError', 'internal error', {});
    }
  }

  // ── connection lifecycle ────────────────────────────────────────────────────────────────────

  /** Open the socket and register (BootNotification until Accepted). Resolves when booted. */
  async connect(): Promise<BootResponse> {
    this.closed = false;
    this.suspended = false;
    if (this.registration === 'accepted' && this.conn.open && this.bootResponse) return this.bootResponse;
    const waiter = this.waitRegistered();
    await this.conn.connect();
    return waiter;
  }

  private waitRegistered(): Promise<BootResponse> {
    if (!this.registered) {
      let resolve!: (r: BootResponse) => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<BootResponse>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => undefined); // observed by connect(); avoid unhandled rejections otherwise
      this.registered = { promise, resolve, reject };
    }
    return this.registered.promise;
  }

  private onSocketOpen(): void {
    void this.afterOpen(++this.generation).catch((err: Error) => this.log('warn', 'post-connect sequence failed', { error: err.message }));
  }

  private async afterOpen(generation: number): Promise<void> {
    if (this.registration !== 'accepted' || this.opts.bootOnReconnect) {
      this.registration = this.registration === 'accepted' ? 'none' : this.registration;
      await this.bootLoop(generation);
      return;
    }
    // Reconnected without reboot: deliver what queued up, then the statuses that changed meanwhile.
    this.startHeartbeat();
    this.applyPingInterval();
    await this.outbox.kick();
    await this.refreshStatuses();
  }

  private async bootLoop(generation: number): Promise<void> {
    while (this.conn.open && !this.closed && generation === this.generation) {
      let res: BootResponse;
      try {
        res = await this.driver.boot(this.bootReason);
      } catch (err) {
        if (!this.conn.open || generation !== this.generation) return;
        this.log('warn', 'BootNotification failed', { error: (err as Error).message });
        await this.waitBoot(10_000);
        continue;
      }
      if (generation !== this.generation) return;
      this.bootResponse = res;
      if (res.status === 'Accepted') {
        this.registration = 'accepted';
        if (res.interval > 0) this.writeSetting('heartbeatInterval', String(res.interval));
        this.bootReason = 'PowerUp';
        await this.onRegistered();
        this.registered?.resolve(res);
        this.registered = undefined;
        return;
      }
      this.registration = res.status === 'Pending' ? 'pending' : 'rejected';
      this.log('info', `BootNotification ${res.status}`, { interval: res.interval });
      // B02/B03 (1.6 §4.2): retry after `interval`; a TriggerMessage(BootNotification) retries at once.
      await this.waitBoot((res.interval > 0 ? res.interval : 10) * 1000);
    }
  }

  private waitBoot(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.bootWait = undefined;
        resolve();
      }, ms);
      this.bootWait = {
        timer,
        wake: () => {
          clearTimeout(timer);
          this.bootWait = undefined;
          resolve();
        },
      };
    });
  }

  /** TriggerMessage(BootNotification) while not accepted: retry now. */
  bootNow(reason: BootReason = 'Triggered'): void {
    this.bootReason = reason;
    if (this.bootWait) this.bootWait.wake();
  }

  private async onRegistered(): Promise<void> {
    this.startHeartbeat();
    this.applyPingInterval();
    // A fresh boot reports every connector (1.6 connector 0 too).
    this.stationReported = undefined;
    for (const { c } of this.allConnectors()) c.reported = undefined;
    await this.outbox.kick();
    await this.refreshStatuses();
    const hooks = this.bootHooks ?? [];
    this.bootHooks = undefined;
    for (const hook of hooks) await hook().catch((err: Error) => this.log('warn', 'post-boot action failed', { error: err.message }));
    for (const e of this.evses) if (e.tx && !e.tx.ended) this.update(e);
    this.scheduleMeter();
  }

  onNextBoot(fn: () => Promise<unknown>): void {
    (this.bootHooks ??= []).push(fn);
  }

  /** TriggerMessage(BootNotification): retry now while not accepted, else send one and apply its interval. */
  async triggeredBoot(): Promise<void> {
    if (this.registration !== 'accepted') {
      this.bootNow('Triggered');
      return;
    }
    const res = await this.driver.boot('Triggered');
    this.bootResponse = res;
    if (res.status === 'Accepted' && res.interval > 0) {
      this.writeSetting('heartbeatInterval', String(res.interval));
      this.startHeartbeat();
    }
  }

  private onSocketDrop(): void {
    this.stopHeartbeat();
    this.bootWait?.wake();
    this.outbox.stop();
  }

  /** Close the connection and stop every timer. State (energy, profiles, queue) is kept. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopHeartbeat();
    if (this.meterTimer) clearTimeout(this.meterTimer);
    this.meterTimer = undefined;
    this.bootWait?.wake();
    for (const t of this.pending ?? []) clearTimeout(t);
    this.pending = undefined;
    for (const e of this.evses) if (e.reservation?.timer) clearTimeout(e.reservation.timer);
    this.outbox.stop();
    await this.conn.close();
    this.registration = 'none'; // a later connect() is a power-up: it boots again
    this.registered?.reject(new Error('closed'));
    this.registered = undefined;
  }

  /** Simulate a network outage: drop the socket (no close frame) and stay away until `resume()`. */
  async suspend(): Promise<void> {
    this.suspended = true;
    this.stopHeartbeat();
    this.outbox.stop();
    await this.conn.close(true);
  }

  async resume(): Promise<void> {
    if (!this.suspended) return;
    this.suspended = false;
    await this.conn.connect();
  }

  /** Reboot (Reset, firmware update): end transactions, drop the socket, come back and boot. */
  async reboot(reason: BootReason, stopReason: NeutralStopReason): Promise<void> {
    this.resetWhenIdle = false;
    for (const e of this.evses) {
      if (e.tx && !e.tx.ended) await this.stopSession(e.id, stopReason, 'ResetCommand').catch(() => undefined);
    }
    // Give queued transaction messages a moment to go out before the socket drops (they survive anyway).
    const deadline = Date.now() + 2000;
    while (this.outbox.size > 0 && this.online && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.log('info', 'rebooting', { reason });
    this.stopHeartbeat();
    if (this.meterTimer) clearTimeout(this.meterTimer);
    this.meterTimer = undefined;
    this.nextMeterDue = undefined;
    this.registration = 'none';
    this.bootReason = reason;
    await this.conn.close();
    if (this.closed) return;
    this.later(this.operationDelayMs, async () => {
      if (this.closed) return;
      await this.conn.connect().catch((err: Error) => this.log('warn', 'reconnect after reboot failed', { error: err.message }));
    });
  }

  // ── heartbeat & meter timers ────────────────────────────────────────────────────────────────

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** (Re)start the heartbeat with the current HeartbeatInterval (from BootNotification or the CSMS). */
  startHeartbeat(): void {
    this.stopHeartbeat();
    if (this.closed || !this.online) return;
    const s = this.settings.int('heartbeatInterval', 300);
    if (s <= 0) return;
    this.heartbeatTimer = setTimeout(this.onHeartbeat, Math.min(MAX_TIMER_MS, s * 1000));
  }

  private readonly onHeartbeat = (): void => {
    this.heartbeatTimer = undefined;
    if (!this.online) return;
    this.driver
      .heartbeat()
      .catch((err: Error) => this.log('warn', 'Heartbeat failed', { error: err.message }))
      .finally(() => this.startHeartbeat());
  };

  applyPingInterval(): void {
    this.conn.setPingInterval(this.settings.int('pingInterval', 0));
  }

  /** Setting changed by the CSMS: apply side effects. */
  onSettingChanged(name: SettingName | undefined): void {
    if (name === 'heartbeatInterval') this.startHeartbeat();
    if (name === 'meterInterval') {
      this.nextMeterDue = undefined;
      this.scheduleMeter();
    }
    if (name === 'pingInterval') this.applyPingInterval();
  }

  writeSetting(name: SettingName, value: string): void {
    if (this.config16) this.config16.setInternal(SETTINGS[name].v16, value);
    if (this.dm) {
      const ref: { component: string; variable: string; instance?: string } = SETTINGS[name].v201;
      this.dm.writeInternal(ref.component, ref.variable, value, ref.instance);
    }
  }

  private activeEvses(): EvseState[] {
    return this.evses.filter((e) => e.tx && !e.tx.ended);
  }

  /**
   * One timer per station while a transaction runs. It wakes at the next meter sample or the next
   * composite-limit boundary, whichever comes first (clock time, scaled to wall time by clockSpeed).
   */
  scheduleMeter(now: EpochMs = this.nowMs()): void {
    if (this.meterTimer) clearTimeout(this.meterTimer);
    this.meterTimer = undefined;
    if (this.closed || this.opts.bootOnly) return;
    const active = this.activeEvses();
    if (active.length === 0) {
      this.nextMeterDue = undefined;
      return;
    }
    const interval = this.meterIntervalS;
    if (interval > 0 && this.nextMeterDue === undefined) this.nextMeterDue = now + interval * 1000;
    if (interval <= 0) this.nextMeterDue = undefined;
    let wakeAt = this.nextMeterDue ?? now + 3_600_000;
    for (const e of active) {
      const next = nextLimitChange(e, this.profiles.all(), this.activeTxRef(e), now, (wakeAt - now) / 1000);
      if (next !== undefined && next < wakeAt) wakeAt = next;
    }
    this.meterTimer = setTimeout(this.onMeterTimer, this.wallMs(wakeAt - now));
  }

  private readonly onMeterTimer = (): void => {
    this.meterTimer = undefined;
    // One instant for the whole cycle: the EVSEs are brought up to `now` and the next wake-up is
    // searched from that same `now`. (Reading the clock twice let a boundary fall between the two
    // reads under load, so it was neither applied nor scheduled.)
    const now = this.nowMs();
    for (const e of this.activeEvses()) this.update(e, { now });
    if (this.nextMeterDue !== undefined && now >= this.nextMeterDue - 1) {
      const interval = this.meterIntervalS * 1000;
      while (interval > 0 && this.nextMeterDue <= now) this.nextMeterDue += interval;
      for (const e of this.activeEvses()) {
        this.driver.meterValues(e, 'Sample.Periodic').catch((err: Error) => this.log('warn', 'meter values failed', { error: err.message }));
      }
    }
    this.scheduleMeter(now);
  };

  // ── energy, limits, charging state (the maths lives in charging.ts) ───────────────────────

  /** Composite input for the EVSE with conversions at `phases` (EV's phases in use, or the EVSE's). */
  compositeInput(e: EvseState, phases?: number): CompositeInput {
    return evseCompositeInput(e, this.profiles.all(), this.activeTxRef(e), phases);
  }

  private activeTxRef(e: EvseState): { id: string; startedAt: EpochMs } | undefined {
    return e.tx && !e.tx.ended ? { id: this.neutralTxId(e.tx), startedAt: e.tx.startedAt } : undefined;
  }

  /** The charger's own composite schedule (GetCompositeSchedule); evseId 0 = grid connection. */
  composite(evseId: number, durationS: Seconds, unit: RateUnit | undefined): CompositeSchedule | undefined {
    const now = Math.floor(this.nowMs() / 1000) * 1000;
    if (evseId === 0) return compositeSchedule(gridCompositeInput(this.evses, this.profiles.all()), now, durationS, unit ?? 'W');
    const e = this.evse(evseId);
    if (!e) return undefined;
    const dc = usedConnector(e)?.elec.dc ?? false;
    return compositeSchedule(this.compositeInput(e), now, durationS, unit ?? (dc ? 'W' : 'A'));
  }

  /**
   * Bring an EVSE up to now: integrate energy, recompute the offered limit and the EV's draw, and
   * report a change of charging state (status / TransactionEvent) or of rate (2.0.1).
   */
  update(e: EvseState, opts: { rateChange?: boolean; quiet?: boolean; now?: EpochMs } = {}): void {
    const change = updateCharging(e, this.profiles.all(), this.activeTxRef(e), opts.now ?? this.nowMs(), this.limitChangeSignificance());
    const tx = e.tx;
    if (opts.quiet || !tx || change === 'none') return;
    if (change === 'condition') {
      this.driver.transactionUpdated(e, tx, 'ChargingStateChanged');
      void this.refreshStatuses();
    } else if (opts.rateChange) {
      this.driver.transactionUpdated(e, tx, 'ChargingRateChanged');
    }
  }

  /** 2.0.1 SmartChargingCtrlr.LimitChangeSignificance (percent); 1.6 reports no rate changes. */
  private limitChangeSignificance(): number {
    const pct = Number(this.dm?.read('SmartChargingCtrlr', 'LimitChangeSignificance') ?? '1');
    return Number.isFinite(pct) ? pct : 1;
  }

  private settle(e: EvseState, now: EpochMs): void {
    settleEnergy(e, this.profiles.all(), this.activeTxRef(e), now);
  }

  /** Settle every EVSE before the profile set changes, then apply the new limits. */
  mutateProfiles<T>(fn: () => T): T {
    const now = this.nowMs();
    for (const e of this.evses) this.settle(e, now);
    const out = fn();
    for (const e of this.evses) this.update(e, { rateChange: true, now });
    this.scheduleMeter(now);
    return out;
  }

  /** Integrate all EVSEs to the clock's now and update states (useful after advancing a ManualClock). */
  refresh(): void {
    const now = this.nowMs();
    for (const e of this.evses) this.update(e, { now });
    this.scheduleMeter(now);
  }

  // ── statuses ────────────────────────────────────────────────────────────────────────────────

  /** Send a StatusNotification for every connector whose status differs from what the CSMS last heard. */
  async refreshStatuses(): Promise<void> {
    if (!this.online) return;
    if (this.protocol === 'ocpp1.6') {
      const s: ConnectorStatus = this.stationOperative ? 'Available' : 'Unavailable';
      if (this.stationReported !== s) {
        this.stationReported = s;
        await this.driver.status(undefined, undefined, s).catch((err: Error) => {
          if (!this.online) this.stationReported = undefined;
          this.log('warn', 'StatusNotification failed', { error: err.message });
        });
      }
    }
    for (const { e, c } of this.allConnectors()) {
      const s = connectorStatus(e, c, this.stationOperative);
      const wire = this.driver.wireStatus(s);
      if (c.reported === wire) continue;
      c.reported = wire;
      await this.driver.status(e, c, s).catch((err: Error) => {
        if (!this.online) c.reported = undefined;
        this.log('warn', 'StatusNotification failed', { error: err.message });
      });
    }
  }

  /** TriggerMessage(StatusNotification): send the current status of one or all connectors. */
  async sendStatusNow(target?: { e: EvseState; c: ConnectorState }): Promise<void> {
    const list = target ? [target] : this.allConnectors();
    if (!target && this.protocol === 'ocpp1.6') {
      await this.driver.status(undefined, undefined, this.stationOperative ? 'Available' : 'Unavailable');
    }
    for (const { e, c } of list) {
      const s = connectorStatus(e, c, this.stationOperative);
      c.reported = this.driver.wireStatus(s);
      await this.driver.status(e, c, s);
    }
  }

  /** 2.0.1 AvailabilityState of the station / an EVSE / a connector. */
  availabilityState(evseId?: number, connectorId?: number): string {
    if (evseId === undefined) return this.stationOperative ? 'Available' : 'Unavailable';
    const e = this.evse(evseId);
    if (!e) return 'Unavailable';
    const c = e.connectors.find((x) => x.id === (connectorId ?? e.plugged?.connectorId ?? e.connectors[0]?.id));
    if (!c) return 'Unavailable';
    const s = connectorStatus(e, c, this.stationOperative);
    return ['Available', 'Reserved', 'Unavailable', 'Faulted'].includes(s) ? s : 'Occupied';
  }

  /** ChangeAvailability: Scheduled when a transaction is running on an affected EVSE. */
  setAvailability(evseId: number | undefined, operative: boolean): 'Accepted' | 'Scheduled' {
    const targets = evseId === undefined ? this.evses : this.evses.filter((e) => e.id === evseId);
    if (evseId === undefined) this.stationOperative = operative;
    for (const e of targets) e.operative = operative;
    const busy = targets.some((e) => e.tx && !e.tx.ended);
    void this.refreshStatuses();
    return !operative && busy ? 'Scheduled' : 'Accepted';
  }

  // ── authorization ───────────────────────────────────────────────────────────────────────────

  private localStatus(idTag: string): AuthStatus | undefined {
    if (this.settings.bool('localListEnabled', true)) {
      const s = this.localList?.get(idTag);
      if (s) return s;
    }
    if (this.settings.bool('authCacheEnabled', true)) return this.authCache?.get(idTag);
    return undefined;
  }

  /** Authorization as a charger does it: local pre-authorization, Authorize, offline rules. */
  async authorize(idTag: string, remote: boolean): Promise<AuthStatus> {
    if (remote && !this.settings.bool('authorizeRemoteStart', true)) return 'Accepted';
    const local = this.localStatus(idTag);
    if (this.online) {
      if (local === 'Accepted' && this.settings.bool('localPreAuthorize', false)) return 'Accepted';
      try {
        const status = await this.driver.authorize(idTag);
        if (this.settings.bool('authCacheEnabled', true)) (this.authCache ??= new Map()).set(idTag, status);
        return status;
      } catch (err) {
        if (this.online) throw err;
      }
    }
    if (this.settings.bool('localAuthorizeOffline', true) && local !== undefined) return local;
    return this.settings.bool('offlineTxForUnknownId', true) ? 'Accepted' : 'Invalid';
  }

  // ── sessions ────────────────────────────────────────────────────────────────────────────────

  private requireEvse(evseId: number): EvseState {
    const e = this.evse(evseId);
    if (!e) throw new Error(`${this.identity} has no EVSE ${evseId}`);
    return e;
  }

  async plugIn(evseId: number, connectorId = 1, ev?: EvInput): Promise<void> {
    const e = this.requireEvse(evseId);
    const c = e.connectors.find((x) => x.id === connectorId);
    if (!c) throw new Error(`EVSE ${evseId} has no connector ${connectorId}`);
    if (e.plugged) throw new Error(`EVSE ${evseId} already has an EV plugged in`);
    this.settle(e, this.nowMs());
    const spec = evFor(ev, c.elec);
    e.plugged = { connectorId, ev: spec, soc: spec.socPercent, reportSoc: c.elec.dc || ev?.socPercent !== undefined };
    e.finishing = false;
    await this.refreshStatuses();
  }

  /** Authorize, start the transaction, return the CSMS's (1.6) or own (2.0.1) transaction id. */
  async startSession(o: StartSessionOptions): Promise<number | string> {
    const e = this.requireEvse(o.evseId);
    const connectorId = o.connectorId ?? e.plugged?.connectorId ?? e.connectors[0]?.id ?? 1;
    if (e.tx && !e.tx.ended) throw new SessionRejectedError('Busy');
    if (!this.stationOperative || !e.operative) throw new SessionRejectedError('Unavailable');
    const res = e.reservation;
    if (res && res.idTag !== o.idTag && res.parentIdTag !== o.idTag) throw new SessionRejectedError('Reserved');
    const status = await this.authorize(o.idTag, o.remote ?? false);
    if (status !== 'Accepted') throw new SessionRejectedError(status);
    if (e.tx && !e.tx.ended) throw new SessionRejectedError('Busy'); // raced with another start
    if (!e.plugged) await this.plugIn(o.evseId, connectorId, o.ev);
    else if (o.ev) {
      const c = usedConnector(e);
      if (c) {
        e.plugged.ev = evFor(o.ev, c.elec);
        e.plugged.soc = e.plugged.ev.socPercent;
        e.plugged.reportSoc = c.elec.dc || o.ev.socPercent !== undefined;
      }
    }
    const now = this.nowMs();
    this.settle(e, now);
    const tx: TxState = {
      id: randomUUID(),
      connectorId: e.plugged?.connectorId ?? connectorId,
      idTag: o.idTag,
      startedAt: now,
      meterStartWh: Math.round(e.energyWh),
      seqNo: 0,
      condition: 'Charging',
      deauthorized: false,
      ended: false,
    };
    if (o.remoteStartId !== undefined) tx.remoteStartId = o.remoteStartId;
    if (o.idTokenType !== undefined) tx.idTokenType = o.idTokenType;
    if (res) {
      tx.reservationId = res.id;
      if (res.timer) clearTimeout(res.timer);
      e.reservation = undefined;
    }
    e.tx = tx;
    e.finishing = false;
    this.update(e, { quiet: true }); // initial charging state goes out with the start message
    const trigger: StartTrigger = o.remote ? 'RemoteStart' : 'Authorized';
    const wasOnline = this.online;
    const delivered = this.driver.startTransaction(e, tx, trigger);
    if (this.protocol === 'ocpp2.0.1') o.onStarted?.(tx);
    void this.refreshStatuses();
    this.scheduleMeter();
    const afterDelivery = delivered.then(
      (idStatus) => {
        if (this.protocol === 'ocpp1.6' && !tx.ended) o.onStarted?.(tx);
        if (idStatus !== 'Accepted' && !tx.ended) this.onInvalidId(e, tx);
      },
      (err: Error) => this.log('warn', 'transaction start not delivered', { error: err.message }),
    );
    // 2.0.1 owns its id: no need to wait while offline. 1.6 needs the CSMS's id.
    if (this.protocol === 'ocpp2.0.1' && !wasOnline) return tx.id;
    await afterDelivery;
    if (this.protocol === 'ocpp2.0.1') return tx.id;
    if (tx.csmsId === undefined) throw new Error('StartTransaction was not delivered');
    return tx.csmsId;
  }

  /** The CSMS rejected the id tag after the start (1.6 StartTransaction.conf, 2.0.1 E05). */
  private onInvalidId(e: EvseState, tx: TxState): void {
    if (this.settings.bool('stopTxOnInvalidId', true)) {
      void this.stopSession(e.id, 'DeAuthorized', 'Deauthorized').catch((err: Error) =>
        this.log('warn', 'stop after invalid id failed', { error: err.message }),
      );
      return;
    }
    this.settle(e, this.nowMs());
    tx.deauthorized = true;
    this.update(e);
  }

  async stopSession(evseId: number, reason: NeutralStopReason = 'Local', trigger?: StopTrigger): Promise<void> {
    const e = this.requireEvse(evseId);
    const tx = e.tx;
    if (!tx || tx.ended) throw new Error(`no transaction on EVSE ${evseId}`);
    const now = this.nowMs();
    this.settle(e, now);
    tx.ended = true;
    e.offered = 0;
    e.powerW = 0;
    e.finishing = !!e.plugged;
    const wasOnline = this.online;
    const delivered = this.driver.stopTransaction(e, tx, reason, trigger ?? defaultStopTrigger(reason));
    e.tx = undefined;
    this.profiles.removeTransactionProfiles(e.id);
    void this.refreshStatuses();
    this.scheduleMeter();
    if (this.resetWhenIdle && this.activeEvses().length === 0) {
      this.afterReply(() => this.reboot('ScheduledReset', 'ImmediateReset'));
    }
    if (!wasOnline) {
      delivered.catch((err: Error) => this.log('warn', 'transaction end not delivered', { error: err.message }));
      return;
    }
    await delivered.catch((err: Error) => this.log('warn', 'transaction end not delivered', { error: err.message }));
  }

  async unplug(evseId: number): Promise<void> {
    const e = this.requireEvse(evseId);
    if (!e.plugged) return;
    // 1.6 StopTransactionOnEVSideDisconnect / 2.0.1 TxStopPoint EVConnected: the cable ends the transaction.
    if (e.tx && !e.tx.ended) await this.stopSession(evseId, 'EVDisconnected', 'EVCommunicationLost');
    this.settle(e, this.nowMs());
    e.plugged = undefined;
    e.finishing = false;
    await this.refreshStatuses();
  }

  /** A meter reading now (TriggerMessage, tests): transaction message while charging, else plain. */
  async sendMeterValues(evseId: number, context: MeterContext = 'Trigger'): Promise<void> {
    const e = this.requireEvse(evseId);
    this.update(e);
    await this.driver.meterValues(e, context);
  }

  // ── reservations ────────────────────────────────────────────────────────────────────────────

  reserve(e: EvseState, id: number, idTag: string, expiresAt: EpochMs, parentIdTag?: string): void {
    if (e.reservation?.timer) clearTimeout(e.reservation.timer);
    const timer = setTimeout(() => this.expireReservation(e, id), this.wallMs(expiresAt - this.nowMs()));
    e.reservation = { id, idTag, expiresAt, timer, ...(parentIdTag !== undefined ? { parentIdTag } : {}) };
    void this.refreshStatuses();
  }

  private expireReservation(e: EvseState, id: number): void {
    if (e.reservation?.id !== id) return;
    e.reservation = undefined;
    void this.refreshStatuses();
    if (this.protocol === 'ocpp2.0.1' && this.online) {
      this.send('ReservationStatusUpdate', { reservationId: id, reservationUpdateStatus: 'Expired' }).catch(() => undefined);
    }
  }

  cancelReservation(id: number): boolean {
    const e = this.evses.find((x) => x.reservation?.id === id);
    if (!e?.reservation) return false;
    if (e.reservation.timer) clearTimeout(e.reservation.timer);
    e.reservation = undefined;
    void this.refreshStatuses();
    return true;
  }
}

function defaultStopTrigger(reason: NeutralStopReason): StopTrigger {
  switch (reason) {
    case 'Remote':
      return 'RemoteStop';
    case 'EVDisconnected':
      return 'EVCommunicationLost';
    case 'DeAuthorized':
      return 'Deauthorized';
    case 'HardReset':
    case 'SoftReset':
    case 'ImmediateReset':
    case 'Reboot':
      return 'ResetCommand';
    case 'UnlockCommand':
      return 'UnlockCommand';
    case 'EmergencyStop':
    case 'PowerLoss':
      return 'AbnormalCondition';
    default:
      return 'StopAuthorized';
  }
}
