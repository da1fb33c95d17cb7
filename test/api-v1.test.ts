/**
 * /api/v1 resources, id tokens, API keys and scopes over real HTTP, against a CSMS fed by real OCPP 1.6
 * and 2.0.1 clients: shapes (checked against the served OpenAPI schemas), filters, pagination with Link
 * headers, hashed key storage, and a bad-input matrix that must never produce a 5xx.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { startTestCsms, rawClient, type TestCsms, type RawClient } from './helpers/csms.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ADMIN = 'test-api-key-123';
let csms: TestCsms;
let c16: RawClient;
let c201: RawClient;
let doc: any;
const ajv = addFormats(new Ajv({ strict: false, allErrors: true, validateSchema: false }));

interface Res {
  status: number;
  body: any;
  headers: Headers;
}

async function api(path: string, opts: { key?: string | null; bearer?: string; method?: string; body?: unknown; raw?: string; type?: string } = {}): Promise<Res> {
  const headers: Record<string, string> = {};
  if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
  else if (opts.key !== null) headers['x-api-key'] = opts.key ?? ADMIN;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = opts.type ?? 'application/json';
  const res = await fetch(csms.url + path, { method: opts.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** Assert `body` matches the served OpenAPI component `name`. */
function conforms(name: string, body: unknown): void {
  const validate = ajv.getSchema(`openapi#/components/schemas/${name}`) ?? ajv.compile({ $ref: `openapi#/components/schemas/${name}` });
  assert.ok(validate(body), `${name}: ${ajv.errorsText(validate.errors)} — ${JSON.stringify(body).slice(0, 400)}`);
}

function conformsPage(name: string, body: any): void {
  assert.deepEqual(Object.keys(body).sort(), ['data', 'limit', 'offset', 'total']);
  for (const item of body.data) conforms(name, item);
}

const T = (h: number, m = 0) => new Date(Date.UTC(2025, 0, 1, h, m)).toISOString();
let tx1Number: number;

before(async () => {
  csms = await startTestCsms();
  doc = await (await fetch(csms.url + '/docs/openapi.json')).json();
  ajv.addSchema({ $id: 'openapi', components: doc.components });

  c16 = await rawClient(csms, 'r16', 'ocpp1.6');
  await c16.call('BootNotification', { chargePointVendor: 'VendorX', chargePointModel: 'M16', chargePointSerialNumber: 'SN-16' });
  for (const connectorId of [0, 1, 2]) await c16.call('StatusNotification', { connectorId, errorCode: 'NoError', status: 'Available' });
  const st1 = (await c16.call('StartTransaction', { connectorId: 1, idTag: 'TAG-A', meterStart: 1000, timestamp: T(10) })) as { transactionId: number };
  tx1Number = st1.transactionId;
  for (const [i, m] of [1, 2, 3].entries()) {
    await c16.call('MeterValues', {
      connectorId: 1,
      transactionId: st1.transactionId,
      meterValue: [{ timestamp: T(10, 10 * m), sampledValue: [{ value: String(1000 + 1000 * m) }, { value: String(7000 + i), measurand: 'Power.Active.Import', unit: 'W' }] }],
    });
  }
  await c16.call('StopTransaction', { transactionId: st1.transactionId, meterStop: 5000, timestamp: T(11) });
  await c16.call('StartTransaction', { connectorId: 2, idTag: 'TAG-B', meterStart: 0, timestamp: T(12) });
  await c16.call('SecurityEventNotification', { type: 'StartupOfTheDevice', timestamp: T(9) });
  await c16.call('FirmwareStatusNotification', { status: 'Idle' });

  c201 = await rawClient(csms, 'r201', 'ocpp2.0.1');
  await c201.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'M201', vendorName: 'Acme201' } });
  await c201.call('StatusNotification', { timestamp: T(8), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
  const ev = { evse: { id: 1, connectorId: 1 }, transactionInfo: { transactionId: 'tx-201' } };
  await c201.call('TransactionEvent', { ...ev, eventType: 'Started', timestamp: new Date(Date.UTC(2025, 0, 2, 9)).toISOString(), triggerReason: 'Authorized', seqNo: 0, idToken: { idToken: 'TAG-C', type: 'ISO14443' } });
  const profile = (id: number) => ({
    id,
    stackLevel: 0,
    chargingProfilePurpose: 'TxDefaultProfile',
    chargingProfileKind: 'Relative',
    chargingSchedule: [{ id, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }] }],
  });
  await c201.call('ReportChargingProfiles', { requestId: 1, chargingLimitSource: 'CSO', evseId: 1, chargingProfile: [profile(1)] });
  await c201.call('ReportChargingProfiles', { requestId: 2, chargingLimitSource: 'CSO', evseId: 0, tbc: true, chargingProfile: [profile(2)] });
  await c201.call('ReportChargingProfiles', { requestId: 2, chargingLimitSource: 'EMS', evseId: 1, chargingProfile: [profile(3)] });

  // Offline stations for paging, written straight to the store.
  const now = new Date().toISOString();
  for (let i = 1; i <= 5; i++) {
    await csms.db.kysely.insertInto('stations').values({ id: `p-0${i}`, protocol: 'ocpp1.6', vendor: 'Bulk', online: 0, created_at: now, updated_at: now }).execute();
  }
});

after(async () => {
  await c16.close();
  await c201.close();
  await csms.destroy();
});

test('stations: list, detail with EVSEs and connectors, sub-collections (both versions)', async () => {
  const list = await api('/api/v1/stations?limit=500');
  assert.equal(list.status, 200);
  conformsPage('Station', list.body);
  assert.deepEqual(list.body.data.map((s: any) => s.id), ['p-01', 'p-02', 'p-03', 'p-04', 'p-05', 'r16', 'r201']);

  const s16 = await api('/api/v1/stations/r16');
  conforms('StationDetail', s16.body);
  assert.equal(s16.body.protocol, 'ocpp1.6');
  assert.equal(s16.body.online, true);
  assert.equal(s16.body.vendor, 'VendorX');
  assert.equal(s16.body.serialNumber, 'SN-16');
  assert.deepEqual(s16.body.evses.map((e: any) => e.evseId), [0, 1, 2]);
  assert.deepEqual(s16.body.evses[1].connectors.map((c: any) => [c.evseId, c.connectorId, c.status]), [[1, 1, 'Available']]);
  assert.ok(!('station_id' in s16.body.evses[1]) && !('created_at' in s16.body), 'camelCase only');

  const s201 = await api('/api/v1/stations/r201');
  assert.equal(s201.body.protocol, 'ocpp2.0.1');
  assert.equal(s201.body.model, 'M201');
  assert.equal(s201.body.evses.find((e: any) => e.evseId === 1).connectors[0].ocppStatus, 'Available');

  const evses = await api('/api/v1/stations/r16/evses');
  assert.equal(evses.status, 200);
  for (const e of evses.body.data) conforms('Evse', e);
  assert.equal(evses.body.data.length, 3);
  const conns = await api('/api/v1/stations/r201/connectors');
  for (const c of conns.body.data) conforms('Connector', c);
  assert.deepEqual(conns.body.data.map((c: any) => [c.evseId, c.connectorId]), [[1, 1]]);
});

test('stations: filters online, protocol, q (case-insensitive, LIKE wildcards literal)', async () => {
  const ids = async (qs: string) => (await api(`/api/v1/stations?${qs}`)).body.data.map((s: any) => s.id);
  assert.deepEqual(await ids('online=true'), ['r16', 'r201']);
  assert.deepEqual(await ids('online=false'), ['p-01', 'p-02', 'p-03', 'p-04', 'p-05']);
  assert.deepEqual(await ids('protocol=ocpp2.0.1'), ['r201']);
  assert.deepEqual(await ids('q=vendorx'), ['r16']);
  assert.deepEqual(await ids('q=ACME'), ['r201']);
  assert.deepEqual(await ids('q=sn-16'), ['r16']);
  assert.deepEqual(await ids('q=%25'), []);
  assert.deepEqual(await ids('q=_'), []);
  assert.deepEqual(await ids('q=p-0&protocol=ocpp1.6&online=false&limit=2&offset=1'), ['p-02', 'p-03']);
});

test('pagination: limit/offset/total and RFC 8288 Link headers that keep the filters', async () => {
  const p1 = await api('/api/v1/stations?limit=3');
  assert.deepEqual([p1.body.total, p1.body.limit, p1.body.offset, p1.body.data.length], [7, 3, 0, 3]);
  assert.equal(p1.headers.get('link'), '</api/v1/stations?limit=3&offset=3>; rel="next"');
  const next = /<([^>]+)>; rel="next"/.exec(p1.headers.get('link')!)![1]!;
  const p2 = await api(next);
  assert.deepEqual(p2.body.data.map((s: any) => s.id), ['p-04', 'p-05', 'r16']);
  assert.equal(p2.headers.get('link'), '</api/v1/stations?limit=3&offset=6>; rel="next", </api/v1/stations?limit=3&offset=0>; rel="prev"');
  const p3 = await api('/api/v1/stations?limit=3&offset=6');
  assert.deepEqual(p3.body.data.map((s: any) => s.id), ['r201']);
  assert.equal(p3.headers.get('link'), '</api/v1/stations?limit=3&offset=3>; rel="prev"');
  const beyond = await api('/api/v1/stations?offset=100');
  assert.deepEqual([beyond.status, beyond.body.data.length, beyond.body.total], [200, 0, 7]);
  const filtered = await api('/api/v1/stations?protocol=ocpp1.6&limit=2');
  assert.equal(filtered.body.total, 6);
  assert.match(filtered.headers.get('link')!, /^<\/api\/v1\/stations\?protocol=ocpp1\.6&limit=2&offset=2>; rel="next"$/);
  const dflt = await api('/api/v1/stations');
  assert.deepEqual([dflt.body.limit, dflt.body.offset], [50, 0]);
  assert.equal(dflt.headers.get('link'), null);
});

test('transactions: list with filters, detail by Ampline id, meter values with filters and paging', async () => {
  const all = await api('/api/v1/transactions');
  conformsPage('Transaction', all.body);
  assert.equal(all.body.total, 3);
  assert.deepEqual(all.body.data.map((t: any) => t.idToken), ['TAG-C', 'TAG-B', 'TAG-A'], 'newest first');

  const tokens = async (qs: string) => (await api(`/api/v1/transactions?${qs}`)).body.data.map((t: any) => t.idToken);
  assert.deepEqual(await tokens('stationId=r16'), ['TAG-B', 'TAG-A']);
  assert.deepEqual(await tokens('state=active'), ['TAG-C', 'TAG-B']);
  assert.deepEqual(await tokens('state=ended'), ['TAG-A']);
  assert.deepEqual(await tokens('idToken=TAG-A'), ['TAG-A']);
  assert.deepEqual(await tokens('stationId=r16&evseId=2'), ['TAG-B']);
  assert.deepEqual(await tokens('from=2025-01-01T11:30:00Z'), ['TAG-C', 'TAG-B']);
  assert.deepEqual(await tokens('from=2025-01-01T10:30:00%2B01:00&to=2025-01-02T00:00:00Z'), ['TAG-B', 'TAG-A'], 'offsets normalized to UTC');
  assert.deepEqual(await tokens('stationId=nope'), []);

  const a = all.body.data.find((t: any) => t.idToken === 'TAG-A');
  const one = await api(`/api/v1/transactions/${a.id}`);
  conforms('Transaction', one.body);
  assert.equal(one.body.state, 'ended');
  assert.equal(one.body.protocol, 'ocpp1.6');
  assert.equal(one.body.transactionNumber, tx1Number);
  assert.equal(one.body.meterStartWh, 1000);
  assert.equal(one.body.meterStopWh, 5000);
  assert.equal(one.body.startedAt, T(10));
  const c = all.body.data.find((t: any) => t.idToken === 'TAG-C');
  assert.equal(c.ocppTransactionId, 'tx-201');
  assert.equal(c.protocol, 'ocpp2.0.1');

  const mv = await api(`/api/v1/transactions/${a.id}/meter-values?limit=500`);
  conformsPage('MeterValue', mv.body);
  const power = mv.body.data.filter((v: any) => v.measurand === 'Power.Active.Import');
  assert.deepEqual(power.map((v: any) => v.value), [7000, 7001, 7002]);
  assert.ok(mv.body.data.every((v: any, i: number, arr: any[]) => i === 0 || arr[i - 1].timestamp <= v.timestamp), 'oldest first');
  const onlyPower = await api(`/api/v1/transactions/${a.id}/meter-values?measurand=Power.Active.Import`);
  assert.equal(onlyPower.body.total, 3);
  assert.ok(onlyPower.body.data.every((v: any) => v.unit === 'W'));
  const window = await api(`/api/v1/transactions/${a.id}/meter-values?measurand=Power.Active.Import&from=${encodeURIComponent(T(10, 20))}&to=${encodeURIComponent(T(10, 30))}`);
  assert.deepEqual(window.body.data.map((v: any) => v.value), [7001]);
  const paged = await api(`/api/v1/transactions/${a.id}/meter-values?measurand=Power.Active.Import&limit=2&offset=2`);
  assert.deepEqual([paged.body.total, paged.body.data.length, paged.body.data[0].value], [3, 1, 7002]);
});

test('station events: newest first, type filter; reported charging profiles land in the profile shadow', async () => {
  const ev = await api('/api/v1/stations/r16/events');
  conformsPage('StationEvent', ev.body);
  assert.deepEqual(ev.body.data.map((e: any) => e.type).sort(), ['FirmwareStatusNotification', 'SecurityEventNotification']);
  const sec = await api('/api/v1/stations/r16/events?type=SecurityEventNotification');
  assert.equal(sec.body.total, 1);
  assert.deepEqual(sec.body.data[0].payload, { type: 'StartupOfTheDevice', timestamp: T(9) });

  // Unsolicited ReportChargingProfiles are the station's truth: they land in the installed-profile shadow.
  const cp = await api('/api/v1/stations/r201/charging-profiles');
  assert.equal(cp.status, 200);
  for (const p of cp.body.data) conforms('InstalledChargingProfile', p);
  assert.deepEqual(cp.body.data.map((p: any) => [p.profile.evseId, p.source, p.profile.id]), [[0, 'station', 2], [1, 'station', 1], [1, 'external:EMS', 3]]);
  assert.equal(cp.body.data[0].profile.chargingProfileKind, 'Relative');
  const none = await api('/api/v1/stations/r16/charging-profiles');
  assert.deepEqual(none.body, { data: [] });
});

test('id tokens: CRUD (admin), listed and read with read scope, and used by authorization', async () => {
  const created = await api('/api/v1/id-tokens', { method: 'POST', body: { idToken: 'TOK-1', status: 'Accepted' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  conforms('IdToken', created.body);
  assert.equal(created.body.type, 'ISO14443');
  assert.equal(created.headers.get('location'), '/api/v1/id-tokens/TOK-1');
  const dup = await api('/api/v1/id-tokens', { method: 'POST', body: { idToken: 'TOK-1', status: 'Blocked' } });
  assert.deepEqual([dup.status, dup.body.error], [409, 'AlreadyExists']);

  const put = await api('/api/v1/id-tokens/TOK-1', { method: 'PUT', body: { status: 'Blocked', type: 'eMAID', groupId: 'G1', expiryDate: '2030-01-01T00:00:00+01:00' } });
  assert.equal(put.status, 200);
  assert.deepEqual([put.body.status, put.body.type, put.body.groupId, put.body.expiryDate], ['Blocked', 'eMAID', 'G1', '2029-12-31T23:00:00.000Z']);
  assert.equal(put.body.createdAt, created.body.createdAt);
  const putNew = await api('/api/v1/id-tokens/TOK-2', { method: 'PUT', body: { status: 'Accepted', groupId: 'G1' } });
  assert.equal(putNew.status, 201);

  // The table the CSMS authorizes against.
  const auth = (await c16.call('Authorize', { idTag: 'TOK-1' })) as { idTagInfo: { status: string; parentIdTag?: string } };
  assert.deepEqual(auth.idTagInfo, { status: 'Blocked', expiryDate: '2029-12-31T23:00:00.000Z', parentIdTag: 'G1' });

  const list = await api('/api/v1/id-tokens?groupId=G1');
  conformsPage('IdToken', list.body);
  assert.deepEqual(list.body.data.map((t: any) => t.idToken), ['TOK-1', 'TOK-2']);
  assert.deepEqual((await api('/api/v1/id-tokens?status=Blocked')).body.data.map((t: any) => t.idToken), ['TOK-1']);
  assert.deepEqual((await api('/api/v1/id-tokens?q=ok-2')).body.data.map((t: any) => t.idToken), ['TOK-2']);
  assert.equal((await api('/api/v1/id-tokens/TOK-2')).body.groupId, 'G1');

  assert.equal((await api('/api/v1/id-tokens/TOK-2', { method: 'DELETE' })).status, 204);
  const gone = await api('/api/v1/id-tokens/TOK-2');
  assert.deepEqual([gone.status, gone.body.error], [404, 'UnknownIdToken']);
  const again = await api('/api/v1/id-tokens/TOK-2', { method: 'DELETE' });
  assert.deepEqual([again.status, again.body.error], [404, 'UnknownIdToken']);
});

test('API keys: scopes, bearer, revocation, stored hashed (no plaintext anywhere in the data directory)', async () => {
  const mk = async (name: string, scopes: string[], key = ADMIN) => {
    const r = await api('/api/v1/api-keys', { method: 'POST', body: { name, scopes }, key });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    conforms('ApiKeyCreated', r.body);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    return r.body as { id: string; key: string; prefix: string; createdBy: string };
  };
  const read = await mk('dashboard', ['read']);
  const command = await mk('ops', ['command']);
  const admin = await mk('second admin', ['admin']);
  assert.match(read.key, /^amp_[A-Za-z0-9_-]{32}$/);
  assert.ok(read.key.startsWith(read.prefix) && read.prefix.length === 12);
  assert.equal(read.createdBy, 'bootstrap');

  // read: GET only
  assert.equal((await api('/api/v1/stations', { key: read.key })).status, 200);
  assert.equal((await api('/api/v1/stations', { bearer: read.key })).status, 200, 'Authorization: Bearer works too');
  const r403 = await api('/api/v1/stations/r16/commands/reset', { method: 'POST', body: {}, key: read.key });
  assert.deepEqual([r403.status, r403.body.error, r403.body.requiredScope], [403, 'Forbidden', 'command']);
  assert.equal((await api('/api/v1/id-tokens', { method: 'POST', body: { idToken: 'X', status: 'Accepted' }, key: read.key })).status, 403);
  // command: commands and reads, not keys or tokens
  assert.equal((await api('/api/v1/transactions', { key: command.key })).status, 200);
  assert.equal((await api('/api/v1/stations/p-01/commands/clear-cache', { method: 'POST', key: command.key })).status, 409, 'past auth: offline station');
  assert.equal((await api('/api/v1/api-keys', { key: command.key })).status, 403);
  assert.equal((await api('/api/v1/api-keys', { method: 'POST', body: { name: 'x', scopes: ['read'] }, key: command.key })).status, 403);
  assert.equal((await api('/api/v1/id-tokens/TOK-1', { method: 'DELETE', key: command.key })).status, 403);
  // admin made through the API can manage keys
  const third = await mk('made by admin', ['read', 'command'], admin.key);
  assert.equal(third.createdBy, admin.id);

  // the list never shows keys or hashes
  const list = await api('/api/v1/api-keys?limit=500');
  conformsPage('ApiKey', list.body);
  assert.equal(list.body.total, 4);
  const text = JSON.stringify(list.body);
  for (const k of [read, command, admin, third]) assert.ok(!text.includes(k.key));
  assert.ok(list.body.data.every((k: any) => !('key' in k) && !('hash' in k)));

  // revoke → 401 at once; idempotent; unknown id 404
  assert.equal((await api(`/api/v1/api-keys/${read.id}`, { method: 'DELETE' })).status, 204);
  assert.equal((await api(`/api/v1/api-keys/${read.id}`, { method: 'DELETE' })).status, 204);
  const revoked = await api('/api/v1/stations', { key: read.key });
  assert.deepEqual([revoked.status, revoked.body.error], [401, 'Unauthorized']);
  assert.equal((await api('/api/v1/api-keys/nope', { method: 'DELETE' })).status, 404);
  const one = await api(`/api/v1/api-keys/${read.id}`);
  assert.ok(one.body.revokedAt);
  assert.ok(one.body.lastUsedAt, 'use recorded');
  assert.deepEqual((await api('/api/v1/api-keys?revoked=true')).body.data.map((k: any) => k.id), [read.id]);

  // nothing but hashes at rest
  const rows = await csms.db.kysely.selectFrom('api_keys').selectAll().execute();
  for (const k of [read, command, admin, third]) {
    const row = rows.find((r) => r.id === k.id)!;
    assert.match(row.hash, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(rows).includes(k.key));
  }
  await csms.db.kysely.selectFrom('api_keys').select('id').execute(); // checkpoint-independent: read every file
  for (const f of readdirSync(csms.dataDir)) {
    const bytes = readFileSync(join(csms.dataDir, f)).toString('latin1');
    for (const k of [read.key, command.key, admin.key, third.key, ADMIN]) assert.ok(!bytes.includes(k), `${f} holds a plaintext key`);
  }

  // no key, unknown key
  for (const key of [null, 'amp_unknown', 'x'.repeat(600)]) {
    const r = await api('/api/v1/stations', { key });
    assert.deepEqual([r.status, r.body.error], [401, 'Unauthorized']);
  }
  const badBearer = await fetch(csms.url + '/api/v1/stations', { headers: { authorization: 'Basic abc' } });
  assert.equal(badBearer.status, 401);
});

test('bad input: every case a 4xx JSON error from the catalogue, never a 5xx', async () => {
  const cases: Array<{ name: string; path: string; method?: string; body?: unknown; raw?: string; type?: string; status: number; error: string; message?: RegExp }> = [
    { name: 'limit 0', path: '/api/v1/stations?limit=0', status: 400, error: 'BadRequest', message: /limit/ },
    { name: 'limit 501', path: '/api/v1/transactions?limit=501', status: 400, error: 'BadRequest', message: /<= 500/ },
    { name: 'limit text', path: '/api/v1/stations?limit=ten', status: 400, error: 'BadRequest', message: /integer/ },
    { name: 'limit fraction', path: '/api/v1/stations?limit=1.5', status: 400, error: 'BadRequest' },
    { name: 'offset negative', path: '/api/v1/id-tokens?offset=-1', status: 400, error: 'BadRequest' },
    { name: 'unknown query param', path: '/api/v1/transactions?colour=red', status: 400, error: 'BadRequest', message: /unknown property 'colour'/ },
    { name: 'bad state', path: '/api/v1/transactions?state=open', status: 400, error: 'BadRequest', message: /must be one of/ },
    { name: 'bad date', path: '/api/v1/transactions?from=yesterday', status: 400, error: 'BadRequest', message: /date-time/ },
    { name: 'bad boolean', path: '/api/v1/stations?online=maybe', status: 400, error: 'BadRequest' },
    { name: 'bad protocol', path: '/api/v1/stations?protocol=ocpp2.1', status: 400, error: 'BadRequest' },
    { name: 'unknown station', path: '/api/v1/stations/nosuch', status: 404, error: 'UnknownStation' },
    { name: 'unknown station evses', path: '/api/v1/stations/nosuch/evses', status: 404, error: 'UnknownStation' },
    { name: 'unknown station connectors', path: '/api/v1/stations/nosuch/connectors', status: 404, error: 'UnknownStation' },
    { name: 'unknown station events', path: '/api/v1/stations/nosuch/events', status: 404, error: 'UnknownStation' },
    { name: 'unknown station profiles', path: '/api/v1/stations/nosuch/charging-profiles', status: 404, error: 'UnknownStation' },
    { name: 'unknown transaction', path: '/api/v1/transactions/00000000-0000-0000-0000-000000000000', status: 404, error: 'UnknownTransaction' },
    { name: 'unknown transaction meter values', path: '/api/v1/transactions/nope/meter-values', status: 404, error: 'UnknownTransaction' },
    { name: 'unknown id token', path: '/api/v1/id-tokens/NOPE', status: 404, error: 'UnknownIdToken' },
    { name: 'id token with a space', path: '/api/v1/id-tokens/a%20b', status: 400, error: 'BadRequest' },
    { name: 'id token too long', path: `/api/v1/id-tokens/${'x'.repeat(37)}`, status: 400, error: 'BadRequest' },
    { name: 'unknown command id', path: '/api/v1/commands/nope', status: 404, error: 'NotFound' },
    { name: 'unknown route', path: '/api/v1/nothing-here', status: 404, error: 'NotFound' },
    { name: 'malformed JSON', path: '/api/v1/id-tokens', method: 'POST', raw: '{"idToken": "A",', status: 400, error: 'BadRequest' },
    { name: 'JSON array body', path: '/api/v1/id-tokens', method: 'POST', body: [1, 2], status: 400, error: 'BadRequest', message: /must be object/ },
    { name: 'wrong media type', path: '/api/v1/id-tokens', method: 'POST', raw: 'idToken=A', type: 'application/x-www-form-urlencoded', status: 415, error: 'UnsupportedMediaType' },
    { name: 'body too large', path: '/api/v1/id-tokens', method: 'POST', raw: JSON.stringify({ idToken: 'A', status: 'Accepted', pad: 'x'.repeat(1_100_000) }), status: 413, error: 'PayloadTooLarge' },
    { name: 'missing body', path: '/api/v1/id-tokens', method: 'POST', status: 400, error: 'BadRequest', message: /missing required property 'idToken'/ },
    { name: 'wrong type', path: '/api/v1/id-tokens', method: 'POST', body: { idToken: 5, status: 'Accepted' }, status: 400, error: 'BadRequest', message: /idToken: must be string/ },
    { name: 'unknown field', path: '/api/v1/id-tokens', method: 'POST', body: { idToken: 'A', status: 'Accepted', colour: 'red' }, status: 400, error: 'BadRequest', message: /unknown property 'colour'/ },
    { name: 'bad status', path: '/api/v1/id-tokens', method: 'POST', body: { idToken: 'A', status: 'Maybe' }, status: 400, error: 'BadRequest' },
    { name: 'bad token type', path: '/api/v1/id-tokens', method: 'POST', body: { idToken: 'A', status: 'Accepted', type: 'Barcode' }, status: 400, error: 'BadRequest' },
    { name: 'bad expiry', path: '/api/v1/id-tokens/A', method: 'PUT', body: { status: 'Accepted', expiryDate: 'soon' }, status: 400, error: 'BadRequest' },
    { name: 'idToken in PUT body', path: '/api/v1/id-tokens/A', method: 'PUT', body: { idToken: 'B', status: 'Accepted' }, status: 400, error: 'BadRequest' },
    { name: 'key without scopes', path: '/api/v1/api-keys', method: 'POST', body: { name: 'x', scopes: [] }, status: 400, error: 'BadRequest' },
    { name: 'key unknown scope', path: '/api/v1/api-keys', method: 'POST', body: { name: 'x', scopes: ['root'] }, status: 400, error: 'BadRequest' },
    { name: 'key duplicate scopes', path: '/api/v1/api-keys', method: 'POST', body: { name: 'x', scopes: ['read', 'read'] }, status: 400, error: 'BadRequest' },
    { name: 'key scopes not array', path: '/api/v1/api-keys', method: 'POST', body: { name: 'x', scopes: 'read' }, status: 400, error: 'BadRequest' },
  ];
  for (const c of cases) {
    const r = await api(c.path, { method: c.method, body: c.body, raw: c.raw, type: c.type });
    assert.ok(r.status < 500, `${c.name}: ${r.status}`);
    assert.equal(r.status, c.status, `${c.name}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, c.error, c.name);
    assert.equal(typeof r.body.message, 'string', c.name);
    conforms('Error', r.body);
    if (c.message) assert.match(r.body.message, c.message, c.name);
  }
});
