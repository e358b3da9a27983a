/**
 * Capacity registry benchmark: `npm run bench:registry`. It starts its own redis-server on
 * loopback. With quotas on and the same client concurrency in every case, it measures
 * reservations per second, full reserve+confirm+release cycles per second, and reserve
 * latency p50/p99 at 100, 1,000 and 10,000 registered slots. Two baselines run on the same
 * server: a no-op Lua script run with EVALSHA, and redis-semaphore's acquire+release. It
 * also measures three no-op requests in sequence, the upper bound of a three-request cycle,
 * the registry at 1,000 slots with batching off (`maxBatch` 1), and counts the Redis
 * requests one dispatch costs.
 *
 * The last line has the form
 * `ratio_reserve_vs_noop_lua=<x> ratio_cycle_vs_redis_semaphore=<y> p99_10k_over_100=<z>`,
 * where x and y take the slowest of the three slot counts.
 */
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { openRegistry } from '@voxfleet/registry';
import { Redis } from 'ioredis';
import {
  combineBaselines,
  combineSlots,
  measureNoopLua,
  measureRegistry,
  measureSemaphore,
  type BaselineResult,
  type BenchSettings,
  type SlotsResult,
} from './cases.js';
import { formatRate, percentile } from './measure.js';
import { startRedis } from './redis-server.js';

const SLOT_COUNTS = [100, 1_000, 10_000];
/** Slots of the extra case that sends every operation on its own (`maxBatch` 1). */
const UNBATCHED_SLOTS = 1_000;
const ROUNDS = 3;

/**
 * Counts the Redis requests of one dispatch: the dialler's reserve, and the worker's
 * confirm and release, each from its own registry client as in production. MONITOR shows
 * every command, and those that a script runs show "lua" as their source. Those are left
 * out, so the count is requests on the wire.
 */
async function measureDispatchRequests(url: string): Promise<number> {
  const keyPrefix = 'bench-dispatch:';
  const dialler = await openRegistry(url, { keyPrefix });
  const worker = await openRegistry(url, { keyPrefix });
  const admin = new Redis(url);
  const monitor = await admin.monitor();
  let requests = 0;
  let counting = false;
  monitor.on('monitor', (_time: string, _args: string[], source: string) => {
    if (counting && source !== 'lua') requests += 1;
  });
  try {
    for (let i = 0; i < 100; i += 1) {
      await worker.register({
        workerId: `w${i}`,
        url: `http://127.0.0.1:7801/${i}`,
        host: 'host-a',
        pool: 'bench',
        labels: {},
        ttlMs: 60_000,
      });
    }
    // MONITOR delivers asynchronously; a pause on each side keeps other commands out.
    await sleep(200);
    counting = true;
    const reservation = await dialler.reserve({
      pool: 'bench',
      callId: 'dispatch',
      reservationTtlMs: 10_000,
      quotas: { tenant: { id: 't0', limit: 10 } },
    });
    if (reservation === null) throw new Error('no free slot for the dispatch count');
    await worker.confirm(reservation.workerId, reservation.token);
    await worker.release(reservation.workerId, reservation.token);
    await sleep(200);
    counting = false;
    return requests;
  } finally {
    monitor.disconnect();
    admin.disconnect();
    await dialler.close();
    await worker.close();
  }
}

function printSlots(result: SlotsResult, noop: number, semaphore: number): void {
  const latencies = result.reserveLatenciesMs;
  console.log(
    `${String(result.slots).padStart(6)} slots: ` +
      `reserve ${formatRate(result.reserve.rate)}/s (${(result.reserve.rate / noop).toFixed(2)}x no-op Lua), ` +
      `cycle ${formatRate(result.cycle.rate)}/s (${(result.cycle.rate / semaphore).toFixed(2)}x redis-semaphore), ` +
      `reserve p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms`,
  );
  console.log(
    `${' '.repeat(14)}Redis CPU: ` +
      `${(result.reserveServerMicros / result.reserve.operations).toFixed(1)} µs per reserve, ` +
      `${(result.cycleServerMicros / result.cycle.operations).toFixed(1)} µs per cycle`,
  );
}

function printDispatchModel(commands: number): void {
  console.log(`\nrequests per dispatch (measured: ${commands} Redis requests):`);
  console.log(
    '  registry: the dialler sends 1 reserve, the worker 1 confirm on attach and 1 release at\n' +
      '  the end; plus 1 HTTP attach. The count does not grow with the number of fleets.',
  );
  console.log(
    '  polling: the dialler asks every fleet URL for a free slot (1 request each), then sends\n' +
      '  1 HTTP attach; two diallers can pick the same slot, which costs a retry.',
  );
  for (const fleets of [1, 10, 100]) {
    console.log(
      `  ${String(fleets).padStart(3)} fleets: registry ${commands} + 1 attach = ${commands + 1}, ` +
        `polling ${fleets} + 1 attach = ${fleets + 1}`,
    );
  }
}

/**
 * Runs every case once per round and merges the rounds, so that a slowdown of the machine
 * in one period affects every case alike instead of one slot count.
 */
async function main(): Promise<void> {
  const redis = await startRedis();
  const settings: BenchSettings = {
    url: redis.url,
    connections: 4,
    concurrency: 32,
    durationMs: 1_000,
  };
  try {
    console.log(
      `registry benchmark: ${settings.concurrency} operations in flight over ` +
        `${settings.connections} connections, ${ROUNDS} rounds of ` +
        `${settings.durationMs / 1000} s per case, ${cpus().length} CPUs, Node ${process.version}`,
    );
    const noopRuns: BaselineResult[] = [];
    const noopCycleRuns: BaselineResult[] = [];
    const semaphoreRuns = new Map<number, BaselineResult[]>();
    const registryRuns = new Map<number, SlotsResult[]>();
    const unbatchedRuns: SlotsResult[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      noopRuns.push(await measureNoopLua(settings));
      noopCycleRuns.push(await measureNoopLua(settings, 3));
      for (const slots of SLOT_COUNTS) {
        const semaphore = await measureSemaphore(settings, slots);
        semaphoreRuns.set(slots, [...(semaphoreRuns.get(slots) ?? []), semaphore]);
        const registry = await measureRegistry(settings, slots);
        registryRuns.set(slots, [...(registryRuns.get(slots) ?? []), registry]);
      }
      unbatchedRuns.push(await measureRegistry(settings, UNBATCHED_SLOTS, 1));
    }

    const noop = combineBaselines(noopRuns);
    console.log(
      `no-op Lua (EVALSHA): ${formatRate(noop.rate)}/s, ` +
        `Redis CPU ${(noop.serverMicros / noop.operations).toFixed(1)} µs each`,
    );
    const noopCycle = combineBaselines(noopCycleRuns);
    const semaphoreRates = [...semaphoreRuns.values()].map((runs) => combineBaselines(runs).rate);
    console.log(
      `three no-op Lua requests in sequence: ${formatRate(noopCycle.rate)}/s ` +
        `(${(noopCycle.rate / Math.max(...semaphoreRates)).toFixed(2)}-` +
        `${(noopCycle.rate / Math.min(...semaphoreRates)).toFixed(2)}x redis-semaphore), ` +
        'the most cycles of three requests this client can send',
    );
    const results: { result: SlotsResult; semaphore: BaselineResult }[] = [];
    for (const slots of SLOT_COUNTS) {
      const semaphore = combineBaselines(semaphoreRuns.get(slots) ?? []);
      const result = combineSlots(registryRuns.get(slots) ?? []);
      results.push({ result, semaphore });
      console.log(
        `redis-semaphore acquire+release, ${slots} permits: ${formatRate(semaphore.rate)}/s, ` +
          `Redis CPU ${(semaphore.serverMicros / semaphore.operations).toFixed(1)} µs per cycle`,
      );
      printSlots(result, noop.rate, semaphore.rate);
    }
    const unbatched = combineSlots(unbatchedRuns);
    const unbatchedSemaphore = combineBaselines(semaphoreRuns.get(UNBATCHED_SLOTS) ?? []);
    console.log(`without batching (maxBatch 1), ${UNBATCHED_SLOTS} permits:`);
    printSlots(unbatched, noop.rate, unbatchedSemaphore.rate);
    printDispatchModel(await measureDispatchRequests(redis.url));

    const reserveRatio = Math.min(...results.map(({ result }) => result.reserve.rate / noop.rate));
    const cycleRatio = Math.min(
      ...results.map(({ result, semaphore }) => result.cycle.rate / semaphore.rate),
    );
    const smallest = results[0]?.result;
    const largest = results.at(-1)?.result;
    if (smallest === undefined || largest === undefined) throw new Error('no results');
    const p99Ratio =
      percentile(largest.reserveLatenciesMs, 0.99) / percentile(smallest.reserveLatenciesMs, 0.99);
    console.log(
      `ratio_reserve_vs_noop_lua=${reserveRatio.toFixed(2)} ` +
        `ratio_cycle_vs_redis_semaphore=${cycleRatio.toFixed(2)} ` +
        `p99_10k_over_100=${p99Ratio.toFixed(2)}`,
    );
  } finally {
    await redis.stop();
  }
}

await main();
