/**
 * HTTP calls from Ampline to an SCSP (seeds 000/001): JSON body, `Authorization: Bearer <OAuth token>`
 * and the static `ApiKey` header on every request; a 401 refreshes the token once and retries.
 * Network failures and timeouts are answers too (`status: 0`), so callers decide about retries.
 */
import type { Logger } from '../util/log.js';
import { OAuthClient, TokenError } from './oauth.js';
import type { Partner } from './partners.js';

export interface ScspResponse {
  /** HTTP status; 0 when no answer came (network error, timeout, token endpoint failure). */
  status: number;
  body: unknown;
  /** For status 0: why. */
  error?: string;
}

export class ScspClient {
  constructor(
    private readonly deps: {
      oauth: OAuthClient;
      log: Logger;
      fetch?: typeof fetch;
      timeoutMs?: number;
    },
  ) {}

  /** POST `${partner.baseUrl}${path}`. */
  async post(partner: Partner, path: string, body: unknown, opts: { idempotencyKey?: string } = {}): Promise<ScspResponse> {
    let first = true;
    for (;;) {
      let token: string;
      try {
        token = await this.deps.oauth.token(partner);
      } catch (err) {
        const e = err as TokenError;
        return { status: 0, body: undefined, error: e.message };
      }
      const res = await this.once(partner, path, body, token, opts.idempotencyKey);
      if (res.status === 401 && first) {
        // The token may have expired or been revoked early: get a fresh one and try once more.
        this.deps.oauth.invalidate(partner.id, token);
        first = false;
        continue;
      }
      return res;
    }
  }

  private async once(partner: Partner, path: string, body: unknown, token: string, idempotencyKey: string | undefined): Promise<ScspResponse> {
    const f = this.deps.fetch ?? fetch;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      authorization: `Bearer ${token}`,
      apikey: partner.apiKey,
    };
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    try {
      const res = await f(`${partner.baseUrl}${path}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body ?? {}),
        signal: AbortSignal.timeout(this.deps.timeoutMs ?? 15_000),
      });
      const text = await res.text();
      let parsed: unknown = text;
      if (text !== '') {
        try {
          parsed = JSON.parse(text);
        } catch {
          // keep the text
        }
      }
      return { status: res.status, body: parsed };
    } catch (err) {
      return { status: 0, body: undefined, error: (err as Error).message };
    }
  }
}
