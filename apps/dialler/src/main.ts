/**
 * Entry point of the voxdialler process: reads the environment, opens the registry and
 * runs the dialler until SIGTERM or SIGINT. The first signal drains; a second exits now.
 */
import { createLogger } from '@voxfleet/logger';
import { openRegistry } from '@voxfleet/registry';
import type { CapacityRegistry } from '@voxfleet/registry';

import { SimCarrier } from './carriers/sim.js';
import type { Carrier } from './carriers/types.js';
import { parseEnv, type DiallerEnv } from './env.js';
import { createDialler } from './index.js';

function createCarrier(env: DiallerEnv): Carrier {
  switch (env.CARRIER) {
    case 'sim':
      return new SimCarrier({
        baseUrl: env.CARRIER_SIM_URL,
        provider: env.CARRIER_PROVIDER,
        secret: env.CARRIER_CALLBACK_SECRET,
      });
  }
}

async function main(): Promise<void> {
  let env: DiallerEnv;
  try {
    env = parseEnv(process.env);
  } catch (err) {
    process.stderr.write(`voxdialler: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }

  const log = createLogger({ service: 'voxdialler', level: env.LOG_LEVEL });
  let registry: CapacityRegistry;
  try {
    registry = await openRegistry(env.REGISTRY_URL);
  } catch (err) {
    // A malformed REGISTRY_URL or an unreachable Redis is a setup error, so the message is
    // printed without the stack trace of an uncaught exception.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`voxdialler: cannot open the registry at REGISTRY_URL: ${message}\n`);
    process.exit(1);
  }
  const dialler = createDialler({
    host: env.DIALLER_HOST,
    port: env.DIALLER_PORT,
    publicUrl: env.DIALLER_PUBLIC_URL,
    bridgeUrl: env.BRIDGE_URL,
    bridgeToken: env.BRIDGE_INTERNAL_TOKEN,
    registry,
    pool: env.DIALLER_POOL,
    carrier: createCarrier(env),
    carrierCallbackSecret: env.CARRIER_CALLBACK_SECRET,
    pacingIntervalMs: env.DIALLER_PACING_INTERVAL_MS,
    reservationTtlMs: env.DIALLER_RESERVATION_TTL_MS,
    ringTimeoutMs: env.DIALLER_RING_TIMEOUT_MS,
    maxInFlight: env.DIALLER_MAX_IN_FLIGHT,
    attemptTimeoutMs: env.DIALLER_ATTEMPT_TIMEOUT_MS,
    drainTimeoutMs: env.DIALLER_DRAIN_TIMEOUT_MS,
    logger: log,
  });

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    dialler
      .stop()
      .then(() => registry.close())
      .then(() => log.flush())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    await dialler.start();
  } catch (err) {
    log.fatal({ err }, 'start failed');
    await registry.close();
    process.exit(1);
  }
}

await main();
