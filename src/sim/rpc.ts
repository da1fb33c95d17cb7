/**
 * Narrow, typed view of `ocpp-rpc` (CommonJS, loosely typed). Only what the simulator and its tests use
 * is declared; everything crosses this boundary as `unknown` and is narrowed by the callers.
 *
 * `createRequire` is used because ocpp-rpc's index spreads its exports (`...symbols`), which Node's
 * CJS named-export detection cannot see (`NOREPLY` would be missing from a named ESM import).
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';

export interface RpcHandlerContext {
  messageId: string;
  method: string;
  params: unknown;
  signal: AbortSignal;
}

export type RpcHandler = (ctx: RpcHandlerContext) => Promise<unknown>;

export interface RpcCallOptions {
  callTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface RpcMessageEvent {
  message: string;
  outbound: boolean;
}

/** Events of an RPC client (the charger's socket or the server's view of one charger). */
export interface RpcClientEvents {
  open: [{ response: unknown }];
  close: [{ code: number | undefined; reason: string | undefined }];
  disconnect: [{ code: number | undefined; reason: string | undefined }];
  message: [RpcMessageEvent];
  socketError: [Error];
  badMessage: [{ error: Error }];
}

export interface RpcClient {
  readonly identity: string | undefined;
  readonly protocol: string | undefined;
  /** ws readyState: 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  readonly state: number;
  connect(): Promise<unknown>;
  close(opts?: { code?: number; reason?: string; awaitPending?: boolean; force?: boolean }): Promise<unknown>;
  call(method: string, params?: unknown, options?: RpcCallOptions): Promise<unknown>;
  handle(handler: RpcHandler): void;
  handle(method: string, handler: RpcHandler): void;
  reconfigure(options: Partial<RpcClientOptions>): void;
  on<E extends keyof RpcClientEvents>(event: E, listener: (...args: RpcClientEvents[E]) => void): this;
  once<E extends keyof RpcClientEvents>(event: E, listener: (...args: RpcClientEvents[E]) => void): this;
  removeAllListeners(event?: keyof RpcClientEvents): this;
}

export interface RpcClientOptions {
  identity: string;
  endpoint: string;
  protocols: string[];
  password?: string;
  reconnect: boolean;
  callTimeoutMs: number;
  pingIntervalMs: number;
  callConcurrency: number;
  strictMode: boolean;
  respondWithDetailedErrors: boolean;
}

export interface RpcHandshake {
  identity: string;
  protocols: Set<string>;
  password: Buffer | undefined;
  endpoint: string;
}

export interface RpcServerClient extends RpcClient {
  readonly handshake: RpcHandshake;
}

export interface RpcServerOptions {
  protocols: string[];
  callTimeoutMs?: number;
  pingIntervalMs?: number;
  strictMode?: boolean;
}

export interface RpcServer {
  auth(
    cb: (
      accept: (session?: Record<string, unknown>, protocol?: string) => void,
      reject: (code: number, message: string) => void,
      handshake: RpcHandshake,
    ) => void,
  ): void;
  listen(port: number, host?: string): Promise<Server>;
  close(opts: { code?: number; reason?: string; awaitPending?: boolean; force?: boolean }): Promise<void>;
  on(event: 'client', listener: (client: RpcServerClient) => void): this;
}

/** An RPC error as thrown by ocpp-rpc for a received CALLERROR (and accepted by it from handlers). */
export interface RpcError extends Error {
  rpcErrorCode: string;
  details?: unknown;
}

interface OcppRpcModule {
  RPCClient: new (options: RpcClientOptions) => RpcClient;
  RPCServer: new (options: RpcServerOptions) => RpcServer;
  createRPCError(code: string, message?: string, details?: Record<string, unknown>): RpcError;
  NOREPLY: symbol;
  TimeoutError: new (message?: string) => Error;
}

const rpc = createRequire(import.meta.url)('ocpp-rpc') as OcppRpcModule;

export const NOREPLY: symbol = rpc.NOREPLY;

export function createRpcClient(options: RpcClientOptions): RpcClient {
  return new rpc.RPCClient(options);
}

export function createRpcServer(options: RpcServerOptions): RpcServer {
  return new rpc.RPCServer(options);
}

export function createRpcError(code: string, message?: string, details?: Record<string, unknown>): RpcError {
  return rpc.createRPCError(code, message, details);
}

export function isRpcError(e: unknown): e is RpcError {
  return e instanceof Error && typeof (e as Partial<RpcError>).rpcErrorCode === 'string';
}

export function isTimeoutError(e: unknown): boolean {
  return e instanceof rpc.TimeoutError;
}
