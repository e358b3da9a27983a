/**
 * The Redis backend: one registry shared by many hosts. Every mutation is one Lua script
 * (see `scripts.ts`), and every expiry uses the Redis server's clock.
 *
 * Calls that only name a worker (`confirm`, `release`, `heartbeat`, `setDraining`,
 * `deregister`) first read the worker's pool from `<prefix>worker-pool:<workerId>`, then
 * run the script on that pool's keys. That key lives in another Cluster slot, so it
 * cannot be read inside the script.
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
  CapacityRegistry,
  ConfirmResult,
  Reservation,
  ReserveRequest,
  SlotView,
  WorkerRegistration,
} from '../types.js';
import {
  checkDuration,
  checkId,
  checkPool,
  checkRegistration,
  checkReserveRequest,
  createToken,
  quotaIds,
} from '../validate.js';
import * as scripts from './scripts.js';

export interface RedisRegistryOptions {
  /** `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS. */
  url: string;
  /** Prefix of every key. Defaults to `voxfleet:`. */
  keyPrefix?: string;
  /** How long connecting may take before a call fails. Defaults to 5000. */
  connectTimeoutMs?: number;
  logger?: Logger;
}

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
  list: defineScript(scripts.LIST),
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
  private closed = false;

  private constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
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
    return new RedisRegistry(redis, options.keyPrefix ?? 'voxfleet:');
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
      await this.run(SCRIPTS.deregister, this.poolKeys(previous), [worker.workerId]);
    }
    await this.call(() => this.redis.sadd(`${this.prefix}pools`, worker.pool));
    const active = worker.activeReservation;
    const activeJson =
      active === undefined
        ? ''
        : JSON.stringify({
            token: active.token,
            fence: String(active.fence),
            callId: active.callId,
            tenantId: active.tenantId,
            campaignId: active.campaignId,
          });
    await this.run(
      SCRIPTS.register,
      [...this.poolKeys(worker.pool), this.key(worker.pool, 'fence')],
      [worker.workerId, JSON.stringify(metadata), String(worker.ttlMs), activeJson],
    );
  }

  async heartbeat(workerId: string, ttlMs: number): Promise<boolean> {
    checkId('workerId', workerId);
    checkDuration('ttlMs', ttlMs);
    const pool = await this.call(() =>
      this.redis.getex(this.mappingKey(workerId), 'PX', ttlMs + POOL_MAPPING_MARGIN_MS),
    );
    if (pool === null) return false;
    const found = await this.run(SCRIPTS.heartbeat, this.poolKeys(pool), [workerId, String(ttlMs)]);
    return found === 1;
  }

  async deregister(workerId: string): Promise<void> {
    checkId('workerId', workerId);
    const pool = await this.poolOf(workerId);
    if (pool === null) return;
    await this.run(SCRIPTS.deregister, this.poolKeys(pool), [workerId]);
    await this.call(() => this.redis.del(this.mappingKey(workerId)));
  }

  async reserve(request: ReserveRequest): Promise<Reservation | null> {
    checkReserveRequest(request);
    const { tenantId, campaignId } = quotaIds(request);
    const token = createToken();
    const reply = await this.run(
      SCRIPTS.reserve,
      [...this.poolKeys(request.pool), this.key(request.pool, 'fence')],
      [
        request.callId,
        String(request.reservationTtlMs),
        token,
        JSON.stringify(request.labels ?? {}),
        tenantId ?? '',
        campaignId ?? '',
        String(request.quotas?.tenant?.limit ?? -1),
        String(request.quotas?.campaign?.limit ?? -1),
      ],
    );
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
    const pool = await this.poolOf(workerId);
    if (pool === null) return 'unknown-worker';
    const reply = await this.run(SCRIPTS.confirm, this.poolKeys(pool), [workerId, token]);
    const result = CONFIRM_RESULTS.find((known) => known === reply);
    if (result === undefined) {
      throw new RegistryError('REGISTRY_UNAVAILABLE', 'confirm script returned an unknown reply');
    }
    return result;
  }

  async release(workerId: string, token: string): Promise<boolean> {
    checkId('workerId', workerId);
    const pool = await this.poolOf(workerId);
    if (pool === null) return false;
    return (await this.run(SCRIPTS.release, this.poolKeys(pool), [workerId, token])) === 1;
  }

  async setDraining(workerId: string, draining: boolean): Promise<boolean> {
    checkId('workerId', workerId);
    const pool = await this.poolOf(workerId);
    if (pool === null) return false;
    const found = await this.run(SCRIPTS.setDraining, this.poolKeys(pool), [
      workerId,
      draining ? '1' : '0',
    ]);
    return found === 1;
  }

  async list(pool?: string): Promise<SlotView[]> {
    if (pool !== undefined) checkPool(pool);
    const pools =
      pool === undefined
        ? (await this.call(() => this.redis.smembers(`${this.prefix}pools`))).sort()
        : [pool];
    const views: SlotView[] = [];
    for (const name of pools) {
      const reply = (await this.run(SCRIPTS.list, [this.key(name, 'workers')], [])) as string[];
      const now = Number(reply[0]);
      const workers = reply
        .slice(1)
        .map((text) => toStoredWorker(JSON.parse(text) as RedisWorkerDoc))
        .filter((worker) => worker.expiresAt > now)
        .sort((a, b) => compareIds(a.workerId, b.workerId));
      views.push(...workers.map((worker) => toSlotView(worker, now)));
    }
    return views;
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

  private poolKeys(pool: string): string[] {
    return [this.key(pool, 'workers'), this.key(pool, 'expiry')];
  }

  private mappingKey(workerId: string): string {
    return `${this.prefix}worker-pool:${workerId}`;
  }

  private poolOf(workerId: string): Promise<string | null> {
    return this.call(() => this.redis.get(this.mappingKey(workerId)));
  }

  /** Runs a script by its SHA1, loading it with EVAL when the server does not have it. */
  private run(script: Script, keys: string[], args: string[]): Promise<unknown> {
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
