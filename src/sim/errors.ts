/** Errors the simulator's public API throws. */
import type { AuthStatus } from './driver.js';

/** startSession did not start a transaction: the id tag was not accepted, or the EVSE could not be used. */
export class SessionRejectedError extends Error {
  constructor(readonly status: AuthStatus | 'Reserved' | 'Unavailable' | 'Busy') {
    super(`session not started: ${status}`);
    this.name = 'SessionRejectedError';
  }
}
