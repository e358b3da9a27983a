/**
 * The sim carrier's environment, parsed once at startup. Only this file and `main.ts`
 * read `process.env`.
 */
import { z } from 'zod';
import { CarrierSimError } from './errors.js';
import { DEFAULT_AUDIO_DIR } from './caller-audio.js';

const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** An unset or empty variable takes the default. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema);

export const CarrierSimEnv = z.object({
  CARRIER_SIM_HOST: optional(z.string().min(1).default('127.0.0.1')),
  CARRIER_SIM_PORT: optional(z.coerce.number().int().min(0).max(65_535).default(7720)),
  /** Divides every wait: 1 is real time, 10 runs calls ten times faster. */
  CARRIER_SIM_SPEED: optional(z.coerce.number().min(0.1).max(100).default(1)),
  CARRIER_SIM_AUDIO_DIR: optional(z.string().min(1).default(DEFAULT_AUDIO_DIR)),
  /** Media time after which the carrier ends any call. */
  CARRIER_SIM_MAX_CALL_MS: optional(z.coerce.number().int().min(1_000).default(600_000)),
  /** Sent as `x-carrier-secret` on status callbacks when set. */
  CARRIER_CALLBACK_SECRET: optional(z.string().min(1).optional()),
  LOG_LEVEL: optional(LogLevel.default('info')),
});
export type CarrierSimEnv = z.infer<typeof CarrierSimEnv>;

/** Parses the environment; throws `CARRIER_SIM_INVALID_ENV` naming each invalid variable. */
export function loadEnv(env: NodeJS.ProcessEnv): CarrierSimEnv {
  const parsed = CarrierSimEnv.safeParse(env);
  if (parsed.success) return parsed.data;

  const issues = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '');
    // The value is shown to help the operator, except for the secret.
    const value = name.endsWith('_SECRET') ? '[redacted]' : JSON.stringify(env[name]);
    return `${name}: ${issue.message} (value: ${value})`;
  });
  throw new CarrierSimError(
    'CARRIER_SIM_INVALID_ENV',
    `invalid environment for carrier-sim: ${issues.join('; ')}`,
    { issues },
  );
}
