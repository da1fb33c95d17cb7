/** Structured JSON logging (pino). Secrets are redacted by key name wherever they appear. */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'apiKey',
  'password',
  'secret',
  'token',
  '*.apiKey',
  '*.password',
  '*.secret',
  '*.clientSecret',
  '*.token',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
];

export function createLogger(opts: { level?: LevelWithSilent; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'ampline',
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination as pino.DestinationStream | undefined,
  );
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
