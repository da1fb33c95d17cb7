/** Boot, status and heartbeat sequences of the simulator against a bare CSMS (both versions). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SimChargePoint, type EvseConfig } from '../../src/sim/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { payloads, startTestCsms, type TestCsms } from './helpers/csms.js';

let csms: TestCsms;
const open: SimChargePoint[] = [];
before(async () => {
  csms = await startTestCsms();
});
after(async () => {
  await Promise.all(open.map((cp) => cp.close()));
  await csms.close();
});

const TWO_EVSES: EvseConfig[] = [
  {
    id: 1,
    connectors: [
      { id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 32 },
      { id: 2, powerType: 'AC_1_PHASE', maxCurrentA: 16 },
    ],
  },
  { id: 2, connectors: [{ id: 1, powerType: 'DC', maxCurrentA: 125, maxPowerW: 50_000 }] },
];

function sim(identity: string, protocol: 'ocpp1.6' | 'ocpp2.0.1', extra: Partial<ConstructorParameters<typeof SimChargePoint>[0]> = {}) {
  const cp = new SimChargePoint({
    url: csms.url,
    identity,
    protocol,
    clock: new ManualClock('2025-03-01T08:00:00Z'),
    evses: TWO_EVSES,
    vendor: 'Ampline',
    model: 'Sim-22',
    serialNumber: 'SN-1',
    firmwareVersion: '2.1.0',
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    ...extra,
  });
  open.push(cp);
  return cp;
}

test('1.6 boot: exactly one subprotocol, BootNotification, then StatusNotification for connector 0 and every connector', async () => {
  const cp = sim('BOOT-16', 'ocpp1.6', { password: 's3cr:et' });
  const boot = await cp.connect();
  assert.equal(boot.status, 'Accepted');
  assert.deepEqual(csms.handshakes.get('BOOT-16'), { protocols: ['ocpp1.6'], password: 's3cr:et' });
  const calls = csms.calls('BOOT-16');
  assert.deepEqual(
    calls.map((f) => f.action),
    ['BootNotification', 'StatusNotification', 'StatusNotification', 'StatusNotification', 'StatusNotification'],
  );
  assert.deepEqual(calls[0]?.payload, { chargePointVendor: 'Ampline', chargePointModel: 'Sim-22', chargePointSerialNumber: 'SN-1', firmwareVersion: '2.1.0' });
  assert.deepEqual(
    payloads<{ connectorId: number; status: string; errorCode: string }>(calls.slice(1)).map((p) => [p.connectorId, p.status, p.errorCode]),
    [
      [0, 'Available', 'NoError'],
      [1, 'Available', 'NoError'],
      [2, 'Available', 'NoError'],
      [3, 'Available', 'NoError'],
    ],
  );
  assert.equal(cp.online, true);
  assert.equal(cp.getConfiguration('HeartbeatInterval'), '300', 'interval from BootNotification.conf');
  assert.equal(cp.getConfiguration('NumberOfConnectors'), '3');
  assert.deepEqual(csms.violations, []);
});

test('2.0.1 boot: PowerUp BootNotification, then StatusNotification per EVSE connector', async () => {
  const cp = sim('BOOT-201', 'ocpp2.0.1');
  await cp.connect();
  assert.deepEqual(csms.handshakes.get('BOOT-201')?.protocols, ['ocpp2.0.1']);
  const calls = csms.calls('BOOT-201');
  assert.deepEqual(calls[0]?.payload, {
    reason: 'PowerUp',
    chargingStation: { model: 'Sim-22', vendorName: 'Ampline', firmwareVersion: '2.1.0', serialNumber: 'SN-1' },
  });
  assert.deepEqual(
    payloads<{ evseId: number; connectorId: number; connectorStatus: string; timestamp: string }>(calls.slice(1)).map((p) => [
      p.evseId,
      p.connectorId,
      p.connectorStatus,
      p.timestamp,
    ]),
    [
      [1, 1, 'Available', '2025-03-01T08:00:00.000Z'],
      [1, 2, 'Available', '2025-03-01T08:00:00.000Z'],
      [2, 1, 'Available', '2025-03-01T08:00:00.000Z'],
    ],
  );
  assert.deepEqual(csms.violations, []);
});

test('Pending boot is retried after the interval; TriggerMessage(BootNotification) retries at once (B02)', async () => {
  let answers = 0;
  csms.handlers.set('BootNotification', (_p, { identity }) => {
    if (identity !== 'PEND-201') return { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 };
    answers++;
    return { status: answers < 3 ? 'Pending' : 'Accepted', currentTime: new Date().toISOString(), interval: answers === 1 ? 1 : 600 };
  });
  try {
    const cp = sim('PEND-201', 'ocpp2.0.1');
    const t0 = Date.now();
    const booted = cp.connect();
    await csms.waitForCalls('PEND-201', 'BootNotification', 2, 3000);
    assert.ok(Date.now() - t0 >= 900, 'second boot after the 1 s interval');
    assert.equal(cp.registration, 'pending');
    assert.equal(csms.calls('PEND-201', 'StatusNotification').length, 0, 'nothing but boot while pending');
    // Interval now 600 s: the CSMS triggers the boot instead of waiting.
    const trig = (await csms.send('PEND-201', 'TriggerMessage', { requestedMessage: 'BootNotification' })) as { status: string };
    assert.equal(trig.status, 'Accepted');
    await booted;
    const boots = payloads<{ reason: string }>(csms.calls('PEND-201', 'BootNotification'));
    assert.deepEqual(boots.map((b) => b.reason), ['PowerUp', 'PowerUp', 'Triggered']);
    assert.equal(cp.registration, 'accepted');
    // Once accepted, a triggered boot is refused (F06.FR.17).
    assert.deepEqual(await csms.send('PEND-201', 'TriggerMessage', { requestedMessage: 'BootNotification' }), { status: 'Rejected' });
  } finally {
    csms.handlers.delete('BootNotification');
  }
  assert.deepEqual(csms.violations, []);
});

test('heartbeat honours the interval from BootNotification', async () => {
  csms.handlers.set('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 1 }));
  try {
    const cp = sim('HB-16', 'ocpp1.6');
    await cp.connect();
    const t0 = Date.now();
    await csms.waitForCalls('HB-16', 'Heartbeat', 1, 2500);
    const dt = Date.now() - t0;
    assert.ok(dt >= 900 && dt < 2000, `first heartbeat after ~1 s, got ${dt} ms`);
    await cp.close();
  } finally {
    csms.handlers.delete('BootNotification');
  }
});
