/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4) for calls to an SCSP (seed 001): one cached access token
 * per partner, fetched once for all concurrent callers, refreshed shortly before it expires or when the
 * SCSP answers 401. Client id and secret go in the form body (as the seed's `client_id`,
 * `client_secret`, `audience`); a token endpoint that prefers HTTP Basic gets them there too.
 * Requests go through a small keep-alive pool (src/util/http-pool.ts) unless a `fetch` is given (tests).
 */
import type { Clock } from '../util/clock.js';
import { HttpPool } from '../util/http-pool.js';
import type { Partner } from './partners.js';

export class TokenError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

interface Cached {
  token: string;
  /** Epoch ms after which the token is not used any more. */
  until: number;
}

export class OAuthClient {
  private readonly cache = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly pool: HttpPool | undefined;

  constructor(
    private readonly deps: {
      clock: Clock;
      /** Test hook: send with this instead of the connection pool. */
      fetch?: typeof fetch;
      /** Refresh this long before `expires_in` runs out. */
      skewMs?: number;
      timeoutMs?: number;
      /** A pool to use instead of the client's own. */
      pool?: HttpPool;
    },
  ) {
    this.pool = deps.fetch ? undefined : (deps.pool ?? new HttpPool({ maxSocketsPerOrigin: 2 }));
  }

  /** Close the pool's connections. */
  close(): void {
    this.pool?.close();
  }

  /** A valid access token for the partner (cached). */
  async token(p: Partner): Promise<string> {
    const hit = this.cache.get(p.id);
    if (hit && hit.until > this.deps.clock.now().getTime() && this.key(p) === this.keys.get(p.id)) return hit.token;
    let pending = this.inflight.get(p.id);
    if (!pending) {
      pending = this.fetchToken(p).finally(() => this.inflight.delete(p.id));
      this.inflight.set(p.id, pending);
    }
    return pending;
  }

  /** Forget the partner's token (the SCSP answered 401 with it). */
  invalidate(partnerId: string, token?: string): void {
    const hit = this.cache.get(partnerId);
    if (hit && (token === undefined || hit.token === token)) this.cache.delete(partnerId);
  }

  /** Credentials the cached token was issued for (a changed partner must not reuse it). */
  private readonly keys = new Map<string, string>();
  private key(p: Partner): string {
    return `${p.tokenUrl}\u0000${p.clientId}\u0000${p.clientSecret}\u0000${p.audience ?? ''}`;
  }

  private async fetchToken(p: Partner): Promise<string> {
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: p.clientId, client_secret: p.clientSecret });
    if (p.audience) body.set('audience', p.audience);
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(p.clientId)}:${encodeURIComponent(p.clientSecret)}`).toString('base64')}`,
    };
    const timeoutMs = this.deps.timeoutMs ?? 10_000;
    let status: number;
    let text: string;
    try {
      if (this.pool) {
        const res = await this.pool.request(p.tokenUrl, { method: 'POST', headers, body: body.toString(), timeoutMs });
        status = res.status;
        text = res.text;
      } else {
        const res = await this.deps.fetch!(p.tokenUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
        status = res.status;
        text = await res.text();
      }
    } catch (err) {
      throw new TokenError(`token endpoint ${p.tokenUrl} unreachable: ${(err as Error).message}`);
    }
    if (status < 200 || status > 299) throw new TokenError(`token endpoint ${p.tokenUrl} answered ${status}: ${text.slice(0, 200)}`, status);
    let json: { access_token?: unknown; expires_in?: unknown; token_type?: unknown };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      throw new TokenError(`token endpoint ${p.tokenUrl} answered non-JSON`);
    }
    if (typeof json.access_token !== 'string' || json.access_token === '') throw new TokenError(`token endpoint ${p.tokenUrl} gave no access_token`);
    if (typeof json.token_type === 'string' && json.token_type.toLowerCase() !== 'bearer') {
      throw new TokenError(`token endpoint ${p.tokenUrl} gave token_type ${json.token_type}, not Bearer`);
    }
    const expiresIn = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 3600;
    const skew = Math.min(this.deps.skewMs ?? 30_000, (expiresIn * 1000) / 2);
    this.cache.set(p.id, { token: json.access_token, until: this.deps.clock.now().getTime() + expiresIn * 1000 - skew });
    this.keys.set(p.id, this.key(p));
    return json.access_token;
  }
}
