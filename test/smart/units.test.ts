/** src/smart/units.ts: W↔A with phases and voltage, 0.1 flooring, the 6 A minimum (protocols.md §3.5, §2.8). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  amps,
  ampsToWatts,
  ceilTenth,
  epochToIso,
  executableAmpsFromWatts,
  floorTenth,
  isExecutableCurrent,
  isMultipleOfTenth,
  isoToEpoch,
  minimumPower,
  pauseBelowMinimum,
  pauseBelowMinimumPower,
  phasesOfPowerType,
  phasesOrDefault,
  secondsBetween,
  truncateToSecond,
  volts,
  watts,
  wattsToAmps,
  type Volts,
} from '../../src/smart/units.js';

const V230: Volts = volts(230);
const V220: Volts = volts(220);

describe('A → W (P = I × V × phases), §3.5 table at 230 V', () => {
  const cases: Array<{ name: string; a: number; phases: number; w: number }> = [
    { name: '6 A 1φ = 1 380 W', a: 6, phases: 1, w: 1380 },
    { name: '6 A 3φ = 4 140 W', a: 6, phases: 3, w: 4140 },
    { name: '16 A 3φ = 11 040 W', a: 16, phases: 3, w: 11_040 },
    { name: '32 A 1φ = 7 360 W', a: 32, phases: 1, w: 7360 },
    { name: '32 A 3φ = 22 080 W', a: 32, phases: 3, w: 22_080 },
  ];
  for (const c of cases) test(c.name, () => assert.equal(ampsToWatts(amps(c.a), c.phases, V230), c.w));
});

describe('W → A (I = P / (V × phases)), floored to 0.1', () => {
  const cases: Array<{ name: string; w: number; phases: number; v: Volts; floored: number }> = [
    { name: '11 kW 3φ 230 V → 15.94 → 15.9 A', w: 11_000, phases: 3, v: V230, floored: 15.9 },
    { name: '22 kW 3φ 230 V → 31.88 → 31.8 A (rounded down, not 31.9)', w: 22_000, phases: 3, v: V230, floored: 31.8 },
    { name: 'Jedlix 22 000 W 3φ at 220 V → 33.3 A', w: 22_000, phases: 3, v: V220, floored: 33.3 },
    { name: 'Jedlix 10 000 W 3φ at 230 V → 14.49 → 14.4 A', w: 10_000, phases: 3, v: V230, floored: 14.4 },
    { name: 'Jedlix 10 000 W 3φ at 220 V → 15.15 → 15.1 A', w: 10_000, phases: 3, v: V220, floored: 15.1 },
    { name: '7 360 W 1φ → 32 A', w: 7360, phases: 1, v: V230, floored: 32 },
    { name: '4 140 W 3φ → exactly 6 A (no float loss)', w: 4140, phases: 3, v: V230, floored: 6 },
    { name: '0 W → 0 A', w: 0, phases: 3, v: V230, floored: 0 },
  ];
  for (const c of cases) test(c.name, () => assert.equal(floorTenth(wattsToAmps(watts(c.w), c.phases, c.v)), c.floored));

  test('phases or voltage ≤ 0 is a programming error', () => {
    assert.throws(() => wattsToAmps(watts(1000), 0, V230), RangeError);
    assert.throws(() => wattsToAmps(watts(1000), 3, volts(0)), RangeError);
  });
});

describe('numberPhases absent ⇒ 3', () => {
  test('undefined → 3; given → given', () => {
    assert.equal(phasesOrDefault(undefined), 3);
    assert.equal(phasesOrDefault(1), 1);
  });
});

describe('rounding to 0.1', () => {
  const cases: Array<{ name: string; x: number; floor: number; ceil: number; multiple: boolean }> = [
    { name: '15.94', x: 15.94, floor: 15.9, ceil: 16, multiple: false },
    { name: '1.1 (1.1 × 10 = 11.000000000000002)', x: 1.1, floor: 1.1, ceil: 1.1, multiple: true },
    { name: '0.3', x: 0.3, floor: 0.3, ceil: 0.3, multiple: true },
    { name: '8.1 (ajv multipleOf trap)', x: 8.1, floor: 8.1, ceil: 8.1, multiple: true },
    { name: '16.7', x: 16.7, floor: 16.7, ceil: 16.7, multiple: true },
    { name: '6.05', x: 6.05, floor: 6, ceil: 6.1, multiple: false },
    { name: '22080', x: 22_080, floor: 22_080, ceil: 22_080, multiple: true },
    { name: '0', x: 0, floor: 0, ceil: 0, multiple: true },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(floorTenth(c.x), c.floor);
      assert.equal(ceilTenth(c.x), c.ceil);
      assert.equal(isMultipleOfTenth(c.x), c.multiple);
    });
  }
});

describe('6 A minimum (IEC 61851-1)', () => {
  test('minimum power: 1 380 W 1φ, 4 140 W 3φ at 230 V', () => {
    assert.equal(minimumPower(1, V230), 1380);
    assert.equal(minimumPower(3, V230), 4140);
  });
  const cases: Array<{ name: string; a: number; executable: boolean; paused: number }> = [
    { name: '0 A is a pause: executable', a: 0, executable: true, paused: 0 },
    { name: '5.9 A is not executable → 0', a: 5.9, executable: false, paused: 0 },
    { name: '6 A is executable', a: 6, executable: true, paused: 6 },
    { name: '16 A is executable', a: 16, executable: true, paused: 16 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(isExecutableCurrent(amps(c.a)), c.executable);
      assert.equal(pauseBelowMinimum(amps(c.a)), c.paused);
    });
  }
  test('power below 6 A × phases × V → 0 W; at the minimum it stays', () => {
    assert.equal(pauseBelowMinimumPower(watts(4139), 3, V230), 0);
    assert.equal(pauseBelowMinimumPower(watts(4140), 3, V230), 4140);
    assert.equal(pauseBelowMinimumPower(watts(1380), 1, V230), 1380);
  });
  test('W → executable A: 3 000 W 3φ → 4.3 A → paused; 5 000 W 3φ → 7.2 A; 22 kW on 1φ → 95.6 A (clamping is the caller\'s)', () => {
    assert.equal(executableAmpsFromWatts(watts(3000), 3, V230), 0);
    assert.equal(executableAmpsFromWatts(watts(5000), 3, V230), 7.2);
    assert.equal(executableAmpsFromWatts(watts(22_000), 1, V230), 95.6);
  });
});

describe('OCPI power_type → phases', () => {
  const cases = [
    { powerType: 'AC_1_PHASE', phases: 1 },
    { powerType: 'AC_2_PHASE', phases: 2 },
    { powerType: 'AC_2_PHASE_SPLIT', phases: 2 },
    { powerType: 'AC_3_PHASE', phases: 3 },
    { powerType: 'DC', phases: undefined },
  ] as const;
  for (const c of cases) test(`${c.powerType} → ${c.phases}`, () => assert.equal(phasesOfPowerType(c.powerType), c.phases));
});

describe('time', () => {
  test('ISO ↔ epoch ms; output is normalised UTC with milliseconds', () => {
    const t = isoToEpoch('2024-03-01T12:00:00Z');
    assert.equal(t, Date.UTC(2024, 2, 1, 12));
    assert.equal(epochToIso(t), '2024-03-01T12:00:00.000Z');
    assert.equal(isoToEpoch('2024-03-01T13:00:00+01:00'), t);
  });
  test('invalid date-time throws RangeError', () => assert.throws(() => isoToEpoch('yesterday'), RangeError));
  test('secondsBetween and truncateToSecond', () => {
    const t = isoToEpoch('2024-03-01T12:00:00.750Z');
    assert.equal(truncateToSecond(t), isoToEpoch('2024-03-01T12:00:00Z'));
    assert.equal(secondsBetween(isoToEpoch('2024-03-01T12:00:00Z'), isoToEpoch('2024-03-01T12:10:00Z')), 600);
  });
});
