/**
 * The OpenAPI document at /docs/openapi.json: a valid OpenAPI 3.1 document (checked by an independent
 * parser), every `$ref` resolves, every /api/v1 route Fastify serves is documented (and nothing that is
 * not served), the REST schemas are the very objects Fastify validates with, and the OCPP payload
 * components are the OCA schemas validatePayload uses. Plus the Swagger UI page and its assets.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { validate } from '@readme/openapi-parser';
import { startTestCsms, type TestCsms } from './helpers/csms.js';
import { ALL_CSMS_ACTIONS, CSMS_ACTIONS } from '../src/api/v1/actions.js';
import { schemaOf } from '../src/ocpp/schemas.js';
import { NEUTRAL_COMMANDS } from '../src/api/v1/commands-neutral.js';
import { collectRefs } from '../src/api/v1/openapi.js';
import { API_ERRORS } from '../src/api/errors.js';

let csms: TestCsms;
let doc: any;

before(async () => {
  csms = await startTestCsms();
  const res = await fetch(csms.url + '/docs/openapi.json');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^application\/json/);
  doc = await res.json();
});

after(async () => {
  await csms.destroy();
});

function resolvePointer(root: any, ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `local ref expected: ${ref}`);
  let node = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

test('the document is valid OpenAPI 3.1 (independent parser) and served without a key', async () => {
  assert.equal(doc.openapi, '3.1.0');
  const result = await validate(structuredClone(doc));
  assert.ok(result.valid, JSON.stringify(result).slice(0, 2000));
});

test('every $ref resolves; no OCA-internal refs, $schema or $id left', () => {
  const refs = collectRefs(doc);
  assert.ok(refs.size > 100);
  for (const ref of refs) assert.notEqual(resolvePointer(doc, ref), undefined, `unresolved ${ref}`);
  const text = JSON.stringify(doc);
  assert.ok(!text.includes('#/definitions/'));
  assert.ok(!text.includes('"$schema"') && !text.includes('"$id"'));
  // No component is left unused (the OCA definitions are pulled in only as needed).
  const used = new Set([...refs].map((r) => r.replace('#/components/schemas/', '')));
  const unused = Object.keys(doc.components.schemas).filter((n) => !used.has(n) && !/^ocpp(16|201)\.\w+(Request|Response)$/.test(n));
  assert.deepEqual(unused, []);
});

/** Fastify's route tree (`printRoutes({commonPrefix: false})`) flattened to `METHOD /path` lines. */
function servedRoutes(): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of csms.http.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│├└─ ]*)(\S.*?) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + m[2]!;
    stack[depth] = path;
    for (const method of m[3]!.split(', ')) if (method !== 'HEAD') out.push(`${method} ${path}`);
  }
  return out;
}

test('documents exactly the /api/v1 routes Fastify serves', () => {
  const documented: string[] = [];
  for (const [path, ops] of Object.entries<any>(doc.paths)) for (const method of Object.keys(ops)) documented.push(`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`);
  const served = servedRoutes().filter((r) => r.includes(' /api/v1/') && !r.endsWith('/api/v1/ocpp/charger-connect'));
  const generic = 'POST /api/v1/stations/:id/commands/:action';
  assert.ok(served.includes(generic));
  // Served ⊆ documented (the parametric command route is documented once per action instead).
  assert.deepEqual(served.filter((r) => r !== generic && !documented.includes(r)), []);
  // Documented ⊆ served (per-action command paths are served by the parametric route).
  const perAction = documented.filter((r) => !served.includes(r));
  assert.deepEqual(perAction.map((r) => r.replace('POST /api/v1/stations/:id/commands/', '')).sort(), [...ALL_CSMS_ACTIONS].sort());
  const commandNames = documented.filter((r) => r.startsWith('POST /api/v1/stations/:id/commands/')).map((r) => r.split('/').pop());
  assert.deepEqual(commandNames.sort(), [...ALL_CSMS_ACTIONS, ...NEUTRAL_COMMANDS.map((c) => c.name)].sort());
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      assert.ok(op.operationId && op.summary && op.responses['401'] && op.responses['403'] && op['x-required-scope'], `${method} ${path}`);
    }
  }
  // Error responses name catalogue codes of exactly that status.
  for (const ops of Object.values<any>(doc.paths)) {
    for (const op of Object.values<any>(ops)) {
      for (const [status, r] of Object.entries<any>(op.responses)) {
        if (Number(status) < 400) continue;
        const code = r.content['application/json'].example.error;
        assert.equal(API_ERRORS[code as keyof typeof API_ERRORS], Number(status), `${op.operationId} ${status} ${code}`);
      }
    }
  }
  const ids = Object.values<any>(doc.paths).flatMap((ops) => Object.values<any>(ops).map((op) => op.operationId));
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
});

test('generic command bodies document the OCA schemas of each version; components equal the validating schemas', () => {
  const reset = doc.paths['/api/v1/stations/{id}/commands/Reset'].post;
  assert.deepEqual(reset.requestBody.content['application/json'].schema.properties.payload.oneOf, [
    { $ref: '#/components/schemas/ocpp201.ResetRequest' },
    { $ref: '#/components/schemas/ocpp16.ResetRequest' },
  ]);
  const gv = doc.paths['/api/v1/stations/{id}/commands/GetVariables'].post;
  assert.equal(gv.requestBody.content['application/json'].schema.properties.payload.$ref, '#/components/schemas/ocpp201.GetVariablesRequest');
  const gc = doc.paths['/api/v1/stations/{id}/commands/GetConfiguration'].post;
  assert.equal(gc.requestBody.content['application/json'].schema.properties.payload.$ref, '#/components/schemas/ocpp16.GetConfigurationRequest');

  // The component is the OCA schema (definitions hoisted, refs rewritten), nothing else changed.
  const unref = (node: unknown, tag: string): unknown => JSON.parse(JSON.stringify(node).replaceAll(`#/components/schemas/${tag}.`, '#/definitions/'));
  for (const [tag, protocol] of [['ocpp16', 'ocpp1.6'], ['ocpp201', 'ocpp2.0.1']] as const) {
    for (const action of CSMS_ACTIONS[protocol]) {
      for (const dir of ['Request', 'Response']) {
        const { definitions, ...oca } = schemaOf(protocol, `${action}${dir}`) as any;
        assert.deepEqual(unref(doc.components.schemas[`${tag}.${action}${dir}`], tag), oca, `${tag}.${action}${dir}`);
        for (const r of collectRefs(oca)) {
          const name = r.replace('#/definitions/', '');
          assert.deepEqual(unref(doc.components.schemas[`${tag}.${name}`], tag), definitions[name], `${tag}.${name}`);
        }
      }
    }
  }
});

test('REST parameters and bodies in the document are the schemas Fastify validates with', () => {
  const list = doc.paths['/api/v1/stations'].get;
  const limit = list.parameters.find((p: any) => p.name === 'limit');
  assert.deepEqual(limit, { name: 'limit', in: 'query', required: false, description: 'Page size, 1–500.', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } });
  const createToken = doc.paths['/api/v1/id-tokens'].post.requestBody;
  assert.equal(createToken.required, true);
  assert.equal(createToken.content['application/json'].schema.additionalProperties, false);
  assert.deepEqual(createToken.content['application/json'].schema.required, ['idToken', 'status']);
  assert.ok(createToken.content['application/json'].schema.properties.type.enum.includes('eMAID'), 'IdTokenEnumType from the OCA schema');
  const neutral = doc.paths['/api/v1/stations/{id}/commands/trigger-message'].post.requestBody.content['application/json'].schema;
  assert.ok(neutral.properties.message.enum.includes('SignChargingStationCertificate') && neutral.properties.message.enum.includes('DiagnosticsStatusNotification'));
  assert.equal(doc.paths['/api/v1/stations/{id}/commands/clear-cache'].post.requestBody.required, false);
  assert.deepEqual(doc.components.securitySchemes.apiKeyHeader, { type: 'apiKey', in: 'header', name: 'X-API-Key' });
  assert.match(doc.paths['/api/v1/stations/{id}/charging-profiles'].get.description, /shadow of the station's installed profiles/);
});

test('smart charging: every route documented with its scope, body, answers and the 422 ProfileRejected error', () => {
  const ops: Array<[string, string, string]> = [
    ['get', '/api/v1/stations/{id}/charging-profiles', 'read'],
    ['post', '/api/v1/stations/{id}/charging-profiles', 'command'],
    ['delete', '/api/v1/stations/{id}/charging-profiles', 'command'],
    ['get', '/api/v1/stations/{id}/charging-profiles/{profileId}', 'read'],
    ['delete', '/api/v1/stations/{id}/charging-profiles/{profileId}', 'command'],
    ['get', '/api/v1/stations/{id}/composite-schedule', 'read'],
    ['post', '/api/v1/stations/{id}/charging-profiles/report', 'command'],
  ];
  for (const [method, path, scope] of ops) {
    const op = doc.paths[path]?.[method];
    assert.ok(op, `${method} ${path}`);
    assert.equal(op['x-required-scope'], scope, `${method} ${path}`);
    assert.deepEqual(op.tags, ['Smart charging']);
  }
  const set = doc.paths['/api/v1/stations/{id}/charging-profiles'].post;
  assert.equal(set.requestBody.required, true);
  assert.deepEqual(set.requestBody.content['application/json'].schema.oneOf, [
    { $ref: '#/components/schemas/ChargingProfileInput' },
    { $ref: '#/components/schemas/RawOcppChargingProfile' },
  ]);
  assert.equal(set.responses['422'].content['application/json'].example.error, 'ProfileRejected');
  assert.equal(set.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/SetChargingProfileResult');
  assert.ok(doc.components.schemas.Error.properties.violations.items.required.includes('requirement'));
  // The input component is the schema Fastify validates the profile with.
  const input = doc.components.schemas.ChargingProfileInput;
  assert.deepEqual(input.required, ['evseId', 'id', 'stackLevel', 'chargingProfilePurpose', 'chargingProfileKind', 'chargingSchedule']);
  assert.equal(input.properties.validFrom.format, 'date-time');
  const composite = doc.paths['/api/v1/stations/{id}/composite-schedule'].get;
  assert.deepEqual(composite.parameters.filter((p: any) => p.required).map((p: any) => p.name).sort(), ['duration', 'evseId', 'id']);
  assert.equal(doc.paths['/api/v1/stations/{id}/charging-profiles/report'].post.responses['409'].content['application/json'].example.error, 'StationOffline');
  assert.ok(doc.paths['/api/v1/stations/{id}/commands/remote-start'].post.requestBody.content['application/json'].schema.properties.chargingProfile);
});

test('Swagger UI at /docs with its assets; /docs/ redirects', async () => {
  const page = await fetch(csms.url + '/docs');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type')!, /text\/html/);
  assert.ok(page.headers.get('content-security-policy'));
  const html = await page.text();
  for (const asset of ['/docs/assets/swagger-ui.css', '/docs/assets/swagger-ui-bundle.js', '/docs/init.js']) {
    assert.ok(html.includes(asset), asset);
    const r = await fetch(csms.url + asset);
    assert.equal(r.status, 200, asset);
    assert.ok((await r.arrayBuffer()).byteLength > 50, asset);
  }
  assert.match(await (await fetch(csms.url + '/docs/init.js')).text(), /url: '\/docs\/openapi\.json'/);
  assert.equal((await fetch(csms.url + '/docs/assets/..%2Fpackage.json')).status, 404);
  assert.equal((await fetch(csms.url + '/docs/assets/index.html')).status, 404);
  const redirect = await fetch(csms.url + '/docs/', { redirect: 'manual' });
  assert.deepEqual([redirect.status, redirect.headers.get('location')], [301, '/docs']);
});
