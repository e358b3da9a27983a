/**
 * voxbridge, the voxfleet HTTP API, as a library: `createBridge` wires the store,
 * recordings, metrics and routes, and returns `start()` / `stop()` for the CLI and tests.
 *
 * @example
 * const bridge = await createBridge({ sqlitePath: ':memory:', recordingsDir, internalToken });
 * const { url } = await bridge.start();
 * await bridge.stop();
 */
import { createLogger, PRODUCT_VERSION } from '@voxfleet/logger';
import type { Logger } from '@voxfleet/logger';
import type { FastifyInstance } from 'fastify';

import { buildApp } from './app.js';
import { createMetrics } from './http/metrics.js';
import { hasDashboardBuild } from './routes/fleet-ui.js';
import { describeApiKey } from './keys.js';
import { FsRecordingStore } from './recordings/fs-recording-store.js';
import type { S3RecordingStoreOptions } from './recordings/s3-recording-store.js';
import type { RecordingStore } from './recordings/types.js';
import type { MongoStoreOptions } from './store/mongo/mongo-store.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import type { BridgeStore } from './store/types.js';

export { BridgeError, isBridgeError } from './errors.js';
export type { BridgeErrorCode, ErrorDetail } from './errors.js';
export { loadEnv } from './env.js';
export type { BridgeEnv } from './env.js';
export { hashApiKey, generateApiKey } from './keys.js';
export { SqliteStore } from './store/sqlite/sqlite-store.js';
export { FsRecordingStore } from './recordings/fs-recording-store.js';
export type * from './store/types.js';
export type { RecordingStore } from './recordings/types.js';
export type { MongoStoreOptions } from './store/mongo/mongo-store.js';
export type { S3RecordingStoreOptions } from './recordings/s3-recording-store.js';

const VERSION = PRODUCT_VERSION;

/** Name of the tenant that owns `bootstrapApiKey`. */
export const BOOTSTRAP_TENANT = 'default';

export interface BridgeOptions {
  /** Defaults to 127.0.0.1. */
  host?: string;
  /** Defaults to 7700; 0 picks a free port. */
  port?: number;
  /** SQLite file, or `:memory:`. Ignored when `store` is given. */
  sqlitePath?: string;
  /** Root folder for recordings. Ignored when `recordings` is given. */
  recordingsDir?: string;
  /** A store to use in place of SQLite; `stop()` closes it. */
  store?: BridgeStore;
  /** MongoDB in place of SQLite. Ignored when `store` is given. */
  mongo?: MongoStoreOptions | undefined;
  /** Recording storage in place of files; `stop()` closes it. */
  recordings?: RecordingStore;
  /** An S3 bucket in place of `recordingsDir`. Ignored when `recordings` is given. */
  s3?: S3RecordingStoreOptions | undefined;
  /** Bearer token of the internal routes; at least 16 characters. */
  internalToken: string;
  /** Enables `POST /v1/tenants` when set. */
  adminKey?: string;
  /** When set, startup ensures the tenant `default` owns this API key. */
  bootstrapApiKey?: string;
  /** Defaults to 50 MiB. */
  maxRecordingBytes?: number;
  logger?: Logger;
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Clock for claims and timestamps; tests may pin it. */
  now?: () => Date;
  /**
   * Silence after which the next claim closes a `queued`, `dialling` or `ringing` call as
   * `failed` with reason `abandoned`. An `in-progress` call gets the bot's
   * `maxCallDurationMs` on top. Defaults to 300000 (5 minutes).
   */
  attemptStaleMs?: number;
  /** Capacity registry URL for the fleet routes; without it `GET /v1/fleet` is empty. */
  registryUrl?: string;
  /** How often the fleet routes sample the registry. Defaults to 5000. */
  fleetSampleIntervalMs?: number;
  /**
   * Wait after an inbound call's worker released its slot without a result before the call
   * is closed as `failed` with reason `no-result`. Defaults to 60000.
   */
  releaseGraceMs?: number;
  /** Dashboard build to serve under `/`; skipped when it has no `index.html`. */
  uiDir?: string;
  /**
   * Base URL at which carriers reach voxbridge, such as https://voice.example.com. It forms
   * the bots' inbound webhook URLs and the URL that Twilio signatures cover. Defaults to
   * the scheme and host of each request.
   */
  publicUrl?: string | undefined;
  /** Inbound lines: the workers' pool, timeouts and the tenant limit. */
  inbound?: BridgeInboundOptions;
}

export interface BridgeInboundOptions {
  /** Registry pool of the workers that take inbound calls. Defaults to `default`. */
  pool?: string;
  /** The slot reservation lapses unless the worker confirms it within this time. Defaults to 10000. */
  reservationTtlMs?: number;
  /** How long the worker waits for the carrier to open the media stream. Defaults to 30000. */
  streamTimeoutMs?: number;
  /** Live calls one tenant may hold in the pool at once; no limit when undefined. */
  tenantMaxCalls?: number | undefined;
  /** How often voxbridge closes stale inbound calls. Defaults to 30000. */
  sweepIntervalMs?: number;
}

export interface Bridge {
  /** Opens the store and listens. Idempotent: a second call returns the same URL. */
  start(): Promise<{ url: string }>;
  /**
   * Stops accepting requests, finishes those in flight and closes the store. Idempotent.
   * It has no deadline of its own: `main.ts` applies BRIDGE_SHUTDOWN_TIMEOUT_MS.
   */
  stop(): Promise<void>;
  app: FastifyInstance;
}

const DEFAULT_MAX_RECORDING_BYTES = 50 * 1024 * 1024;

export async function createBridge(options: BridgeOptions): Promise<Bridge> {
  if (options.internalToken.length < 16) {
    throw new Error('internalToken must be at least 16 characters');
  }
  const logger =
    options.logger ??
    createLogger({ service: 'voxbridge', version: VERSION, level: options.logLevel ?? 'info' });
  const store = options.store ?? (await createStore(options));
  const recordings = options.recordings ?? (await createRecordingStore(options));
  const metrics = createMetrics();

  const uiDir = options.uiDir;
  const servesDashboard = uiDir !== undefined && hasDashboardBuild(uiDir);
  if (uiDir !== undefined && !servesDashboard) {
    logger.info({ uiDir }, 'dashboard not served, no index.html: run npm run build');
  }
  const app = await buildApp({
    logger,
    version: VERSION,
    fleet: {
      ...(options.registryUrl === undefined ? {} : { registryUrl: options.registryUrl }),
      ...(options.fleetSampleIntervalMs === undefined
        ? {}
        : { sampleIntervalMs: options.fleetSampleIntervalMs }),
      ...(options.releaseGraceMs === undefined ? {} : { releaseGraceMs: options.releaseGraceMs }),
      ...(options.now === undefined ? {} : { now: options.now }),
    },
    ...(servesDashboard ? { uiDir } : {}),
    ...(options.attemptStaleMs === undefined ? {} : { attemptStaleMs: options.attemptStaleMs }),
    ...(options.inbound === undefined ? {} : { inbound: options.inbound }),
    deps: {
      store,
      recordings,
      metrics,
      internalToken: options.internalToken,
      adminKey: options.adminKey,
      maxRecordingBytes: options.maxRecordingBytes ?? DEFAULT_MAX_RECORDING_BYTES,
      publicUrl: options.publicUrl,
      now: options.now ?? (() => new Date()),
    },
  });

  // onReady runs on the first listen() or inject(), so tests that only inject work too.
  app.addHook('onReady', async () => {
    await store.init();
    await recordings.init();
    if (options.bootstrapApiKey !== undefined) {
      const { tenant, created } = await store.ensureTenantKey(
        BOOTSTRAP_TENANT,
        describeApiKey(options.bootstrapApiKey),
      );
      logger.info({ tenantId: tenant.id, created }, 'bootstrap api key ensured');
    }
  });
  app.addHook('onClose', async () => {
    await store.close();
    await recordings.close();
  });

  let started: Promise<{ url: string }> | null = null;
  let stopped: Promise<void> | null = null;

  return {
    app,
    start() {
      started ??= (async () => {
        await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 7700 });
        const address = app.server.address();
        const port = typeof address === 'object' && address !== null ? address.port : options.port;
        const host = options.host ?? '127.0.0.1';
        const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
        logger.info({ url }, 'voxbridge listening');
        return { url };
      })();
      return started;
    },
    stop() {
      stopped ??= (async () => {
        logger.info({}, 'voxbridge stopping');
        await app.close();
        logger.info({}, 'voxbridge stopped');
      })();
      return stopped;
    },
  };
}

// The MongoDB driver and the AWS SDK load only when chosen: each adds about a second to a
// cold start, measured on the 2-core development machine.
async function createStore(options: BridgeOptions): Promise<BridgeStore> {
  if (options.mongo === undefined) {
    return new SqliteStore({ path: requireOption(options.sqlitePath, 'sqlitePath') });
  }
  const { MongoStore } = await import('./store/mongo/mongo-store.js');
  return new MongoStore(options.mongo);
}

async function createRecordingStore(options: BridgeOptions): Promise<RecordingStore> {
  if (options.s3 === undefined) {
    return new FsRecordingStore({ dir: requireOption(options.recordingsDir, 'recordingsDir') });
  }
  const { S3RecordingStore } = await import('./recordings/s3-recording-store.js');
  return new S3RecordingStore(options.s3);
}

function requireOption(value: string | undefined, name: string): string {
  if (value === undefined)
    throw new Error(`${name} is required unless the matching store is passed in`);
  return value;
}
