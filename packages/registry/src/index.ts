/**
 * The capacity registry: workers register one-call slots, the dialler reserves them.
 * `openRegistry` loads only the backend the URL names, so a process on SQLite never
 * loads ioredis and a process on Redis never loads better-sqlite3.
 *
 * @example
 * const registry = await openRegistry('sqlite:.voxfleet/registry.db');
 * await registry.register({ workerId: 'w1', url, host, pool: 'default', labels: {}, ttlMs: 15_000 });
 */
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from '@voxfleet/logger';
import type { CapacityRegistry } from './types.js';
import { parseRegistryUrl } from './url.js';

export * from './errors.js';
export type * from './types.js';
export {
  parseRegistryUrl,
  type RedisAddress,
  type RedisCredentials,
  type RegistryLocation,
} from './url.js';
export {
  createRegistryMetrics,
  instrumentRegistry,
  InstrumentedRegistry,
  type RegistryMetrics,
  type ReserveOutcome,
} from './metrics.js';

export interface OpenRegistryOptions {
  /**
   * SQLite only: the store's clock for every expiry, deadline and event time, in epoch
   * milliseconds. Defaults to `Date.now`. Redis always uses the server's `TIME`.
   */
  now?: () => number;
  /** SQLite only: how long a write waits for another process's lock. Defaults to 5000. */
  busyTimeoutMs?: number;
  /** SQLite only: how many of the newest slot events the file keeps. Defaults to 10,000. */
  eventRetention?: number;
  /** Redis only: approximate number of events each pool's stream keeps. Defaults to 10,000. */
  eventStreamMaxLength?: number;
  /** Redis only: prefix of every key. Defaults to `voxfleet:`. */
  keyPrefix?: string;
  /**
   * Redis only: maximum number of reserve, confirm and release operations of one pool sent
   * in one call. Defaults to 64. With 1, every operation goes on its own.
   */
  maxBatch?: number;
  /**
   * Redis only: extra TLS settings, such as a private `ca`, for `rediss://`,
   * `rediss-sentinel://` and `rediss-cluster://` URLs.
   */
  tls?: ConnectionOptions;
  /** Redis only: how long connecting may take. Defaults to 5000. */
  connectTimeoutMs?: number;
  /** Redis only: receives connection failures and recoveries. */
  logger?: Logger;
}

/**
 * Opens the registry at `url`: `sqlite:<path>`, `redis://host:port[/db]`,
 * `redis-sentinel://host:port[,host:port...]/<masterName>[/db]` or
 * `redis-cluster://host:port[,host:port...]`, each with `rediss` for TLS (see
 * `parseRegistryUrl`). Throws
 * `RegistryInvalidUrlError` for a bad URL and `RegistryUnavailableError` when the store
 * cannot be opened.
 */
export async function openRegistry(
  url: string,
  options: OpenRegistryOptions = {},
): Promise<CapacityRegistry> {
  const location = parseRegistryUrl(url);
  if (location.kind === 'sqlite') {
    const { SqliteRegistry } = await import('./sqlite/sqlite-registry.js');
    return SqliteRegistry.open({
      path: location.path,
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
      ...(options.eventRetention === undefined ? {} : { eventRetention: options.eventRetention }),
    });
  }
  const { RedisRegistry } = await import('./redis/redis-registry.js');
  return RedisRegistry.open({
    location,
    ...(options.keyPrefix === undefined ? {} : { keyPrefix: options.keyPrefix }),
    ...(options.connectTimeoutMs === undefined
      ? {}
      : { connectTimeoutMs: options.connectTimeoutMs }),
    ...(options.eventStreamMaxLength === undefined
      ? {}
      : { eventStreamMaxLength: options.eventStreamMaxLength }),
    ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
}
