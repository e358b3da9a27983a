/**
 * voxbridge settings, parsed once from the environment at startup. Only this file and
 * `main.ts` read `process.env`.
 */
import { join } from 'node:path';

import { z } from 'zod';

import { EnvError } from './errors.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const optionalSecret = z.preprocess(
  (value) => (value === '' ? undefined : value),
  z.string().min(16, 'must be at least 16 characters').optional(),
);

const EnvSchema = z.object({
  BRIDGE_HOST: z.string().min(1).default('127.0.0.1'),
  BRIDGE_PORT: z.coerce.number().int().min(0).max(65_535).default(7700),
  BRIDGE_DATA_DIR: z.string().min(1).default('.voxfleet/bridge'),
  BRIDGE_SQLITE_PATH: z.string().min(1).optional(),
  BRIDGE_RECORDINGS_DIR: z.string().min(1).optional(),
  BRIDGE_INTERNAL_TOKEN: z
    .string({ error: 'is required: set a shared secret of at least 16 characters' })
    .min(16, 'must be at least 16 characters'),
  BRIDGE_ADMIN_KEY: optionalSecret,
  BRIDGE_BOOTSTRAP_API_KEY: optionalSecret,
  BRIDGE_MAX_RECORDING_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(50 * 1024 * 1024),
  BRIDGE_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

export interface BridgeEnv {
  host: string;
  port: number;
  dataDir: string;
  sqlitePath: string;
  recordingsDir: string;
  internalToken: string;
  adminKey: string | undefined;
  bootstrapApiKey: string | undefined;
  maxRecordingBytes: number;
  shutdownTimeoutMs: number;
  logLevel: (typeof LOG_LEVELS)[number];
}

/** Parses the environment; raises EnvError naming every invalid variable. */
export function loadEnv(source: Record<string, string | undefined>): BridgeEnv {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new EnvError(`invalid voxbridge environment:\n${lines.join('\n')}`);
  }
  const env = parsed.data;
  return {
    host: env.BRIDGE_HOST,
    port: env.BRIDGE_PORT,
    dataDir: env.BRIDGE_DATA_DIR,
    sqlitePath: env.BRIDGE_SQLITE_PATH ?? join(env.BRIDGE_DATA_DIR, 'bridge.db'),
    recordingsDir: env.BRIDGE_RECORDINGS_DIR ?? join(env.BRIDGE_DATA_DIR, 'recordings'),
    internalToken: env.BRIDGE_INTERNAL_TOKEN,
    adminKey: env.BRIDGE_ADMIN_KEY,
    bootstrapApiKey: env.BRIDGE_BOOTSTRAP_API_KEY,
    maxRecordingBytes: env.BRIDGE_MAX_RECORDING_BYTES,
    shutdownTimeoutMs: env.BRIDGE_SHUTDOWN_TIMEOUT_MS,
    logLevel: env.LOG_LEVEL,
  };
}
