/**
 * voxdialler: the campaign loop, the carrier status callbacks and the HTTP server.
 *
 * @example
 * const dialler = createDialler({ bridgeUrl, bridgeToken, registry, carrier });
 * const { url } = await dialler.start();
 * // ...
 * await dialler.stop(); // drains attempts in flight, then closes the server
 */
import { createLogger, type Logger } from '@voxfleet/logger';
import type { CapacityRegistry } from '@voxfleet/registry';

import type { AttemptContext } from './attempt-runner.js';
import { BridgeClient } from './bridge-client.js';
import type { Carrier } from './carriers/types.js';
import { DiallerLoop } from './dialler.js';
import { createMetrics, type DiallerMetrics } from './metrics.js';
import { createServer } from './server.js';
import { StatusOutbox } from './status-outbox.js';
import { WorkerClient } from './worker-client.js';

export { BridgeClient, type ClaimedAttempt, type StatusReport } from './bridge-client.js';
export type { Carrier, PlacedCall } from './carriers/types.js';
export { SimCarrier } from './carriers/sim.js';
export { DiallerError, type DiallerErrorCode } from './errors.js';
export { decideContact } from './retry-policy.js';

export interface DiallerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Base URL the carrier posts status callbacks to; defaults to the listening address. */
  publicUrl?: string;
  bridgeUrl: string;
  bridgeToken: string;
  /** Owned by the caller, which closes it after `stop()`. */
  registry: CapacityRegistry;
  pool?: string;
  carrier: Carrier;
  carrierCallbackSecret?: string;
  pacingIntervalMs?: number;
  reservationTtlMs?: number;
  ringTimeoutMs?: number;
  maxInFlight?: number;
  attemptTimeoutMs?: number;
  drainTimeoutMs?: number;
  /** How long `stop()` waits for undelivered status reports after the drain. */
  flushTimeoutMs?: number;
  /** Cap of the contact retry backoff. */
  maxRetryBackoffMs?: number;
  /** Up to this fraction of the retry backoff is added at random. */
  retryJitterRatio?: number;
  /** First delay between tries of a status report; it doubles up to 10 s. */
  reportRetryBaseDelayMs?: number;
  requestTimeoutMs?: number;
  /** `/ready` needs a response from the bridge and the registry within this window. */
  readyWindowMs?: number;
  logger?: Logger;
}

export interface Dialler {
  /** Listens and starts the loop; idempotent. */
  start(): Promise<{ url: string }>;
  /** Drains, delivers what it can and closes the server; idempotent. */
  stop(): Promise<void>;
  readonly metrics: DiallerMetrics;
}

export function createDialler(options: DiallerOptions): Dialler {
  const log = options.logger ?? createLogger({ service: 'voxdialler' });
  const metrics = createMetrics();
  const stopSignal = new AbortController();
  const pacingIntervalMs = options.pacingIntervalMs ?? 500;
  const host = options.host ?? '127.0.0.1';

  const bridge = new BridgeClient({
    baseUrl: options.bridgeUrl,
    token: options.bridgeToken,
    requestTimeoutMs: options.requestTimeoutMs,
    retryBaseDelayMs: options.reportRetryBaseDelayMs,
    signal: stopSignal.signal,
    onRetry: (err, tryNumber, delayMs) =>
      log.warn({ err, tryNumber, delayMs }, 'bridge request retrying'),
    onReachable: () => loop.markBridgeReachable(),
  });

  // The callback URL is known only once the port is, so the context is filled in by start().
  const settings: AttemptContext['settings'] = {
    pool: options.pool ?? 'default',
    reservationTtlMs: options.reservationTtlMs ?? 10_000,
    ringTimeoutMs: options.ringTimeoutMs ?? 30_000,
    statusCallbackUrl: '',
    retryPolicy: {
      maxBackoffMs: options.maxRetryBackoffMs ?? 3_600_000,
      jitterRatio: options.retryJitterRatio ?? 0.1,
    },
  };
  const ctx: AttemptContext = {
    registry: options.registry,
    bridge,
    outbox: new StatusOutbox(log),
    workers: new WorkerClient(options.requestTimeoutMs),
    carrier: options.carrier,
    metrics,
    log,
    settings,
    now: Date.now,
  };
  const loop = new DiallerLoop(
    ctx,
    {
      pool: settings.pool,
      pacingIntervalMs,
      maxInFlight: options.maxInFlight ?? 100,
      attemptTimeoutMs: options.attemptTimeoutMs ?? 900_000,
      readyWindowMs: options.readyWindowMs ?? Math.max(10_000, pacingIntervalMs * 4),
    },
    log,
  );
  const server = createServer({
    loop,
    metrics,
    log,
    carrierCallbackSecret: options.carrierCallbackSecret,
  });

  let started: Promise<{ url: string }> | null = null;
  let stopped: Promise<void> | null = null;

  async function listen(): Promise<{ url: string }> {
    await server.listen({ host, port: options.port ?? 7710 });
    const address = server.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : options.port;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    settings.statusCallbackUrl = `${(options.publicUrl ?? url).replace(/\/+$/, '')}/carrier/status`;
    loop.start();
    log.info({ url, pool: settings.pool, carrier: options.carrier.name }, 'listening');
    return { url };
  }

  // Stop order: the loop drains first while the server still takes carrier callbacks,
  // then undelivered retries are abandoned, then the server closes.
  async function shutdown(): Promise<void> {
    if (started !== null) await started.catch(() => undefined);
    await loop.drain(options.drainTimeoutMs ?? 30_000, options.flushTimeoutMs ?? 10_000);
    stopSignal.abort();
    await server.close();
    log.info({}, 'stopped');
  }

  return {
    metrics,
    start() {
      started ??= listen();
      return started;
    },
    stop() {
      stopped ??= shutdown();
      return stopped;
    },
  };
}
