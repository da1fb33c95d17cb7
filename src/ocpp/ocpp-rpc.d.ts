// Minimal typings for the parts of ocpp-rpc (CJS, untyped) that Ampline uses.
declare module 'ocpp-rpc' {
  import type { EventEmitter } from 'node:events';
  import type { IncomingMessage } from 'node:http';
  import type { Duplex } from 'node:stream';

  export interface Handshake {
    remoteAddress: string | undefined;
    headers: Record<string, string | string[] | undefined>;
    protocols: Set<string>;
    endpoint: string;
    identity: string;
    query: URLSearchParams;
    request: IncomingMessage;
    password: Buffer | undefined;
  }

  export interface HandlerContext {
    messageId: string;
    method: string;
    params: unknown;
    signal: AbortSignal;
    reply: (value: unknown) => void;
  }

  export interface CallOptions {
    callTimeoutMs?: number;
    signal?: AbortSignal;
    noReply?: boolean;
  }

  export class RPCClient extends EventEmitter {
    constructor(options: Record<string, unknown>);
    readonly identity: string;
    readonly protocol: string | undefined;
    readonly state: number;
    handle(handler: (ctx: HandlerContext) => unknown): void;
    handle(method: string, handler: (ctx: HandlerContext) => unknown): void;
    call(method: string, params?: unknown, options?: CallOptions): Promise<unknown>;
    connect(): Promise<unknown>;
    close(options?: { code?: number; reason?: string; awaitPending?: boolean; force?: boolean }): Promise<unknown>;
    sendRaw(message: string): void;
  }

  export class RPCServerClient extends RPCClient {
    readonly handshake: Handshake;
    readonly session: Record<string, unknown>;
  }

  export class RPCServer extends EventEmitter {
    constructor(options: Record<string, unknown>);
    auth(
      cb: (
        accept: (session?: Record<string, unknown>, protocol?: string) => void,
        reject: (code?: number, message?: string) => void,
        handshake: Handshake,
        signal: AbortSignal,
      ) => void | Promise<void>,
    ): void;
    readonly handleUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => Promise<void>;
    close(options?: { code?: number; reason?: string; awaitPending?: boolean; force?: boolean }): Promise<void>;
    listen(port?: number, host?: string): Promise<import('node:http').Server>;
  }

  export class RPCError extends Error {
    rpcErrorCode: string;
    details: unknown;
  }
  export class TimeoutError extends Error {}
  export function createRPCError(type: string, message?: string, details?: Record<string, unknown>): RPCError;
  export const NOREPLY: unique symbol;

  const ocppRpc: {
    RPCServer: typeof RPCServer;
    RPCClient: typeof RPCClient;
    RPCError: typeof RPCError;
    TimeoutError: typeof TimeoutError;
    createRPCError: typeof createRPCError;
    NOREPLY: typeof NOREPLY;
  };
  export default ocppRpc;
}
