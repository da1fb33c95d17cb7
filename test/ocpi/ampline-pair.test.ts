/**
 * Ampline CPO (the CSMS) and Ampline SCSP registering with each other over real HTTP, in both
 * directions, through their management APIs: token A → B → C, the token A dead afterwards, 405 on a
 * second POST, rotation (PUT) from either side with the old tokens refused, DELETE unregistering (old
 * token 401) and registering again with a new token A.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Side, ocpi, startSide } from './helpers.js';

async function pair(): Promise<{ csms: Side; scsp: Side; stop: () => Promise<void> }> {
  const [csms, scsp] = await Promise.all([startSide('csms'), startSide('scsp')]);
  return { csms, scsp, stop: async () => void (await Promise.all([csms.destroy(), scsp.destroy()])) };
}

/** The token `side` presents to its partner `id` (read from its store: never shown by the API). */
async function tokenOf(side: Side, id: string): Promise<string> {
  const p = await side.ocpi.partners.get(id);
  assert.ok(p?.theirToken, `${side.name} has a token for ${id}`);
  return p.theirToken;
}

for (const [receiverName, senderName] of [
  ['csms', 'scsp'],
  ['scsp', 'csms'],
] as const) {
  test(`${senderName} registers with ${receiverName}: A → B → C, then 405, rotation both ways, DELETE, re-registration`, async () => {
    const sides = await pair();
    const receiver = sides[receiverName];
    const sender = sides[senderName];
    try {
      // Out of band: the receiver's operator issues token A for the sender.
      const issued = await receiver.admin('POST', '/api/v1/ocpi/partners', { id: 'peer' });
      assert.equal(issued.status, 201, JSON.stringify(issued.body));
      const { tokenA, versionsUrl } = issued.body;
      assert.equal(versionsUrl, `${receiver.url}/ocpi/versions`);
      assert.deepEqual(issued.body.partner.inboundToken.kind, 'A');

      const reg = await sender.admin('POST', '/api/v1/ocpi/registrations', { id: 'peer', versionsUrl, token: tokenA });
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      const expectRole = receiverName === 'csms' ? { role: 'CPO', party_id: 'AMP', country_code: 'NL', business_details: { name: 'Ampline CPO' } } : { role: 'SCSP', party_id: 'AMS', country_code: 'NL', business_details: { name: 'Ampline SCSP' } };
      assert.equal(reg.body.state, 'registered');
      assert.equal(reg.body.version, '2.2.1');
      assert.deepEqual(reg.body.roles, [expectRole]);
      // The receiver's functional modules: a CPO sends sessions and receives profiles, an SCSP the opposite.
      const [sessionsRole, profilesRole] = receiverName === 'csms' ? ['SENDER', 'RECEIVER'] : ['RECEIVER', 'SENDER'];
      assert.deepEqual(reg.body.endpoints, [
        { identifier: 'credentials', role: 'SENDER', url: `${receiver.url}/ocpi/2.2.1/credentials` },
        { identifier: 'sessions', role: sessionsRole, url: `${receiver.url}/ocpi/2.2.1/sessions` },
        { identifier: 'chargingprofiles', role: profilesRole, url: `${receiver.url}/ocpi/2.2.1/chargingprofiles` },
      ]);
      assert.equal(reg.body.name, expectRole.business_details.name);
      assert.equal(reg.body.inboundToken.kind, 'B');
      assert.equal(reg.body.outboundToken, '***');

      const seen = await receiver.admin('GET', '/api/v1/ocpi/partners/peer');
      assert.equal(seen.body.state, 'registered');
      assert.equal(seen.body.inboundToken.kind, 'C');
      assert.equal(seen.body.versionsUrl, `${sender.url}/ocpi/versions`);
      assert.equal(seen.body.roles[0].role, senderName === 'csms' ? 'CPO' : 'SCSP');
      // Tokens are never shown by the management API.
      const listed = await receiver.admin('GET', '/api/v1/ocpi/partners');
      assert.ok(!JSON.stringify(listed.body).includes(tokenA));
      assert.ok(!JSON.stringify(listed.body).includes(await tokenOf(receiver, 'peer')));

      // A is dead; B (receiver → sender) and C (sender → receiver) work.
      assert.equal((await ocpi(versionsUrl, { token: tokenA })).status, 401);
      const c = await tokenOf(sender, 'peer');
      const b = await tokenOf(receiver, 'peer');
      assert.equal((await ocpi(`${receiver.url}/ocpi/2.2.1/credentials`, { token: c })).body.data.token, c);
      assert.equal((await ocpi(`${sender.url}/ocpi/2.2.1/credentials`, { token: b })).status, 200);

      // A second POST → 405.
      const again = await ocpi(`${receiver.url}/ocpi/2.2.1/credentials`, { method: 'POST', token: c, body: { token: 'x', url: `${sender.url}/ocpi/versions`, roles: [] } });
      assert.equal(again.status, 405);
      assert.equal(again.body.status_code, 2000);
      assert.equal((await sender.admin('POST', '/api/v1/ocpi/registrations', { id: 'peer', versionsUrl, token: tokenA })).status, 409);

      // The sender rotates (PUT): new tokens both ways; the old ones are refused.
      const rot = await sender.admin('POST', '/api/v1/ocpi/partners/peer/rotate');
      assert.equal(rot.status, 200, JSON.stringify(rot.body));
      assert.equal(rot.body.rotating, false);
      const c2 = await tokenOf(sender, 'peer');
      const b2 = await tokenOf(receiver, 'peer');
      assert.notEqual(c2, c);
      assert.notEqual(b2, b);
      assert.equal((await ocpi(`${receiver.url}/ocpi/2.2.1/credentials`, { token: c })).status, 401);
      assert.equal((await ocpi(`${sender.url}/ocpi/2.2.1/credentials`, { token: b })).status, 401);
      assert.equal((await ocpi(`${receiver.url}/ocpi/2.2.1/credentials`, { token: c2 })).status, 200);
      assert.equal((await ocpi(`${sender.url}/ocpi/2.2.1/credentials`, { token: b2 })).status, 200);

      // The receiver rotates too (credentials are symmetric).
      const rot2 = await receiver.admin('POST', '/api/v1/ocpi/partners/peer/rotate');
      assert.equal(rot2.status, 200, JSON.stringify(rot2.body));
      const c3 = await tokenOf(sender, 'peer');
      const b3 = await tokenOf(receiver, 'peer');
      assert.equal((await ocpi(`${receiver.url}/ocpi/2.2.1/credentials`, { token: c2 })).status, 401);
      assert.equal((await ocpi(`${sender.url}/ocpi/2.2.1/credentials`, { token: b2 })).status, 401);
      assert.equal((await ocpi(`${receiver.url}/ocpi/2.2.1/credentials`, { token: c3 })).status, 200);
      assert.equal((await ocpi(`${sender.url}/ocpi/2.2.1/credentials`, { token: b3 })).status, 200);

      // The sender unregisters: DELETE at the receiver, forgotten locally; both old tokens refused.
      const del = await sender.admin('DELETE', '/api/v1/ocpi/partners/peer');
      assert.deepEqual(del.body, { id: 'peer', peerInformed: true });
      assert.equal((await sender.admin('GET', '/api/v1/ocpi/partners/peer')).status, 404);
      const after = await receiver.admin('GET', '/api/v1/ocpi/partners/peer');
      assert.equal(after.body.state, 'unregistered');
      assert.equal(after.body.inboundToken, null);
      assert.equal(after.body.outboundToken, null);
      assert.equal((await ocpi(`${receiver.url}/ocpi/2.2.1/credentials`, { token: c3 })).status, 401);
      assert.equal((await ocpi(`${sender.url}/ocpi/2.2.1/credentials`, { token: b3 })).status, 401);

      // A new token A, and the sender registers again.
      const reissued = await receiver.admin('POST', '/api/v1/ocpi/partners/peer/token-a');
      assert.equal(reissued.status, 200);
      assert.notEqual(reissued.body.tokenA, tokenA);
      const reg2 = await sender.admin('POST', '/api/v1/ocpi/registrations', { id: 'peer', versionsUrl, token: reissued.body.tokenA });
      assert.equal(reg2.status, 201, JSON.stringify(reg2.body));
      assert.equal((await receiver.admin('GET', '/api/v1/ocpi/partners/peer')).body.state, 'registered');
      assert.equal((await receiver.admin('POST', '/api/v1/ocpi/partners/peer/token-a')).status, 409, 'no token A while registered');
    } finally {
      await sides.stop();
    }
  });
}

test('both roles at once: the CSMS and the SCSP each registered with the other (two partnerships)', async () => {
  const { csms, scsp, stop } = await pair();
  try {
    const a1 = await csms.admin('POST', '/api/v1/ocpi/partners', { id: 'scsp-in', name: 'SCSP (registered with us)' });
    assert.equal((await scsp.admin('POST', '/api/v1/ocpi/registrations', { id: 'cpo-out', versionsUrl: a1.body.versionsUrl, token: a1.body.tokenA })).status, 201);
    const a2 = await scsp.admin('POST', '/api/v1/ocpi/partners', { id: 'cpo-in' });
    assert.equal((await csms.admin('POST', '/api/v1/ocpi/registrations', { id: 'scsp-out', versionsUrl: a2.body.versionsUrl, token: a2.body.tokenA })).status, 201);
    const csmsList = await csms.admin('GET', '/api/v1/ocpi/partners');
    assert.deepEqual(
      csmsList.body.data.map((p: { id: string; state: string; name: string }) => [p.id, p.state, p.name]),
      [
        ['scsp-in', 'registered', 'SCSP (registered with us)'],
        ['scsp-out', 'registered', 'Ampline SCSP'],
      ],
    );
    assert.equal(csmsList.body.total, 2);
    const scspList = await scsp.admin('GET', '/api/v1/ocpi/partners');
    assert.deepEqual(scspList.body.data.map((p: { id: string; state: string }) => [p.id, p.state]), [['cpo-in', 'registered'], ['cpo-out', 'registered']]);
  } finally {
    await stop();
  }
});
