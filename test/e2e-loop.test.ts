/**
 * The whole loop, end to end over real HTTP and WebSockets (issue 7 "The loop"): simulated 1.6 and 2.0.1
 * chargers → Ampline CSMS → events forwarded to the Ampline SCSP → the SCSP plans under its site limit →
 * SetChargingProfile (OCPP format) to the CSMS → TxProfile on the charger → the EV's power follows it.
 * The two parties are registered and paired exactly as `npm start` does it (src/demo.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimChargePoint, type Amps, type Watts, type WattHours } from '../src/sim/index.js';
import { startTestCsms } from './helpers/csms.js';
import { waitFor } from './helpers/wire.js';
import { startTestScsp } from './scsp/helpers.js';
import { linkParties, pairStation } from '../src/demo.js';

test('CSMS ↔ SCSP loop: sessions are forwarded, planned under the site limit, and the chargers follow the plan', async () => {
  const csms = await startTestCsms();
  const scsp = await startTestScsp();
  const cps: SimChargePoint[] = [];
  try {
    await linkParties(csms, scsp);
    const layout = [
      { id: 'LOOP-16', protocol: 'ocpp1.6' as const },
      { id: 'LOOP-201', protocol: 'ocpp2.0.1' as const },
    ];
    for (const s of layout) {
      const cp = new SimChargePoint({
        url: csms.ocppUrl,
        identity: s.id,
        protocol: s.protocol,
        evses: [{ id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 32 as Amps }] }],
        meterIntervalS: 5,
        reconnect: false,
      });
      cps.push(cp);
      await cp.connect();
      await pairStation(csms, scsp, s.id);
    }
    // Both stations behind one 14 kW connection at the SCSP: 7 kW each while both charge.
    await scsp.sites.upsert('home', { maxPowerW: 14_000, stations: layout.map((s) => ({ cpoId: 'ampline-csms', uid: s.id })) });

    for (const cp of cps) {
      await cp.startSession({ evseId: 1, idTag: `LOOP-${cp.identity}`, ev: { batteryWh: 60_000 as WattHours, socPercent: 20, maxPowerW: 22_000 as Watts, phases: 3 } });
    }
    // The SCSP saw the sessions (forwarded TransactionEvents), planned, and the CSMS installed its plan.
    await waitFor(async () => (await scsp.sessions.active([{ cpoId: 'ampline-csms', uid: 'LOOP-16' }, { cpoId: 'ampline-csms', uid: 'LOOP-201' }])).length === 2, {
      timeoutMs: 20_000,
    });
    for (const cp of cps) {
      await waitFor(async () => (await csms.smart.installed(cp.identity)).some((r) => r.source === 'scsp'), { timeoutMs: 20_000 });
      // ≈ 7 kW: 7000 W / (3 × 230 V) = 10.1 A per phase on the charger.
      await waitFor(() => Math.abs(cp.evse(1).powerW - 7000) < 100, { timeoutMs: 20_000 });
    }
    const deliveries = await scsp.delivery.list({ cpoId: 'ampline-csms' });
    assert.ok(deliveries.rows.some((d) => d.status === 'delivered'), JSON.stringify(deliveries.rows.map((d) => d.status)));

    // One session ends: the SCSP re-plans and the other charger may take the whole 14 kW (up to its 22 kW EV).
    await cps[0]!.stopSession(1);
    await waitFor(() => cps[1]!.evse(1).powerW > 13_000 && cps[1]!.evse(1).powerW <= 14_050, { timeoutMs: 20_000 });
  } finally {
    for (const cp of cps) await cp.close().catch(() => undefined);
    await scsp.destroy();
    await csms.destroy();
  }
});
