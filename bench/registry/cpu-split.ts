/**
 * CPU time of a cycle, in Redis and in the client: `npm run bench:registry-cpu`. With 32
 * operations in flight, as in `npm run bench:registry`, it runs the registry's reserve,
 * confirm and release cycle and redis-semaphore's acquire and release on the same
 * redis-server. Per cycle it measures the CPU time of redis-server's main thread (from
 * /proc/<pid>/schedstat, Linux only) and of this client process (`process.cpuUsage`). The
 * registry also runs with its 32 loops spread over 1, 2, 4 and 8 connections, which puts
 * 32, 16, 8 and 4 operations in each batch call.
 *
 * The last line has the form
 * `registry_redis_cpu_over_semaphore=<x> registry_client_cpu_over_semaphore=<y>
 * redis_cpu_8_per_call_over_16_per_call=<z>`, on one line.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Semaphore } from 'redis-semaphore';
import { openRegistry, type CapacityRegistry } from '@voxfleet/registry';
import { runFor } from './measure.js';
import { startRedis, type BenchRedis } from './redis-server.js';

const CONCURRENCY = 32;
const DURATION_MS = 3_000;
const ROUNDS = 2;
const SLOTS = 1_000;
const CONNECTION_COUNTS = [1, 2, 4, 8];
/** Connections of the comparison with redis-semaphore, as in `npm run bench:registry`. */
const COMPARED_CONNECTIONS = 4;

/** Totals of one case over its rounds. */
interface CpuResult {
  cycles: number;
  seconds: number;
  redisMicros: number;
  clientMicros: number;
}

/** Returns the CPU time of the redis-server's main thread so far, in microseconds. */
function redisCpuMicros(redis: BenchRedis): number {
  const [runNanos] = readFileSync(`/proc/${redis.pid}/schedstat`, 'utf8').split(' ');
  return Number(runNanos) / 1000;
}

/** Runs `cycle` in 32 loops for the case's duration and returns the CPU it took. */
async function measure(
  redis: BenchRedis,
  cycle: (loop: number) => Promise<void>,
): Promise<CpuResult> {
  const redisBefore = redisCpuMicros(redis);
  const clientBefore = process.cpuUsage();
  const result = await runFor(DURATION_MS, CONCURRENCY, cycle);
  const client = process.cpuUsage(clientBefore);
  return {
    cycles: result.operations,
    seconds: result.seconds,
    redisMicros: redisCpuMicros(redis) - redisBefore,
    clientMicros: client.user + client.system,
  };
}

/** Runs registry cycles with the 32 loops over `connections` registry clients. */
async function measureRegistry(redis: BenchRedis, connections: number): Promise<CpuResult> {
  const keyPrefix = `cpu-${randomUUID()}:`;
  const registries: CapacityRegistry[] = [];
  for (let i = 0; i < connections; i += 1) {
    registries.push(await openRegistry(redis.url, { keyPrefix }));
  }
  try {
    const [first] = registries;
    if (first === undefined) throw new Error('no registry opened');
    for (let i = 0; i < SLOTS; i += 1) {
      await first.register({
        workerId: `w${String(i).padStart(6, '0')}`,
        url: `http://127.0.0.1:7801/${i}`,
        host: `host-${i % 8}`,
        pool: 'bench',
        labels: { lang: 'en' },
        ttlMs: 600_000,
      });
    }
    let calls = 0;
    return await measure(redis, async (loop) => {
      const registry = registries[loop % connections];
      if (registry === undefined) throw new Error('no registry for the loop');
      calls += 1;
      const reservation = await registry.reserve({
        pool: 'bench',
        callId: `c${calls}`,
        reservationTtlMs: 60_000,
        quotas: {
          tenant: { id: `t${loop % 4}`, limit: SLOTS },
          campaign: { id: `k${loop % 2}`, limit: SLOTS },
        },
      });
      if (reservation === null) throw new Error(`no free slot among ${SLOTS}`);
      const confirmed = await registry.confirm(reservation.workerId, reservation.token);
      if (confirmed !== 'confirmed') throw new Error(`confirm returned ${confirmed}`);
      if (!(await registry.release(reservation.workerId, reservation.token))) {
        throw new Error('release returned false');
      }
    });
  } finally {
    for (const registry of registries) await registry.close();
  }
}

/** Runs redis-semaphore's acquire and release over `COMPARED_CONNECTIONS` connections. */
async function measureSemaphore(redis: BenchRedis): Promise<CpuResult> {
  const clients: Redis[] = [];
  for (let i = 0; i < COMPARED_CONNECTIONS; i += 1) {
    const client = new Redis(redis.url, { lazyConnect: true });
    await client.connect();
    clients.push(client);
  }
  const key = `cpu-semaphore-${randomUUID()}`;
  try {
    return await measure(redis, async (loop) => {
      const client = clients[loop % COMPARED_CONNECTIONS];
      if (client === undefined) throw new Error('no connection for the loop');
      const semaphore = new Semaphore(client, key, SLOTS, {
        lockTimeout: 60_000,
        refreshInterval: 0,
        retryInterval: 1,
      });
      await semaphore.acquire();
      await semaphore.release();
    });
  } finally {
    for (const client of clients) client.disconnect();
  }
}

function add(total: CpuResult | undefined, run: CpuResult): CpuResult {
  if (total === undefined) return run;
  return {
    cycles: total.cycles + run.cycles,
    seconds: total.seconds + run.seconds,
    redisMicros: total.redisMicros + run.redisMicros,
    clientMicros: total.clientMicros + run.clientMicros,
  };
}

function describe(label: string, result: CpuResult): string {
  const perCycle = (micros: number) => (micros / result.cycles).toFixed(1);
  return (
    `${label.padEnd(34)} ${Math.round(result.cycles / result.seconds).toLocaleString('en-US')} ` +
    `cycles/s, Redis ${perCycle(result.redisMicros)} µs and client ` +
    `${perCycle(result.clientMicros)} µs of CPU per cycle, Redis busy ` +
    `${Math.round((result.redisMicros / (result.seconds * 1e6)) * 100)}%`
  );
}

async function main(): Promise<void> {
  const redis = await startRedis();
  try {
    const registry = new Map<number, CpuResult>();
    let semaphore: CpuResult | undefined;
    // Rounds alternate the cases, so a slow period on the machine hits each alike.
    for (let round = 0; round < ROUNDS; round += 1) {
      semaphore = add(semaphore, await measureSemaphore(redis));
      for (const connections of CONNECTION_COUNTS) {
        registry.set(
          connections,
          add(registry.get(connections), await measureRegistry(redis, connections)),
        );
      }
    }
    if (semaphore === undefined) throw new Error('no semaphore run');
    console.log(
      `cycle CPU: ${CONCURRENCY} in flight, ${ROUNDS} rounds of ${DURATION_MS / 1000} s per case`,
    );
    console.log(describe(`redis-semaphore, ${COMPARED_CONNECTIONS} connections`, semaphore));
    for (const [connections, result] of registry) {
      const perCall = CONCURRENCY / connections;
      const plural = connections === 1 ? '' : 's';
      console.log(
        describe(`registry, ${connections} connection${plural} (${perCall} per call)`, result),
      );
    }
    const compared = registry.get(COMPARED_CONNECTIONS);
    const wider = registry.get(2);
    if (compared === undefined || wider === undefined) throw new Error('missing registry run');
    const redisPerCycle = (result: CpuResult) => result.redisMicros / result.cycles;
    const clientPerCycle = (result: CpuResult) => result.clientMicros / result.cycles;
    console.log(
      `registry_redis_cpu_over_semaphore=${(redisPerCycle(compared) / redisPerCycle(semaphore)).toFixed(2)} ` +
        `registry_client_cpu_over_semaphore=${(clientPerCycle(compared) / clientPerCycle(semaphore)).toFixed(2)} ` +
        `redis_cpu_8_per_call_over_16_per_call=${(redisPerCycle(compared) / redisPerCycle(wider)).toFixed(2)}`,
    );
  } finally {
    await redis.stop();
  }
}

await main();
