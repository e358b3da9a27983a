/**
 * The Redis backend: one registry shared by many hosts. Every mutation is one Lua script
 * (see `scripts.ts`), and every expiry uses the Redis server's clock.
 *
 * Calls that only name a worker (`confirm`, `release`, `heartbeat`, `setDraining`,
 * `deregister`) need the worker's pool, stored in `<prefix>worker-pool:<workerId>`. That
 * key lives in another Cluster slot, so it cannot be read inside the script. `confirm` and
 * `release` use the pool this client last saw for the worker (from `register`, `reserve`
 * or a lookup) and read the key again only when the script does not find the worker there.
 *
 * @example
 * const registry = await RedisRegistry.open({ url: 'redis://127.0.0.1:6379' });
 */
import { createHash } from 'node:crypto';
import { Redis, ReplyError } from 'ioredis';
import type { Logger } from '@voxfleet/logger';
import {
  RegistryClosedError,
  RegistryError,
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
  createToken,
  quotaIds,
} from '../validate.js';
import {
  compareEntryIds,
  formatCursor,
  parseCursor,
  toSlotEvent,
  type StreamEntry,
} from './event-stream.js';
import * as scripts from './scripts.js';

export interface RedisRegistryOptions {
  /** `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS. */
  url: string;
  /** Prefix of every key. Defaults to `voxfleet:`. */
  keyPrefix?: string;
  /** How long connecting may take before a call fails. Defaults to 5000. */
  connectTimeoutMs?: number;
  /** Approximate number of events each pool's stream keeps (`XADD MAXLEN ~`). Defaults to 10,000. */
  eventStreamMaxLength?: number;
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

interface Script {
  source: string;
  sha: string;
}

function defineScript(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const SCRIPTS = {
  register: defineScript(scripts.REGISTER),
  heartbeat: defineScript(scripts.HEARTBEAT),
  deregister: defineScript(scripts.DEREGISTER),
  reserve: defineScript(scripts.RESERVE),
  confirm: defineScript(scripts.CONFIRM),
  release: defineScript(scripts.RELEASE),
  setDraining: defineScript(scripts.SET_DRAINING),
  setDrainingWhere: defineScript(scripts.SET_DRAINING_WHERE),
  list: defineScript(scripts.LIST),
  reap: defineScript(scripts.REAP),
};

/** Worker document stored in the pool hash; numbers are decimal strings. */
interface RedisWorkerDoc {
  workerId: string;
  url: string;
  host: string;
  pool: string;
  labels: Record<string, string>;
  expiresAt: string;
  draining?: boolean;
  res?: {
    token: string;
    fence: string;
    callId: string;
    tenantId?: string;
    campaignId?: string;
    deadline: string;
    confirmed: boolean;
  };
}

export class RedisRegistry implements CapacityRegistry {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly eventStreamMaxLength: string;
  /** The pool this client last saw for each worker; see the file comment. */
  private readonly poolCache = new Map<string, string>();
  /** Each pool's script keys, in `POOL_KEY_NAMES` order, built once per pool. */
  private readonly poolKeys = new Map<string, string[]>();
  private closed = false;

  private constructor(redis: Redis, prefix: string, eventStreamMaxLength: number) {
    this.redis = redis;
    this.prefix = prefix;
    this.eventStreamMaxLength = String(eventStreamMaxLength);
  }

  /** Connects and waits until the connection is ready, or throws `RegistryUnavailableError`. */
  static async open(options: RedisRegistryOptions): Promise<RedisRegistry> {
    const redis = new Redis(options.url, {
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs ?? 5000,
      // Fail a call after one retry instead of queueing it for long: the dialler would
      // rather requeue an attempt than wait on a registry that is down.
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    });
    watchConnection(redis, options.logger);
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw new RegistryUnavailableError(
        `connecting to the Redis registry at ${describeServer(options.url)} failed; ` +
          'check that Redis is running and reachable',
        { cause: err },
      );
    }
    return new RedisRegistry(
      redis,
      options.keyPrefix ?? 'voxfleet:',
      options.eventStreamMaxLength ?? 10_000,
    );
  }

  async register(worker: WorkerRegistration): Promise<void> {
    checkRegistration(worker);
    const metadata = {
      workerId: worker.workerId,
      url: worker.url,
      host: worker.host,
      pool: worker.pool,
      labels: worker.labels,
    };
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
      // NOTE: moving a worker to another pool takes two scripts in two Cluster slots, so it
      // is not atomic. The worker starts fresh in the new pool and loses its old reservation.
      await this.run(SCRIPTS.deregister, previous, [worker.workerId]);
    }
    this.rememberPool(worker.workerId, worker.pool);
    await this.call(() => this.redis.sadd(`${this.prefix}pools`, worker.pool));
    const active = worker.activeReservation;
    const activeJson = active === undefined ? '' : encodeActive(active);
    await this.run(SCRIPTS.register, worker.pool, [
      worker.workerId,
      JSON.stringify(metadata),
      String(worker.ttlMs),
      activeJson,
    ]);
  }

  async heartbeat(
    workerId: string,
    ttlMs: number,
    activeReservation?: ActiveReservation,
  ): Promise<boolean> {
    checkId('workerId', workerId);
    checkDuration('ttlMs', ttlMs);
    if (activeReservation !== undefined) checkActiveReservation(activeReservation);
    const pool = await this.call(() =>
      this.redis.getex(this.mappingKey(workerId), 'PX', ttlMs + POOL_MAPPING_MARGIN_MS),
    );
    if (pool === null) return false;
    this.rememberPool(workerId, pool);
    const found = await this.run(SCRIPTS.heartbeat, pool, [
      workerId,
      String(ttlMs),
      activeReservation === undefined ? '' : encodeActive(activeReservation),
    ]);
    return found === 1;
  }

  async deregister(workerId: string): Promise<void> {
    checkId('workerId', workerId);
    this.poolCache.delete(workerId);
    const pool = await this.poolOf(workerId);
    if (pool === null) return;
    await this.run(SCRIPTS.deregister, pool, [workerId]);
    await this.call(() => this.redis.del(this.mappingKey(workerId)));
  }

  async reserve(request: ReserveRequest): Promise<Reservation | null> {
    checkReserveRequest(request);
    const { tenantId, campaignId } = quotaIds(request);
    const token = createToken();
    const reply = await this.run(SCRIPTS.reserve, request.pool, [
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
      SCRIPTS.confirm,
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
      SCRIPTS.release,
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
    const found = await this.run(SCRIPTS.setDraining, pool, [workerId, draining ? '1' : '0']);
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
      const count = await this.run(SCRIPTS.setDrainingWhere, pool, [
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
      const reply = (await this.run(SCRIPTS.list, name, [])) as string[];
      const now = Number(reply[0]);
      const workers = reply
        .slice(1)
        .map((text) => toStoredWorker(JSON.parse(text) as RedisWorkerDoc))
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
        const entries = (await this.call(() =>
          this.redis.xrange(
            this.key(pool, 'events'),
            after === undefined ? '-' : `(${after}`,
            '+',
            'COUNT',
            limit,
          ),
        )) as StreamEntry[];
        return entries.map((entry) => ({ pool, entry }));
      }),
    );
    const merged = perPool
      .flat()
      .sort((a, b) => compareEntryIds(a.entry[0], b.entry[0]) || compareIds(a.pool, b.pool))
      .slice(0, limit);
    for (const { pool, entry } of merged) cursor.set(pool, entry[0]);
    return {
      events: merged.map(({ entry }) => toSlotEvent(entry)),
      lastId: merged.length === 0 ? (afterId ?? '') : formatCursor(cursor),
    };
  }

  async reap(): Promise<SlotEvent[]> {
    const pools = await this.call(() => this.redis.smembers(`${this.prefix}pools`));
    const events: SlotEvent[] = [];
    for (const pool of pools.sort()) {
      const reply = (await this.run(SCRIPTS.reap, pool, [])) as StreamEntry[];
      events.push(...reply.map(toSlotEvent));
    }
    return events;
  }

  /** Sends QUIT after the commands in flight; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.redis.quit();
    } catch {
      // The connection is already down; nothing is left to flush.
      this.redis.disconnect();
    }
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
    script: Script,
    workerId: string,
    args: string[],
    notFound: (reply: unknown) => boolean,
  ): Promise<unknown> {
    const cached = this.poolCache.get(workerId);
    if (cached !== undefined) {
      const reply = await this.run(script, cached, args);
      if (!notFound(reply)) return reply;
      const pool = await this.poolOf(workerId);
      if (pool === null || pool === cached) return reply;
      return this.run(script, pool, args);
    }
    const pool = await this.poolOf(workerId);
    if (pool === null) return null;
    return this.run(script, pool, args);
  }

  /**
   * Runs a pool script by its SHA1 with the pool's keys and the stream length first,
   * loading it with EVAL when the server does not have it, for example after a restart.
   */
  private run(script: Script, pool: string, scriptArgs: string[]): Promise<unknown> {
    let keys = this.poolKeys.get(pool);
    if (keys === undefined) {
      keys = scripts.POOL_KEY_NAMES.map((name) => this.key(pool, name));
      this.poolKeys.set(pool, keys);
    }
    const args = [this.eventStreamMaxLength, ...scriptArgs];
    return this.call(async () => {
      try {
        return await this.redis.evalsha(script.sha, keys.length, ...keys, ...args);
      } catch (err) {
        const message = err instanceof Error ? err.message : '';
        if (!message.startsWith('NOSCRIPT')) throw err;
        return await this.redis.eval(script.source, keys.length, ...keys, ...args);
      }
    });
  }

  private async call<T>(command: () => Promise<T>): Promise<T> {
    if (this.closed) throw new RegistryClosedError();
    try {
      return await command();
    } catch (err) {
      if (err instanceof RegistryError) throw err;
      if (err instanceof ReplyError) {
        throw new RegistryUnavailableError('Redis registry rejected a command', {
          cause: err,
          retryable: false,
        });
      }
      throw new RegistryUnavailableError('Redis registry is unreachable', { cause: err });
    }
  }
}

/** Logs the first error of an outage and the recovery, not every reconnect attempt. */
function watchConnection(redis: Redis, logger: Logger | undefined): void {
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

/** Returns `host:port` of a Redis URL, leaving out any password. */
function describeServer(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port === '' ? '6379' : parsed.port}`;
  } catch {
    return 'an invalid URL';
  }
}

/** Orders ids by UTF-16 code units, as SQLite's default BINARY collation does for ASCII. */
function compareIds(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

function toStoredWorker(doc: RedisWorkerDoc): StoredWorker {
  const res = doc.res;
  return {
    workerId: doc.workerId,
    url: doc.url,
    host: doc.host,
    pool: doc.pool,
    // cjson writes an empty Lua table as {}, so labels always decode to an object.
    labels: doc.labels,
    expiresAt: Number(doc.expiresAt),
    draining: doc.draining === true,
    reservation:
      res === undefined
        ? null
        : {
            token: res.token,
            fence: Number(res.fence),
            callId: res.callId,
            tenantId: res.tenantId ?? null,
            campaignId: res.campaignId ?? null,
            deadline: Number(res.deadline),
            confirmed: res.confirmed,
          },
  };
}
