/**
 * The set-up both end-to-end loop tests share (test/e2e-loop.test.ts, test/e2e-ocpi.test.ts): a 1.6 and a
 * 2.0.1 simulated charger, each with one 3φ 32 A EVSE, connected to the CSMS and paired with the SCSP as
 * `npm start` pairs them, both behind one 14 kW site at the SCSP, each charging a 22 kW EV.
 */
import { SimChargePoint, type Amps, type Watts, type WattHours } from '../../src/sim/index.js';
import { pairStation } from '../../src/demo.js';
import type { Csms } from '../../src/csms/app.js';
import type { Scsp } from '../../src/scsp/app.js';

export const LOOP_CPO_ID = 'ampline-csms';
export const LOOP_SITE_MAX_W = 14_000;

/** Connects and pairs `<prefix>-16` and `<prefix>-201` (pushed into `cps` as they connect, so the caller can close them). */
export async function pairedChargers(csms: Csms, scsp: Scsp, prefix: string, cps: SimChargePoint[]): Promise<void> {
  const layout = [
    { id: `${prefix}-16`, protocol: 'ocpp1.6' as const },
    { id: `${prefix}-201`, protocol: 'ocpp2.0.1' as const },
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
  await scsp.sites.upsert('home', { maxPowerW: LOOP_SITE_MAX_W, stations: layout.map((s) => ({ cpoId: LOOP_CPO_ID, uid: s.id })) });
}

/** Starts a session on EVSE 1 of each charger: a 60 kWh EV at 20 %, up to 22 kW on three phases. */
export async function startLoopSessions(cps: SimChargePoint[], prefix: string): Promise<void> {
  for (const cp of cps) {
    await cp.startSession({ evseId: 1, idTag: `${prefix}-${cp.identity}`, ev: { batteryWh: 60_000 as WattHours, socPercent: 20, maxPowerW: 22_000 as Watts, phases: 3 } });
  }
}
