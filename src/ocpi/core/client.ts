/**
 * A typed OCPI HTTP client: authenticates with a per-partner {@link OutboundAuth} (Token Base64/raw,
 * or OAuth2 + ApiKey), sends `X-Request-ID` / `X-Correlation-ID` (and routing headers for functional
 * modules), parses the response envelope and surfaces HTTP status and OCPI `status_code` separately.
 *
 * `call` never throws for an answer the peer gave (any HTTP status, any status_code): it throws
 * {@link OcpiClientError} `network` only when no answer came. `expect` throws unless the answer is 2xx
 * with a 1xxx status code, so callers can map a failure (e.g. to 3001 during registration).
 */
import type { OutboundAuth } from './auth.js';
import { type OcpiEnvelope, isEnvelope, isSuccess } from './status.js';
import { H_CORRELATION_ID, H_REQUEST_ID, type RoutingHeaders, newMessageId, routingHeaders } from './headers.js';
import { parseNextLink } from './pagination.js';
import type { Version, VersionDetails } from './types.js';
import { INTERFACE_ROLES } from './types.js';
import { isHttpUrl } from './strings.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface OcpiCall {
  method: HttpMethod;
  url: string;
  auth: OutboundAuth;
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** Functional modules only. */
  routing?: RoutingHeaders;
  correlationId?: string;
  timeoutMs?: number;
}

export interface OcpiAnswer<T = unknown> {
  httpStatus: number;
  /** The envelope, when the body was one. */
  envelope: OcpiEnvelope<T> | undefined;
  statusCode: number | undefined;
  statusMessage: string | undefined;
  data: T | undefined;
  headers: Headers;
  requestId: string;
  correlationId: string;
  /** The body text (truncated), for diagnostics. */
  text: string;
}

export type OcpiClientFailure = 'network' | 'http' | 'format' | 'status';

export class OcpiClientError extends Error {
  constructor(
    readonly kind: OcpiClientFailure,
    message: string,
    readonly url: string,
    readonly httpStatus?: number,
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'OcpiClientError';
  }
}

export interface OcpiClientOptions {
  fetch?: typeof fetch;
  /** Per-request bound (default 30 s). */
  timeoutMs?: number;
  /** `User-Agent` sent with every request. */
  userAgent?: string;
}

export class OcpiClient {
  constructor(private readonly opts: OcpiClientOptions = {}) {}

  async call<T = unknown>(c: OcpiCall): Promise<OcpiAnswer<T>> {
    const first = await this.once<T>(c);
    // A 401 with a cached credential (OAuth2): refresh it and try once more.
    if (first.httpStatus === 401 && c.auth.rejected?.()) return this.once<T>(c);
    return first;
  }

  private async once<T>(c: OcpiCall): Promise<OcpiAnswer<T>> {
    const url = new URL(c.url);
    for (const [k, v] of Object.entries(c.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const requestId = newMessageId();
    const correlationId = c.correlationId ?? newMessageId();
    let authHeaders: Record<string, string>;
    try {
      authHeaders = await c.auth.headers();
    } catch (err) {
      throw new OcpiClientError('network', `could not authenticate: ${(err as Error).message}`, c.url);
    }
    const headers: Record<string, string> = {
      accept: 'application/json',
      [H_REQUEST_ID]: requestId,
      [H_CORRELATION_ID]: correlationId,
      ...(this.opts.userAgent ? { 'user-agent': this.opts.userAgent } : {}),
      ...(c.routing ? routingHeaders(c.routing) : {}),
      ...authHeaders,
    };
    let body: string | undefined;
    if (c.body !== undefined) {
      body = JSON.stringify(c.body);
      headers['content-type'] = 'application/json';
    }
    let res: Response;
    let text: string;
    try {
      res = await (this.opts.fetch ?? fetch)(url, {
        method: c.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        redirect: 'error',
        signal: AbortSignal.timeout(c.timeoutMs ?? this.opts.timeoutMs ?? 30_000),
      });
      text = await res.text();
    } catch (err) {
      const e = err as Error;
      const what = e.name === 'TimeoutError' ? 'timed out' : `failed: ${(e.cause as Error | undefined)?.message ?? e.message}`;
      throw new OcpiClientError('network', `${c.method} ${url.origin}${url.pathname} ${what}`, c.url);
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const env = isEnvelope(parsed) ? (parsed as OcpiEnvelope<T>) : undefined;
    return {
      httpStatus: res.status,
      envelope: env,
      statusCode: env?.status_code,
      statusMessage: typeof env?.status_message === 'string' ? env.status_message : undefined,
      data: env?.data,
      headers: res.headers,
      requestId,
      correlationId,
      text: text.slice(0, 2000),
    };
  }

  /** The answer's `data`, or an {@link OcpiClientError} unless HTTP 2xx with an OCPI 1xxx status code. */
  async expect<T = unknown>(c: OcpiCall): Promise<OcpiAnswer<T>> {
    const a = await this.call<T>(c);
    return assertSuccess(a, c);
  }

  /** GET a versions endpoint: `Version[]`. */
  async versions(url: string, auth: OutboundAuth, correlationId?: string): Promise<Version[]> {
    const a = await this.expect<unknown>({ method: 'GET', url, auth, ...(correlationId ? { correlationId } : {}) });
    const list = parseVersions(a.data);
    if (!list) throw new OcpiClientError('format', `${url}: data is not a list of {version, url}`, url, a.httpStatus, a.statusCode);
    return list;
  }

  /** GET a version details endpoint: `{version, endpoints}`. */
  async versionDetails(url: string, auth: OutboundAuth, correlationId?: string): Promise<VersionDetails> {
    const a = await this.expect<unknown>({ method: 'GET', url, auth, ...(correlationId ? { correlationId } : {}) });
    const details = parseVersionDetails(a.data);
    if (!details) throw new OcpiClientError('format', `${url}: data is not {version, endpoints: [{identifier, role, url}]}`, url, a.httpStatus, a.statusCode);
    return details;
  }

  /**
   * Every page of a paginated GET, following `Link: rel="next"` (bounded by `maxPages`). Yields each
   * page's data array.
   */
  async *pages<T = unknown>(c: Omit<OcpiCall, 'method' | 'body'>, maxPages = 10_000): AsyncGenerator<T[], void, void> {
    let next: OcpiCall | undefined = { ...c, method: 'GET' };
    for (let i = 0; next && i < maxPages; i++) {
      const a: OcpiAnswer<T[]> = await this.expect<T[]>(next);
      if (!Array.isArray(a.data)) throw new OcpiClientError('format', `${next.url}: data is not a list`, next.url, a.httpStatus, a.statusCode);
      yield a.data;
      const link = parseNextLink(a.headers.get('link'));
      next = link ? { ...c, method: 'GET', url: new URL(link, next.url).toString(), query: {} } : undefined;
    }
  }
}

export function assertSuccess<T>(a: OcpiAnswer<T>, c: Pick<OcpiCall, 'method' | 'url'>): OcpiAnswer<T> {
  const where = `${c.method} ${c.url}`;
  if (a.httpStatus < 200 || a.httpStatus > 299) {
    throw new OcpiClientError('http', `${where} answered HTTP ${a.httpStatus}${a.statusCode !== undefined ? ` (status_code ${a.statusCode}${a.statusMessage ? `: ${a.statusMessage}` : ''})` : ''}`, c.url, a.httpStatus, a.statusCode);
  }
  if (!a.envelope) throw new OcpiClientError('format', `${where} did not answer with an OCPI envelope`, c.url, a.httpStatus);
  if (!isSuccess(a.statusCode)) {
    throw new OcpiClientError('status', `${where} answered status_code ${a.statusCode}${a.statusMessage ? `: ${a.statusMessage}` : ''}`, c.url, a.httpStatus, a.statusCode);
  }
  return a;
}

export function parseVersions(data: unknown): Version[] | undefined {
  if (!Array.isArray(data)) return undefined;
  const out: Version[] = [];
  for (const v of data) {
    if (typeof v !== 'object' || v === null) return undefined;
    const { version, url } = v as Record<string, unknown>;
    if (typeof version !== 'string' || !isHttpUrl(url)) return undefined;
    out.push({ version, url });
  }
  return out;
}

export function parseVersionDetails(data: unknown): VersionDetails | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const { version, endpoints } = data as Record<string, unknown>;
  if (typeof version !== 'string' || !Array.isArray(endpoints)) return undefined;
  const out: VersionDetails = { version, endpoints: [] };
  for (const e of endpoints) {
    if (typeof e !== 'object' || e === null) return undefined;
    const { identifier, role, url } = e as Record<string, unknown>;
    if (typeof identifier !== 'string' || !isHttpUrl(url)) return undefined;
    // Lenient: a missing/unknown role (2.1.1-style details) is kept as SENDER; `credentials` ignores it anyway.
    const r = typeof role === 'string' && (INTERFACE_ROLES as readonly string[]).includes(role) ? (role as VersionDetails['endpoints'][number]['role']) : 'SENDER';
    out.endpoints.push({ identifier, role: r, url });
  }
  return out;
}
