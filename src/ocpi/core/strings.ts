/**
 * OCPI string types (types.asciidoc): `CiString(n)` is case-insensitive printable ASCII, `string(n)` is
 * case-sensitive printable UTF-8 (enums are case-sensitive too), a `URL` is a string(255). Lengths are
 * in characters. Control characters (CR, LF, TAB …) are never allowed.
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const PRINTABLE_ASCII = /^[\u0020-\u007e]*$/;

/** CiString(max): printable ASCII, at most `max` characters (and at least `min`, default 1). */
export function isCiString(v: unknown, max: number, min = 1): v is string {
  return typeof v === 'string' && v.length >= min && v.length <= max && PRINTABLE_ASCII.test(v);
}

/** string(max): printable UTF-8 (no control characters), at most `max` characters (code points). */
export function isOcpiString(v: unknown, max: number, min = 1): v is string {
  if (typeof v !== 'string' || CONTROL.test(v)) return false;
  const len = [...v].length;
  return len >= min && len <= max;
}

/** Case-insensitive equality of two CiStrings (ASCII folding only, as the type is ASCII). */
export function ciEquals(a: string, b: string): boolean {
  return a.length === b.length && a.toLowerCase() === b.toLowerCase();
}

/** The canonical form we store and emit a CiString party id / country code in. */
export const ciCanonical = (s: string): string => s.toUpperCase();

/** An http(s) URL (lenient on length: the spec's 255 is checked with {@link isUrl255}). */
export function isHttpUrl(v: unknown): v is string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 2048 || CONTROL.test(v)) return false;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The spec's URL type: string(255). We keep our own URLs within it. */
export const isUrl255 = (v: unknown): v is string => isHttpUrl(v) && v.length <= 255;

/** ISO-3166 alpha-2 country code as OCPI uses it (CiString(2)). */
export const isCountryCode = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z]{2}$/.test(v);

/** Party id (CiString(3), ISO 15118 style: three letters or digits). */
export const isPartyId = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9]{3}$/.test(v);

/** Join a base URL and a path segment with exactly one `/` (protocols.md §2.7). */
export function joinUrl(base: string, ...segments: string[]): string {
  let out = base.replace(/\/+$/, '');
  for (const s of segments) out += '/' + s.replace(/^\/+/, '');
  return out;
}
