/**
 * The whole loop the OCPI 2.2.1 way (issue 8 "Show"), over real HTTP and WebSockets: Ampline CPO (the
 * CSMS) and Ampline SCSP register with each other (token A → B → C), the CSMS pushes the paired chargers'
 * sessions as OCPI Sessions, the SCSP plans under its site limit and PUTs ChargingProfiles per session,
 * the CSMS installs them as TxProfiles on the chargers and POSTs the results to the SCSP's response_url,
 * a re-plan replaces the profile (same OCPP profile id), the CSMS PUTs the ActiveChargingProfile when
 * its own load balancing changes what is in force, and the SCSP DELETEs its profiles when the station is
 * unpaired. Set up exactly as `npm start -- --route ocpi` does it (src/demo.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SimChargePoint } from '../src/sim/index.js';
import { startTestCsms } from './helpers/csms.js';
import { waitFor } from './helpers/wire.js';
import { startTestScsp } from './scsp/helpers.js';
import { linkParties } from '../src/demo.js';
import { pairedChargers, startLoopSessions } from './helpers/loop.js';

const CPO = 'ampline-csms';

test('CSMS ↔ SCSP over OCPI: sessions pushed, profiles PUT per session, results, replacement, ActiveChargingProfile, DELETE on unpair', async () => {
  const csms = await startTestCsms();
  const scsp = await startTestScsp();
  const cps: SimChargePoint[] = [];
  try {
    await linkParties(csms, scsp, { route: 'ocpi' });
    // Both registrations completed over HTTP, each side listing the other's functional modules.
    const atCsms = await csms.ocpi.partners.get('ampline-scsp-ocpi');
    const atScsp = await scsp.ocpi.partners.get('ampline-csms-ocpi');
    assert.equal(atCsms?.state, 'registered');
    assert.equal(atScsp?.state, 'registered');
    assert.ok(atCsms.endpoints.some((e) => e.identifier === 'sessions' && e.role === 'RECEIVER'));
    assert.ok(atCsms.endpoints.some((e) => e.identifier === 'chargingprofiles' && e.role === 'SENDER'));
    assert.ok(atScsp.endpoints.some((e) => e.identifier === 'chargingprofiles' && e.role === 'RECEIVER'));

    await pairedChargers(csms, scsp, 'OCPI', cps);
    await startLoopSessions(cps, 'OCPI');
    // Sessions reached the SCSP as OCPI Sessions (no OCPP-format events: the partner takes session data over OCPI).
    await waitFor(async () => (await scsp.ocpiStore.list({ cpoId: CPO, status: 'ACTIVE' })).rows.length === 2, { timeoutMs: 20_000 });
    const outbox = await csms.db.kysely.selectFrom('outbox').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
    assert.equal(Number(outbox?.n), 0, 'no OCPP-format events are queued for an OCPI partner');
    const txs = await csms.db.kysely.selectFrom('transactions').select(['id', 'station_id']).where('state', '=', 'active').execute();
    const pushed = (await scsp.ocpiStore.list({ cpoId: CPO })).rows;
    for (const t of txs) {
      const row = pushed.find((r) => r.session_id === t.id);
      assert.ok(row, `session ${t.id} of ${t.station_id} pushed under Ampline's own session id`);
      const session = JSON.parse(row.object) as { location_id: string; evse_uid: string; party_id: string };
      assert.equal(session.location_id, t.station_id);
      assert.equal(session.evse_uid, `${t.station_id}*1`);
      assert.equal(session.party_id, 'AMP');
    }

    // The SCSP planned and PUT one profile per session; the CSMS installed it as the SCSP's TxProfile
    // (profile id 8001 on EVSE 1) and each charger follows 7 kW (14 kW shared).
    for (const cp of cps) {
      await waitFor(async () => (await csms.smart.installed(cp.identity)).some((r) => r.source === 'scsp'), { timeoutMs: 20_000 });
      await waitFor(() => Math.abs(cp.evse(1).powerW - 7000) < 100, { timeoutMs: 20_000 });
    }
    const delivered = await scsp.delivery.list({ cpoId: CPO });
    assert.ok(
      delivered.rows.some((d) => d.status === 'delivered'),
      JSON.stringify(delivered.rows.map((d) => [d.status, d.lastError])),
    );
    // The async results arrived at the SCSP's response URLs: the profile state is `set` at both ends.
    await waitFor(async () => (await scsp.ocpiStore.list({ cpoId: CPO })).rows.filter((r) => r.profile_state === 'set').length === 2, { timeoutMs: 20_000 });
    const atCpo = await csms.db.kysely.selectFrom('ocpi_sessions').select(['session_id', 'profile_state']).where('profile_state', '=', 'set').execute();
    assert.equal(atCpo.length, 2);
    const profileIds = async (stationId: string) => (await csms.smart.installed(stationId)).filter((r) => r.source === 'scsp').map((r) => r.profile.id);
    assert.deepEqual(await profileIds('OCPI-201'), [8001]);

    // The CSMS tells the SCSP what is in force (ActiveChargingProfile PUT) once it has set a profile.
    await waitFor(async () => (await scsp.ocpiStore.list({ cpoId: CPO })).rows.every((r) => r.active_profile !== null), { timeoutMs: 20_000 });

    // One session ends: the SCSP re-plans and PUTs a new profile for the other session, which replaces
    // the old one on the charger (same OCPP profile id) — the charger may now take the whole 14 kW.
    await cps[0]!.stopSession(1);
    await waitFor(() => cps[1]!.evse(1).powerW > 13_000 && cps[1]!.evse(1).powerW <= 14_050, { timeoutMs: 20_000 });
    assert.deepEqual(await profileIds('OCPI-201'), [8001]);
    await waitFor(async () => (await scsp.ocpiStore.list({ cpoId: CPO, status: 'COMPLETED' })).rows.length === 1, { timeoutMs: 20_000 });

    // The operator unpairs the running station at the SCSP: it DELETEs its profile first (ClearProfileResult
    // posted back), then the CSMS unpairs, and the charger no longer carries an SCSP profile.
    const cpo = await scsp.cpos.get(CPO);
    assert.ok(cpo);
    const out = await scsp.pairing.unpairAtCpo(cpo, 'OCPI-201');
    assert.equal(out.kind, 'unpaired');
    await waitFor(async () => (await profileIds('OCPI-201')).length === 0, { timeoutMs: 20_000 });
    await waitFor(async () => (await scsp.ocpiStore.list({ cpoId: CPO })).rows.some((r) => r.profile_state === 'cleared'), { timeoutMs: 20_000 });
  } catch (err) {
    // What each side saw, to tell a CSMS problem from an SCSP one when this fails in CI.
    const deliveries = (await scsp.delivery.list({ cpoId: CPO })).rows.map((d) => [d.uid, d.status, d.lastError]);
    const atScsp = (await scsp.ocpiStore.list({ cpoId: CPO })).rows.map((r) => [r.session_id, r.status, r.profile_state, r.map_note]);
    const atCsms = await csms.db.kysely.selectFrom('ocpi_sessions').select(['session_id', 'pushed_status', 'push_error', 'profile_state']).execute();
    console.error('e2e-ocpi state', JSON.stringify({ deliveries, atScsp, atCsms, power: cps.map((cp) => [cp.identity, cp.evse(1).powerW]) }));
    throw err;
  } finally {
    for (const cp of cps) await cp.close().catch(() => undefined);
    await scsp.destroy();
    await csms.destroy();
  }
});
