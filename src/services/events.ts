/**
 * Domain event plumbing. Two kinds of subscribers:
 * - in-transaction hooks run inside the same database transaction as the state change (the SCSP outbox
 *   writes its rows there, so an event is recorded exactly when the change is);
 * - listeners run after commit (load balancer, dashboards, metrics); a failing listener is logged and
 *   never affects the charger's answer.
 */
import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import type { DomainEvent } from '../domain/model.js';
import type { Logger } from '../util/log.js';

export type TxHook = (trx: Transaction<Database>, event: DomainEvent) => Promise<void>;
export type Listener = (event: DomainEvent) => void;

export class DomainEvents {
  private readonly hooks: TxHook[] = [];
  private readonly listeners: Listener[] = [];
  constructor(private readonly log: Logger) {}

  addTxHook(h: TxHook): void {
    this.hooks.push(h);
  }
  subscribe(l: Listener): () => void {
    this.listeners.push(l);
    return () => {
      const i = this.listeners.indexOf(l);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }
  async inTx(trx: Transaction<Database>, event: DomainEvent): Promise<void> {
    for (const h of this.hooks) await h(trx, event);
  }
  publish(event: DomainEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.log.error({ err, event: event.type }, 'domain event listener failed');
      }
    }
  }
}
