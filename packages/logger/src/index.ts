/**
 * The pino logger every voxfleet service uses: JSON lines on stdout with `service`,
 * `version` and `pid` on every line, and secrets redacted.
 *
 * @example
 * const log = createLogger({ service: 'voxbridge', level: 'info' });
 * log.info({ callId }, 'call attached');
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/** The product's version, as in every package.json of the repository. */
export const PRODUCT_VERSION = '0.1.0';

export interface LoggerOptions {
  service: string;
  /** Defaults to `PRODUCT_VERSION`. */
  version?: string;
  level?: LevelWithSilent;
  /** Defaults to stdout. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
}

/** Paths whose values never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-reservation-token"]',
  'headers.authorization',
  'apiKey',
  'token',
  'reservationToken',
  'internalToken',
  '*.apiKey',
  '*.token',
  '*.reservationToken',
  '*.internalToken',
];

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: {
        service: options.service,
        version: options.version ?? PRODUCT_VERSION,
        pid: process.pid,
      },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}
