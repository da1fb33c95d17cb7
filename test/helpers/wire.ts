/**
 * Wire-level test helpers: polling, schema-checked calls through an ocpp-rpc client, and a bare
 * WebSocket client (the `ws` package) for frames no well-behaved OCPP library would send.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { validatePayload } from '../../src/ocpp/schemas.js';
import type { OcppProtocol } from '../../src/ocpp/protocol.js';
import type { RawClient } from './csms.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns a truthy value (returned) or the deadline passes (throws). */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: { timeoutMs?: number; everyMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 3000);
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'condition'} (last: ${JSON.stringify(last)})`);
    await sleep(opts.everyMs ?? 10);
  }
}

/** Assert that `payload` is a schema-valid `action` message in direction `dir` for `protocol`. */
export function assertValid(protocol: OcppProtocol, action: string, dir: 'req' | 'conf', payload: unknown): void {
  const v = validatePayload(protocol, action, dir, payload);
  assert.ok(v.ok, `${protocol} ${action}.${dir} failed schema validation: ${v.ok ? '' : v.message} — ${JSON.stringify(payload)}`);
}

/** CALL through an ocpp-rpc client and assert the CALLRESULT Ampline sent validates against the schema. */
export async function vcall<T = Record<string, unknown>>(cli: RawClient, action: string, payload: object): Promise<T> {
  const protocol = cli.protocol as OcppProtocol;
  assertValid(protocol, action, 'req', payload);
  const res = await cli.call(action, payload);
  assertValid(protocol, action, 'conf', res);
  return res as T;
}

/** The rpcErrorCode of a rejected ocpp-rpc call (throws if the call succeeded). */
export async function callError(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { rpcErrorCode?: string; message?: string };
    return { code: String(e.rpcErrorCode), message: String(e.message ?? '') };
  }
  assert.fail('expected a CALLERROR, got a CALLRESULT');
}

// ---------------------------------------------------------------------------------------------------------
// A bare WebSocket client. `ws` is a dependency of ocpp-rpc without bundled types, so it is loaded via
// require and described by the few members used here.

export interface WsSocket extends EventEmitter {
  readonly protocol: string;
  readonly readyState: number;
  send(data: string | Buffer, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}
type WsCtor = new (url: string, protocols?: string | string[], opts?: Record<string, unknown>) => WsSocket;

const require = createRequire(import.meta.url);
export const WebSocket = require('ws') as WsCtor;

export type Frame = [number, string, ...unknown[]];

export interface RawWs {
  ws: WsSocket;
  protocol: string;
  /** Every frame received so far (parsed). */
  frames: Frame[];
  /** Send a text frame verbatim. */
  sendRaw(text: string | Buffer): void;
  /** Wait for the next received frame with message id `id` (already received ones count). */
  reply(id: string, timeoutMs?: number): Promise<Frame>;
  /** Send a CALL and wait for its answer. */
  call(action: string, payload: unknown, id?: string): Promise<Frame>;
  /** Resolves with the close code once the socket closes. */
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

export type UpgradeOutcome =
  | { kind: 'open'; ws: WsSocket; protocol: string }
  | { kind: 'refused'; status: number; body: string };

/** Try a WebSocket upgrade to `url` offering `protocols` (none when empty). */
export function tryUpgrade(url: string, protocols: string[], opts: Record<string, unknown> = {}): Promise<UpgradeOutcome> {
  return new Promise((resolve, reject) => {
    // An empty list sends no Sec-WebSocket-Protocol header at all.
    const ws = new WebSocket(url, protocols, opts);
    ws.once('open', () => resolve({ kind: 'open', ws, protocol: ws.protocol }));
    ws.once('unexpected-response', (_req: unknown, res: NodeJS.ReadableStream & { statusCode: number }) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ kind: 'refused', status: res.statusCode, body }));
      res.on('error', () => resolve({ kind: 'refused', status: res.statusCode, body }));
    });
    ws.once('error', (err: Error) => reject(err));
  });
}

/** Open a bare OCPP-J socket at `${ocppUrl}/${identity}` with one subprotocol. */
export async function rawWs(ocppUrl: string, identity: string, protocol: OcppProtocol): Promise<RawWs> {
  const up = await tryUpgrade(`${ocppUrl}/${encodeURIComponent(identity)}`, [protocol]);
  if (up.kind !== 'open') throw new Error(`upgrade refused: ${up.status} ${up.body}`);
  const ws = up.ws;
  // Swallow socket errors (a test may provoke the server into closing abruptly).
  ws.on('error', () => undefined);
  const frames: Frame[] = [];
  const waiters: Array<{ id: string; resolve: (f: Frame) => void }> = [];
  ws.on('message', (data: Buffer) => {
    let f: Frame;
    try {
      f = JSON.parse(data.toString('utf8')) as Frame;
    } catch {
      return;
    }
    frames.push(f);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.id === f[1]) waiters.splice(i, 1)[0]!.resolve(f);
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
  );
  const consumed = new Set<Frame>();
  const reply = (id: string, timeoutMs = 3000): Promise<Frame> => {
    const have = frames.find((f) => f[1] === id && !consumed.has(f));
    if (have) {
      consumed.add(have);
      return Promise.resolve(have);
    }
    return new Promise<Frame>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer to message id ${id} within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({
        id,
        resolve: (f) => {
          clearTimeout(t);
          consumed.add(f);
          resolve(f);
        },
      });
    });
  };
  return {
    ws,
    protocol: ws.protocol,
    frames,
    closed,
    sendRaw: (text) => ws.send(text),
    reply,
    call(action, payload, id = randomUUID()) {
      ws.send(JSON.stringify([2, id, action, payload]));
      return reply(id);
    },
    async close() {
      if (ws.readyState === 3) return;
      ws.close(1000);
      await Promise.race([closed, sleep(1000)]);
      if (ws.readyState !== 3) ws.terminate();
    },
  };
}

/** Boot payloads per version (schema-valid). */
export const BOOT16 = { chargePointVendor: 'AmplineTest', chargePointModel: 'Raw-16' };
export const BOOT201 = { reason: 'PowerUp', chargingStation: { vendorName: 'AmplineTest', model: 'Raw-201' } };
export const bootFor = (p: OcppProtocol): object => (p === 'ocpp1.6' ? BOOT16 : BOOT201);

/** Unique station identities per test run (tests may share a CSMS). */
let n = 0;
export const uniqueId = (prefix = 'CP'): string => `${prefix}-${process.pid}-${++n}-${Math.random().toString(36).slice(2, 7)}`;
