/** Smoke: the smart-charging service against real simulated chargers (both versions). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimChargePoint, type Amps, type Watts, type WattHours } from '../../src/sim/index.js';
import { startTestCsms } from '../helpers/csms.js';
import { waitFor } from '../helpers/wire.js';
import { ProfileRejectedError } from '../../src/services/smart-charging.js';
import type { ChargingProfile } from '../../src/smart/profile.js';

for (const protocol of ['ocpp1.6', 'ocpp2.0.1'] as const) {
  test(`smart-charging service smoke ${protocol}`, async () => {
    const csms = await startTestCsms();
    const id = `SMK-${protocol}`;
    const cp = new SimChargePoint({ url: csms.ocppUrl, identity: id, protocol, evses: [{ id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 32 as Amps }] }], meterIntervalS: 0, reconnect: false });
    try {
      await cp.connect();
      await waitFor(async () => (await csms.db.kysely.selectFrom('connectors').selectAll().where('station_id', '=', id).execute()).length >= 1);
      const txId = await cp.startSession({ evseId: 1, idTag: 'T1', ev: { batteryWh: 60000 as WattHours, socPercent: 20, maxPowerW: 22000 as Watts, phases: 3 } });
      await waitFor(async () => (await csms.smart.activeTransactions(id)).length === 1);
      const [tx] = await csms.smart.activeTransactions(id);
      assert.equal(tx?.transactionId, String(txId));
      const now = Date.now();
      const p = {
        id: 7, evseId: 1, stackLevel: 1, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Absolute', transactionId: tx!.transactionId,
        chargingSchedule: [{ id: 7, startSchedule: now - 1000, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }] }],
      } as unknown as ChargingProfile;
      const res = await csms.smart.set(id, p);
      assert.equal(res.status, 'Accepted');
      assert.equal((await csms.smart.installed(id)).length, 1);
      await waitFor(() => Math.abs(cp.evse(1).powerW - 6900) < 1, { timeoutMs: 5000 });
      const comp = await csms.smart.composite(id, 1, 600, 'A');
      assert.equal(comp.status, 'Accepted');
      assert.deepEqual(comp.differences, []);
      await assert.rejects(csms.smart.set(id, { ...p, id: 8, transactionId: '999' }), ProfileRejectedError);
      if (protocol === 'ocpp2.0.1') {
        const rep = await csms.smart.report(id, {});
        assert.equal(rep.status, 'Accepted');
        assert.equal(rep.profiles.length, 1);
      }
      const cl = await csms.smart.clear(id, { id: 7 });
      assert.equal(cl.status, 'Accepted');
      assert.deepEqual(cl.removed, [7]);
      assert.equal((await csms.smart.installed(id)).length, 0);
    } finally {
      await cp.close();
      await csms.destroy();
    }
  });
}
