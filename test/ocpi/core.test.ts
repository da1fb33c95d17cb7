/**
 * The pure OCPI core (src/ocpi/core): envelope and status codes, the Authorization header (Base64 vs
 * raw), pagination (date_from inclusive, date_to exclusive, Link / X-Total-Count / X-Limit), DateTime,
 * string types, version/endpoint rules, Credentials parsing with the spec's own JSON examples, and the
 * OAuth2 + ApiKey strategy. Case names cite the spec section they come from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OCPI_TRANSPORT_ERRORS, OcpiError, OcpiStatus, envelope, isEnvelope, isSuccess, statusClass } from '../../src/ocpi/core/status.js';
import {
  OAuth2ClientCredentials,
  encodeAuthorization,
  generateToken,
  hashToken,
  isCredentialsToken,
  parsePartnerAuth,
  resolveEncoding,
  tokenCandidates,
} from '../../src/ocpi/core/auth.js';
import { formatDateTime, isOcpiDateTime, parseDateTime } from '../../src/ocpi/core/datetime.js';
import { inDateRange, pageHeaders, pageOf, pageQuery, parseNextLink, parsePageQuery } from '../../src/ocpi/core/pagination.js';
import { ciEquals, isCiString, isCountryCode, isOcpiString, isPartyId, joinUrl } from '../../src/ocpi/core/strings.js';
import { messageIds, readRouting, routingHeaders } from '../../src/ocpi/core/headers.js';
import { parseVersionDetails, parseVersions } from '../../src/ocpi/core/client.js';
import { missingEndpoints, pickVersion } from '../../src/ocpi/versions.js';
import { credentialsOf, parseCredentials } from '../../src/ocpi/credentials.js';
import { ManualClock } from '../../src/util/clock.js';
import { SPEC_CPO_CREDENTIALS } from './helpers.js';

const NOW = new Date('2015-06-30T21:59:59Z');

// ── envelope and status codes ─────────────────────────────────────────────────────────────────

test('Response format: {data?, status_code, status_message?, timestamp}; data left out when undefined', () => {
  assert.deepEqual(envelope(NOW, OcpiStatus.Success, { data: [{ version: '2.2.1', url: 'https://x/2.2.1' }] }), {
    data: [{ version: '2.2.1', url: 'https://x/2.2.1' }],
    status_code: 1000,
    timestamp: '2015-06-30T21:59:59Z',
  });
  // transport_and_format "Example: Response with an error (contains no data field)".
  assert.deepEqual(envelope(NOW, 2001, { message: 'Missing required field: type' }), {
    status_code: 2001,
    status_message: 'Missing required field: type',
    timestamp: '2015-06-30T21:59:59Z',
  });
  assert.ok(!('data' in envelope(NOW, 1000)));
  assert.equal(isEnvelope({ status_code: 1000, timestamp: 'x' }), true);
  assert.equal(isEnvelope({ status_code: '1000' }), false);
  assert.equal(isEnvelope([1000]), false);
});

test('status codes: the four ranges, custom x9xx inside them', () => {
  const cases: Array<{ code: number; cls: string }> = [
    { code: 1000, cls: 'success' },
    { code: 1900, cls: 'success' },
    { code: 2000, cls: 'client-error' },
    { code: 2001, cls: 'client-error' },
    { code: 2004, cls: 'client-error' },
    { code: 3001, cls: 'server-error' },
    { code: 3003, cls: 'server-error' },
    { code: 4002, cls: 'hub-error' },
    { code: 999, cls: 'unknown' },
    { code: 200, cls: 'unknown' },
  ];
  for (const c of cases) assert.equal(statusClass(c.code), c.cls, String(c.code));
  assert.deepEqual(
    [OcpiStatus.InvalidParameters, OcpiStatus.NotEnoughInformation, OcpiStatus.UnknownLocation, OcpiStatus.UnknownToken],
    [2001, 2002, 2003, 2004],
  );
  assert.deepEqual([OcpiStatus.UnableToUseClientApi, OcpiStatus.UnsupportedVersion, OcpiStatus.NoMatchingEndpoints], [3001, 3002, 3003]);
  assert.deepEqual([OcpiStatus.HubError, OcpiStatus.HubUnknownReceiver, OcpiStatus.HubTimeout, OcpiStatus.HubConnectionProblem], [4000, 4001, 4002, 4003]);
  assert.equal(isSuccess(1000), true);
  assert.equal(isSuccess(undefined), false);
});

test('HTTP rules: OCPI-layer errors are HTTP 200; 401 / 404 / 405 / 400 only for the transport cases', () => {
  // "a valid, authenticated request to an existing resource gets no HTTP error" (2.2.1 bug-fix errata).
  assert.equal(OcpiError.invalid('x').httpStatus, 200);
  assert.equal(new OcpiError(3001, 'x').httpStatus, 200);
  assert.equal(new OcpiError(2001, 'x', { httpStatus: 404 }).httpStatus, 404);
  assert.deepEqual(OCPI_TRANSPORT_ERRORS.Unauthorized, { http: 401, statusCode: 2000 });
  assert.deepEqual(OCPI_TRANSPORT_ERRORS.TokenANotAllowed, { http: 401, statusCode: 2000 });
  assert.equal(OCPI_TRANSPORT_ERRORS.MethodNotAllowed.http, 405);
  assert.equal(OCPI_TRANSPORT_ERRORS.InvalidJson.http, 400);
  assert.equal(OCPI_TRANSPORT_ERRORS.NotFound.http, 404);
  const e = OcpiError.transport('MethodNotAllowed', 'registered');
  assert.deepEqual([e.httpStatus, e.statusCode], [405, 2000]);
});

// ── Authorization header ──────────────────────────────────────────────────────────────────────

test('Authorization header: Base64 of the UTF-8 token after "Token " (2.2.1-d2), raw for 2.2 peers', () => {
  assert.equal(encodeAuthorization('example-token', 'base64'), 'Token ZXhhbXBsZS10b2tlbg==');
  assert.equal(encodeAuthorization('example-token', 'raw'), 'Token example-token');
  // The transport_and_format example header decodes to the credentials_example.json token (+ "\n").
  const spec = tokenCandidates('Token ZWJmM2IzOTktNzc5Zi00NDk3LTliOWQtYWM2YWQzY2M0NGQyCg==');
  assert.deepEqual(spec[0], { token: 'ebf3b399-779f-4497-9b9d-ac6ad3cc44d2', encoding: 'base64', scheme: 'Token' });
});

test('inbound token readings: Base64-decoded first, then raw; junk gives none', () => {
  const cases: Array<{ name: string; header: unknown; tokens: Array<[string, string]> }> = [
    { name: 'Base64 (2.2.1)', header: 'Token ZXhhbXBsZS10b2tlbg==', tokens: [['example-token', 'base64'], ['ZXhhbXBsZS10b2tlbg==', 'raw']] },
    // The d2 example itself: "example-token\n" — taken without the newline, never as a test vector of Base64.
    { name: 'd2 example with trailing newline', header: 'Token ZXhhbXBsZS10b2tlbgo=', tokens: [['example-token', 'base64'], ['ZXhhbXBsZS10b2tlbgo=', 'raw']] },
    { name: 'raw UUID (2.1.1 / 2.2 peers)', header: 'Token ebf3b399-779f-4497-9b9d-ac6ad3cc44d2', tokens: [['ebf3b399-779f-4497-9b9d-ac6ad3cc44d2', 'raw']] },
    { name: 'scheme is case-insensitive, spaces lenient', header: 'token   ZXhhbXBsZS10b2tlbg== ', tokens: [['example-token', 'base64'], ['ZXhhbXBsZS10b2tlbg==', 'raw']] },
    { name: 'Bearer (the OAuth2 strategy)', header: 'Bearer abc.def', tokens: [['abc.def', 'raw']] },
    { name: 'missing', header: undefined, tokens: [] },
    { name: 'empty', header: 'Token ', tokens: [] },
    { name: 'Basic', header: 'Basic dXNlcjpwdw==', tokens: [] },
    { name: 'two words', header: 'Token a b', tokens: [] },
  ];
  for (const c of cases) {
    assert.deepEqual(
      tokenCandidates(c.header).map((t) => [t.token, t.encoding]),
      c.tokens,
      c.name,
    );
  }
  // Base64 that decodes to bytes outside U+0021–U+007E is only a raw reading.
  assert.deepEqual(tokenCandidates(`Token ${Buffer.from('has space').toString('base64')}`).map((t) => t.encoding), ['raw']);
});

test('credentials tokens: U+0021–U+007E, ≤ 64; generated ones fit; stored as SHA-256', () => {
  assert.equal(isCredentialsToken('ebf3b399-779f-4497-9b9d-ac6ad3cc44d2'), true);
  assert.equal(isCredentialsToken('a'.repeat(64)), true);
  assert.equal(isCredentialsToken('a'.repeat(65)), false);
  assert.equal(isCredentialsToken('with space'), false);
  assert.equal(isCredentialsToken('tab\t'), false);
  assert.equal(isCredentialsToken('é'), false);
  assert.equal(isCredentialsToken(''), false);
  const t = generateToken();
  assert.ok(isCredentialsToken(t) && t.length === 43, t);
  assert.notEqual(generateToken(), t);
  assert.match(hashToken(t), /^[0-9a-f]{64}$/);
});

test('outbound encoding: auto = Base64 for 2.2.1, raw for 2.2 (and older); explicit wins', () => {
  assert.equal(resolveEncoding('auto', '2.2.1'), 'base64');
  assert.equal(resolveEncoding('auto', null), 'base64');
  assert.equal(resolveEncoding('auto', '2.2'), 'raw');
  assert.equal(resolveEncoding('auto', '2.1.1'), 'raw');
  assert.equal(resolveEncoding('raw', '2.2.1'), 'raw');
  assert.equal(resolveEncoding('base64', '2.2'), 'base64');
});

// ── headers ───────────────────────────────────────────────────────────────────────────────────

test('X-Request-ID / X-Correlation-ID: kept when sent, UUIDs generated when absent', () => {
  assert.deepEqual(messageIds({ 'x-request-id': 'r-1', 'x-correlation-id': 'c-1' }), { requestId: 'r-1', correlationId: 'c-1' });
  const fresh = messageIds({});
  assert.match(fresh.requestId, /^[0-9a-f-]{36}$/);
  assert.match(fresh.correlationId, /^[0-9a-f-]{36}$/);
  assert.notEqual(fresh.requestId, fresh.correlationId);
});

test('routing headers: FROM/TO pairs written and read (each pair only when complete)', () => {
  const h = routingHeaders({ from: { countryCode: 'NL', partyId: 'AMP' }, to: { countryCode: 'NL', partyId: 'EXA' } });
  assert.deepEqual(h, { 'ocpi-from-country-code': 'NL', 'ocpi-from-party-id': 'AMP', 'ocpi-to-country-code': 'NL', 'ocpi-to-party-id': 'EXA' });
  assert.deepEqual(readRouting(h), { from: { countryCode: 'NL', partyId: 'AMP' }, to: { countryCode: 'NL', partyId: 'EXA' } });
  assert.deepEqual(readRouting({ 'ocpi-from-party-id': 'AMP' }), {});
});

// ── pagination ────────────────────────────────────────────────────────────────────────────────

test('pagination request: defaults, server maximum caps limit, 2001 for nonsense', () => {
  const policy = { maxLimit: 100 };
  assert.deepEqual(parsePageQuery({}, policy), { offset: 0, limit: 100 });
  assert.deepEqual(parsePageQuery({ limit: '10', offset: '20' }, policy), { offset: 20, limit: 10 });
  // transport_and_format: "Client does a GET to ...?limit=2000 ... X-Limit HTTP header should be set to 100".
  assert.equal(parsePageQuery({ limit: '2000' }, policy).limit, 100);
  assert.equal(parsePageQuery({}, { maxLimit: 100, defaultLimit: 25 }).limit, 25);
  const p = parsePageQuery({ date_from: '2016-01-01T00:00:00Z', date_to: '2016-12-31T23:59:59Z' }, policy);
  assert.equal(p.dateFrom?.toISOString(), '2016-01-01T00:00:00.000Z');
  assert.equal(p.dateTo?.toISOString(), '2016-12-31T23:59:59.000Z');
  for (const q of [{ limit: '0' }, { limit: '-1' }, { offset: '-5' }, { offset: 'x' }, { limit: '1.5' }, { date_from: 'yesterday' }, { date_to: '2016-13-01T00:00:00Z' }]) {
    assert.throws(() => parsePageQuery(q, policy), (e: unknown) => e instanceof OcpiError && e.statusCode === 2001 && e.httpStatus === 200, JSON.stringify(q));
  }
});

test('date_from is inclusive, date_to exclusive (consecutive windows neither overlap nor leave gaps)', () => {
  const at = (s: string) => new Date(s);
  const w = { dateFrom: at('2020-01-01T00:00:00Z'), dateTo: at('2020-01-02T00:00:00Z') };
  assert.equal(inDateRange(at('2020-01-01T00:00:00Z'), w), true, 'date_from itself is in');
  assert.equal(inDateRange(at('2020-01-01T23:59:59.999Z'), w), true);
  assert.equal(inDateRange(at('2020-01-02T00:00:00Z'), w), false, 'date_to itself is out');
  assert.equal(inDateRange(at('2019-12-31T23:59:59.999Z'), w), false);
  const next = { dateFrom: w.dateTo, dateTo: at('2020-01-03T00:00:00Z') };
  assert.equal(inDateRange(at('2020-01-02T00:00:00Z'), next), true, "…and is in the next window, whose date_from is the previous date_to");
  assert.equal(inDateRange(at('1970-01-01T00:00:00Z'), {}), true);
});

test('pageOf: filters, orders oldest first (stable), total counts every match', () => {
  const items = [
    { id: 'c', t: '2020-01-03T00:00:00Z' },
    { id: 'a', t: '2020-01-01T00:00:00Z' },
    { id: 'b', t: '2020-01-02T00:00:00Z' },
    { id: 'b2', t: '2020-01-02T00:00:00Z' },
    { id: 'd', t: '2020-01-04T00:00:00Z' },
  ];
  const lu = (x: { t: string }) => new Date(x.t);
  const r = pageOf(items, { offset: 1, limit: 2, dateFrom: new Date('2020-01-01T00:00:00Z'), dateTo: new Date('2020-01-04T00:00:00Z') }, lu);
  assert.deepEqual(r, { items: [items[2], items[3]], total: 4 });
});

test('pagination headers: Link rel="next" keeps the filters, absent on the last page; X-Total-Count; X-Limit', () => {
  const base = 'https://www.server.com/ocpi/cpo/2.2.1/cdrs/?date_from=2016-01-01T00:00:00Z&date_to=2016-12-31T23:59:59Z';
  const first = pageHeaders({ requestUrl: base, page: { offset: 0, limit: 100 }, returned: 100, total: 250 });
  assert.equal(first['x-total-count'], '250');
  assert.equal(first['x-limit'], '100');
  const next = parseNextLink(first.link);
  const u = new URL(next!);
  assert.deepEqual(
    [u.searchParams.get('offset'), u.searchParams.get('limit'), u.searchParams.get('date_from'), u.searchParams.get('date_to'), u.pathname],
    ['100', '100', '2016-01-01T00:00:00Z', '2016-12-31T23:59:59Z', '/ocpi/cpo/2.2.1/cdrs/'],
  );
  assert.match(first.link!, /^<https:\/\/www\.server\.com\/ocpi\/cpo\/2\.2\.1\/cdrs\/\?[^>]+>; rel="next"$/);
  const last = pageHeaders({ requestUrl: base, page: { offset: 200, limit: 100 }, returned: 50, total: 250 });
  assert.equal(last.link, undefined);
  assert.equal(last['x-limit'], '100', 'X-Limit shows the upper limit, not the number returned');
  assert.equal(pageHeaders({ requestUrl: base, page: { offset: 0, limit: 10 }, returned: 0, total: 0 }).link, undefined);
});

test('Link parsing: rel="next" among several links, quoted or not', () => {
  assert.equal(parseNextLink('<https://a/x?offset=10>; rel="next"'), 'https://a/x?offset=10');
  assert.equal(parseNextLink('<https://a/p>; rel="prev", <https://a/n>; rel=next'), 'https://a/n');
  assert.equal(parseNextLink('<https://a/p>; rel="prev"'), undefined);
  assert.equal(parseNextLink(null), undefined);
  assert.deepEqual(pageQuery({ dateFrom: new Date('2020-01-01T00:00:00Z'), limit: 5 }), { date_from: '2020-01-01T00:00:00Z', limit: '5' });
});

// ── DateTime ──────────────────────────────────────────────────────────────────────────────────

test('DateTime: we emit UTC with Z; the spec examples are valid, offsets are not (strictly)', () => {
  assert.equal(formatDateTime(new Date('2015-06-29T20:39:09Z')), '2015-06-29T20:39:09Z');
  assert.equal(formatDateTime(new Date('2018-01-01T01:08:01.123Z')), '2018-01-01T01:08:01.123Z');
  for (const s of ['2015-06-29T20:39:09Z', '2015-06-29T20:39:09', '2016-12-29T17:45:09.2Z', '2016-12-29T17:45:09.2', '2018-01-01T01:08:01.123Z', '2018-01-01T01:08:01.123']) {
    assert.equal(isOcpiDateTime(s), true, s);
  }
  for (const s of ['2015-06-29T20:39:09+00:00', '2015-06-29 20:39:09Z', '2015-06-29', '2015-02-30T00:00:00Z', '2015-06-29T24:00:00Z', 1435610349]) {
    assert.equal(isOcpiDateTime(s), false, String(s));
  }
});

test('DateTime parsing is lenient: no designator = UTC, offsets converted, fractions truncated to ms', () => {
  const cases: Array<[string, string | undefined]> = [
    ['2015-06-29T20:39:09Z', '2015-06-29T20:39:09.000Z'],
    ['2015-06-29T20:39:09', '2015-06-29T20:39:09.000Z'],
    ['2016-12-29T17:45:09.2Z', '2016-12-29T17:45:09.200Z'],
    ['2018-01-01T01:08:01.123456789Z', '2018-01-01T01:08:01.123Z'],
    ['2015-06-29T22:39:09+02:00', '2015-06-29T20:39:09.000Z'],
    ['2015-06-29T20:39:09-0130', '2015-06-29T22:09:09.000Z'],
    ['2015-06-29t20:39:09z', '2015-06-29T20:39:09.000Z'],
    ['2015-02-29T00:00:00Z', undefined],
    ['not a date', undefined],
    ['', undefined],
  ];
  for (const [input, iso] of cases) assert.equal(parseDateTime(input)?.toISOString(), iso, input);
  assert.equal(parseDateTime(12), undefined);
});

// ── strings ───────────────────────────────────────────────────────────────────────────────────

test('CiString / string lengths and characters; case-insensitive equality; URLs joined with one slash', () => {
  assert.equal(isCiString('EXA', 3), true);
  assert.equal(isCiString('EXAM', 3), false);
  assert.equal(isCiString('ÉXA', 3), false, 'CiString is ASCII');
  assert.equal(isCiString('a\nb', 3), false);
  assert.equal(isOcpiString('Énergie', 10), true, 'string is UTF-8');
  assert.equal(isOcpiString('😀😀', 2), true, 'lengths in characters');
  assert.equal(isOcpiString('a\tb', 10), false);
  assert.equal(ciEquals('nl', 'NL'), true);
  assert.equal(ciEquals('NL', 'BE'), false);
  assert.equal(isPartyId('EXA') && isPartyId('a1b') && !isPartyId('EX') && !isPartyId('EX-'), true);
  assert.equal(isCountryCode('NL') && !isCountryCode('NLD') && !isCountryCode('N1'), true);
  assert.equal(joinUrl('https://x/ocpi/', '/2.2.1', 'chargingprofiles/'), 'https://x/ocpi/2.2.1/chargingprofiles/');
});

// ── versions and credentials, pure ───────────────────────────────────────────────────────────

test('version choice: 2.2.1, else 2.2 (lenient), else none (→ 3002); versions_info_example.json', () => {
  const spec = parseVersions([
    { version: '2.1.1', url: 'https://www.server.com/ocpi/2.1.1' },
    { version: '2.2.1', url: 'https://www.server.com/ocpi/2.2.1' },
  ])!;
  assert.deepEqual(pickVersion(spec), { version: '2.2.1', url: 'https://www.server.com/ocpi/2.2.1' });
  // transport_and_format_version_info_example.json offers 2.1.1 and 2.2.
  assert.deepEqual(pickVersion([{ version: '2.1.1', url: 'https://example.com/ocpi/cpo/2.1.1' }, { version: '2.2', url: 'https://example.com/ocpi/cpo/2.2' }])?.version, '2.2');
  assert.equal(pickVersion([{ version: '2.1.1', url: 'https://a' }]), undefined);
  assert.equal(parseVersions({}), undefined);
  assert.equal(parseVersions([{ version: '2.2.1', url: 'not a url' }]), undefined);
});

test('version details: version_details_example.json; required endpoints (credentials role ignored)', () => {
  const details = parseVersionDetails({
    version: '2.2',
    endpoints: [
      { identifier: 'credentials', role: 'SENDER', url: 'https://example.com/ocpi/2.2/credentials' },
      { identifier: 'locations', role: 'SENDER', url: 'https://example.com/ocpi/cpo/2.2/locations' },
    ],
  })!;
  assert.equal(details.endpoints.length, 2);
  assert.deepEqual(missingEndpoints(details.endpoints, [{ identifier: 'credentials' }]), []);
  assert.deepEqual(missingEndpoints(details.endpoints, [{ identifier: 'credentials', role: 'RECEIVER' }]), [], 'the role of credentials is disregarded');
  assert.deepEqual(missingEndpoints(details.endpoints, [{ identifier: 'locations', role: 'RECEIVER' }]), [{ identifier: 'locations', role: 'RECEIVER' }]);
  assert.deepEqual(missingEndpoints(details.endpoints, [{ identifier: 'sessions' }]), [{ identifier: 'sessions' }]);
  assert.equal(parseVersionDetails({ version: '2.2', endpoints: 'x' }), undefined);
});

test('Credentials: the spec examples parse; what is wrong is a 2001', () => {
  assert.deepEqual(parseCredentials(SPEC_CPO_CREDENTIALS), SPEC_CPO_CREDENTIALS);
  // credentials_example2.json: a combined CPO/eMSP.
  const combined = {
    token: '9e80a9c4-28be-11e9-b210-d663bd873d93',
    url: 'https://ocpi.example.com/versions',
    roles: [
      { role: 'CPO', party_id: 'EXA', country_code: 'NL', business_details: { name: 'Example Operator' } },
      { role: 'EMSP', party_id: 'EXA', country_code: 'NL', business_details: { name: 'Example Provider' } },
    ],
  };
  assert.equal(parseCredentials(combined).roles.length, 2);
  const bad: Array<[string, unknown]> = [
    ['not an object', []],
    ['no token', { ...SPEC_CPO_CREDENTIALS, token: undefined }],
    ['token with a space', { ...SPEC_CPO_CREDENTIALS, token: 'a b' }],
    ['no url', { ...SPEC_CPO_CREDENTIALS, url: 'versions' }],
    ['no roles', { ...SPEC_CPO_CREDENTIALS, roles: [] }],
    ['party_id too long', { ...SPEC_CPO_CREDENTIALS, roles: [{ ...SPEC_CPO_CREDENTIALS.roles[0], party_id: 'EXAM' }] }],
    ['no business name', { ...SPEC_CPO_CREDENTIALS, roles: [{ ...SPEC_CPO_CREDENTIALS.roles[0], business_details: {} }] }],
  ];
  for (const [name, body] of bad) assert.throws(() => parseCredentials(body), (e: unknown) => e instanceof OcpiError && e.statusCode === 2001, name);
  const ours = credentialsOf({ role: 'CPO', countryCode: 'NL', partyId: 'AMP', businessDetails: { name: 'Ampline CPO' } }, 'https://cpo/ocpi/versions', 'tok');
  assert.deepEqual(ours, { token: 'tok', url: 'https://cpo/ocpi/versions', roles: [{ role: 'CPO', business_details: { name: 'Ampline CPO' }, party_id: 'AMP', country_code: 'NL' }] });
});

// ── the OAuth2 + ApiKey strategy (the Jedlix way) ────────────────────────────────────────────

test('OAuth2 client credentials: Bearer + ApiKey, token cached until expiry, refreshed after a 401', async () => {
  const clock = new ManualClock('2025-01-01T00:00:00Z');
  const asked: string[] = [];
  let n = 0;
  const fakeFetch = (async (url: string | URL | Request, init?: RequestInit) => {
    asked.push(`${String(url)} ${String(init?.body)}`);
    n++;
    return new Response(JSON.stringify({ access_token: `at-${n}`, token_type: 'Bearer', expires_in: 3600 }), { status: 200 });
  }) as typeof fetch;
  const config = parsePartnerAuth({ type: 'oauth2', tokenUrl: 'https://idp/token', clientId: 'cpo', clientSecret: 's3cret', audience: 'api', apiKey: 'k-1' })!;
  const auth = new OAuth2ClientCredentials(config, { clock, fetch: fakeFetch });
  const [h1, h2] = await Promise.all([auth.headers(), auth.headers()]);
  assert.deepEqual(h1, { authorization: 'Bearer at-1', apikey: 'k-1' });
  assert.deepEqual(h2, h1);
  assert.equal(asked.length, 1, 'one token request for concurrent callers');
  assert.match(asked[0]!, /grant_type=client_credentials&client_id=cpo&client_secret=s3cret&audience=api/);
  clock.advance(3600_000 - 31_000);
  assert.equal((await auth.headers()).authorization, 'Bearer at-1');
  clock.advance(2_000);
  assert.equal((await auth.headers()).authorization, 'Bearer at-2', 'refreshed shortly before expiry');
  assert.equal(auth.rejected(), true);
  assert.equal((await auth.headers()).authorization, 'Bearer at-3', 'a 401 drops the cached token');
  assert.throws(() => parsePartnerAuth({ type: 'basic' }), /oauth2/);
  assert.throws(() => parsePartnerAuth({ type: 'oauth2', tokenUrl: 'ftp://x', clientId: 'a', clientSecret: 'b' }), /tokenUrl/);
  assert.equal(parsePartnerAuth(undefined), undefined);
});
