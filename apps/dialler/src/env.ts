/**
 * The dialler's environment, parsed once at startup. An invalid value stops the process
 * with a message that names the variable.
 */
import { z } from 'zod';

import { DiallerError } from './errors.js';

const Milliseconds = z.coerce.number().int().min(1);

const EnvSchema = z.object({
  DIALLER_HOST: z.string().min(1).default('127.0.0.1'),
  // An empty value, as `DIALLER_PORT=` in a compose file leaves it, means the default.
  DIALLER_PORT: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.coerce.number().int().min(0).max(65_535).default(7710),
  ),
  /** Base URL the carrier uses for status callbacks; defaults to http://<host>:<port>. */
  DIALLER_PUBLIC_URL: z.url().optional(),
  BRIDGE_URL: z.url(),
  BRIDGE_INTERNAL_TOKEN: z.string().min(1),
  REGISTRY_URL: z.string().min(1).default('sqlite:.voxfleet/registry.db'),
  DIALLER_POOL: z.string().min(1).default('default'),
  CARRIER: z.enum(['sim']).default('sim'),
  CARRIER_SIM_URL: z.url().default('http://127.0.0.1:7720'),
  /** Media-stream protocol the carrier opens to the worker, passed in each place-call request. */
  CARRIER_PROVIDER: z.enum(['twilio', 'exotel', 'plivo', 'telnyx']).default('twilio'),
  CARRIER_CALLBACK_SECRET: z.string().min(1).optional(),
  DIALLER_PACING_INTERVAL_MS: Milliseconds.default(500),
  DIALLER_RESERVATION_TTL_MS: Milliseconds.default(10_000),
  DIALLER_RING_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(120_000).default(30_000),
  DIALLER_MAX_IN_FLIGHT: z.coerce.number().int().min(1).default(100),
  /** Ring time plus the bot's default maximum call duration (600 s) plus a margin. */
  DIALLER_ATTEMPT_TIMEOUT_MS: Milliseconds.default(900_000),
  DIALLER_DRAIN_TIMEOUT_MS: Milliseconds.default(30_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type DiallerEnv = z.infer<typeof EnvSchema>;

/** Parses `source` (normally `process.env`) and raises `DIALLER_INVALID_ENV` naming each invalid variable. */
export function parseEnv(source: Record<string, string | undefined>): DiallerEnv {
  // An empty variable means unset, so `FOO=` falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ''));
  const result = EnvSchema.safeParse(cleaned);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new DiallerError(
      'DIALLER_INVALID_ENV',
      `invalid environment: ${problems}. Fix these variables and start again.`,
    );
  }
  return result.data;
}
