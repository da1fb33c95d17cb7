/**
 * A fallback TxDefault the station refuses (as it would on a stack-level conflict with a TxDefault an
 * operator installed) is not sent again at every tick: the balancer backs off per EVSE (1 min, doubling,
 * capped) and starts over when the station reconnects or someone else changes its profiles.
 *
 * A real simulated 2.0.1 station over a real socket; its responder refuses the fallback (and counts every
 * SetChargingProfile for it). CSMS and station share a ManualClock, so the back-off only runs out when the
 * test advances the clock, while the balancer keeps ticking every second in wall time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { SimChargePoint, type Amps } from '../../src/sim/index.js';
import { loadConfig } from '../../src/config.js';
import { startCsms } from '../../src/csms/app.js';
import { createLogger } from '../../src/util/log.js';
import { tempDir } from '../helpers/csms.js';
import { waitFor } from '../helpers/wire.js';
import { BALANCER_FALLBACK_PROFILE_BASE, FALLBACK_RETRY_INITIAL_MS, parseSites } from '../../src/services/load-balancer.js';
import { ManualClock } from '../../src/util/clock.js';
import type { ChargingProfile } from '../../src/smart/profile.js';

const SITE = 'refusing-site';
const STATION = 'LB-REFUSE';
const FALLBACK = BALANCER_FALLBACK_PROFILE_BASE + 1;

test('a refused fallback TxDefault is retried after an exponential back-off, not at every tick; reconnects and profile changes retry at once', async () => {
  const clock = new ManualClock('2025-03-03T10:00:00Z');
  // The CSMS's log (info and above), to count the balancer's warnings (one per back-off step); hence
  // startCsms here rather than startTestCsms, whose logger is silent.
  const logged: Array<{ level: number; msg: string; refusals?: number; retryInS?: number }> = [];
  let partial = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') logged.push(JSON.parse(line));
      done();
    },
  });
  const dataDir = tempDir();
  const config = loadConfig({ AMPLINE_API_KEY: 'test-api-key-123' }, { host: '127.0.0.1', port: 0, dataDir, logLevel: 'info' });
  const csms = await startCsms(config, { clock, log: createLogger({ level: 'info', destination }) });
  const backoffWarnings = () => logged.filter((l) => l.msg === 'load-balancer fallback TxDefault not installed; retrying after a back-off');
  let refusing = true;
  /** SetChargingProfile requests for the fallback the station received. */
  let attempts = 0;
  const cp = new SimChargePoint({
    url: csms.ocppUrl,
    identity: STATION,
    protocol: 'ocpp2.0.1',
    clock,
    evses: [{ id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 32 as Amps }] }],
    meterIntervalS: 0,
    reconnect: false,
    responder: (action, payload) => {
      if (action !== 'SetChargingProfile' || (payload as { chargingProfile?: { id?: number } }).chargingProfile?.id !== FALLBACK) return undefined;
      attempts++;
      return refusing ? { result: { status: 'Rejected', statusInfo: { reasonCode: 'DuplicateProfile' } } } : undefined;
    },
  });
  /** Wait for `n` more balancer ticks (each leaves a new `lastTick`). */
  const ticks = async (n: number): Promise<void> => {
    let seen = csms.balancer.status(SITE)?.lastTick;
    let count = 0;
    await waitFor(
      () => {
        const t = csms.balancer.status(SITE)?.lastTick;
        if (t !== seen) {
          seen = t;
          count++;
        }
        return count >= n;
      },
      { timeoutMs: 15_000, what: `${n} balancer ticks` },
    );
  };
  try {
    csms.balancer.setSite(parseSites([{ id: SITE, limit: { perPhaseA: 32 }, tickS: 1, stations: [{ id: STATION }] }])[0]!);
    await cp.connect();
    await waitFor(() => attempts === 1, { timeoutMs: 15_000, what: 'the first fallback attempt' });

    // Refused: the ticks go on (one a second), the fallback is not sent again before the back-off ends.
    await ticks(3);
    assert.equal(attempts, 1, 'no retry within the first back-off step');
    assert.deepEqual(backoffWarnings().map((l) => [l.refusals, l.retryInS]), [[1, 60]], 'one warning for the step');

    // 1 min later: one retry, refused again; the next step is twice as long.
    clock.advance(FALLBACK_RETRY_INITIAL_MS);
    await waitFor(() => attempts === 2, { timeoutMs: 15_000, what: 'the retry after 1 min' });
    await ticks(2);
    clock.advance(FALLBACK_RETRY_INITIAL_MS);
    await ticks(2);
    assert.equal(attempts, 2, 'the second step lasts 2 min, not 1');
    clock.advance(FALLBACK_RETRY_INITIAL_MS);
    await waitFor(() => attempts === 3, { timeoutMs: 15_000, what: 'the retry after 2 more min' });
    await ticks(2);
    assert.equal(attempts, 3);
    assert.deepEqual(backoffWarnings().map((l) => [l.refusals, l.retryInS]), [[1, 60], [2, 120], [3, 240]], 'one warning per step');

    // The station reconnects: the fallback is tried again at once (and refused: back-off from the start).
    await cp.goOffline();
    await waitFor(async () => (await csms.db.kysely.selectFrom('stations').select('online').where('id', '=', STATION).executeTakeFirst())?.online === 0, { timeoutMs: 10_000 });
    await cp.goOnline();
    await waitFor(() => attempts === 4, { timeoutMs: 15_000, what: 'a retry after the reconnect' });
    await ticks(2);
    assert.equal(attempts, 4);
    assert.deepEqual(backoffWarnings().at(-1)?.refusals, 1, 'the back-off started over');

    // The operator's profiles change (here: a station maximum is set through the CSMS) and the station
    // would now take the fallback: it is sent at once, installed, and not sent again.
    refusing = false;
    const max: ChargingProfile = {
      id: 1,
      evseId: 0,
      stackLevel: 0,
      chargingProfilePurpose: 'ChargingStationMaxProfile',
      chargingProfileKind: 'Absolute',
      chargingSchedule: [{ id: 1, startSchedule: clock.now().getTime(), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 32 }] }],
    } as unknown as ChargingProfile;
    assert.equal((await csms.smart.set(STATION, max)).status, 'Accepted');
    await waitFor(() => cp.chargingProfiles().some((p) => p.id === FALLBACK), { timeoutMs: 15_000, what: 'the fallback installed' });
    assert.equal(attempts, 5);
    await ticks(2);
    assert.equal(attempts, 5, 'an installed fallback is not re-sent at every tick either');
    assert.equal(backoffWarnings().length, 4);
    assert.ok(logged.some((l) => l.msg === 'station took the load-balancer fallback TxDefault it had refused'));
  } finally {
    await cp.close().catch(() => undefined);
    await csms.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
