/**
 * Energy prices for the planner. A port ({@link PriceSource}) with two implementations here: none (the
 * built-in planner ignores prices) and a JSON file (AMPLINE_SCSP_PRICES_FILE). Day-ahead market feeds and
 * the shipped sample day belong to the optimiser's work and plug in behind the same port.
 *
 * File format: `{"slots": [{"start": ISO, "end": ISO, "price": number}, …]}` or the bare array; `price`
 * per kWh in any one currency; `end` defaults to the next slot's start (the last slot needs one).
 */
import { readFileSync } from 'node:fs';
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

export function loadPricesFile(path: string): PriceSource {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ScspConfigError(`AMPLINE_SCSP_PRICES_FILE: cannot read ${path}: ${(err as Error).message}`);
  }
  return new StaticPriceSource(parsePriceSlots(raw, `AMPLINE_SCSP_PRICES_FILE ${path}`));
}
