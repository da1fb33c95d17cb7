/** src/config.ts loadConfig: defaults, validation, config file, generated API key. */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/config.js';
import { DEFAULT_TRANSPORT_OPTIONS } from '../../src/ocpp/transport.js';
import { tempDir } from '../helpers/csms.js';

const dirs: string[] = [];
const dir = (): string => {
  const d = tempDir('ampline-config-');
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('loadConfig', () => {
  test('defaults', () => {
    const d = dir();
    const c = loadConfig({ AMPLINE_API_KEY: 'a-long-enough-key' }, { dataDir: d });
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.port, 8180);
    assert.equal(c.dataDir, d);
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.natsUrl, undefined);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.apiKey, 'a-long-enough-key');
    assert.equal(c.apiKeyGenerated, false);
    assert.deepEqual(c.ocpp, DEFAULT_TRANSPORT_OPTIONS);
    assert.deepEqual(c.boot, { unknownStations: 'Accepted', heartbeatIntervalS: 300, retryIntervalS: 30 });
    assert.deepEqual(c.auth, { unknownTokens: 'accept', concurrentTx: 'allow' });
    assert.ok(c.nodeId.length > 0);
  });

  test('environment values are read and converted', () => {
    const c = loadConfig(
      {
        AMPLINE_API_KEY: 'a-long-enough-key',
        AMPLINE_DATA_DIR: dir(),
        AMPLINE_PORT: '9001',
        AMPLINE_HOST: '127.0.0.1',
        AMPLINE_NODE_ID: 'node-7',
        AMPLINE_LOG_LEVEL: 'warn',
        AMPLINE_OCPP_MAX_FRAME_BYTES: '65536',
        AMPLINE_OCPP_PING_INTERVAL_S: '45',
        AMPLINE_OCPP_CALL_TIMEOUT_S: '12',
        AMPLINE_UNKNOWN_STATIONS: 'Pending',
        AMPLINE_HEARTBEAT_INTERVAL_S: '60',
        AMPLINE_BOOT_RETRY_INTERVAL_S: '15',
        AMPLINE_UNKNOWN_TOKENS: 'reject',
        AMPLINE_CONCURRENT_TX: 'reject',
        DATABASE_URL: 'postgresql://u:p@db/ampline',
      },
    );
    assert.equal(c.port, 9001);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.nodeId, 'node-7');
    assert.equal(c.logLevel, 'warn');
    assert.deepEqual([c.ocpp.maxPayloadBytes, c.ocpp.pingIntervalMs, c.ocpp.callTimeoutMs], [65536, 45_000, 12_000]);
    assert.deepEqual(c.boot, { unknownStations: 'Pending', heartbeatIntervalS: 60, retryIntervalS: 15 });
    assert.deepEqual(c.auth, { unknownTokens: 'reject', concurrentTx: 'reject' });
    assert.equal(c.databaseUrl, 'postgresql://u:p@db/ampline');
  });

  test('overrides beat the environment', () => {
    const c = loadConfig({ AMPLINE_API_KEY: 'a-long-enough-key', AMPLINE_PORT: '9001', AMPLINE_HOST: '0.0.0.0' }, { port: 9002, host: '::1', dataDir: dir(), logLevel: 'silent' });
    assert.deepEqual([c.port, c.host, c.logLevel], [9002, '::1', 'silent']);
  });

  test('port 0 (any free port) is allowed', () => {
    assert.equal(loadConfig({ AMPLINE_API_KEY: 'a-long-enough-key', AMPLINE_PORT: '0' }, { dataDir: dir() }).port, 0);
    assert.equal(loadConfig({ AMPLINE_API_KEY: 'a-long-enough-key' }, { dataDir: dir(), port: 0 }).port, 0);
  });

  const invalid: Array<{ name: string; env: Record<string, string>; variable: string }> = [
    { name: 'non-numeric port', env: { AMPLINE_PORT: 'eighty' }, variable: 'AMPLINE_PORT' },
    { name: 'port out of range', env: { AMPLINE_PORT: '65536' }, variable: 'AMPLINE_PORT' },
    { name: 'negative port', env: { AMPLINE_PORT: '-1' }, variable: 'AMPLINE_PORT' },
    { name: 'fractional port', env: { AMPLINE_PORT: '80.5' }, variable: 'AMPLINE_PORT' },
    { name: 'frame limit below 1 KiB', env: { AMPLINE_OCPP_MAX_FRAME_BYTES: '100' }, variable: 'AMPLINE_OCPP_MAX_FRAME_BYTES' },
    { name: 'ping interval 0', env: { AMPLINE_OCPP_PING_INTERVAL_S: '0' }, variable: 'AMPLINE_OCPP_PING_INTERVAL_S' },
    { name: 'unknown log level', env: { AMPLINE_LOG_LEVEL: 'loud' }, variable: 'AMPLINE_LOG_LEVEL' },
    { name: 'unknown station policy', env: { AMPLINE_UNKNOWN_STATIONS: 'Maybe' }, variable: 'AMPLINE_UNKNOWN_STATIONS' },
    { name: 'unknown token policy', env: { AMPLINE_UNKNOWN_TOKENS: 'sometimes' }, variable: 'AMPLINE_UNKNOWN_TOKENS' },
    { name: 'short API key', env: { AMPLINE_API_KEY: 'short' }, variable: 'AMPLINE_API_KEY' },
    { name: 'non-postgres DATABASE_URL', env: { DATABASE_URL: 'mysql://x' }, variable: 'DATABASE_URL' },
  ];
  for (const c of invalid) {
    test(`invalid: ${c.name} → ConfigError naming ${c.variable}`, () => {
      assert.throws(
        () => loadConfig({ AMPLINE_API_KEY: 'a-long-enough-key', ...c.env }, { dataDir: dir() }),
        (err: unknown) => err instanceof ConfigError && err.name === 'ConfigError' && err.message.includes(c.variable),
      );
    });
  }

  test('config file via AMPLINE_CONFIG', () => {
    const d = dir();
    const file = join(d, 'ampline.json');
    writeFileSync(file, JSON.stringify({ AMPLINE_PORT: 9100, AMPLINE_UNKNOWN_TOKENS: 'reject', AMPLINE_HEARTBEAT_INTERVAL_S: 120, AMPLINE_API_KEY: 'file-api-key-123' }));
    const c = loadConfig({ AMPLINE_CONFIG: file }, { dataDir: d });
    assert.equal(c.port, 9100);
    assert.equal(c.auth.unknownTokens, 'reject');
    assert.equal(c.boot.heartbeatIntervalS, 120);
    assert.equal(c.apiKey, 'file-api-key-123');
    // Invalid values in the file are reported like environment values.
    writeFileSync(file, JSON.stringify({ AMPLINE_PORT: 'x' }));
    assert.throws(() => loadConfig({ AMPLINE_CONFIG: file, AMPLINE_API_KEY: 'a-long-enough-key' }, { dataDir: d }), /AMPLINE_PORT/);
  });

  test('config file errors: missing, not JSON, not an object, nested value', () => {
    const d = dir();
    assert.throws(() => loadConfig({ AMPLINE_CONFIG: join(d, 'missing.json') }, { dataDir: d }), ConfigError);
    const f = join(d, 'c.json');
    writeFileSync(f, '{not json');
    assert.throws(() => loadConfig({ AMPLINE_CONFIG: f }, { dataDir: d }), ConfigError);
    writeFileSync(f, '[1,2]');
    assert.throws(() => loadConfig({ AMPLINE_CONFIG: f }, { dataDir: d }), ConfigError);
    writeFileSync(f, JSON.stringify({ AMPLINE_PORT: { n: 1 } }));
    assert.throws(() => loadConfig({ AMPLINE_CONFIG: f }, { dataDir: d }), (e: unknown) => e instanceof ConfigError && e.message.includes('AMPLINE_PORT'));
  });

  test('without a configured key one is generated, stored in the data dir (0600) and reused', () => {
    const d = dir();
    const first = loadConfig({}, { dataDir: d });
    assert.equal(first.apiKeyGenerated, true);
    assert.ok(first.apiKey.length >= 24);
    const file = join(d, 'api-key');
    assert.ok(existsSync(file));
    assert.equal(readFileSync(file, 'utf8').trim(), first.apiKey);
    if (process.platform !== 'win32') assert.equal(statSync(file).mode & 0o777, 0o600);
    const second = loadConfig({}, { dataDir: d });
    assert.equal(second.apiKey, first.apiKey, 'reused, not regenerated');
    assert.equal(second.apiKeyGenerated, true);
    // Another data dir gets its own key.
    assert.notEqual(loadConfig({}, { dataDir: dir() }).apiKey, first.apiKey);
    // A configured key wins and nothing is written.
    const d2 = dir();
    const configured = loadConfig({ AMPLINE_API_KEY: 'configured-key-1' }, { dataDir: d2 });
    assert.deepEqual([configured.apiKey, configured.apiKeyGenerated], ['configured-key-1', false]);
    assert.equal(existsSync(join(d2, 'api-key')), false);
  });

  test('a data dir that does not exist yet is created for the generated key', () => {
    const d = join(dir(), 'nested', 'data');
    const c = loadConfig({}, { dataDir: d });
    assert.equal(readFileSync(join(d, 'api-key'), 'utf8').trim(), c.apiKey);
  });
});
