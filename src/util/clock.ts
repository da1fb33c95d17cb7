/** Injected time source. Pure code takes `now` as an argument; shells take a Clock. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that runs `speed` times faster than wall time from `start` (demo acceleration). */
export function acceleratedClock(speed: number, start: Date = new Date()): Clock {
  const t0 = Date.now();
  const s0 = start.getTime();
  return { now: () => new Date(s0 + (Date.now() - t0) * speed) };
}

/** A clock that only moves when told to (tests). */
export class ManualClock implements Clock {
  private t: number;
  constructor(start: Date | string | number = '2025-01-01T00:00:00Z') {
    this.t = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.t);
  }
  set(t: Date | string | number): void {
    this.t = new Date(t).getTime();
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
