/**
 * OCPI DateTime (types.asciidoc): RFC 3339 subset, string(25), **UTC only**; no designator means UTC;
 * fractional seconds allowed. The spec's examples are the only allowed patterns:
 *
 *   2015-06-29T20:39:09Z   2016-12-29T17:45:09.2Z   2018-01-01T01:08:01.123Z   (and each without `Z`)
 *
 * "+00:00 is not the same as UTC". We always emit `Z` (milliseconds only when non-zero) and are
 * lenient on input: a numeric offset is converted to UTC instead of refused (interpretation,
 * protocols.md §2.3), lower-case `t`/`z` are taken, and fractions beyond milliseconds are truncated.
 */

const STRICT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$/;
const LENIENT = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

/** `YYYY-MM-DDThh:mm:ss[.sss]Z` in UTC. */
export function formatDateTime(d: Date): string {
  const iso = d.toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

function build(m: RegExpExecArray, offsetSign?: string, offH?: string, offM?: string): Date | undefined {
  const [, y, mo, da, h, mi, s, frac] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(da);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  let t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const check = new Date(t);
  // 2023-02-30 rolls over into March: not a date.
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined;
  if (offsetSign) {
    const oh = Number(offH);
    const om = Number(offM);
    if (oh > 23 || om > 59) return undefined;
    const offsetMs = (oh * 60 + om) * 60_000;
    t += offsetSign === '+' ? -offsetMs : offsetMs;
  }
  return new Date(t);
}

/** True when `s` follows one of the spec's patterns exactly (what a strict peer would accept). */
export function isOcpiDateTime(s: unknown): s is string {
  if (typeof s !== 'string' || s.length > 25) return false;
  const m = STRICT.exec(s);
  return m !== null && build(m) !== undefined;
}

/** Parse a DateTime leniently (see the module comment); undefined when it is not one. */
export function parseDateTime(s: unknown): Date | undefined {
  if (typeof s !== 'string') return undefined;
  const m = LENIENT.exec(s.trim());
  if (!m) return undefined;
  return build(m, m[9], m[10], m[11]);
}
