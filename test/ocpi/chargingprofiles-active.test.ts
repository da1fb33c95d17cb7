/**
 * ActiveChargingProfile PUTs from the CPO to the SCSP's chargingprofiles SENDER endpoint (protocols.md
 * §1.7 step 5, §2.7 rules): after the partner's first successful set, every change of the session's
 * active profile that Ampline knows of (its own set/clear, other profiles such as a station maximum,
 * the load balancer re-allocating) is PUT to `{url}/{session_id}` — only when it changed, and never for a session the
 * partner never profiled.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChargingProfile } from '../../src/smart/profile.js';
import { epochMs, seconds, watts } from '../../src/smart/units.js';
import { parseSites } from '../../src/services/load-balancer.js';
import { sleep, waitFor } from '../helpers/wire.js';
import { type Fixture, pairedStation, sessionRow, startFixture, startSession, threePhase } from './chargingprofiles-fixture.js';

let f: Fixture;

before(async () => {
  f = await startFixture();
  f.csms.ocpiModules.profiles.configure({ minIntervalMs: 0, ocppTimeoutMs: 3000, activeDebounceMs: 50, activeHorizonS: 900 });
});

after(async () => {
  await f?.stop();
});

const firstLimit = (r: { body: any }): number => r.body.charging_profile.charging_profile_period[0].limit;

/** Wait until `n` ActiveChargingProfiles have arrived for the session. */
const nth = (sessionId: string, n: number) => waitFor(() => f.peer.activeFor(sessionId)[n - 1], { timeoutMs: 10_000, what: `ActiveChargingProfile #${n} for ${sessionId}` });

/** No new PUT for the session within a while (debounce 50 ms + computation). */
async function quiet(sessionId: string, count: number): Promise<void> {
  await sleep(400);
  await f.csms.ocpiModules.profiles.idle();
  assert.equal(f.peer.activeFor(sessionId).length, count, JSON.stringify(f.peer.activeFor(sessionId).map((r) => r.body)));
}

test('ActiveChargingProfile PUTs for the profiled session on every change, none for the unprofiled one', async () => {
  const uid = 'ACP-1';
  const cp = await pairedStation(f, uid, 'ocpp2.0.1', { evses: [threePhase(1), threePhase(2)] });
  const a = await startSession(f, cp, 1);
  const b = await startSession(f, cp, 2);
  const startIso = new Date(Date.now() - 10_000).toISOString();

  // The partner sets a plan on session A (Absolute from 10 s ago: in force for the whole horizon).
  const url = f.peer.responseUrl('acp-set');
  const put = await f.call('PUT', `${f.base}/${a.sessionId}`, { charging_profile: { start_date_time: startIso, charging_rate_unit: 'W', charging_profile_period: [{ start_period: 0, limit: 7000 }] }, response_url: url });
  assert.equal(put.body.data.result, 'ACCEPTED');
  assert.deepEqual((await f.peer.result(url.slice(f.peer.url.length))).body, { result: 'ACCEPTED' });

  // 1. The accepted set changes the active profile: PUT to {SENDER url}/{session_id}.
  const first = await nth(a.sessionId, 1);
  assert.equal(first.authorization, `Token ${Buffer.from(f.peer.tokenForUs).toString('base64')}`);
  assert.equal(first.url, `/ocpi/2.2.1/chargingprofiles/${a.sessionId}`);
  assert.ok(Math.abs(Date.parse(first.body.start_date_time) - Date.now()) < 10_000, 'start_date_time = time of the calculation');
  assert.deepEqual(first.body.charging_profile, { charging_rate_unit: 'W', duration: 900, charging_profile_period: [{ start_period: 0, limit: 7000 }] });
  await f.csms.ocpiModules.profiles.idle();
  const row = await sessionRow(f, a.sessionId);
  assert.deepEqual(JSON.parse(row!.active_profile!), first.body, 'the last one sent is recorded');
  assert.ok(row!.active_profile_at);

  // 2. Something else changes the limit: a station maximum of 5 kW (EVSE 0: every session of the station).
  const max: ChargingProfile = {
    id: 777,
    evseId: 0,
    stackLevel: 0,
    chargingProfilePurpose: 'ChargingStationMaxProfile',
    chargingProfileKind: 'Absolute',
    chargingSchedule: [{ id: 777, startSchedule: epochMs(Date.parse(startIso)), chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: seconds(0), limit: watts(5000) }] }],
  };
  assert.equal((await f.csms.smart.set(uid, max, { source: 'api' })).status, 'Accepted');
  const second = await nth(a.sessionId, 2);
  assert.equal(firstLimit(second), 5000);
  await quiet(a.sessionId, 2);

  // 3. A trigger without a change sends nothing (the window sliding forward is not a change).
  f.csms.events.publish({ type: 'ChargingProfilesChanged', stationId: uid, evseIds: [0] });
  await quiet(a.sessionId, 2);

  // 4. NotifyChargingLimit: the station is asked for its external limits of that source first.
  const asked: unknown[] = [];
  cp.setResponder((action, payload) => {
    if (action === 'GetChargingProfiles') asked.push(payload);
    return undefined;
  });
  f.csms.events.publish({ type: 'ChargingLimitNotified', stationId: uid, evseId: 1, source: 'EMS' });
  await waitFor(() => asked.length > 0, { what: 'GetChargingProfiles after NotifyChargingLimit' });
  cp.setResponder(undefined);
  assert.deepEqual((asked[0] as { evseId: number; chargingProfile: unknown }).evseId, 1);
  assert.deepEqual((asked[0] as { chargingProfile: unknown }).chargingProfile, { chargingLimitSource: ['EMS'] });
  await quiet(a.sessionId, 2);

  // 5. The station maximum goes: the plan's 7 kW again.
  assert.equal((await f.csms.smart.clear(uid, { id: 777 })).status, 'Accepted');
  assert.equal(firstLimit(await nth(a.sessionId, 3)), 7000);

  // 6. The partner clears its plan: nothing left but the EVSE's maximum (32 A × 3 × 230 V).
  const del = f.peer.responseUrl('acp-del');
  assert.equal((await f.call('DELETE', `${f.base}/${a.sessionId}?response_url=${encodeURIComponent(del)}`)).body.data.result, 'ACCEPTED');
  assert.deepEqual((await f.peer.result(del.slice(f.peer.url.length))).body, { result: 'ACCEPTED' });
  assert.equal(firstLimit(await nth(a.sessionId, 4)), 22080);
  assert.equal((await sessionRow(f, a.sessionId))?.profile_state, 'cleared');

  // Session B was never profiled: nothing, through all of the above.
  assert.equal(f.peer.activeFor(b.sessionId).length, 0);
  // A DELETE on B does not make it profiled either.
  const delB = f.peer.responseUrl('acp-del-b');
  assert.equal((await f.call('DELETE', `${f.base}/${b.sessionId}?response_url=${encodeURIComponent(delB)}`)).body.data.result, 'ACCEPTED');
  await f.peer.result(delB.slice(f.peer.url.length));
  assert.equal((await f.csms.smart.set(uid, { ...max, chargingSchedule: [{ ...max.chargingSchedule[0]!, chargingSchedulePeriod: [{ startPeriod: seconds(0), limit: watts(4000) }] }] as ChargingProfile['chargingSchedule'] }, { source: 'api' })).status, 'Accepted');
  assert.equal(firstLimit(await nth(a.sessionId, 5)), 4000, 'A (cleared, still watched) hears of the new maximum');
  await quiet(b.sessionId, 0);

  // 7. The session ends: no more PUTs for it.
  await cp.stopSession(1);
  await waitFor(async () => (await f.csms.db.kysely.selectFrom('transactions').select('state').where('id', '=', a.sessionId).executeTakeFirst())?.state === 'ended');
  assert.equal((await f.csms.smart.clear(uid, { id: 777 })).status, 'Accepted');
  await quiet(a.sessionId, 5);
});

test('a partner that refuses the PUT gets it again at the next change (nothing recorded as sent)', async () => {
  const uid = 'ACP-REFUSE';
  const cp = await pairedStation(f, uid, 'ocpp1.6');
  const a = await startSession(f, cp, 1);
  const url = f.peer.responseUrl('refuse-set');
  const startIso = new Date(Date.now() - 10_000).toISOString();
  assert.equal((await f.call('PUT', `${f.base}/${a.sessionId}`, { charging_profile: { start_date_time: startIso, charging_rate_unit: 'A', charging_profile_period: [{ start_period: 0, limit: 10 }] }, response_url: url })).body.data.result, 'ACCEPTED');
  await f.peer.result(url.slice(f.peer.url.length));
  const first = await nth(a.sessionId, 1);
  assert.deepEqual(first.body.charging_profile, { charging_rate_unit: 'A', duration: 900, charging_profile_period: [{ start_period: 0, limit: 10 }] }, 'in the unit the partner set');
  // The recorded profile is forgotten (as if the PUT had failed): the next trigger sends again.
  await f.csms.ocpiModules.profiles.idle();
  await f.csms.db.kysely.updateTable('ocpi_sessions').set({ active_profile: null }).where('session_id', '=', a.sessionId).execute();
  f.csms.events.publish({ type: 'ChargingProfilesChanged', stationId: uid, evseIds: [1] });
  await nth(a.sessionId, 2);
});

test('the load balancer re-allocating changes the active profile: PUT with the allocation', async () => {
  const uid = 'ACP-LB';
  const cp = await pairedStation(f, uid, 'ocpp2.0.1');
  const a = await startSession(f, cp, 1);
  const url = f.peer.responseUrl('lb-set');
  const startIso = new Date(Date.now() - 10_000).toISOString();
  assert.equal((await f.call('PUT', `${f.base}/${a.sessionId}`, { charging_profile: { start_date_time: startIso, charging_rate_unit: 'W', charging_profile_period: [{ start_period: 0, limit: 11000 }] }, response_url: url })).body.data.result, 'ACCEPTED');
  await f.peer.result(url.slice(f.peer.url.length));
  assert.equal(firstLimit(await nth(a.sessionId, 1)), 11000);
  // A 10 A site: the balancer's TxProfile (above the plan's stack level) becomes the session's limit.
  f.csms.balancer.setSite(parseSites([{ id: 'acp-site', limit: { perPhaseA: 10 }, tickS: 1, stations: [{ id: uid }] }])[0]!);
  try {
    const lb = await waitFor(() => f.peer.activeFor(a.sessionId).find((r) => firstLimit(r) <= 10 * 3 * 230), { timeoutMs: 15_000, what: 'ActiveChargingProfile with the allocation' });
    assert.equal(lb.body.charging_profile.charging_rate_unit, 'W', 'in the unit the partner set, though the balancer works in A');
    assert.ok(cp.chargingProfiles().some((p) => p.id === 9001), 'the balancer’s TxProfile is on the charger');
  } finally {
    f.csms.balancer.removeSite('acp-site');
  }
});
