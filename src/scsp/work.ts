/**
 * Outstanding background work (planning runs, deliveries, their timers), so that `idle()` can wait until
 * everything the SCSP set in motion has settled — tests use it instead of sleeping.
 */
export class WorkTracker {
  private n = 0;
  private waiters: Array<() => void> = [];

  /** Registers one piece of work; call the returned function (once) when it is done. */
  begin(): () => void {
    this.n++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.n--;
      if (this.n === 0) {
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f();
      }
    };
  }

  get pending(): number {
    return this.n;
  }

  /** Resolves when no work is outstanding. */
  idle(): Promise<void> {
    return this.n === 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
}
