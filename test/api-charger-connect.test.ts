/** Seed 004 charger-connect over real HTTP: JSON and XML, status from the latest StatusNotification, bad input. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCsms, rawClient, type TestCsms, type RawClient } from './helpers/csms.js';

const KEY = 'test-api-key-123';
const GUID = '2b1ae105-ce6a-4d31-8845-4570003b9316';
let csms: TestCsms;
let cli: RawClient;

before(async () => {
  csms = await startTestCsms();
  cli = await rawClient(csms, 'CHG-1', 'ocpp1.6');
  await cli.call('BootNotification', { chargePointVendor: 'V', chargePointModel: 'M' });
  await cli.call('StatusNotification', { connectorId: 0, errorCode: 'NoError', status: 'Available', timestamp: '2025-01-01T10:00:00Z' });
  await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: '2025-01-01T10:00:00Z' });
  await cli.call('StatusNotification', { connectorId: 2, errorCode: 'GroundFailure', status: 'Faulted', info: 'RCD tripped', timestamp: '2025-01-01T10:05:00Z' });
});
after(async () => {
  await cli.close();
  await csms.destroy();
});

async function post(body: string, headers: Record<string, string>): Promise<{ status: number; text: string; type: string }> {
  const res = await fetch(`${csms.url}/api/v1/ocpp/charger-connect`, { method: 'POST', headers, body });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
}

const good = { id: GUID, chargerId: 'CHG-1', tokenId: KEY, serverIpAddress: '10.0.0.5', serverRestApiPort: 8180 };

test('JSON: answers OcppStatusResponse from the latest StatusNotification and records the route', async () => {
  const r = await post(JSON.stringify(good), { 'content-type': 'application/json' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(JSON.parse(r.text), { id: GUID, chargerId: 'CHG-1', connectorId: 2, errorCode: 'GroundFailure', status: 'Faulted', info: 'RCD tripped' });
  const route = await csms.db.kysely.selectFrom('charger_routes').selectAll().executeTakeFirstOrThrow();
  assert.equal(route.server_ip, '10.0.0.5');
  assert.equal(route.server_port, 8180);
  const tj = await post(JSON.stringify(good), { 'content-type': 'text/json' });
  assert.equal(tj.status, 200);
});

test('XML in, XML out (DataContract names and namespace)', async () => {
  const xml = `<OcppChargerConnectRequest xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.datacontract.org/2004/07/IO.Swagger.Models">
  <chargerId>CHG-1</chargerId><id>${GUID}</id><serverIpAddress>10.0.0.6</serverIpAddress><serverRestApiPort>9000</serverRestApiPort><tokenId>${KEY}</tokenId>
</OcppChargerConnectRequest>`;
  const r = await post(xml, { 'content-type': 'application/xml' });
  assert.equal(r.status, 200, r.text);
  assert.match(r.type, /xml/);
  assert.match(r.text, /^<OcppStatusResponse [^>]*xmlns="http:\/\/schemas\.datacontract\.org\/2004\/07\/IO\.Swagger\.Models"/);
  assert.match(r.text, /<chargerId>CHG-1<\/chargerId><connectorId>2<\/connectorId><errorCode>GroundFailure<\/errorCode><id>2b1ae105/);
  const json = await post(xml, { 'content-type': 'text/xml', accept: 'application/json' });
  assert.equal(JSON.parse(json.text).status, 'Faulted');
});

test('bad input: 4xx with a JSON error body, never 5xx', async () => {
  const cases: Array<{ body: string; ct: string; status: number; error: string }> = [
    { body: '{not json', ct: 'application/json', status: 400, error: 'BadRequest' },
    { body: '<OcppChargerConnectRequest><id>', ct: 'application/xml', status: 400, error: 'BadRequest' },
    { body: '<Other/>', ct: 'application/xml', status: 400, error: 'BadRequest' },
    { body: JSON.stringify({ ...good, id: 'not-a-guid' }), ct: 'application/json', status: 400, error: 'BadRequest' },
    { body: JSON.stringify({ ...good, chargerId: undefined }), ct: 'application/json', status: 400, error: 'MissingParameter' },
    { body: JSON.stringify({ ...good, serverRestApiPort: 70000 }), ct: 'application/json', status: 400, error: 'BadRequest' },
    { body: JSON.stringify({ ...good, tokenId: 'nope-nope' }), ct: 'application/json', status: 401, error: 'Unauthorized' },
    { body: JSON.stringify({ ...good, tokenId: undefined }), ct: 'application/json', status: 401, error: 'Unauthorized' },
    { body: JSON.stringify({ ...good, chargerId: 'NOPE' }), ct: 'application/json', status: 404, error: 'UnknownStation' },
    { body: JSON.stringify([1]), ct: 'application/json', status: 400, error: 'BadRequest' },
  ];
  for (const c of cases) {
    const r = await post(c.body, { 'content-type': c.ct });
    assert.equal(r.status, c.status, `${c.body}: ${r.text}`);
    const body = JSON.parse(r.text);
    if (c.error) assert.equal(body.error, c.error, c.body);
    assert.ok(body.message, c.body);
  }
  const form = await post('id=1', { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(form.status, 415);
  assert.equal(JSON.parse(form.text).error, 'UnsupportedMediaType');
});
