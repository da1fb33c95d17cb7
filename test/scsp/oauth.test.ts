/**
 * SCSP authentication (seed 001; protocols.md §1.1): the OAuth 2.0 client-credentials token endpoint
 * (RFC 6749 §4.4, §5.2 error bodies), token expiry, the static `ApiKey` header on every `/v1/scsp` call,
 * the admin API key, and the CPO registry (admin API and AMPLINE_SCSP_CPOS_FILE).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../src/util/clock.js';
import { ADMIN_KEY, CpoCaller, admin, call, registerCpo, startTestScsp, tempDir, type CpoCredentials, type TestScsp } from './helpers.js';

let scsp: TestScsp;
let a: CpoCredentials;
let b: CpoCredentials;

before(async () => {
  scsp = await startTestScsp();
  a = await registerCpo(scsp, 'cpo-a');
  b = await registerCpo(scsp, 'cpo-b');
});
after(async () => {
  await scsp.destroy();
});

const token = (form: Record<string, string> | string, headers: Record<string, string> = {}) => call(scsp.url, 'POST', '/oauth/token', { form, headers });
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
/** Any authenticated /v1/scsp call: unpair of a uid nobody paired answers 404 once authentication passed. */
const probe = (bearer: string | null, apiKey: string | null) =>
  call(scsp.url, 'POST', '/v1/scsp/chargingstations/nobody/unpair', {
    headers: { ...(bearer !== null ? { authorization: `Bearer ${bearer}` } : {}), ...(apiKey !== null ? { apikey: apiKey } : {}) },
  });

test('credentials are created once with the token URL; secrets are never shown again', async () => {
  assert.match(a.clientSecret, /^[A-Za-z0-9_-]{43}$/);
  assert.match(a.apiKey, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(a.tokenUrl, `${scsp.url}/oauth/token`);
  assert.equal(a.clientId, 'cpo-cpo-a');
  const r = await admin(scsp, 'GET', '/api/v1/cpos/cpo-a');
  assert.equal(r.status, 200);
  assert.equal(r.body.cpoToken, '***');
  assert.ok(!r.text.includes(a.clientSecret) && !r.text.includes(a.apiKey));
});

test('token: client_id/client_secret in the form body → 200 Bearer with expires_in, no-store', async () => {
  const r = await token({ grant_type: 'client_credentials', client_id: a.clientId, client_secret: a.clientSecret, audience: 'https://scsp.example' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.token_type, 'Bearer');
  assert.equal(r.body.expires_in, 3600);
  assert.match(r.body.access_token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal(r.headers.get('pragma'), 'no-cache');
  // The token works together with the CPO's ApiKey.
  assert.equal((await probe(r.body.access_token, a.apiKey)).status, 404);
});

test('token: HTTP Basic client authentication, alone or agreeing with the body (what Ampline\'s CPO side sends)', async () => {
  const viaBasic = await token({ grant_type: 'client_credentials' }, { authorization: basic(a.clientId, a.clientSecret) });
  assert.equal(viaBasic.status, 200, viaBasic.text);
  const both = await token({ grant_type: 'client_credentials', client_id: a.clientId, client_secret: a.clientSecret }, { authorization: basic(a.clientId, a.clientSecret) });
  assert.equal(both.status, 200, both.text);
  const conflicting = await token({ grant_type: 'client_credentials', client_id: b.clientId, client_secret: b.clientSecret }, { authorization: basic(a.clientId, a.clientSecret) });
  assert.equal(conflicting.status, 400);
  assert.equal(conflicting.body.error, 'invalid_request');
});

test('token: wrong secret, unknown client, no credentials → 401 invalid_client with WWW-Authenticate', async () => {
  const cases: Array<{ name: string; form: Record<string, string> }> = [
    { name: 'wrong secret', form: { grant_type: 'client_credentials', client_id: a.clientId, client_secret: b.clientSecret } },
    { name: 'unknown client', form: { grant_type: 'client_credentials', client_id: 'nobody', client_secret: a.clientSecret } },
    { name: 'no secret', form: { grant_type: 'client_credentials', client_id: a.clientId } },
    { name: 'no credentials', form: { grant_type: 'client_credentials' } },
  ];
  for (const c of cases) {
    const r = await token(c.form);
    assert.equal(r.status, 401, c.name);
    assert.equal(r.body.error, 'invalid_client', c.name);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm=/, c.name);
    assert.equal(r.body.access_token, undefined, c.name);
  }
  const wrongBasic = await token({ grant_type: 'client_credentials' }, { authorization: basic(a.clientId, 'not-the-secret-at-all') });
  assert.equal(wrongBasic.status, 401);
  assert.equal(wrongBasic.body.error, 'invalid_client');
});

test('token: grant types and malformed requests → 400 unsupported_grant_type / invalid_request', async () => {
  const cases: Array<{ name: string; form: Record<string, string> | string; error: string }> = [
    { name: 'password grant', form: { grant_type: 'password', client_id: a.clientId, client_secret: a.clientSecret, username: 'u', password: 'p' }, error: 'unsupported_grant_type' },
    { name: 'authorization_code grant', form: { grant_type: 'authorization_code', code: 'x' }, error: 'unsupported_grant_type' },
    { name: 'missing grant_type', form: { client_id: a.clientId, client_secret: a.clientSecret }, error: 'invalid_request' },
    { name: 'repeated parameter', form: `grant_type=client_credentials&client_id=${a.clientId}&client_id=${a.clientId}&client_secret=${a.clientSecret}`, error: 'invalid_request' },
  ];
  for (const c of cases) {
    const r = await token(c.form);
    assert.equal(r.status, 400, c.name);
    assert.equal(r.body.error, c.error, c.name);
  }
  const plain = await call(scsp.url, 'POST', '/oauth/token', { raw: 'grant_type=client_credentials', headers: { 'content-type': 'text/plain' } });
  assert.equal(plain.status, 400);
  assert.equal(plain.body.error, 'invalid_request');
  const json = await call(scsp.url, 'POST', '/oauth/token', { body: { grant_type: 'client_credentials', client_id: a.clientId, client_secret: a.clientSecret } });
  assert.equal(json.status, 200, 'a JSON body is accepted (lenient)');
});

test('token expiry: a token works until expires_in has passed, then 401 invalid_token; a new token works', async () => {
  const clock = new ManualClock('2025-03-01T10:00:00Z');
  const s = await startTestScsp({ deps: { clock }, env: { AMPLINE_SCSP_TOKEN_TTL_S: '600' } });
  try {
    const creds = await registerCpo(s, 'cpo-x');
    const cpo = new CpoCaller(s, creds);
    const t = await call(s.url, 'POST', '/oauth/token', { form: { grant_type: 'client_credentials', client_id: creds.clientId, client_secret: creds.clientSecret } });
    assert.equal(t.body.expires_in, 600);
    const unpairProbe = (bearer: string) => cpo.post('/v1/scsp/chargingstations/nobody/unpair', undefined, { token: bearer });
    clock.advance(599_000);
    assert.equal((await unpairProbe(t.body.access_token)).status, 404, 'still valid 1 s before expiry');
    clock.advance(1_000);
    const expired = await unpairProbe(t.body.access_token);
    assert.equal(expired.status, 401);
    assert.match(expired.body.message, /expired/);
    assert.match(expired.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const fresh = await cpo.fetchToken();
    assert.equal((await unpairProbe(fresh)).status, 404);
  } finally {
    await s.destroy();
  }
});

test('ApiKey: every /v1/scsp call needs the Bearer token and the same CPO\'s ApiKey', async () => {
  const ca = new CpoCaller(scsp, a);
  const cb = new CpoCaller(scsp, b);
  const ta = await ca.fetchToken();
  const tb = await cb.fetchToken();
  const cases = [
    { name: 'token + own key', bearer: ta, key: a.apiKey, status: 404 },
    { name: 'no ApiKey', bearer: ta, key: null, status: 401 },
    { name: 'wrong ApiKey', bearer: ta, key: 'not-an-api-key-0123456789', status: 401 },
    { name: 'another CPO\'s ApiKey', bearer: ta, key: b.apiKey, status: 401 },
    { name: 'no token', bearer: null, key: a.apiKey, status: 401 },
    { name: 'unknown token', bearer: 'forged-token-0123456789', key: a.apiKey, status: 401 },
    { name: 'client secret as token', bearer: a.clientSecret, key: a.apiKey, status: 401 },
    { name: 'other CPO\'s token + key', bearer: tb, key: b.apiKey, status: 404 },
  ];
  for (const c of cases) {
    const r = await probe(c.bearer, c.key);
    assert.equal(r.status, c.status, `${c.name}: ${r.text}`);
    if (c.status === 401) {
      assert.equal(typeof r.body.message, 'string', c.name);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/, c.name);
    }
  }
  // The same checks guard pairing and events, before the body is even read.
  const pair = await ca.post('/v1/scsp/ocpp2.0.1/pair', undefined, { raw: '{not json', apiKey: null, headers: { 'content-type': 'application/json' } });
  assert.equal(pair.status, 401);
  const ev = await ca.post('/v1/scsp/chargingstations/X/events/ocpp2.0.1/MeterValues', {}, { apiKey: 'wrong-key-0123456789abc' });
  assert.equal(ev.status, 401);
});

test('a disabled CPO gets no token and its tokens stop working; a new secret revokes old tokens', async () => {
  const creds = await registerCpo(scsp, 'cpo-off');
  const cpo = new CpoCaller(scsp, creds);
  const t = await cpo.fetchToken();
  const cpoToken = 'cpo-token-for-scsp-cpo-off-0123456789';
  let r = await admin(scsp, 'PUT', '/api/v1/cpos/cpo-off', { baseUrl: 'http://127.0.0.1:9', cpoToken, enabled: false });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.credentials.clientSecret, undefined, 'kept, not shown');
  assert.equal((await probe(t, creds.apiKey)).status, 401);
  const refused = await call(scsp.url, 'POST', '/oauth/token', { form: { grant_type: 'client_credentials', client_id: creds.clientId, client_secret: creds.clientSecret } });
  assert.equal(refused.status, 401);
  r = await admin(scsp, 'PUT', '/api/v1/cpos/cpo-off', { baseUrl: 'http://127.0.0.1:9', cpoToken, enabled: true });
  const t2 = await cpo.fetchToken();
  assert.equal((await probe(t2, creds.apiKey)).status, 404);
  r = await admin(scsp, 'PUT', '/api/v1/cpos/cpo-off', { baseUrl: 'http://127.0.0.1:9', cpoToken, clientSecret: 'a-brand-new-secret-0123456789' });
  assert.equal(r.body.credentials.clientSecret, 'a-brand-new-secret-0123456789');
  assert.equal((await probe(t2, creds.apiKey)).status, 401, 'rotating the secret revokes issued tokens');
});

test('audience: with AMPLINE_SCSP_AUDIENCE set, another audience is invalid_request; none is fine', async () => {
  const s = await startTestScsp({ env: { AMPLINE_SCSP_AUDIENCE: 'https://scsp.ampline.test, other' } });
  try {
    const creds = await registerCpo(s, 'cpo-aud');
    const base = { grant_type: 'client_credentials', client_id: creds.clientId, client_secret: creds.clientSecret };
    assert.equal((await call(s.url, 'POST', '/oauth/token', { form: { ...base, audience: 'https://scsp.ampline.test' } })).status, 200);
    assert.equal((await call(s.url, 'POST', '/oauth/token', { form: base })).status, 200);
    const wrong = await call(s.url, 'POST', '/oauth/token', { form: { ...base, audience: 'https://elsewhere' } });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error, 'invalid_request');
  } finally {
    await s.destroy();
  }
});

test('admin API: 401 without the admin key; CPO validation and conflicts', async () => {
  for (const key of ['', 'wrong-key', a.apiKey]) {
    const r = await admin(scsp, 'GET', '/api/v1/cpos', undefined, key);
    assert.equal(r.status, 401, `key '${key}'`);
    assert.equal(r.body.error, 'Unauthorized');
  }
  const bearer = await call(scsp.url, 'GET', '/api/v1/cpos', { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  assert.equal(bearer.status, 200);
  const bad = [
    { body: { id: 'x', baseUrl: 'ftp://x', cpoToken: 'cpo-token-0123456789' }, field: 'baseUrl' },
    { body: { id: 'x', baseUrl: 'http://x', cpoToken: 'short' }, field: 'cpoToken' },
    { body: { id: 'x y', baseUrl: 'http://x', cpoToken: 'cpo-token-0123456789' }, field: 'id' },
    { body: { id: 'x', baseUrl: 'http://x', cpoToken: 'cpo-token-0123456789', payloadProtocol: 'ocpi2.2' }, field: 'payloadProtocol' },
    { body: { id: 'x', baseUrl: 'http://x', cpoToken: 'cpo-token-0123456789', clientSecret: 'short' }, field: 'clientSecret' },
    { body: { id: 'x', baseUrl: 'http://x', cpoToken: 'cpo-token-0123456789', colour: 'red' }, field: 'colour' },
  ];
  for (const c of bad) {
    const r = await admin(scsp, 'POST', '/api/v1/cpos', c.body);
    assert.equal(r.status, 400, c.field);
    assert.match(r.body.message, new RegExp(c.field), c.field);
  }
  assert.equal((await admin(scsp, 'POST', '/api/v1/cpos', { id: 'cpo-a', baseUrl: 'http://x', cpoToken: 'cpo-token-0123456789' })).status, 409);
  const clash = await admin(scsp, 'POST', '/api/v1/cpos', { id: 'cpo-z', baseUrl: 'http://x', cpoToken: 'cpo-token-0123456789', clientId: a.clientId });
  assert.equal(clash.status, 400);
  assert.match(clash.body.message, /clientId/);
  assert.equal((await admin(scsp, 'GET', '/api/v1/cpos/nope')).status, 404);
});

test('AMPLINE_SCSP_CPOS_FILE: CPOs from a file can get tokens with the secrets given there', async () => {
  const dir = tempDir();
  const file = join(dir, 'cpos.json');
  writeFileSync(
    file,
    JSON.stringify({
      cpos: [{ id: 'ampline-csms', baseUrl: 'http://127.0.0.1:8180', cpoToken: 'inbound-token-for-scsp-0123', clientId: 'ampline-cpo', clientSecret: 'file-secret-0123456789', apiKey: 'file-api-key-0123456789', payloadProtocol: 'ocpp1.6' }],
    }),
  );
  const s = await startTestScsp({ env: { AMPLINE_SCSP_CPOS_FILE: file } });
  try {
    const cpo = new CpoCaller(s, { cpoId: 'ampline-csms', clientId: 'ampline-cpo', clientSecret: 'file-secret-0123456789', apiKey: 'file-api-key-0123456789', tokenUrl: '' });
    await cpo.fetchToken();
    assert.equal((await cpo.post('/v1/scsp/chargingstations/nobody/unpair')).status, 404);
    const listed = await admin(s, 'GET', '/api/v1/cpos');
    assert.deepEqual(
      listed.body.data.map((c: { id: string; payloadProtocol: string }) => [c.id, c.payloadProtocol]),
      [['ampline-csms', 'ocpp1.6']],
    );
  } finally {
    await s.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('/healthz and /metrics', async () => {
  const h = await call(scsp.url, 'GET', '/healthz');
  assert.equal(h.status, 200);
  assert.equal(h.body.status, 'ok');
  assert.equal(h.body.service, 'scsp');
  const m = await call(scsp.url, 'GET', '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /ampline_scsp_token_requests_total\{result="issued"\}/);
  assert.match(m.text, /ampline_scsp_token_requests_total\{result="invalid_client"\}/);
});
