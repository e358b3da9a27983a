/**
 * Runs one worker from the environment (see `src/env.ts`).
 *
 * Shutdown: the first SIGTERM or SIGINT (or `POST /drain`) drains: no new calls, the call
 * in progress finishes (aborted after WORKER_DRAIN_TIMEOUT_MS), the spool is flushed
 * briefly, the worker deregisters and the process exits 0. A second signal aborts the call,
 * spools its result with status `aborted` and exits.
 */
import { createLogger } from '@voxfleet/logger';
import { EnvError, loadEnv } from './env.js';
import { createWorker } from './create-worker.js';

let env;
try {
  env = loadEnv(process.env);
} catch (err) {
  if (!(err instanceof EnvError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}

const log = createLogger({ service: 'voxcore-worker', level: env.logLevel });

const worker = createWorker({
  workerId: env.workerId,
  host: env.host,
  port: env.port,
  ...(env.publicUrl === undefined ? {} : { publicUrl: env.publicUrl }),
  pool: env.pool,
  labels: env.labels,
  registry: env.registryUrl,
  ttlMs: env.ttlMs,
  heartbeatIntervalMs: env.heartbeatIntervalMs,
  bridgeUrl: env.bridgeUrl,
  bridgeInternalToken: env.bridgeInternalToken,
  dataDir: env.dataDir,
  promptsDir: env.promptsDir,
  ttsCacheDir: env.ttsCacheDir,
  ...(env.livekit === undefined ? {} : { livekit: env.livekit }),
  drainTimeoutMs: env.drainTimeoutMs,
  ...(env.twilioAuthToken === undefined ? {} : { twilioAuthToken: env.twilioAuthToken }),
  streamIdleTimeoutMs: env.streamIdleTimeoutMs,
  ...(env.agentPort === undefined ? {} : { agentPort: env.agentPort }),
  log,
  // A repeated POST /drain is not a second signal, so it never aborts the call.
  onDrainRequest: () => {
    if (signals === 0) onShutdownRequest('drain-request');
  },
});

let signals = 0;

/** Aborted shutdowns get this long to spool the result before the process exits anyway. */
const FORCED_EXIT_MS = 15_000;

function onShutdownRequest(reason: string): void {
  signals++;
  if (signals === 1) {
    void drainAndExit(reason);
    return;
  }
  if (signals === 2) {
    // The drain in progress goes on once the aborted call has spooled its result.
    log.warn({ reason }, 'second shutdown request; aborting call');
    worker.abortCall('forced-shutdown');
    setTimeout(() => exit(1), FORCED_EXIT_MS).unref();
    return;
  }
  exit(1);
}

async function drainAndExit(reason: string): Promise<void> {
  log.info({ reason }, 'shutdown requested');
  try {
    await worker.drain();
    await worker.stop();
    exit(0);
  } catch (err) {
    log.error({ err }, 'shutdown failed');
    exit(1);
  }
}

function exit(code: number): void {
  log.flush();
  process.exit(code);
}

process.on('SIGTERM', () => onShutdownRequest('SIGTERM'));
process.on('SIGINT', () => onShutdownRequest('SIGINT'));

try {
  await worker.start();
} catch (err) {
  log.fatal({ err }, 'worker failed to start');
  exit(1);
}
