/** Fleet runner: identities, mixed protocols, bounded connect concurrency, the demo session loop, simMain. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fleetIdentity, runFleet, simMain } from '../../src/sim/index.js';
import { acceleratedClock } from '../../src/util/clock.js';
import { startTestCsms, type TestCsms } from './helpers/csms.js';

let csms: TestCsms;
before(async () => {
  csms = await startTestCsms();
});
after(async () => {
  await csms.close();
  assert.deepEqual(csms.violations, [], 'every message the simulator sent is schema-valid');
});

test('identities are zero-padded to the width of the largest number (at least 3 digits)', () => {
  assert.equal(fleetIdentity('SIM-', 7, 3), 'SIM-007');
  assert.equal(fleetIdentity('SIM-', 1200, 4), 'SIM-1200');
});

test('mixed fleet boots with bounded concurrency; stop() closes every charger', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  csms.handlers.set('BootNotification', async (_p, { identity }) => {
    if (!identity.startsWith('FL-')) return { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 };
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    await new Promise((r) => setTimeout(r, 40));
    inFlight--;
    return { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 };
  });
  try {
    const fleet = await runFleet({ url: csms.url, count: 6, protocol: 'mixed', prefix: 'FL-', connectConcurrency: 2, jitterMs: 10 });
    assert.deepEqual(fleet.chargers.map((c) => c.identity), ['FL-001', 'FL-002', 'FL-003', 'FL-004', 'FL-005', 'FL-006']);
    assert.deepEqual(fleet.chargers.map((c) => c.protocol), ['ocpp2.0.1', 'ocpp1.6', 'ocpp2.0.1', 'ocpp1.6', 'ocpp2.0.1', 'ocpp1.6']);
    assert.ok(fleet.results.every((r) => r.ok && r.ms > 0), JSON.stringify(fleet.results));
    assert.ok(fleet.chargers.every((c) => c.online));
    assert.ok(maxInFlight <= 2 && maxInFlight >= 1, `at most 2 boots in flight, saw ${maxInFlight}`);
    for (const c of fleet.chargers) assert.deepEqual(csms.handshakes.get(c.identity)?.protocols, [c.protocol]);
    assert.equal(fleet.chargers[3]?.evse(1).offered.unit, 'W', 'every fourth charger is DC');
    await fleet.stop();
    assert.ok(fleet.chargers.every((c) => !c.online));
  } finally {
    csms.handlers.delete('BootNotification');
  }
});

test('session loop (accelerated clock): plug in → authorize → charge → stop → unplug, for both versions', async () => {
  const speed = 600;
  const fleet = await runFleet({
    url: csms.url,
    count: 2,
    protocol: 'mixed',
    prefix: 'LOOP-',
    sessions: true,
    clock: acceleratedClock(speed),
    clockSpeed: speed,
    meterIntervalS: 10,
    sessionPlan: { idleS: [1, 4], chargeS: [60, 120], idTags: ['LOOP-TAG'] },
  });
  try {
    await csms.waitFor(
      () => csms.calls('LOOP-002', 'StopTransaction').length >= 1 && csms.calls('LOOP-001', 'TransactionEvent').some((f) => (f.payload as { eventType: string }).eventType === 'Ended'),
      'a completed session on each charger',
      8000,
    );
    assert.ok(csms.calls('LOOP-002', 'MeterValues').length >= 1, 'meter values while charging');
    assert.ok(csms.calls('LOOP-002', 'Authorize').length >= 1);
  } finally {
    await fleet.stop();
  }
});

test('simMain validates the protocol and returns a stoppable fleet', async () => {
  await assert.rejects(simMain({ url: csms.url, count: 1, protocol: 'ocpp2.1' }), /protocol/);
  const run = await simMain({ url: csms.url, count: 2, protocol: 'ocpp1.6', prefix: 'MAIN-' });
  await csms.waitForCalls('MAIN-002', 'BootNotification');
  assert.ok(csms.calls('MAIN-001', 'StatusNotification').length >= 2);
  await run.stop();
});
