/**
 * OCPI test helpers: raw OCPI calls, the management APIs of both Ampline roles, and a hand-written
 * **foreign peer** that follows the OCPI 2.2.1 (d2) text literally — its own Base64 header, envelope and
 * handshake, no Ampline code — built from the spec's JSON examples (credentials_example.json,
 * version_details_example.json, versions_info_example.json).
 */
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type TestCsms, startTestCsms } from '../helpers/csms.js';
import { ADMIN_KEY, type TestScsp, startTestScsp } from '../scsp/helpers.js';

export const CSMS_KEY = 'test-api-key-123';

export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

export const b64 = (token: string): string => Buffer.from(token, 'utf8').toString('base64');

/** A raw HTTP call with `Authorization: Token <token>` (Base64 unless `raw`). */
export async function ocpi(
  url: string,
  opts: { method?: string; token?: string | undefined; raw?: boolean; authorization?: string; body?: unknown; text?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.authorization !== undefined) headers.authorization = opts.authorization;
  else if (opts.token !== undefined) headers.authorization = `Token ${opts.raw ? opts.token : b64(opts.token)}`;
  let body: string | undefined;
  if (opts.text !== undefined) body = opts.text;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(url, { method: opts.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export async function csmsAdmin(csms: Pick<TestCsms, 'url'>, method: string, path: string, body?: unknown): Promise<Answer> {
  return ocpi(csms.url + path, { method, authorization: `Bearer ${CSMS_KEY}`, ...(body !== undefined ? { body } : {}) });
}

export async function scspAdmin(scsp: Pick<TestScsp, 'url'>, method: string, path: string, body?: unknown): Promise<Answer> {
  return ocpi(scsp.url + path, { method, headers: { 'x-api-key': ADMIN_KEY }, ...(body !== undefined ? { body } : {}) });
}

/** The management API of either role. */
export type Admin = (method: string, path: string, body?: unknown) => Promise<Answer>;

export interface Side {
  name: 'csms' | 'scsp';
  url: string;
  admin: Admin;
  ocpi: TestCsms['ocpi'];
  destroy(): Promise<void>;
}

export async function startSide(name: 'csms' | 'scsp', env: Record<string, string> = {}): Promise<Side> {
  if (name === 'csms') {
    const c = await startTestCsms({ env });
    return { name, url: c.url, admin: (m, p, b) => csmsAdmin(c, m, p, b), ocpi: c.ocpi, destroy: () => c.destroy() };
  }
  const s = await startTestScsp({ env });
  return { name, url: s.url, admin: (m, p, b) => scspAdmin(s, m, p, b), ocpi: s.ocpi, destroy: () => s.destroy() };
}

// ── the foreign peer ────────────────────────────────────────────────────────────────────────────

/** credentials_example.json (OCPI 2.2.1-d2), a minimal CPO. */
export const SPEC_CPO_CREDENTIALS = {
  token: 'ebf3b399-779f-4497-9b9d-ac6ad3cc44d2',
  url: 'https://example.com/ocpi/versions',
  roles: [{ role: 'CPO', party_id: 'EXA', country_code: 'NL', business_details: { name: 'Example Operator' } }],
};

/** The same shape for an SCSP peer (an Ampline CSMS talks to SCSPs). */
export const SPEC_SCSP_ROLES = [{ role: 'SCSP', party_id: 'EXS', country_code: 'NL', business_details: { name: 'Example Smart Charging' } }];

export interface PeerRequest {
  seq: number;
  method: string;
  path: string;
  /** The token the Authorization header carried, decoded as this peer reads it. */
  token: string | undefined;
  /** The raw header. */
  authorization: string | undefined;
  requestId: string | undefined;
}

export interface ForeignPeerOptions {
  /** The version it offers (versions_info_example.json lists 2.1.1 and 2.2.1). */
  version?: '2.2.1' | '2.2';
  /** 2.2.1: Base64 tokens in the header (strict: raw refused); 2.2 peers usually raw (strict: Base64 refused). */
  encoding?: 'base64' | 'raw';
  /** Replace the versions list (e.g. only 2.1.1). */
  versions?: (base: string) => Array<{ version: string; url: string }>;
  /** Replace the details endpoints (e.g. without credentials). */
  endpoints?: (base: string, v: string) => Array<{ identifier: string; role: string; url: string }>;
  roles?: typeof SPEC_CPO_CREDENTIALS.roles;
  /** Answer a credentials POST/PUT with this instead of doing the handshake. */
  credentialsAnswer?: (method: string) => { http: number; body: unknown } | undefined;
}

/**
 * An OCPI 2.2.1 platform written from the spec's text: it can be the Receiver (an Ampline node registers
 * with it: POST → it GETs Ampline's versions/details with token B *before* answering with token C) and
 * the Sender (it registers with an Ampline node given a versions URL and token A).
 */
export class ForeignPeer {
  readonly log: PeerRequest[] = [];
  url = '';
  private seq = 0;
  private app: FastifyInstance | undefined;
  /** Tokens Ampline may present to us: value → kind. */
  readonly accepted = new Map<string, 'A' | 'full'>();
  /** The token we present to Ampline (B as Sender, or what Ampline gave us). */
  tokenForAmpline: string | undefined;
  /** Ampline's versions URL and endpoints, as learnt. */
  amplineVersionsUrl: string | undefined;
  amplineEndpoints: Array<{ identifier: string; role: string; url: string }> = [];
  /** Things the receiver handshake observed (assertions). */
  readonly events: string[] = [];

  constructor(readonly opts: ForeignPeerOptions = {}) {}

  get version(): string {
    return this.opts.version ?? '2.2.1';
  }
  get encoding(): 'base64' | 'raw' {
    return this.opts.encoding ?? (this.version === '2.2.1' ? 'base64' : 'raw');
  }
  get versionsUrl(): string {
    return `${this.url}/ocpi/versions`;
  }
  roles() {
    return this.opts.roles ?? SPEC_CPO_CREDENTIALS.roles;
  }

  /** The header value as the spec's section "Authorization header" defines it. */
  header(token: string): string {
    return `Token ${this.encoding === 'base64' ? Buffer.from(token, 'utf8').toString('base64') : token}`;
  }

  private readToken(req: FastifyRequest): string | undefined {
    const h = req.headers.authorization;
    if (typeof h !== 'string' || !h.startsWith('Token ')) return undefined;
    const v = h.slice('Token '.length);
    return this.encoding === 'base64' ? Buffer.from(v, 'base64').toString('utf8') : v;
  }

  private reply(reply: FastifyReply, req: FastifyRequest, http: number, statusCode: number, data?: unknown) {
    // "Every request/response SHALL contain ... the response to this request SHALL contain the same ID."
    reply.header('X-Request-ID', String(req.headers['x-request-id'] ?? randomUUID()));
    reply.header('X-Correlation-ID', String(req.headers['x-correlation-id'] ?? randomUUID()));
    return reply.code(http).send({ ...(data !== undefined ? { data } : {}), status_code: statusCode, status_message: statusCode === 1000 ? 'Success' : 'Error', timestamp: new Date().toISOString() });
  }

  /** 401 unless a known token; returns the kind. */
  private auth(req: FastifyRequest, reply: FastifyReply, allowA: boolean): 'A' | 'full' | undefined {
    const token = this.readToken(req);
    this.log.push({
      seq: ++this.seq,
      method: req.method,
      path: req.url,
      token,
      authorization: req.headers.authorization,
      requestId: req.headers['x-request-id'] as string | undefined,
    });
    const kind = token !== undefined ? this.accepted.get(token) : undefined;
    if (!kind || (kind === 'A' && !allowA)) {
      void this.reply(reply, req, 401, 2000);
      return undefined;
    }
    return kind;
  }

  async start(): Promise<this> {
    const app = Fastify({ logger: false });
    const v = this.version;
    app.get('/ocpi/versions', async (req, reply) => {
      if (!this.auth(req, reply, true)) return reply;
      const list = this.opts.versions?.(this.url) ?? [
        { version: '2.1.1', url: `${this.url}/ocpi/2.1.1` },
        { version: v, url: `${this.url}/ocpi/${v}` },
      ];
      return this.reply(reply, req, 200, 1000, list);
    });
    app.get(`/ocpi/${v}`, async (req, reply) => {
      if (!this.auth(req, reply, true)) return reply;
      const endpoints = this.opts.endpoints?.(this.url, v) ?? [
        { identifier: 'credentials', role: 'SENDER', url: `${this.url}/ocpi/${v}/credentials` },
        { identifier: 'locations', role: 'SENDER', url: `${this.url}/ocpi/cpo/${v}/locations` },
      ];
      return this.reply(reply, req, 200, 1000, { version: v, endpoints });
    });
    app.get(`/ocpi/cpo/${v}/locations`, async (req, reply) => {
      if (!this.auth(req, reply, false)) return reply;
      return this.reply(reply, req, 200, 1000, []);
    });
    app.get(`/ocpi/${v}/credentials`, async (req, reply) => {
      const kind = this.auth(req, reply, true);
      if (!kind) return reply;
      return this.reply(reply, req, 200, 1000, { token: this.readToken(req), url: this.versionsUrl, roles: this.roles() });
    });
    const register = async (req: FastifyRequest, reply: FastifyReply, method: 'POST' | 'PUT') => {
      const kind = this.auth(req, reply, true);
      if (!kind) return reply;
      const canned = this.opts.credentialsAnswer?.(method);
      if (canned) return reply.code(canned.http).send(canned.body);
      if (method === 'POST' && kind !== 'A') return this.reply(reply, req, 405, 2000);
      if (method === 'PUT' && kind !== 'full') return this.reply(reply, req, 405, 2000);
      const body = req.body as { token: string; url: string; roles: unknown[] };
      this.events.push(`${method} received`);
      // "The Receiver stores CREDENTIALS_TOKEN_B and uses it for any requests to the Sender Platform,
      // including the version information and details."
      const versions = await fetch(body.url, { headers: { authorization: this.header(body.token) } });
      const vb = (await versions.json()) as { status_code: number; data: Array<{ version: string; url: string }> };
      this.events.push(`GET versions with B → ${versions.status}`);
      if (versions.status !== 200 || vb.status_code !== 1000) return this.reply(reply, req, 200, 3001);
      // A 2.2-era peer reads a 2.2.1 party too (the same objects); it only keeps sending raw tokens.
      const mine = vb.data.find((x) => x.version === v) ?? vb.data.find((x) => x.version === '2.2.1');
      if (!mine) return this.reply(reply, req, 200, 3002);
      const details = await fetch(mine.url, { headers: { authorization: this.header(body.token) } });
      const db = (await details.json()) as { data: { endpoints: ForeignPeer['amplineEndpoints'] } };
      this.events.push(`GET details with B → ${details.status}`);
      this.amplineEndpoints = db.data.endpoints;
      this.amplineVersionsUrl = body.url;
      this.tokenForAmpline = body.token;
      for (const [t, k] of this.accepted) if (k === 'A' || method === 'PUT') this.accepted.delete(t);
      const tokenC = randomUUID();
      this.accepted.set(tokenC, 'full');
      this.events.push(`${method} answered`);
      return this.reply(reply, req, 200, 1000, { token: tokenC, url: this.versionsUrl, roles: this.roles() });
    };
    app.post(`/ocpi/${v}/credentials`, (req, reply) => register(req, reply, 'POST'));
    app.put(`/ocpi/${v}/credentials`, (req, reply) => register(req, reply, 'PUT'));
    app.delete(`/ocpi/${v}/credentials`, async (req, reply) => {
      const kind = this.auth(req, reply, false);
      if (!kind) return reply;
      this.accepted.clear();
      this.tokenForAmpline = undefined;
      this.events.push('DELETE');
      return this.reply(reply, req, 200, 1000);
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    this.url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    this.app = app;
    return this;
  }

  /** A CREDENTIALS_TOKEN_A this peer hands out (for Ampline to register with it). */
  issueTokenA(): string {
    const t = randomUUID();
    this.accepted.set(t, 'A');
    return t;
  }

  /** GET with our token for Ampline (the spec's Authorization header), through the peer's encoding. */
  async call(url: string, method = 'GET', body?: unknown, token = this.tokenForAmpline): Promise<Answer> {
    return ocpi(url, { method, authorization: this.header(token ?? ''), ...(body !== undefined ? { body } : {}) });
  }

  /**
   * The Sender side of "Registration": GET versions and details with token A, pick our version, POST our
   * credentials with a fresh token B; "the Sender SHALL use CREDENTIALS_TOKEN_C in future requests".
   */
  async registerWith(versionsUrl: string, tokenA: string): Promise<{ post: Answer; tokenB: string }> {
    const versions = await this.call(versionsUrl, 'GET', undefined, tokenA);
    if (versions.status !== 200) throw new Error(`versions: ${versions.status}`);
    const mine = (versions.body.data as Array<{ version: string; url: string }>).find((x) => x.version === '2.2.1' || x.version === this.version);
    if (!mine) throw new Error('no mutual version');
    const details = await this.call(mine.url, 'GET', undefined, tokenA);
    this.amplineEndpoints = details.body.data.endpoints;
    const credentials = this.amplineEndpoints.find((e) => e.identifier === 'credentials');
    if (!credentials) throw new Error('no credentials endpoint');
    const tokenB = randomUUID();
    this.accepted.set(tokenB, 'full'); // Ampline calls us with it
    const post = await this.call(credentials.url, 'POST', { token: tokenB, url: this.versionsUrl, roles: this.roles() }, tokenA);
    if (post.status === 200 && post.body.status_code === 1000) {
      this.tokenForAmpline = post.body.data.token;
      this.amplineVersionsUrl = versionsUrl;
    }
    return { post, tokenB };
  }

  credentialsUrl(): string {
    return this.amplineEndpoints.find((e) => e.identifier === 'credentials')!.url;
  }

  async stop(): Promise<void> {
    await this.app?.close();
  }
}

/** Wait-free check helper: the request ids of a response. */
export function ids(a: Answer): { requestId: string | null; correlationId: string | null } {
  return { requestId: a.headers.get('x-request-id'), correlationId: a.headers.get('x-correlation-id') };
}

/** A TCP port nothing listens on (for 3001 cases). */
export async function deadUrl(): Promise<string> {
  const app = Fastify();
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  await app.close();
  return `http://127.0.0.1:${port}/ocpi/versions`;
}
