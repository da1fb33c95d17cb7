/** src/ocpp/errors.ts and the error kinds src/ocpp/schemas.ts derives from Ajv results, table-driven. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  errorCodeFor,
  errorKindOf,
  errorKindForSchemaKeyword,
  CallTimeoutError,
  ChargerCallError,
  OcppCallError,
  StationOfflineError,
} from '../../src/ocpp/errors.js';
import { validatePayload, isKnownAction } from '../../src/ocpp/schemas.js';
import type { OcppProtocol } from '../../src/ocpp/protocol.js';

describe('errorCodeFor: the wire code per negotiated version', () => {
  const cases: Array<{ input: string; v16: string; v201: string }> = [
    { input: 'NotImplemented', v16: 'NotImplemented', v201: 'NotImplemented' },
    { input: 'NotSupported', v16: 'NotSupported', v201: 'NotSupported' },
    { input: 'InternalError', v16: 'InternalError', v201: 'InternalError' },
    { input: 'ProtocolError', v16: 'ProtocolError', v201: 'ProtocolError' },
    { input: 'SecurityError', v16: 'SecurityError', v201: 'SecurityError' },
    { input: 'GenericError', v16: 'GenericError', v201: 'GenericError' },
    { input: 'PropertyConstraintViolation', v16: 'PropertyConstraintViolation', v201: 'PropertyConstraintViolation' },
    { input: 'TypeConstraintViolation', v16: 'TypeConstraintViolation', v201: 'TypeConstraintViolation' },
    // 1.6 says FormationViolation, 2.0.1 FormatViolation — either spelling maps to the version's own.
    { input: 'FormatViolation', v16: 'FormationViolation', v201: 'FormatViolation' },
    { input: 'FormationViolation', v16: 'FormationViolation', v201: 'FormatViolation' },
    // The 1.6 table's misspelling (ocpp-rpc emits it on 2.0.1) is corrected on both (1.6J errata §5).
    { input: 'OccurenceConstraintViolation', v16: 'OccurrenceConstraintViolation', v201: 'OccurrenceConstraintViolation' },
    { input: 'OccurrenceConstraintViolation', v16: 'OccurrenceConstraintViolation', v201: 'OccurrenceConstraintViolation' },
    // 2.0.1 framework codes do not exist in 1.6: an unparseable frame does not conform to the PDU.
    { input: 'RpcFrameworkError', v16: 'FormationViolation', v201: 'RpcFrameworkError' },
    { input: 'MessageTypeNotSupported', v16: 'FormationViolation', v201: 'MessageTypeNotSupported' },
    // Anything unknown is a GenericError.
    { input: 'TotallyMadeUp', v16: 'GenericError', v201: 'GenericError' },
    { input: '', v16: 'GenericError', v201: 'GenericError' },
    { input: 'toString', v16: 'GenericError', v201: 'GenericError' },
  ];
  for (const c of cases) {
    test(`${c.input || '(empty)'} → 1.6 ${c.v16}, 2.0.1 ${c.v201}`, () => {
      assert.equal(errorCodeFor('ocpp1.6', c.input), c.v16);
      assert.equal(errorCodeFor('ocpp2.0.1', c.input), c.v201);
    });
  }

  test('errorKindOf maps aliases to the neutral kind', () => {
    assert.equal(errorKindOf('FormationViolation'), 'FormatViolation');
    assert.equal(errorKindOf('OccurenceConstraintViolation'), 'OccurrenceConstraintViolation');
    assert.equal(errorKindOf('NotSupported'), 'NotSupported');
    assert.equal(errorKindOf('nope'), 'GenericError');
  });
});

describe('errorKindForSchemaKeyword', () => {
  const cases: Array<{ keyword: string; kind: string }> = [
    { keyword: 'type', kind: 'TypeConstraintViolation' },
    { keyword: 'required', kind: 'OccurrenceConstraintViolation' },
    { keyword: 'minItems', kind: 'OccurrenceConstraintViolation' },
    { keyword: 'maxItems', kind: 'OccurrenceConstraintViolation' },
    { keyword: 'minProperties', kind: 'OccurrenceConstraintViolation' },
    { keyword: 'maxProperties', kind: 'OccurrenceConstraintViolation' },
    { keyword: 'additionalItems', kind: 'OccurrenceConstraintViolation' },
    { keyword: 'enum', kind: 'PropertyConstraintViolation' },
    { keyword: 'const', kind: 'PropertyConstraintViolation' },
    { keyword: 'pattern', kind: 'PropertyConstraintViolation' },
    { keyword: 'format', kind: 'PropertyConstraintViolation' },
    { keyword: 'maxLength', kind: 'PropertyConstraintViolation' },
    { keyword: 'minLength', kind: 'PropertyConstraintViolation' },
    { keyword: 'minimum', kind: 'PropertyConstraintViolation' },
    { keyword: 'maximum', kind: 'PropertyConstraintViolation' },
    { keyword: 'exclusiveMinimum', kind: 'PropertyConstraintViolation' },
    { keyword: 'exclusiveMaximum', kind: 'PropertyConstraintViolation' },
    { keyword: 'multipleOf', kind: 'PropertyConstraintViolation' },
    { keyword: 'additionalProperties', kind: 'FormatViolation' },
    { keyword: 'somethingElse', kind: 'FormatViolation' },
  ];
  for (const c of cases) {
    test(`${c.keyword} → ${c.kind}`, () => assert.equal(errorKindForSchemaKeyword(c.keyword), c.kind));
  }
});

describe('validatePayload kinds', () => {
  const now = new Date().toISOString();
  const cases: Array<{ name: string; protocol: OcppProtocol; action: string; dir: 'req' | 'conf'; payload: unknown; ok?: true; kind?: string }> = [
    { name: '1.6 valid boot', protocol: 'ocpp1.6', action: 'BootNotification', dir: 'req', payload: { chargePointVendor: 'V', chargePointModel: 'M' }, ok: true },
    { name: '1.6 missing field', protocol: 'ocpp1.6', action: 'BootNotification', dir: 'req', payload: { chargePointVendor: 'V' }, kind: 'OccurrenceConstraintViolation' },
    { name: '1.6 wrong type', protocol: 'ocpp1.6', action: 'Authorize', dir: 'req', payload: { idTag: 5 }, kind: 'TypeConstraintViolation' },
    { name: '1.6 too long', protocol: 'ocpp1.6', action: 'Authorize', dir: 'req', payload: { idTag: 'X'.repeat(21) }, kind: 'PropertyConstraintViolation' },
    { name: '1.6 unknown property', protocol: 'ocpp1.6', action: 'Heartbeat', dir: 'req', payload: { x: 1 }, kind: 'FormatViolation' },
    { name: '1.6 not an object', protocol: 'ocpp1.6', action: 'Heartbeat', dir: 'req', payload: [], kind: 'FormatViolation' },
    { name: '1.6 null payload', protocol: 'ocpp1.6', action: 'Heartbeat', dir: 'req', payload: null, kind: 'FormatViolation' },
    { name: '1.6 bad date-time', protocol: 'ocpp1.6', action: 'Heartbeat', dir: 'conf', payload: { currentTime: 'now' }, kind: 'PropertyConstraintViolation' },
    { name: '1.6 valid heartbeat conf', protocol: 'ocpp1.6', action: 'Heartbeat', dir: 'conf', payload: { currentTime: now }, ok: true },
    { name: '2.0.1 bad enum', protocol: 'ocpp2.0.1', action: 'BootNotification', dir: 'req', payload: { reason: 'Bored', chargingStation: { model: 'M', vendorName: 'V' } }, kind: 'PropertyConstraintViolation' },
    { name: '2.0.1 nested wrong type', protocol: 'ocpp2.0.1', action: 'BootNotification', dir: 'req', payload: { reason: 'PowerUp', chargingStation: { model: 1, vendorName: 'V' } }, kind: 'TypeConstraintViolation' },
    { name: '2.0.1 empty array (minItems)', protocol: 'ocpp2.0.1', action: 'MeterValues', dir: 'req', payload: { evseId: 1, meterValue: [] }, kind: 'OccurrenceConstraintViolation' },
    { name: '2.0.1 multipleOf tolerant of binary floats', protocol: 'ocpp2.0.1', action: 'SetChargingProfile', dir: 'req', payload: { evseId: 0, chargingProfile: { id: 1, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute', chargingSchedule: [{ id: 1, startSchedule: now, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16.7 }] }] } }, ok: true },
    { name: 'unknown action', protocol: 'ocpp2.0.1', action: 'FooBar', dir: 'req', payload: {}, kind: 'NotImplemented' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = validatePayload(c.protocol, c.action, c.dir, c.payload);
      if (c.ok) assert.ok(r.ok, r.ok ? '' : r.message);
      else {
        assert.equal(r.ok, false);
        if (!r.ok) {
          assert.equal(r.kind, c.kind, r.message);
          assert.ok(r.message.length > 0);
        }
      }
    });
  }

  test('isKnownAction is per version', () => {
    assert.equal(isKnownAction('ocpp1.6', 'StartTransaction'), true);
    assert.equal(isKnownAction('ocpp2.0.1', 'StartTransaction'), false);
    assert.equal(isKnownAction('ocpp2.0.1', 'TransactionEvent'), true);
    assert.equal(isKnownAction('ocpp1.6', 'SignCertificate'), true, '1.6 security extension');
    assert.equal(isKnownAction('ocpp1.6', 'FooBar'), false);
  });
});

describe('error classes', () => {
  test('carry their data and names', () => {
    const c = new OcppCallError('NotSupported', 'x', { a: 1 });
    assert.deepEqual([c.name, c.kind, c.message, c.details], ['OcppCallError', 'NotSupported', 'x', { a: 1 }]);
    const ch = new ChargerCallError('GenericError', 'boom', { d: 1 });
    assert.equal(ch.name, 'ChargerCallError');
    assert.match(ch.message, /GenericError: boom/);
    const t = new CallTimeoutError('queued', 150);
    assert.deepEqual([t.name, t.phase], ['CallTimeoutError', 'queued']);
    assert.match(t.message, /150 ms/);
    const o = new StationOfflineError('CP9');
    assert.deepEqual([o.name, o.stationId], ['StationOfflineError', 'CP9']);
  });
});
