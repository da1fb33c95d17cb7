/** src/smart/composite-wire.ts: composites to/from 1.6 GetCompositeSchedule.conf and 2.0.1 CompositeScheduleType; comparison. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CompositeSchedule } from '../../src/smart/composite.js';
import {
  compareComposites,
  fromOcpp16Composite,
  fromOcpp201Composite,
  toOcpp16Composite,
  toOcpp201Composite,
} from '../../src/smart/composite-wire.js';
import { epochMs, seconds, type Rate } from '../../src/smart/units.js';
import { at, periods } from './helpers.js';

const START = at('2024-03-01T10:00:00Z');
const composite = (dsl: string, over: Partial<CompositeSchedule> = {}): CompositeSchedule => ({
  evseId: 1,
  duration: seconds(1200),
  scheduleStart: START,
  chargingRateUnit: 'A',
  chargingSchedulePeriod: periods(dsl).map((p) => {
    const out: CompositeSchedule['chargingSchedulePeriod'][number] = { startPeriod: p.startPeriod, limit: p.limit as Rate };
    if (p.numberPhases !== undefined) out.numberPhases = p.numberPhases;
    return out;
  }),
  ...over,
});

describe('to the wire', () => {
  test('2.0.1 CompositeScheduleType', () => {
    assert.deepEqual(toOcpp201Composite(composite('0:13 600:8@1')), {
      evseId: 1,
      duration: 1200,
      scheduleStart: '2024-03-01T10:00:00.000Z',
      chargingRateUnit: 'A',
      chargingSchedulePeriod: [
        { startPeriod: 0, limit: 13 },
        { startPeriod: 600, limit: 8, numberPhases: 1 },
      ],
    });
  });
  test('1.6 GetCompositeSchedule.conf with minChargingRate', () => {
    assert.deepEqual(toOcpp16Composite(composite('0:16', { minChargingRate: 6 })), {
      status: 'Accepted',
      connectorId: 1,
      scheduleStart: '2024-03-01T10:00:00.000Z',
      chargingSchedule: {
        duration: 1200,
        startSchedule: '2024-03-01T10:00:00.000Z',
        chargingRateUnit: 'A',
        chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }],
        minChargingRate: 6,
      },
    });
  });
});

describe('from the wire', () => {
  test('round trips', () => {
    const c = composite('0:13 600:8@1');
    assert.deepEqual(fromOcpp201Composite(toOcpp201Composite(c)), c);
    const d = composite('0:16', { minChargingRate: 6 });
    assert.deepEqual(fromOcpp16Composite(toOcpp16Composite(d), { connectorId: 1, duration: 1200 }), d);
  });
  test('numberPhases 3 from a station is normalised to absent (absent ⇒ 3)', () => {
    const c = fromOcpp201Composite({ ...toOcpp201Composite(composite('0:16')), chargingSchedulePeriod: [{ startPeriod: 0, limit: 16, numberPhases: 3 }] });
    assert.deepEqual(c.chargingSchedulePeriod, [{ startPeriod: 0, limit: 16 }]);
  });
  test('1.6: Rejected → undefined; scheduleStart, connectorId and duration fall back', () => {
    assert.equal(fromOcpp16Composite({ status: 'Rejected' }, { connectorId: 1, duration: 60 }), undefined);
    const c = fromOcpp16Composite(
      { status: 'Accepted', chargingSchedule: { startSchedule: '2024-03-01T10:00:00Z', chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 7000 }] } },
      { connectorId: 2, duration: 300 },
    );
    assert.deepEqual(c, { evseId: 2, duration: 300, scheduleStart: START, chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 7000 }] });
  });
});

describe('compareComposites (prediction vs station answer)', () => {
  const cases: Array<{ name: string; expected: CompositeSchedule; actual: CompositeSchedule; tolerance?: number; diffs: number[] }> = [
    { name: 'identical', expected: composite('0:13 600:8'), actual: composite('0:13 600:8'), diffs: [] },
    { name: 'split periods with the same values are equal', expected: composite('0:13 600:8'), actual: composite('0:13 300:13 600:8'), diffs: [] },
    { name: 'a different limit from 600 s', expected: composite('0:13 600:8'), actual: composite('0:13 600:9'), diffs: [600] },
    { name: 'within tolerance', expected: composite('0:13 600:8'), actual: composite('0:13 600:8.1'), tolerance: 0.1, diffs: [] },
    { name: 'answer one second later: compared on the overlap', expected: composite('0:13 600:8'), actual: composite('0:13 599:8', { scheduleStart: epochMs(START + 1000) }), diffs: [] },
    { name: 'numberPhases differs', expected: composite('0:16'), actual: composite('0:16@1'), diffs: [0] },
    { name: 'unit differs', expected: composite('0:16'), actual: composite('0:11040', { chargingRateUnit: 'W' }), diffs: [0] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const d = compareComposites(c.expected, c.actual, c.tolerance);
      assert.deepEqual(
        d.map((x) => (x.at - c.expected.scheduleStart) / 1000),
        c.diffs,
        JSON.stringify(d),
      );
    });
  }
});
