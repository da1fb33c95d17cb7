/**
 * A bare CSMS for simulator tests: an ocpp-rpc RPCServer on 127.0.0.1:0 accepting both subprotocols,
 * answering the charger's messages minimally, recording every frame, and validating every message the
 * simulator sends (CALL payloads and the CALLRESULTs it answers with) against typed-ocpp's JSON schemas
 * with its own strict Ajv (not typed-ocpp's validate, which strips unknown properties).
 */
import type { AddressInfo } from 'node:net';
import AjvModule from 'ajv';
import type { ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';
// typed-ocpp's schema modules (= OCPP16.schemas / OCPP20.schemas) without its index, which compiles
// all of its own validators at load time (several seconds per test file).
import * as schemas16 from 'typed-ocpp/dist/ocpp16/schemas.js';
import * as schemas201 from 'typed-ocpp/dist/ocpp20/schemas.js';
import { createRpcServer, type RpcServerClient } from '../../../src/sim/rpc.js';

const Ajv = AjvModule.default;
const addFormats = formatsModule.default;

const ajv = new Ajv({ strict: false, allErrors: true, multipleOfPrecision: 6 });
addFormats(ajv);
const cache = new Map<string, ValidateFunction>();

/** Strict schema check of a payload; returns error text or undefined. */
export function schemaErrors(protocol: string, name: string, payload: unknown): string | undefined {
  const key = `${protocol}:${name}`;
  let fn = cache.get(key);
  if (!fn) {
    const table = (protocol === 'ocpp1.6' ? schemas16 : schemas201) as unknown as Record<string, object | undefined>;
    const schema = table[name];
    if (!schema) return `no schema ${name} for ${protocol}`;
    fn = ajv.compile(schema);
    cache.set(key, fn);
  }
  if (fn(payload)) return undefined;
  return ajv.errorsText(fn.errors);
}

export interface Frame {
  identity: string;
  protocol: string;
  /** 'cp' = sent by the charge point, 'csms' = sent by this server. */
  from: 'cp' | 'csms';
  type: 2 | 3 | 4;
  id: string;
  action: string;
  payload: unknown;
  errorCode?: string;
}

export type CsmsHandler = (payload: Record<string, unknown>, ctx: { identity: string; protocol: string }) => unknown;

export interface TestCsms {
  url: string;
  frames: Frame[];
  /** Schema violations found in messages the simulator sent. */
  violations: string[];
  /** Subprotocols each identity offered in its last handshake, and its Basic-auth password. */
  handshakes: Map<string, { protocols: string[]; password?: string }>;
  /** Per-action overrides of the default answers. */
  handlers: Map<string, CsmsHandler>;
  /** Id tags the default Authorize/Start answers reject (status Blocked). */
  blocked: Set<string>;
  /** CALLs the charge point sent (optionally of one identity / action). */
  calls(identity?: string, action?: string): Frame[];
  waitFor(pred: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Wait until the charge point has sent `count` CALLs of `action`. */
  waitForCalls(identity: string, action: string, count?: number, timeoutMs?: number): Promise<Frame[]>;
  send(identity: string, action: string, payload: unknown, timeoutMs?: number): Promise<unknown>;
  client(identity: string): RpcServerClient | undefined;
  /** Drop the charger's TCP connection without a close frame. */
  drop(identity: string): Promise<void>;
  /** How many WebSocket connections each identity has opened. */
  connections: Map<string, number>;
  /** While true, new WebSocket connections are refused with HTTP 503. */
  offline: boolean;
  close(): Promise<void>;
}

export async function startTestCsms(): Promise<TestCsms> {
  const server = createRpcServer({ protocols: ['ocpp2.0.1', 'ocpp1.6'], callTimeoutMs: 5000, pingIntervalMs: 0 });
  const clients = new Map<string, RpcServerClient>();
  const frames: Frame[] = [];
  const violations: string[] = [];
  const handshakes = new Map<string, { protocols: string[]; password?: string }>();
  const handlers = new Map<string, CsmsHandler>();
  const blocked = new Set<string>();
  const connections = new Map<string, number>();
  let txCounter = 100;
  const state = { offline: false };

  server.auth((accept, reject, handshake) => {
    const hs: { protocols: string[]; password?: string } = { protocols: [...handshake.protocols] };
    if (handshake.password) hs.password = handshake.password.toString('utf8');
    handshakes.set(handshake.identity, hs);
    if (state.offline) reject(503, 'Service Unavailable');
    else accept({});
  });

  const defaults: Record<string, CsmsHandler> = {
    BootNotification: () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 }),
    Heartbeat: () => ({ currentTime: new Date().toISOString() }),
    Authorize: (p, { protocol }) => {
      if (protocol === 'ocpp1.6') return { idTagInfo: { status: blocked.has(String(p.idTag)) ? 'Blocked' : 'Accepted' } };
      const token = (p.idToken as { idToken: string }).idToken;
      return { idTokenInfo: { status: blocked.has(token) ? 'Blocked' : 'Accepted' } };
    },
    StartTransaction: (p) => ({ transactionId: ++txCounter, idTagInfo: { status: blocked.has(String(p.idTag)) ? 'Blocked' : 'Accepted' } }),
    StopTransaction: () => ({ idTagInfo: { status: 'Accepted' } }),
    TransactionEvent: (p) => {
      const token = (p.idToken as { idToken: string } | undefined)?.idToken;
      return token === undefined ? {} : { idTokenInfo: { status: blocked.has(token) ? 'Blocked' : 'Accepted' } };
    },
    DataTransfer: () => ({ status: 'Accepted' }),
  };

  server.on('client', (client) => {
    const identity = client.identity ?? '?';
    const protocol = client.protocol ?? '?';
    clients.set(identity, client);
    connections.set(identity, (connections.get(identity) ?? 0) + 1);
    const ourCalls = new Map<string, string>();
    const theirCalls = new Map<string, string>();
    client.on('message', ({ message, outbound }) => {
      const msg = JSON.parse(message) as unknown[];
      const [type, id] = msg as [2 | 3 | 4, string];
      const from = outbound ? 'csms' : 'cp';
      if (type === 2) {
        const action = String(msg[2]);
        (outbound ? ourCalls : theirCalls).set(id, action);
        frames.push({ identity, protocol, from, type, id, action, payload: msg[3] });
        if (!outbound) {
          const err = schemaErrors(protocol, `${action}Request`, msg[3]);
          if (err) violations.push(`${identity} ${action}Request: ${err} — ${JSON.stringify(msg[3])}`);
        }
      } else {
        const action = (outbound ? theirCalls : ourCalls).get(id) ?? '?';
        const f: Frame = { identity, protocol, from, type, id, action, payload: type === 3 ? msg[2] : msg[4] };
        if (type === 4) f.errorCode = String(msg[2]);
        frames.push(f);
        if (!outbound && type === 3) {
          const err = schemaErrors(protocol, `${action}Response`, msg[2]);
          if (err) violations.push(`${identity} ${action}Response: ${err} — ${JSON.stringify(msg[2])}`);
        }
      }
    });
    client.handle(async ({ method, params }) => {
      const h = handlers.get(method) ?? defaults[method];
      return h ? h(params as Record<string, unknown>, { identity, protocol }) : {};
    });
  });

  const http = await server.listen(0, '127.0.0.1');
  const { port } = http.address() as AddressInfo;

  const waitFor = async (pred: () => boolean, what: string, timeoutMs = 3000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  const calls = (identity?: string, action?: string) =>
    frames.filter((f) => f.from === 'cp' && f.type === 2 && (!identity || f.identity === identity) && (!action || f.action === action));

  return {
    url: `ws://127.0.0.1:${port}/ocpp`,
    frames,
    violations,
    handshakes,
    handlers,
    blocked,
    connections,
    calls,
    waitFor,
    async waitForCalls(identity, action, count = 1, timeoutMs = 3000) {
      await waitFor(() => calls(identity, action).length >= count, `${count} × ${action} from ${identity}`, timeoutMs);
      return calls(identity, action);
    },
    send(identity, action, payload, timeoutMs = 3000) {
      const c = clients.get(identity);
      if (!c) return Promise.reject(new Error(`${identity} not connected`));
      return c.call(action, payload, { callTimeoutMs: timeoutMs });
    },
    client: (identity) => clients.get(identity),
    async drop(identity) {
      await clients.get(identity)?.close({ force: true });
    },
    get offline() {
      return state.offline;
    },
    set offline(v: boolean) {
      state.offline = v;
    },
    async close() {
      await server.close({ force: true });
      http.close();
    },
  };
}

/** Payloads of the CALLs a charge point sent, in order. */
export function payloads<T = Record<string, unknown>>(frames: Frame[]): T[] {
  return frames.map((f) => f.payload as T);
}
