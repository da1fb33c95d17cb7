/**
 * Test helpers for the SCSP service: a real SCSP on port 0 with a fresh data directory, a CPO-side
 * caller (OAuth client credentials + Bearer + ApiKey), and a tiny fake CPO written from seed 000 and
 * protocols.md §1.6 — not from Ampline's CSMS — that hosts `/v1/cpo/{pp}/pair`, the unpair route and the
 * OCPP-format SetChargingProfile receiver, with scriptable answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { validatePayload } from '../../src/ocpp/schemas.js';
import { loadScspConfig, type ScspConfig } from '../../src/scsp/config.js';
import { startScsp, type Scsp, type ScspDeps } from '../../src/scsp/app.js';
import { silentLogger } from '../../src/util/log.js';

export const ADMIN_KEY = 'scsp-admin-key-123';
export const INCORRECT = 'Incorrect Code, please check the code and try again.';
export const UNPAIRED = 'Charging station successfully unpaired.';

export interface TestScsp extends Scsp {
  dataDir: string;
  destroy(): Promise<void>;
}

export function tempDir(prefix = 'ampline-scsp-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startTestScsp(opts: { env?: Record<string, string>; deps?: ScspDeps; tweak?: (c: ScspConfig) => void; dataDir?: string } = {}): Promise<TestScsp> {
  const dataDir = opts.dataDir ?? tempDir();
  const config = loadScspConfig(
    { AMPLINE_SCSP_API_KEY: ADMIN_KEY, AMPLINE_SCSP_REPLAN_INTERVAL_S: '0', ...opts.env },
    { host: '127.0.0.1', port: 0, dataDir, logLevel: 'silent' },
  );
  // Retries in milliseconds, not seconds: tests wait for them with idle(), never with timers.
  config.delivery.retryBaseMs = 2;
  config.delivery.retryMaxMs = 10;
  opts.tweak?.(config);
  const scsp = await startScsp(config, { log: silentLogger(), ...opts.deps });
  return Object.assign(scsp, {
    dataDir,
    async destroy() {
      await scsp.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

export interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

export async function call(
  base: string,
  method: string,
  path: string,
  opts: { body?: unknown; raw?: string; form?: Record<string, string> | string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.form !== undefined) {
    body = typeof opts.form === 'string' ? opts.form : new URLSearchParams(opts.form).toString();
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

/** The SCSP admin API with the admin key. */
export const admin = (scsp: Pick<Scsp, 'url'>, method: string, path: string, body?: unknown, key = ADMIN_KEY) =>
  call(scsp.url, method, path, { ...(body !== undefined ? { body } : {}), headers: { 'x-api-key': key } });

export interface CpoCredentials {
  cpoId: string;
  clientId: string;
  clientSecret: string;
  apiKey: string;
  tokenUrl: string;
}

/** Registers a CPO through the admin API; its base URL is the fake CPO's (or a dead port). */
export async function registerCpo(
  scsp: Pick<Scsp, 'url'>,
  id: string,
  opts: { baseUrl?: string; cpoToken?: string; payloadProtocol?: 'ocpp2.0.1' | 'ocpp1.6'; clientId?: string } = {},
): Promise<CpoCredentials> {
  const r = await admin(scsp, 'POST', '/api/v1/cpos', {
    id,
    baseUrl: opts.baseUrl ?? 'http://127.0.0.1:9',
    cpoToken: opts.cpoToken ?? `cpo-token-for-scsp-${id}-0123456789`,
    payloadProtocol: opts.payloadProtocol ?? 'ocpp2.0.1',
    ...(opts.clientId ? { clientId: opts.clientId } : {}),
  });
  if (r.status !== 201) throw new Error(`registerCpo ${id}: ${r.status} ${r.text}`);
  return { cpoId: id, ...r.body.credentials };
}

/** What a CPO does: fetch a token (client credentials), then call `/v1/scsp/...` with Bearer + ApiKey. */
export class CpoCaller {
  token: string | undefined;
  constructor(
    readonly scsp: Pick<Scsp, 'url'>,
    readonly creds: CpoCredentials,
  ) {}

  async fetchToken(): Promise<string> {
    const r = await call(this.scsp.url, 'POST', '/oauth/token', {
      form: { grant_type: 'client_credentials', client_id: this.creds.clientId, client_secret: this.creds.clientSecret, audience: 'scsp' },
    });
    if (r.status !== 200) throw new Error(`token: ${r.status} ${r.text}`);
    this.token = r.body.access_token as string;
    return this.token;
  }

  async post(path: string, body?: unknown, opts: { headers?: Record<string, string>; raw?: string; token?: string | null; apiKey?: string | null } = {}): Promise<Answer> {
    const cached = opts.token === undefined;
    const token = cached ? (this.token ?? (await this.fetchToken())) : opts.token;
    const apiKey = opts.apiKey === undefined ? this.creds.apiKey : opts.apiKey;
    const headers: Record<string, string> = { ...opts.headers };
    if (token !== null && token !== undefined) headers.authorization = `Bearer ${token}`;
    if (apiKey !== null) headers.apikey = apiKey;
    const send = () => call(this.scsp.url, 'POST', path, { ...(body !== undefined ? { body } : {}), ...(opts.raw !== undefined ? { raw: opts.raw } : {}), headers });
    const res = await send();
    // Like a real CPO client: a cached token that expired (401 invalid_token) is refreshed once.
    if (cached && res.status === 401 && /invalid_token/.test(res.headers.get('www-authenticate') ?? '')) {
      headers.authorization = `Bearer ${await this.fetchToken()}`;
      return send();
    }
    return res;
  }

  event(uid: string, pp: string, action: string, body: unknown, headers?: Record<string, string>): Promise<Answer> {
    const slash = action === 'TransactionEvent' ? '/' : '';
    return this.post(`/v1/scsp/chargingstations/${encodeURIComponent(uid)}/events/${pp}/${action}${slash}`, body, headers ? { headers } : {});
  }
}

/** The seed 000 example station (two EVSEs, 220 V × 16 A). */
export function seedStation(uid: string, evses = 2): Record<string, unknown> {
  const all = [
    { evse_id: 1, capabilities: ['CHARGING_PROFILE_CAPABLE'], connectors: [{ id: '1', power_type: 'AC_3_PHASE', max_voltage: 220, max_amperage: 16 }] },
    {
      evse_id: 2,
      capabilities: ['CHARGING_PROFILE_CAPABLE'],
      connectors: [
        { id: '1', power_type: 'AC_3_PHASE', max_voltage: 220, max_amperage: 16 },
        { id: '2', power_type: 'AC_1_PHASE', max_voltage: 220, max_amperage: 16 },
      ],
    },
  ];
  return { uid, evses: all.slice(0, evses) };
}

/** The SCSP issues a code (admin API) and the CPO redeems it with `/v1/scsp/{pp}/pair`. */
export async function pairStation(scsp: Pick<Scsp, 'url'>, cpo: CpoCaller, uid: string, pp: 'ocpp2.0.1' | 'ocpp1.6' = 'ocpp2.0.1', station = seedStation(uid)): Promise<void> {
  const code = await admin(scsp, 'POST', '/api/v1/pairing-codes', { userId: `driver-of-${uid}` });
  if (code.status !== 201) throw new Error(`code: ${code.status} ${code.text}`);
  const r = await cpo.post(`/v1/scsp/${pp}/pair`, { code: code.body.code, charging_station: station });
  if (r.status !== 200) throw new Error(`pair: ${r.status} ${r.text}`);
}

// ── a fake CPO ───────────────────────────────────────────────────────────────────────────────

export interface ReceivedProfile {
  uid: string;
  pp: string;
  body: any;
  /** What the fake answered. */
  status: number;
}

export interface FakeCpo {
  url: string;
  /** The bearer token the SCSP must present. */
  token: string;
  /** CPO-issued codes → the charging_station answered for them. */
  codes: Map<string, unknown>;
  /** Stations the CPO considers paired (for its unpair route). */
  paired: Set<string>;
  unpairCalls: string[];
  pairCalls: Array<{ pp: string; body: unknown }>;
  /** SetChargingProfile requests received (schema-valid or not), in order. */
  profiles: ReceivedProfile[];
  /** Scripted statuses for the next SetChargingProfile answers (then 200). 0 = close the connection. */
  profileAnswers: number[];
  /** Scripted status for the next unpair / pair answers (undefined: normal behaviour). */
  unpairAnswer: number | undefined;
  pairAnswer: { status: number; body: unknown } | undefined;
  refused: Array<{ path: string; status: number }>;
  close(): Promise<void>;
  app: FastifyInstance;
}

const CPO_MESSAGES: Record<number, string> = {
  400: 'Invalid charging profile.',
  404: 'Unknown charging station uid.',
  500: 'Charging station did not answer in time.',
  503: 'Charging station is offline.',
};

export async function startFakeCpo(opts: { token?: string } = {}): Promise<FakeCpo> {
  const app = Fastify({ logger: false });
  const cpo: Omit<FakeCpo, 'url'> & { url: string } = {
    url: '',
    token: opts.token ?? 'fake-cpo-token-for-the-scsp-0123',
    codes: new Map(),
    paired: new Set(),
    unpairCalls: [],
    pairCalls: [],
    profiles: [],
    profileAnswers: [],
    unpairAnswer: undefined,
    pairAnswer: undefined,
    refused: [],
    close: async () => {
      await app.close();
    },
    app,
  };
  app.addHook('onRequest', async (req, reply) => {
    if (req.headers.authorization !== `Bearer ${cpo.token}`) {
      cpo.refused.push({ path: req.url, status: 401 });
      return reply.code(401).send({ message: 'Unauthorized' });
    }
    return undefined;
  });
  app.post<{ Params: { pp: string } }>('/v1/cpo/:pp/pair', async (req, reply) => {
    cpo.pairCalls.push({ pp: req.params.pp, body: req.body });
    if (cpo.pairAnswer) return reply.code(cpo.pairAnswer.status).send(cpo.pairAnswer.body);
    const code = (req.body as { code?: unknown } | undefined)?.code;
    if (typeof code !== 'string') return reply.code(400).send({ message: 'Bad Request' });
    const station = cpo.codes.get(code);
    if (!station) return reply.code(404).send({ message: 'Incorrect Code, please check the code and try again.' });
    cpo.codes.delete(code);
    cpo.paired.add((station as { uid: string }).uid);
    return { charging_station: station };
  });
  app.post<{ Params: { uid: string } }>('/v1/cpo/chargingstations/:uid/unpair', async (req, reply) => {
    cpo.unpairCalls.push(req.params.uid);
    if (cpo.unpairAnswer !== undefined) return reply.code(cpo.unpairAnswer).send({ message: 'scripted' });
    if (!cpo.paired.delete(req.params.uid)) return reply.code(404).send({ message: 'Charging station not found.' });
    return { message: 'Charging station successfully unpaired.' };
  });
  app.post<{ Params: { uid: string; pp: string } }>('/v1/cpo/chargingstations/:uid/events/:pp/SetChargingProfile', async (req, reply) => {
    const { uid, pp } = req.params;
    const scripted = cpo.profileAnswers.shift();
    if (scripted === 0) {
      cpo.profiles.push({ uid, pp, body: req.body, status: 0 });
      reply.hijack();
      req.raw.socket.destroy(); // no answer at all
      return reply;
    }
    const v = pp === 'ocpp2.0.1' || pp === 'ocpp1.6' ? validatePayload(pp, 'SetChargingProfile', 'req', req.body) : { ok: false as const, message: 'pp' };
    const status = !v.ok ? 400 : (scripted ?? 200);
    cpo.profiles.push({ uid, pp, body: req.body, status });
    if (status === 200) return { message: 'Charging profile accepted.' };
    return reply.code(status).send({ message: v.ok ? (CPO_MESSAGES[status] ?? 'scripted') : `schema: ${v.message}` });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  cpo.url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return cpo as FakeCpo;
}

// ── OCPP payload builders ────────────────────────────────────────────────────────────────────

export const iso = (ms: number): string => new Date(ms).toISOString();

export function te201(a: {
  eventType: 'Started' | 'Updated' | 'Ended';
  tx: string;
  seqNo: number;
  at: number;
  evse?: number;
  triggerReason?: string;
  chargingState?: string;
  stoppedReason?: string;
  energyWh?: number;
  powerW?: number;
  soc?: number;
}): Record<string, unknown> {
  const sampled: Array<Record<string, unknown>> = [];
  if (a.energyWh !== undefined) sampled.push({ value: a.energyWh, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } });
  if (a.powerW !== undefined) sampled.push({ value: a.powerW, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W' } });
  if (a.soc !== undefined) sampled.push({ value: a.soc, measurand: 'SoC', unitOfMeasure: { unit: 'Percent' } });
  const transactionInfo: Record<string, unknown> = { transactionId: a.tx };
  if (a.chargingState) transactionInfo.chargingState = a.chargingState;
  if (a.stoppedReason) transactionInfo.stoppedReason = a.stoppedReason;
  const out: Record<string, unknown> = {
    eventType: a.eventType,
    timestamp: iso(a.at),
    triggerReason: a.triggerReason ?? (a.eventType === 'Started' ? 'Authorized' : a.eventType === 'Ended' ? 'RemoteStop' : 'ChargingStateChanged'),
    seqNo: a.seqNo,
    transactionInfo,
  };
  if (a.evse !== undefined) out.evse = { id: a.evse, connectorId: 1 };
  if (sampled.length > 0) out.meterValue = [{ timestamp: iso(a.at), sampledValue: sampled }];
  return out;
}

export function mv201(evseId: number, at: number, v: { energyWh?: number; powerW?: number; soc?: number }): Record<string, unknown> {
  const sampled: Array<Record<string, unknown>> = [];
  if (v.energyWh !== undefined) sampled.push({ value: v.energyWh, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } });
  if (v.powerW !== undefined) sampled.push({ value: v.powerW, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W' } });
  if (v.soc !== undefined) sampled.push({ value: v.soc, measurand: 'SoC', unitOfMeasure: { unit: 'Percent' } });
  return { evseId, meterValue: [{ timestamp: iso(at), sampledValue: sampled }] };
}

export function mv16(connectorId: number, at: number, v: { tx?: number; energyWh?: number; powerW?: number; soc?: number }): Record<string, unknown> {
  const sampled: Array<Record<string, unknown>> = [];
  if (v.energyWh !== undefined) sampled.push({ value: String(v.energyWh), measurand: 'Energy.Active.Import.Register', unit: 'Wh' });
  if (v.powerW !== undefined) sampled.push({ value: String(v.powerW), measurand: 'Power.Active.Import', unit: 'W' });
  if (v.soc !== undefined) sampled.push({ value: String(v.soc), measurand: 'SoC', unit: 'Percent' });
  const out: Record<string, unknown> = { connectorId, meterValue: [{ timestamp: iso(at), sampledValue: sampled }] };
  if (v.tx !== undefined) out.transactionId = v.tx;
  return out;
}

/** The active (or latest) session of a station/EVSE through the admin API. */
export async function sessionsOf(scsp: Pick<Scsp, 'url'>, cpoId: string, uid: string): Promise<any[]> {
  const r = await admin(scsp, 'GET', `/api/v1/sessions?cpoId=${encodeURIComponent(cpoId)}&uid=${encodeURIComponent(uid)}`);
  if (r.status !== 200) throw new Error(`sessions: ${r.status} ${r.text}`);
  return r.body.data as any[];
}
