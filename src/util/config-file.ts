/**
 * Pieces of configuration loading shared by the CSMS (src/config.ts) and the SCSP (src/scsp/config.ts).
 * Each caller passes its own error class (ConfigError, ScspConfigError) so that start-up failures keep
 * naming the party whose setting is wrong. Imports nothing of either party.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The error class a party raises on a bad setting. */
export type ConfigErrorClass = new (message: string) => Error;

/**
 * The settings of a JSON config file (AMPLINE_CONFIG): one object whose values are strings, numbers or
 * booleans, returned as strings (as environment variables would be).
 */
export function readFileConfig(path: string, ErrorClass: ConfigErrorClass): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ErrorClass(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ErrorClass(`config file ${path} must hold a JSON object of AMPLINE_* settings`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (v === null || typeof v === 'object') throw new ErrorClass(`config file ${path}: ${k} must be a string, number or boolean`);
    out[k] = String(v);
  }
  return out;
}

/**
 * An API key: the configured one (setting `name`, at least 8 characters), or one generated once and kept
 * in `dataDir`/api-key (mode 0600), read back on later starts.
 */
export function resolveApiKey(
  configured: string | undefined,
  dataDir: string,
  name: string,
  ErrorClass: ConfigErrorClass,
): { key: string; generated: boolean } {
  if (configured) {
    if (configured.length < 8) throw new ErrorClass(`${name} must be at least 8 characters`);
    return { key: configured, generated: false };
  }
  const file = join(dataDir, 'api-key');
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    if (key) return { key, generated: true };
  }
  const key = randomBytes(24).toString('base64url');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, key + '\n', { mode: 0o600 });
  return { key, generated: true };
}
