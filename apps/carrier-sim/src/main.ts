/**
 * Entry point of the sim carrier process. SIGTERM or SIGINT ends every call (`stop` on
 * answered streams) and exits; a second signal exits at once.
 */
import { readFileSync } from 'node:fs';
import { createLogger } from '@voxfleet/logger';
import { createSimCarrier } from './carrier.js';
import { loadEnv, type CarrierSimEnv } from './env.js';
import { CarrierSimError } from './errors.js';

/** Wall-clock time the process gives `stop()` before it exits anyway. */
const SHUTDOWN_DEADLINE_MS = 10_000;

function readVersion(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed === 'object' && parsed !== null && 'version' in parsed) {
    return String(parsed.version);
  }
  return '0.0.0';
}

function loadEnvOrExit(): CarrierSimEnv {
  try {
    return loadEnv(process.env);
  } catch (err) {
    const message = err instanceof CarrierSimError ? err.message : String(err);
    process.stderr.write(`carrier-sim: ${message}\n`);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const env = loadEnvOrExit();

  const log = createLogger({
    service: 'carrier-sim',
    version: readVersion(),
    level: env.LOG_LEVEL,
  });
  const carrier = createSimCarrier({
    host: env.CARRIER_SIM_HOST,
    port: env.CARRIER_SIM_PORT,
    speed: env.CARRIER_SIM_SPEED,
    audioDir: env.CARRIER_SIM_AUDIO_DIR,
    maxCallMs: env.CARRIER_SIM_MAX_CALL_MS,
    callbackSecret: env.CARRIER_CALLBACK_SECRET,
    log,
  });

  // pino writes asynchronously; flushing first keeps the last lines of a dying process.
  const exit = (code: number) => log.flush(() => process.exit(code));

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal, exiting now');
      exit(1);
    }
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown deadline passed, exiting');
      exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    carrier.stop().then(
      () => exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    await carrier.start();
  } catch (err) {
    log.fatal({ err }, 'carrier failed to start');
    exit(1);
  }
}

await main();
