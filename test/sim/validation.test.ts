/** CALLERROR mapping of schema failures (src/sim/validation.ts): one table, per-version spelling. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorCodeFor, validateRequest } from '../../src/sim/validation.js';

const cases = [
  { name: 'missing required field', protocol: 'ocpp2.0.1', action: 'Reset', payload: {}, code: 'OccurrenceConstraintViolation' },
  { name: 'value outside the enum', protocol: 'ocpp2.0.1', action: 'Reset', payload: { type: 'Soon' }, code: 'PropertyConstraintViolation' },
  { name: 'wrong JSON type', protocol: 'ocpp2.0.1', action: 'UnlockConnector', payload: { evseId: '1', connectorId: 1 }, code: 'TypeConstraintViolation' },
  { name: 'unknown field (2.0.1 spelling)', protocol: 'ocpp2.0.1', action: 'ClearCache', payload: { x: 1 }, code: 'FormatViolation' },
  { name: 'unknown field (1.6 spelling)', protocol: 'ocpp1.6', action: 'ClearCache', payload: { x: 1 }, code: 'FormationViolation' },
  { name: 'limit not a multiple of 0.1', protocol: 'ocpp1.6', action: 'SetChargingProfile', payload: { connectorId: 1, csChargingProfiles: { chargingProfileId: 1, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Relative', chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16.05 }] } } }, code: 'PropertyConstraintViolation' },
] as const;

for (const c of cases) {
  test(`schema failure → CALLERROR: ${c.name}`, () => {
    const v = validateRequest(c.protocol, c.action, c.payload);
    assert.equal(v.ok ? 'ok' : v.code, c.code);
  });
}

test('multipleOf 0.1 accepts values like 8.1 and 16.7 (multipleOfPrecision)', () => {
  for (const limit of [8.1, 16.7, 0.3, 22080]) {
    const v = validateRequest('ocpp1.6', 'SetChargingProfile', { connectorId: 1, csChargingProfiles: { chargingProfileId: 1, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Relative', chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit }] } } });
    assert.ok(v.ok, String(limit));
  }
});

test('1.6J errata spelling of the occurrence error; 2.0.1 keeps FormatViolation', () => {
  assert.equal(errorCodeFor('ocpp1.6', 'OccurrenceConstraintViolation'), 'OccurrenceConstraintViolation');
  assert.equal(errorCodeFor('ocpp1.6', 'FormatViolation'), 'FormationViolation');
  assert.equal(errorCodeFor('ocpp2.0.1', 'FormatViolation'), 'FormatViolation');
});
