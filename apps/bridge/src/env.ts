/**
 * voxbridge settings, parsed once from the environment at startup. Only this file and
 * `main.ts` read `process.env`.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { z } from 'zod';

import { EnvError } from './errors.js';
import type { S3RecordingStoreOptions } from './recordings/s3-recording-store.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const optionalSecret = z.preprocess(
  (value) => (value === '' ? undefined : value),
  z.string().min(16, 'must be at least 16 characters').optional(),
);

const optionalText = z.preprocess(
  (value) => (value === '' ? undefined : value),
  z.string().min(1).optional(),
);

/** `true`/`1` or `false`/`0`; z.coerce.boolean() would read "false" as true. */
const flag = z
  .enum(['true', 'false', '1', '0'], { error: 'must be true, false, 1 or 0' })
  .default('false')
  .transform((value) => value === 'true' || value === '1');

const EnvSchema = z.object({
  BRIDGE_HOST: z.string().min(1).default('127.0.0.1'),
  // An empty value, as `BRIDGE_PORT=` in a compose file leaves it, means the default.
  BRIDGE_PORT: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.coerce.number().int().min(0).max(65_535).default(7700),
  ),
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
  /** A live call without a status update this long is closed as abandoned at the next claim. */
  BRIDGE_ATTEMPT_STALE_MS: z.coerce.number().int().min(1_000).default(300_000),
  /** Wait after an inbound call's slot was released without a result before it is closed. */
  BRIDGE_RELEASE_GRACE_MS: z.coerce.number().int().min(1_000).default(60_000),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  REGISTRY_URL: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .string()
      .regex(
        /^(sqlite:|rediss?:\/\/|rediss?-sentinel:\/\/|rediss?-cluster:\/\/)/,
        'must start with "sqlite:", "redis://", "redis-sentinel://" or "redis-cluster://" ' +
          '("rediss" in place of "redis" for TLS)',
      )
      .optional(),
  ),
  BRIDGE_UI_DIR: z.string().min(1).optional(),
  BRIDGE_PUBLIC_URL: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .url({
        protocol: /^https?$/,
        error: 'must be an http:// or https:// URL such as https://voice.example.com',
      })
      .optional(),
  ),
  BRIDGE_INBOUND_POOL: z.string().min(1).default('default'),
  BRIDGE_INBOUND_RESERVATION_TTL_MS: z.coerce.number().int().min(1_000).default(10_000),
  BRIDGE_INBOUND_STREAM_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(300_000).default(30_000),
  BRIDGE_INBOUND_TENANT_MAX_CALLS: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.coerce.number().int().min(1).optional(),
  ),
  BRIDGE_INBOUND_SWEEP_INTERVAL_MS: z.coerce.number().int().min(1_000).default(30_000),
  BRIDGE_STORE: z.enum(['sqlite', 'mongo']).default('sqlite'),
  MONGO_URL: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .string()
      .regex(/^mongodb(\+srv)?:\/\//, 'must start with "mongodb://" or "mongodb+srv://"')
      .optional(),
  ),
  MONGO_DB: z.string().min(1).default('voxfleet'),
  BRIDGE_RECORDINGS: z.enum(['fs', 's3']).default('fs'),
  S3_ENDPOINT: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.url({ error: 'must be a URL such as http://minio:9000' }).optional(),
  ),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_BUCKET: optionalText,
  S3_ACCESS_KEY_ID: optionalText,
  S3_SECRET_ACCESS_KEY: optionalText,
  S3_FORCE_PATH_STYLE: flag,
  S3_PRESIGN: flag,
  // SigV4 presigned URLs live at most 7 days (604800 s).
  S3_PRESIGN_TTL_SECONDS: z.coerce.number().int().min(1).max(604_800).default(900),
});

/** Adds an issue for every variable that the chosen store or recording backend needs. */
function checkBackends(env: z.output<typeof EnvSchema>, ctx: z.RefinementCtx): void {
  if (env.BRIDGE_STORE === 'mongo' && env.MONGO_URL === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['MONGO_URL'],
      message: 'is required when BRIDGE_STORE=mongo: set a URL such as mongodb://mongo:27017',
    });
  }
  if (env.BRIDGE_RECORDINGS === 's3' && env.S3_BUCKET === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['S3_BUCKET'],
      message: 'is required when BRIDGE_RECORDINGS=s3: set the bucket name',
    });
  }
  if ((env.S3_ACCESS_KEY_ID === undefined) !== (env.S3_SECRET_ACCESS_KEY === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['S3_SECRET_ACCESS_KEY'],
      message: 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together or both left unset',
    });
  }
}

/** S3 recording settings, or undefined when recordings stay on the filesystem. */
function s3Options(env: z.output<typeof EnvSchema>): S3RecordingStoreOptions | undefined {
  if (env.BRIDGE_RECORDINGS !== 's3' || env.S3_BUCKET === undefined) return undefined;
  const credentials =
    env.S3_ACCESS_KEY_ID === undefined || env.S3_SECRET_ACCESS_KEY === undefined
      ? undefined
      : { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY };
  return {
    bucket: env.S3_BUCKET,
    region: env.S3_REGION,
    endpoint: env.S3_ENDPOINT,
    forcePathStyle: env.S3_FORCE_PATH_STYLE,
    credentials,
    presign: env.S3_PRESIGN,
    presignTtlSeconds: env.S3_PRESIGN_TTL_SECONDS,
  };
}

/** The dashboard build of this repository, two folders up from `src/` or `dist/`. */
const DEFAULT_UI_DIR = fileURLToPath(new URL('../../ui/dist', import.meta.url));

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
  /** Silence after which a queued, dialling or ringing call counts as abandoned. */
  attemptStaleMs: number;
  /** Wait after an inbound call's slot was released without a result before it is closed. */
  releaseGraceMs: number;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Capacity registry the fleet routes read; the fleet is empty without it. */
  registryUrl: string | undefined;
  /** Folder of the dashboard build; served under `/` when it contains `index.html`. */
  uiDir: string;
  /** Base URL carriers reach; the request's scheme and host when undefined. */
  publicUrl: string | undefined;
  inbound: {
    pool: string;
    reservationTtlMs: number;
    streamTimeoutMs: number;
    /** Live calls one tenant may hold in the pool; no limit when undefined. */
    tenantMaxCalls: number | undefined;
    sweepIntervalMs: number;
  };
  /** MongoDB settings when `BRIDGE_STORE=mongo`; SQLite at `sqlitePath` otherwise. */
  mongo: { url: string; dbName: string } | undefined;
  /** S3 settings when `BRIDGE_RECORDINGS=s3`; files under `recordingsDir` otherwise. */
  s3: S3RecordingStoreOptions | undefined;
}

/** Parses the environment; raises EnvError naming every invalid variable. */
export function loadEnv(source: Record<string, string | undefined>): BridgeEnv {
  const parsed = EnvSchema.superRefine(checkBackends).safeParse(source);
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
    attemptStaleMs: env.BRIDGE_ATTEMPT_STALE_MS,
    releaseGraceMs: env.BRIDGE_RELEASE_GRACE_MS,
    logLevel: env.LOG_LEVEL,
    registryUrl: env.REGISTRY_URL,
    uiDir: env.BRIDGE_UI_DIR ?? DEFAULT_UI_DIR,
    publicUrl: env.BRIDGE_PUBLIC_URL,
    inbound: {
      pool: env.BRIDGE_INBOUND_POOL,
      reservationTtlMs: env.BRIDGE_INBOUND_RESERVATION_TTL_MS,
      streamTimeoutMs: env.BRIDGE_INBOUND_STREAM_TIMEOUT_MS,
      tenantMaxCalls: env.BRIDGE_INBOUND_TENANT_MAX_CALLS,
      sweepIntervalMs: env.BRIDGE_INBOUND_SWEEP_INTERVAL_MS,
    },
    mongo:
      env.BRIDGE_STORE === 'mongo' && env.MONGO_URL !== undefined
        ? { url: env.MONGO_URL, dbName: env.MONGO_DB }
        : undefined,
    s3: s3Options(env),
  };
}
