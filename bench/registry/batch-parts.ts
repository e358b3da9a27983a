/**
 * Mixed batches timed inside Redis, and what parts of them cost, for
 * `npm run bench:registry-lua`. Each batch contains 3 reserves of new cycles, the confirms
 * of the reserves of the batch before, and the releases of the confirms of the batch before
 * that, as batches look when many callers run cycles at once. The same loop runs on copies
 * of the registry's Lua with one part removed, so the difference is what that part costs:
 * - no events: the batch appends no event and writes no stream entry;
 * - no record rewrite: confirms and releases write each record back unchanged instead of
 *   with its new state;
 * - no pass HSET: confirms and releases write no record at all.
 * A copy is wrong on purpose and serves only to time the loop. It also times a Lua table
 * filled with 8 values, new against refilled.
 */
import type { Redis } from 'ioredis';

/** Cycles per timed loop. */
const CYCLES = 9_000;
/** Reserves, confirms and releases per batch. */
const PER_KIND = 3;

/** A copy of the registry's Lua with one part removed, as a list of replacements. */
interface Variant {
  name: string;
  /** Text of the library to replace, the replacement, and how often the text occurs. */
  replacements: { from: string; to: string; count: number }[];
}

export const VARIANTS: Variant[] = [
  { name: 'full', replacements: [] },
  {
    name: 'no_events',
    replacements: [
      {
        from: 'local function emit(kind, id, host, call_id, fence, tenant_id, campaign_id)\n',
        to:
          'local function emit(kind, id, host, call_id, fence, tenant_id, campaign_id)\n' +
          '  if BATCHING then return nil end\n',
        count: 1,
      },
    ],
  },
  {
    name: 'no_record_rewrite',
    replacements: [
      { from: "restate(packed[i], 'reserved', 'busy')", to: 'packed[i]', count: 1 },
      { from: "restate(packed[i], w.state, '')", to: 'packed[i]', count: 1 },
    ],
  },
  {
    name: 'no_pass_hset',
    replacements: [
      {
        from:
          "  call_chunked('HSET', K_WORKERS, A_RECORDS, n_records, 2)\n" +
          "  call_chunked('ZREM', K_DEADLINES, A_DEADLINES, n_deadlines, 1)\n",
        to: "  call_chunked('ZREM', K_DEADLINES, A_DEADLINES, n_deadlines, 1)\n",
        count: 2,
      },
    ],
  },
];

/** Returns `body` with the variant's replacements, or throws when a text is not found. */
function applyVariant(body: string, variant: Variant): string {
  let result = body;
  for (const { from, to, count } of variant.replacements) {
    const found = result.split(from).length - 1;
    if (found !== count) {
      throw new Error(
        `variant ${variant.name}: expected ${count} of ${JSON.stringify(from)} in the ` +
          `registry's Lua, found ${found}; update bench/registry/batch-parts.ts`,
      );
    }
    result = result.split(from).join(to);
  }
  return result;
}

/** Returns the Lua of the function that times mixed batches; see the file comment. */
function mixedFunction(name: string): string {
  return `
redis.register_function('${name}', function(keys, argv)
  bind(keys, argv)
  for i = 1, 1000 do
    bind(keys, argv)
    register({ argv[1], argv[2], 'w' .. i, 'http://127.0.0.1:7801/' .. i, 'host-1',
      '{"lang":"en"}', '["l4:lang2:en"]', '600000', '' })
  end
  local elapsed, n, cycles = 0, 0, 0
  local reserved, confirmed = {}, {}
  while cycles < ${CYCLES} do
    local ops, kinds = { argv[1], argv[2] }, {}
    for _ = 1, ${PER_KIND} do
      n = n + 1
      for _, v in ipairs({ 'reserve', '8', 'c' .. n, '60000', 'token' .. n, '{}',
        't' .. (n % 4), 'k' .. (n % 2), '1000', '1000' }) do
        ops[#ops + 1] = v
      end
      kinds[#kinds + 1] = { 'reserve', 'token' .. n }
    end
    for _, r in ipairs(reserved) do
      for _, v in ipairs({ 'confirm', '2', r[1], r[2] }) do
        ops[#ops + 1] = v
      end
      kinds[#kinds + 1] = { 'confirm', r[1], r[2] }
    end
    for _, r in ipairs(confirmed) do
      for _, v in ipairs({ 'release', '2', r[1], r[2] }) do
        ops[#ops + 1] = v
      end
      kinds[#kinds + 1] = { 'release' }
      cycles = cycles + 1
    end
    reserved, confirmed = {}, {}
    local started = redis.call('TIME')
    bind(keys, argv)
    local replies = batch(ops)
    local ended = redis.call('TIME')
    elapsed = elapsed + (ended[1] - started[1]) * 1e6 + (ended[2] - started[2])
    -- The batch function reuses its reply table in the next call, so the replies are read now.
    for k, kind in ipairs(kinds) do
      local reply = replies[k]
      if kind[1] == 'reserve' then
        reserved[#reserved + 1] = { reply[2], kind[2] }
      elseif kind[1] == 'confirm' then
        if reply ~= 'confirmed' then
          error('confirm returned ' .. tostring(reply))
        end
        confirmed[#confirmed + 1] = { kind[2], kind[3] }
      elseif reply ~= 1 then
        error('release returned ' .. tostring(reply))
      end
    end
  end
  return tostring(elapsed / cycles)
end)
`;
}

/** Lua of a function that returns the µs per Lua table filled with 8 values, new or refilled. */
const TABLE_FUNCTION = `
redis.register_function('bench_table_fill', function(keys, argv)
  local count, keep = 200000, {}
  local reused = {}
  local started = redis.call('TIME')
  for i = 1, count do
    local t = argv[1] == 'new' and {} or reused
    for j = 1, 8 do
      t[j] = j
    end
    keep[i % 64] = t
  end
  local ended = redis.call('TIME')
  return tostring(((ended[1] - started[1]) * 1e6 + (ended[2] - started[2])) / count)
end)
`;

/** Returns the test library of one variant, and the table timing when `withTable` is true. */
export function partsLibrary(body: string, variant: Variant, withTable: boolean): string {
  return [
    `#!lua name=voxfleet_registry_parts_${variant.name}`,
    applyVariant(body, variant),
    mixedFunction(`bench_mixed_${variant.name}`),
    withTable ? TABLE_FUNCTION : '',
  ].join('\n');
}

/** Runs the mixed loop of a variant on an empty database and returns µs per cycle. */
export async function mixedMicrosPerCycle(
  redis: Redis,
  variant: Variant,
  keys: string[],
): Promise<number> {
  await redis.flushall();
  return Number(
    await redis.fcall(`bench_mixed_${variant.name}`, keys.length, ...keys, '10000', 'bench'),
  );
}

/** Returns the µs per table filled with 8 values, `new` each time or `refilled`. */
export async function tableFillMicros(redis: Redis, mode: 'new' | 'refilled'): Promise<number> {
  return Number(await redis.fcall('bench_table_fill', 0, mode));
}
