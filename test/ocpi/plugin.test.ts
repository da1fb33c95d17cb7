/**
 * The OCPI plugin factory over real HTTP, on a standalone node (in-memory partners) with a dummy
 * functional module — the way the second wave mounts Sessions and ChargingProfiles: auth (401 missing /
 * unknown token, TOKEN_A refused on functional modules only), the envelope on every answer (404, 400,
 * 401 included), X-Request-ID / X-Correlation-ID, routing headers, Base64 and raw tokens, Bearer for
 * OAuth2 partners only, pagination (Link, X-Total-Count, X-Limit, date_from/date_to) and the typed
 * client (`pages`, status codes surfaced).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { OcpiNode } from '../../src/ocpi/node.js';
import { memoryPartnerRepository, type OcpiPartnerRepository } from '../../src/ocpi/storage.js';
import { hashToken, tokenAuth, noAuth } from '../../src/ocpi/core/auth.js';
import { OcpiClient, OcpiClientError } from '../../src/ocpi/core/client.js';
import type { OcpiModule } from '../../src/ocpi/core/plugin.js';
import type { PartnerPrincipal } from '../../src/ocpi/credentials.js';
import { OcpiError } from '../../src/ocpi/core/status.js';
import { formatDateTime } from '../../src/ocpi/core/datetime.js';
import { pageHeaders, pageOf, parsePageQuery } from '../../src/ocpi/core/pagination.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { b64, ocpi } from './helpers.js';

interface DummySession {
  id: string;
  last_updated: string;
}

/** Seven sessions, one a day from 2020-01-01. */
const SESSIONS: DummySession[] = Array.from({ length: 7 }, (_, i) => ({ id: `s${i + 1}`, last_updated: `2020-01-0${i + 1}T00:00:00Z` }));

/** A functional module written like the second wave will: core helpers only. */
const dummySessions: OcpiModule<PartnerPrincipal> = {
  identifier: 'sessions',
  kind: 'functional',
  interfaceRole: 'SENDER',
  path: '2.2.1/sessions',
  routes: [
    {
      method: 'GET',
      url: '',
      handler: async (req) => {
        const page = parsePageQuery(req.query, { maxLimit: 5 });
        const { items, total } = pageOf(SESSIONS, page, (s) => new Date(s.last_updated));
        return { data: items, headers: pageHeaders({ requestUrl: req.url, page, returned: items.length, total }) };
      },
    },
    {
      method: 'GET',
      url: '/:id',
      handler: async (req) => {
        const s = SESSIONS.find((x) => x.id === req.params.id);
        if (!s) throw OcpiError.transport('NotFound', `Unknown session ${req.params.id}`);
        return { data: s };
      },
    },
    {
      method: 'PUT',
      url: '/:country_code/:party_id/:id',
      handler: async (req) => {
        const body = req.body as { id?: unknown } | undefined;
        if (body?.id !== req.params.id) throw OcpiError.invalid('The id in the object differs from the id in the URL');
        return { data: { seen: req.principal.partner.id } };
      },
    },
  ],
};

let http: FastifyInstance;
let node: OcpiNode;
let partners: OcpiPartnerRepository;
let base: string;
let tokenA: string;
const TOKEN_C = 'registered-partner-token-c';
const TOKEN_OAUTH = 'bearer-partner-token';

before(async () => {
  http = Fastify({ logger: false });
  partners = memoryPartnerRepository();
  node = new OcpiNode({
    identity: { role: 'CPO', countryCode: 'NL', partyId: 'AMP', businessDetails: { name: 'Ampline CPO' } },
    partners,
    clock: systemClock,
    log: silentLogger(),
    modules: () => [dummySessions],
  });
  node.mount(http);
  await http.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`;
  tokenA = (await node.credentials.createPartner({ id: 'pending-peer' })).tokenA;
  const registered = {
    name: 'Example',
    state: 'registered' as const,
    ourTokenKind: 'C' as const,
    ourTokenHint: null,
    ourNextTokenHash: null,
    theirToken: 'x',
    versionsUrl: 'https://example.com/ocpi/versions',
    version: '2.2.1',
    tokenEncoding: 'auto' as const,
    endpoints: [],
    roles: [{ role: 'SCSP', party_id: 'EXS', country_code: 'NL', business_details: { name: 'Example Smart Charging' } }],
    registeredAt: new Date().toISOString(),
  };
  await partners.insert({ id: 'peer-c', ...registered, ourTokenHash: hashToken(TOKEN_C), auth: null }, new Date());
  await partners.insert(
    { id: 'peer-oauth', ...registered, ourTokenHash: hashToken(TOKEN_OAUTH), auth: { type: 'oauth2', tokenUrl: 'https://idp/token', clientId: 'a', clientSecret: 'b' } },
    new Date(),
  );
});

after(async () => {
  await http.close();
});

const envelopeShape = (body: any) => {
  assert.equal(typeof body.status_code, 'number');
  assert.equal(typeof body.timestamp, 'string');
  assert.ok(!('error' in body), 'never the /api/v1 error shape');
};

test('401 for a missing or unknown token, on every module, in the envelope', async () => {
  for (const path of ['/ocpi/versions', '/ocpi/2.2.1', '/ocpi/2.2.1/credentials', '/ocpi/2.2.1/sessions']) {
    for (const [name, authorization] of [
      ['missing', undefined],
      ['unknown', `Token ${b64('nobody-has-this')}`],
      ['not a Token header', 'Basic dTpw'],
    ] as const) {
      const r = await ocpi(base + path, authorization === undefined ? {} : { authorization });
      assert.equal(r.status, 401, `${name} ${path}`);
      envelopeShape(r.body);
      assert.equal(r.body.status_code, 2000);
      assert.equal(r.headers.get('www-authenticate'), 'Token');
    }
  }
});

test('TOKEN_A: versions, details and credentials yes; a functional module 401', async () => {
  assert.equal((await ocpi(`${base}/ocpi/versions`, { token: tokenA })).status, 200);
  assert.equal((await ocpi(`${base}/ocpi/2.2.1`, { token: tokenA })).status, 200);
  const creds = await ocpi(`${base}/ocpi/2.2.1/credentials`, { token: tokenA });
  assert.equal(creds.status, 200);
  assert.equal(creds.body.data.token, tokenA, 'GET credentials answers with the token the caller used');
  const fn = await ocpi(`${base}/ocpi/2.2.1/sessions`, { token: tokenA });
  assert.equal(fn.status, 401);
  assert.equal(fn.body.status_code, 2000);
  assert.match(fn.body.status_message, /CREDENTIALS_TOKEN_A/);
  // The same module with a registered partner's token.
  assert.equal((await ocpi(`${base}/ocpi/2.2.1/sessions`, { token: TOKEN_C })).status, 200);
});

test('Base64 and raw tokens are both accepted (2.2 peers send raw); Bearer only for OAuth2 partners', async () => {
  assert.equal((await ocpi(`${base}/ocpi/2.2.1/sessions/s1`, { token: TOKEN_C })).status, 200);
  assert.equal((await ocpi(`${base}/ocpi/2.2.1/sessions/s1`, { token: TOKEN_C, raw: true })).status, 200);
  assert.equal((await ocpi(`${base}/ocpi/2.2.1/sessions/s1`, { authorization: `Bearer ${TOKEN_C}` })).status, 401);
  assert.equal((await ocpi(`${base}/ocpi/2.2.1/sessions/s1`, { authorization: `Bearer ${TOKEN_OAUTH}` })).status, 200);
});

test('X-Request-ID and X-Correlation-ID echoed (also on 401 and 404), generated when absent', async () => {
  const headers = { 'X-Request-ID': 'req-123', 'X-Correlation-ID': 'corr-456' };
  for (const [path, token, status] of [
    ['/ocpi/2.2.1/sessions/s1', TOKEN_C, 200],
    ['/ocpi/2.2.1/sessions/s1', 'unknown', 401],
    ['/ocpi/2.2.1/sessions/nope', TOKEN_C, 404],
    ['/ocpi/no-such-module', TOKEN_C, 404],
  ] as const) {
    const r = await ocpi(base + path, { token, headers });
    assert.equal(r.status, status, path);
    assert.equal(r.headers.get('x-request-id'), 'req-123', path);
    assert.equal(r.headers.get('x-correlation-id'), 'corr-456', path);
    envelopeShape(r.body);
  }
  const fresh = await ocpi(`${base}/ocpi/versions`, { token: TOKEN_C });
  assert.match(fresh.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
  assert.match(fresh.headers.get('x-correlation-id')!, /^[0-9a-f-]{36}$/);
});

test('routing headers on functional modules only: FROM us, TO the caller (its FROM headers, else its credentials role)', async () => {
  const fn = await ocpi(`${base}/ocpi/2.2.1/sessions/s1`, { token: TOKEN_C });
  assert.deepEqual(
    ['ocpi-from-country-code', 'ocpi-from-party-id', 'ocpi-to-country-code', 'ocpi-to-party-id'].map((h) => fn.headers.get(h)),
    ['NL', 'AMP', 'NL', 'EXS'],
  );
  const asked = await ocpi(`${base}/ocpi/2.2.1/sessions/s1`, { token: TOKEN_C, headers: { 'OCPI-from-country-code': 'BE', 'OCPI-from-party-id': 'XYZ', 'OCPI-to-country-code': 'NL', 'OCPI-to-party-id': 'AMP' } });
  assert.deepEqual([asked.headers.get('ocpi-to-country-code'), asked.headers.get('ocpi-to-party-id')], ['BE', 'XYZ']);
  for (const path of ['/ocpi/versions', '/ocpi/2.2.1', '/ocpi/2.2.1/credentials']) {
    const r = await ocpi(base + path, { token: TOKEN_C });
    assert.equal(r.headers.get('ocpi-from-party-id'), null, path);
    assert.equal(r.headers.get('ocpi-to-party-id'), null, path);
  }
});

test('version details list every module with its interface role and absolute URL', async () => {
  const r = await ocpi(`${base}/ocpi/2.2.1`, { token: TOKEN_C });
  assert.deepEqual(r.body.data, {
    version: '2.2.1',
    endpoints: [
      { identifier: 'credentials', role: 'SENDER', url: `${base}/ocpi/2.2.1/credentials` },
      { identifier: 'sessions', role: 'SENDER', url: `${base}/ocpi/2.2.1/sessions` },
    ],
  });
  const v = await ocpi(`${base}/ocpi/versions`, { token: TOKEN_C });
  assert.deepEqual(v.body.data, [{ version: '2.2.1', url: `${base}/ocpi/2.2.1` }]);
  assert.equal(v.body.status_code, 1000);
});

test('pagination over HTTP: Link rel="next" (absolute, filters kept), X-Total-Count, X-Limit; date_from inclusive, date_to exclusive', async () => {
  const first = await ocpi(`${base}/ocpi/2.2.1/sessions?limit=3`, { token: TOKEN_C });
  assert.deepEqual(first.body.data.map((s: DummySession) => s.id), ['s1', 's2', 's3']);
  assert.equal(first.headers.get('x-total-count'), '7');
  assert.equal(first.headers.get('x-limit'), '3');
  assert.equal(first.headers.get('link'), `<${base}/ocpi/2.2.1/sessions?limit=3&offset=3>; rel="next"`);
  const capped = await ocpi(`${base}/ocpi/2.2.1/sessions?limit=1000`, { token: TOKEN_C });
  assert.equal(capped.body.data.length, 5);
  assert.equal(capped.headers.get('x-limit'), '5', 'the server maximum');
  const last = await ocpi(`${base}/ocpi/2.2.1/sessions?offset=5&limit=5`, { token: TOKEN_C });
  assert.deepEqual(last.body.data.map((s: DummySession) => s.id), ['s6', 's7']);
  assert.equal(last.headers.get('link'), null, 'no next link on the last page');
  assert.equal(last.headers.get('x-limit'), '5');
  // s2 (01-02) is in (inclusive), s5 (01-05) is out (exclusive).
  const window = await ocpi(`${base}/ocpi/2.2.1/sessions?date_from=2020-01-02T00:00:00Z&date_to=2020-01-05T00:00:00Z&limit=2`, { token: TOKEN_C });
  assert.deepEqual(window.body.data.map((s: DummySession) => s.id), ['s2', 's3']);
  assert.equal(window.headers.get('x-total-count'), '3');
  const next = new URL(/^<([^>]+)>/.exec(window.headers.get('link')!)![1]!);
  assert.equal(next.searchParams.get('date_from'), '2020-01-02T00:00:00Z');
  assert.equal(next.searchParams.get('date_to'), '2020-01-05T00:00:00Z');
  const bad = await ocpi(`${base}/ocpi/2.2.1/sessions?limit=zero`, { token: TOKEN_C });
  assert.deepEqual([bad.status, bad.body.status_code], [200, 2001]);
});

test('the typed client follows the next links, and surfaces HTTP status and status_code', async () => {
  const client = new OcpiClient();
  const seen: string[] = [];
  for await (const page of client.pages<DummySession>({ url: `${base}/ocpi/2.2.1/sessions`, auth: tokenAuth(TOKEN_C, 'base64'), query: { limit: 2, date_from: formatDateTime(new Date('2020-01-02T00:00:00Z')) } })) {
    assert.ok(page.length <= 2);
    seen.push(...page.map((s) => s.id));
  }
  assert.deepEqual(seen, ['s2', 's3', 's4', 's5', 's6', 's7']);
  const unknown = await client.call({ method: 'GET', url: `${base}/ocpi/2.2.1/sessions`, auth: tokenAuth('nope', 'base64') });
  assert.deepEqual([unknown.httpStatus, unknown.statusCode], [401, 2000]);
  await assert.rejects(client.expect({ method: 'GET', url: `${base}/ocpi/2.2.1/sessions`, auth: noAuth }), (e: unknown) => e instanceof OcpiClientError && e.kind === 'http' && e.httpStatus === 401);
  await assert.rejects(
    client.expect({ method: 'PUT', url: `${base}/ocpi/2.2.1/sessions/NL/AMP/s9`, auth: tokenAuth(TOKEN_C, 'raw'), body: { id: 'other' } }),
    (e: unknown) => e instanceof OcpiClientError && e.kind === 'status' && e.statusCode === 2001 && e.httpStatus === 200,
  );
  await assert.rejects(client.call({ method: 'GET', url: 'http://127.0.0.1:9/ocpi/versions', auth: noAuth }), (e: unknown) => e instanceof OcpiClientError && e.kind === 'network');
});

test('bodies: JSON whatever the Content-Type; invalid JSON → 400 in the envelope; id ≠ URL id → 200 + 2001', async () => {
  const ok = await ocpi(`${base}/ocpi/2.2.1/sessions/NL/AMP/s9`, { method: 'PUT', token: TOKEN_C, text: JSON.stringify({ id: 's9' }), headers: { 'content-type': 'text/plain' } });
  assert.deepEqual([ok.status, ok.body.status_code, ok.body.data], [200, 1000, { seen: 'peer-c' }]);
  const broken = await ocpi(`${base}/ocpi/2.2.1/sessions/NL/AMP/s9`, { method: 'PUT', token: TOKEN_C, text: '{"id": ' });
  assert.equal(broken.status, 400);
  envelopeShape(broken.body);
  const mismatch = await ocpi(`${base}/ocpi/2.2.1/sessions/NL/AMP/s9`, { method: 'PUT', token: TOKEN_C, body: { id: 's8' } });
  assert.deepEqual([mismatch.status, mismatch.body.status_code], [200, 2001]);
  const unknown = await ocpi(`${base}/ocpi/2.2.1/sessions/s99`, { token: TOKEN_C });
  assert.equal(unknown.status, 404);
  envelopeShape(unknown.body);
});
