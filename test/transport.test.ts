/**
 * Transport invariants over real sockets (src/ocpp/transport.ts, docs §4.1/§4.2): subprotocol
 * negotiation and refusals, takeover, the two independent call slots, the outbound queue with
 * deadlines, error propagation, and a CALL flood that must not starve other stations.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import ocppRpc from 'ocpp-rpc';
import { startTestCsms, rawClient, type TestCsms, type RawClient } from './helpers/csms.js';
import { BOOT16, BOOT201, rawWs, tryUpgrade, vcall, assertValid, waitFor, sleep, uniqueId } from './helpers/wire.js';
import { CallTimeoutError, ChargerCallError, StationOfflineError } from '../src/ocpp/errors.js';
import { InvalidResponseError, OutboundValidationError } from '../src/ocpp/transport.js';

const GETCONF_CONF = { configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '300' }] };
const GETVARS_REQ = { getVariableData: [{ component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }] };
const GETVARS_CONF = {
  getVariableResult: [{ attributeStatus: 'Accepted', attributeValue: '300', component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }],
};

/** Settles-or-not probe for a promise. */
function track<T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  const promise = p.finally(() => {
    done = true;
  });
  promise.catch(() => undefined);
  return { promise, settled: () => done };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected the call to reject');
}

describe('transport', () => {
  let csms: TestCsms;
  const clients: RawClient[] = [];
  const connect = async (id: string, protocol: 'ocpp1.6' | 'ocpp2.0.1'): Promise<RawClient> => {
    const c = await rawClient(csms, id, protocol);
    clients.push(c);
    await vcall(c, 'BootNotification', protocol === 'ocpp1.6' ? BOOT16 : BOOT201);
    return c;
  };
  const online = async (id: string) =>
    (await csms.db.kysely.selectFrom('stations').select(['online', 'protocol']).where('id', '=', id).executeTakeFirst()) ?? null;

  before(async () => {
    csms = await startTestCsms();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close({ force: true }).catch(() => undefined)));
    await csms.destroy();
  });

  describe('upgrade (TC_088 subprotocol)', () => {
    test('no subprotocol → HTTP 400', async () => {
      const r = await tryUpgrade(`${csms.ocppUrl}/NOPROTO`, []);
      assert.equal(r.kind, 'refused');
      assert.equal(r.kind === 'refused' && r.status, 400);
    });
    test('only an unsupported subprotocol (ocpp1.5) → HTTP 400', async () => {
      const r = await tryUpgrade(`${csms.ocppUrl}/OLDPROTO`, ['ocpp1.5']);
      assert.equal(r.kind === 'refused' && r.status, 400);
    });
    test('wrong path /foo/CP1 → HTTP 404', async () => {
      const r = await tryUpgrade(`${csms.url.replace('http', 'ws')}/foo/CP1`, ['ocpp1.6']);
      assert.equal(r.kind === 'refused' && r.status, 404);
    });
    test('an over-long identity (49 chars) → HTTP 400', async () => {
      const r = await tryUpgrade(`${csms.ocppUrl}/${'X'.repeat(49)}`, ['ocpp1.6']);
      assert.equal(r.kind === 'refused' && r.status, 400);
    });
    test('offering ocpp1.6 and ocpp2.0.1 (either order) → server picks ocpp2.0.1', async () => {
      for (const offer of [
        ['ocpp1.6', 'ocpp2.0.1'],
        ['ocpp2.0.1', 'ocpp1.6'],
        ['ocpp1.5', 'ocpp1.6', 'ocpp2.0.1'],
      ]) {
        const id = uniqueId('BOTH');
        const r = await tryUpgrade(`${csms.ocppUrl}/${id}`, offer);
        assert.equal(r.kind, 'open');
        if (r.kind !== 'open') continue;
        assert.equal(r.protocol, 'ocpp2.0.1', `offer ${offer.join(',')}`);
        await waitFor(() => csms.transport.get(id)?.protocol === 'ocpp2.0.1');
        r.ws.close();
      }
    });
    test('ocpp1.6 alone is accepted, also under /OCPP/', async () => {
      const id = uniqueId('UPPER');
      const r = await tryUpgrade(`${csms.url.replace('http', 'ws')}/OCPP/${id}`, ['ocpp1.6']);
      assert.equal(r.kind === 'open' && r.protocol, 'ocpp1.6');
      if (r.kind === 'open') r.ws.close();
    });
    test('refusals leave the server serving', async () => {
      const c = await connect(uniqueId('AFTER'), 'ocpp1.6');
      await vcall(c, 'Heartbeat', {});
    });
  });

  test('takeover: a reconnect over a still-open socket wins; the old one is closed with 4000', async () => {
    const id = uniqueId('TAKE');
    const c1 = await connect(id, 'ocpp1.6');
    const conn1 = csms.transport.get(id);
    assert.ok(conn1);
    await waitFor(async () => (await online(id))?.online === 1);
    // An outbound call pending on the old connection fails fast when it is replaced.
    c1.handle('GetConfiguration', () => new Promise(() => undefined));
    const pending = track(csms.transport.call(id, 'GetConfiguration', {}, { timeoutMs: 10_000 }));
    await sleep(20);

    const closed1 = new Promise<{ code: number }>((r) => c1.once('close', r));
    const sizeBefore = csms.transport.size;
    const c2 = await connect(id, 'ocpp2.0.1');
    const ev = await closed1;
    assert.equal(ev.code, 4000);
    const t0 = performance.now();
    assert.ok((await rejection(pending.promise)) instanceof StationOfflineError);
    assert.ok(performance.now() - t0 < 1000, 'pending call failed at once');

    const conn2 = csms.transport.get(id);
    assert.ok(conn2 && conn2 !== conn1);
    assert.ok(conn2.epoch > conn1.epoch);
    assert.equal(conn2.protocol, 'ocpp2.0.1');
    assert.equal(csms.transport.size, sizeBefore, 'still one connection for the station');
    await vcall(c2, 'Heartbeat', {});
    await waitFor(async () => (await online(id))?.protocol === 'ocpp2.0.1');
    await sleep(50); // give a stray disconnect handler of the old socket time to (wrongly) run
    assert.deepEqual(await online(id), { online: 1, protocol: 'ocpp2.0.1' });

    // A normal disconnect of the current connection marks the station offline.
    await c2.close();
    await waitFor(async () => (await online(id))?.online === 0, { what: 'offline after close' });
    assert.equal(csms.transport.get(id), undefined);
  });

  test('takeover over a half-open socket (peer stopped reading) does not wait for the old socket', async () => {
    const id = uniqueId('HALF');
    const old = await rawWs(csms.ocppUrl, id, 'ocpp1.6');
    try {
      const boot = await old.call('BootNotification', BOOT16);
      assert.equal(boot[0], 3);
      assertValid('ocpp1.6', 'BootNotification', 'conf', boot[2]);
      // The old peer stops reading: it will never see nor answer the close frame (TCP stays up).
      (old.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const t0 = performance.now();
      const fresh = await connect(id, 'ocpp1.6');
      await vcall(fresh, 'Heartbeat', {});
      assert.ok(performance.now() - t0 < 1000);
      assert.equal(csms.transport.get(id)?.protocol, 'ocpp1.6');
      await waitFor(async () => (await online(id))?.online === 1);
      await sleep(50);
      assert.equal((await online(id))?.online, 1);
    } finally {
      old.ws.terminate();
    }
  });

  describe('two independent slots (citrineos#178/#189)', () => {
    for (const protocol of ['ocpp1.6', 'ocpp2.0.1'] as const) {
      test(`${protocol}: the charger's CALLs are answered at once while our call is pending`, async () => {
        const id = uniqueId('SLOTS');
        const cli = await connect(id, protocol);
        const action = protocol === 'ocpp1.6' ? 'GetConfiguration' : 'GetVariables';
        let received = false;
        cli.handle(action, async () => {
          received = true;
          await sleep(1000);
          return protocol === 'ocpp1.6' ? GETCONF_CONF : GETVARS_CONF;
        });
        const out = track(csms.transport.call(id, action, protocol === 'ocpp1.6' ? {} : GETVARS_REQ));
        await waitFor(() => received, { what: 'charger received our call' });

        const t0 = performance.now();
        const auth = protocol === 'ocpp1.6' ? { idTag: 'SLOT' } : { idToken: { idToken: 'SLOT', type: 'ISO14443' } };
        await vcall(cli, 'Authorize', auth);
        await vcall(cli, 'Heartbeat', {});
        const elapsed = performance.now() - t0;
        assert.ok(elapsed < 500, `inbound calls answered in ${elapsed.toFixed(0)} ms while outbound pending`);
        assert.equal(out.settled(), false, 'our call is still pending');

        const result = await out.promise;
        assertValid(protocol, action, 'conf', result);
        assert.deepEqual(result, protocol === 'ocpp1.6' ? GETCONF_CONF : GETVARS_CONF);
      });
    }
  });

  describe('outbound calls', () => {
    test('go out one at a time, in order', async () => {
      const id = uniqueId('SERIAL');
      const cli = await connect(id, 'ocpp1.6');
      let inFlight = 0;
      let maxInFlight = 0;
      const order: string[] = [];
      cli.handle('GetConfiguration', async ({ params }) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        order.push((params as { key: string[] }).key[0]!);
        await sleep(50);
        inFlight--;
        return GETCONF_CONF;
      });
      const keys = ['A', 'B', 'C', 'D'];
      const results = await Promise.all(keys.map((k) => csms.transport.call(id, 'GetConfiguration', { key: [k] })));
      assert.equal(results.length, 4);
      assert.equal(maxInFlight, 1);
      assert.deepEqual(order, keys);
    });

    test('a queued call whose deadline passes rejects with CallTimeoutError and is never sent', async () => {
      const id = uniqueId('QTIMEOUT');
      const cli = await connect(id, 'ocpp1.6');
      const seen: string[] = [];
      cli.handle('GetConfiguration', async ({ params }) => {
        seen.push((params as { key: string[] }).key[0]!);
        await sleep(600);
        return GETCONF_CONF;
      });
      const first = track(csms.transport.call(id, 'GetConfiguration', { key: ['first'] }));
      const t0 = performance.now();
      const err = await rejection(csms.transport.call(id, 'GetConfiguration', { key: ['queued'] }, { timeoutMs: 150 }));
      const elapsed = performance.now() - t0;
      assert.ok(err instanceof CallTimeoutError, String(err));
      assert.equal((err as CallTimeoutError).phase, 'queued');
      assert.ok(elapsed < 550, `rejected after its own deadline (${elapsed.toFixed(0)} ms), not after the first call`);
      assert.equal(first.settled(), false);
      await first.promise;
      await sleep(50);
      assert.deepEqual(seen, ['first'], 'the expired call was never sent');
    });

    test('an unanswered in-flight call rejects with CallTimeoutError; the slot is freed', async () => {
      const id = uniqueId('FTIMEOUT');
      const cli = await connect(id, 'ocpp2.0.1');
      let calls = 0;
      cli.handle('GetVariables', async () => {
        calls++;
        if (calls === 1) await sleep(500); // answers late: ignored
        return GETVARS_CONF;
      });
      const err = await rejection(csms.transport.call(id, 'GetVariables', GETVARS_REQ, { timeoutMs: 150 }));
      assert.ok(err instanceof CallTimeoutError, String(err));
      assert.equal((err as CallTimeoutError).phase, 'in-flight');
      const ok = await csms.transport.call(id, 'GetVariables', GETVARS_REQ, { timeoutMs: 2000 });
      assertValid('ocpp2.0.1', 'GetVariables', 'conf', ok);
      await sleep(400); // the late answer to the first call arrives and must do no harm
      await vcall(cli, 'Heartbeat', {});
    });

    for (const protocol of ['ocpp1.6', 'ocpp2.0.1'] as const) {
      test(`${protocol}: a CALLERROR from the charger reaches the caller at once as ChargerCallError`, async () => {
        const id = uniqueId('CERR');
        const cli = await connect(id, protocol);
        const action = protocol === 'ocpp1.6' ? 'GetConfiguration' : 'GetVariables';
        cli.handle(action, () => {
          throw ocppRpc.createRPCError('NotSupported', 'not on this box', { hint: 'x' });
        });
        const t0 = performance.now();
        const err = await rejection(csms.transport.call(id, action, protocol === 'ocpp1.6' ? {} : GETVARS_REQ));
        assert.ok(err instanceof ChargerCallError, String(err));
        assert.equal((err as ChargerCallError).code, 'NotSupported');
        assert.equal((err as ChargerCallError).description, 'not on this box');
        assert.ok(performance.now() - t0 < 1000, 'not after a timeout');
      });
    }

    test('a schema-invalid answer from the charger → InvalidResponseError', async () => {
      const id = uniqueId('BADCONF');
      const cli = await connect(id, 'ocpp1.6');
      cli.handle('GetConfiguration', () => ({ configurationKey: 'not-an-array' }));
      const err = await rejection(csms.transport.call(id, 'GetConfiguration', {}));
      assert.ok(err instanceof InvalidResponseError, String(err));
      // The queue moves on.
      cli.handle('GetConfiguration', () => GETCONF_CONF);
      assert.deepEqual(await csms.transport.call(id, 'GetConfiguration', {}), GETCONF_CONF);
    });

    test('a schema-invalid request from us is never sent → OutboundValidationError', async () => {
      const id = uniqueId('BADREQ');
      const cli = await connect(id, 'ocpp1.6');
      let sent = false;
      cli.handle('Reset', () => {
        sent = true;
        return { status: 'Accepted' };
      });
      const err = await rejection(csms.transport.call(id, 'Reset', { type: 'Bogus' }));
      assert.ok(err instanceof OutboundValidationError, String(err));
      await sleep(30);
      assert.equal(sent, false);
    });

    test('calling an offline or unknown station → StationOfflineError; a disconnect fails pending and queued calls', async () => {
      assert.ok((await rejection(csms.transport.call('NEVER-CONNECTED', 'Reset', { type: 'Hard' }))) instanceof StationOfflineError);

      const id = uniqueId('DROP');
      const cli = await rawClient(csms, id, 'ocpp1.6');
      await vcall(cli, 'BootNotification', BOOT16);
      let received = false;
      cli.handle('GetConfiguration', () => {
        received = true;
        return new Promise(() => undefined);
      });
      const inflight = track(csms.transport.call(id, 'GetConfiguration', {}, { timeoutMs: 10_000 }));
      const queued = track(csms.transport.call(id, 'GetConfiguration', {}, { timeoutMs: 10_000 }));
      await waitFor(() => received);
      const t0 = performance.now();
      await cli.close({ force: true });
      assert.ok((await rejection(inflight.promise)) instanceof StationOfflineError);
      assert.ok((await rejection(queued.promise)) instanceof StationOfflineError);
      assert.ok(performance.now() - t0 < 1000);
      await waitFor(() => csms.transport.get(id) === undefined);
      assert.ok((await rejection(csms.transport.call(id, 'GetConfiguration', {}))) instanceof StationOfflineError);
    });
  });

  test('CALL flood: 2,000 Heartbeats as fast as possible are all answered; another station is unaffected', async () => {
    const floodId = uniqueId('FLOOD');
    const flood = await rawWs(csms.ocppUrl, floodId, 'ocpp1.6');
    try {
      const boot = await flood.call('BootNotification', BOOT16);
      assert.equal(boot[0], 3);
      assertValid('ocpp1.6', 'BootNotification', 'conf', boot[2]);
      const calm = await connect(uniqueId('CALM'), 'ocpp2.0.1');

      const N = 2000;
      const ids = Array.from({ length: N }, (_, i) => `hb-${i}`);
      const answers = Promise.all(ids.map((id) => flood.reply(id, 20_000)));
      for (const id of ids) flood.sendRaw(JSON.stringify([2, id, 'Heartbeat', {}]));

      // Meanwhile the calm station runs a whole transaction.
      const latencies: number[] = [];
      const timed = async <T>(p: Promise<T>): Promise<T> => {
        const t = performance.now();
        const r = await p;
        latencies.push(performance.now() - t);
        return r;
      };
      const t0 = Date.now();
      await timed(vcall(calm, 'Authorize', { idToken: { idToken: 'CALM', type: 'ISO14443' } }));
      await timed(
        vcall(calm, 'TransactionEvent', {
          eventType: 'Started',
          timestamp: new Date(t0).toISOString(),
          triggerReason: 'Authorized',
          seqNo: 0,
          transactionInfo: { transactionId: 'CALM-TX' },
          evse: { id: 1, connectorId: 1 },
          idToken: { idToken: 'CALM', type: 'ISO14443' },
        }),
      );
      for (let i = 0; i < 5; i++) await timed(vcall(calm, 'Heartbeat', {}));
      await timed(
        vcall(calm, 'TransactionEvent', {
          eventType: 'Ended',
          timestamp: new Date(t0 + 1000).toISOString(),
          triggerReason: 'StopAuthorized',
          seqNo: 1,
          transactionInfo: { transactionId: 'CALM-TX', stoppedReason: 'Local' },
        }),
      );

      const frames = await answers;
      assert.equal(frames.length, N);
      for (const f of frames) {
        assert.equal(f[0], 3, `CALLRESULT expected: ${JSON.stringify(f)}`);
        assertValid('ocpp1.6', 'Heartbeat', 'conf', f[2]);
      }
      const answered = flood.frames.filter((f) => typeof f[1] === 'string' && f[1].startsWith('hb-'));
      assert.equal(answered.length, N, 'each CALL answered exactly once');
      assert.ok(Math.max(...latencies) < 3000, `calm station latencies: ${latencies.map((l) => l.toFixed(0)).join(', ')} ms`);
      const tx = await csms.db.kysely.selectFrom('transactions').selectAll().where('ocpp_tx_id', '=', 'CALM-TX').executeTakeFirstOrThrow();
      assert.equal(tx.state, 'ended');
    } finally {
      await flood.close();
    }
  });
});

describe('liveness (OCPP.Core #83/#70: stale online state)', () => {
  test('a peer that stops answering pings is dropped within two intervals and marked offline; a live one stays', async () => {
    const csms = await startTestCsms({
      tweak: (c) => {
        c.ocpp.pingIntervalMs = 150;
      },
    });
    const deadId = uniqueId('DEAD');
    const liveId = uniqueId('LIVE');
    const dead = await rawWs(csms.ocppUrl, deadId, 'ocpp1.6');
    const live = await rawWs(csms.ocppUrl, liveId, 'ocpp2.0.1');
    try {
      assert.equal((await dead.call('BootNotification', BOOT16))[0], 3);
      assert.equal((await live.call('BootNotification', BOOT201))[0], 3);
      const isOnline = async (id: string) =>
        (await csms.db.kysely.selectFrom('stations').select('online').where('id', '=', id).executeTakeFirst())?.online;
      await waitFor(async () => (await isOnline(deadId)) === 1 && (await isOnline(liveId)) === 1);

      // TCP stays up but the peer reads nothing any more: no pongs.
      (dead.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const t0 = performance.now();
      await waitFor(() => csms.transport.get(deadId) === undefined, { timeoutMs: 2000, what: 'dead peer dropped' });
      assert.ok(performance.now() - t0 < 1000, 'dropped within about two ping intervals');
      await waitFor(async () => (await isOnline(deadId)) === 0, { what: 'dead peer marked offline' });
      // Commands to it fail fast instead of waiting for a call timeout.
      const c0 = performance.now();
      assert.ok((await rejection(csms.transport.call(deadId, 'Reset', { type: 'Hard' }))) instanceof StationOfflineError);
      assert.ok(performance.now() - c0 < 100);

      // The live station answered every ping meanwhile.
      await sleep(400);
      assert.ok(csms.transport.get(liveId));
      assert.equal(await isOnline(liveId), 1);
      const hb = await live.call('Heartbeat', {});
      assert.equal(hb[0], 3);
      assertValid('ocpp2.0.1', 'Heartbeat', 'conf', hb[2]);
    } finally {
      dead.ws.terminate();
      await live.close();
      await csms.destroy();
    }
  });
});
