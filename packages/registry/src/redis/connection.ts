/**
 * Connections of the Redis backend: creates the ioredis client for one server, a primary
 * found through Redis Sentinel, or a Redis Cluster, and connects it within a deadline.
 */
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type Callback, type RedisOptions } from 'ioredis';
import type { Logger } from '@voxfleet/logger';
import type { RegistryLocation } from '../url.js';

/** The Redis deployments `parseRegistryUrl` returns: one server, Sentinel or Cluster. */
export type RedisLocation = Exclude<RegistryLocation, { kind: 'sqlite' }>;

/**
 * Creates the client of the location, not yet connected. Every kind fails a call after one
 * retry instead of queueing it for long: the dialler would rather requeue an attempt than
 * wait on a registry that is down. `tls` adds settings, such as a private `ca`, to the TLS
 * of a `rediss` URL; without them Node's default trust store applies (which
 * `NODE_EXTRA_CA_CERTS` extends).
 */
export function createClient(
  location: RedisLocation,
  connectTimeoutMs: number,
  tls: ConnectionOptions = {},
): Redis | Cluster {
  const common: RedisOptions = {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    maxRetriesPerRequest: 1,
  };
  const retryStrategy = (attempt: number) => Math.min(attempt * 100, 2000);
  if (location.kind === 'redis') {
    return new Redis(location.url, {
      ...common,
      retryStrategy,
      ...(location.tls ? { tls } : {}),
    });
  }

  if (location.kind === 'redis-sentinel') {
    return new Redis({
      ...common,
      ...credentialOptions(location.credentials),
      sentinels: location.sentinels,
      name: location.masterName,
      db: location.db,
      ...(location.sentinelCredentials.username === undefined
        ? {}
        : { sentinelUsername: location.sentinelCredentials.username }),
      ...(location.sentinelCredentials.password === undefined
        ? {}
        : { sentinelPassword: location.sentinelCredentials.password }),
      retryStrategy,
      sentinelRetryStrategy: retryStrategy,
      // Reconnect as soon as a Sentinel announces a new primary, instead of when the old
      // one's connection fails.
      failoverDetector: true,
      ...(location.tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
      // A demoted primary rejects writes with READONLY before running them, so the client
      // asks the Sentinels again and resends the command.
      reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    });
  }

  // NOTE: when a slot refresh drops a node, for example one that gave away its last slot,
  // ioredis 5.11 fails the commands in flight on it with "Connection is closed." and sends
  // them again after `retryDelayOnFailover` (100 ms). A reserve that the node had run then
  // runs twice, and the extra reservation keeps its worker reserved until its deadline.
  const cluster = new Cluster(location.nodes, {
    lazyConnect: true,
    clusterRetryStrategy: retryStrategy,
    redisOptions: {
      connectTimeout: connectTimeoutMs,
      maxRetriesPerRequest: 1,
      ...credentialOptions(location.credentials),
      ...(location.tls ? { tls } : {}),
    },
  });
  handleAskingRejections(cluster);
  return cluster;
}

/**
 * Marks every ASKING that the Cluster client sends as handled. On an ASK reply, ioredis
 * 5.11 sends ASKING to the node the hash slot is moving to, then the command, and never
 * handles the promise of ASKING. A slot refresh drops a node that owns no hash slot, such
 * as a new node that imports its first slot, and closes its connection. ASKING then
 * rejects with "Connection is closed." and, unhandled, would end the process. The command
 * fails the same way and goes through the client's redirection handling, so ignoring the
 * rejection of ASKING loses nothing.
 */
function handleAskingRejections(cluster: Cluster): void {
  cluster.on('+node', (node: Redis) => {
    const asking = node.asking.bind(node);
    node.asking = (callback?: Callback<'OK'>) => {
      const reply = asking(callback);
      reply.catch(() => undefined);
      return reply;
    };
  });
}

function credentialOptions(credentials: { username?: string; password?: string }) {
  return {
    ...(credentials.username === undefined ? {} : { username: credentials.username }),
    ...(credentials.password === undefined ? {} : { password: credentials.password }),
  };
}

/**
 * Connects, failing after `timeoutMs`: a Sentinel or Cluster client keeps retrying its
 * startup nodes on its own, where a single-server client fails at the first refusal.
 */
export async function connectWithin(redis: Redis | Cluster, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not connected after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([redis.connect(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Logs the first error of an outage and the recovery, not every reconnect attempt. */
export function watchConnection(redis: Redis | Cluster, logger: Logger | undefined): void {
  let failing = false;
  redis.on('error', (err: Error) => {
    if (failing) return;
    failing = true;
    logger?.warn({ err }, 'registry connection failed');
  });
  redis.on('ready', () => {
    if (!failing) return;
    failing = false;
    logger?.info({}, 'registry connection restored');
  });
}

/** Describes where the registry is, without credentials, for error messages. */
export function describeLocation(location: RedisLocation): string {
  const addresses = (list: Array<{ host: string; port: number }>) =>
    list.map(({ host, port }) => `${host}:${port}`).join(',');
  if (location.kind === 'redis') return `${location.host}:${location.port}`;
  if (location.kind === 'redis-sentinel') {
    return `master ${location.masterName} of Sentinels ${addresses(location.sentinels)}`;
  }
  return `Redis Cluster nodes ${addresses(location.nodes)}`;
}
