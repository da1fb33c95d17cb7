/** Test helpers: a real CSMS on a fresh SQLite file and port 0, and raw OCPP-J clients. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ocppRpc from 'ocpp-rpc';
import { loadConfig, type CsmsConfig } from '../../src/config.js';
import { startCsms, type Csms } from '../../src/csms/app.js';
import { silentLogger } from '../../src/util/log.js';
import type { Clock } from '../../src/util/clock.js';

export function tempDir(prefix = 'ampline-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface TestCsms extends Csms {
  dataDir: string;
  /** Stop and delete the data directory. */
  destroy(): Promise<void>;
}

export async function startTestCsms(
  opts: { dataDir?: string; env?: Record<string, string>; clock?: Clock; tweak?: (c: CsmsConfig) => void } = {},
): Promise<TestCsms> {
  const dataDir = opts.dataDir ?? tempDir();
  const config = loadConfig({ AMPLINE_API_KEY: 'test-api-key-123', ...opts.env }, { host: '127.0.0.1', port: 0, dataDir, logLevel: 'silent' });
  opts.tweak?.(config);
  const csms = await startCsms(config, { log: silentLogger(), ...(opts.clock ? { clock: opts.clock } : {}) });
  return Object.assign(csms, {
    dataDir,
    async destroy() {
      await csms.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

export type RawClient = InstanceType<typeof ocppRpc.RPCClient>;

/** A bare OCPP-J client (no simulator logic) for protocol-level tests. */
export async function rawClient(
  csms: Pick<Csms, 'ocppUrl'>,
  identity: string,
  protocol: 'ocpp1.6' | 'ocpp2.0.1',
  extra: Record<string, unknown> = {},
): Promise<RawClient> {
  const cli = new ocppRpc.RPCClient({
    endpoint: csms.ocppUrl,
    identity,
    protocols: [protocol],
    reconnect: false,
    callTimeoutMs: 5000,
    ...extra,
  });
  await cli.connect();
  return cli;
}

export const nowIso = (): string => new Date().toISOString();
