/**
 * Pagination of OCPI GET-list endpoints (transport_and_format §Pagination), pure.
 *
 * Request (all optional, all supported): `date_from` — `last_updated` ≥ it (inclusive); `date_to` —
 * `last_updated` < it (exclusive); `offset` (default 0); `limit` (the server may return fewer).
 * Response headers: `Link: <…>; rel="next"` unless this is the last page, keeping every filter of the
 * request; `X-Total-Count` — objects matching the filters (not limit/offset); `X-Limit` — the upper
 * limit in force for this request: the client's `limit` capped at the server maximum (the maximum when
 * the client sent none). On the last page it still shows that limit, not the number returned.
 * Order: oldest first (callers sort by `last_updated`, then a stable key).
 */
import { OcpiError } from './status.js';
import { formatDateTime, parseDateTime } from './datetime.js';

export interface PaginationPolicy {
  /** Most objects one page may hold. */
  maxLimit: number;
  /** Page size when the client sends no `limit` (default: `maxLimit`). */
  defaultLimit?: number;
}

export interface PageRequest {
  offset: number;
  /** Effective limit: the client's, capped at the policy's maximum. */
  limit: number;
  dateFrom?: Date;
  dateTo?: Date;
}

function intParam(name: string, raw: unknown, min: number): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const s = Array.isArray(raw) ? raw[0] : raw;
  const n = typeof s === 'number' ? s : typeof s === 'string' && /^\s*\d+\s*$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw OcpiError.invalid(`${name} must be an integer ≥ ${min}`);
  return n;
}

function dateParam(name: string, raw: unknown): Date | undefined {
  if (raw === undefined || raw === '') return undefined;
  const s = Array.isArray(raw) ? raw[0] : raw;
  const d = parseDateTime(s);
  if (!d) throw OcpiError.invalid(`${name} must be an OCPI DateTime (e.g. 2015-06-29T20:39:09Z)`);
  return d;
}

/** Read `offset`, `limit`, `date_from`, `date_to`; 2001 for values that are not what they must be. */
export function parsePageQuery(query: Record<string, unknown>, policy: PaginationPolicy): PageRequest {
  const offset = intParam('offset', query.offset, 0) ?? 0;
  const requested = intParam('limit', query.limit, 1);
  const limit = Math.min(requested ?? policy.defaultLimit ?? policy.maxLimit, policy.maxLimit);
  const dateFrom = dateParam('date_from', query.date_from);
  const dateTo = dateParam('date_to', query.date_to);
  return { offset, limit, ...(dateFrom ? { dateFrom } : {}), ...(dateTo ? { dateTo } : {}) };
}

/** `date_from` ≤ lastUpdated < `date_to`. */
export function inDateRange(lastUpdated: Date, page: Pick<PageRequest, 'dateFrom' | 'dateTo'>): boolean {
  const t = lastUpdated.getTime();
  if (page.dateFrom && t < page.dateFrom.getTime()) return false;
  if (page.dateTo && t >= page.dateTo.getTime()) return false;
  return true;
}

/** Filter, order (oldest first, stable) and cut an in-memory list; `total` counts all that match. */
export function pageOf<T>(all: readonly T[], page: PageRequest, lastUpdated: (item: T) => Date): { items: T[]; total: number } {
  const matching = all
    .map((item, i) => ({ item, i, t: lastUpdated(item).getTime() }))
    .filter((x) => inDateRange(new Date(x.t), page))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((x) => x.item);
  return { items: matching.slice(page.offset, page.offset + page.limit), total: matching.length };
}

/**
 * The headers of one page. `requestUrl` is the absolute URL the client called (its other query
 * parameters are kept in the next link; `offset` and `limit` are replaced).
 */
export function pageHeaders(args: { requestUrl: string; page: PageRequest; returned: number; total: number }): Record<string, string> {
  const { page, returned, total } = args;
  const headers: Record<string, string> = { 'x-total-count': String(total), 'x-limit': String(page.limit) };
  if (page.offset + returned < total && returned > 0) {
    const u = new URL(args.requestUrl);
    u.searchParams.set('offset', String(page.offset + returned));
    u.searchParams.set('limit', String(page.limit));
    headers.link = `<${u.toString()}>; rel="next"`;
  }
  return headers;
}

/** The `rel="next"` target of a Link header, if any (several links may be comma-separated). */
export function parseNextLink(link: string | null | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /(^|;)\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

/** Query parameters for a client asking for a page. */
export function pageQuery(p: Partial<PageRequest>): Record<string, string> {
  return {
    ...(p.dateFrom ? { date_from: formatDateTime(p.dateFrom) } : {}),
    ...(p.dateTo ? { date_to: formatDateTime(p.dateTo) } : {}),
    ...(p.offset !== undefined ? { offset: String(p.offset) } : {}),
    ...(p.limit !== undefined ? { limit: String(p.limit) } : {}),
  };
}
