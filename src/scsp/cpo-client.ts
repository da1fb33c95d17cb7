/**
 * HTTP calls from the SCSP to a CPO's `/v1/cpo/...` routes (seed 000 pairing and unpair, the OCPP-format
 * SetChargingProfile of protocols.md §1.6): JSON body, `Authorization: Bearer <the CPO's token for this
 * SCSP>`. Network failures and timeouts are answers too (`status: 0`), so callers decide about retries.
 */
import type { Cpo } from './cpos.js';

export interface CpoResponse {
  /** HTTP status; 0 when no answer came (network error, timeout, aborted). */
  status: number;
  body: unknown;
  /** Raw text of the answer (truncated to 2,000 characters). */
  text: string;
  /** For status 0: why. */
  error?: string;
}

export class CpoClient {
  constructor(private readonly deps: { fetch?: typeof fetch; timeoutMs: number }) {}

  /** POST `${cpo.baseUrl}${path}` with `body` as JSON. */
  async post(cpo: Pick<Cpo, 'baseUrl' | 'cpoToken'>, path: string, body: unknown, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<CpoResponse> {
    const f = this.deps.fetch ?? fetch;
    const signals = [AbortSignal.timeout(opts.timeoutMs ?? this.deps.timeoutMs)];
    if (opts.signal) signals.push(opts.signal);
    try {
      const res = await f(`${cpo.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${cpo.cpoToken}` },
        body: JSON.stringify(body ?? {}),
        signal: AbortSignal.any(signals),
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
      return { status: res.status, body: parsed, text: text.slice(0, 2000) };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? 'timeout' : e.cause?.code ?? e.cause?.message ?? e.message;
      return { status: 0, body: undefined, text: '', error: why };
    }
  }
}

/** `{message}` of a seed-shaped answer, else a short rendering of it. */
export function messageOf(r: CpoResponse): string {
  if (r.status === 0) return r.error ?? 'no answer';
  const b = r.body as { message?: unknown } | undefined;
  if (b && typeof b === 'object' && typeof b.message === 'string') return b.message;
  return r.text.slice(0, 200) || `HTTP ${r.status}`;
}
