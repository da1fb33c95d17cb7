/**
 * Ampline (each role: the CSMS as CPO, the SCSP service as SCSP) against a hand-written foreign peer
 * that follows the OCPI 2.2.1 text literally (test/ocpi/helpers.ts), in both handshake directions, plus
 * every spec-derived case of protocols.md §6 on versions/credentials: the Receiver GETs with B *before*
 * answering, 405 on a second POST (and PUT/DELETE before registering), rotation by PUT, DELETE → the old
 * token 401, 3001 / 3002 / 3003, 2001 and 400 bodies, X-Request-ID echoed, 2.2 peers with raw tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Side, ForeignPeer, SPEC_CPO_CREDENTIALS, SPEC_SCSP_ROLES, b64, deadUrl, ocpi, startSide } from './helpers.js';

async function withSide(name: 'csms' | 'scsp', work: (side: Side) => Promise<void>): Promise<void> {
  const side = await startSide(name);
  try {
    await work(side);
  } finally {
    await side.destroy();
  }
}

async function withPeer(opts: ConstructorParameters<typeof ForeignPeer>[0], work: (peer: ForeignPeer) => Promise<void>): Promise<void> {
  const peer = await new ForeignPeer(opts).start();
  try {
    await work(peer);
  } finally {
    await peer.stop();
  }
}

/** The foreign peer plays the other role of the pair: a CPO for the SCSP, an SCSP for the CSMS. */
const peerRoles = (side: Side) => (side.name === 'csms' ? SPEC_SCSP_ROLES : SPEC_CPO_CREDENTIALS.roles);

for (const sideName of ['csms', 'scsp'] as const) {
  test(`${sideName} as Receiver: the foreign peer registers (A → B → C); Ampline GETs with B before answering; 405; PUT; DELETE`, async () => {
    await withSide(sideName, async (side) => {
      await withPeer({ roles: peerRoles(side) }, async (peer) => {
        const issued = await side.admin('POST', '/api/v1/ocpi/partners', { id: 'foreign' });
        const { tokenA, versionsUrl } = issued.body;
        const { post, tokenB } = await peer.registerWith(versionsUrl, tokenA);
        assert.equal(post.status, 200);
        assert.equal(post.body.status_code, 1000);
        const tokenC = post.body.data.token;
        assert.notEqual(tokenC, tokenA);
        assert.equal(post.body.data.url, versionsUrl);
        assert.equal(post.body.data.roles[0].role, side.name === 'csms' ? 'CPO' : 'SCSP');
        // Before it answered the POST, Ampline fetched our versions and details with token B, Base64-encoded.
        const backCalls = peer.log.filter((r) => r.token === tokenB);
        assert.deepEqual(
          backCalls.map((r) => `${r.method} ${r.path}`),
          ['GET /ocpi/versions', 'GET /ocpi/2.2.1'],
        );
        for (const r of backCalls) {
          assert.equal(r.authorization, `Token ${b64(tokenB)}`);
          assert.match(r.requestId ?? '', /^[0-9a-f-]{36}$/, 'Ampline sends an X-Request-ID');
        }
        const seen = (await side.admin('GET', '/api/v1/ocpi/partners/foreign')).body;
        assert.equal(seen.state, 'registered');
        assert.equal(seen.version, '2.2.1');
        assert.equal(seen.name, peerRoles(side)[0]!.business_details.name);
        assert.deepEqual(seen.roles, peerRoles(side));
        assert.deepEqual(seen.endpoints.map((e: { identifier: string }) => e.identifier), ['credentials', 'locations']);

        // Token A is dead; C works and is echoed by GET credentials.
        assert.equal((await peer.call(versionsUrl, 'GET', undefined, tokenA)).status, 401);
        const get = await peer.call(peer.credentialsUrl(), 'GET');
        assert.deepEqual([get.status, get.body.data.token], [200, tokenC]);
        // X-Request-ID / X-Correlation-ID repeated in the response.
        const withIds = await ocpi(peer.credentialsUrl(), { token: tokenC, headers: { 'X-Request-ID': 'peer-req-1', 'X-Correlation-ID': 'peer-corr-1' } });
        assert.deepEqual([withIds.headers.get('x-request-id'), withIds.headers.get('x-correlation-id')], ['peer-req-1', 'peer-corr-1']);

        // "This method MUST return a HTTP status code 405: method not allowed if the client has already been registered before."
        const again = await peer.call(peer.credentialsUrl(), 'POST', { token: 'another-b', url: peer.versionsUrl, roles: peer.roles() });
        assert.equal(again.status, 405);
        assert.equal(again.body.status_code, 2000);
        assert.ok(typeof again.body.timestamp === 'string');

        // PUT: a new token for Ampline; Ampline fetches our endpoints again (even for the same version) with it.
        peer.log.length = 0;
        const newB = 'rotated-token-for-ampline';
        peer.accepted.set(newB, 'full');
        const put = await peer.call(peer.credentialsUrl(), 'PUT', { token: newB, url: peer.versionsUrl, roles: peer.roles() });
        assert.deepEqual([put.status, put.body.status_code], [200, 1000]);
        const tokenC2 = put.body.data.token;
        assert.notEqual(tokenC2, tokenC);
        assert.deepEqual(
          peer.log.filter((r) => r.token === newB).map((r) => r.path),
          ['/ocpi/versions', '/ocpi/2.2.1'],
        );
        assert.equal((await peer.call(peer.credentialsUrl(), 'GET', undefined, tokenC)).status, 401, 'the old token C is refused');
        peer.tokenForAmpline = tokenC2;
        assert.equal((await peer.call(peer.credentialsUrl(), 'GET')).status, 200);

        // DELETE: unregistered; the token is refused from now on.
        const del = await peer.call(peer.credentialsUrl(), 'DELETE');
        assert.deepEqual([del.status, del.body.status_code, 'data' in del.body], [200, 1000, false]);
        assert.equal((await peer.call(peer.credentialsUrl(), 'GET')).status, 401);
        assert.equal((await peer.call(versionsUrl, 'GET')).status, 401);
        assert.equal((await side.admin('GET', '/api/v1/ocpi/partners/foreign')).body.state, 'unregistered');

        // PUT and DELETE before registering: 405 (with a fresh token A, which reaches credentials).
        const a2 = (await side.admin('POST', '/api/v1/ocpi/partners/foreign/token-a')).body.tokenA;
        const putA = await peer.call(peer.credentialsUrl(), 'PUT', { token: newB, url: peer.versionsUrl, roles: peer.roles() }, a2);
        assert.deepEqual([putA.status, putA.body.status_code], [405, 2000]);
        assert.equal((await peer.call(peer.credentialsUrl(), 'DELETE', undefined, a2)).status, 405);
      });
    });
  });

  test(`${sideName} as Sender: Ampline registers with the foreign peer, which GETs back with B before answering; rotation; DELETE`, async () => {
    await withSide(sideName, async (side) => {
      await withPeer({ roles: peerRoles(side) }, async (peer) => {
        const tokenA = peer.issueTokenA();
        const reg = await side.admin('POST', '/api/v1/ocpi/registrations', { versionsUrl: peer.versionsUrl, token: tokenA });
        assert.equal(reg.status, 201, JSON.stringify(reg.body));
        assert.match(reg.body.id, /^ocpi-[a-z0-9]{8}$/, 'a generated id');
        assert.equal(reg.body.name, peerRoles(side)[0]!.business_details.name);
        assert.equal(reg.body.version, '2.2.1');
        // Ampline read our versions/details with A, then POSTed with A — all Base64 (2.2.1).
        const withA = peer.log.filter((r) => r.token === tokenA).map((r) => `${r.method} ${r.path}`);
        assert.deepEqual(withA, ['GET /ocpi/versions', 'GET /ocpi/2.2.1', 'POST /ocpi/2.2.1/credentials']);
        for (const r of peer.log.filter((x) => x.token === tokenA)) assert.equal(r.authorization, `Token ${b64(tokenA)}`);
        // Our GETs back with Ampline's B succeeded while Ampline's POST was open.
        assert.deepEqual(peer.events, ['POST received', 'GET versions with B → 200', 'GET details with B → 200', 'POST answered']);
        assert.equal((await peer.call(peer.amplineVersionsUrl!, 'GET')).status, 200, 'B keeps working for us');

        // Ampline now uses C: rotate → PUT with C, and the old B is refused afterwards.
        const tokenC = [...peer.accepted.keys()][0]!;
        const oldB = peer.tokenForAmpline!;
        peer.log.length = 0;
        const rot = await side.admin('POST', `/api/v1/ocpi/partners/${reg.body.id}/rotate`);
        assert.equal(rot.status, 200, JSON.stringify(rot.body));
        assert.deepEqual(peer.log.filter((r) => r.method === 'PUT').map((r) => r.token), [tokenC]);
        assert.notEqual(peer.tokenForAmpline, oldB);
        assert.equal((await peer.call(peer.amplineVersionsUrl!, 'GET', undefined, oldB)).status, 401);
        assert.equal((await peer.call(peer.amplineVersionsUrl!, 'GET')).status, 200);

        const del = await side.admin('DELETE', `/api/v1/ocpi/partners/${reg.body.id}`);
        assert.deepEqual(del.body, { id: reg.body.id, peerInformed: true });
        assert.ok(peer.events.includes('DELETE'));
        assert.equal((await peer.call(peer.amplineVersionsUrl!, 'GET')).status, 401, 'Ampline forgot the partner: its token is refused');
      });
    });
  });

  test(`${sideName} as Receiver: 3001 (cannot reach the peer), 3002 (no mutual version), 3003 (endpoints missing), 2001, 400 — all with token A still usable`, async () => {
    await withSide(sideName, async (side) => {
      const { tokenA, versionsUrl } = (await side.admin('POST', '/api/v1/ocpi/partners', { id: 'foreign' })).body;
      const credentialsUrl = versionsUrl.replace(/versions$/, '2.2.1/credentials');
      const post = (body: unknown) => ocpi(credentialsUrl, { method: 'POST', token: tokenA, body });

      const unreachable = await post({ ...SPEC_CPO_CREDENTIALS, url: await deadUrl() });
      assert.deepEqual([unreachable.status, unreachable.body.status_code], [200, 3001]);

      await withPeer({ versions: (base) => [{ version: '2.1.1', url: `${base}/ocpi/2.1.1` }] }, async (peer) => {
        peer.accepted.set(SPEC_CPO_CREDENTIALS.token, 'full');
        const r = await post({ ...SPEC_CPO_CREDENTIALS, url: peer.versionsUrl });
        assert.deepEqual([r.status, r.body.status_code], [200, 3002]);
      });
      await withPeer({ endpoints: (base, v) => [{ identifier: 'locations', role: 'SENDER', url: `${base}/ocpi/cpo/${v}/locations` }] }, async (peer) => {
        peer.accepted.set(SPEC_CPO_CREDENTIALS.token, 'full');
        const r = await post({ ...SPEC_CPO_CREDENTIALS, url: peer.versionsUrl });
        assert.deepEqual([r.status, r.body.status_code], [200, 3003]);
        assert.match(r.body.status_message, /credentials/);
      });
      await withPeer({}, async (peer) => {
        // The peer does not know the token it gave us: its versions endpoint answers 401 → 3001.
        const r = await post({ ...SPEC_CPO_CREDENTIALS, url: peer.versionsUrl });
        assert.deepEqual([r.status, r.body.status_code], [200, 3001]);
      });

      const invalid = await post({ token: 'b', url: 'https://example.com/ocpi/versions' });
      assert.deepEqual([invalid.status, invalid.body.status_code], [200, 2001]);
      const notJson = await ocpi(credentialsUrl, { method: 'POST', token: tokenA, text: '{"token":' });
      assert.deepEqual([notJson.status, notJson.body.status_code], [400, 2000]);

      // None of that registered anything: token A still works, and a good POST then succeeds.
      assert.equal((await side.admin('GET', '/api/v1/ocpi/partners/foreign')).body.state, 'pending');
      await withPeer({ roles: peerRoles(side) }, async (peer) => {
        const { post: ok } = await peer.registerWith(versionsUrl, tokenA);
        assert.deepEqual([ok.status, ok.body.status_code], [200, 1000]);
      });
    });
  });

  test(`${sideName} as Sender: failures are 502 OcpiRegistrationFailed with reason and OCPI code; nothing kept`, async () => {
    await withSide(sideName, async (side) => {
      const register = (versionsUrl: string, token: string, id = 'foreign') => side.admin('POST', '/api/v1/ocpi/registrations', { id, versionsUrl, token });
      const expectFailure = async (r: Awaited<ReturnType<typeof register>>, reason: string, statusCode: number) => {
        assert.equal(r.status, 502, JSON.stringify(r.body));
        assert.equal(r.body.error, 'OcpiRegistrationFailed');
        assert.equal(r.body.reason, reason);
        assert.equal(r.body.statusCode, statusCode);
        assert.equal((await side.admin('GET', '/api/v1/ocpi/partners/foreign')).status, 404, 'nothing kept');
      };
      await expectFailure(await register(await deadUrl(), 'some-token-a'), 'unreachable', 3001);
      await withPeer({}, async (peer) => {
        const r = await register(peer.versionsUrl, 'not-a-token-the-peer-issued');
        await expectFailure(r, 'unreachable', 3001);
        assert.equal(r.body.peerHttpStatus, 401);
        assert.equal(peer.log.length, 2, 'Base64 first, then raw (2.2-style), then it gives up');
        assert.deepEqual(peer.log.map((x) => x.authorization), ['Token ' + b64('not-a-token-the-peer-issued'), 'Token not-a-token-the-peer-issued']);
      });
      await withPeer({ versions: (base) => [{ version: '2.1.1', url: `${base}/ocpi/2.1.1` }] }, async (peer) => {
        await expectFailure(await register(peer.versionsUrl, peer.issueTokenA()), 'unsupported-version', 3002);
      });
      await withPeer({ endpoints: (base, v) => [{ identifier: 'locations', role: 'SENDER', url: `${base}/ocpi/cpo/${v}/locations` }] }, async (peer) => {
        await expectFailure(await register(peer.versionsUrl, peer.issueTokenA()), 'no-matching-endpoints', 3003);
        // "the Sender … is expected NOT to send the POST request".
        assert.ok(!peer.log.some((r) => r.method === 'POST'));
      });
      await withPeer({ credentialsAnswer: () => ({ http: 405, body: { status_code: 2000, status_message: 'Already registered', timestamp: '2024-01-01T00:00:00Z' } }) }, async (peer) => {
        const r = await register(peer.versionsUrl, peer.issueTokenA());
        await expectFailure(r, 'refused', 2000);
        assert.equal(r.body.peerHttpStatus, 405);
      });
      await withPeer({ credentialsAnswer: () => ({ http: 200, body: { status_code: 3001, status_message: 'cannot reach you', timestamp: '2024-01-01T00:00:00Z' } }) }, async (peer) => {
        await expectFailure(await register(peer.versionsUrl, peer.issueTokenA()), 'refused', 3001);
      });
      await withPeer({ credentialsAnswer: () => ({ http: 200, body: { data: { token: 'c' }, status_code: 1000, timestamp: '2024-01-01T00:00:00Z' } }) }, async (peer) => {
        await expectFailure(await register(peer.versionsUrl, peer.issueTokenA()), 'invalid-answer', 3001);
      });
      // Input errors.
      const bad = await side.admin('POST', '/api/v1/ocpi/registrations', { versionsUrl: 'ftp://x' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error, 'BadRequest');
      assert.equal((await side.admin('POST', '/api/v1/ocpi/partners', { id: 'has space' })).status, 400);
      assert.equal((await side.admin('POST', '/api/v1/ocpi/partners', { id: 'dup' })).status, 201);
      const dup = await side.admin('POST', '/api/v1/ocpi/partners', { id: 'dup' });
      assert.deepEqual([dup.status, dup.body.error], [409, 'AlreadyExists']);
      assert.deepEqual((await side.admin('POST', '/api/v1/ocpi/partners/nobody/rotate')).body.error, 'UnknownOcpiPartner');
      assert.deepEqual((await side.admin('POST', '/api/v1/ocpi/partners/dup/rotate')).body.error, 'OcpiPartnerState');
    });
  });
}

test('2.2 peers with raw tokens: Ampline finds out by a 401, registers on 2.2 and keeps sending raw; a raw token A is accepted', async () => {
  await withSide('csms', async (side) => {
    // Ampline registers with a strict 2.2 peer (raw only).
    await withPeer({ version: '2.2', encoding: 'raw', roles: SPEC_SCSP_ROLES }, async (peer) => {
      const tokenA = peer.issueTokenA();
      const reg = await side.admin('POST', '/api/v1/ocpi/registrations', { id: 'legacy', versionsUrl: peer.versionsUrl, token: tokenA });
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      assert.deepEqual([reg.body.version, reg.body.tokenEncoding], ['2.2', 'auto']);
      assert.deepEqual(
        peer.log.map((r) => r.authorization),
        [`Token ${b64(tokenA)}`, `Token ${tokenA}`, `Token ${tokenA}`, `Token ${tokenA}`],
        'one refused Base64 try, then raw for versions, details and the POST',
      );
      assert.equal(peer.events[1], 'GET versions with B → 200', 'the peer reached us with a raw token B');
      const tokenC = [...peer.accepted.keys()][0]!;
      peer.log.length = 0;
      assert.equal((await side.admin('POST', '/api/v1/ocpi/partners/legacy/rotate')).status, 200);
      assert.deepEqual(peer.log.filter((r) => r.method === 'PUT').map((r) => r.authorization), [`Token ${tokenC}`], 'raw to a 2.2 peer');
    });
    // A 2.2 peer registers with Ampline sending its token A raw; Ampline calls it back raw first.
    await withPeer({ version: '2.2', encoding: 'raw', roles: SPEC_SCSP_ROLES }, async (peer) => {
      const { tokenA, versionsUrl } = (await side.admin('POST', '/api/v1/ocpi/partners', { id: 'legacy-in' })).body;
      const { post, tokenB } = await peer.registerWith(versionsUrl, tokenA);
      assert.deepEqual([post.status, post.body.status_code], [200, 1000]);
      assert.deepEqual(
        peer.log.filter((r) => r.token === tokenB).map((r) => r.authorization),
        [`Token ${tokenB}`, `Token ${tokenB}`],
      );
      const seen = (await side.admin('GET', '/api/v1/ocpi/partners/legacy-in')).body;
      assert.deepEqual([seen.state, seen.version], ['registered', '2.2']);
      assert.equal((await peer.call(peer.credentialsUrl(), 'GET')).status, 200, 'its raw token C works');
    });
  });
});

test('DELETE with force forgets a partner that cannot be told; without force it is kept (502)', async () => {
  await withSide('scsp', async (side) => {
    const peer = await new ForeignPeer({ roles: SPEC_CPO_CREDENTIALS.roles }).start();
    const reg = await side.admin('POST', '/api/v1/ocpi/registrations', { id: 'gone', versionsUrl: peer.versionsUrl, token: peer.issueTokenA() });
    assert.equal(reg.status, 201);
    await peer.stop();
    const refused = await side.admin('DELETE', '/api/v1/ocpi/partners/gone');
    assert.deepEqual([refused.status, refused.body.error, refused.body.reason], [502, 'OcpiRegistrationFailed', 'unreachable']);
    assert.equal((await side.admin('GET', '/api/v1/ocpi/partners/gone')).body.state, 'registered');
    const forced = await side.admin('DELETE', '/api/v1/ocpi/partners/gone?force=true');
    assert.deepEqual(forced.body, { id: 'gone', peerInformed: false });
    assert.equal((await side.admin('GET', '/api/v1/ocpi/partners/gone')).status, 404);
  });
});

test('the management APIs need their keys; OCPI routes never answer in the /api/v1 error shape', async () => {
  await withSide('csms', async (csms) => {
    assert.equal((await ocpi(`${csms.url}/api/v1/ocpi/partners`)).status, 401);
    const nf = await ocpi(`${csms.url}/ocpi/2.2.1/nothing-here`);
    assert.equal(nf.status, 404);
    assert.deepEqual(Object.keys(nf.body).sort(), ['status_code', 'status_message', 'timestamp']);
  });
  await withSide('scsp', async (scsp) => {
    assert.equal((await ocpi(`${scsp.url}/api/v1/ocpi/partners`)).status, 401);
    assert.equal((await ocpi(`${scsp.url}/api/v1/ocpi/partners`, { headers: { 'x-api-key': 'wrong-key-123' } })).status, 401);
    const nf = await ocpi(`${scsp.url}/ocpi/versions/x`);
    assert.equal(nf.status, 404);
    assert.equal(nf.body.status_code, 2000);
  });
});
