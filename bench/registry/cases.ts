/**
 * The benchmark's cases: the registry's reserve and full cycle at a given number of
 * registered slots, and the two baselines (a no-op Lua script, redis-semaphore).
 */
import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { Semaphore } from 'redis-semaphore';
import {
  openRegistry,
  type CapacityRegistry,
  type Reservation,
  type ReserveRequest,
} from '@voxfleet/registry';
import { runFor, type RunResult } from './measure.js';

export interface BenchSettings {
  url: string;
  /** Connections per case; every case spreads `concurrency` loops over them. */
  connections: number;
  /** Operations in flight at once, the same for every case. */
  concurrency: number;
  durationMs: number;
}

/** Totals of one registry run at one slot count; `combineSlots` merges several runs. */
export interface SlotsResult {
  slots: number;
  reserve: RunResult;
  /** Latency of every successful reserve, in milliseconds. */
  reserveLatenciesMs: number[];
  /** Redis CPU time spent in the reserve phases, in microseconds, from INFO commandstats. */
  reserveServerMicros: number;
  cycle: RunResult;
  /** Redis CPU time spent in the cycle phase, in microseconds. */
  cycleServerMicros: number;
}

export interface BaselineResult extends RunResult {
  /** Redis CPU time spent, in microseconds, from INFO commandstats. */
  serverMicros: number;
}

function combineRuns(runs: RunResult[]): RunResult {
  const operations = runs.reduce((sum, run) => sum + run.operations, 0);
  const seconds = runs.reduce((sum, run) => sum + run.seconds, 0);
  return { operations, seconds, rate: operations / seconds };
}

export function combineSlots(runs: SlotsResult[]): SlotsResult {
  const [first] = runs;
  if (first === undefined) throw new Error('no runs to combine');
  return {
    slots: first.slots,
    reserve: combineRuns(runs.map((run) => run.reserve)),
    reserveLatenciesMs: runs.flatMap((run) => run.reserveLatenciesMs).sort((a, b) => a - b),
    reserveServerMicros: runs.reduce((sum, run) => sum + run.reserveServerMicros, 0),
    cycle: combineRuns(runs.map((run) => run.cycle)),
    cycleServerMicros: runs.reduce((sum, run) => sum + run.cycleServerMicros, 0),
  };
}

export function combineBaselines(runs: BaselineResult[]): BaselineResult {
  return {
    ...combineRuns(runs),
    serverMicros: runs.reduce((sum, run) => sum + run.serverMicros, 0),
  };
}

/**
 * Returns the microseconds Redis spent in the named top-level commands so far. A script's
 * time includes the commands it runs, which are counted separately under their own names.
 */
async function serverMicros(admin: Redis, commands: string[]): Promise<number> {
  const info = await admin.info('commandstats');
  let total = 0;
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=\d+,usec=(\d+)/gm)) {
    if (match[1] !== undefined && commands.includes(match[1])) total += Number(match[2]);
  }
  return total;
}

/** Commands a registry client sends: library functions, and GET of a worker's pool. */
const REGISTRY_COMMANDS = ['fcall', 'function', 'get', 'getex'];

const TENANTS = ['t0', 't1', 't2', 't3'];

/** Builds a reserve request with tenant and campaign quotas that are checked but never reached. */
function quotaRequest(callId: string, slots: number, loop: number): ReserveRequest {
  return {
    pool: 'bench',
    callId,
    reservationTtlMs: 60_000,
    quotas: {
      tenant: { id: TENANTS[loop % TENANTS.length] ?? 't0', limit: slots },
      campaign: { id: `k${loop % 2}`, limit: slots },
    },
  };
}

async function openRegistries(settings: BenchSettings, keyPrefix: string, maxBatch?: number) {
  const registries: CapacityRegistry[] = [];
  for (let i = 0; i < settings.connections; i += 1) {
    registries.push(
      await openRegistry(settings.url, {
        keyPrefix,
        ...(maxBatch === undefined ? {} : { maxBatch }),
      }),
    );
  }
  return registries;
}

function pick<T>(items: T[], loop: number): T {
  const item = items[loop % items.length];
  if (item === undefined) throw new Error('no connection to pick');
  return item;
}

/**
 * Measures reserve rate and latency, then full cycles, with `slots` registered workers.
 * `maxBatch` 1 sends every operation on its own instead of in batches.
 */
export async function measureRegistry(
  settings: BenchSettings,
  slots: number,
  maxBatch?: number,
): Promise<SlotsResult> {
  const registries = await openRegistries(settings, `bench-${slots}-${randomUUID()}:`, maxBatch);
  const admin = new Redis(settings.url);
  try {
    const first = pick(registries, 0);
    for (let start = 0; start < slots; start += 500) {
      const batch = Array.from({ length: Math.min(500, slots - start) }, (_, i) =>
        pick(registries, i).register({
          workerId: `w${String(start + i).padStart(6, '0')}`,
          url: `http://127.0.0.1:7801/${start + i}`,
          host: `host-${(start + i) % 8}`,
          pool: 'bench',
          labels: { lang: 'en' },
          ttlMs: 600_000,
        }),
      );
      await Promise.all(batch);
    }

    // Reserve phases: reserve every slot (timed), release them all (not timed). Each phase
    // sends exactly as many reserves as the pool has slots, so every one finds a free slot:
    // the case measures reservations, not the reply to a full pool.
    const latencies: number[] = [];
    let reserved = 0;
    let reserveSeconds = 0;
    let reserveMicros = 0;
    let callCounter = 0;
    while (reserveSeconds * 1000 < settings.durationMs) {
      const heldReservations: Reservation[] = [];
      const microsBefore = await serverMicros(admin, REGISTRY_COMMANDS);
      let sent = 0;
      const phase = await runUntil(
        settings.concurrency,
        () => sent < slots,
        async (loop) => {
          sent += 1;
          const registry = pick(registries, loop);
          const request = quotaRequest(`r${(callCounter += 1)}`, slots, loop);
          const started = performance.now();
          const reservation = await registry.reserve(request);
          if (reservation === null) throw new Error(`no free slot among ${slots}`);
          latencies.push(performance.now() - started);
          heldReservations.push(reservation);
        },
      );
      reserveMicros += (await serverMicros(admin, REGISTRY_COMMANDS)) - microsBefore;
      reserved += phase.operations;
      reserveSeconds += phase.seconds;
      await Promise.all(
        heldReservations.map((reservation, i) =>
          pick(registries, i).release(reservation.workerId, reservation.token),
        ),
      );
    }

    const cycleMicrosBefore = await serverMicros(admin, REGISTRY_COMMANDS);
    const cycle = await runFor(settings.durationMs, settings.concurrency, async (loop) => {
      const registry = pick(registries, loop);
      const reservation = await registry.reserve(
        quotaRequest(`c${(callCounter += 1)}`, slots, loop),
      );
      if (reservation === null) throw new Error(`no free slot among ${slots}`);
      const confirmed = await registry.confirm(reservation.workerId, reservation.token);
      if (confirmed !== 'confirmed') throw new Error(`confirm returned ${confirmed}`);
      if (!(await registry.release(reservation.workerId, reservation.token))) {
        throw new Error('release returned false');
      }
    });

    const cycleMicros = (await serverMicros(admin, REGISTRY_COMMANDS)) - cycleMicrosBefore;

    const idle = (await first.list('bench')).filter((slot) => slot.state === 'idle').length;
    if (idle !== slots) throw new Error(`${slots - idle} slots leaked after the benchmark`);
    return {
      slots,
      reserve: { operations: reserved, seconds: reserveSeconds, rate: reserved / reserveSeconds },
      reserveLatenciesMs: latencies,
      reserveServerMicros: reserveMicros,
      cycle,
      cycleServerMicros: cycleMicros,
    };
  } finally {
    admin.disconnect();
    for (const registry of registries) await registry.close();
  }
}

/** Runs `operation` in `concurrency` loops while `shouldContinue` returns true before each start. */
async function runUntil(
  concurrency: number,
  shouldContinue: () => boolean,
  operation: (loop: number) => Promise<void>,
): Promise<RunResult> {
  const started = performance.now();
  let operations = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      while (shouldContinue()) {
        await operation(loop);
        operations += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { operations, seconds, rate: operations / seconds };
}

async function openClients(settings: BenchSettings): Promise<Redis[]> {
  const clients: Redis[] = [];
  for (let i = 0; i < settings.connections; i += 1) {
    const client = new Redis(settings.url, { lazyConnect: true });
    await client.connect();
    clients.push(client);
  }
  return clients;
}

/**
 * Baseline (a): a Lua script that only returns, run by SHA1 with EVALSHA. With
 * `requestsPerOperation` 3, each operation is three such requests in sequence, as many as a
 * reserve, confirm and release cycle sends, which bounds the cycle rate of any registry.
 */
export async function measureNoopLua(
  settings: BenchSettings,
  requestsPerOperation = 1,
): Promise<BaselineResult> {
  const clients = await openClients(settings);
  const admin = pick(clients, 0);
  try {
    const source = 'return 1';
    const sha = createHash('sha1').update(source).digest('hex');
    await admin.script('LOAD', source);
    const before = await serverMicros(admin, ['evalsha']);
    const result = await runFor(settings.durationMs, settings.concurrency, async (loop) => {
      const client = pick(clients, loop);
      for (let i = 0; i < requestsPerOperation; i += 1) await client.evalsha(sha, 1, 'bench-noop');
    });
    const micros = (await serverMicros(admin, ['evalsha'])) - before;
    return { ...result, serverMicros: micros };
  } finally {
    for (const client of clients) client.disconnect();
  }
}

/** Baseline (b): redis-semaphore's acquire and release on a semaphore of `slots` permits. */
export async function measureSemaphore(
  settings: BenchSettings,
  slots: number,
): Promise<BaselineResult> {
  const clients = await openClients(settings);
  const admin = pick(clients, 0);
  const key = `bench-semaphore-${randomUUID()}`;
  const commands = ['evalsha', 'eval', 'zrem'];
  try {
    const before = await serverMicros(admin, commands);
    const result = await runFor(settings.durationMs, settings.concurrency, async (loop) => {
      const semaphore = new Semaphore(pick(clients, loop), key, slots, {
        lockTimeout: 60_000,
        refreshInterval: 0,
        retryInterval: 1,
      });
      await semaphore.acquire();
      await semaphore.release();
    });
    const micros = (await serverMicros(admin, commands)) - before;
    return { ...result, serverMicros: micros };
  } finally {
    for (const client of clients) client.disconnect();
  }
}
