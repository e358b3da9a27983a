/**
 * voxbridge entry point: reads the environment, starts the server, and on SIGTERM or
 * SIGINT closes gracefully within BRIDGE_SHUTDOWN_TIMEOUT_MS. A second signal exits at once.
 */
import { createLogger } from '@voxfleet/logger';

import { loadEnv } from './env.js';
import type { BridgeEnv } from './env.js';
import { EnvError } from './errors.js';
import { createBridge } from './index.js';

function readEnv(): BridgeEnv {
  try {
    return loadEnv(process.env);
  } catch (err) {
    if (err instanceof EnvError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

const env = readEnv();
const logger = createLogger({ service: 'voxbridge', level: env.logLevel });

const bridge = await createBridge({
  host: env.host,
  port: env.port,
  sqlitePath: env.sqlitePath,
  recordingsDir: env.recordingsDir,
  internalToken: env.internalToken,
  adminKey: env.adminKey,
  bootstrapApiKey: env.bootstrapApiKey,
  maxRecordingBytes: env.maxRecordingBytes,
  attemptStaleMs: env.attemptStaleMs,
  releaseGraceMs: env.releaseGraceMs,
  mongo: env.mongo,
  s3: env.s3,
  registryUrl: env.registryUrl,
  uiDir: env.uiDir,
  publicUrl: env.publicUrl,
  inbound: env.inbound,
  logger,
});

let stopping = false;

function onSignal(signal: NodeJS.Signals): void {
  if (stopping) {
    logger.warn({ signal }, 'second signal, exiting now');
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal, timeoutMs: env.shutdownTimeoutMs }, 'shutting down');
  const deadline = setTimeout(() => {
    logger.error({ timeoutMs: env.shutdownTimeoutMs }, 'shutdown timed out, exiting');
    process.exit(1);
  }, env.shutdownTimeoutMs);
  deadline.unref();
  bridge.stop().then(
    () => {
      clearTimeout(deadline);
      logger.flush();
      process.exitCode = 0;
    },
    (err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
}

process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

try {
  await bridge.start();
} catch (err) {
  logger.fatal({ err }, 'voxbridge failed to start');
  await bridge.stop().catch(() => undefined);
  process.exit(1);
}
