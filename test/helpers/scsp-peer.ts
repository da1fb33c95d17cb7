/**
 * A foreign SCSP for tests, built from seeds 000 and 001 alone (not from Ampline's SCSP): an OAuth 2.0
 * client-credentials token endpoint, the `/v1/scsp/...` pairing, unpair and event endpoints with
 * Bearer + `ApiKey` checks and strict OCPP schema validation, and knobs for faults (down, 500, tokens
 * revoked mid-stream, slow answers). Everything it receives is recorded in order.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { validatePayload } from '../../src/ocpp/schemas.js';

export interface PeerEvent {
  uid: string;
  protocol: string;
  action: string;
  body: unknown;
  idempotencyKey: string | undefined;
  at: number;
}

export interface ScspPeerOptions {
  clientId?: string;
  clientSecret?: string;
  apiKey?: string;
  /** Lifetime of issued tokens (s). */
  expiresIn?: number;
}

export interface ScspPeer {
  url: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  apiKey: string;
  /** Accepted events (valid, authorised), in arrival order. */
  events: PeerEvent[];
  /** Every request that was refused, with the status given. */
  refused: Array<{ path: string; status: number; reason: string }>;
  tokensIssued: number;
  /** Codes the SCSP shows its users: code → outcome of `/pair`. */
  codes: Map<string, 'ok' | 'conflict'>;
  paired: Map<string, { code: string; chargingStation: unknown; protocol: string }>;
  unpaired: string[];
  /** Fault knobs. */
  faults: { down: boolean; status500: boolean; delayMs: number };
  /** Revoke every token issued so far (the next call with one gets 401). */
  revokeTokens(): void;
  close(): Promise<void>;
  app: FastifyInstance;
}

const INCORRECT_CODE = { message: 'Incorrect Code, please check the code and try again.' };

export async function startScspPeer(opts: ScspPeerOptions = {}): Promise<ScspPeer> {
  const app = Fastify({ logger: false });
  const tokens = new Set<string>();
  let counter = 0;
  const peer = {
    url: '',
    tokenUrl: '',
    clientId: opts.clientId ?? 'ampline-cpo',
    clientSecret: opts.clientSecret ?? 'peer-secret-0123456789',
    apiKey: opts.apiKey ?? 'peer-static-api-key',
    events: [] as PeerEvent[],
    refused: [] as ScspPeer['refused'],
    tokensIssued: 0,
    codes: new Map<string, 'ok' | 'conflict'>(),
    paired: new Map<string, { code: string; chargingStation: unknown; protocol: string }>(),
    unpaired: [] as string[],
    faults: { down: false, status500: false, delayMs: 0 },
    revokeTokens() {
      tokens.clear();
    },
    async close() {
      await app.close();
    },
    app,
  } satisfies Omit<ScspPeer, 'url' | 'tokenUrl'> & { url: string; tokenUrl: string };

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.post('/oauth/token', async (req, reply) => {
    const b = (req.body ?? {}) as Record<string, string>;
    let id = b.client_id;
    let secret = b.client_secret;
    const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if ((!id || !secret) && basic) {
      const [u, p] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
      id = decodeURIComponent(u ?? '');
      secret = decodeURIComponent(p ?? '');
    }
    if (b.grant_type !== 'client_credentials') return reply.code(400).send({ error: 'unsupported_grant_type' });
    if (id !== peer.clientId || secret !== peer.clientSecret) return reply.code(401).send({ error: 'invalid_client' });
    const token = `tok-${++counter}-${Math.random().toString(36).slice(2)}`;
    tokens.add(token);
    peer.tokensIssued++;
    return { access_token: token, token_type: 'Bearer', expires_in: opts.expiresIn ?? 3600 };
  });

  /** Bearer + ApiKey check; records and answers 401 on failure. */
  const authorised = (req: { headers: Record<string, unknown>; url: string }, reply: { code: (n: number) => { send: (b: unknown) => unknown } }): boolean => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    if (!bearer || !tokens.has(bearer)) {
      peer.refused.push({ path: req.url, status: 401, reason: 'bad bearer token' });
      reply.code(401).send({ message: 'Unauthorized' });
      return false;
    }
    if (req.headers.apikey !== peer.apiKey) {
      peer.refused.push({ path: req.url, status: 401, reason: 'bad ApiKey' });
      reply.code(401).send({ message: 'Unauthorized' });
      return false;
    }
    return true;
  };

  app.addHook('onRequest', async (req, reply) => {
    if (peer.faults.down && req.url !== '/oauth/token') {
      // Like a proxy in front of a dead service.
      return reply.code(503).send({ message: 'Service Unavailable' });
    }
    if (peer.faults.delayMs > 0) await new Promise((r) => setTimeout(r, peer.faults.delayMs));
  });

  app.post<{ Params: { protocol: string } }>('/v1/scsp/:protocol/pair', async (req, reply) => {
    if (!authorised(req, reply)) return reply;
    const b = req.body as { code?: unknown; charging_station?: { uid?: unknown; evses?: unknown } } | undefined;
    if (!b || typeof b.code !== 'string' || !b.charging_station || typeof b.charging_station.uid !== 'string' || !Array.isArray(b.charging_station.evses)) {
      return reply.code(400).send({ message: 'Bad Request' });
    }
    const outcome = peer.codes.get(b.code);
    if (!outcome) return reply.code(404).send(INCORRECT_CODE);
    if (outcome === 'conflict' || peer.paired.has(b.charging_station.uid)) return reply.code(409).send({ message: 'Conflict' });
    peer.codes.delete(b.code);
    peer.paired.set(b.charging_station.uid, { code: b.code, chargingStation: b.charging_station, protocol: req.params.protocol });
    return { message: 'OK' };
  });

  app.post<{ Params: { uid: string } }>('/v1/scsp/chargingstations/:uid/unpair', async (req, reply) => {
    if (!authorised(req, reply)) return reply;
    if (!peer.paired.has(req.params.uid)) return reply.code(404).send({ message: 'Not found' });
    peer.paired.delete(req.params.uid);
    peer.unpaired.push(req.params.uid);
    return { message: 'Charging station successfully unpaired.' };
  });

  const event = (action: string) => async (req: { params: { uid: string; protocol: string }; body: unknown; headers: Record<string, unknown>; url: string }, reply: { code: (n: number) => { send: (b: unknown) => unknown } }) => {
    if (!authorised(req, reply)) return reply;
    if (peer.faults.status500) {
      peer.refused.push({ path: req.url, status: 500, reason: 'fault' });
      return reply.code(500).send({ message: 'Internal Server Error' });
    }
    const protocol = req.params.protocol;
    if (protocol !== 'ocpp2.0.1' && protocol !== 'ocpp1.6') return reply.code(400).send({ message: `unknown payload protocol ${protocol}` });
    const v = validatePayload(protocol, action, 'req', req.body);
    if (!v.ok) {
      peer.refused.push({ path: req.url, status: 400, reason: v.message });
      return reply.code(400).send({ message: v.message });
    }
    peer.events.push({ uid: req.params.uid, protocol, action, body: req.body, idempotencyKey: req.headers['idempotency-key'] as string | undefined, at: Date.now() });
    return { message: 'OK' };
  };
  app.post('/v1/scsp/chargingstations/:uid/events/:protocol/TransactionEvent/', event('TransactionEvent') as never);
  app.post('/v1/scsp/chargingstations/:uid/events/:protocol/TransactionEvent', event('TransactionEvent') as never);
  app.post('/v1/scsp/chargingstations/:uid/events/:protocol/MeterValues', event('MeterValues') as never);
  // 1.6 payloads forwarded as 1.6 (Ampline's documented interpretation for ocpp1.6 partners).
  for (const a of ['StartTransaction', 'StopTransaction', 'StatusNotification']) {
    app.post(`/v1/scsp/chargingstations/:uid/events/:protocol/${a}`, event(a) as never);
  }

  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  peer.url = `http://127.0.0.1:${port}`;
  peer.tokenUrl = `${peer.url}/oauth/token`;
  return peer as ScspPeer;
}
