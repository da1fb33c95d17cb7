/**
 * src/optimiser/prices.ts: the shipped price day, the price-file loader's errors, curve validation and
 * resampling.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { OptimiserInputError, PriceFileError, parsePriceFile, resampleCurve, validateCurve, type PriceCurve } from '../../src/optimiser/index.js';
import { epochMs, seconds } from '../../src/smart/units.js';

const NL_FILE = new URL('../../src/optimiser/prices/nl-2025-09-17.json', import.meta.url);
const nlText = readFileSync(NL_FILE, 'utf8');
const nl = () => JSON.parse(nlText) as Record<string, unknown>;

describe('shipped price day: NL day-ahead 2025-09-17', () => {
  const f = parsePriceFile(nlText);

  test('24 hourly slots from 2025-09-16T22:00Z (00:00 CEST), EUR/MWh → EUR/kWh', () => {
    assert.equal(f.curve.currency, 'EUR');
    assert.equal(f.curve.slots.length, 24);
    assert.equal(new Date(f.curve.slots[0]!.start).toISOString(), '2025-09-16T22:00:00.000Z');
    assert.ok(f.curve.slots.every((s) => s.durationS === 3600), 'hourly slots');
    // Spot checks against the ENTSO-E document: positions 1, 8 (morning peak), 15 (solar dip), 24.
    const near = (k: number, eurPerMWh: number) => assert.ok(Math.abs(f.curve.slots[k]!.price - eurPerMWh / 1000) < 1e-15, `slot ${k}: ${f.curve.slots[k]!.price}`);
    near(0, 74.78);
    near(7, 118.75);
    near(14, 25);
    near(23, 71.43);
  });

  test('provenance is in the file: market, zone, day, source URL, licence, not synthetic', () => {
    assert.equal(f.meta.biddingZone, 'NL');
    assert.equal(f.meta.biddingZoneEic, '10YNL----------L');
    assert.equal(f.meta.deliveryDay, '2025-09-17');
    assert.equal(f.meta.resolution, 'PT60M');
    assert.match(f.meta.market, /SDAC/);
    assert.match(f.meta.source.url, /^https:\/\/web-api\.tp\.entsoe\.eu\/api\?documentType=A44&in_Domain=10YNL----------L/);
    assert.match(f.meta.licence, /ENTSO-E/);
    assert.equal(f.meta.synthetic, false);
  });

  test('the day in numbers: mean 82.66, min 25 (14:00 CEST), max 118.75 (07:00 CEST) EUR/MWh', () => {
    const p = f.curve.slots.map((s) => s.price * 1000);
    const mean = p.reduce((a, b) => a + b, 0) / p.length;
    assert.ok(Math.abs(mean - 1983.74 / 24) < 1e-9, `mean ${mean}`);
    assert.equal(Math.min(...p), 25);
    assert.equal(Math.max(...p), 118.75);
  });
});

describe('price file errors name the field', () => {
  const cases: Array<{ name: string; edit: (o: Record<string, unknown>) => unknown; error: RegExp }> = [
    { name: 'not JSON', edit: () => '{"format": ', error: /\(json\): not valid JSON/ },
    { name: 'not an object', edit: () => [1, 2], error: /\(root\): must be a JSON object/ },
    { name: 'wrong format tag', edit: (o) => ({ ...o, format: 'v2' }), error: /format: must be "ampline-day-ahead-prices\/1"/ },
    { name: 'market missing', edit: (o) => ({ ...o, market: undefined }), error: /market: must be a non-empty string/ },
    { name: 'delivery day not a date', edit: (o) => ({ ...o, deliveryDay: '17.09.2025' }), error: /deliveryDay: must be YYYY-MM-DD/ },
    { name: 'start without a zone', edit: (o) => ({ ...o, start: '2025-09-16T22:00:00' }), error: /start: must be an ISO 8601 date-time with a zone/ },
    { name: 'unknown resolution', edit: (o) => ({ ...o, resolution: 'PT5M' }), error: /resolution: must be one of PT15M, PT30M, PT60M/ },
    { name: 'unit of another currency', edit: (o) => ({ ...o, unit: 'SEK/MWh' }), error: /unit: must be EUR\/MWh or EUR\/kWh/ },
    { name: 'too few prices for a day', edit: (o) => ({ ...o, prices: (o.prices as number[]).slice(0, 20) }), error: /prices: a delivery day at PT60M has 23–25 prices \(23–25 hours\); got 20/ },
    { name: 'a price that is not a number', edit: (o) => ({ ...o, prices: (o.prices as unknown[]).map((x, k) => (k === 5 ? '81.26' : x)) }), error: /prices\[5\]: must be a finite number \(got "81.26"\)/ },
    { name: 'source without a URL', edit: (o) => ({ ...o, source: { name: 'x' } }), error: /source.url: must be an http\(s\) URL/ },
    { name: 'no licence', edit: (o) => ({ ...o, licence: '' }), error: /licence: must be a non-empty string/ },
    { name: 'synthetic not a boolean', edit: (o) => ({ ...o, synthetic: 'no' }), error: /synthetic: must be true or false/ },
  ];
  for (const c of cases)
    test(c.name, () => {
      const edited = c.edit(nl());
      assert.throws(
        () => parsePriceFile(typeof edited === 'string' ? edited : edited, 'nl.json'),
        (err: unknown) => err instanceof PriceFileError && c.error.test(err.message) && err.message.startsWith('nl.json: '),
      );
    });

  test('EUR/kWh and 15-minute files load too (DST days: 92–100 quarters)', () => {
    const o = { ...nl(), resolution: 'PT15M', unit: 'EUR/kWh', prices: Array.from({ length: 92 }, (_, k) => k / 100) };
    const f = parsePriceFile(o);
    assert.equal(f.curve.slots.length, 92);
    assert.equal(f.curve.slots[3]!.durationS, 900);
    assert.equal(f.curve.slots[3]!.price, 0.03);
  });
});

describe('validateCurve and resampleCurve', () => {
  const slot = (h: number, price = 0.1, durationS = 3600) => ({ start: epochMs(Date.UTC(2025, 8, 17, h)), durationS: seconds(durationS), price });
  const cases: Array<{ name: string; curve: PriceCurve; error: RegExp }> = [
    { name: 'currency not ISO 4217', curve: { currency: 'euro', slots: [slot(0)] }, error: /prices.currency: must be an ISO 4217 code/ },
    { name: 'no slots', curve: { currency: 'EUR', slots: [] }, error: /prices.slots: must be a non-empty array/ },
    { name: 'a gap', curve: { currency: 'EUR', slots: [slot(0), slot(2)] }, error: /prices.slots\[1\].start: 2025-09-17T02:00:00.000Z does not follow the previous slot, which ends at 2025-09-17T01:00:00.000Z/ },
    { name: 'an overlap', curve: { currency: 'EUR', slots: [slot(0, 0.1, 7200), slot(1)] }, error: /prices.slots\[1\].start: .* does not follow/ },
    { name: 'a NaN price', curve: { currency: 'EUR', slots: [slot(0, NaN)] }, error: /prices.slots\[0\].price: must be a finite number/ },
    { name: 'a 90 s slot', curve: { currency: 'EUR', slots: [slot(0, 0.1, 90)] }, error: /prices.slots\[0\].durationS: must be a whole number of minutes/ },
  ];
  for (const c of cases) test(c.name, () => assert.throws(() => validateCurve(c.curve), (err: unknown) => err instanceof OptimiserInputError && c.error.test(err.message)));

  test('hourly → 15-min: four quarters at the hour price', () => {
    const r = resampleCurve({ currency: 'EUR', slots: [slot(0, 0.1), slot(1, 0.2)] }, 900);
    assert.deepEqual(
      r.slots.map((s) => [new Date(s.start).toISOString().slice(11, 16), s.durationS, s.price]),
      [
        ['00:00', 900, 0.1],
        ['00:15', 900, 0.1],
        ['00:30', 900, 0.1],
        ['00:45', 900, 0.1],
        ['01:00', 900, 0.2],
        ['01:15', 900, 0.2],
        ['01:30', 900, 0.2],
        ['01:45', 900, 0.2],
      ],
    );
    assert.throws(() => resampleCurve(r, 3600), /3600 s does not divide a 900 s slot/);
  });
});
