/**
 * HTTP calls from Ampline to an SCSP (seeds 000/001): JSON body, `Authorization: Bearer <OAuth token>`
 * and the static `ApiKey` header on every request; a 401 refreshes the token once and retries.
 * Network failures and timeouts are answers too (`status: 0`), so callers decide about retries.
 *
 * Requests go through a keep-alive connection pool (src/util/http-pool.ts: per partner origin at most
 * `maxSocketsPerOrigin` connections, default 16 = the forwarder's delivery concurrency; a deadline per
 * request without a timer per call). The `fetch` dependency (tests) replaces the pool.
 */
import type { Logger } from '../util/log.js';
import { HttpPool } from '../util/http-pool.js';
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
  private readonly pool: HttpPool | undefined;

  constructor(
    private readonly deps: {
      oauth: OAuthClient;
      log: Logger;
      /** Test hook: send with this instead of the connection pool. */
      fetch?: typeof fetch;
      /** Per request (default 15 s). */
      timeoutMs?: number;
      /** Connections per SCSP origin (default 16). */
      maxSocketsPerOrigin?: number;
      /** A pool to use instead of the client's own. */
      pool?: HttpPool;
    },
  ) {
    this.pool = deps.fetch ? undefined : (deps.pool ?? new HttpPool({ maxSocketsPerOrigin: deps.maxSocketsPerOrigin ?? 16 }));
  }

  /** At most this many connections per SCSP origin (the forwarder sets its delivery concurrency). */
  setMaxSocketsPerOrigin(n: number): void {
    this.pool?.setMaxSocketsPerOrigin(n);
  }

  /** Close the pool's connections (requests in flight answer status 0). */
  close(): void {
    this.pool?.close();
  }

  /** POST `${partner.baseUrl}${path}`. */
  post(partner: Partner, path: string, body: unknown, opts: { idempotencyKey?: string } = {}): Promise<ScspResponse> {
    return this.postJson(partner, path, JSON.stringify(body ?? {}), opts);
  }

  /** POST a body that is JSON text already (the outbox's stored payload, sent as stored). */
  async postJson(partner: Partner, path: string, json: string, opts: { idempotencyKey?: string } = {}): Promise<ScspResponse> {
    let first = true;
    for (;;) {
      let token: string;
      try {
        token = await this.deps.oauth.token(partner);
      } catch (err) {
        const e = err as TokenError;
        return { status: 0, body: undefined, error: e.message };
      }
      const res = await this.once(partner, path, json, token, opts.idempotencyKey);
      if (res.status === 401 && first) {
        // The token may have expired or been revoked early: get a fresh one and try once more.
        this.deps.oauth.invalidate(partner.id, token);
        first = false;
        continue;
      }
      return res;
    }
  }

  private async once(partner: Partner, path: string, json: string, token: string, idempotencyKey: string | undefined): Promise<ScspResponse> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      authorization: `Bearer ${token}`,
      apikey: partner.apiKey,
    };
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    const url = `${partner.baseUrl}${path}`;
    const timeoutMs = this.deps.timeoutMs ?? 15_000;
    let status: number;
    let text: string;
    try {
      if (this.pool) {
        const res = await this.pool.request(url, { method: 'POST', headers, body: json, timeoutMs });
        status = res.status;
        text = res.text;
      } else {
        const res = await this.deps.fetch!(url, { method: 'POST', headers, body: json, signal: AbortSignal.timeout(timeoutMs) });
        status = res.status;
        text = await res.text();
      }
    } catch (err) {
      return { status: 0, body: undefined, error: (err as Error).message };
    }
    let parsed: unknown = text;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        // keep the text
      }
    }
    return { status, body: parsed };
  }
}
