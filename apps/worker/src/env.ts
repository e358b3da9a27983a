/**
 * The worker's environment, parsed once at startup. `loadEnv` throws `EnvError` with one
 * line per invalid variable.
 *
 * The checks are written out by hand rather than with zod: zod and the schemas built on it
 * cost an idle worker more than 10 MiB of resident memory (docs/benchmarks.md, "Worker").
 */
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { LiveKitConfig } from './livekit/config.js';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type LogLevel = (typeof LEVELS)[number];

const PUBLIC_HOST = /^[A-Za-z0-9.-]+$/;

/** Reads variables one by one and collects a `NAME: problem` line for each invalid one. */
class EnvReader {
  readonly issues: string[] = [];
  readonly #env: NodeJS.ProcessEnv;

  constructor(env: NodeJS.ProcessEnv) {
    this.#env = env;
  }

  /** Reads a string of 1 to `maxLength` characters; undefined when unset. */
  optionalString(name: string, maxLength = Infinity): string | undefined {
    const value = this.#env[name];
    if (value === undefined) return undefined;
    if (value === '') return this.#fail(name, 'must not be empty');
    if (value.length > maxLength)
      return this.#fail(name, `must be at most ${maxLength} characters`);
    return value;
  }

  /** Reads a string that must be set and not empty; `problem` explains why it is needed. */
  requiredString(name: string, problem: string): string {
    const value = this.#env[name];
    if (value === undefined || value === '') return this.#fail(name, problem) ?? '';
    return value;
  }

  string(name: string, fallback: string, maxLength = Infinity): string {
    return this.optionalString(name, maxLength) ?? fallback;
  }

  /**
   * Reads an integer in `min..max`. As with `Number()`, surrounding spaces are ignored and an empty
   * value reads as 0.
   */
  integer(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const text = this.#env[name];
    // An empty value, as `WORKER_PORT=` in a compose file leaves it, means the default.
    if (text === undefined || text.trim() === '') return fallback;
    const value = Number(text);
    if (!Number.isInteger(value))
      return this.#fail(name, `must be an integer, got "${text}"`) ?? fallback;
    if (value < min || value > max) {
      return this.#fail(name, `must be between ${min} and ${max}, got ${value}`) ?? fallback;
    }
    return value;
  }

  /** Reads an absolute URL that `new URL()` accepts; undefined when unset. */
  optionalUrl(name: string): string | undefined {
    const value = this.#env[name];
    if (value === undefined) return undefined;
    if (!URL.canParse(value.trim())) return this.#fail(name, `must be a URL, got "${value}"`);
    return value.trim();
  }

  /** Parses `k=v,k=v` into a record; keys and values are trimmed and must not be empty. */
  labels(name: string): Record<string, string> {
    const labels: Record<string, string> = {};
    for (const pair of (this.#env[name] ?? '').split(',').map((part) => part.trim())) {
      if (pair === '') continue;
      const index = pair.indexOf('=');
      const key = index < 0 ? '' : pair.slice(0, index).trim();
      const value = index < 0 ? '' : pair.slice(index + 1).trim();
      if (key === '' || value === '') {
        this.#fail(name, `"${pair}" is not a key=value pair`);
        return {};
      }
      labels[key] = value;
    }
    return labels;
  }

  logLevel(name: string): LogLevel {
    const value = this.#env[name];
    if (value === undefined) return 'info';
    const level = LEVELS.find((candidate) => candidate === value);
    return (
      level ?? this.#fail(name, `must be one of ${LEVELS.join(', ')}, got "${value}"`) ?? 'info'
    );
  }

  fail(name: string, message: string): void {
    this.#fail(name, message);
  }

  #fail(name: string, message: string): undefined {
    this.issues.push(`${name}: ${message}`);
    return undefined;
  }
}

/** Reads every variable with its default; throws EnvError listing each invalid one. */
function readVariables(env: NodeJS.ProcessEnv) {
  const read = new EnvReader(env);
  const variables = {
    WORKER_ID: read.optionalString('WORKER_ID', 128),
    WORKER_HOST: read.string('WORKER_HOST', '127.0.0.1'),
    WORKER_PORT: read.integer('WORKER_PORT', 7801, 0, 65535),
    WORKER_PUBLIC_URL: read.optionalUrl('WORKER_PUBLIC_URL'),
    // Host name in the registered URL `http://<host>:<WORKER_PORT>` when WORKER_PUBLIC_URL is
    // unset; `auto` takes os.hostname(), which is the container's DNS name under Compose.
    WORKER_PUBLIC_HOST: read.optionalString('WORKER_PUBLIC_HOST'),
    WORKER_POOL: read.string('WORKER_POOL', 'default', 128),
    WORKER_LABELS: read.labels('WORKER_LABELS'),
    REGISTRY_URL: read.string('REGISTRY_URL', 'sqlite:.voxfleet/registry.db'),
    WORKER_TTL_MS: read.integer('WORKER_TTL_MS', 5_000, 500),
    WORKER_HEARTBEAT_INTERVAL_MS: read.integer('WORKER_HEARTBEAT_INTERVAL_MS', 1_000, 50),
    BRIDGE_URL: read.optionalUrl('BRIDGE_URL') ?? 'http://127.0.0.1:7700',
    BRIDGE_INTERNAL_TOKEN: read.requiredString(
      'BRIDGE_INTERNAL_TOKEN',
      'is required: the token of voxbridge internal routes',
    ),
    WORKER_DATA_DIR: read.optionalString('WORKER_DATA_DIR'),
    WORKER_PROMPTS_DIR: read.optionalString('WORKER_PROMPTS_DIR'),
    WORKER_TTS_CACHE_DIR: read.string('WORKER_TTS_CACHE_DIR', '.voxfleet/tts-cache'),
    MAX_CONCURRENT_CALLS: read.integer('MAX_CONCURRENT_CALLS', 1, Number.MIN_SAFE_INTEGER),
    // The default lets a call of the default maximum length (600 000 ms) finish during a drain.
    WORKER_DRAIN_TIMEOUT_MS: read.integer('WORKER_DRAIN_TIMEOUT_MS', 600_000, 0),
    // 0 turns the HAProxy agent-check port off; a fleet host sets it for each worker.
    WORKER_AGENT_PORT: read.integer('WORKER_AGENT_PORT', 0, 0, 65535),
    LOG_LEVEL: read.logLevel('LOG_LEVEL'),
    /** When set, stream upgrades are checked against `X-Twilio-Signature`. */
    TWILIO_AUTH_TOKEN: read.optionalString('TWILIO_AUTH_TOKEN'),
    WORKER_STREAM_IDLE_TIMEOUT_MS: read.integer('WORKER_STREAM_IDLE_TIMEOUT_MS', 15_000, 1_000),
    // LiveKit SIP dial-out (`POST /livekit/dialout`); all four or none.
    LIVEKIT_URL: read.optionalUrl('LIVEKIT_URL'),
    LIVEKIT_API_KEY: read.optionalString('LIVEKIT_API_KEY'),
    LIVEKIT_API_SECRET: read.optionalString('LIVEKIT_API_SECRET'),
    LIVEKIT_SIP_TRUNK_ID: read.optionalString('LIVEKIT_SIP_TRUNK_ID'),
  };
  const publicHost = variables.WORKER_PUBLIC_HOST;
  if (publicHost !== undefined && !PUBLIC_HOST.test(publicHost)) {
    read.fail('WORKER_PUBLIC_HOST', 'must be a host name, an IPv4 address or "auto"');
  }
  if (variables.MAX_CONCURRENT_CALLS !== 1) {
    read.fail(
      'MAX_CONCURRENT_CALLS',
      'must be 1: a worker process holds one call; run more workers',
    );
  }
  // The registry expires a worker whose TTL passes without a heartbeat.
  if (variables.WORKER_HEARTBEAT_INTERVAL_MS >= variables.WORKER_TTL_MS) {
    read.fail(
      'WORKER_HEARTBEAT_INTERVAL_MS',
      `must be less than WORKER_TTL_MS (${variables.WORKER_TTL_MS}), got ` +
        `${variables.WORKER_HEARTBEAT_INTERVAL_MS}: the registry would expire the worker ` +
        'between heartbeats',
    );
  }
  if (read.issues.length > 0) {
    throw new EnvError(`invalid worker environment:\n  ${read.issues.join('\n  ')}`);
  }
  return variables;
}

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
  const e = readVariables(env);
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
