/**
 * Smart charging in /api/v1 over real HTTP against real simulated chargers (src/sim) of both versions:
 * set / list / clear / composite schedule / report (2.0.1), remote start with a profile, the seed-003
 * charging limit recorded in the same shadow, and everything that must be refused — schema-invalid bodies
 * (400), K01 violations (422 with the violation list, and nothing sent to the charger: the simulator
 * records every CSMS call), scopes, unknown and offline stations, a silent and a rejecting charger.
 * Every 2xx body is checked against the schema the served OpenAPI document gives it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { SimChargePoint, type Amps, type Watts, type WattHours } from '../src/sim/index.js';
import { startTestCsms, type TestCsms } from './helpers/csms.js';
import { waitFor } from './helpers/wire.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ADMIN = 'test-api-key-123';
const PROTOCOLS = ['ocpp1.6', 'ocpp2.0.1'] as const;
type Protocol = (typeof PROTOCOLS)[number];

let csms: TestCsms;
let doc: any;
const ajv = addFormats(new Ajv({ strict: false, allErrors: true, validateSchema: false }));
const sims = new Map<string, SimChargePoint>();
/** Every CSMS-initiated call each simulated charger received, in order. */
const received = new Map<string, Array<{ action: string; payload: any }>>();
/** Per station: how to answer SetChargingProfile (default: the simulator's own behaviour). */
const scripted = new Map<string, 'reject' | 'silent'>();
let readKey = '';
let commandKey = '';

const ID: Record<Protocol, string> = { 'ocpp1.6': 'SC-16', 'ocpp2.0.1': 'SC-201' };
const EV = { batteryWh: 60000 as WattHours, socPercent: 20, maxPowerW: 22000 as Watts, phases: 3 };

interface Res {
  status: number;
  body: any;
}

async function api(path: string, opts: { method?: string; body?: unknown; key?: string | null } = {}): Promise<Res> {
  const headers: Record<string, string> = {};
  if (opts.key !== null) headers['x-api-key'] = opts.key ?? ADMIN;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(csms.url + path, { method: opts.method ?? 'GET', headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Assert `body` matches the served OpenAPI component `name`. */
function conforms(name: string, body: unknown): void {
  const validate = ajv.getSchema(`openapi#/components/schemas/${name}`) ?? ajv.compile({ $ref: `openapi#/components/schemas/${name}` });
  assert.ok(validate(body), `${name}: ${ajv.errorsText(validate.errors)} — ${JSON.stringify(body).slice(0, 600)}`);
}

function sent(id: string, action: string): number {
  return (received.get(id) ?? []).filter((c) => c.action === action).length;
}

function lastSent(id: string, action: string): any {
  return [...(received.get(id) ?? [])].reverse().find((c) => c.action === action)?.payload;
}

async function sim(id: string, protocol: Protocol, config: Record<string, string> = {}): Promise<SimChargePoint> {
  received.set(id, []);
  const cp = new SimChargePoint({
    url: csms.ocppUrl,
    identity: id,
    protocol,
    evses: [
      { id: 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 32 as Amps }] },
      { id: 2, connectors: [{ id: 1, powerType: 'AC_3_PHASE', maxCurrentA: 32 as Amps }] },
    ],
    meterIntervalS: 0,
    reconnect: false,
    config,
    responder: (action, payload) => {
      received.get(id)!.push({ action, payload });
      const how = scripted.get(id);
      if (action === 'SetChargingProfile') {
        if (how === 'reject') return { result: { status: 'Rejected' } };
        if (how === 'silent') return 'noreply';
      }
      // Accepts GetChargingProfiles but never sends the ReportChargingProfiles that should follow.
      if (action === 'GetChargingProfiles' && how === 'silent') return { result: { status: 'Accepted' } };
      return undefined;
    },
  });
  await cp.connect();
  await waitFor(async () => (await csms.db.kysely.selectFrom('connectors').selectAll().where('station_id', '=', id).where('evse_id', '>', 0).execute()).length >= 2);
  sims.set(id, cp);
  return cp;
}

/** A station that only takes amps, at most stack level 3 (so W and stack level 4 are violations). */
const LIMITED: Record<Protocol, Record<string, string>> = {
  'ocpp1.6': { ChargingScheduleAllowedChargingRateUnit: 'Current', ChargeProfileMaxStackLevel: '3' },
  'ocpp2.0.1': { 'SmartChargingCtrlr.RateUnit': 'A', 'SmartChargingCtrlr.ProfileStackLevel': '3' },
};

const iso = (offsetMs = 0): string => new Date(Date.now() + offsetMs).toISOString();

function txDefault(id: number, evseId: number, limit: number, extra: Record<string, unknown> = {}) {
  return {
    evseId,
    id,
    stackLevel: 0,
    chargingProfilePurpose: 'TxDefaultProfile',
    chargingProfileKind: 'Absolute',
    chargingSchedule: [{ startSchedule: iso(-1000), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit }] }],
    ...extra,
  };
}

function txProfile(id: number, evseId: number, transactionId: string | undefined, limit: number) {
  return {
    evseId,
    id,
    stackLevel: 1,
    chargingProfilePurpose: 'TxProfile',
    chargingProfileKind: 'Absolute',
    ...(transactionId !== undefined ? { transactionId } : {}),
    chargingSchedule: [{ startSchedule: iso(-1000), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit }] }],
  };
}

async function activeTx(stationId: string, evseId: number): Promise<string> {
  const r = await waitFor(async () => (await api(`/api/v1/transactions?stationId=${stationId}&state=active&evseId=${evseId}`)).body.data[0]);
  return r.ocppTransactionId as string;
}

before(async () => {
  csms = await startTestCsms();
  doc = await (await fetch(csms.url + '/docs/openapi.json')).json();
  ajv.addSchema({ $id: 'openapi', components: doc.components });
  for (const p of PROTOCOLS) await sim(ID[p], p, LIMITED[p]);
  const mk = async (scopes: string[]) => (await api('/api/v1/api-keys', { method: 'POST', body: { name: `k-${scopes[0]}`, scopes } })).body.key as string;
  readKey = await mk(['read']);
  commandKey = await mk(['command']);
});

after(async () => {
  for (const cp of sims.values()) await cp.close();
  await csms.destroy();
});

for (const protocol of PROTOCOLS) {
  const id = ID[protocol];
  const base = `/api/v1/stations/${id}`;

  test(`${protocol}: set, list, composite (station vs prediction), report, clear — through real HTTP and a simulated charger`, async () => {
    const cp = sims.get(id)!;
    const empty = await api(`${base}/charging-profiles`);
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body, { data: [] });

    // A station-wide default of 16 A (command-scoped key).
    const set = await api(`${base}/charging-profiles`, { method: 'POST', body: txDefault(11, 0, 16), key: commandKey });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    conforms('SetChargingProfileResult', set.body);
    assert.equal(set.body.status, 'Accepted');
    assert.deepEqual(set.body.replaced, []);
    assert.equal(set.body.profile.chargingSchedule[0].id, 11, 'first schedule id defaults to the profile id');
    const wire = lastSent(id, 'SetChargingProfile');
    if (protocol === 'ocpp1.6') {
      assert.equal(wire.connectorId, 0);
      assert.equal(wire.csChargingProfiles.chargingProfileId, 11);
      assert.deepEqual(wire.csChargingProfiles.chargingSchedule.chargingSchedulePeriod, [{ startPeriod: 0, limit: 16 }]);
    } else {
      assert.equal(wire.evseId, 0);
      assert.equal(wire.chargingProfile.id, 11);
      assert.equal(wire.chargingProfile.chargingSchedule[0].id, 11);
    }
    assert.ok(cp.chargingProfiles().some((p) => p.id === 11), 'installed on the charger');

    // A session on EVSE 1, then a 10 A TxProfile for it: the simulated EV follows.
    await cp.startSession({ evseId: 1, idTag: 'SC-TAG', ev: EV });
    const txId = await activeTx(id, 1);
    const tx = await api(`${base}/charging-profiles`, { method: 'POST', body: txProfile(12, 1, txId, 10) });
    assert.equal(tx.status, 200, JSON.stringify(tx.body));
    assert.equal(tx.body.status, 'Accepted');
    assert.equal(tx.body.profile.transactionId, txId);
    await waitFor(() => Math.abs(cp.evse(1).powerW - 6900) < 1, { timeoutMs: 5000 });

    const list = await api(`${base}/charging-profiles`, { key: readKey });
    assert.equal(list.status, 200);
    for (const item of list.body.data) conforms('InstalledChargingProfile', item);
    assert.deepEqual(list.body.data.map((r: any) => [r.profile.id, r.profile.evseId, r.source]), [[11, 0, 'api'], [12, 1, 'api']]);
    assert.ok(!Number.isNaN(Date.parse(list.body.data[0].installedAt)));
    assert.match(list.body.data[0].profile.chargingSchedule[0].startSchedule, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const only1 = await api(`${base}/charging-profiles?evseId=1`);
    assert.deepEqual(only1.body.data.map((r: any) => r.profile.id), [12]);
    const onlyDefault = await api(`${base}/charging-profiles?purpose=TxDefaultProfile`);
    assert.deepEqual(onlyDefault.body.data.map((r: any) => r.profile.id), [11]);
    const one = await api(`${base}/charging-profiles/12`, { key: readKey });
    assert.equal(one.status, 200);
    assert.equal(one.body.profile.chargingProfilePurpose, 'TxProfile');
    const none = await api(`${base}/charging-profiles/99`);
    assert.deepEqual([none.status, none.body.error], [404, 'UnknownChargingProfile']);

    // Composite: the station's answer, Ampline's prediction, no differences.
    const comp = await api(`${base}/composite-schedule?evseId=1&duration=600&unit=A`, { key: readKey });
    assert.equal(comp.status, 200, JSON.stringify(comp.body));
    conforms('CompositeScheduleResult', comp.body);
    assert.equal(comp.body.status, 'Accepted');
    assert.equal(comp.body.schedule.chargingSchedulePeriod[0].limit, 10);
    assert.equal(comp.body.expected.chargingSchedulePeriod[0].limit, 10);
    assert.equal(comp.body.expected.chargingRateUnit, 'A');
    assert.deepEqual(comp.body.differences, []);
    const comp2 = await api(`${base}/composite-schedule?evseId=2&duration=300`);
    assert.equal(comp2.status, 200);
    assert.equal(comp2.body.expected.chargingSchedulePeriod[0].limit, 16, 'EVSE 2 runs on the station-wide default');
    assert.deepEqual(comp2.body.differences, []);

    // Report: 2.0.1 GetChargingProfiles; 1.6 has no such message.
    const rep = await api(`${base}/charging-profiles/report`, { method: 'POST', body: {} });
    if (protocol === 'ocpp2.0.1') {
      assert.equal(rep.status, 200, JSON.stringify(rep.body));
      conforms('ChargingProfileReport', rep.body);
      assert.equal(rep.body.status, 'Accepted');
      assert.deepEqual(rep.body.profiles.map((r: any) => [r.evseId, r.source, r.profile.id]).sort(), [[0, 'CSO', 11], [1, 'CSO', 12]]);
      const after = await api(`${base}/charging-profiles`);
      assert.deepEqual(after.body.data.map((r: any) => [r.profile.id, r.source]), [[11, 'api'], [12, 'api']], 'sources survive a full report');
      const filtered = await api(`${base}/charging-profiles/report`, { method: 'POST', body: { purpose: 'TxProfile' } });
      assert.deepEqual(filtered.body.profiles.map((r: any) => r.profile.id), [12]);
      assert.equal(lastSent(id, 'GetChargingProfiles').chargingProfile.chargingProfilePurpose, 'TxProfile');
      const byId = await api(`${base}/charging-profiles/report`, { method: 'POST', body: { ids: [11] } });
      assert.deepEqual(byId.body.profiles.map((r: any) => r.profile.id), [11]);
      assert.deepEqual(lastSent(id, 'GetChargingProfiles').chargingProfile, { chargingProfileId: [11] });
    } else {
      assert.equal(rep.status, 409);
      assert.equal(rep.body.error, 'NotSupportedByProtocol');
      assert.match(rep.body.message, /GetChargingProfiles does not exist in OCPP 1\.6/);
      assert.equal(sent(id, 'GetChargingProfiles'), 0);
    }

    // Clear by id, by criteria, then everything.
    const del = await api(`${base}/charging-profiles/12`, { method: 'DELETE', key: commandKey });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    conforms('ClearChargingProfileResult', del.body);
    assert.deepEqual(del.body, { status: 'Accepted', removed: [12] });
    assert.deepEqual(lastSent(id, 'ClearChargingProfile'), protocol === 'ocpp1.6' ? { id: 12 } : { chargingProfileId: 12 });
    await waitFor(() => Math.abs(cp.evse(1).powerW - 11040) < 1, { timeoutMs: 5000 }); // back to the 16 A default
    const unknown = await api(`${base}/charging-profiles/12`, { method: 'DELETE' });
    assert.deepEqual(unknown.body, { status: 'Unknown', removed: [] });

    const byPurpose = await api(`${base}/charging-profiles?purpose=TxDefaultProfile&evseId=0&stackLevel=0`, { method: 'DELETE' });
    assert.deepEqual(byPurpose.body, { status: 'Accepted', removed: [11] });
    assert.deepEqual(
      lastSent(id, 'ClearChargingProfile'),
      protocol === 'ocpp1.6'
        ? { connectorId: 0, chargingProfilePurpose: 'TxDefaultProfile', stackLevel: 0 }
        : { chargingProfileCriteria: { evseId: 0, chargingProfilePurpose: 'TxDefaultProfile', stackLevel: 0 } },
    );
    for (const [pid, evse] of [[21, 1], [22, 2]] as const) {
      assert.equal((await api(`${base}/charging-profiles`, { method: 'POST', body: txDefault(pid, evse, 20) })).body.status, 'Accepted');
    }
    const all = await api(`${base}/charging-profiles`, { method: 'DELETE' });
    assert.deepEqual(all.body, { status: 'Accepted', removed: [21, 22] });
    assert.deepEqual(lastSent(id, 'ClearChargingProfile'), {});
    assert.deepEqual((await api(`${base}/charging-profiles`)).body, { data: [] });
    assert.equal(cp.chargingProfiles().length, 0);

    await cp.stopSession(1);
    await waitFor(async () => (await api(`/api/v1/transactions?stationId=${id}&state=active`)).body.total === 0);
  });

  test(`${protocol}: the raw OCPP request is accepted too ({"ocpp": …}), validated against the station's version`, async () => {
    const start = iso(-1000);
    const raw =
      protocol === 'ocpp1.6'
        ? {
            connectorId: 2,
            csChargingProfiles: {
              chargingProfileId: 31,
              stackLevel: 2,
              chargingProfilePurpose: 'TxDefaultProfile',
              chargingProfileKind: 'Absolute',
              chargingSchedule: { startSchedule: start, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 12 }, { startPeriod: 3600, limit: 8 }] },
            },
          }
        : {
            evseId: 2,
            chargingProfile: {
              id: 31,
              stackLevel: 2,
              chargingProfilePurpose: 'TxDefaultProfile',
              chargingProfileKind: 'Absolute',
              chargingSchedule: [{ id: 7, startSchedule: start, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 12 }, { startPeriod: 3600, limit: 8 }] }],
            },
          };
    const r = await api(`${base}/charging-profiles`, { method: 'POST', body: { ocpp: raw } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'Accepted');
    assert.equal(r.body.profile.evseId, 2);
    assert.equal(r.body.profile.chargingSchedule[0].id, protocol === 'ocpp1.6' ? 31 : 7);
    assert.deepEqual(r.body.profile.chargingSchedule[0].chargingSchedulePeriod, [{ startPeriod: 0, limit: 12 }, { startPeriod: 3600, limit: 8 }]);
    assert.deepEqual(lastSent(id, 'SetChargingProfile'), raw, 'what goes on the wire is the request given');

    // The other version's shape is not a valid request for this station: 400, nothing sent.
    const other = protocol === 'ocpp1.6' ? { evseId: 2, chargingProfile: raw } : { connectorId: 2, csChargingProfiles: raw };
    const before = sent(id, 'SetChargingProfile');
    const bad = await api(`${base}/charging-profiles`, { method: 'POST', body: { ocpp: other } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'InvalidOcppRequest');
    assert.match(bad.body.message, new RegExp(`not a valid OCPP ${protocol.slice(4).replace('.', '\\.')} SetChargingProfile request`));
    // The raw form is checked like any other profile (here: a TxProfile without a transaction).
    const k01 =
      protocol === 'ocpp1.6'
        ? { connectorId: 2, csChargingProfiles: { ...(raw as any).csChargingProfiles, chargingProfileId: 32, chargingProfilePurpose: 'TxProfile' } }
        : { evseId: 2, chargingProfile: { ...(raw as any).chargingProfile, id: 32, chargingProfilePurpose: 'TxProfile' } };
    const refused = await api(`${base}/charging-profiles`, { method: 'POST', body: { ocpp: k01 } });
    assert.equal(refused.status, 422);
    assert.ok(refused.body.violations.some((v: any) => v.code === 'NoActiveTransaction'));
    assert.equal(sent(id, 'SetChargingProfile'), before, 'nothing sent');

    assert.deepEqual((await api(`${base}/charging-profiles/31`, { method: 'DELETE' })).body, { status: 'Accepted', removed: [31] });
  });

  test(`${protocol}: K01 violations are refused with the violation list and nothing reaches the charger`, async () => {
    const before = sent(id, 'SetChargingProfile');
    const cases: Array<{ name: string; body: unknown; codes: string[]; path?: string }> = [
      { name: 'TxProfile without a transaction', body: txProfile(40, 2, undefined, 10), codes: ['TxProfileWithoutTransactionId', 'NoActiveTransaction'] },
      { name: 'TxProfile for a transaction that is not there', body: txProfile(40, 2, protocol === 'ocpp1.6' ? '999' : 'nope', 10), codes: ['NoActiveTransaction'] },
      { name: "stack level above the station's maximum (3)", body: { ...txDefault(41, 1, 10), stackLevel: 4 }, codes: ['StackLevelOutOfRange'], path: 'stackLevel' },
      {
        name: 'unit the station does not support (W)',
        body: txDefault(42, 1, 0, { chargingSchedule: [{ startSchedule: iso(), chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 7000 }] }] }),
        codes: ['UnitNotSupported'],
        path: 'chargingSchedule[0].chargingRateUnit',
      },
      {
        name: 'first period not at 0',
        body: txDefault(43, 1, 0, { chargingSchedule: [{ startSchedule: iso(), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 60, limit: 10 }] }] }),
        codes: ['FirstPeriodNotZero'],
        path: 'chargingSchedule[0].chargingSchedulePeriod[0].startPeriod',
      },
      { name: 'Absolute without startSchedule', body: txDefault(44, 1, 0, { chargingSchedule: [{ chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }] }] }), codes: ['StartScheduleMissing'] },
      { name: 'limit with two decimals', body: txDefault(45, 1, 10.25), codes: ['LimitNotMultipleOfTenth'] },
      { name: 'station maximum on an EVSE', body: { ...txDefault(46, 1, 10), chargingProfilePurpose: 'ChargingStationMaxProfile' }, codes: ['StationMaxNotOnStation'] },
      { name: 'external constraints from the CSMS', body: { ...txDefault(47, 0, 10), chargingProfilePurpose: 'ChargingStationExternalConstraints' }, codes: ['ExternalConstraintsByCsms'] },
      { name: 'unknown EVSE', body: txDefault(48, 7, 10), codes: ['EvseUnknown'] },
      { name: 'validTo in the past', body: txDefault(49, 1, 10, { validTo: iso(-60_000) }), codes: ['ValidToInPast'] },
      {
        name: 'two schedules',
        body: txDefault(50, 1, 10, {
          chargingSchedule: [
            { startSchedule: iso(), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }] },
            { id: 2, startSchedule: iso(), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 8 }] },
          ],
        }),
        codes: protocol === 'ocpp1.6' ? ['TooManySchedules'] : [],
      },
    ];
    for (const c of cases) {
      const r = await api(`${base}/charging-profiles`, { method: 'POST', body: c.body });
      if (c.codes.length === 0) {
        // Valid in 2.0.1: sent (whatever the charger answers), then cleared again.
        assert.equal(r.status, 200, `${c.name}: ${JSON.stringify(r.body)}`);
        if (r.body.status === 'Accepted') assert.equal((await api(`${base}/charging-profiles/${(c.body as any).id}`, { method: 'DELETE' })).body.status, 'Accepted');
        continue;
      }
      assert.equal(r.status, 422, `${c.name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, 'ProfileRejected', c.name);
      const codes = r.body.violations.map((v: any) => v.code);
      for (const code of c.codes) assert.ok(codes.includes(code), `${c.name}: ${code} in ${JSON.stringify(codes)}`);
      for (const v of r.body.violations) {
        assert.deepEqual(Object.keys(v).sort(), ['code', 'detail', 'path', 'requirement'], c.name);
        assert.ok(v.requirement.length > 0 && v.detail.length > 0, c.name);
      }
      if (c.path) assert.equal(r.body.violations.find((v: any) => v.code === c.codes[0]).path, c.path, c.name);
      assert.match(r.body.message, new RegExp(c.codes[0]!), c.name);
    }
    const fr = (await api(`${base}/charging-profiles`, { method: 'POST', body: txDefault(43, 1, 0, { chargingSchedule: [{ startSchedule: iso(), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 60, limit: 10 }] }] }) })).body;
    assert.equal(fr.violations[0].requirement, protocol === 'ocpp2.0.1' ? 'K01.FR.31' : '1.6 §7.14 (by analogy with K01.FR.31)');
    assert.equal(sent(id, 'SetChargingProfile'), before + (protocol === 'ocpp2.0.1' ? 1 : 0), 'nothing sent for a refused profile');
    assert.ok(!sims.get(id)!.chargingProfiles().some((p) => p.id >= 40 && p.id < 50), 'nothing installed on the charger');
    assert.deepEqual((await api(`${base}/charging-profiles`)).body, { data: [] });

    // Clearing external constraints is refused the same way.
    const ext = await api(`${base}/charging-profiles?purpose=ChargingStationExternalConstraints`, { method: 'DELETE' });
    assert.equal(ext.status, 422);
    assert.equal(ext.body.violations[0].code, 'ExternalConstraintsByCsms');
    // Composite for an EVSE the station does not have.
    const compBad = await api(`${base}/composite-schedule?evseId=9&duration=60`);
    assert.equal(compBad.status, 422);
    assert.equal(compBad.body.violations[0].code, 'EvseUnknown');
  });

  test(`${protocol}: remote start with a charging profile (checked, sent inside the remote start, bound to the transaction)`, async () => {
    const cp = sims.get(id)!;
    const startAction = protocol === 'ocpp1.6' ? 'RemoteStartTransaction' : 'RequestStartTransaction';
    const profile = { id: 60, stackLevel: 1, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Relative', chargingSchedule: [{ chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 8 }] }] };

    // Refused first: a TxDefaultProfile cannot ride on a remote start; no evseId; evseId mismatch.
    const before = sent(id, startAction);
    const wrong = await api(`${base}/commands/remote-start`, { method: 'POST', body: { evseId: 2, idTag: 'RS-TAG', chargingProfile: { ...profile, chargingProfilePurpose: 'TxDefaultProfile' } } });
    assert.equal(wrong.status, 422, JSON.stringify(wrong.body));
    assert.ok(wrong.body.violations.some((v: any) => v.code === 'RemoteStartNotTxProfile'));
    const async202 = await api(`${base}/commands/remote-start`, {
      method: 'POST',
      body: { evseId: 2, idTag: 'RS-TAG', callbackUrl: 'http://127.0.0.1:9/never', chargingProfile: { ...profile, transactionId: '5' } },
    });
    assert.equal(async202.status, 422, 'refused before the 202 of an asynchronous command');
    const noEvse = await api(`${base}/commands/remote-start`, { method: 'POST', body: { idTag: 'RS-TAG', chargingProfile: profile } });
    assert.deepEqual([noEvse.status, noEvse.body.error], [400, 'BadRequest']);
    const mismatch = await api(`${base}/commands/remote-start`, { method: 'POST', body: { evseId: 2, idTag: 'RS-TAG', chargingProfile: { ...profile, evseId: 1 } } });
    assert.deepEqual([mismatch.status, mismatch.body.error], [400, 'BadRequest']);
    assert.equal(sent(id, startAction), before, 'nothing sent');

    const ok = await api(`${base}/commands/remote-start`, { method: 'POST', body: { evseId: 2, idTag: 'RS-TAG', chargingProfile: profile } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual([ok.body.status, ok.body.action, ok.body.response.status], ['Answered', startAction, 'Accepted']);
    const wire = lastSent(id, startAction);
    if (protocol === 'ocpp1.6') {
      assert.equal(wire.connectorId, 2);
      assert.equal(wire.chargingProfile.chargingProfileId, 60);
    } else {
      assert.equal(wire.evseId, 2);
      assert.equal(wire.chargingProfile.id, 60);
    }
    const txId = await activeTx(id, 2);
    const bound = await waitFor(async () => (await api(`${base}/charging-profiles/60`)).body.profile?.transactionId === txId && (await api(`${base}/charging-profiles/60`)).body);
    assert.equal(bound.source, 'remote-start');
    assert.equal(bound.profile.evseId, 2);
    await waitFor(() => Math.abs(cp.evse(2).powerW - 8 * 3 * 230) < 1, { timeoutMs: 5000 });

    // The transaction ends: its TxProfile leaves the shadow.
    await cp.stopSession(2);
    await waitFor(async () => (await api(`${base}/charging-profiles`)).body.data.length === 0);
  });

  test(`${protocol}: seed-003 /API/SetChargingLimit goes through the same checks and shadow`, async () => {
    const key = { 'X-API-Key': ADMIN };
    const set = await fetch(`${csms.url}/API/SetChargingLimit/${id}/1/13A`, { headers: key });
    assert.equal(set.status, 200);
    assert.deepEqual(await set.json(), { status: 'Accepted' });
    const list = await api(`${base}/charging-profiles`);
    assert.equal(list.body.data.length, 1);
    const rec = list.body.data[0];
    assert.equal(rec.source, 'management');
    assert.equal(rec.profile.id, 100);
    assert.equal(rec.profile.evseId, 1);
    assert.equal(rec.profile.stackLevel, 1);
    assert.equal(rec.profile.chargingProfilePurpose, 'TxDefaultProfile');
    assert.equal(rec.profile.chargingProfileKind, 'Absolute');
    assert.equal(rec.profile.chargingSchedule[0].id, 101, 'the model keeps schedule id 101 (1.6 has none on the wire)');
    assert.deepEqual(rec.profile.chargingSchedule[0].chargingSchedulePeriod, [{ startPeriod: 0, limit: 13 }]);
    const year = Date.parse(rec.profile.validTo) - Date.parse(rec.profile.validFrom);
    assert.equal(year, 365 * 24 * 3600 * 1000);
    assert.equal(rec.profile.chargingSchedule[0].startSchedule, rec.profile.validFrom);

    // W on an amps-only station: refused in the seed's error style, nothing sent.
    const before = sent(id, 'SetChargingProfile');
    const refused = await fetch(`${csms.url}/API/SetChargingLimit/${id}/1/7000W`, { headers: key });
    assert.equal(refused.status, 422);
    const body = (await refused.json()) as any;
    assert.equal(body.error, 'ProfileRejected');
    assert.match(body.message, /UnitNotSupported/);
    assert.equal(sent(id, 'SetChargingProfile'), before);

    const clear = await fetch(`${csms.url}/API/ClearChargingLimit/${id}/1`, { headers: key });
    assert.deepEqual(await clear.json(), { status: 'Accepted' });
    assert.deepEqual(
      lastSent(id, 'ClearChargingProfile'),
      protocol === 'ocpp1.6' ? { id: 100, connectorId: 1, chargingProfilePurpose: 'TxDefaultProfile', stackLevel: 1 } : { chargingProfileId: 100 },
    );
    assert.deepEqual((await api(`${base}/charging-profiles`)).body, { data: [] });
  });
}

test('schema-invalid bodies and queries: 400 with a clear message, nothing sent', async () => {
  const id = ID['ocpp2.0.1'];
  const base = `/api/v1/stations/${id}`;
  const before = sent(id, 'SetChargingProfile');
  const good = txDefault(70, 1, 10);
  const cases: Array<{ name: string; path?: string; method?: string; body?: unknown; message: RegExp; error?: string }> = [
    { name: 'missing body', body: undefined, message: /missing required property 'evseId'/ },
    { name: 'missing schedule', body: { ...good, chargingSchedule: undefined }, message: /missing required property 'chargingSchedule'/ },
    { name: 'empty schedules', body: { ...good, chargingSchedule: [] }, message: /body\/chargingSchedule: must NOT have fewer than 1 items/ },
    { name: 'limit as text', body: txDefault(70, 1, '10' as unknown as number), message: /body\/chargingSchedule\/0\/chargingSchedulePeriod\/0\/limit: must be number/ },
    { name: 'negative limit', body: txDefault(70, 1, -1), message: /limit: must be >= 0/ },
    { name: 'unknown property', body: { ...good, colour: 'red' }, message: /body: unknown property 'colour'/ },
    { name: 'bad purpose', body: { ...good, chargingProfilePurpose: 'ChargePointMaxProfile' }, message: /chargingProfilePurpose: must be one of/ },
    { name: 'bad date', body: { ...good, validTo: 'tomorrow' }, message: /validTo: must match format "date-time"/ },
    { name: 'epoch ms instead of a date', body: { ...good, validFrom: Date.now() }, message: /validFrom: must be string/ },
    { name: 'four schedules', body: { ...good, chargingSchedule: [1, 2, 3, 4].map((i) => ({ id: i, startSchedule: iso(), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 6 }] })) }, message: /must NOT have more than 3 items/ },
    { name: 'second schedule without id', body: { ...good, chargingSchedule: [good.chargingSchedule[0], good.chargingSchedule[0]] }, message: /body\/chargingSchedule\/1: missing required property 'id'/ },
    { name: 'numberPhases 4', body: txDefault(70, 1, 10, { chargingSchedule: [{ startSchedule: iso(), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 6, numberPhases: 4 }] }] }), message: /numberPhases: must be <= 3/ },
    { name: 'ocpp not an object', body: { ocpp: 'SetChargingProfile' }, message: /body\/ocpp: must be object/ },
    { name: 'ocpp with extra property', body: { ocpp: {}, evseId: 1 }, message: /body: unknown property 'evseId'/ },
    { name: 'array body', body: [good], message: /body: must be object/ },
    { name: 'bad timeoutS', path: `${base}/charging-profiles?timeoutS=0`, body: good, message: /querystring\/timeoutS: must be >= 1/ },
    { name: 'composite without duration', path: `${base}/composite-schedule?evseId=1`, method: 'GET', message: /missing required property 'duration'/ },
    { name: 'composite bad unit', path: `${base}/composite-schedule?evseId=1&duration=60&unit=kW`, method: 'GET', message: /unit: must be one of/ },
    { name: 'clear bad purpose', path: `${base}/charging-profiles?purpose=Everything`, method: 'DELETE', message: /purpose: must be one of/ },
    { name: 'clear bad id', path: `${base}/charging-profiles/abc`, method: 'DELETE', message: /profileId: must be integer/ },
    { name: 'report unknown source', path: `${base}/charging-profiles/report`, body: { sources: ['Grid'] }, message: /sources\/0: must be one of/ },
    { name: 'report unknown property', path: `${base}/charging-profiles/report`, body: { requestId: 5 }, message: /unknown property 'requestId'/ },
  ];
  for (const c of cases) {
    const r = await api(c.path ?? `${base}/charging-profiles`, { method: c.method ?? 'POST', body: c.body });
    assert.equal(r.status, 400, `${c.name}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, c.error ?? 'BadRequest', c.name);
    assert.match(r.body.message, c.message, c.name);
  }
  assert.equal(sent(id, 'SetChargingProfile'), before, 'nothing sent');
  assert.equal(sent(id, 'ClearChargingProfile') >= 0, true);
});

test('scopes: read may list and ask for the composite, only command may set, clear or report; no key is 401', async () => {
  const base = `/api/v1/stations/${ID['ocpp2.0.1']}`;
  assert.equal((await api(`${base}/charging-profiles`, { key: readKey })).status, 200);
  assert.equal((await api(`${base}/composite-schedule?evseId=1&duration=60`, { key: readKey })).status, 200);
  const before = sent(ID['ocpp2.0.1'], 'SetChargingProfile');
  for (const [method, path, body] of [
    ['POST', `${base}/charging-profiles`, txDefault(80, 1, 10)],
    ['DELETE', `${base}/charging-profiles/80`, undefined],
    ['DELETE', `${base}/charging-profiles`, undefined],
    ['POST', `${base}/charging-profiles/report`, {}],
    ['POST', `${base}/commands/remote-start`, { evseId: 1, idTag: 'X', chargingProfile: txProfile(80, 1, undefined, 6) }],
  ] as const) {
    const r = await api(path, { method, body, key: readKey });
    assert.deepEqual([r.status, r.body.error, r.body.requiredScope], [403, 'Forbidden', 'command'], `${method} ${path}`);
    const anon = await api(path, { method, body, key: null });
    assert.deepEqual([anon.status, anon.body.error], [401, 'Unauthorized'], `${method} ${path}`);
  }
  assert.equal((await api(`${base}/charging-profiles`, { key: null })).status, 401);
  assert.equal(sent(ID['ocpp2.0.1'], 'SetChargingProfile'), before);
});

test('unknown station 404, offline station 409 StationOffline (its shadow still readable)', async () => {
  const gone = await sim('SC-GONE', 'ocpp1.6');
  await gone.close();
  sims.delete('SC-GONE');
  await waitFor(() => !csms.transport.get('SC-GONE'));
  await waitFor(async () => (await api('/api/v1/stations/SC-GONE')).body.online === false);
  const calls: Array<[string, string, unknown?]> = [
    ['GET', 'charging-profiles'],
    ['GET', 'charging-profiles/1'],
    ['POST', 'charging-profiles', txDefault(90, 1, 10)],
    ['POST', 'charging-profiles', { ocpp: { connectorId: 1, csChargingProfiles: {} } }],
    ['DELETE', 'charging-profiles/1'],
    ['DELETE', 'charging-profiles'],
    ['GET', 'composite-schedule?evseId=1&duration=60'],
    ['POST', 'charging-profiles/report', {}],
  ];
  for (const [method, tail, body] of calls) {
    const r = await api(`/api/v1/stations/NOPE/${tail}`, { method, body });
    assert.deepEqual([r.status, r.body.error], [404, 'UnknownStation'], `${method} ${tail}`);
  }
  for (const [method, tail, body] of calls) {
    const r = await api(`/api/v1/stations/SC-GONE/${tail}`, { method, body });
    if (method === 'GET' && tail === 'charging-profiles') assert.deepEqual([r.status, r.body], [200, { data: [] }]);
    else if (tail === 'charging-profiles/1' && method === 'GET') assert.deepEqual([r.status, r.body.error], [404, 'UnknownChargingProfile']);
    else assert.deepEqual([r.status, r.body.error], [409, 'StationOffline'], `${method} ${tail}: ${JSON.stringify(r.body)}`);
  }
});

test('a charger that rejects (200, nothing recorded) or stays silent (504 Timeout, also for a report that never comes)', async () => {
  const id = 'SC-ODD';
  await sim(id, 'ocpp2.0.1');
  const base = `/api/v1/stations/${id}`;
  scripted.set(id, 'reject');
  const rej = await api(`${base}/charging-profiles`, { method: 'POST', body: txDefault(95, 1, 10) });
  assert.equal(rej.status, 200);
  assert.deepEqual([rej.body.status, rej.body.replaced], ['Rejected', []]);
  assert.deepEqual((await api(`${base}/charging-profiles`)).body, { data: [] });
  scripted.set(id, 'silent');
  const t0 = Date.now();
  const slow = await api(`${base}/charging-profiles?timeoutS=1`, { method: 'POST', body: txDefault(96, 1, 10) });
  assert.equal(slow.status, 504, JSON.stringify(slow.body));
  assert.equal(slow.body.error, 'Timeout');
  assert.ok(Date.now() - t0 < 5000);
  assert.deepEqual((await api(`${base}/charging-profiles`)).body, { data: [] });
  const noReport = await api(`${base}/charging-profiles/report?timeoutS=1`, { method: 'POST', body: {} });
  assert.deepEqual([noReport.status, noReport.body.error], [504, 'Timeout'], JSON.stringify(noReport.body));
  assert.match(noReport.body.message, /did not finish its report in time/);
  scripted.delete(id);
});
