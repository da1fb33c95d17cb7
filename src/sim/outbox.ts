/**
 * Transaction-message queue: Start/Stop/MeterValues (1.6) and TransactionEvent (2.0.1) are delivered
 * in order, survive disconnects (queued while offline, replayed after reconnect) and are retried after
 * a CALLERROR or timeout (1.6 §4.10 TransactionMessageAttempts / RetryInterval; 2.0.1 E13
 * OCPPCommCtrlr.MessageAttempts / MessageAttemptInterval), then dropped.
 */
import { OfflineError } from './connection.js';
import type { SimLogger, TxState } from './types.js';

export interface OutboxItem {
  action: string;
  payload: object;
  tx?: TxState;
  attempts: number;
  /** Queued while offline (2.0.1 sets `offline: true` on such TransactionEvents). */
  queuedOffline: boolean;
  /** Called synchronously with the CSMS's answer, before the next queued message is prepared. */
  onResult?: (res: unknown) => void;
  done?: { resolve: (res: unknown) => void; reject: (err: Error) => void };
}

export interface OutboxHost {
  /** Socket open and registration accepted. */
  isOnline(): boolean;
  send(action: string, payload: object): Promise<unknown>;
  /** Final payload just before sending (e.g. the 1.6 transactionId learnt meanwhile); null drops it. */
  prepare(item: OutboxItem): object | null;
  maxAttempts(): number;
  retryIntervalMs(attempt: number): number;
  log: SimLogger;
}

export class Outbox {
  private items: OutboxItem[] | undefined;
  private flushing: Promise<void> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private wake: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly host: OutboxHost) {}

  get size(): number {
    return this.items?.length ?? 0;
  }

  /** Any queued message (for one transaction, if given)? — 2.0.1 GetTransactionStatus.messagesInQueue. */
  has(txId?: string): boolean {
    return (this.items ?? []).some((i) => txId === undefined || i.tx?.id === txId);
  }

  /** Queue a message; resolves with the CSMS's response once delivered, rejects if dropped. */
  send(action: string, payload: object, tx?: TxState, onResult?: (res: unknown) => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const item: OutboxItem = { action, payload, attempts: 0, queuedOffline: !this.host.isOnline(), done: { resolve, reject } };
      if (tx) item.tx = tx;
      if (onResult) item.onResult = onResult;
      (this.items ??= []).push(item);
      void this.kick();
    });
  }

  /** Queue without waiting; a drop is only logged. */
  post(action: string, payload: object, tx?: TxState): void {
    this.send(action, payload, tx).catch((err: Error) =>
      this.host.log('warn', `${action} dropped`, { error: err.message }),
    );
  }

  /**
   * Start delivering if online (called after enqueue and after every (re)registration). Resolves when
   * the queue is empty or delivery paused (offline, station stopped).
   */
  kick(): Promise<void> {
    this.stopped = false;
    if (!this.flushing && this.host.isOnline() && this.size > 0) {
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
      });
    }
    return this.flushing ?? Promise.resolve();
  }

  private async flush(): Promise<void> {
    while (!this.stopped && this.host.isOnline() && this.items && this.items.length > 0) {
      const item = this.items[0] as OutboxItem;
      const payload = this.host.prepare(item);
      if (payload === null) {
        this.items.shift();
        item.done?.reject(new Error(`${item.action} dropped: its transaction never started`));
        continue;
      }
      try {
        const res = await this.host.send(item.action, payload);
        this.items.shift();
        item.onResult?.(res);
        item.done?.resolve(res);
      } catch (err) {
        if (!this.host.isOnline() || err instanceof OfflineError) return; // replay after reconnect
        item.attempts++;
        if (item.attempts >= this.host.maxAttempts()) {
          this.items.shift();
          this.host.log('warn', `${item.action} dropped after ${item.attempts} attempts`, { error: (err as Error).message });
          item.done?.reject(err instanceof Error ? err : new Error(String(err)));
          continue;
        }
        this.host.log('info', `${item.action} failed, retrying`, { attempt: item.attempts, error: (err as Error).message });
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.retryTimer = setTimeout(resolve, this.host.retryIntervalMs(item.attempts));
        });
        this.retryTimer = undefined;
        this.wake = undefined;
      }
    }
  }

  /** Stop retry timers (the queue itself is kept: it belongs to the station's persistent memory). */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.wake?.();
  }
}
