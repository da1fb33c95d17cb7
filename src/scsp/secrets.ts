/**
 * Secrets of the SCSP: random opaque values, their SHA-256 for storage, constant-time comparison.
 *
 * Client secrets, API keys and access tokens are stored as SHA-256 only. A fast hash is enough because
 * every such value is high-entropy: generated ones are 32 random bytes, operator-supplied ones must be at
 * least {@link MIN_SECRET_LENGTH} characters (src/scsp/cpos.ts). Pairing codes are short by design
 * (six digits, typed by a person) and are protected by expiry and single use instead.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { bearerToken as parseBearer } from '../util/http.js';

export const MIN_SECRET_LENGTH = 16;

export const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** A URL-safe random string of `bytes` random bytes. */
export const randomSecret = (bytes = 32): string => randomBytes(bytes).toString('base64url');

/** `n` random decimal digits (a pairing code). */
export function randomDigits(n = 6): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(randomInt(10));
  return s;
}

/** Constant-time equality of two strings (by their SHA-256, so lengths never leak). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(Buffer.from(sha256(a), 'hex'), Buffer.from(sha256(b), 'hex'));
}

/** Constant-time equality of a clear value with a stored SHA-256 hex digest. */
export function matchesHash(clear: string, hashHex: string): boolean {
  const h = Buffer.from(sha256(clear), 'hex');
  const s = Buffer.from(hashHex, 'hex');
  return h.length === s.length && timingSafeEqual(h, s);
}

/** `Authorization: Bearer <token>` → token (the one parser both parties use, src/util/http.ts). */
export function bearerToken(header: unknown): string | undefined {
  return typeof header === 'string' ? parseBearer(header) : undefined;
}
