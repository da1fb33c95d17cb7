#!/usr/bin/env node
/**
 * `ampline serve | scsp | sim | demo | bench | migrate`
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type ConfigOverrides } from './config.js';
import { startCsms } from './csms/app.js';
import { openDb } from './store/db.js';
import { createLogger } from './util/log.js';

const USAGE = `Usage: ampline <command> [options]

Commands:
  serve     Run the CSMS (OCPP 1.6J + 2.0.1 central system)
            --port N (default $AMPLINE_PORT or 8180; 0 = any free port)  --host H  --data-dir D
  scsp      Run the SCSP (smart charging service provider) service
            --port N (default $AMPLINE_SCSP_PORT or 8280; 0 = any free port)  --host H  --data-dir D
            (default $AMPLINE_SCSP_DATA_DIR or ./data-scsp)
  sim       Run simulated charge points against a CSMS
            --url ws://HOST:PORT/ocpp  --count N  --protocol ocpp1.6|ocpp2.0.1|mixed
            [--prefix SIM-] [--sessions]
  demo      The whole loop: CSMS + SCSP + simulated chargers, paired, running sessions (what npm start runs)
            --chargers N (default 10)  --port N  --scsp-port N  --data-dir D  --scsp-data-dir D
            --route ocpp-format|ocpi (default $AMPLINE_DEMO_ROUTE or ocpp-format: seed 001 events and
            the OCPP-format profile route; ocpi: OCPI 2.2.1 Sessions and ChargingProfiles)
  bench     Run the benchmarks and write BENCHMARKS.md
  migrate   Create or upgrade the database schema and exit

Configuration is read from AMPLINE_* environment variables (see README.md).`;

function overridesFrom(values: Record<string, string | boolean | undefined>): ConfigOverrides {
  const o: ConfigOverrides = {};
  if (typeof values.port === 'string') {
    const n = Number(values.port);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`--port must be an integer between 0 and 65535, got ${values.port}`);
    o.port = n;
  }
  if (typeof values.host === 'string') o.host = values.host;
  if (typeof values['data-dir'] === 'string') o.dataDir = values['data-dir'];
  return o;
}

function onSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (sig: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write(`\n${sig} received, shutting down\n`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' } },
    strict: true,
  });
  const config = loadConfig(process.env, overridesFrom(values));
  const log = createLogger({ level: config.logLevel });
  if (config.apiKeyGenerated) {
    // Printed on purpose (AMPLINE_API_KEY unset): the operator needs it to use the management API.
    process.stdout.write(`AMPLINE_API_KEY is not set; management API key (kept in ${config.dataDir}/api-key): ${config.apiKey}\n`);
  }
  const csms = await startCsms(config, { log, processMetrics: true, warmValidators: true });
  onSignals(() => csms.stop());
}

async function scsp(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' } },
    strict: true,
  });
  // Loaded on demand: the SCSP is a separate party and needs none of the CSMS's modules.
  const { loadScspConfig, ScspConfigError } = await import('./scsp/config.js');
  const { startScsp } = await import('./scsp/app.js');
  let config: ReturnType<typeof loadScspConfig>;
  try {
    config = loadScspConfig(process.env, overridesFrom(values));
  } catch (err) {
    if (err instanceof ScspConfigError) throw new ConfigError(err.message);
    throw err;
  }
  const log = createLogger({ level: config.logLevel, name: 'ampline-scsp' });
  if (config.apiKeyGenerated) {
    // Printed on purpose (AMPLINE_SCSP_API_KEY unset): the operator needs it to use the SCSP admin API.
    process.stdout.write(`AMPLINE_SCSP_API_KEY is not set; SCSP admin API key (kept in ${config.dataDir}/api-key): ${config.apiKey}\n`);
  }
  let app: Awaited<ReturnType<typeof startScsp>>;
  try {
    app = await startScsp(config, { log, processMetrics: true, warmValidators: true });
  } catch (err) {
    if (err instanceof ScspConfigError) throw new ConfigError(err.message);
    throw err;
  }
  onSignals(() => app.stop());
}

async function sim(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      count: { type: 'string', default: '1' },
      protocol: { type: 'string', default: 'ocpp1.6' },
      prefix: { type: 'string', default: 'SIM-' },
      sessions: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.url) throw new ConfigError('--url is required, e.g. --url ws://127.0.0.1:8180/ocpp');
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1) throw new ConfigError(`--count must be a positive integer, got ${values.count}`);
  if (!['ocpp1.6', 'ocpp2.0.1', 'mixed'].includes(values.protocol!)) {
    throw new ConfigError(`--protocol must be ocpp1.6, ocpp2.0.1 or mixed, got ${values.protocol}`);
  }
  const { simMain } = await import('./sim/index.js');
  const fleet = await simMain({ url: values.url, count, protocol: values.protocol!, prefix: values.prefix!, sessions: values.sessions! });
  process.stdout.write(`${count} simulated charge point(s) connected to ${values.url}\n`);
  onSignals(() => fleet.stop());
}

async function demo(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      'scsp-port': { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'scsp-data-dir': { type: 'string' },
      chargers: { type: 'string', default: '10' },
      route: { type: 'string' },
    },
    strict: true,
  });
  const config = loadConfig(process.env, overridesFrom(values));
  const route = values.route ?? process.env.AMPLINE_DEMO_ROUTE ?? 'ocpp-format';
  if (route !== 'ocpp-format' && route !== 'ocpi') throw new ConfigError(`--route (AMPLINE_DEMO_ROUTE) must be ocpp-format or ocpi, got ${route}`);
  const { loadScspConfig, ScspConfigError } = await import('./scsp/config.js');
  let scspConfig: ReturnType<typeof loadScspConfig>;
  try {
    scspConfig = loadScspConfig(process.env, {
      ...(values['scsp-port'] !== undefined ? { port: Number(values['scsp-port']) } : {}),
      ...(values['scsp-data-dir'] !== undefined ? { dataDir: values['scsp-data-dir'] } : {}),
      host: config.host === '0.0.0.0' ? '127.0.0.1' : config.host,
    });
  } catch (err) {
    if (err instanceof ScspConfigError) throw new ConfigError(err.message);
    throw err;
  }
  // The demo optimises against the real day-ahead day shipped with Ampline, replayed on every day, and
  // assumes short stays (2 h, 10 kWh) so that plans visibly shift charging within the hour.
  if (!process.env.AMPLINE_SCSP_PRICES_FILE) {
    scspConfig.pricesFile = 'sample';
    scspConfig.pricesReplay = true;
  }
  if (!process.env.AMPLINE_SCSP_DEFAULT_DWELL_S) scspConfig.defaults.dwellS = 2 * 3600;
  if (!process.env.AMPLINE_SCSP_DEFAULT_ENERGY_WH) scspConfig.defaults.energyNeedWh = 10_000;
  const count = Number(values.chargers);
  if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new ConfigError(`--chargers must be an integer from 1 to 10000, got ${values.chargers}`);
  const log = createLogger({ level: config.logLevel });
  const { startDemo } = await import('./demo.js');
  const demo = await startDemo(config, scspConfig, log, { chargers: count, route });
  process.stdout.write(
    `\nAmpline demo running — the whole loop on this machine:\n` +
      `  CSMS  ${demo.csms.url}  (dashboard ${demo.csms.url}/, API docs ${demo.csms.url}/docs, OCPP ${demo.csms.ocppUrl}/{id})\n` +
      `  SCSP  ${demo.scsp.url}  (token endpoint ${demo.scsp.tokenUrl})\n` +
      `  ${demo.stations.length} simulated chargers (mixed OCPP 1.6/2.0.1), ${demo.paired.length} paired with the SCSP, running sessions.\n` +
      `  SCSP route: ${route === 'ocpi' ? 'OCPI 2.2.1 Sessions + ChargingProfiles (/ocpi on both)' : 'OCPP-format events (seed 001) + OCPP-format SetChargingProfile'}\n` +
      `  CSMS management API key: ${config.apiKeyGenerated ? config.apiKey + ` (generated, kept in ${config.dataDir}/api-key)` : '(from AMPLINE_API_KEY)'}\n` +
      `  SCSP admin API key: ${scspConfig.apiKeyGenerated ? scspConfig.apiKey + ` (generated, kept in ${scspConfig.dataDir}/api-key)` : '(from AMPLINE_SCSP_API_KEY)'}\n` +
      `Press Ctrl+C to stop.\n\n`,
  );
  onSignals(() => demo.stop());
}

async function migrate(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' } }, strict: true });
  const config = loadConfig(process.env, overridesFrom(values));
  const db = await openDb({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, pgSchema: config.pgSchema });
  process.stdout.write(`database schema is up to date (${db.location})\n`);
  await db.close();
}

async function bench(argv: string[]): Promise<void> {
  const { runBenchmarks } = await import('../bench/run.js');
  await runBenchmarks(argv);
}

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = { serve, scsp, sim, demo, bench, migrate };

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const run = COMMANDS[cmd];
  if (!run) {
    process.stderr.write(`unknown command '${cmd}'\n\n${USAGE}\n`);
    process.exit(2);
  }
  await run(rest);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`ampline: ${(err as Error).message}\n`);
    process.exit(2);
  }
  process.stderr.write(`ampline: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
