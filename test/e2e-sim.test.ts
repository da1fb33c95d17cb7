/**
 * End to end with the real simulator: SimChargePoints of both versions against a real CSMS over real
 * sockets — boot, status, a session with meter values, a management limit the charger then follows,
 * a remote stop — and what the CSMS persisted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimChargePoint, type Amps, type Watts, type WattHours } from '../src/sim/index.js';
import { startTestCsms } from './helpers/csms.js';
import { waitFor } from './helpers/wire.js';

const KEY = 'test-api-key-123';

for (const protocol of ['ocpp1.6', 'ocpp2.0.1'] as const) {
  test(`simulated ${protocol} charger: session, limit followed, remote stop, all persisted`, async () => {
    const csms = await startTestCsms();
    const id = `E2E-${protocol === 'ocpp1.6' ? '16' : '201'}`;
    const cp = new SimChargePoint({
      url: csms.ocppUrl,
      identity: id,
      protocol,
      evses: [{ id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 32 as Amps }] }],
      meterIntervalS: 1,
      reconnect: false,
    });
    try {
      const boot = await cp.connect();
      assert.equal(boot.status, 'Accepted');
      await waitFor(async () => (await csms.db.kysely.selectFrom('connectors').selectAll().where('station_id', '=', id).where('evse_id', '=', 1).execute()).length === 1);

      await cp.startSession({ evseId: 1, idTag: 'E2ETAG', ev: { batteryWh: 60000 as WattHours, socPercent: 20, maxPowerW: 22000 as Watts, phases: 3 } });
      await waitFor(async () => {
        const tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('station_id', '=', id).executeTakeFirst();
        return tx?.state === 'active' && (tx.power_w ?? 0) > 20000;
      }, { timeoutMs: 8000 });

      // A 10 A limit through the seed-003 API; the simulated EV must slow down to 10 A × 3 × 230 V.
      const res = await fetch(`${csms.url}/API/SetChargingLimit/${id}/1/10A`, { headers: { 'X-API-Key': KEY } });
      assert.deepEqual(await res.json(), { status: 'Accepted' });
      await waitFor(() => Math.abs(cp.evse(1).powerW - 6900) < 1, { timeoutMs: 5000 });
      await waitFor(async () => {
        const tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('station_id', '=', id).executeTakeFirstOrThrow();
        return Math.abs((tx.power_w ?? 0) - 6900) < 1;
      }, { timeoutMs: 8000 });
      const status = (await (await fetch(`${csms.url}/API/Status`, { headers: { 'X-API-Key': KEY } })).json()) as Array<{ id: string; OnlineConnectors: Record<string, { Status: number; ChargeRateKW: number }> }>;
      const mine = status.find((s) => s.id === id)!;
      assert.equal(mine.OnlineConnectors['1']!.Status, 2);
      assert.equal(mine.OnlineConnectors['1']!.ChargeRateKW, 6.9);

      const stop = await fetch(`${csms.url}/API/StopTransaction/${id}/1`, { headers: { 'X-API-Key': KEY } });
      assert.deepEqual(await stop.json(), { status: 'Accepted' });
      await waitFor(async () => {
        const tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('station_id', '=', id).executeTakeFirstOrThrow();
        return tx.state === 'ended';
      }, { timeoutMs: 8000 });
      const tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('station_id', '=', id).executeTakeFirstOrThrow();
      assert.ok((tx.energy_wh ?? 0) > 0, 'energy recorded');
      assert.equal(tx.stop_reason, 'Remote');
      const mv = await csms.db.kysely.selectFrom('meter_values').select((eb) => eb.fn.countAll<number>().as('n')).where('transaction_id', '=', tx.id).executeTakeFirstOrThrow();
      assert.ok(Number(mv.n) >= 5, `meter values stored (${mv.n})`);
      const measurands = await csms.db.kysely.selectFrom('meter_values').select('measurand').distinct().where('transaction_id', '=', tx.id).execute();
      for (const m of ['Energy.Active.Import.Register', 'Power.Active.Import', 'Current.Import']) {
        assert.ok(measurands.some((r) => r.measurand === m), `${m} stored`);
      }
    } finally {
      await cp.close();
      await csms.destroy();
    }
  });
}
