/**
 * Issue 5 cross-check: the CSMS-side composite schedule (src/smart, pure) against the simulator's own
 * GetCompositeSchedule answer (src/sim, written independently), for the same installed profiles sent
 * over a real socket — stacking, Max over Tx/TxDefault, Recurring, Relative, W and A.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OCPP16, OCPP20 } from 'typed-ocpp';
import { SimChargePoint, type Amps } from '../../src/sim/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { startTestCsms } from '../helpers/csms.js';
import { compositeSchedule } from '../../src/smart/composite.js';
import { compareComposites, fromOcpp16Composite, fromOcpp201Composite } from '../../src/smart/composite-wire.js';
import { fromOcpp16, fromOcpp201, type ChargingProfile, type ChargingProfile201 } from '../../src/smart/profile.js';
import { amps, volts, type EpochMs, type Seconds } from '../../src/smart/units.js';

const T0 = '2025-01-01T10:00:00.000Z';
const evse = { maxCurrentA: amps(32), phases: 3, voltage: volts(230) };

test('composite cross-check with the simulator, OCPP 2.0.1 (A and W)', async () => {
  const csms = await startTestCsms();
  const clock = new ManualClock(T0);
  const cp = new SimChargePoint({ url: csms.ocppUrl, identity: 'XC201', protocol: 'ocpp2.0.1', clock, meterIntervalS: 0, reconnect: false, evses: [{ id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 32 as Amps }] }] });
  try {
    await cp.connect();
    const txId = String(await cp.startSession({ evseId: 1, idTag: 'XC' }));
    const profiles: Array<{ evseId: number; chargingProfile: ChargingProfile201 }> = [
      { evseId: 0, chargingProfile: { id: 1, stackLevel: 0, chargingProfilePurpose: 'ChargingStationMaxProfile', chargingProfileKind: 'Absolute', chargingSchedule: [{ id: 1, startSchedule: T0, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 32 }, { startPeriod: 3600, limit: 20 }] }] } },
      { evseId: 0, chargingProfile: { id: 2, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Recurring', recurrencyKind: 'Daily', chargingSchedule: [{ id: 2, startSchedule: '2025-01-01T08:00:00.000Z', chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }, { startPeriod: 7200, limit: 10 }, { startPeriod: 14400, limit: 25 }] }] } },
      { evseId: 1, chargingProfile: { id: 3, stackLevel: 1, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute', chargingSchedule: [{ id: 3, startSchedule: '2025-01-01T10:30:00.000Z', duration: 1800, chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 4140 }] }] } },
      { evseId: 1, chargingProfile: { id: 4, stackLevel: 0, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Relative', transactionId: txId, chargingSchedule: [{ id: 4, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 13 }, { startPeriod: 900, limit: 8 }, { startPeriod: 2700, limit: 30 }] }] } },
    ];
    for (const p of profiles) {
      const r = (await csms.commands.send('XC201', 'SetChargingProfile', p)) as { status: string };
      assert.equal(r.status, 'Accepted', `profile ${p.chargingProfile.id}`);
    }
    const installed: ChargingProfile[] = profiles.map((p) => fromOcpp201(p.evseId, p.chargingProfile));
    const txStart = Date.parse(cp.evse(1).transaction!.startedAt) as EpochMs;
    for (const unit of ['A', 'W'] as const) {
      const res = (await csms.commands.send('XC201', 'GetCompositeSchedule', { evseId: 1, duration: 14400, chargingRateUnit: unit })) as unknown as OCPP20.GetCompositeScheduleResponse;
      assert.equal(res.status, 'Accepted');
      const actual = fromOcpp201Composite(res.schedule!);
      const expected = compositeSchedule({ profiles: installed, evseId: 1, now: actual.scheduleStart, duration: 14400 as Seconds, unit, transaction: { id: txId, start: txStart }, evse });
      assert.deepEqual(compareComposites(expected, actual), [], `${unit}: ${JSON.stringify({ expected: expected.chargingSchedulePeriod, actual: actual.chargingSchedulePeriod })}`);
      assert.ok(expected.chargingSchedulePeriod.length >= 4, 'a non-trivial schedule was compared');
    }
  } finally {
    await cp.close();
    await csms.destroy();
  }
});

async function crosscheck16(units: readonly ('A' | 'W')[]): Promise<void> {
  const csms = await startTestCsms();
  const clock = new ManualClock(T0);
  const cp = new SimChargePoint({ url: csms.ocppUrl, identity: 'XC16', protocol: 'ocpp1.6', clock, meterIntervalS: 0, reconnect: false, evses: [{ id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 32 as Amps }] }] });
  try {
    await cp.connect();
    const tx = Number(await cp.startSession({ evseId: 1, idTag: 'XC' }));
    const sets: OCPP16.SetChargingProfileRequest[] = [
      { connectorId: 0, csChargingProfiles: { chargingProfileId: 11, stackLevel: 0, chargingProfilePurpose: 'ChargePointMaxProfile', chargingProfileKind: 'Absolute', chargingSchedule: { startSchedule: T0, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 24 }, { startPeriod: 5400, limit: 12 }] } } },
      { connectorId: 0, csChargingProfiles: { chargingProfileId: 12, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute', chargingSchedule: { startSchedule: T0, chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 11000 }, { startPeriod: 1800, limit: 7000, numberPhases: 1 }] } } },
      { connectorId: 1, csChargingProfiles: { chargingProfileId: 13, transactionId: tx, stackLevel: 0, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Relative', chargingSchedule: { duration: 3600, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }, { startPeriod: 1200, limit: 20 }] } } },
    ];
    for (const p of sets) {
      const r = (await csms.commands.send('XC16', 'SetChargingProfile', p)) as { status: string };
      assert.equal(r.status, 'Accepted', `profile ${p.csChargingProfiles.chargingProfileId}`);
    }
    const installed = sets.map((p) => fromOcpp16(p.connectorId, p.csChargingProfiles));
    const txStart = Date.parse(cp.evse(1).transaction!.startedAt) as EpochMs;
    for (const unit of units) {
      const res = (await csms.commands.send('XC16', 'GetCompositeSchedule', { connectorId: 1, duration: 9000, chargingRateUnit: unit })) as unknown as OCPP16.GetCompositeScheduleResponse;
      assert.equal(res.status, 'Accepted');
      const actual = fromOcpp16Composite(res, { connectorId: 1, duration: 9000 })!;
      const expected = compositeSchedule({ profiles: installed, evseId: 1, now: actual.scheduleStart, duration: 9000 as Seconds, unit, transaction: { id: String(tx), start: txStart }, evse });
      assert.deepEqual(compareComposites(expected, actual), [], `${unit}: ${JSON.stringify({ expected: expected.chargingSchedulePeriod, actual: actual.chargingSchedulePeriod })}`);
    }
  } finally {
    await cp.close();
    await csms.destroy();
  }
}

// A 1-phase TxDefault period (7000 W) under a ChargePointMax of 24 A without numberPhases: both sides
// must convert the 24 A cap with the one phase in force (5,520 W), not with 3. This case found that bug
// in the simulator.
test('composite cross-check with the simulator, OCPP 1.6 (A and W)', () => crosscheck16(['A', 'W']));
