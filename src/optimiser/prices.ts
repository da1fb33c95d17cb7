/**
 * Price curves: validation, the day-ahead price file format, and resampling (hourly → 15-min).
 *
 * Price file (`ampline-day-ahead-prices/1`, JSON): one delivery day of a day-ahead market, with its
 * provenance. `prices[k]` applies to [start + k × resolution, start + (k + 1) × resolution).
 *
 * ```json
 * { "format": "ampline-day-ahead-prices/1", "market": "…", "biddingZone": "NL", "biddingZoneEic": "10YNL----------L",
 *   "deliveryDay": "2025-09-17", "timeZone": "Europe/Amsterdam", "start": "2025-09-16T22:00:00Z",
 *   "resolution": "PT60M", "currency": "EUR", "unit": "EUR/MWh", "prices": [74.78, …],
 *   "source": { "name": "…", "url": "https://…", "retrieved": "…" }, "licence": "…", "synthetic": false }
 * ```
 *
 * A delivery day has 24 hours (23 or 25 on a DST change): 23–25 hourly, 46–50 half-hourly or 92–100
 * quarter-hourly prices. Units `<currency>/MWh` (exchanges) and `<currency>/kWh` are accepted; the curve
 * is in currency per kWh.
 */
import { epochMs, seconds } from '../smart/units.js';
import { OptimiserInputError, type PriceCurve, type PriceSlot } from './types.js';

export const PRICE_FILE_FORMAT = 'ampline-day-ahead-prices/1';

const RESOLUTIONS: Record<string, number> = { PT15M: 900, PT30M: 1800, PT60M: 3600 };

/** Provenance and identity of a shipped price day. */
export interface PriceFileMeta {
  market: string;
  biddingZone: string;
  biddingZoneEic?: string;
  deliveryDay: string;
  timeZone: string;
  resolution: 'PT15M' | 'PT30M' | 'PT60M';
  unit: string;
  source: { name: string; url: string; [k: string]: unknown };
  licence: string;
  /** True when the curve is made up (then say so wherever it is used). */
  synthetic: boolean;
}

export interface PriceFile {
  meta: PriceFileMeta;
  curve: PriceCurve;
}

/** A price file that does not follow the format; the message names the field. */
export class PriceFileError extends Error {
  override readonly name = 'PriceFileError';
}

/**
 * Checks a curve: a 3-letter currency, at least one slot, whole-second starts, durations of whole
 * minutes, finite prices, slots contiguous and ascending. Throws {@link OptimiserInputError}.
 */
export function validateCurve(curve: PriceCurve, path = 'prices'): void {
  const fail = (p: string, m: string): never => {
    throw new OptimiserInputError(`${p}: ${m}`);
  };
  if (curve === null || typeof curve !== 'object') fail(path, 'must be {currency, slots}');
  if (typeof curve.currency !== 'string' || !/^[A-Z]{3}$/.test(curve.currency)) fail(`${path}.currency`, `must be an ISO 4217 code like EUR (got ${JSON.stringify(curve.currency)})`);
  if (!Array.isArray(curve.slots) || curve.slots.length === 0) fail(`${path}.slots`, 'must be a non-empty array');
  curve.slots.forEach((s, k) => {
    const p = `${path}.slots[${k}]`;
    if (s === null || typeof s !== 'object') fail(p, 'must be {start, durationS, price}');
    if (!Number.isInteger(s.start) || s.start % 1000 !== 0) fail(`${p}.start`, `must be epoch milliseconds on a whole second (got ${s.start})`);
    if (!Number.isInteger(s.durationS) || s.durationS < 60 || s.durationS % 60 !== 0) fail(`${p}.durationS`, `must be a whole number of minutes, at least 60 s (got ${s.durationS})`);
    if (typeof s.price !== 'number' || !Number.isFinite(s.price)) fail(`${p}.price`, `must be a finite number (got ${JSON.stringify(s.price)})`);
    if (k > 0) {
      const prev = curve.slots[k - 1]!;
      const expected = prev.start + prev.durationS * 1000;
      if (s.start !== expected)
        fail(`${p}.start`, `${new Date(s.start).toISOString()} does not follow the previous slot, which ends at ${new Date(expected).toISOString()} (slots must be contiguous and ascending)`);
    }
  });
}

/** Splits every slot into slots of `durationS` (which must divide each slot's length): hourly → 15-min. */
export function resampleCurve(curve: PriceCurve, durationS: number): PriceCurve {
  validateCurve(curve);
  const slots: PriceSlot[] = [];
  for (const s of curve.slots) {
    if (s.durationS % durationS !== 0) throw new OptimiserInputError(`resampleCurve: ${durationS} s does not divide a ${s.durationS} s slot`);
    for (let k = 0; k < s.durationS / durationS; k++) slots.push({ start: epochMs(s.start + k * durationS * 1000), durationS: seconds(durationS), price: s.price });
  }
  return { currency: curve.currency, slots };
}

/**
 * Parses and validates a price file (JSON text or an already parsed value). Pure: the caller reads the
 * file (`parsePriceFile(readFileSync(path, 'utf8'))`). Throws {@link PriceFileError} naming the field.
 */
export function parsePriceFile(input: string | unknown, name = 'price file'): PriceFile {
  const fail = (field: string, msg: string): never => {
    throw new PriceFileError(`${name}: ${field}: ${msg}`);
  };
  let v: unknown = input;
  if (typeof input === 'string') {
    try {
      v = JSON.parse(input);
    } catch (err) {
      fail('(json)', `not valid JSON (${(err as Error).message})`);
    }
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return fail('(root)', 'must be a JSON object');
  const o = v as Record<string, unknown>;
  const str = (k: string): string => {
    const x = o[k];
    if (typeof x !== 'string' || x.trim().length === 0) fail(k, `must be a non-empty string (got ${JSON.stringify(x)})`);
    return x as string;
  };
  if (o.format !== PRICE_FILE_FORMAT) fail('format', `must be ${JSON.stringify(PRICE_FILE_FORMAT)} (got ${JSON.stringify(o.format)})`);
  const market = str('market');
  const biddingZone = str('biddingZone');
  const deliveryDay = str('deliveryDay');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(deliveryDay)) fail('deliveryDay', `must be YYYY-MM-DD (got ${JSON.stringify(deliveryDay)})`);
  const timeZone = str('timeZone');
  const startIso = str('start');
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(startIso)) fail('start', `must be an ISO 8601 date-time with a zone, e.g. 2025-09-16T22:00:00Z (got ${JSON.stringify(startIso)})`);
  const start = Date.parse(startIso);
  if (Number.isNaN(start) || start % 1000 !== 0) fail('start', `not a valid date-time on a whole second (got ${JSON.stringify(startIso)})`);
  const resolution = str('resolution');
  const resS = RESOLUTIONS[resolution];
  if (resS === undefined) fail('resolution', `must be one of ${Object.keys(RESOLUTIONS).join(', ')} (got ${JSON.stringify(resolution)})`);
  const currency = str('currency');
  if (!/^[A-Z]{3}$/.test(currency)) fail('currency', `must be an ISO 4217 code like EUR (got ${JSON.stringify(currency)})`);
  const unit = str('unit');
  const perMWh = unit === `${currency}/MWh` ? true : unit === `${currency}/kWh` ? false : fail('unit', `must be ${currency}/MWh or ${currency}/kWh (got ${JSON.stringify(unit)})`);
  const prices = o.prices;
  if (!Array.isArray(prices)) return fail('prices', 'must be an array of numbers');
  const perHour = 3600 / resS!;
  if (prices.length < 23 * perHour || prices.length > 25 * perHour)
    fail('prices', `a delivery day at ${resolution} has ${23 * perHour}–${25 * perHour} prices (23–25 hours); got ${prices.length}`);
  prices.forEach((x, k) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) fail(`prices[${k}]`, `must be a finite number (got ${JSON.stringify(x)})`);
  });
  const src = o.source;
  if (src === null || typeof src !== 'object' || Array.isArray(src)) return fail('source', 'must be an object {name, url, …}');
  const source = src as Record<string, unknown>;
  if (typeof source.name !== 'string' || source.name.length === 0) fail('source.name', 'must be a non-empty string');
  if (typeof source.url !== 'string' || !/^https?:\/\//.test(source.url)) fail('source.url', `must be an http(s) URL (got ${JSON.stringify(source.url)})`);
  const licence = str('licence');
  if (o.synthetic !== undefined && typeof o.synthetic !== 'boolean') fail('synthetic', 'must be true or false when present');
  const eic = o.biddingZoneEic;
  if (eic !== undefined && typeof eic !== 'string') fail('biddingZoneEic', 'must be a string when present');

  const curve: PriceCurve = {
    currency,
    slots: prices.map((x, k) => ({ start: epochMs(start + k * resS! * 1000), durationS: seconds(resS!), price: perMWh ? (x as number) / 1000 : (x as number) })),
  };
  return {
    meta: {
      market,
      biddingZone,
      ...(typeof eic === 'string' ? { biddingZoneEic: eic } : {}),
      deliveryDay,
      timeZone,
      resolution: resolution as PriceFileMeta['resolution'],
      unit,
      source: source as PriceFileMeta['source'],
      licence,
      synthetic: o.synthetic === true,
    },
    curve,
  };
}
