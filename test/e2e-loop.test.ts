/**
 * The whole loop, end to end over real HTTP and WebSockets (issue 7 "The loop"): simulated 1.6 and 2.0.1
 * chargers → Ampline CSMS → events forwarded to the Ampline SCSP → the SCSP plans under its site limit →
 * SetChargingProfile (OCPP format) to the CSMS → TxProfile on the charger → the EV's power follows it.
 * The two parties are registered and paired exactly as `npm start` does it (src/demo.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SimChargePoint } from '../src/sim/index.js';
import { startTestCsms } from './helpers/csms.js';
import { waitFor } from './helpers/wire.js';
import { startTestScsp } from './scsp/helpers.js';
import { linkParties } from '../src/demo.js';
import { pairedChargers, startLoopSessions } from './helpers/loop.js';

test('CSMS ↔ SCSP loop: sessions are forwarded, planned under the site limit, and the chargers follow the plan', async () => {
  const csms = await startTestCsms();
  const scsp = await startTestScsp();
  const cps: SimChargePoint[] = [];
  try {
    await linkParties(csms, scsp);
    await pairedChargers(csms, scsp, 'LOOP', cps);
    await startLoopSessions(cps, 'LOOP');
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
