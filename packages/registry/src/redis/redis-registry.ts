/**
 * The Redis backend: one registry shared by many hosts, on one Redis server, a primary
 * that Sentinels watch, or a Redis Cluster. Every mutation is one call of a Lua function
 * (see `scripts.ts`) keyed by its pool, so on a Cluster it runs on the node that owns the
 * pool's hash slot. Every expiry uses the Redis server's clock.
 *
 * Calls that only name a worker (`confirm`, `release`, `heartbeat`, `setDraining`,
 * `deregister`) need the worker's pool, stored in `<prefix>worker-pool:<workerId>`. That
 * key lives in another Cluster slot, so it cannot be read inside the script. `confirm` and
 * `release` use the pool this client last saw for the worker (from `register`, `reserve`
 * or a lookup) and read the key again only when the script does not find the worker there.
 *
 * Reserve, confirm and release are grouped, per pool, into one call of the `batch`
 * function: while a call for the pool is in flight, later operations wait and then go
 * together, up to `maxBatch` at once. Operations started in the same tick also go
 * together. One operation alone goes as its own function, so a lightly loaded client adds
 * no delay. A batch costs one request and one script call for all its operations, so a
 * busy dialler or inbound line spends less of Redis and of its own CPU per reservation.
 * Each operation keeps its own reply, and its own error.
 *
 * @example
 * const registry = await RedisRegistry.open({
 *   location: { kind: 'redis-cluster', nodes: [{ host: '10.0.0.1', port: 7000 }], credentials: {} },
 * });
 */
import { randomFillSync } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, type Redis, ReplyError } from 'ioredis';
import type { Logger } from '@voxfleet/logger';
import {
  RegistryClosedError,
  RegistryError,
  RegistryInvalidArgumentError,
  RegistryQuotaExceededError,
  RegistryUnavailableError,
} from '../errors.js';
import { toSlotView, type StoredWorker } from '../slot-view.js';
import type {
  ActiveReservation,
  CapacityRegistry,
  ConfirmResult,
  DrainFilter,
  Reservation,
  ReserveRequest,
  SlotEvent,
  SlotEventPage,
  SlotView,
  WorkerRegistration,
} from '../types.js';
import {
  checkActiveReservation,
  checkDrainFilter,
  checkDuration,
  checkEventLimit,
  checkId,
  checkPool,
  checkRegistration,
  checkReserveRequest,
  quotaIds,
} from '../validate.js';
import {
  comparePositions,
  formatCursor,
  parseCursor,
  MalformedStreamEntryError,
  toSlotEvents,
  type StreamEntry,
} from './event-stream.js';
import {
  connectWithin,
  createClient,
  describeLocation,
  watchConnection,
  type RedisLocation,
} from './connection.js';
import { loadLibraryOnNewPrimaries } from './library.js';
import * as scripts from './scripts.js';

export type { RedisLocation } from './connection.js';

export interface RedisRegistryOptions {
  location: RedisLocation;
  /** Prefix of every key. Defaults to `voxfleet:`. */
  keyPrefix?: string;
  /** How long connecting may take before a call fails. Defaults to 5000. */
  connectTimeoutMs?: number;
  /** Extra TLS settings, such as a private `ca`, for a `rediss` URL (see `createClient`). */
  tls?: ConnectionOptions;
  /** Approximate number of events each pool's stream keeps (`XADD MAXLEN ~`). Defaults to 10,000. */
  eventStreamMaxLength?: number;
  /**
   * Maximum number of reserve, confirm and release operations of one pool sent in one
   * call (see `RedisRegistry`). Defaults to 64. With 1, every operation goes on its own.
   */
  maxBatch?: number;
  logger?: Logger;
}

/** Entries of the worker-to-pool cache before it is emptied and refilled. */
const POOL_CACHE_LIMIT = 10_000;

/**
 * How much longer than the worker's TTL its pool mapping lives, so the mapping never
 * expires before the worker document that the script extends a moment later.
 */
const POOL_MAPPING_MARGIN_MS = 5000;

const CONFIRM_RESULTS: readonly ConfirmResult[] = [
  'confirmed',
  'unknown-worker',
  'token-mismatch',
  'expired',
];

/** Operations that `run` groups into one `batch` call (see the class comment). */
const BATCHED: ReadonlySet<scripts.FunctionName> = new Set(['reserve', 'confirm', 'release']);

/** One operation waiting for its pool's batch. */
interface QueuedOperation {
  name: scripts.FunctionName;
  args: string[];
  resolve: (reply: unknown) => void;
  reject: (err: unknown) => void;
}

/** A pool's operations waiting to be sent, and whether a call for the pool is in flight. */
interface PoolQueue {
  waiting: QueuedOperation[];
  inFlight: boolean;
  scheduled: boolean;
}

/** Each operation's function name in the loaded library, such as `<library>_reserve`. */
const FUNCTIONS = Object.fromEntries(
  scripts.FUNCTION_NAMES.map((name) => [name, `${scripts.LIBRARY_NAME}_${name}`]),
) as Record<scripts.FunctionName, string>;

export class RedisRegistry implements CapacityRegistry {
  private readonly redis: Redis | Cluster;
  private readonly prefix: string;
  private readonly eventStreamMaxLength: string;
  /** The pool this client last saw for each worker; see the file comment. */
  private readonly poolCache = new Map<string, string>();
  /** Each pool's script keys, in `POOL_KEY_NAMES` order, built once per pool. */
  private readonly poolKeys = new Map<string, string[]>();
  /** Operations waiting to be batched, per pool (see the class comment). */
  private readonly queues = new Map<string, PoolQueue>();
  private readonly maxBatch: number;
  private readonly logger: Logger | undefined;
  /** Ids of the malformed stream entries already logged (at most 10,000), to log each once. */
  private readonly loggedMalformed = new Set<string>();
  private closed = false;

  private constructor(
    redis: Redis | Cluster,
    prefix: string,
    eventStreamMaxLength: number,
    maxBatch: number,
    logger: Logger | undefined,
  ) {
    this.redis = redis;
    this.prefix = prefix;
    this.eventStreamMaxLength = String(eventStreamMaxLength);
    this.maxBatch = maxBatch;
    this.logger = logger;
  }

  /** Connects and waits until the connection is ready, or throws `RegistryUnavailableError`. */
  static async open(options: RedisRegistryOptions): Promise<RedisRegistry> {
    const maxBatch = options.maxBatch ?? 64;
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 1000) {
      throw new RegistryInvalidArgumentError(
        'maxBatch',
        `must be an integer from 1 to 1000, got ${String(maxBatch)}`,
      );
    }
    const eventStreamMaxLength = options.eventStreamMaxLength ?? 10_000;
    if (!Number.isSafeInteger(eventStreamMaxLength) || eventStreamMaxLength < 1) {
      throw new RegistryInvalidArgumentError(
        'eventStreamMaxLength',
        `must be a positive integer, got ${String(eventStreamMaxLength)}`,
      );
    }
    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    if (options.tls !== undefined && !options.location.tls) {
      throw new RegistryInvalidArgumentError(
        'tls',
        'TLS settings need a rediss://, rediss-sentinel:// or rediss-cluster:// URL',
      );
    }
    const redis = createClient(options.location, connectTimeoutMs, options.tls);
    watchConnection(redis, options.logger);
    try {
      await connectWithin(redis, connectTimeoutMs);
    } catch (err) {
      redis.disconnect();
      throw new RegistryUnavailableError(
        `connecting to the Redis registry at ${describeLocation(options.location)} failed; ` +
          'check that Redis is running and reachable',
        { cause: err },
      );
    }
    if (redis instanceof Cluster) loadLibraryOnNewPrimaries(redis, options.logger);
    const registry = new RedisRegistry(
      redis,
      options.keyPrefix ?? 'voxfleet:',
      eventStreamMaxLength,
      maxBatch,
      options.logger,
    );
    try {
      await registry.loadLibrary();
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    return registry;
  }

  async register(worker: WorkerRegistration): Promise<void> {
    checkRegistration(worker);
    const previous = await this.call(() =>
      this.redis.set(
        this.mappingKey(worker.workerId),
        worker.pool,
        'PX',
        worker.ttlMs + POOL_MAPPING_MARGIN_MS,
        'GET',
      ),
    );
    if (previous !== null && previous !== worker.pool) {
      // NOTE: moving a worker to another pool takes two function calls in two Cluster slots, so it
      // is not atomic. The worker starts fresh in the new pool and loses its old reservation.
      await this.run('deregister', previous, [worker.workerId]);
    }
    this.rememberPool(worker.workerId, worker.pool);
    await this.call(() => this.redis.sadd(`${this.prefix}pools`, worker.pool));
    const active = worker.activeReservation;
    await this.run('register', worker.pool, [
      worker.workerId,
      worker.url,
      worker.host,
      JSON.stringify(worker.labels),
      encodeLabelPrefixes(worker.labels),
      String(worker.ttlMs),
      active === undefined ? '' : encodeActive(active),
    ]);
  }

  async heartbeat(
    workerId: string,
    ttlMs: number,
    activeReservation?: ActiveReservation,
    releasedToken?: string,
  ): Promise<boolean> {
    checkId('workerId', workerId);
    checkDuration('ttlMs', ttlMs);
    if (activeReservation !== undefined) checkActiveReservation(activeReservation);
    if (releasedToken !== undefined) checkId('releasedToken', releasedToken);
    const pool = await this.call(() =>
      this.redis.getex(this.mappingKey(workerId), 'PX', ttlMs + POOL_MAPPING_MARGIN_MS),
    );
    if (pool === null) return false;
    this.rememberPool(workerId, pool);
    const found = await this.run('heartbeat', pool, [
      workerId,
      String(ttlMs),
      activeReservation === undefined ? '' : encodeActive(activeReservation),
      releasedToken ?? '',
    ]);
    return found === 1;
  }

  async deregister(workerId: string): Promise<void> {
    checkId('workerId', workerId);
    this.poolCache.delete(workerId);
    const pool = await this.poolOf(workerId);
    if (pool === null) return;
    await this.run('deregister', pool, [workerId]);
    await this.call(() => this.redis.del(this.mappingKey(workerId)));
  }

  async reserve(request: ReserveRequest): Promise<Reservation | null> {
    checkReserveRequest(request);
    const { tenantId, campaignId } = quotaIds(request);
    const token = nextToken();
    const reply = await this.run('reserve', request.pool, [
      request.callId,
      String(request.reservationTtlMs),
      token,
      JSON.stringify(request.labels ?? {}),
      tenantId ?? '',
      campaignId ?? '',
      String(request.quotas?.tenant?.limit ?? -1),
      String(request.quotas?.campaign?.limit ?? -1),
    ]);
    const [outcome, ...rest] = reply as string[];
    if (outcome === 'none') return null;
    if (outcome === 'quota') {
      const scope = rest[0] === 'tenant' ? 'tenant' : 'campaign';
      const quota = request.quotas?.[scope];
      throw new RegistryQuotaExceededError(scope, quota?.id ?? '', quota?.limit ?? 0);
    }
    const [workerId, url, fence, deadline] = rest;
    if (outcome !== 'reserved' || workerId === undefined || url === undefined) {
      throw new RegistryError('REGISTRY_UNAVAILABLE', 'reserve script returned an unknown reply');
    }
    this.rememberPool(workerId, request.pool);
    return {
      workerId,
      url,
      token,
      fence: Number(fence),
      callId: request.callId,
      deadline: Number(deadline),
    };
  }

  async confirm(workerId: string, token: string): Promise<ConfirmResult> {
    checkId('workerId', workerId);
    const reply = await this.runOnWorkerPool(
      'confirm',
      workerId,
      [workerId, token],
      (result) => result === 'unknown-worker',
    );
    if (reply === null) return 'unknown-worker';
    const result = CONFIRM_RESULTS.find((known) => known === reply);
    if (result === undefined) {
      throw new RegistryError('REGISTRY_UNAVAILABLE', 'confirm script returned an unknown reply');
    }
    return result;
  }

  async release(workerId: string, token: string): Promise<boolean> {
    checkId('workerId', workerId);
    const reply = await this.runOnWorkerPool(
      'release',
      workerId,
      [workerId, token],
      (result) => result === 0,
    );
    return reply === 1;
  }

  async setDraining(workerId: string, draining: boolean): Promise<boolean> {
    checkId('workerId', workerId);
    const pool = await this.poolOf(workerId);
    if (pool === null) return false;
    const found = await this.run('set_draining', pool, [workerId, draining ? '1' : '0']);
    return found === 1;
  }

  async setDrainingWhere(filter: DrainFilter, draining: boolean): Promise<number> {
    checkDrainFilter(filter);
    let pools: string[];
    if (filter.workerId !== undefined) {
      const pool = await this.poolOf(filter.workerId);
      pools = pool === null || (filter.pool !== undefined && filter.pool !== pool) ? [] : [pool];
    } else if (filter.pool !== undefined) {
      pools = [filter.pool];
    } else {
      pools = await this.call(() => this.redis.smembers(`${this.prefix}pools`));
    }
    let changed = 0;
    for (const pool of pools) {
      const count = await this.run('set_draining_where', pool, [
        draining ? '1' : '0',
        filter.host ?? '',
        filter.workerId ?? '',
      ]);
      changed += Number(count);
    }
    return changed;
  }

  async list(pool?: string): Promise<SlotView[]> {
    if (pool !== undefined) checkPool(pool);
    const pools =
      pool === undefined
        ? (await this.call(() => this.redis.smembers(`${this.prefix}pools`))).sort()
        : [pool];
    const views: SlotView[] = [];
    for (const name of pools) {
      const [now, ...hashes] = (await this.run('list', name, [])) as [number, ...string[][]];
      const workers = hashes
        .map((fields) => toStoredWorker(fields))
        .sort((a, b) => compareIds(a.workerId, b.workerId));
      views.push(...workers.map((worker) => toSlotView(worker, now)));
    }
    return views;
  }

  /**
   * Reads each pool's stream after the cursor's entry for that pool and merges them by
   * entry id, which is the Redis server's time. Pools on different Cluster nodes have
   * different clocks, so their order is only as close as those clocks are.
   */
  async readEvents(afterId: string | null, limit: number): Promise<SlotEventPage> {
    checkEventLimit(limit);
    const cursor = parseCursor(afterId);
    const pools = await this.call(() => this.redis.smembers(`${this.prefix}pools`));
    const perPool = await Promise.all(
      pools.map(async (pool) => {
        const after = cursor.get(pool);
        // The cursor's entry is read again, because events after the cursor's may share it.
        const entries = (await this.call(() =>
          this.redis.xrange(
            this.key(pool, 'events'),
            after === undefined ? '-' : after.entryId,
            '+',
            'COUNT',
            limit + 1,
          ),
        )) as StreamEntry[];
        return entries
          .flatMap((entry) =>
            this.readEntry(entry, pool).map((event, index) => ({
              pool,
              position: { entryId: entry[0], index },
              event,
            })),
          )
          .filter(({ position }) => after === undefined || comparePositions(position, after) > 0);
      }),
    );
    const merged = perPool
      .flat()
      .sort((a, b) => comparePositions(a.position, b.position) || compareIds(a.pool, b.pool))
      .slice(0, limit);
    for (const { pool, position } of merged) cursor.set(pool, position);
    return {
      events: merged.map(({ event }) => event),
      lastId: merged.length === 0 ? (afterId ?? '') : formatCursor(cursor),
    };
  }

  async reap(): Promise<SlotEvent[]> {
    const pools = await this.call(() => this.redis.smembers(`${this.prefix}pools`));
    const events: SlotEvent[] = [];
    for (const pool of pools.sort()) {
      const reply = (await this.run('reap', pool, [])) as StreamEntry[];
      events.push(...reply.flatMap((entry) => this.readEntry(entry, pool)));
    }
    return events;
  }

  /**
   * Returns the events of a stream entry, or none for an entry that is not registry events
   * (written by hand or by another program). Skipping it keeps every follower reading the
   * events after it, so it is logged, once per entry, instead of failing each read.
   */
  private readEntry(entry: StreamEntry, pool: string): SlotEvent[] {
    try {
      return toSlotEvents(entry, pool);
    } catch (err) {
      if (!(err instanceof MalformedStreamEntryError)) throw err;
      if (!this.loggedMalformed.has(entry[0]) && this.loggedMalformed.size < 10_000) {
        this.loggedMalformed.add(entry[0]);
        this.logger?.warn({ err, pool, entryId: entry[0] }, 'registry skipped a malformed event');
      }
      return [];
    }
  }

  /** Sends QUIT after the commands in flight; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.redis.quit();
    } catch {
      // The connection is already down; nothing is left to flush.
    }
    // QUIT leaves the Sentinel failover detector's subscriptions open (ioredis 5.11), and
    // they would reconnect forever; disconnect() closes them too.
    this.redis.disconnect();
  }

  private key(pool: string, name: string): string {
    return `${this.prefix}{${pool}}:${name}`;
  }

  private mappingKey(workerId: string): string {
    return `${this.prefix}worker-pool:${workerId}`;
  }

  private async poolOf(workerId: string): Promise<string | null> {
    const pool = await this.call(() => this.redis.get(this.mappingKey(workerId)));
    if (pool === null) this.poolCache.delete(workerId);
    else this.rememberPool(workerId, pool);
    return pool;
  }

  private rememberPool(workerId: string, pool: string): void {
    if (this.poolCache.size >= POOL_CACHE_LIMIT) this.poolCache.clear();
    this.poolCache.set(workerId, pool);
  }

  /**
   * Runs a worker's script on the pool this client last saw for it. When `notFound`
   * returns true for the reply, the worker may have moved, so this reads its pool again
   * and runs the script there if it changed. Returns null when the worker has no pool.
   */
  private async runOnWorkerPool(
    name: scripts.FunctionName,
    workerId: string,
    args: string[],
    notFound: (reply: unknown) => boolean,
  ): Promise<unknown> {
    const cached = this.poolCache.get(workerId);
    if (cached !== undefined) {
      const reply = await this.run(name, cached, args);
      if (!notFound(reply)) return reply;
      const pool = await this.poolOf(workerId);
      if (pool === null || pool === cached) return reply;
      return this.run(name, pool, args);
    }
    const pool = await this.poolOf(workerId);
    if (pool === null) return null;
    return this.run(name, pool, args);
  }

  /**
   * Runs an operation of the pool: reserve, confirm and release through the pool's batch
   * queue, any other at once.
   */
  private run(name: scripts.FunctionName, pool: string, args: string[]): Promise<unknown> {
    if (this.maxBatch === 1 || !BATCHED.has(name)) return this.send(name, pool, args);
    if (this.closed) return Promise.reject(new RegistryClosedError());
    let queue = this.queues.get(pool);
    if (queue === undefined) {
      queue = { waiting: [], inFlight: false, scheduled: false };
      this.queues.set(pool, queue);
    }
    const entry = queue;
    return new Promise((resolve, reject) => {
      entry.waiting.push({ name, args, resolve, reject });
      this.schedule(pool, entry);
    });
  }

  /**
   * Flushes the queue after the current tick, once the continuations of the callers that
   * the last reply resumed have queued their next operations.
   */
  private schedule(pool: string, queue: PoolQueue): void {
    if (queue.inFlight || queue.scheduled) return;
    queue.scheduled = true;
    process.nextTick(() => {
      queue.scheduled = false;
      this.flush(pool, queue);
    });
  }

  private flush(pool: string, queue: PoolQueue): void {
    if (queue.inFlight) return;
    const operations = queue.waiting.splice(0, this.maxBatch);
    if (operations.length === 0) {
      this.queues.delete(pool);
      return;
    }
    queue.inFlight = true;
    const settled = () => {
      queue.inFlight = false;
      this.schedule(pool, queue);
    };
    const [first] = operations;
    if (operations.length === 1 && first !== undefined) {
      this.send(first.name, pool, first.args).then(first.resolve, first.reject).finally(settled);
      return;
    }
    const args: string[] = [];
    for (const operation of operations) {
      args.push(operation.name, String(operation.args.length), ...operation.args);
    }
    this.send('batch', pool, args)
      .then(
        (reply) => {
          const replies = Array.isArray(reply) ? reply : [];
          operations.forEach((operation, i) => {
            const result: unknown = replies[i];
            if (result === undefined) {
              operation.reject(
                new RegistryError(
                  'REGISTRY_UNAVAILABLE',
                  'batch function returned too few replies',
                ),
              );
            } else if (isBatchError(result, operation.name)) {
              operation.reject(
                new RegistryUnavailableError('Redis registry rejected a command', {
                  cause: new Error(String(result[1])),
                  retryable: false,
                }),
              );
            } else {
              operation.resolve(result);
            }
          });
        },
        (err: unknown) => {
          for (const operation of operations) operation.reject(err);
        },
      )
      .finally(settled);
  }

  /**
   * Calls a library function with the pool's keys, the stream length and the pool name
   * first. When the server does not have the library, for example after a restart, loads
   * it and calls again.
   */
  private async send(name: scripts.FunctionName, pool: string, args: string[]): Promise<unknown> {
    if (this.closed) throw new RegistryClosedError();
    let keys = this.poolKeys.get(pool);
    if (keys === undefined) {
      keys = scripts.POOL_KEY_NAMES.map((suffix) => this.key(pool, suffix));
      this.poolKeys.set(pool, keys);
    }
    const fn = FUNCTIONS[name];
    try {
      return await this.redis.fcall(
        fn,
        keys.length,
        ...keys,
        this.eventStreamMaxLength,
        pool,
        ...args,
      );
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('ERR Function not found'))) {
        throw toRegistryError(err);
      }
    }
    await this.loadLibrary();
    return this.call(() =>
      this.redis.fcall(fn, keys.length, ...keys, this.eventStreamMaxLength, pool, ...args),
    );
  }

  /**
   * Loads the function library on the server, or on every primary of a Cluster, and keeps
   * a library of the same name already loaded. Replicas receive it from their primary, so
   * a promoted replica has it. A primary that the client connects to later gets it from
   * `loadLibraryOnNewPrimaries`. A server that lost it, for example after a restart, gets
   * it when a call there fails with "Function not found", because `send` then calls this
   * again.
   */
  private async loadLibrary(): Promise<void> {
    const servers = this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
    await Promise.all(
      servers.map(async (server) => {
        try {
          await this.call(() => server.function('LOAD', scripts.LIBRARY_SOURCE));
        } catch (err) {
          const cause = err instanceof RegistryError ? err.cause : undefined;
          if (!(cause instanceof Error && cause.message.includes('already exists'))) throw err;
        }
      }),
    );
  }

  private async call<T>(command: () => Promise<T>): Promise<T> {
    if (this.closed) throw new RegistryClosedError();
    try {
      return await command();
    } catch (err) {
      throw toRegistryError(err);
    }
  }
}

function toRegistryError(err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  if (err instanceof ReplyError) {
    return new RegistryUnavailableError('Redis registry rejected a command', {
      cause: err,
      retryable: false,
    });
  }
  return new RegistryUnavailableError('Redis registry is unreachable', { cause: err });
}

/**
 * Tells whether a reply from the batch function is a failed operation's {'error', message}.
 * No reply of confirm or release is an array, and reserve's first element is never 'error'.
 */
function isBatchError(reply: unknown, name: scripts.FunctionName): reply is [string, unknown] {
  if (!Array.isArray(reply)) return false;
  return name !== 'reserve' || reply[0] === 'error';
}

/** Bytes of randomness drawn at once for tokens; 16 bytes make one token. */
const TOKEN_POOL_BYTES = 4096;
const tokenPool = Buffer.alloc(TOKEN_POOL_BYTES);
let tokenOffset = TOKEN_POOL_BYTES;

/**
 * Returns 128 random bits, URL-safe, like `createToken`, but draws them from the CSPRNG
 * 4 KiB at a time, which costs less per reservation than one call per token.
 */
function nextToken(): string {
  if (tokenOffset + 16 > TOKEN_POOL_BYTES) {
    randomFillSync(tokenPool);
    tokenOffset = 0;
  }
  const token = tokenPool.toString('base64url', tokenOffset, tokenOffset + 16);
  tokenOffset += 16;
  return token;
}

/** JSON of a re-asserted reservation for the scripts; the fence as a decimal string. */
function encodeActive(active: ActiveReservation): string {
  return JSON.stringify({
    token: active.token,
    fence: String(active.fence),
    callId: active.callId,
    tenantId: active.tenantId,
    campaignId: active.campaignId,
  });
}

/** Orders ids by UTF-16 code units, as SQLite's default BINARY collation does for ASCII. */
function compareIds(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

/**
 * Converts a worker, as the flat field list the `list` function returns, to the
 * backend-neutral form. Numbers are decimal strings; an empty quota id means none.
 */
function toStoredWorker(fields: string[]): StoredWorker {
  const hash = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    if (name !== undefined && value !== undefined) hash.set(name, value);
  }
  const field = (name: string) => hash.get(name) ?? '';
  const state = field('state');
  return {
    workerId: field('workerId'),
    url: field('url'),
    host: field('host'),
    pool: field('pool'),
    labels: JSON.parse(field('labels') || '{}') as Record<string, string>,
    expiresAt: Number(field('expiresAt')),
    draining: field('draining') === '1',
    reservation:
      state === ''
        ? null
        : {
            token: field('token'),
            fence: Number(field('fence')),
            callId: field('callId'),
            tenantId: field('tenantId') || null,
            campaignId: field('campaignId') || null,
            deadline: Number(field('deadline')),
            // A lapsed reservation is past its deadline, so it is shown as not holding.
            confirmed: state === 'busy',
          },
  };
}

/**
 * JSON array of the `idle` member prefixes of the worker's labels
 * (`l<#key>:<key><#value>:<value>`), or '' without labels; see `scripts.ts`.
 */
function encodeLabelPrefixes(labels: Record<string, string>): string {
  const prefixes = Object.entries(labels).map(
    ([key, value]) => `l${utf8Length(key)}:${key}${utf8Length(value)}:${value}`,
  );
  return prefixes.length === 0 ? '' : JSON.stringify(prefixes);
}

/** Lua's `#` counts bytes, so the prefixes use the UTF-8 length. */
function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
