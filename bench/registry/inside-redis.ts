/**
 * Registry functions timed inside Redis: `npm run bench:registry-lua`. A test library holds
 * the registry library's Lua and functions that register 1,000 workers, then time with
 * `TIME` batches of 8 reserves, 8 confirms and 8 releases, so the network and the client
 * play no part. The loops run as functions (`FCALL`), as the registry's code does.
 * Baselines in the same run, on the same redis-server:
 * - the same commands that a batched cycle sends, with fixed arguments and no Lua logic
 *   around them, which is what the commands themselves cost;
 * - the same reserves, confirms and releases run one at a time through each operation's own
 *   function instead of the batch's passes.
 *
 * It also times mixed batches and the parts they spend on (see `batch-parts.ts`).
 *
 * The last line has the form
 * `cycle_us=<x> commands_only_us=<y> lua_over_commands=<x/y> one_at_a_time_over_batched=<z>
 * mixed_cycle_us=<m> no_events_over_mixed=<a> no_record_rewrite_over_mixed=<b>
 * no_pass_hset_over_mixed=<c> new_table_over_refilled=<d>`, on one line.
 */
import { Redis } from 'ioredis';
import { LIBRARY_SOURCE, POOL_KEY_NAMES } from '../../packages/registry/src/redis/scripts.js';
import { mixedMicrosPerCycle, partsLibrary, tableFillMicros, VARIANTS } from './batch-parts.js';
import { startRedis } from './redis-server.js';

const CYCLES = 8_000;
const BATCH = 8;
const ROUNDS = 5;

/** Returns the library's Lua without its first line and its `register_function` calls. */
function libraryBody(): string {
  const source = LIBRARY_SOURCE.slice(LIBRARY_SOURCE.indexOf('\n') + 1);
  return source.slice(0, source.indexOf('redis.register_function'));
}

/**
 * Returns the Lua of a function that registers 1,000 workers, runs `CYCLES` cycles, each
 * batch of reserves, confirms or releases with `runBatch`, and returns the microseconds the
 * batches took.
 */
function cycleFunction(name: string, runBatch: string): string {
  return `
local function run_batch_${name}(argv)
  ${runBatch}
end
redis.register_function('${name}', function(KEYS, ARGV)
bind(KEYS, ARGV)
for i = 1, 1000 do
  register({ ARGV[1], ARGV[2], 'w' .. i, 'http://127.0.0.1:7801/' .. i, 'host-1',
    '{"lang":"en"}', '["l4:lang2:en"]', '600000', '' })
end
local elapsed = 0
local function timed(argv)
  local started = redis.call('TIME')
  bind(KEYS, ARGV)
  local replies = run_batch_${name}(argv)
  local ended = redis.call('TIME')
  elapsed = elapsed + (ended[1] - started[1]) * 1e6 + (ended[2] - started[2])
  return replies
end
for i = 1, ${CYCLES / BATCH} do
  local argv = { ARGV[1], ARGV[2] }
  for b = 1, ${BATCH} do
    local n = i * ${BATCH} + b
    for _, v in ipairs({ 'reserve', '8', 'c' .. n, '60000', 'token' .. n, '{}', 't' .. (n % 4),
      'k' .. (n % 2), '1000', '1000' }) do
      argv[#argv + 1] = v
    end
  end
  -- The batch function reuses its reply table in the next call, so the ids are copied.
  local replies, worker_ids = timed(argv), {}
  for b = 1, ${BATCH} do
    worker_ids[b] = replies[b][2]
  end
  for _, kind in ipairs({ 'confirm', 'release' }) do
    argv = { ARGV[1], ARGV[2] }
    for b = 1, ${BATCH} do
      local n = i * ${BATCH} + b
      for _, v in ipairs({ kind, '2', worker_ids[b], 'token' .. n }) do
        argv[#argv + 1] = v
      end
    end
    timed(argv)
  end
end
return elapsed
end)`;
}

/** Lua body of `run_batch` that runs a batch through the batch function, as the client does. */
const BATCHED = 'return batch(argv)';

/** Lua body of `run_batch` that runs each operation of a batch through its own function. */
const ONE_AT_A_TIME = `
  local replies, i = {}, 3
  local functions = { reserve = reserve, confirm = confirm, release = release }
  while i <= #argv do
    local count = tonumber(argv[i + 1])
    local op_argv = { argv[1], argv[2] }
    for j = 1, count do
      op_argv[j + 2] = argv[i + 1 + j]
    end
    replies[#replies + 1] = functions[argv[i]](op_argv)
    i = i + 2 + count
  end
  return replies`;

/**
 * Returns the Lua of a function that sends the commands of `CYCLES` batched cycles, with
 * fixed arguments and no other work, and returns the microseconds they took.
 */
function commandsOnlyFunction(name: string): string {
  return `
redis.register_function('${name}', function(KEYS, ARGV)
local K_IDLE, K_WORKERS, K_DEADLINES, K_HOLDERS = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_EVENTS, K_FENCE = KEYS[5], KEYS[6]
local record = string.rep('x', 150)
for i = 1, 1000 do
  redis.call('ZADD', K_IDLE, 0, 'aw' .. i)
  redis.call('HSET', K_WORKERS, 'w:w' .. i, record)
end
local event = table.concat({ 'reserved', 'w1', 'host-1', 'c1', '1733350000000001', 't1', 'k1' },
  string.char(31))
local events = string.rep(event, ${BATCH}, string.char(30))
local started = redis.call('TIME')
for i = 1, ${CYCLES / BATCH} do
  local found = redis.call('ZRANGEBYLEX', K_IDLE, '[a', '(a\\255', 'LIMIT', 0, ${BATCH})
  local fields, records, deadlines, holders, ids, idle = {}, {}, {}, {}, {}, {}
  for b = 1, ${BATCH} do
    local id = string.sub(found[b], 2)
    ids[b], fields[b] = id, 'w:' .. id
    records[2 * b - 1], records[2 * b] = fields[b], record
    deadlines[2 * b - 1], deadlines[2 * b] = 1, id
    holders[4 * b - 3], holders[4 * b - 2] = 0, 't2:t1' .. id
    holders[4 * b - 1], holders[4 * b] = 0, 'c2:k1' .. id
    idle[2 * b - 1], idle[2 * b] = 0, found[b]
  end
  local holder_members = {}
  for k = 2, #holders, 2 do
    holder_members[#holder_members + 1] = holders[k]
  end
  -- reserve
  redis.call('HMGET', K_WORKERS, unpack(fields))
  redis.call('INCRBY', K_FENCE, ${BATCH})
  redis.call('HSET', K_WORKERS, unpack(records))
  redis.call('ZREM', K_IDLE, unpack(found))
  redis.call('ZADD', K_DEADLINES, unpack(deadlines))
  redis.call('ZADD', K_HOLDERS, unpack(holders))
  redis.call('XADD', K_EVENTS, 'MAXLEN', '~', 10000, '*', 'events', events)
  -- confirm
  redis.call('HMGET', K_WORKERS, unpack(fields))
  redis.call('HSET', K_WORKERS, unpack(records))
  redis.call('ZREM', K_DEADLINES, unpack(ids))
  redis.call('XADD', K_EVENTS, 'MAXLEN', '~', 10000, '*', 'events', events)
  -- release
  redis.call('HMGET', K_WORKERS, unpack(fields))
  redis.call('HSET', K_WORKERS, unpack(records))
  redis.call('ZREM', K_HOLDERS, unpack(holder_members))
  redis.call('ZADD', K_IDLE, unpack(idle))
  redis.call('XADD', K_EVENTS, 'MAXLEN', '~', 10000, '*', 'events', events)
end
local ended = redis.call('TIME')
return (ended[1] - started[1]) * 1e6 + (ended[2] - started[2])
end)`;
}

/** Returns the test library: the registry's Lua and the three timed loops. */
function benchLibrary(): string {
  return [
    '#!lua name=voxfleet_registry_inside_redis',
    libraryBody(),
    cycleFunction('bench_batched', BATCHED),
    cycleFunction('bench_one_at_a_time', ONE_AT_A_TIME),
    commandsOnlyFunction('bench_commands_only'),
  ].join('\n');
}

/**
 * Calls the timed loop `name` on an empty database and returns the microseconds per cycle
 * it reports.
 */
async function microsPerCycle(redis: Redis, name: string, keys: string[]): Promise<number> {
  await redis.flushall();
  const micros = Number(await redis.fcall(name, keys.length, ...keys, '10000', 'bench'));
  return micros / CYCLES;
}

/** Returns the median of `values`. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const server = await startRedis();
  const redis = new Redis(server.url);
  try {
    await redis.function('LOAD', 'REPLACE', benchLibrary());
    for (const [index, variant] of VARIANTS.entries()) {
      await redis.function('LOAD', 'REPLACE', partsLibrary(libraryBody(), variant, index === 0));
    }
    const mixed = new Map<string, number[]>(VARIANTS.map((variant) => [variant.name, []]));
    const newTable: number[] = [];
    const refilledTable: number[] = [];
    const poolKeys = POOL_KEY_NAMES.map((name) => `bench:{bench}:${name}`);
    const commandKeys = ['idle', 'workers', 'deadlines', 'holders', 'events', 'fence'].map(
      (name) => `commands:{bench}:${name}`,
    );
    const batched: number[] = [];
    const alone: number[] = [];
    const commands: number[] = [];
    // Rounds alternate the cases, so a slow period on the machine hits each alike.
    for (let round = 0; round < ROUNDS; round += 1) {
      batched.push(await microsPerCycle(redis, 'bench_batched', poolKeys));
      alone.push(await microsPerCycle(redis, 'bench_one_at_a_time', poolKeys));
      commands.push(await microsPerCycle(redis, 'bench_commands_only', commandKeys));
      for (const variant of VARIANTS) {
        mixed.get(variant.name)?.push(await mixedMicrosPerCycle(redis, variant, poolKeys));
      }
      newTable.push(await tableFillMicros(redis, 'new'));
      refilledTable.push(await tableFillMicros(redis, 'refilled'));
    }
    const mixedMedian = (name: string) => median(mixed.get(name) ?? []);
    const mixedCycle = mixedMedian('full');
    const cycle = median(batched);
    const oneAtATime = median(alone);
    const commandsOnly = median(commands);
    console.log(
      `registry functions inside Redis: ${CYCLES} cycles of batches of ${BATCH}, ` +
        `medians of ${ROUNDS} rounds`,
    );
    console.log(`  batched cycle:             ${cycle.toFixed(2)} µs`);
    console.log(`  one operation at a time:   ${oneAtATime.toFixed(2)} µs`);
    console.log(`  commands only, no Lua:     ${commandsOnly.toFixed(2)} µs`);
    console.log('mixed batches of 3 reserves, 3 confirms and 3 releases, µs per cycle:');
    for (const variant of VARIANTS) {
      console.log(`  ${variant.name.padEnd(26)} ${mixedMedian(variant.name).toFixed(2)} µs`);
    }
    console.log(
      `a Lua table filled with 8 values: new ${median(newTable).toFixed(3)} µs, ` +
        `refilled ${median(refilledTable).toFixed(3)} µs`,
    );
    console.log(
      `cycle_us=${cycle.toFixed(2)} commands_only_us=${commandsOnly.toFixed(2)} ` +
        `lua_over_commands=${(cycle / commandsOnly).toFixed(2)} ` +
        `one_at_a_time_over_batched=${(oneAtATime / cycle).toFixed(2)} ` +
        `mixed_cycle_us=${mixedCycle.toFixed(2)} ` +
        `no_events_over_mixed=${(mixedMedian('no_events') / mixedCycle).toFixed(2)} ` +
        `no_record_rewrite_over_mixed=${(mixedMedian('no_record_rewrite') / mixedCycle).toFixed(2)} ` +
        `no_pass_hset_over_mixed=${(mixedMedian('no_pass_hset') / mixedCycle).toFixed(2)} ` +
        `new_table_over_refilled=${(median(newTable) / median(refilledTable)).toFixed(2)}`,
    );
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

await main();
