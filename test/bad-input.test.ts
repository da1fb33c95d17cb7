/**
 * Bad input on the wire: malformed frames, schema violations, unknown and CSMS-side actions, oversized
 * frames. Each gets the protocol-correct CALLERROR (codes per negotiated subprotocol, docs §4.1) and the
 * server keeps serving — the same socket and a fresh client can still boot afterwards.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCsms, rawClient, type TestCsms } from './helpers/csms.js';
import { rawWs, bootFor, assertValid, vcall, uniqueId, type RawWs, type Frame } from './helpers/wire.js';
import type { OcppProtocol } from '../src/ocpp/protocol.js';

/** Expected wire codes per version for each error kind exercised here. */
type Kind = 'framework' | 'messageType' | 'type' | 'occurrence' | 'format' | 'property';
const CODES: Record<OcppProtocol, Record<Kind, string>> = {
  'ocpp1.6': {
    framework: 'FormationViolation',
    messageType: 'FormationViolation',
    type: 'TypeConstraintViolation',
    occurrence: 'OccurrenceConstraintViolation',
    format: 'FormationViolation',
    property: 'PropertyConstraintViolation',
  },
  'ocpp2.0.1': {
    framework: 'RpcFrameworkError',
    messageType: 'MessageTypeNotSupported',
    type: 'TypeConstraintViolation',
    occurrence: 'OccurrenceConstraintViolation',
    format: 'FormatViolation',
    property: 'PropertyConstraintViolation',
  },
};

/** Schema-violating CALLs per version: [case, action, payload, expected kind]. */
const PAYLOAD_CASES: Record<OcppProtocol, Array<{ name: string; action: string; payload: unknown; kind: Kind }>> = {
  'ocpp1.6': [
    { name: 'wrong type (connectorId as string)', action: 'StatusNotification', payload: { connectorId: '1', errorCode: 'NoError', status: 'Available' }, kind: 'type' },
    { name: 'wrong type (meterStart as string)', action: 'StartTransaction', payload: { connectorId: 1, idTag: 'T', meterStart: '0', timestamp: new Date().toISOString() }, kind: 'type' },
    { name: 'missing required field (chargePointModel)', action: 'BootNotification', payload: { chargePointVendor: 'V' }, kind: 'occurrence' },
    { name: 'unknown property', action: 'Heartbeat', payload: { foo: 1 }, kind: 'format' },
    { name: 'payload not an object', action: 'Heartbeat', payload: 'garbage', kind: 'format' },
    { name: 'bad enum (status)', action: 'StatusNotification', payload: { connectorId: 1, errorCode: 'NoError', status: 'Sleeping' }, kind: 'property' },
    { name: 'string too long (idTag > 20)', action: 'Authorize', payload: { idTag: 'X'.repeat(21) }, kind: 'property' },
  ],
  'ocpp2.0.1': [
    {
      name: 'wrong type (evseId as string)',
      action: 'StatusNotification',
      payload: { timestamp: new Date().toISOString(), connectorStatus: 'Available', evseId: '1', connectorId: 1 },
      kind: 'type',
    },
    { name: 'missing required field (chargingStation)', action: 'BootNotification', payload: { reason: 'PowerUp' }, kind: 'occurrence' },
    { name: 'unknown property', action: 'Heartbeat', payload: { foo: 1 }, kind: 'format' },
    { name: 'payload not an object', action: 'Heartbeat', payload: 42, kind: 'format' },
    {
      name: 'bad enum (connectorStatus)',
      action: 'StatusNotification',
      payload: { timestamp: new Date().toISOString(), connectorStatus: 'Sleeping', evseId: 1, connectorId: 1 },
      kind: 'property',
    },
    { name: 'bad date-time format', action: 'StatusNotification', payload: { timestamp: 'yesterday', connectorStatus: 'Available', evseId: 1, connectorId: 1 }, kind: 'property' },
  ],
};

function assertCallError(f: Frame, id: string, code: string): void {
  assert.equal(f.length, 5, `CALLERROR has 5 elements: ${JSON.stringify(f)}`);
  assert.equal(f[0], 4, `expected CALLERROR, got ${JSON.stringify(f)}`);
  assert.equal(f[1], id);
  assert.equal(f[2], code, `wrong code in ${JSON.stringify(f)}`);
  assert.equal(typeof f[3], 'string');
  assert.ok((f[3] as string).length <= 255);
  assert.ok(f[4] !== null && typeof f[4] === 'object' && !Array.isArray(f[4]));
}

describe('bad input', () => {
  let csms: TestCsms;
  const sockets: RawWs[] = [];
  const open = async (protocol: OcppProtocol, prefix = 'BAD'): Promise<RawWs> => {
    const s = await rawWs(csms.ocppUrl, uniqueId(prefix), protocol);
    sockets.push(s);
    return s;
  };
  /** The socket still works and a new station can boot. */
  const stillServing = async (s: RawWs, protocol: OcppProtocol): Promise<void> => {
    const r = await s.call('BootNotification', bootFor(protocol));
    assert.equal(r[0], 3, `socket still answers: ${JSON.stringify(r)}`);
    assertValid(protocol, 'BootNotification', 'conf', r[2]);
    const fresh = await rawClient(csms, uniqueId('FRESH'), protocol);
    try {
      const res = await vcall<{ status: string }>(fresh, 'BootNotification', bootFor(protocol));
      assert.equal(res.status, 'Accepted');
    } finally {
      await fresh.close({ force: true });
    }
  };

  before(async () => {
    csms = await startTestCsms();
  });
  after(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await csms.destroy();
  });

  for (const protocol of ['ocpp1.6', 'ocpp2.0.1'] as const) {
    describe(protocol, () => {
      test(`malformed JSON → ${CODES[protocol].framework} with message id "-1"`, async () => {
        const s = await open(protocol);
        s.sendRaw('[2, "abc", "Heartbeat", {');
        assertCallError(await s.reply('-1'), '-1', CODES[protocol].framework);
        s.sendRaw('{"not":"an array"}');
        assertCallError(await s.reply('-1'), '-1', CODES[protocol].framework);
        s.sendRaw('[2, 12345, "Heartbeat", {}]');
        assertCallError(await s.reply('-1'), '-1', CODES[protocol].framework);
        s.sendRaw('["2", "x1", "Heartbeat", {}]');
        assertCallError(await s.reply('-1'), '-1', CODES[protocol].framework);
        await stillServing(s, protocol);
      });

      test(`unknown message type → ${CODES[protocol].messageType}`, async () => {
        const s = await open(protocol);
        s.sendRaw('[7, "m7", "Whatever", {}]');
        const f = await s.reply('-1');
        assert.equal(f[2], CODES[protocol].messageType);
        await stillServing(s, protocol);
      });

      for (const c of PAYLOAD_CASES[protocol]) {
        test(`${c.name} → ${CODES[protocol][c.kind]}`, async () => {
          const s = await open(protocol);
          const id = `bad-${c.kind}`;
          const f = await s.call(c.action, c.payload, id);
          assertCallError(f, id, CODES[protocol][c.kind]);
          assert.ok((f[3] as string).length > 0, 'the description says what is wrong');
          await stillServing(s, protocol);
        });
      }

      test('unknown action → NotImplemented even with a garbage payload (checked before the schema)', async () => {
        const s = await open(protocol);
        assertCallError(await s.call('FooBar', 'garbage', 'u1'), 'u1', 'NotImplemented');
        assertCallError(await s.call('FooBar', { anything: [1, 2, 3] }, 'u2'), 'u2', 'NotImplemented');
        // An action of the *other* version is unknown here too.
        const other = protocol === 'ocpp1.6' ? 'TransactionEvent' : 'StartTransaction';
        assertCallError(await s.call(other, {}, 'u3'), 'u3', 'NotImplemented');
        await stillServing(s, protocol);
      });

      test('a CSMS-side action sent by a charger (Reset) → NotSupported', async () => {
        const s = await open(protocol);
        const payload = protocol === 'ocpp1.6' ? { type: 'Hard' } : { type: 'Immediate' };
        assertCallError(await s.call('Reset', payload, 'r1'), 'r1', 'NotSupported');
        await stillServing(s, protocol);
      });

      test('answers to CALLs we never sent are ignored; the connection stays usable', async () => {
        const s = await open(protocol);
        s.sendRaw(JSON.stringify([3, 'never-sent', {}]));
        s.sendRaw(JSON.stringify([4, 'never-sent-2', 'GenericError', '', {}]));
        await stillServing(s, protocol);
        assert.ok(!s.frames.some((f) => f[1] === 'never-sent' || f[1] === 'never-sent-2'), 'no answer to a CALLRESULT/CALLERROR');
      });
    });
  }

  test('a failing handler (e.g. a DB error) is answered InternalError without leaking details (steve#2107)', async () => {
    const s = await open('ocpp1.6');
    await s.call('BootNotification', bootFor('ocpp1.6'));
    const svc = csms.services.transactions;
    const original = svc.meterValues;
    svc.meterValues = async () => {
      throw new Error('SQLITE_BUSY: database is locked (INSERT INTO meter_values …)');
    };
    try {
      const f = await s.call('MeterValues', { connectorId: 1, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: '1' }] }] }, 'internal-1');
      assertCallError(f, 'internal-1', 'InternalError');
      assert.ok(!/sqlite|SQL|locked|meter_values/i.test(String(f[3])), `no DB detail leaked: ${f[3]}`);
      assert.deepEqual(f[4], {});
    } finally {
      svc.meterValues = original;
    }
    await stillServing(s, 'ocpp1.6');
  });
});

describe('oversized frames', () => {
  test('a frame above maxPayloadBytes closes that connection with 1009; others are unaffected', async () => {
    const csms = await startTestCsms({
      tweak: (c) => {
        c.ocpp.maxPayloadBytes = 4096;
      },
    });
    const other = await rawClient(csms, uniqueId('OTHER'), 'ocpp2.0.1');
    let big: RawWs | undefined;
    try {
      await other.call('BootNotification', bootFor('ocpp2.0.1'));
      const bigId = uniqueId('BIG');
      big = await rawWs(csms.ocppUrl, bigId, 'ocpp1.6');
      const ok = await big.call('BootNotification', bootFor('ocpp1.6'));
      assert.equal(ok[0], 3, 'small frames are fine');
      assertValid('ocpp1.6', 'BootNotification', 'conf', ok[2]);
      big.sendRaw(JSON.stringify([2, 'huge', 'DataTransfer', { vendorId: 'x', data: 'A'.repeat(8000) }]));
      const closed = await big.closed;
      assert.equal(closed.code, 1009);
      assert.ok(!big.frames.some((f) => f[1] === 'huge'), 'no answer to the oversized CALL');

      // The other station keeps working, the server accepts new ones, and the big one is gone.
      const hb = (await other.call('Heartbeat', {})) as { currentTime: string };
      assertValid('ocpp2.0.1', 'Heartbeat', 'conf', hb);
      const fresh = await rawClient(csms, uniqueId('FRESH'), 'ocpp1.6');
      assert.equal((await vcall<{ status: string }>(fresh, 'BootNotification', bootFor('ocpp1.6'))).status, 'Accepted');
      await fresh.close({ force: true });
      for (let i = 0; i < 100 && csms.transport.get(bigId); i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(csms.transport.get(bigId), undefined);
    } finally {
      await big?.close();
      await other.close({ force: true }).catch(() => undefined);
      await csms.destroy();
    }
  });
});
