/**
 * The worker's environment, parsed once at startup with a zod schema. `loadEnv` throws
 * `EnvError` with one line per invalid variable.
 */
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { LiveKitConfig } from './livekit/config.js';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const Milliseconds = (fallback: number, min: number) =>
  z.coerce.number().int().min(min).default(fallback);

/** `k=v,k=v` to a record; keys and values are trimmed and must not be empty. */
const Labels = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const labels: Record<string, string> = {};
    for (const pair of text.split(',').map((part) => part.trim())) {
      if (pair === '') continue;
      const index = pair.indexOf('=');
      const key = index < 0 ? '' : pair.slice(0, index).trim();
      const value = index < 0 ? '' : pair.slice(index + 1).trim();
      if (key === '' || value === '') {
        ctx.addIssue({ code: 'custom', message: `"${pair}" is not a key=value pair` });
        return z.NEVER;
      }
      labels[key] = value;
    }
    return labels;
  });

const EnvSchema = z.object({
  WORKER_ID: z.string().min(1).max(128).optional(),
  WORKER_HOST: z.string().min(1).default('127.0.0.1'),
  WORKER_PORT: z.coerce.number().int().min(0).max(65535).default(7801),
  WORKER_PUBLIC_URL: z.url().optional(),
  // Host name in the registered URL `http://<host>:<WORKER_PORT>` when WORKER_PUBLIC_URL is
  // unset; `auto` takes os.hostname(), which is the container's DNS name under Compose.
  WORKER_PUBLIC_HOST: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, 'must be a host name, an IPv4 address or "auto"')
    .optional(),
  WORKER_POOL: z.string().min(1).max(128).default('default'),
  WORKER_LABELS: Labels,
  REGISTRY_URL: z.string().min(1).default('sqlite:.voxfleet/registry.db'),
  WORKER_TTL_MS: Milliseconds(5_000, 500),
  WORKER_HEARTBEAT_INTERVAL_MS: Milliseconds(1_000, 50),
  BRIDGE_URL: z.url().default('http://127.0.0.1:7700'),
  BRIDGE_INTERNAL_TOKEN: z.string().min(1, 'is required: the token of voxbridge internal routes'),
  WORKER_DATA_DIR: z.string().min(1).optional(),
  WORKER_PROMPTS_DIR: z.string().min(1).optional(),
  WORKER_TTS_CACHE_DIR: z.string().min(1).default('.voxfleet/tts-cache'),
  MAX_CONCURRENT_CALLS: z.coerce
    .number()
    .int()
    .default(1)
    .refine((n) => n === 1, 'must be 1: a worker process holds one call; run more workers'),
  // The default lets a call of the default maximum length (600 000 ms) finish during a drain.
  WORKER_DRAIN_TIMEOUT_MS: Milliseconds(600_000, 0),
  // 0 turns the HAProxy agent-check port off; a fleet host sets it for each worker.
  WORKER_AGENT_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  LOG_LEVEL: z.enum(LEVELS).default('info'),
  /** When set, stream upgrades are checked against `X-Twilio-Signature`. */
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  WORKER_STREAM_IDLE_TIMEOUT_MS: Milliseconds(15_000, 1_000),
  // LiveKit SIP dial-out (`POST /livekit/dialout`); all four or none.
  LIVEKIT_URL: z.url().optional(),
  LIVEKIT_API_KEY: z.string().min(1).optional(),
  LIVEKIT_API_SECRET: z.string().min(1).optional(),
  LIVEKIT_SIP_TRUNK_ID: z.string().min(1).optional(),
});

const LIVEKIT_VARIABLES = [
  'LIVEKIT_URL',
  'LIVEKIT_API_KEY',
  'LIVEKIT_API_SECRET',
  'LIVEKIT_SIP_TRUNK_ID',
] as const;

export interface WorkerEnv {
  workerId: string;
  host: string;
  port: number;
  publicUrl: string | undefined;
  pool: string;
  labels: Record<string, string>;
  registryUrl: string;
  ttlMs: number;
  heartbeatIntervalMs: number;
  bridgeUrl: string;
  bridgeInternalToken: string;
  dataDir: string;
  promptsDir: string;
  ttsCacheDir: string;
  drainTimeoutMs: number;
  twilioAuthToken: string | undefined;
  streamIdleTimeoutMs: number;
  /** HAProxy agent-check port; undefined when off. */
  agentPort: number | undefined;
  logLevel: (typeof LEVELS)[number];
  /** Undefined unless all four LIVEKIT_* variables are set. */
  livekit: LiveKitConfig | undefined;
}

export class EnvError extends Error {
  readonly code = 'INVALID_ENV';
}

/** Parses the worker's environment; throws EnvError naming each invalid variable. */
export function loadEnv(env: NodeJS.ProcessEnv): WorkerEnv {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new EnvError(`invalid worker environment:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  const livekitSet = LIVEKIT_VARIABLES.filter((name) => e[name] !== undefined);
  if (livekitSet.length > 0 && livekitSet.length < LIVEKIT_VARIABLES.length) {
    const missing = LIVEKIT_VARIABLES.filter((name) => e[name] === undefined);
    throw new EnvError(
      `invalid worker environment:\n  ${missing.join(', ')}: required when ${livekitSet.join(', ')} is set`,
    );
  }
  if (e.WORKER_PUBLIC_URL !== undefined && e.WORKER_PUBLIC_HOST !== undefined) {
    throw new EnvError(
      'invalid worker environment:\n  WORKER_PUBLIC_HOST: set either it or WORKER_PUBLIC_URL, not both',
    );
  }
  const publicHost = e.WORKER_PUBLIC_HOST === 'auto' ? hostname() : e.WORKER_PUBLIC_HOST;
  const workerId = e.WORKER_ID ?? `${hostname()}-${e.WORKER_PORT}`;
  const defaultPrompts = fileURLToPath(new URL('../../../assets/prompts', import.meta.url));
  return {
    workerId,
    host: e.WORKER_HOST,
    port: e.WORKER_PORT,
    publicUrl:
      e.WORKER_PUBLIC_URL ??
      (publicHost === undefined ? undefined : `http://${publicHost}:${e.WORKER_PORT}`),
    pool: e.WORKER_POOL,
    labels: e.WORKER_LABELS,
    registryUrl: e.REGISTRY_URL,
    ttlMs: e.WORKER_TTL_MS,
    heartbeatIntervalMs: e.WORKER_HEARTBEAT_INTERVAL_MS,
    bridgeUrl: e.BRIDGE_URL,
    bridgeInternalToken: e.BRIDGE_INTERNAL_TOKEN,
    dataDir: e.WORKER_DATA_DIR ?? `.voxfleet/workers/${workerId}`,
    promptsDir: e.WORKER_PROMPTS_DIR ?? defaultPrompts,
    ttsCacheDir: e.WORKER_TTS_CACHE_DIR,
    drainTimeoutMs: e.WORKER_DRAIN_TIMEOUT_MS,
    twilioAuthToken: e.TWILIO_AUTH_TOKEN,
    streamIdleTimeoutMs: e.WORKER_STREAM_IDLE_TIMEOUT_MS,
    agentPort: e.WORKER_AGENT_PORT === 0 ? undefined : e.WORKER_AGENT_PORT,
    logLevel: e.LOG_LEVEL,
    livekit:
      e.LIVEKIT_URL === undefined ||
      e.LIVEKIT_API_KEY === undefined ||
      e.LIVEKIT_API_SECRET === undefined ||
      e.LIVEKIT_SIP_TRUNK_ID === undefined
        ? undefined
        : {
            url: e.LIVEKIT_URL,
            apiKey: e.LIVEKIT_API_KEY,
            apiSecret: e.LIVEKIT_API_SECRET,
            sipTrunkId: e.LIVEKIT_SIP_TRUNK_ID,
          },
  };
}
