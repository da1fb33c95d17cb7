/** Sessions: message sequences, meter values, energy model, id-tag rejection (both versions). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionRejectedError, SimChargePoint, type SimChargePointOptions } from '../../src/sim/index.js';
import { acceleratedClock, ManualClock } from '../../src/util/clock.js';
import { payloads, startTestCsms, type Frame, type TestCsms } from './helpers/csms.js';

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

function sim(o: Partial<SimChargePointOptions> & Pick<SimChargePointOptions, 'identity' | 'protocol'>) {
  const cp = new SimChargePoint({ url: csms.url, clock: new ManualClock('2025-01-01T10:00:00Z'), meterIntervalS: 0, ...o });
  open.push(cp);
  return cp;
}

type Sampled = { value: string | number; measurand: string; unit?: string; unitOfMeasure?: { unit: string }; phase?: string; context: string; location: string };
const energyOf = (mv: { sampledValue: Sampled[] }[]) => Number(mv[0]?.sampledValue.find((s) => s.measurand === 'Energy.Active.Import.Register')?.value);
const sample = (mv: { sampledValue: Sampled[] }[], measurand: string, phase?: string) =>
  mv[0]?.sampledValue.find((s) => s.measurand === measurand && s.phase === phase);
const actions = (frames: Frame[]) => frames.map((f) => f.action);

test('1.6 session: Authorize → StartTransaction → Charging → MeterValues → StopTransaction; energy = power × time', async () => {
  const clock = new ManualClock('2025-01-01T10:00:00Z');
  const cp = sim({ identity: 'S16', protocol: 'ocpp1.6', clock });
  await cp.connect();
  await cp.plugIn(1, 1, { batteryWh: 60_000, socPercent: 20, maxPowerW: 11_000, phases: 3 });
  const txId = await cp.startSession({ evseId: 1, idTag: 'TAG-A' });
  assert.equal(typeof txId, 'number');
  assert.equal(cp.evse(1).powerW, 11_000, 'min(EV 11 kW, 16 A × 230 V × 3 = 11 040 W)');
  const energies: number[] = [];
  for (let i = 0; i < 4; i++) {
    clock.advance(15 * 60_000);
    await cp.sendMeterValues(1);
    energies.push(cp.evse(1).energyWh);
  }
  assert.deepEqual(energies, [2750, 5500, 8250, 11_000]);
  assert.ok(Math.abs((cp.evse(1).socPercent ?? 0) - (20 + (11_000 / 60_000) * 100)) < 1e-9, 'SoC rises with energy');
  await cp.stopSession(1);
  await cp.unplug(1);
  await csms.waitFor(() => csms.calls('S16', 'StatusNotification').length >= 6, 'Available after unplug');

  const calls = csms.calls('S16');
  assert.deepEqual(actions(calls), [
    'BootNotification',
    'StatusNotification',
    'StatusNotification',
    'StatusNotification',
    'Authorize',
    'StartTransaction',
    'StatusNotification',
    'MeterValues',
    'MeterValues',
    'MeterValues',
    'MeterValues',
    'StopTransaction',
    'StatusNotification',
    'StatusNotification',
  ]);
  const statuses = payloads<{ connectorId: number; status: string }>(csms.calls('S16', 'StatusNotification')).map((p) => `${p.connectorId}:${p.status}`);
  assert.deepEqual(statuses, ['0:Available', '1:Available', '1:Preparing', '1:Charging', '1:Finishing', '1:Available']);
  assert.deepEqual(csms.calls('S16', 'StartTransaction')[0]?.payload, {
    connectorId: 1,
    idTag: 'TAG-A',
    meterStart: 0,
    timestamp: '2025-01-01T10:00:00.000Z',
  });
  const mvs = payloads<{ connectorId: number; transactionId: number; meterValue: { timestamp: string; sampledValue: Sampled[] }[] }>(
    csms.calls('S16', 'MeterValues'),
  );
  assert.deepEqual(mvs.map((m) => energyOf(m.meterValue)), [2750, 5500, 8250, 11_000], 'monotonic register');
  for (const m of mvs) assert.equal(m.transactionId, txId);
  const mv = mvs[0]?.meterValue ?? [];
  assert.deepEqual(sample(mv, 'Energy.Active.Import.Register'), { value: '2750', context: 'Trigger', measurand: 'Energy.Active.Import.Register', unit: 'Wh', location: 'Outlet' });
  assert.equal(sample(mv, 'Power.Active.Import')?.value, '11000');
  for (const ph of ['L1', 'L2', 'L3']) assert.equal(sample(mv, 'Current.Import', ph)?.value, '15.94');
  for (const ph of ['L1-N', 'L2-N', 'L3-N']) assert.equal(sample(mv, 'Voltage', ph)?.value, '230');
  assert.equal(sample(mv, 'SoC'), undefined, 'an AC 1.6 charger does not know the SoC');
  const stop = csms.calls('S16', 'StopTransaction')[0]?.payload as Record<string, unknown>;
  assert.equal(stop.transactionId, txId);
  assert.equal(stop.meterStop, 11_000);
  assert.equal(stop.reason, 'Local');
  assert.equal(stop.idTag, 'TAG-A');
  assert.equal((stop.transactionData as unknown[]).length, 2);
});

test('2.0.1 session: TransactionEvent Started (seqNo 0, own UUID) → Updated → Ended with Transaction.Begin/End meter values', async () => {
  const clock = new ManualClock('2025-01-01T10:00:00Z');
  const cp = sim({ identity: 'S201', protocol: 'ocpp2.0.1', clock });
  await cp.connect();
  const txId = await cp.startSession({ evseId: 1, idTag: 'TOKEN-1', ev: { batteryWh: 50_000, socPercent: 40, maxPowerW: 7_400, phases: 1 } });
  assert.match(String(txId), /^[0-9a-f-]{36}$/);
  assert.equal(cp.evse(1).powerW, 3680, 'single-phase EV on a 16 A EVSE: 16 A × 230 V');
  clock.advance(3600_000);
  await cp.sendMeterValues(1);
  await cp.stopSession(1, 'Remote');
  const events = payloads<Record<string, any>>(csms.calls('S201', 'TransactionEvent'));
  assert.deepEqual(events.map((e) => [e.eventType, e.seqNo, e.triggerReason]), [
    ['Started', 0, 'Authorized'],
    ['Updated', 1, 'Trigger'],
    ['Ended', 2, 'RemoteStop'],
  ]);
  const [started, updated, ended] = events;
  assert.deepEqual(started?.transactionInfo, { transactionId: txId, chargingState: 'Charging' });
  assert.deepEqual(started?.evse, { id: 1, connectorId: 1 });
  assert.deepEqual(started?.idToken, { idToken: 'TOKEN-1', type: 'ISO14443' });
  assert.equal(started?.numberOfPhasesUsed, 1);
  assert.deepEqual(started?.meterValue, [
    {
      timestamp: '2025-01-01T10:00:00.000Z',
      sampledValue: [{ value: 0, context: 'Transaction.Begin', measurand: 'Energy.Active.Import.Register', location: 'Outlet', unitOfMeasure: { unit: 'Wh' } }],
    },
  ]);
  assert.equal(energyOf(updated?.meterValue), 3680);
  assert.equal(sample(updated?.meterValue, 'Current.Import', 'L1')?.value, 16);
  assert.equal(sample(updated?.meterValue, 'Current.Import', 'L2')?.value, 0, 'EVSE phases the EV does not use read 0 A');
  assert.equal(sample(updated?.meterValue, 'SoC')?.value, 47.4, 'SoC known (given) → reported: 40 % + 3.68/50 kWh');
  assert.equal(ended?.transactionInfo.stoppedReason, 'Remote');
  assert.equal(ended?.transactionInfo.chargingState, 'EVConnected');
  assert.equal(energyOf(ended?.meterValue), 3680);
  assert.equal(ended?.meterValue[0].sampledValue[0].context, 'Transaction.End');
  const statuses = payloads<{ connectorStatus: string }>(csms.calls('S201', 'StatusNotification')).map((p) => p.connectorStatus);
  assert.deepEqual(statuses, ['Available', 'Occupied'], 'Preparing/Charging/Finishing are all Occupied in 2.0.1');
});

test('periodic meter values follow the interval the CSMS sets (1.6 MeterValueSampleInterval, 2.0.1 TxUpdatedInterval)', async () => {
  // Wall-clock timers at 40× speed: 20 clock-seconds are 0.5 s of wall time, so a loaded machine
  // (timers late by tens of ms) shifts samples by ~1 clock-second, not by a whole interval.
  const speed = 40;
  for (const protocol of ['ocpp1.6', 'ocpp2.0.1'] as const) {
    const identity = `PER-${protocol}`;
    const cp = sim({ identity, protocol, clock: acceleratedClock(speed, new Date('2025-01-01T10:00:00Z')), clockSpeed: speed, meterIntervalS: 3600 });
    await cp.connect();
    if (protocol === 'ocpp1.6') {
      assert.deepEqual(await csms.send(identity, 'ChangeConfiguration', { key: 'MeterValueSampleInterval', value: '20' }), { status: 'Accepted' });
    } else {
      const res = (await csms.send(identity, 'SetVariables', {
        setVariableData: [{ component: { name: 'SampledDataCtrlr' }, variable: { name: 'TxUpdatedInterval' }, attributeValue: '20' }],
      })) as { setVariableResult: { attributeStatus: string }[] };
      assert.equal(res.setVariableResult[0]?.attributeStatus, 'Accepted');
    }
    await cp.startSession({ evseId: 1, idTag: 'PERIODIC', ev: { maxPowerW: 11_000 } });
    const action = protocol === 'ocpp1.6' ? 'MeterValues' : 'TransactionEvent';
    const minCount = protocol === 'ocpp1.6' ? 4 : 5; // 2.0.1 also counts the Started event
    await csms.waitForCalls(identity, action, minCount, 15000);
    await cp.stopSession(1);
    const mvs = payloads<{ meterValue?: { timestamp: string; sampledValue: Sampled[] }[]; triggerReason?: string }>(csms.calls(identity, action)).filter(
      (p) => p.triggerReason === undefined || p.triggerReason === 'MeterValuePeriodic',
    );
    assert.ok(mvs.length >= 3, `${protocol}: periodic samples`);
    for (const m of mvs) assert.equal(m.meterValue?.[0]?.sampledValue[0]?.context, 'Sample.Periodic');
    // Samples on a fixed 20 clock-second grid (a late timer shortens the next gap, not the rate);
    // between any two samples the energy grows by exactly P·Δt (±1 Wh rounding of the register).
    const times = mvs.map((m) => Date.parse(m.meterValue?.[0]?.timestamp ?? ''));
    const meanS = ((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1000 / (times.length - 1);
    assert.ok(meanS >= 17 && meanS <= 30, `${protocol}: ${meanS} s between samples on average`);
    for (let i = 1; i < mvs.length; i++) {
      const dtS = ((times[i] ?? 0) - (times[i - 1] ?? 0)) / 1000;
      const dE = energyOf(mvs[i]?.meterValue ?? []) - energyOf(mvs[i - 1]?.meterValue ?? []);
      assert.ok(Math.abs(dE - (11_000 * dtS) / 3600) <= 1.5, `${protocol}: ΔE ${dE} Wh for ${dtS} s at 11 kW`);
    }
  }
});

test('a full EV stops drawing: SuspendedEV, power 0, energy capped at the battery (both versions)', async () => {
  for (const protocol of ['ocpp1.6', 'ocpp2.0.1'] as const) {
    const identity = `FULL-${protocol}`;
    const clock = new ManualClock('2025-01-01T10:00:00Z');
    const cp = sim({ identity, protocol, clock });
    await cp.connect();
    await cp.startSession({ evseId: 1, idTag: 'FULL', ev: { batteryWh: 2000, socPercent: 90, maxPowerW: 11_000 } });
    clock.advance(5 * 60_000);
    cp.refresh();
    const s = cp.evse(1);
    assert.equal(s.powerW, 0);
    assert.equal(s.status, 'SuspendedEV');
    assert.ok(Math.abs(s.energyWh - 200) < 1e-6, `10 % of 2 kWh, got ${s.energyWh}`);
    assert.equal(s.socPercent, 100);
    if (protocol === 'ocpp1.6') {
      await csms.waitFor(
        () => payloads<{ status: string }>(csms.calls(identity, 'StatusNotification')).some((p) => p.status === 'SuspendedEV'),
        'StatusNotification SuspendedEV',
      );
    } else {
      await csms.waitFor(
        () =>
          payloads<Record<string, any>>(csms.calls(identity, 'TransactionEvent')).some(
            (e) => e.triggerReason === 'ChargingStateChanged' && e.transactionInfo.chargingState === 'SuspendedEV',
          ),
        'TransactionEvent ChargingStateChanged SuspendedEV',
      );
    }
  }
});

test('DC session reports SoC and tapers above 80 %', async () => {
  const clock = new ManualClock('2025-01-01T10:00:00Z');
  const cp = sim({
    identity: 'DC16',
    protocol: 'ocpp1.6',
    clock,
    evses: [{ id: 1, connectors: [{ id: 1, powerType: 'DC', maxCurrentA: 200, maxPowerW: 50_000 }] }],
  });
  await cp.connect();
  await cp.startSession({ evseId: 1, idTag: 'DC', ev: { batteryWh: 50_000, socPercent: 70, maxPowerW: 50_000 } });
  assert.equal(cp.evse(1).powerW, 50_000, 'EVSE limit');
  clock.advance(6 * 60_000); // 5 kWh = 10 % → 80 %
  await cp.sendMeterValues(1);
  assert.ok(Math.abs((cp.evse(1).socPercent ?? 0) - 80) < 1e-9);
  clock.advance(6 * 60_000);
  cp.refresh();
  assert.ok(cp.evse(1).powerW < 50_000, 'tapering');
  const mv = payloads<{ meterValue: { sampledValue: Sampled[] }[] }>(csms.calls('DC16', 'MeterValues'))[0]?.meterValue ?? [];
  assert.deepEqual(sample(mv, 'SoC'), { value: '80', context: 'Trigger', measurand: 'SoC', unit: 'Percent', location: 'EV' });
  assert.equal(sample(mv, 'Current.Import')?.value, '125', '50 kW / 400 V');
});

test('Authorize rejected: no transaction, SessionRejectedError (both versions)', async () => {
  csms.blocked.add('BAD-TAG');
  for (const protocol of ['ocpp1.6', 'ocpp2.0.1'] as const) {
    const identity = `REJ-${protocol}`;
    const cp = sim({ identity, protocol });
    await cp.connect();
    await assert.rejects(cp.startSession({ evseId: 1, idTag: 'BAD-TAG' }), (e: unknown) => e instanceof SessionRejectedError && e.status === 'Blocked');
    assert.equal(csms.calls(identity, protocol === 'ocpp1.6' ? 'StartTransaction' : 'TransactionEvent').length, 0);
    assert.equal(cp.evse(1).transaction, undefined);
  }
});

test('id tag rejected in the start answer: StopTransactionOnInvalidId stops at once (DeAuthorized)', async () => {
  csms.handlers.set('StartTransaction', () => ({ transactionId: 777, idTagInfo: { status: 'Invalid' } }));
  csms.handlers.set('TransactionEvent', (p) => (p.eventType === 'Started' ? { idTokenInfo: { status: 'Invalid' } } : {}));
  try {
    for (const protocol of ['ocpp1.6', 'ocpp2.0.1'] as const) {
      const identity = `INV-${protocol}`;
      const cp = sim({ identity, protocol });
      await cp.connect();
      const id = await cp.startSession({ evseId: 1, idTag: 'LATE-REJECT' });
      if (protocol === 'ocpp1.6') {
        assert.equal(id, 777);
        const [stop] = await csms.waitForCalls(identity, 'StopTransaction');
        assert.deepEqual([(stop?.payload as any).transactionId, (stop?.payload as any).reason], [777, 'DeAuthorized']);
      } else {
        await csms.waitForCalls(identity, 'TransactionEvent', 2);
        const ended = payloads<Record<string, any>>(csms.calls(identity, 'TransactionEvent'))[1];
        assert.deepEqual([ended?.eventType, ended?.triggerReason, ended?.transactionInfo.stoppedReason], ['Ended', 'Deauthorized', 'DeAuthorized']);
      }
      assert.equal(cp.evse(1).transaction, undefined);
    }
    // With StopTransactionOnInvalidId = false the transaction stays, suspended by the EVSE.
    const cp = sim({ identity: 'INV-KEEP', protocol: 'ocpp1.6', config: { StopTransactionOnInvalidId: 'false' } });
    await cp.connect();
    await cp.startSession({ evseId: 1, idTag: 'LATE-REJECT' });
    assert.equal(cp.evse(1).status, 'SuspendedEVSE');
    assert.equal(cp.evse(1).powerW, 0);
  } finally {
    csms.handlers.delete('StartTransaction');
    csms.handlers.delete('TransactionEvent');
  }
});
