/** Smart charging over the wire: the EV follows the composite limit; Set/Clear/GetComposite/GetChargingProfiles. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SimChargePoint, type SimChargePointOptions } from '../../src/sim/index.js';
import { acceleratedClock, ManualClock } from '../../src/util/clock.js';
import { payloads, startTestCsms, type TestCsms } from './helpers/csms.js';

let csms: TestCsms;
const open: SimChargePoint[] = [];
before(async () => {
  csms = await startTestCsms();
});
after(async () => {
  await Promise.all(open.map((cp) => cp.close()));
  await csms.close();
  assert.deepEqual(csms.violations, [], 'every message the simulator sent is schema-valid');
});

const EVSE_32A = [{ id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE' as const, maxCurrentA: 32 }] }];
const EV_22KW = { batteryWh: 200_000, socPercent: 10, maxPowerW: 22_000, phases: 3 };

async function sim(o: Partial<SimChargePointOptions> & Pick<SimChargePointOptions, 'identity' | 'protocol'>) {
  const cp = new SimChargePoint({ url: csms.url, clock: new ManualClock('2025-01-01T10:00:00Z'), meterIntervalS: 0, evses: EVSE_32A, ...o });
  open.push(cp);
  await cp.connect();
  return cp;
}

const status = (r: unknown) => (r as { status: string }).status;

/** 1.6 TxProfile: 16 A, 8 A from 10:30, 5 A (< 6 A: pause) from 11:00, 32 A from 11:30. */
const steps16 = (transactionId: number, id = 11) => ({
  connectorId: 1,
  csChargingProfiles: {
    chargingProfileId: id,
    transactionId,
    stackLevel: 1,
    chargingProfilePurpose: 'TxProfile',
    chargingProfileKind: 'Absolute',
    chargingSchedule: {
      startSchedule: '2025-01-01T10:00:00Z',
      chargingRateUnit: 'A',
      chargingSchedulePeriod: [
        { startPeriod: 0, limit: 16 },
        { startPeriod: 1800, limit: 8 },
        { startPeriod: 3600, limit: 5 },
        { startPeriod: 5400, limit: 32 },
      ],
    },
  },
});

test('1.6 SetChargingProfile: the EV follows the limit step by step; < 6 A pauses (SuspendedEVSE)', async () => {
  const clock = new ManualClock('2025-01-01T10:00:00Z');
  const cp = await sim({ identity: 'SC16', protocol: 'ocpp1.6', clock });
  const tx = (await cp.startSession({ evseId: 1, idTag: 'T', ev: EV_22KW })) as number;
  assert.equal(cp.evse(1).powerW, 22_000);
  assert.equal(status(await csms.send('SC16', 'SetChargingProfile', steps16(tx))), 'Accepted');
  const seen: [number, number, string][] = [];
  for (let i = 0; i < 4; i++) {
    const s = cp.evse(1);
    seen.push([Math.round(s.powerW), Math.round(s.energyWh), s.status]);
    clock.advance(1800_000);
    cp.refresh();
  }
  assert.deepEqual(seen, [
    [11_040, 0, 'Charging'], // 16 A × 230 V × 3
    [5_520, 5_520, 'Charging'], // 8 A
    [0, 8_280, 'SuspendedEVSE'], // 5 A: below the IEC 61851 minimum
    [22_000, 8_280, 'Charging'], // 32 A × 690 = 22 080 W, EV takes 22 kW
  ]);
  await csms.waitFor(
    () => payloads<{ status: string }>(csms.calls('SC16', 'StatusNotification')).some((p) => p.status === 'SuspendedEVSE'),
    'SuspendedEVSE status',
  );
  // The profile goes with the transaction.
  await cp.stopSession(1);
  assert.equal(cp.chargingProfiles().length, 0);
});

test('energy integrates across limit boundaries between two readings', async () => {
  const clock = new ManualClock('2025-01-01T10:00:00Z');
  const cp = await sim({ identity: 'SC16-INT', protocol: 'ocpp1.6', clock });
  const tx = (await cp.startSession({ evseId: 1, idTag: 'T', ev: EV_22KW })) as number;
  await csms.send('SC16-INT', 'SetChargingProfile', steps16(tx));
  clock.advance(105 * 60_000); // to 11:45 in one step
  await cp.sendMeterValues(1);
  // 30 min × 11 040 W + 30 min × 5 520 W + 30 min × 0 + 15 min × 22 000 W
  assert.equal(Math.round(cp.evse(1).energyWh), 5_520 + 2_760 + 0 + 5_500);
});

test('1.6 GetCompositeSchedule answers in the requested unit; ClearChargingProfile restores full power', async () => {
  const clock = new ManualClock('2025-01-01T10:00:00Z');
  const cp = await sim({ identity: 'GCS16', protocol: 'ocpp1.6', clock });
  const tx = (await cp.startSession({ evseId: 1, idTag: 'T', ev: EV_22KW })) as number;
  await csms.send('GCS16', 'SetChargingProfile', steps16(tx, 21));
  const a = (await csms.send('GCS16', 'GetCompositeSchedule', { connectorId: 1, duration: 7200 })) as Record<string, any>;
  assert.deepEqual(a, {
    status: 'Accepted',
    connectorId: 1,
    scheduleStart: '2025-01-01T10:00:00.000Z',
    chargingSchedule: {
      duration: 7200,
      startSchedule: '2025-01-01T10:00:00.000Z',
      chargingRateUnit: 'A',
      chargingSchedulePeriod: [
        { startPeriod: 0, limit: 16 },
        { startPeriod: 1800, limit: 8 },
        { startPeriod: 3600, limit: 5 },
        { startPeriod: 5400, limit: 32 },
      ],
    },
  });
  const w = (await csms.send('GCS16', 'GetCompositeSchedule', { connectorId: 1, duration: 7200, chargingRateUnit: 'W' })) as Record<string, any>;
  assert.deepEqual(
    w.chargingSchedule.chargingSchedulePeriod.map((p: { limit: number }) => p.limit),
    [11_040, 5_520, 3_450, 22_080],
  );
  assert.equal(status(await csms.send('GCS16', 'GetCompositeSchedule', { connectorId: 7, duration: 60 })), 'Rejected');
  assert.equal(status(await csms.send('GCS16', 'ClearChargingProfile', { id: 21 })), 'Accepted');
  assert.equal(cp.evse(1).powerW, 22_000);
  assert.equal(status(await csms.send('GCS16', 'ClearChargingProfile', { id: 21 })), 'Unknown');
});

test('1.6 TC_067: ClearChargingProfile by id, by criteria, all', async () => {
  await sim({ identity: 'CLR16', protocol: 'ocpp1.6' });
  const set = (connectorId: number, chargingProfileId: number, purpose: string, stackLevel: number) =>
    csms.send('CLR16', 'SetChargingProfile', {
      connectorId,
      csChargingProfiles: {
        chargingProfileId,
        stackLevel,
        chargingProfilePurpose: purpose,
        chargingProfileKind: 'Absolute',
        chargingSchedule: { startSchedule: '2025-01-01T00:00:00Z', chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 20 }] },
      },
    });
  const put = async () => {
    assert.equal(status(await set(0, 1, 'ChargePointMaxProfile', 0)), 'Accepted');
    assert.equal(status(await set(1, 2, 'TxDefaultProfile', 1)), 'Accepted');
    assert.equal(status(await set(0, 3, 'TxDefaultProfile', 2)), 'Accepted');
  };
  await put();
  assert.equal(status(await csms.send('CLR16', 'ClearChargingProfile', { id: 1 })), 'Accepted');
  assert.equal(status(await csms.send('CLR16', 'ClearChargingProfile', { id: 1 })), 'Unknown');
  assert.equal(status(await csms.send('CLR16', 'ClearChargingProfile', { connectorId: 1, chargingProfilePurpose: 'TxDefaultProfile', stackLevel: 1 })), 'Accepted');
  assert.equal(status(await csms.send('CLR16', 'ClearChargingProfile', { connectorId: 1, chargingProfilePurpose: 'TxDefaultProfile' })), 'Unknown');
  assert.equal(status(await csms.send('CLR16', 'ClearChargingProfile', { connectorId: 0, stackLevel: 2 })), 'Accepted');
  await put();
  assert.equal(status(await csms.send('CLR16', 'ClearChargingProfile', {})), 'Accepted');
  assert.equal(status(await csms.send('CLR16', 'ClearChargingProfile', {})), 'Unknown');
});

test('1.6 invalid profiles are rejected like a real charger', async () => {
  const cp = await sim({ identity: 'INV16', protocol: 'ocpp1.6', config: { ChargingScheduleAllowedChargingRateUnit: 'Current' } });
  const tx = (await cp.startSession({ evseId: 1, idTag: 'T' })) as number;
  const base = { chargingProfileId: 5, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute' };
  const sched = (over: Record<string, unknown> = {}) => ({ chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }], ...over });
  const rejected: [string, unknown][] = [
    ['TxProfile on connector 0', { connectorId: 0, csChargingProfiles: { ...base, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Relative', chargingSchedule: sched() } }],
    ['TxProfile with a foreign transactionId', { connectorId: 1, csChargingProfiles: { ...base, chargingProfilePurpose: 'TxProfile', transactionId: tx + 1, chargingProfileKind: 'Relative', chargingSchedule: sched() } }],
    ['ChargePointMaxProfile on connector 1', { connectorId: 1, csChargingProfiles: { ...base, chargingProfilePurpose: 'ChargePointMaxProfile', chargingSchedule: sched() } }],
    ['first startPeriod ≠ 0', { connectorId: 1, csChargingProfiles: { ...base, chargingSchedule: sched({ chargingSchedulePeriod: [{ startPeriod: 60, limit: 10 }] }) } }],
    ['stackLevel above ChargeProfileMaxStackLevel', { connectorId: 1, csChargingProfiles: { ...base, stackLevel: 9, chargingSchedule: sched() } }],
    ['W when only Current is allowed', { connectorId: 1, csChargingProfiles: { ...base, chargingSchedule: sched({ chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 7000 }] }) } }],
    ['more periods than ChargingScheduleMaxPeriods', { connectorId: 1, csChargingProfiles: { ...base, chargingSchedule: sched({ chargingSchedulePeriod: Array.from({ length: 25 }, (_, i) => ({ startPeriod: i * 60, limit: 10 })) }) } }],
    ['Relative with startSchedule', { connectorId: 1, csChargingProfiles: { ...base, chargingProfileKind: 'Relative', chargingSchedule: sched({ startSchedule: '2025-01-01T10:00:00Z' }) } }],
    ['unknown connector', { connectorId: 9, csChargingProfiles: { ...base, chargingSchedule: sched() } }],
  ];
  for (const [why, req] of rejected) assert.equal(status(await csms.send('INV16', 'SetChargingProfile', req)), 'Rejected', why);
  assert.equal(cp.chargingProfiles().length, 0);
  // A payload violating the schema gets a CALLERROR with the 1.6 spelling.
  await assert.rejects(
    csms.send('INV16', 'SetChargingProfile', { connectorId: 1, csChargingProfiles: { ...base, chargingSchedule: sched({ chargingRateUnit: 'kW' }) } }),
    (e: { rpcErrorCode?: string }) => e.rpcErrorCode === 'PropertyConstraintViolation',
  );
  await assert.rejects(
    csms.send('INV16', 'SetChargingProfile', { connectorId: 1, csChargingProfiles: { ...base, chargingSchedule: sched(), color: 'red' } }),
    (e: { rpcErrorCode?: string }) => e.rpcErrorCode === 'FormationViolation',
  );
});

test('1.6 TC_059: RemoteStartTransaction with a TxProfile installs it for the new transaction', async () => {
  const cp = await sim({ identity: 'RS16', protocol: 'ocpp1.6' });
  await cp.plugIn(1, 1, EV_22KW);
  const res = await csms.send('RS16', 'RemoteStartTransaction', {
    connectorId: 1,
    idTag: 'REMOTE',
    chargingProfile: {
      chargingProfileId: 31,
      stackLevel: 0,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Relative',
      chargingSchedule: { chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 6900 }] },
    },
  });
  assert.equal(status(res), 'Accepted');
  const [start] = await csms.waitForCalls('RS16', 'StartTransaction');
  await csms.waitFor(() => cp.chargingProfiles().length === 1, 'TxProfile installed');
  const p = cp.chargingProfiles()[0];
  assert.equal(p?.transactionId, String((csms.frames.find((f) => f.identity === 'RS16' && f.from === 'csms' && f.action === 'StartTransaction' && f.type === 3)?.payload as { transactionId: number }).transactionId));
  assert.equal(cp.evse(1).powerW, 6900, '6 900 W = 10 A × 690');
  assert.equal((start?.payload as { idTag: string }).idTag, 'REMOTE');
  assert.ok(csms.calls('RS16', 'Authorize').length === 1, 'AuthorizeRemoteTxRequests = true');
  // RemoteStart carrying a non-Tx profile is refused.
  const bad = await csms.send('RS16', 'RemoteStartTransaction', {
    idTag: 'REMOTE',
    chargingProfile: { chargingProfileId: 32, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Relative', chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 6 }] } },
  });
  assert.equal(status(bad), 'Rejected');
  // RemoteStop ends it; the profile goes with the transaction.
  const txId = cp.evse(1).transaction?.csmsId;
  assert.equal(status(await csms.send('RS16', 'RemoteStopTransaction', { transactionId: txId })), 'Accepted');
  await csms.waitForCalls('RS16', 'StopTransaction');
  assert.equal((csms.calls('RS16', 'StopTransaction')[0]?.payload as { reason: string }).reason, 'Remote');
  assert.equal(cp.chargingProfiles().length, 0);
  assert.equal(status(await csms.send('RS16', 'RemoteStopTransaction', { transactionId: 999_999 })), 'Rejected');
});

const txDefault201 = (id: number, limitW: number, evseId = 0) => ({
  evseId,
  chargingProfile: {
    id,
    stackLevel: 0,
    chargingProfilePurpose: 'TxDefaultProfile',
    chargingProfileKind: 'Absolute',
    chargingSchedule: [{ id: 1, startSchedule: '2025-01-01T00:00:00Z', chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: limitW }] }],
  },
});

test('2.0.1: TxDefault then TxProfile change the power; ChargingRateChanged is reported; composite in W and A', async () => {
  const cp = await sim({ identity: 'SC201', protocol: 'ocpp2.0.1' });
  assert.equal(status(await csms.send('SC201', 'SetChargingProfile', txDefault201(1, 11_000))), 'Accepted');
  const tx = String(await cp.startSession({ evseId: 1, idTag: 'T', ev: EV_22KW }));
  assert.equal(cp.evse(1).offered.limit, 11_000 / 690);
  assert.ok(Math.abs(cp.evse(1).powerW - 11_000) < 1e-6);
  const txProfile = {
    evseId: 1,
    chargingProfile: {
      id: 2,
      stackLevel: 0,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Relative',
      transactionId: tx,
      chargingSchedule: [{ id: 1, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }, { startPeriod: 3600, limit: 20 }] }],
    },
  };
  assert.equal(status(await csms.send('SC201', 'SetChargingProfile', txProfile)), 'Accepted');
  assert.equal(cp.evse(1).powerW, 6_900);
  await csms.waitFor(
    () => payloads<Record<string, any>>(csms.calls('SC201', 'TransactionEvent')).some((e) => e.triggerReason === 'ChargingRateChanged'),
    'ChargingRateChanged',
  );
  const comp = (await csms.send('SC201', 'GetCompositeSchedule', { evseId: 1, duration: 7200, chargingRateUnit: 'W' })) as Record<string, any>;
  assert.deepEqual(comp, {
    status: 'Accepted',
    schedule: {
      evseId: 1,
      duration: 7200,
      scheduleStart: '2025-01-01T10:00:00.000Z',
      chargingRateUnit: 'W',
      chargingSchedulePeriod: [
        { startPeriod: 0, limit: 6_900 },
        { startPeriod: 3600, limit: 13_800 },
      ],
    },
  });
  const grid = (await csms.send('SC201', 'GetCompositeSchedule', { evseId: 0, duration: 600 })) as Record<string, any>;
  assert.deepEqual(grid.schedule.chargingSchedulePeriod, [{ startPeriod: 0, limit: 22_080 }], 'station maximum without a Max profile');
  assert.equal(status(await csms.send('SC201', 'GetCompositeSchedule', { evseId: 4, duration: 600 })), 'Rejected');
});

test('2.0.1 K01 rejections carry statusInfo', async () => {
  const cp = await sim({ identity: 'INV201', protocol: 'ocpp2.0.1' });
  const tx = String(await cp.startSession({ evseId: 1, idTag: 'T' }));
  const profile = (over: Record<string, unknown>, evseId = 1) => ({
    evseId,
    chargingProfile: {
      id: 9,
      stackLevel: 0,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Relative',
      transactionId: tx,
      chargingSchedule: [{ id: 1, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }] }],
      ...over,
    },
  });
  const cases: [string, unknown, string][] = [
    ['K01.FR.16 TxProfile without transactionId', profile({ transactionId: undefined }), 'TransactionIdMissing'],
    ['K01.FR.33 unknown transaction', profile({ transactionId: 'nope' }), 'TransactionIdMismatch'],
    ['K01.FR.16 TxProfile on EVSE 0', profile({}, 0), 'TxProfileOnStation'],
    ['K01.FR.40 Absolute without startSchedule', profile({ chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute', transactionId: undefined }), 'MissingStartSchedule'],
    ['K01.FR.03 StationMax on EVSE 1', profile({ chargingProfilePurpose: 'ChargingStationMaxProfile', chargingProfileKind: 'Absolute', transactionId: undefined }), 'StationProfileOnEvse'],
    ['K01.FR.22 external constraints', profile({ chargingProfilePurpose: 'ChargingStationExternalConstraints', transactionId: undefined }, 0), 'ExternalConstraintsNotAllowed'],
    ['K01.FR.28 unknown EVSE', profile({ chargingProfilePurpose: 'TxDefaultProfile', transactionId: undefined }, 5), 'UnknownEvse'],
  ];
  for (const [why, req, reason] of cases) {
    const res = (await csms.send('INV201', 'SetChargingProfile', JSON.parse(JSON.stringify(req)))) as { status: string; statusInfo?: { reasonCode: string; additionalInfo?: string } };
    assert.equal(res.status, 'Rejected', why);
    assert.ok(res.statusInfo?.additionalInfo?.startsWith(reason), `${why}: ${res.statusInfo?.additionalInfo}`);
  }
});

test('2.0.1 K_37 RequestStartTransaction with a TxProfile; K_29.. GetChargingProfiles reports; K10 clear variants', async () => {
  const cp = await sim({
    identity: 'RS201',
    protocol: 'ocpp2.0.1',
    evses: [
      { id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 32 }] },
      { id: 2, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 32 }] },
    ],
  });
  assert.equal(status(await csms.send('RS201', 'GetChargingProfiles', { requestId: 1, chargingProfile: {} })), 'NoProfiles');
  const res = (await csms.send('RS201', 'RequestStartTransaction', {
    evseId: 2,
    remoteStartId: 4711,
    idToken: { idToken: 'APP-USER', type: 'Central' },
    chargingProfile: {
      id: 40,
      stackLevel: 1,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Relative',
      chargingSchedule: [{ id: 1, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 12 }] }],
    },
  })) as { status: string };
  assert.equal(res.status, 'Accepted');
  const [started] = await csms.waitForCalls('RS201', 'TransactionEvent');
  const ev = started?.payload as Record<string, any>;
  assert.deepEqual([ev.triggerReason, ev.transactionInfo.remoteStartId, ev.idToken], ['RemoteStart', 4711, { idToken: 'APP-USER', type: 'Central' }]);
  await csms.waitFor(() => cp.chargingProfiles().length === 1, 'TxProfile installed');
  assert.equal(cp.chargingProfiles()[0]?.transactionId, ev.transactionInfo.transactionId);
  assert.equal(cp.evse(2).powerW, 12 * 690);
  assert.equal(status(await csms.send('RS201', 'SetChargingProfile', txDefault201(41, 9_000, 0))), 'Accepted');
  assert.equal(status(await csms.send('RS201', 'SetChargingProfile', txDefault201(42, 8_000, 1))), 'Accepted');

  assert.equal(status(await csms.send('RS201', 'GetChargingProfiles', { requestId: 7, chargingProfile: {} })), 'Accepted');
  const reports = payloads<Record<string, any>>(await csms.waitForCalls('RS201', 'ReportChargingProfiles', 3));
  assert.deepEqual(
    reports.map((r) => [r.requestId, r.evseId, r.chargingLimitSource, r.tbc ?? false, r.chargingProfile.map((p: { id: number }) => p.id)]),
    [
      [7, 0, 'CSO', true, [41]],
      [7, 1, 'CSO', true, [42]],
      [7, 2, 'CSO', false, [40]],
    ],
  );
  assert.equal(reports[2]?.chargingProfile[0].transactionId, ev.transactionInfo.transactionId);
  assert.equal(status(await csms.send('RS201', 'GetChargingProfiles', { requestId: 8, evseId: 1, chargingProfile: { chargingProfilePurpose: 'TxProfile' } })), 'NoProfiles');
  assert.equal(status(await csms.send('RS201', 'GetChargingProfiles', { requestId: 9, chargingProfile: { chargingLimitSource: ['EMS'] } })), 'NoProfiles');

  assert.equal(status(await csms.send('RS201', 'ClearChargingProfile', { chargingProfileId: 42 })), 'Accepted');
  assert.equal(status(await csms.send('RS201', 'ClearChargingProfile', { chargingProfileId: 42 })), 'Unknown');
  assert.equal(status(await csms.send('RS201', 'ClearChargingProfile', { chargingProfileCriteria: { evseId: 0, chargingProfilePurpose: 'TxDefaultProfile', stackLevel: 0 } })), 'Accepted');
  assert.equal(status(await csms.send('RS201', 'RequestStopTransaction', { transactionId: ev.transactionInfo.transactionId })), 'Accepted');
  await csms.waitFor(() => cp.chargingProfiles().length === 0, 'TxProfile removed with its transaction');
  assert.equal(status(await csms.send('RS201', 'ClearChargingProfile', { chargingProfileCriteria: { chargingProfilePurpose: 'TxProfile' } })), 'Unknown');
});

test('limits are re-applied at period boundaries without a meter tick (accelerated clock)', async () => {
  // 60×: the boundary is ~1 s of wall time away, far more than a loaded machine's round trip.
  const speed = 60;
  const clock = acceleratedClock(speed, new Date('2025-01-01T10:00:00Z'));
  const cp = await sim({ identity: 'EDGE16', protocol: 'ocpp1.6', clock, clockSpeed: speed });
  const tx = (await cp.startSession({ evseId: 1, idTag: 'T', ev: EV_22KW })) as number;
  const start = new Date(Math.ceil(clock.now().getTime() / 1000) * 1000 + 1000);
  const res = await csms.send('EDGE16', 'SetChargingProfile', {
    connectorId: 1,
    csChargingProfiles: {
      chargingProfileId: 51,
      transactionId: tx,
      stackLevel: 0,
      chargingProfilePurpose: 'TxProfile',
      chargingProfileKind: 'Absolute',
      chargingSchedule: {
        startSchedule: start.toISOString(),
        chargingRateUnit: 'A',
        chargingSchedulePeriod: [
          { startPeriod: 0, limit: 16 },
          { startPeriod: 60, limit: 0 },
        ],
      },
    },
  });
  assert.equal(status(res), 'Accepted');
  // +61 s of clock time ≈ 1 s of wall time: the station notices the boundary by itself.
  await csms.waitFor(
    () => payloads<{ status: string }>(csms.calls('EDGE16', 'StatusNotification')).some((p) => p.status === 'SuspendedEVSE'),
    'SuspendedEVSE at the boundary',
    15000,
  );
  assert.equal(cp.evse(1).powerW, 0);
});

test('a limit period with numberPhases 1 makes a three-phase EV charge on one phase', async () => {
  const cp = await sim({ identity: 'PH1', protocol: 'ocpp2.0.1' });
  await csms.send('PH1', 'SetChargingProfile', {
    evseId: 1,
    chargingProfile: {
      id: 60,
      stackLevel: 0,
      chargingProfilePurpose: 'TxDefaultProfile',
      chargingProfileKind: 'Absolute',
      chargingSchedule: [{ id: 1, startSchedule: '2025-01-01T00:00:00Z', chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16, numberPhases: 1 }] }],
    },
  });
  await cp.startSession({ evseId: 1, idTag: 'T', ev: EV_22KW });
  assert.equal(cp.evse(1).powerW, 3_680, '16 A × 230 V × 1 phase');
  const started = payloads<Record<string, any>>(csms.calls('PH1', 'TransactionEvent'))[0];
  assert.equal(started?.numberOfPhasesUsed, 1);
});
