/**
 * Configuration of the SCSP service (`ampline scsp`): an optional JSON file (AMPLINE_CONFIG, shared with
 * the CSMS), environment variables, and command-line overrides, in that order of increasing precedence.
 * Every setting has a safe default; an invalid value stops start-up with a message naming the setting.
 *
 * The SCSP's variables are `AMPLINE_SCSP_*`. Some `AMPLINE_SCSP_*` names belong to the CSMS's side of the
 * link (AMPLINE_SCSP_PARTNERS_FILE, AMPLINE_SCSP_METER_*, AMPLINE_SCSP_FORWARD_CONCURRENCY,
 * AMPLINE_SCSP_RETRY_MAX_S, AMPLINE_SCSP_OUTBOX_*); none of the names below collides with them, so both
 * parties can run in one process (the demo) with one environment.
 *
 * Not imported from src/config.ts on purpose: that module pulls in CSMS services, and the SCSP meets the
 * CSMS only over HTTP.
 */
import { resolve } from 'node:path';
import type { LevelWithSilent } from 'pino';
import { readFileConfig, resolveApiKey } from '../util/config-file.js';

export class ScspConfigError extends Error {
  override name = 'ScspConfigError';
}

/** Fallbacks of the driver preferences (src/scsp/preferences.ts). */
export interface PreferenceDefaults {
  /** AMPLINE_SCSP_DEFAULT_ENERGY_WH: energy need of a session without one (Wh). */
  energyNeedWh: number;
  /** AMPLINE_SCSP_DEFAULT_DWELL_S: departure = arrival + this, when no departure is known. */
  dwellS: number;
  /** AMPLINE_SCSP_TIMEZONE: IANA zone in which a `departureTimeOfDay` ("07:00") is read unless the preference names one. */
  timeZone: string;
}

/** Delivery of charging profiles to the CPOs (src/scsp/delivery.ts). */
export interface DeliveryConfig {
  /** AMPLINE_SCSP_SEND_MAX_ATTEMPTS: tries of one profile before giving up on retryable answers. */
  maxAttempts: number;
  /** AMPLINE_SCSP_SEND_TIMEOUT_S: wait for the CPO's answer (it waits for its charger: keep above the CPO's own bound). */
  timeoutMs: number;
  /** First retry delay (doubles, with jitter, up to retryMaxMs). Not read from the environment (tests shorten it). */
  retryBaseMs: number;
  /** AMPLINE_SCSP_SEND_RETRY_MAX_S: longest delay between tries. */
  retryMaxMs: number;
}

export interface ScspConfig {
  host: string;
  port: number;
  dataDir: string;
  logLevel: LevelWithSilent;
  /** Admin API key (AMPLINE_SCSP_API_KEY) for `/api/v1` on the SCSP port. */
  apiKey: string;
  /** True when the key was generated (and stored in the data directory) because none was configured. */
  apiKeyGenerated: boolean;
  /** AMPLINE_SCSP_PUBLIC_URL: the URL CPOs reach this SCSP at (shown in credentials); default: the listening URL. */
  publicUrl: string | undefined;
  /** AMPLINE_SCSP_TOKEN_TTL_S: lifetime of issued access tokens. */
  tokenTtlS: number;
  /** AMPLINE_SCSP_AUDIENCE: comma-separated accepted `audience` values of token requests; unset = any (or none). */
  audiences: string[] | undefined;
  /** AMPLINE_SCSP_PAIRING_CODE_TTL_S: default lifetime of SCSP-issued pairing codes. */
  pairingCodeTtlS: number;
  /** AMPLINE_SCSP_CPOS_FILE: JSON file of CPO clients, upserted at start. */
  cposFile: string | undefined;
  /** AMPLINE_SCSP_PRICES_FILE: JSON file of energy prices given to the planner. */
  pricesFile: string | undefined;
  /** AMPLINE_SCSP_PRICES_REPLAY: repeat a one-day price file on every day (default: true for the shipped sample). */
  pricesReplay: boolean;
  /** AMPLINE_SCSP_PLANNER: `optimiser` (price-optimal, src/optimiser; the default) or `asap` (charge at once). */
  planner: 'optimiser' | 'asap';
  /** AMPLINE_SCSP_REPLAN_INTERVAL_S: at most one re-plan per station (or site) per this many ms. */
  replanIntervalMs: number;
  /** AMPLINE_SCSP_EVENT_RETENTION_S: how long received events (and their idempotency keys) are kept. */
  eventRetentionS: number;
  defaults: PreferenceDefaults;
  delivery: DeliveryConfig;
  /** The OCPI 2.2.1 party this SCSP is (src/ocpi/scsp.ts); its versions URL is `{publicUrl}/ocpi/versions`. */
  ocpi: ScspOcpiConfig;
}

/** OCPI CredentialsRole of the SCSP. */
export interface ScspOcpiConfig {
  /** AMPLINE_SCSP_OCPI_ROLE: `SCSP` (OCPI 2.2.1's Smart Charging Service Provider role, default), or `OTHER` / `EMSP` for peers that do not know it. */
  role: 'SCSP' | 'OTHER' | 'EMSP';
  /** AMPLINE_SCSP_OCPI_COUNTRY_CODE (default NL). */
  countryCode: string;
  /** AMPLINE_SCSP_OCPI_PARTY_ID (default AMS: not the CSMS's AMP, the parties are different companies). */
  partyId: string;
  /** AMPLINE_SCSP_OCPI_BUSINESS_NAME (default "Ampline SCSP"). */
  businessName: string;
}

export const DEFAULT_SCSP_OCPI: ScspOcpiConfig = { role: 'SCSP', countryCode: 'NL', partyId: 'AMS', businessName: 'Ampline SCSP' };

export interface ScspConfigOverrides {
  host?: string | undefined;
  port?: number | undefined;
  dataDir?: string | undefined;
  apiKey?: string | undefined;
  logLevel?: LevelWithSilent | undefined;
}

export const DEFAULT_SCSP_PORT = 8280;

export const DEFAULT_PREFERENCES: PreferenceDefaults = { energyNeedWh: 20_000, dwellS: 8 * 3600, timeZone: 'UTC' };

export const DEFAULT_DELIVERY: DeliveryConfig = { maxAttempts: 6, timeoutMs: 75_000, retryBaseMs: 1_000, retryMaxMs: 60_000 };

type Env = Record<string, string | undefined>;

function int(name: string, raw: string | number | undefined, min: number, max: number, dflt: number): number {
  if (raw === undefined || raw === '') return dflt;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ScspConfigError(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[], dflt: T): T {
  if (raw === undefined || raw === '') return dflt;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ScspConfigError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function httpUrl(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new ScspConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  return raw.replace(/\/+$/, '');
}

function matching(name: string, raw: string | undefined, pattern: RegExp, what: string, dflt: string): string {
  if (raw === undefined || raw === '') return dflt;
  if (!pattern.test(raw)) throw new ScspConfigError(`${name} must be ${what}, got ${JSON.stringify(raw)}`);
  return raw;
}

export function loadScspConfig(env: Env = process.env, overrides: ScspConfigOverrides = {}): ScspConfig {
  const file = env.AMPLINE_CONFIG ? readFileConfig(env.AMPLINE_CONFIG, ScspConfigError) : {};
  const e: Env = { ...file, ...env };
  const dataDir = resolve(overrides.dataDir ?? e.AMPLINE_SCSP_DATA_DIR ?? './data-scsp');
  const port = int('AMPLINE_SCSP_PORT', overrides.port ?? e.AMPLINE_SCSP_PORT, 0, 65535, DEFAULT_SCSP_PORT);
  const { key, generated } = resolveApiKey(overrides.apiKey ?? e.AMPLINE_SCSP_API_KEY, dataDir, 'AMPLINE_SCSP_API_KEY', ScspConfigError);
  const timeZone = e.AMPLINE_SCSP_TIMEZONE || DEFAULT_PREFERENCES.timeZone;
  if (!isValidTimeZone(timeZone)) throw new ScspConfigError(`AMPLINE_SCSP_TIMEZONE must be an IANA time zone (e.g. Europe/Amsterdam), got ${JSON.stringify(timeZone)}`);
  const audiences = e.AMPLINE_SCSP_AUDIENCE
    ? e.AMPLINE_SCSP_AUDIENCE.split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
    : undefined;
  return {
    host: overrides.host ?? e.AMPLINE_SCSP_HOST ?? '0.0.0.0',
    port,
    dataDir,
    logLevel: overrides.logLevel ?? oneOf('AMPLINE_LOG_LEVEL', e.AMPLINE_LOG_LEVEL, ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    apiKey: key,
    apiKeyGenerated: generated,
    publicUrl: httpUrl('AMPLINE_SCSP_PUBLIC_URL', e.AMPLINE_SCSP_PUBLIC_URL),
    tokenTtlS: int('AMPLINE_SCSP_TOKEN_TTL_S', e.AMPLINE_SCSP_TOKEN_TTL_S, 60, 7 * 86400, 3600),
    audiences: audiences && audiences.length > 0 ? audiences : undefined,
    pairingCodeTtlS: int('AMPLINE_SCSP_PAIRING_CODE_TTL_S', e.AMPLINE_SCSP_PAIRING_CODE_TTL_S, 30, 7 * 86400, 900),
    cposFile: e.AMPLINE_SCSP_CPOS_FILE ? resolve(e.AMPLINE_SCSP_CPOS_FILE) : undefined,
    // `sample`: the real day-ahead day shipped in src/optimiser/prices, replayed on every day.
    pricesFile: e.AMPLINE_SCSP_PRICES_FILE === 'sample' ? 'sample' : e.AMPLINE_SCSP_PRICES_FILE ? resolve(e.AMPLINE_SCSP_PRICES_FILE) : undefined,
    pricesReplay: oneOf('AMPLINE_SCSP_PRICES_REPLAY', e.AMPLINE_SCSP_PRICES_REPLAY, ['true', 'false'], e.AMPLINE_SCSP_PRICES_FILE === 'sample' ? 'true' : 'false') === 'true',
    planner: oneOf('AMPLINE_SCSP_PLANNER', e.AMPLINE_SCSP_PLANNER, ['optimiser', 'asap'], 'optimiser'),
    replanIntervalMs: 1000 * int('AMPLINE_SCSP_REPLAN_INTERVAL_S', e.AMPLINE_SCSP_REPLAN_INTERVAL_S, 0, 3600, 10),
    eventRetentionS: int('AMPLINE_SCSP_EVENT_RETENTION_S', e.AMPLINE_SCSP_EVENT_RETENTION_S, 3600, 365 * 86400, 7 * 86400),
    defaults: {
      energyNeedWh: int('AMPLINE_SCSP_DEFAULT_ENERGY_WH', e.AMPLINE_SCSP_DEFAULT_ENERGY_WH, 0, 1_000_000, DEFAULT_PREFERENCES.energyNeedWh),
      dwellS: int('AMPLINE_SCSP_DEFAULT_DWELL_S', e.AMPLINE_SCSP_DEFAULT_DWELL_S, 60, 7 * 86400, DEFAULT_PREFERENCES.dwellS),
      timeZone,
    },
    ocpi: {
      role: oneOf('AMPLINE_SCSP_OCPI_ROLE', e.AMPLINE_SCSP_OCPI_ROLE, ['SCSP', 'OTHER', 'EMSP'], DEFAULT_SCSP_OCPI.role),
      countryCode: matching('AMPLINE_SCSP_OCPI_COUNTRY_CODE', e.AMPLINE_SCSP_OCPI_COUNTRY_CODE, /^[A-Za-z]{2}$/, 'an ISO-3166 alpha-2 country code', DEFAULT_SCSP_OCPI.countryCode).toUpperCase(),
      partyId: matching('AMPLINE_SCSP_OCPI_PARTY_ID', e.AMPLINE_SCSP_OCPI_PARTY_ID, /^[A-Za-z0-9]{3}$/, 'three letters or digits', DEFAULT_SCSP_OCPI.partyId).toUpperCase(),
      businessName: matching('AMPLINE_SCSP_OCPI_BUSINESS_NAME', e.AMPLINE_SCSP_OCPI_BUSINESS_NAME, /^[^\u0000-\u001f]{1,100}$/, '1–100 printable characters', DEFAULT_SCSP_OCPI.businessName),
    },
    delivery: {
      ...DEFAULT_DELIVERY,
      maxAttempts: int('AMPLINE_SCSP_SEND_MAX_ATTEMPTS', e.AMPLINE_SCSP_SEND_MAX_ATTEMPTS, 1, 1000, DEFAULT_DELIVERY.maxAttempts),
      timeoutMs: 1000 * int('AMPLINE_SCSP_SEND_TIMEOUT_S', e.AMPLINE_SCSP_SEND_TIMEOUT_S, 1, 600, DEFAULT_DELIVERY.timeoutMs / 1000),
      retryMaxMs: 1000 * int('AMPLINE_SCSP_SEND_RETRY_MAX_S', e.AMPLINE_SCSP_SEND_RETRY_MAX_S, 1, 3600, DEFAULT_DELIVERY.retryMaxMs / 1000),
    },
  };
}
