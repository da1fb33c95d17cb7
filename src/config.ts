/**
 * Configuration: an optional JSON file (AMPLINE_CONFIG), environment variables, and command-line
 * overrides, in that order of increasing precedence. Every setting has a safe default; invalid values
 * stop start-up with a message naming the setting.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { LevelWithSilent } from 'pino';
import { type TransportOptions, DEFAULT_TRANSPORT_OPTIONS } from './ocpp/transport.js';
import { type BootPolicy, DEFAULT_BOOT_POLICY } from './services/stations.js';
import { type AuthPolicy, DEFAULT_AUTH_POLICY } from './services/auth.js';
import { readFileConfig, resolveApiKey } from './util/config-file.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface CsmsConfig {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string | undefined;
  /** PostgreSQL schema (AMPLINE_PG_SCHEMA); default: the server's search_path. */
  pgSchema: string | undefined;
  natsUrl: string | undefined;
  nodeId: string;
  logLevel: LevelWithSilent;
  apiKey: string;
  /** True when the key was generated (and stored in the data directory) because none was configured. */
  apiKeyGenerated: boolean;
  ocpp: TransportOptions;
  /** Bound on the management API's wait for a station's answer. */
  commandTimeoutMs: number;
  boot: BootPolicy;
  auth: AuthPolicy;
  /** AMPLINE_SITES_FILE: JSON file of load-balancing sites (see src/services/load-balancer.ts). */
  sitesFile: string | undefined;
  /** AMPLINE_SCSP_PARTNERS_FILE: JSON file of SCSP partners (src/scsp-link/partners.ts), upserted at start. */
  partnersFile: string | undefined;
  /** Event forwarding to SCSPs (src/scsp-link/outbox.ts, forwarder.ts). */
  scspForwarding: ScspForwardingConfig;
  /** AMPLINE_PUBLIC_URL: the URL peers reach this CSMS at (OCPI versions and credentials); default: the listening URL. */
  publicUrl: string | undefined;
  /** The OCPI 2.2.1 party this CSMS is (src/ocpi/cpo.ts) and its functional modules' settings. */
  ocpi: OcpiConfig;
}

/** An OCPI party: CredentialsRole `country_code`, `party_id`, `business_details.name`. */
export interface OcpiPartyConfig {
  /** AMPLINE_OCPI_COUNTRY_CODE: ISO-3166 alpha-2 (default NL). */
  countryCode: string;
  /** AMPLINE_OCPI_PARTY_ID: three letters or digits (default AMP). */
  partyId: string;
  /** AMPLINE_OCPI_BUSINESS_NAME (default "Ampline CPO"). */
  businessName: string;
}

export const DEFAULT_OCPI_PARTY: OcpiPartyConfig = { countryCode: 'NL', partyId: 'AMP', businessName: 'Ampline CPO' };

/** OCPI ChargingProfiles, CPO as Receiver (src/ocpi/cpo/chargingprofiles.ts). */
export interface OcpiChargingProfilesConfig {
  /** AMPLINE_OCPI_PROFILE_MIN_INTERVAL_S: least time between two PUT/DELETE/GET of a partner on one session (else TOO_OFTEN); 0 = no limit. */
  minIntervalS: number;
  /** AMPLINE_OCPI_PROFILE_RESULT_MARGIN_S: the `timeout` answered = OCPP call timeout + this margin (s). */
  resultMarginS: number;
  /** AMPLINE_OCPI_ACTIVE_PROFILE_HORIZON_S: horizon of the ActiveChargingProfile pushed to the partner (300–3600 s). */
  activeHorizonS: number;
  /** AMPLINE_OCPI_ACTIVE_PROFILE_DEBOUNCE_MS: changes of one session within this window are pushed once. */
  activeDebounceMs: number;
}

export const DEFAULT_OCPI_CHARGING_PROFILES: OcpiChargingProfilesConfig = { minIntervalS: 5, resultMarginS: 30, activeHorizonS: 3600, activeDebounceMs: 1000 };

/** OCPI Sessions, CPO as Sender (src/ocpi/cpo/sessions.ts). */
export interface OcpiSessionsConfig {
  /** AMPLINE_OCPI_SESSION_UPDATE_INTERVAL_S: at most one push (PATCH) per session per this many seconds; also the charging-period length. */
  updateIntervalS: number;
  /** AMPLINE_OCPI_CURRENCY: ISO 4217 `currency` of the sessions (default EUR). */
  currency: string;
}

export const DEFAULT_OCPI_SESSIONS: OcpiSessionsConfig = { updateIntervalS: 60, currency: 'EUR' };

export interface OcpiConfig extends OcpiPartyConfig {
  chargingProfiles: OcpiChargingProfilesConfig;
  sessions: OcpiSessionsConfig;
}

/** SCSP event forwarding: meter cadence and delivery (src/scsp-link/outbox.ts, forwarder.ts). */
export interface ScspForwardingConfig {
  /** AMPLINE_SCSP_METER_INTERVAL_S: at most one MeterValues per transaction per this many seconds (0: every reading). */
  meterIntervalS: number;
  /** AMPLINE_SCSP_METER_MAX_GAP_S: during a transaction, the latest reading is forwarded at least this often. */
  meterMaxGapS: number;
  /** AMPLINE_SCSP_FORWARD_CONCURRENCY: stations delivered in parallel. */
  concurrency: number;
  /** AMPLINE_SCSP_RETRY_MAX_S: longest backoff between tries of a row. */
  retryMaxS: number;
  /** AMPLINE_SCSP_OUTBOX_MAX_ATTEMPTS: tries before a row is dead-lettered (0: no limit). */
  maxAttempts: number;
  /** AMPLINE_SCSP_OUTBOX_MAX_AGE_S: a row older than this when its turn comes is dead-lettered (0: no limit). */
  maxAgeS: number;
  /** Not read from the environment (tests): first retry delay, outbox poll interval, meter repeat sweep interval. */
  retryBaseMs?: number;
  pollIntervalMs?: number;
  sweepIntervalMs?: number;
}

export const DEFAULT_SCSP_FORWARDING: ScspForwardingConfig = {
  meterIntervalS: 60,
  meterMaxGapS: 300,
  concurrency: 16,
  retryMaxS: 300,
  maxAttempts: 200,
  maxAgeS: 48 * 3600,
};

export interface ConfigOverrides {
  host?: string | undefined;
  port?: number | undefined;
  dataDir?: string | undefined;
  apiKey?: string | undefined;
  logLevel?: LevelWithSilent | undefined;
}

type Env = Record<string, string | undefined>;

function int(name: string, raw: string | number | undefined, min: number, max: number, dflt: number): number {
  if (raw === undefined || raw === '') return dflt;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[], dflt: T): T {
  if (raw === undefined || raw === '') return dflt;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

function httpUrl(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  return raw.replace(/\/+$/, '');
}

function matching(name: string, raw: string | undefined, pattern: RegExp, what: string, dflt: string): string {
  if (raw === undefined || raw === '') return dflt;
  if (!pattern.test(raw)) throw new ConfigError(`${name} must be ${what}, got ${JSON.stringify(raw)}`);
  return raw;
}

export function loadConfig(env: Env = process.env, overrides: ConfigOverrides = {}): CsmsConfig {
  const file = env.AMPLINE_CONFIG ? readFileConfig(env.AMPLINE_CONFIG, ConfigError) : {};
  const e: Env = { ...file, ...env };
  const dataDir = resolve(overrides.dataDir ?? e.AMPLINE_DATA_DIR ?? './data');
  const port = int('AMPLINE_PORT', overrides.port ?? e.AMPLINE_PORT, 0, 65535, 8180);
  const { key, generated } = resolveApiKey(overrides.apiKey ?? e.AMPLINE_API_KEY, dataDir, 'AMPLINE_API_KEY', ConfigError);
  const databaseUrl = e.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  return {
    host: overrides.host ?? e.AMPLINE_HOST ?? '0.0.0.0',
    port,
    dataDir,
    databaseUrl,
    pgSchema: e.AMPLINE_PG_SCHEMA || undefined,
    natsUrl: e.NATS_URL || undefined,
    nodeId: e.AMPLINE_NODE_ID || hostname(),
    logLevel: overrides.logLevel ?? oneOf('AMPLINE_LOG_LEVEL', e.AMPLINE_LOG_LEVEL, ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    apiKey: key,
    apiKeyGenerated: generated,
    ocpp: {
      ...DEFAULT_TRANSPORT_OPTIONS,
      maxPayloadBytes: int('AMPLINE_OCPP_MAX_FRAME_BYTES', e.AMPLINE_OCPP_MAX_FRAME_BYTES, 1024, 64 * 1024 * 1024, DEFAULT_TRANSPORT_OPTIONS.maxPayloadBytes),
      pingIntervalMs: 1000 * int('AMPLINE_OCPP_PING_INTERVAL_S', e.AMPLINE_OCPP_PING_INTERVAL_S, 1, 3600, DEFAULT_TRANSPORT_OPTIONS.pingIntervalMs / 1000),
      callTimeoutMs: 1000 * int('AMPLINE_OCPP_CALL_TIMEOUT_S', e.AMPLINE_OCPP_CALL_TIMEOUT_S, 1, 600, DEFAULT_TRANSPORT_OPTIONS.callTimeoutMs / 1000),
    },
    commandTimeoutMs: 1000 * int('AMPLINE_API_COMMAND_TIMEOUT_S', e.AMPLINE_API_COMMAND_TIMEOUT_S, 1, 600, 60),
    boot: {
      unknownStations: oneOf('AMPLINE_UNKNOWN_STATIONS', e.AMPLINE_UNKNOWN_STATIONS, ['Accepted', 'Pending', 'Rejected'], DEFAULT_BOOT_POLICY.unknownStations),
      heartbeatIntervalS: int('AMPLINE_HEARTBEAT_INTERVAL_S', e.AMPLINE_HEARTBEAT_INTERVAL_S, 1, 86400, DEFAULT_BOOT_POLICY.heartbeatIntervalS),
      retryIntervalS: int('AMPLINE_BOOT_RETRY_INTERVAL_S', e.AMPLINE_BOOT_RETRY_INTERVAL_S, 1, 86400, DEFAULT_BOOT_POLICY.retryIntervalS),
    },
    sitesFile: e.AMPLINE_SITES_FILE ? resolve(e.AMPLINE_SITES_FILE) : undefined,
    partnersFile: e.AMPLINE_SCSP_PARTNERS_FILE ? resolve(e.AMPLINE_SCSP_PARTNERS_FILE) : undefined,
    scspForwarding: {
      meterIntervalS: int('AMPLINE_SCSP_METER_INTERVAL_S', e.AMPLINE_SCSP_METER_INTERVAL_S, 0, 3600, DEFAULT_SCSP_FORWARDING.meterIntervalS),
      meterMaxGapS: int('AMPLINE_SCSP_METER_MAX_GAP_S', e.AMPLINE_SCSP_METER_MAX_GAP_S, 1, 3600, DEFAULT_SCSP_FORWARDING.meterMaxGapS),
      concurrency: int('AMPLINE_SCSP_FORWARD_CONCURRENCY', e.AMPLINE_SCSP_FORWARD_CONCURRENCY, 1, 1024, DEFAULT_SCSP_FORWARDING.concurrency),
      retryMaxS: int('AMPLINE_SCSP_RETRY_MAX_S', e.AMPLINE_SCSP_RETRY_MAX_S, 1, 3600, DEFAULT_SCSP_FORWARDING.retryMaxS),
      maxAttempts: int('AMPLINE_SCSP_OUTBOX_MAX_ATTEMPTS', e.AMPLINE_SCSP_OUTBOX_MAX_ATTEMPTS, 0, 1_000_000, DEFAULT_SCSP_FORWARDING.maxAttempts),
      maxAgeS: int('AMPLINE_SCSP_OUTBOX_MAX_AGE_S', e.AMPLINE_SCSP_OUTBOX_MAX_AGE_S, 0, 365 * 86400, DEFAULT_SCSP_FORWARDING.maxAgeS),
    },
    publicUrl: httpUrl('AMPLINE_PUBLIC_URL', e.AMPLINE_PUBLIC_URL),
    ocpi: {
      countryCode: matching('AMPLINE_OCPI_COUNTRY_CODE', e.AMPLINE_OCPI_COUNTRY_CODE, /^[A-Za-z]{2}$/, 'an ISO-3166 alpha-2 country code', DEFAULT_OCPI_PARTY.countryCode).toUpperCase(),
      partyId: matching('AMPLINE_OCPI_PARTY_ID', e.AMPLINE_OCPI_PARTY_ID, /^[A-Za-z0-9]{3}$/, 'three letters or digits', DEFAULT_OCPI_PARTY.partyId).toUpperCase(),
      businessName: matching('AMPLINE_OCPI_BUSINESS_NAME', e.AMPLINE_OCPI_BUSINESS_NAME, /^[^\u0000-\u001f]{1,100}$/, '1–100 printable characters', DEFAULT_OCPI_PARTY.businessName),
      chargingProfiles: {
        minIntervalS: int('AMPLINE_OCPI_PROFILE_MIN_INTERVAL_S', e.AMPLINE_OCPI_PROFILE_MIN_INTERVAL_S, 0, 3600, DEFAULT_OCPI_CHARGING_PROFILES.minIntervalS),
        resultMarginS: int('AMPLINE_OCPI_PROFILE_RESULT_MARGIN_S', e.AMPLINE_OCPI_PROFILE_RESULT_MARGIN_S, 0, 600, DEFAULT_OCPI_CHARGING_PROFILES.resultMarginS),
        activeHorizonS: int('AMPLINE_OCPI_ACTIVE_PROFILE_HORIZON_S', e.AMPLINE_OCPI_ACTIVE_PROFILE_HORIZON_S, 300, 3600, DEFAULT_OCPI_CHARGING_PROFILES.activeHorizonS),
        activeDebounceMs: int('AMPLINE_OCPI_ACTIVE_PROFILE_DEBOUNCE_MS', e.AMPLINE_OCPI_ACTIVE_PROFILE_DEBOUNCE_MS, 0, 60_000, DEFAULT_OCPI_CHARGING_PROFILES.activeDebounceMs),
      },
      sessions: {
        updateIntervalS: int('AMPLINE_OCPI_SESSION_UPDATE_INTERVAL_S', e.AMPLINE_OCPI_SESSION_UPDATE_INTERVAL_S, 1, 3600, DEFAULT_OCPI_SESSIONS.updateIntervalS),
        currency: matching('AMPLINE_OCPI_CURRENCY', e.AMPLINE_OCPI_CURRENCY, /^[A-Za-z]{3}$/, 'an ISO 4217 currency code (three letters)', DEFAULT_OCPI_SESSIONS.currency).toUpperCase(),
      },
    },
    auth: {
      unknownTokens: oneOf('AMPLINE_UNKNOWN_TOKENS', e.AMPLINE_UNKNOWN_TOKENS, ['accept', 'reject'], DEFAULT_AUTH_POLICY.unknownTokens),
      concurrentTx: oneOf('AMPLINE_CONCURRENT_TX', e.AMPLINE_CONCURRENT_TX, ['allow', 'reject'], DEFAULT_AUTH_POLICY.concurrentTx),
    },
  };
}
