/**
 * Energy prices for the planner. A port ({@link PriceSource}) with two implementations here: none (the
 * built-in planner ignores prices) and a JSON file (AMPLINE_SCSP_PRICES_FILE). Day-ahead market feeds and
 * the shipped sample day belong to the optimiser's work and plug in behind the same port.
 *
 * File format: `{"slots": [{"start": ISO, "end": ISO, "price": number}, …]}` or the bare array; `price`
 * per kWh in any one currency; `end` defaults to the next slot's start (the last slot needs one).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PriceFileError, parsePriceFile } from '../optimiser/prices.js';
import { OptimiserInputError } from '../optimiser/types.js';
import { ScspConfigError } from './config.js';
import type { PriceSlot } from './planner.js';

export interface PriceSource {
  /** Slots overlapping [from, to), sorted by start. */
  prices(from: Date, to: Date): Promise<PriceSlot[]>;
}

export const noPrices: PriceSource = { prices: async () => [] };

export class StaticPriceSource implements PriceSource {
  constructor(private readonly slots: readonly PriceSlot[]) {}
  async prices(from: Date, to: Date): Promise<PriceSlot[]> {
    return this.slots.filter((s) => s.end.getTime() > from.getTime() && s.start.getTime() < to.getTime());
  }
}

export function parsePriceSlots(raw: unknown, where: string): PriceSlot[] {
  const list = raw && typeof raw === 'object' && !Array.isArray(raw) && 'slots' in raw ? (raw as { slots: unknown }).slots : raw;
  if (!Array.isArray(list)) throw new ScspConfigError(`${where}: must be an array of price slots (or {"slots": [...]})`);
  const out: PriceSlot[] = [];
  for (const [i, s] of list.entries()) {
    const o = s as { start?: unknown; end?: unknown; price?: unknown } | null;
    if (!o || typeof o !== 'object') throw new ScspConfigError(`${where} [${i}]: must be an object`);
    const start = typeof o.start === 'string' ? Date.parse(o.start) : NaN;
    if (Number.isNaN(start)) throw new ScspConfigError(`${where} [${i}].start: must be an ISO date-time`);
    if (typeof o.price !== 'number' || !Number.isFinite(o.price)) throw new ScspConfigError(`${where} [${i}].price: must be a number`);
    let end = typeof o.end === 'string' ? Date.parse(o.end) : NaN;
    if (o.end === undefined) {
      const next = list[i + 1] as { start?: unknown } | undefined;
      end = next && typeof next.start === 'string' ? Date.parse(next.start) : NaN;
    }
    if (Number.isNaN(end) || end <= start) throw new ScspConfigError(`${where} [${i}].end: must be an ISO date-time after start`);
    out.push({ start: new Date(start), end: new Date(end), price: o.price });
  }
  return out.sort((a, b) => a.start.getTime() - b.start.getTime());
}

/**
 * One published day replayed on every day (the demo's prices, and a stand-in until a market feed is
 * configured): the slot that started at hh:mm on the sample day applies at hh:mm (UTC offset of the
 * sample day) on every day. Labelled as a replay wherever it is shown.
 */
export class ReplayedDayPriceSource implements PriceSource {
  private readonly dayMs: number;
  constructor(
    private readonly day: readonly PriceSlot[],
    readonly label: string,
  ) {
    if (day.length === 0) throw new ScspConfigError('a replayed price day needs at least one slot');
    this.dayMs = day[day.length - 1]!.end.getTime() - day[0]!.start.getTime();
    if (this.dayMs <= 0 || this.dayMs > 25 * 3_600_000) throw new ScspConfigError('a replayed price day must span at most 25 hours');
  }
  async prices(from: Date, to: Date): Promise<PriceSlot[]> {
    const origin = this.day[0]!.start.getTime();
    const out: PriceSlot[] = [];
    // Whole days back to the copy that covers `from`, then forward until `to`.
    let shift = Math.floor((from.getTime() - origin) / 86_400_000) * 86_400_000;
    while (origin + shift < to.getTime()) {
      for (const s of this.day) {
        const start = s.start.getTime() + shift;
        // Cut at the next copy: a 25-hour sample day must not overlap the following day's copy.
        const end = Math.min(s.end.getTime() + shift, origin + shift + 86_400_000);
        if (end > start && end > from.getTime() && start < to.getTime()) out.push({ start: new Date(start), end: new Date(end), price: s.price });
      }
      shift += 86_400_000;
    }
    return out;
  }
}

/** The real day-ahead price day shipped with Ampline (src/optimiser/prices; see its README). */
export function sampleDayPath(): string {
  return fileURLToPath(new URL('../optimiser/prices/nl-2025-09-17.json', import.meta.url));
}

/** Slots of an `ampline-day-ahead-prices/1` file (src/optimiser/prices.ts), per kWh. */
export function dayAheadSlots(raw: unknown, where: string): PriceSlot[] {
  try {
    const { curve } = parsePriceFile(raw, where);
    return curve.slots.map((s) => ({ start: new Date(s.start), end: new Date(s.start + s.durationS * 1000), price: s.price }));
  } catch (err) {
    if (err instanceof PriceFileError || err instanceof OptimiserInputError) throw new ScspConfigError(err.message);
    throw err;
  }
}

/**
 * AMPLINE_SCSP_PRICES_FILE: a slot list (`{"slots": [...]}` / array) or a day-ahead file
 * (`"format": "ampline-day-ahead-prices/1"`). With `replay`, a single day is repeated on every day.
 */
export function loadPricesFile(path: string, opts: { replay?: boolean } = {}): PriceSource {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ScspConfigError(`AMPLINE_SCSP_PRICES_FILE: cannot read ${path}: ${(err as Error).message}`);
  }
  const where = `AMPLINE_SCSP_PRICES_FILE ${path}`;
  const isDayAhead = !!raw && typeof raw === 'object' && !Array.isArray(raw) && 'format' in raw;
  const slots = isDayAhead ? dayAheadSlots(raw, where) : parsePriceSlots(raw, where);
  return opts.replay ? new ReplayedDayPriceSource(slots, `${path} (replayed daily)`) : new StaticPriceSource(slots);
}
