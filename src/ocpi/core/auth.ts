/**
 * Authentication between OCPI platforms.
 *
 * **Credentials tokens** (transport_and_format §Authorization header, credentials.asciidoc): every
 * request carries `Authorization: Token <encoded token>`. In 2.2.1(-d2) the encoded token is the token's
 * UTF-8 octets in Base64 (RFC 4648 §4), one space after `Token`; 2.1.1 and 2.2 peers commonly send the
 * token raw. Tokens are printable non-whitespace ASCII (U+0021–U+007E), at most 64 characters; the
 * Credentials object carries them raw.
 *
 * Inbound we try, in order, the Base64-decoded value (also without a trailing newline: `echo token |
 * base64` is a classic — the d2 example itself decodes to `example-token\n`) and then the raw value
 * (protocols.md §2.2). Outbound we send Base64 to 2.2.1 peers and raw to peers marked 2.2 or configured
 * so ({@link TokenEncoding}).
 *
 * **Strategies.** How we authenticate to a partner is an {@link OutboundAuth}: the OCPI token
 * ({@link tokenAuth}) or, the Jedlix way, OAuth 2.0 client credentials giving `Authorization: Bearer …`
 * plus a static `ApiKey` header ({@link OAuth2ClientCredentials}). Chosen per partner
 * ({@link outboundAuthFor}).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../util/clock.js';

/** How a token goes into our Authorization header: `auto` = by the peer's version (2.2 raw, else Base64). */
export const TOKEN_ENCODINGS = ['auto', 'base64', 'raw'] as const;
export type TokenEncoding = (typeof TOKEN_ENCODINGS)[number];
export type WireEncoding = 'base64' | 'raw';

export const MAX_TOKEN_LENGTH = 64;
const TOKEN_CHARS = /^[\u0021-\u007e]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/** A credentials token as the spec allows it (printable non-whitespace ASCII, ≤ `max` characters). */
export function isCredentialsToken(v: unknown, max = MAX_TOKEN_LENGTH): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= max && TOKEN_CHARS.test(v);
}

/** A fresh token: 32 random bytes, base64url (43 characters, within the spec's alphabet and length). */
export const generateToken = (): string => randomBytes(32).toString('base64url');

/** Tokens we issue are stored as SHA-256 (hex) only: they are 256-bit random, so a fast hash suffices. */
export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/** The first characters of a token, for display ("which token is this?"). */
export const tokenHint = (token: string): string => `${token.slice(0, 4)}…`;

export function resolveEncoding(encoding: TokenEncoding, version: string | null | undefined): WireEncoding {
  if (encoding !== 'auto') return encoding;
  return version === '2.2' || version === '2.1.1' || version === '2.1' || version === '2.0' ? 'raw' : 'base64';
}

/** `Token <Base64(UTF-8(token))>` or, for peers that want it, `Token <token>`. */
export function encodeAuthorization(token: string, encoding: WireEncoding): string {
  return `Token ${encoding === 'base64' ? Buffer.from(token, 'utf8').toString('base64') : token}`;
}

/** One way of reading an inbound Authorization header value as a token. */
export interface TokenCandidate {
  token: string;
  /** How the peer encoded it (what we then send back to it when its version does not say). */
  encoding: WireEncoding;
  scheme: 'Token' | 'Bearer';
}

/**
 * The tokens an Authorization header may carry, best reading first; empty when it is not
 * `Token <x>` (or `Bearer <x>`, which only partners with the OAuth2 strategy may use).
 */
export function tokenCandidates(header: unknown): TokenCandidate[] {
  if (typeof header !== 'string') return [];
  const m = /^\s*(Token|Bearer)\s+(\S+)\s*$/i.exec(header);
  if (!m) return [];
  const scheme = m[1]!.toLowerCase() === 'bearer' ? 'Bearer' : 'Token';
  const value = m[2]!;
  if (scheme === 'Bearer') return [{ token: value, encoding: 'raw', scheme }];
  const out: TokenCandidate[] = [];
  if (BASE64.test(value)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const trimmed = decoded.replace(/\r?\n$/, '');
    if (isCredentialsToken(decoded)) out.push({ token: decoded, encoding: 'base64', scheme });
    else if (trimmed !== decoded && isCredentialsToken(trimmed)) out.push({ token: trimmed, encoding: 'base64', scheme });
  }
  if (isCredentialsToken(value, 1024)) out.push({ token: value, encoding: 'raw', scheme });
  return out;
}

// ── outbound strategies ──────────────────────────────────────────────────────────────────────────

export interface OutboundAuth {
  /** The headers that authenticate one request. */
  headers(): Promise<Record<string, string>>;
  /**
   * The peer answered 401 with these headers: forget what is cached. True when asking again with fresh
   * headers may succeed (then the client retries once).
   */
  rejected?(): boolean;
  /** For logs; never a secret. */
  readonly kind: 'token' | 'oauth2' | 'none';
}

/** The OCPI credentials token, Base64 or raw. */
export function tokenAuth(token: string, encoding: WireEncoding): OutboundAuth {
  const header = encodeAuthorization(token, encoding);
  return { kind: 'token', headers: async () => ({ authorization: header }) };
}

/** No Authorization header at all (tests of 401 handling). */
export const noAuth: OutboundAuth = { kind: 'none', headers: async () => ({}) };

/** The Jedlix way (protocols.md §1.1): OAuth 2.0 client credentials → Bearer, plus a static `ApiKey`. */
export interface OAuth2AuthConfig {
  type: 'oauth2';
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  audience?: string;
  /** Sent as the `ApiKey` header on every request when set. */
  apiKey?: string;
}

export type PartnerAuthConfig = OAuth2AuthConfig;

export class OAuth2Error extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'OAuth2Error';
  }
}

/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4): one cached access token, fetched once for concurrent
 * callers, refreshed shortly before `expires_in` runs out or when the peer answers 401.
 */
export class OAuth2ClientCredentials implements OutboundAuth {
  readonly kind = 'oauth2' as const;
  private cached: { token: string; until: number } | undefined;
  private inflight: Promise<string> | undefined;

  constructor(
    private readonly config: OAuth2AuthConfig,
    private readonly deps: { clock: Clock; fetch?: typeof fetch; timeoutMs?: number; skewMs?: number },
  ) {}

  async headers(): Promise<Record<string, string>> {
    const token = await this.token();
    return { authorization: `Bearer ${token}`, ...(this.config.apiKey ? { apikey: this.config.apiKey } : {}) };
  }

  rejected(): boolean {
    const had = this.cached !== undefined;
    this.cached = undefined;
    return had;
  }

  private async token(): Promise<string> {
    if (this.cached && this.cached.until > this.deps.clock.now().getTime()) return this.cached.token;
    this.inflight ??= this.fetchToken().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async fetchToken(): Promise<string> {
    const c = this.config;
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret });
    if (c.audience) body.set('audience', c.audience);
    let res: Response;
    try {
      res = await (this.deps.fetch ?? fetch)(c.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(this.deps.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new OAuth2Error(`token endpoint ${c.tokenUrl} unreachable: ${(err as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) throw new OAuth2Error(`token endpoint ${c.tokenUrl} answered ${res.status}`, res.status);
    let json: { access_token?: unknown; expires_in?: unknown };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      throw new OAuth2Error(`token endpoint ${c.tokenUrl} answered non-JSON`);
    }
    if (typeof json.access_token !== 'string' || json.access_token === '') throw new OAuth2Error(`token endpoint ${c.tokenUrl} gave no access_token`);
    const expiresIn = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 3600;
    const skew = Math.min(this.deps.skewMs ?? 30_000, (expiresIn * 1000) / 2);
    this.cached = { token: json.access_token, until: this.deps.clock.now().getTime() + expiresIn * 1000 - skew };
    return json.access_token;
  }
}

/** Parse a stored/entered partner auth configuration; undefined = the OCPI Token strategy. */
export function parsePartnerAuth(v: unknown): PartnerAuthConfig | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error('auth must be an object');
  const o = v as Record<string, unknown>;
  if (o.type !== 'oauth2') throw new Error("auth.type must be 'oauth2'");
  const str = (k: string, required: boolean): string | undefined => {
    const x = o[k];
    if (x === undefined && !required) return undefined;
    if (typeof x !== 'string' || x === '') throw new Error(`auth.${k} must be a non-empty string`);
    return x;
  };
  const tokenUrl = str('tokenUrl', true)!;
  if (!/^https?:\/\//.test(tokenUrl)) throw new Error('auth.tokenUrl must be an http(s) URL');
  const audience = str('audience', false);
  const apiKey = str('apiKey', false);
  return {
    type: 'oauth2',
    tokenUrl,
    clientId: str('clientId', true)!,
    clientSecret: str('clientSecret', true)!,
    ...(audience !== undefined ? { audience } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
  };
}
