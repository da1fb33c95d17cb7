/** src/domain/meter.ts: normalization of 1.6 and 2.0.1 sampled values and the summary, table-driven. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { samplesFrom16, samplesFrom201, summarize, type SampledValue16, type SampledValue201 } from '../../src/domain/meter.js';
import type { MeterSample } from '../../src/domain/model.js';

const TS = '2025-01-01T00:00:00.000Z';
const TS2 = '2025-01-01T00:15:00.000Z';

describe('samplesFrom16', () => {
  const cases: Array<{ name: string; sv: SampledValue16; expect: Partial<MeterSample> }> = [
    {
      name: 'defaults: Energy.Active.Import.Register, Wh, Sample.Periodic',
      sv: { value: '1234' },
      expect: { measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Sample.Periodic', value: 1234, phase: undefined, location: undefined, signed: undefined },
    },
    { name: 'kWh → Wh', sv: { value: '12.345', unit: 'kWh' }, expect: { unit: 'Wh', value: 12_345 } },
    { name: 'kW → W', sv: { value: '7.4', measurand: 'Power.Active.Import', unit: 'kW' }, expect: { unit: 'W', value: 7400 } },
    { name: 'kvarh → varh', sv: { value: '1.5', measurand: 'Energy.Reactive.Import.Register', unit: 'kvarh' }, expect: { unit: 'varh', value: 1500 } },
    { name: 'kVA → VA', sv: { value: '2', measurand: 'Power.Offered', unit: 'kVA' }, expect: { unit: 'VA', value: 2000 } },
    { name: 'W stays W', sv: { value: '3680', measurand: 'Power.Active.Import', unit: 'W' }, expect: { unit: 'W', value: 3680 } },
    { name: 'power without unit → W', sv: { value: '11000', measurand: 'Power.Active.Import' }, expect: { unit: 'W', value: 11_000 } },
    { name: 'current without unit → A', sv: { value: '16', measurand: 'Current.Import', phase: 'L2' }, expect: { unit: 'A', value: 16, phase: 'L2' } },
    { name: 'voltage without unit → V', sv: { value: '230.4', measurand: 'Voltage', phase: 'L1-N' }, expect: { unit: 'V', value: 230.4, phase: 'L1-N' } },
    { name: 'SoC without unit → Percent', sv: { value: '42', measurand: 'SoC', location: 'EV' }, expect: { unit: 'Percent', value: 42, location: 'EV' } },
    { name: "SoC with the 1.6 default 'Wh' → Percent", sv: { value: '42', measurand: 'SoC', unit: 'Wh' }, expect: { unit: 'Percent', value: 42 } },
    { name: 'reactive energy without unit → varh', sv: { value: '5', measurand: 'Energy.Reactive.Export.Register' }, expect: { unit: 'varh', value: 5 } },
    { name: 'frequency → Hz', sv: { value: '50.01', measurand: 'Frequency' }, expect: { unit: 'Hz', value: 50.01 } },
    { name: "1.6 'Celcius' spelling → Celsius", sv: { value: '31', measurand: 'Temperature', unit: 'Celcius' }, expect: { unit: 'Celsius', value: 31 } },
    { name: 'context and location kept', sv: { value: '1', context: 'Transaction.End', location: 'Inlet' }, expect: { context: 'Transaction.End', location: 'Inlet' } },
    {
      name: 'SignedData → value null, signature kept',
      sv: { value: 'OCMF|{}|{}', format: 'SignedData', context: 'Transaction.End' },
      expect: { value: null, signed: 'OCMF|{}|{}', unit: 'Wh' },
    },
    { name: 'Raw format is a plain value', sv: { value: '10', format: 'Raw' }, expect: { value: 10, signed: undefined } },
    { name: 'non-numeric raw value → null', sv: { value: 'n/a' }, expect: { value: null } },
    { name: 'float noise rounded', sv: { value: '0.1', unit: 'kWh' }, expect: { value: 100 } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const [s] = samplesFrom16([{ timestamp: TS, sampledValue: [c.sv] }]);
      assert.ok(s);
      assert.equal(s.timestamp, TS);
      for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(s[k as keyof MeterSample], v, `${k}`);
    });
  }

  test('contextOverride applies only where no context is given; order and timestamps kept', () => {
    const out = samplesFrom16(
      [
        { timestamp: TS, sampledValue: [{ value: '1' }, { value: '2', context: 'Sample.Clock' }] },
        { timestamp: TS2, sampledValue: [{ value: '3' }] },
      ],
      'Transaction.End',
    );
    assert.deepEqual(
      out.map((s) => [s.timestamp, s.value, s.context]),
      [
        [TS, 1, 'Transaction.End'],
        [TS, 2, 'Sample.Clock'],
        [TS2, 3, 'Transaction.End'],
      ],
    );
  });
  test('empty input → no samples', () => assert.deepEqual(samplesFrom16([]), []));
});

describe('samplesFrom201', () => {
  const cases: Array<{ name: string; sv: SampledValue201; expect: Partial<MeterSample> }> = [
    { name: 'defaults: energy register, Wh, Sample.Periodic', sv: { value: 1234 }, expect: { measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Sample.Periodic', value: 1234 } },
    { name: 'multiplier 3 on Wh → ×1000', sv: { value: 12.5, unitOfMeasure: { unit: 'Wh', multiplier: 3 } }, expect: { unit: 'Wh', value: 12_500 } },
    { name: 'multiplier without unit → default unit', sv: { value: 2, unitOfMeasure: { multiplier: 3 } }, expect: { unit: 'Wh', value: 2000 } },
    { name: 'kWh → Wh', sv: { value: 1.25, unitOfMeasure: { unit: 'kWh' } }, expect: { unit: 'Wh', value: 1250 } },
    { name: 'kWh with multiplier 1 → ×10 ×1000', sv: { value: 1.5, unitOfMeasure: { unit: 'kWh', multiplier: 1 } }, expect: { unit: 'Wh', value: 15_000 } },
    { name: 'negative multiplier', sv: { value: 12345, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W', multiplier: -1 } }, expect: { unit: 'W', value: 1234.5 } },
    { name: 'kW → W', sv: { value: 11, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'kW' } }, expect: { unit: 'W', value: 11_000 } },
    { name: 'SoC without unit → Percent', sv: { value: 80, measurand: 'SoC' }, expect: { unit: 'Percent', value: 80 } },
    { name: 'phase and location kept', sv: { value: 16, measurand: 'Current.Import', phase: 'L3', location: 'Outlet' }, expect: { unit: 'A', phase: 'L3', location: 'Outlet' } },
    {
      name: 'signedMeterValue kept as JSON next to the value',
      sv: { value: 5, context: 'Transaction.End', signedMeterValue: { signedMeterData: 'AAA', signingMethod: 'ECDSA', encodingMethod: 'OCMF', publicKey: 'PK' } },
      expect: { value: 5, context: 'Transaction.End', signed: JSON.stringify({ signedMeterData: 'AAA', signingMethod: 'ECDSA', encodingMethod: 'OCMF', publicKey: 'PK' }) },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const [s] = samplesFrom201([{ timestamp: TS, sampledValue: [c.sv] }]);
      assert.ok(s);
      for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(s[k as keyof MeterSample], v, `${k}`);
    });
  }
});

const s = (over: Partial<MeterSample>): MeterSample => ({
  timestamp: TS,
  measurand: 'Energy.Active.Import.Register',
  unit: 'Wh',
  context: 'Sample.Periodic',
  value: 0,
  ...over,
});

describe('summarize', () => {
  const cases: Array<{ name: string; samples: MeterSample[]; expect: ReturnType<typeof summarize> }> = [
    { name: 'no samples → undefined', samples: [], expect: undefined },
    {
      name: 'energy, power and SoC totals',
      samples: [s({ value: 1000 }), s({ measurand: 'Power.Active.Import', unit: 'W', value: 7000 }), s({ measurand: 'SoC', unit: 'Percent', value: 40 })],
      expect: { timestamp: TS, energyWh: 1000, powerW: 7000, soc: 40 },
    },
    {
      name: 'only the latest timestamp counts',
      samples: [s({ timestamp: TS2, value: 2000 }), s({ timestamp: TS, value: 1000 }), s({ timestamp: TS, measurand: 'Power.Active.Import', value: 5 })],
      expect: { timestamp: TS2, energyWh: 2000 },
    },
    {
      name: 'a total is preferred over phases',
      samples: [
        s({ measurand: 'Power.Active.Import', phase: 'L1', value: 1 }),
        s({ measurand: 'Power.Active.Import', value: 6900 }),
        s({ measurand: 'Power.Active.Import', phase: 'L2', value: 2 }),
      ],
      expect: { timestamp: TS, powerW: 6900 },
    },
    {
      name: 'per-phase power summed without a total (L1..L3)',
      samples: ['L1', 'L2', 'L3'].map((phase, i) => s({ measurand: 'Power.Active.Import', phase, value: 2300 + i })),
      expect: { timestamp: TS, powerW: 6903 },
    },
    {
      name: 'per-phase line-to-neutral summed; line-to-line and N ignored',
      samples: [
        s({ measurand: 'Power.Active.Import', phase: 'L1-N', value: 1000.1 }),
        s({ measurand: 'Power.Active.Import', phase: 'L2-N', value: 1000.2 }),
        s({ measurand: 'Power.Active.Import', phase: 'L1-L2', value: 99_999 }),
        s({ measurand: 'Power.Active.Import', phase: 'N', value: 77 }),
      ],
      expect: { timestamp: TS, powerW: 2000.3 },
    },
    {
      name: 'only line-to-line phases → no power',
      samples: [s({ measurand: 'Power.Active.Import', phase: 'L1-L2', value: 5 })],
      expect: { timestamp: TS },
    },
    {
      name: 'per-phase energy summed too',
      samples: [s({ phase: 'L1', value: 100 }), s({ phase: 'L2', value: 200 }), s({ phase: 'L3', value: 300 })],
      expect: { timestamp: TS, energyWh: 600 },
    },
    {
      name: 'outlet preferred over inlet',
      samples: [s({ location: 'Inlet', value: 5000 }), s({ location: 'Outlet', value: 4900 })],
      expect: { timestamp: TS, energyWh: 4900 },
    },
    {
      name: 'no location counts as outlet (preferred over inlet)',
      samples: [s({ location: 'Inlet', value: 5000 }), s({ value: 4900 })],
      expect: { timestamp: TS, energyWh: 4900 },
    },
    { name: 'inlet used when it is all there is', samples: [s({ location: 'Inlet', value: 5000 })], expect: { timestamp: TS, energyWh: 5000 } },
    { name: 'signed-only samples (value null) give no energy', samples: [s({ value: null, signed: 'x' })], expect: { timestamp: TS } },
    {
      name: 'other measurands are ignored',
      samples: [s({ measurand: 'Energy.Active.Export.Register', value: 10 }), s({ measurand: 'Current.Import', unit: 'A', value: 16 })],
      expect: { timestamp: TS },
    },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(summarize(c.samples), c.expect));
});
