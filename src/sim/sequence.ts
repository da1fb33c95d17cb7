/** Follow-up sequences both protocol personalities share (uploads, firmware steps, log uploads). */
import type { Station } from './station.js';

/** Upload-style sequence: one status message per step, `operationDelayMs` apart. */
export function steps(st: Station, list: (() => Promise<unknown>)[]): void {
  const run = (i: number) => {
    const step = list[i];
    if (!step) return;
    st.later(i === 0 ? 0 : st.operationDelayMs, async () => {
      await step();
      run(i + 1);
    });
  };
  run(0);
}

/**
 * GetLog (1.6 Security Extension and 2.0.1 N01): report Uploading then Uploaded through `notify` (the
 * version's LogStatusNotification) and return the file name the station answers with.
 */
export function uploadLog(
  st: Station,
  req: { logType: string; requestId: number },
  notify: (status: 'Uploading' | 'Uploaded') => Promise<unknown>,
): string {
  const step = (status: 'Uploading' | 'Uploaded') => () => {
    st.logStatus = { status, requestId: req.requestId };
    return notify(status);
  };
  steps(st, [step('Uploading'), step('Uploaded')]);
  return `${st.identity}-${req.logType === 'SecurityLog' ? 'security' : 'diagnostics'}-${req.requestId}.log`;
}
