/**
 * The Redis backend's Lua code: one function library (Redis 7 `FUNCTION LOAD`, run with
 * `FCALL`). Each mutation is exactly one function call, so Redis runs it without
 * interleaving another client's command. A library defines its helpers once when it is
 * loaded, where a script sent with EVALSHA defines them again on every call. For the same
 * reserve code, Redis spent 27 µs per `FCALL` against 30 to 36 µs per `EVALSHA`, measured
 * with 32 calls in flight on the 2-core machine of docs/benchmarks.md. The `batch`
 * function runs many reserve, confirm and release operations in one call.
 *
 * Every function takes the same seven keys, which share the hash tag `{pool}`, so Redis
 * Cluster keeps them in one slot (see `POOL_KEY_NAMES`). They are every key a function
 * touches: the FCALL reference (https://redis.io/commands/fcall) requires each key a
 * function accesses to be passed as a key argument, never built from stored data, so that
 * the client routes the call to the node that owns all of them. `ARGV[1]` is the
 * approximate maximum length of the pool's event stream and `ARGV[2]` the pool's name.
 *
 * The workers of a pool live in one hash, `<prefix>{pool}:workers`, with one field per
 * worker, `w:<workerId>`, containing the worker's record (see `load` in `HELPERS`).
 *
 * Upgrades: a record starts with its state, and a stream entry has one field, `events`.
 * Before that a record started with expiresAt, and earlier layouts kept one field per
 * worker and attribute in `{pool}:slots`, one hash per worker, or one JSON document per
 * worker. Functions cannot read any of them: an earlier record would decode to wrong
 * values, and the `holders` and `idle` entries of an older layout would still count
 * against quotas and be tried as idle workers. An upgrade therefore moves to a new key
 * prefix, or deletes the old prefix's keys; workers then register again, because their
 * heartbeat returns false.
 *
 * Invariants every function keeps:
 * - Time is the Redis server's `TIME`, never the client's clock.
 * - `idle` contains a worker exactly when it is not draining and its reservation state is
 *   '' or 'lapsed', even if it is past its TTL and not yet deleted. `deadlines` contains
 *   exactly the reservations in state 'reserved'. `holders` contains one member per quota
 *   id of each reservation in state 'reserved' or 'busy'. Besides these, every set and
 *   hash of the pool contains `POOL_MEMBER` once a worker of the pool has registered.
 * - Expiry is lazy. `sweep` removes every worker past its `expiresAt` and lapses every
 *   reservation past its deadline, with their events, in heartbeat, register, deregister,
 *   list, reap and drain. `settle` does the same for the one worker that confirm, release
 *   or reserve (for the worker it picks) reads. So every call that reads a worker
 *   settles it first, and `reserve` sweeps before it reports a full pool or a reached
 *   quota, because only an entry not yet swept could make either untrue.
 * - A lapsed reservation stays in its worker's record, so a late `confirm` returns
 *   'expired'; it is overwritten by the next `reserve` and ignored by every count.
 * - The fence counter only grows: `INCR`, or a re-asserted call's higher fence. When the
 *   key is missing (a new pool, or data lost in a restart) it starts from the server time
 *   in microseconds, so it stays above every earlier fence unless the pool averaged over a
 *   million reservations a second. A failover that lost increments moves it back until
 *   the workers' heartbeats re-assert their fences.
 *
 * Lua numbers are doubles, and Redis passes an integral one up to 2^53 to a command, or
 * returns it, with every digit, so fences (16 digits) and times need no formatting.
 * Redis 7.0.15 rejects `string` in library code that runs while the library loads, so the
 * standard libraries (`string`, `cjson`, `cmsgpack`) are used inside functions only.
 */
import { createHash } from 'node:crypto';

/** Key suffixes of a pool, in the order every pool script receives them. */
export const POOL_KEY_NAMES = [
  'expiry',
  'idle',
  'deadlines',
  'holders',
  'events',
  'fence',
  'workers',
] as const;

/**
 * Shared helpers. Members of the lexicographic sets encode their parts with a length
 * prefix, so one label or quota id can never be read as the start of another:
 * - `idle`: `a<workerId>` for every idle worker, and `l<#key>:<key><#value>:<value><workerId>`
 *   for each of its labels, so a reserve that requires one label finds a worker in
 *   O(log n) with `ZRANGEBYLEX`. The client computes the label prefixes (`lp`).
 * - `holders`: `t<#id>:<id><workerId>` per tenant and `c<#id>:<id><workerId>` per campaign,
 *   so `ZLEXCOUNT` counts a quota's live reservations in O(log n).
 * Byte 255 never occurs in UTF-8, so `(<prefix>\xff` ends the range of a prefix.
 *
 * A worker is one field of the `workers` hash, `w:<workerId>`, containing a MessagePack
 * array (`cmsgpack`, built into Redis's Lua) in the order `load` lists. One `HGET` and one
 * `HSET` read and write all of it. In loops inside Redis 7.0.15 that took 3.1 µs, where the
 * previous layout's `HMGET` of 12 fields and `HSET` of 7, with field names built in Lua,
 * took an estimated 6 µs.
 */
const HELPERS = `
local K_EXPIRY, K_IDLE, K_DEADLINES, K_HOLDERS, K_EVENTS, K_FENCE, K_WORKERS
local EVENTS_MAX, POOL
local RANGE_END = '\\255'
-- Separate the parts of an event and the events of an entry; see emit.
local PART_SEP, EVENT_SEP = '\\31', '\\30'
-- The server time of the call that is running, read once per call; see now_ms.
local NOW
-- While a batch runs (BATCHING), the events it appends, PENDING[1] to PENDING[N_PENDING],
-- in order (see emit). The table is kept from call to call, like the batch's scratch tables.
local BATCHING, PENDING, N_PENDING = false, {}, 0
-- Maximum number of events in one entry. With ids of 10 to 40 characters, an entry of
-- that many is about 80 to 240 KB.
local PENDING_MAX = 1000

-- Sets the pool's keys and arguments for the call that is starting.
local function bind(keys, argv)
  K_EXPIRY, K_IDLE, K_DEADLINES = keys[1], keys[2], keys[3]
  K_HOLDERS, K_EVENTS, K_FENCE, K_WORKERS = keys[4], keys[5], keys[6], keys[7]
  EVENTS_MAX, POOL = argv[1], argv[2]
  NOW = nil
  BATCHING, N_PENDING = false, 0
end

-- Returns the server time in milliseconds. A call reads it once: the operations of one
-- batch run as one atomic step, so they all happen at the same instant.
local function now_ms()
  if not NOW then
    local t = redis.call('TIME')
    NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return NOW
end

-- Reads a worker's record, or returns nil when it is not registered. Fields: the
-- reservation's state ('' for none, 'reserved', 'busy' or 'lapsed'), expiresAt, draining
-- (boolean), host, url, labels (JSON), lp (array of label prefixes), then the rest of the
-- reservation: token, fence, callId, deadline, tenantId and campaignId ('' when absent).
local function decode(packed)
  local state, expires_at, draining, host, url, labels, lp, token, fence, call_id, deadline,
    tenant_id, campaign_id = cmsgpack.unpack(packed)
  return { state = state, expiresAt = expires_at, draining = draining, host = host,
    url = url, labels = labels, lp = lp, token = token, fence = fence, callId = call_id,
    deadline = deadline, tenantId = tenant_id, campaignId = campaign_id }
end

-- Decodes a record into the table w, as decode would into a new one; every field is set.
local function decode_into(w, packed)
  w.state, w.expiresAt, w.draining, w.host, w.url, w.labels, w.lp, w.token, w.fence,
    w.callId, w.deadline, w.tenantId, w.campaignId = cmsgpack.unpack(packed)
end

local function encode(w)
  return cmsgpack.pack(w.state, w.expiresAt, w.draining, w.host, w.url, w.labels, w.lp,
    w.token, w.fence, w.callId, w.deadline, w.tenantId, w.campaignId)
end

-- The first bytes of a record: its state, which MessagePack encodes as a fixstr (byte
-- 0xa0 plus the length, then the characters).
local STATE_BYTES = { [''] = '\\160', busy = '\\164busy', reserved = '\\168reserved',
  lapsed = '\\166lapsed' }

-- Returns a record whose state is from with its state changed to to, as encode would
-- write it, without encoding the rest again.
local function restate(packed, from, to)
  return STATE_BYTES[to] .. string.sub(packed, #STATE_BYTES[from] + 1)
end

local function load(id)
  local packed = redis.call('HGET', K_WORKERS, 'w:' .. id)
  if not packed then
    return nil
  end
  return decode(packed)
end

local function store(id, w)
  redis.call('HSET', K_WORKERS, 'w:' .. id, encode(w))
end

local function holding(w, now)
  return w.state == 'busy' or (w.state == 'reserved' and w.deadline > now)
end

local function idle_add(id, lp)
  local args = { 0, 'a' .. id }
  for _, prefix in ipairs(lp) do
    args[#args + 1] = 0
    args[#args + 1] = prefix .. id
  end
  redis.call('ZADD', K_IDLE, unpack(args))
end

local function idle_remove(id, lp)
  local members = { 'a' .. id }
  for _, prefix in ipairs(lp) do
    members[#members + 1] = prefix .. id
  end
  redis.call('ZREM', K_IDLE, unpack(members))
end

-- Holders prefixes of the quota ids met so far, per scope ('t' or 'c'), kept from call to
-- call because turning an id's length into a string is slow in Lua. Emptied when it
-- contains PREFIXES_MAX ids, so new campaign ids cannot grow it without bound.
local PREFIXES, N_PREFIXES, PREFIXES_MAX = { t = {}, c = {} }, 0, 4096

-- Returns the prefix of a quota id's members in holders: the scope, then the id with its
-- length (see HELPERS).
local function holders_prefix(scope, quota_id)
  local prefix = PREFIXES[scope][quota_id]
  if not prefix then
    if N_PREFIXES >= PREFIXES_MAX then
      PREFIXES, N_PREFIXES = { t = {}, c = {} }, 0
    end
    prefix = scope .. #quota_id .. ':' .. quota_id
    PREFIXES[scope][quota_id] = prefix
    N_PREFIXES = N_PREFIXES + 1
  end
  return prefix
end

local function holders_add(id, tenant_id, campaign_id)
  if tenant_id ~= '' and campaign_id ~= '' then
    redis.call('ZADD', K_HOLDERS, 0, holders_prefix('t', tenant_id) .. id,
      0, holders_prefix('c', campaign_id) .. id)
  elseif tenant_id ~= '' then
    redis.call('ZADD', K_HOLDERS, 0, holders_prefix('t', tenant_id) .. id)
  elseif campaign_id ~= '' then
    redis.call('ZADD', K_HOLDERS, 0, holders_prefix('c', campaign_id) .. id)
  end
end

local function holders_remove(id, tenant_id, campaign_id)
  if tenant_id ~= '' and campaign_id ~= '' then
    redis.call('ZREM', K_HOLDERS, holders_prefix('t', tenant_id) .. id,
      holders_prefix('c', campaign_id) .. id)
  elseif tenant_id ~= '' then
    redis.call('ZREM', K_HOLDERS, holders_prefix('t', tenant_id) .. id)
  elseif campaign_id ~= '' then
    redis.call('ZREM', K_HOLDERS, holders_prefix('c', campaign_id) .. id)
  end
end

local function count_holders(scope, quota_id)
  local prefix = holders_prefix(scope, quota_id)
  return redis.call('ZLEXCOUNT', K_HOLDERS, '[' .. prefix, '(' .. prefix .. RANGE_END)
end

-- Writes the pending events as one stream entry.
local function write_pending()
  if N_PENDING > 0 then
    redis.call('XADD', K_EVENTS, 'MAXLEN', '~', EVENTS_MAX, '*', 'events',
      table.concat(PENDING, EVENT_SEP, 1, N_PENDING))
    N_PENDING = 0
  end
end

-- Appends an event: its type, worker id and host, and for an event about a reservation
-- (call_id not nil) the call id, fence, tenant id and campaign id ('' when absent), joined
-- by byte 31. An entry has one field, 'events', with its events joined by byte 30. Ids
-- contain neither byte (see checkId and event-stream.ts). Returns the entry as XRANGE would,
-- or nil during a batch, whose events go into one entry when the batch ends. One value
-- instead of one field per attribute made a cycle about 12% cheaper in a loop in Redis.
local function emit(kind, id, host, call_id, fence, tenant_id, campaign_id)
  local event
  if call_id then
    event = kind .. PART_SEP .. id .. PART_SEP .. host .. PART_SEP .. call_id .. PART_SEP
      .. string.format('%d', fence) .. PART_SEP .. tenant_id .. PART_SEP .. campaign_id
  else
    event = kind .. PART_SEP .. id .. PART_SEP .. host
  end
  if BATCHING then
    N_PENDING = N_PENDING + 1
    PENDING[N_PENDING] = event
    if N_PENDING >= PENDING_MAX then
      write_pending()
    end
    return nil
  end
  local entry_id = redis.call('XADD', K_EVENTS, 'MAXLEN', '~', EVENTS_MAX, '*', 'events', event)
  return { entry_id, { 'events', event } }
end

-- Appends an event about the worker's reservation, or about the worker alone when with_res
-- is false, and adds the entry to out when out is a table.
local function emit_for(kind, id, w, with_res, out)
  local event
  if with_res then
    event = emit(kind, id, w.host, w.callId, w.fence, w.tenantId, w.campaignId)
  else
    event = emit(kind, id, w.host)
  end
  if out and event then
    out[#out + 1] = event
  end
end

-- Lapses the worker's reservation, which is in state 'reserved' and past its deadline.
local function lapse(id, w, out)
  holders_remove(id, w.tenantId, w.campaignId)
  if not w.draining then
    idle_add(id, w.lp)
  end
  w.state = 'lapsed'
  store(id, w)
  redis.call('ZREM', K_DEADLINES, id)
  emit_for('reservation-lapsed', id, w, true, out)
end

-- Deletes the worker, which is past its TTL, and the reservation it holds.
local function expire(id, w, now, out)
  local held = holding(w, now)
  if held then
    holders_remove(id, w.tenantId, w.campaignId)
  end
  idle_remove(id, w.lp)
  redis.call('HDEL', K_WORKERS, 'w:' .. id)
  redis.call('ZREM', K_EXPIRY, id)
  redis.call('ZREM', K_DEADLINES, id)
  emit_for('expired', id, w, held, out)
end

-- Lapses the worker's reservation if it is past its deadline, then deletes the worker if
-- it is past its TTL, as sweep would. Returns true when the worker is still live.
local function settle(id, w, now)
  if w.state == 'reserved' and w.deadline <= now then
    lapse(id, w)
  end
  if w.expiresAt <= now then
    expire(id, w, now)
    return false
  end
  return true
end

-- Lapses every reservation past its deadline, then deletes every worker past its TTL.
-- Appends the events to out when out is a table.
local function sweep(now, out)
  local lapsed = redis.call('ZRANGEBYSCORE', K_DEADLINES, '-inf', now)
  for _, id in ipairs(lapsed) do
    local w = load(id)
    if w and w.state == 'reserved' then
      lapse(id, w, out)
    end
  end
  if #lapsed > 0 then
    redis.call('ZREMRANGEBYSCORE', K_DEADLINES, '-inf', now)
  end

  local expired = redis.call('ZRANGEBYSCORE', K_EXPIRY, '-inf', now)
  for _, id in ipairs(expired) do
    local w = load(id)
    if w then
      expire(id, w, now, out)
    end
  end
  if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', K_EXPIRY, '-inf', now)
  end
end

local function fence_from_clock()
  local t = redis.call('TIME')
  return tonumber(t[1] .. string.format('%06d', tonumber(t[2])))
end

-- A member or field that starts with byte 1. Other members start with a letter or are
-- worker ids, which cannot contain control characters (checkId), so no read by prefix or
-- by score up to now meets it. At over 64 bytes (Redis's default zset-max-listpack-value)
-- it keeps a sorted set a skiplist instead of a listpack, which Redis scans and moves on
-- every change: reserves in a pool of 100 workers took 15 to 20% less time in Redis.
local POOL_MEMBER = '\\1keeps-this-key-of-the-pool-in-existence-and-its-sorted-set-a-skiplist'

-- Makes every key of the pool exist for good: POOL_MEMBER in each sorted set (score +inf
-- in expiry and deadlines, which no sweep reads) and in workers, and the fence counter,
-- started from the clock as next_fence would. Redis deletes an empty set or hash, and a
-- function that meets a key missing while a Cluster moves the slot fails part way.
local function keep_pool_keys()
  redis.call('ZADD', K_EXPIRY, 'inf', POOL_MEMBER)
  redis.call('ZADD', K_DEADLINES, 'inf', POOL_MEMBER)
  redis.call('ZADD', K_IDLE, 0, POOL_MEMBER)
  redis.call('ZADD', K_HOLDERS, 0, POOL_MEMBER)
  redis.call('HSET', K_WORKERS, POOL_MEMBER, 1)
  if redis.call('EXISTS', K_FENCE) == 0 then
    redis.call('SET', K_FENCE, fence_from_clock())
  end
end

-- Increments the fence counter and returns the new value. A missing counter (INCR
-- returns 1) starts from the server time in microseconds instead.
local function next_fence()
  local fence = redis.call('INCR', K_FENCE)
  if fence == 1 then
    fence = fence_from_clock()
    redis.call('SET', K_FENCE, fence)
  end
  return fence
end

-- Moves the fence counter up to at least fence, starting it from the clock when missing.
local function raise_fence(fence)
  local current = redis.call('GET', K_FENCE)
  if not current then
    current = fence_from_clock()
    redis.call('SET', K_FENCE, current)
  end
  if tonumber(current) < fence then
    redis.call('SET', K_FENCE, fence)
  end
end

-- Stores a re-asserted reservation (JSON from the client) as busy and counts it.
local function assert_busy(id, w, active, now)
  w.state, w.token, w.fence, w.callId = 'busy', active.token, tonumber(active.fence),
    active.callId
  w.deadline, w.tenantId, w.campaignId = now, active.tenantId or '', active.campaignId or ''
  store(id, w)
  holders_add(id, w.tenantId, w.campaignId)
  raise_fence(w.fence)
end

-- Clears the reservation that the worker holds and makes it idle unless it is draining.
local function free(id, w)
  local state = w.state
  w.state = ''
  store(id, w)
  if state == 'reserved' then
    redis.call('ZREM', K_DEADLINES, id)
  end
  holders_remove(id, w.tenantId, w.campaignId)
  if not w.draining then
    idle_add(id, w.lp)
  end
  emit_for('released', id, w, true)
end

local function set_drain(id, w, draining, now)
  if w.draining == draining then
    return 0
  end
  w.draining = draining
  store(id, w)
  if draining then
    idle_remove(id, w.lp)
    emit_for('drain', id, w, false)
  else
    if not holding(w, now) then
      idle_add(id, w.lp)
    end
    emit_for('undrain', id, w, false)
  end
  return 1
end
`;

/**
 * ARGV: workerId, url, host, labels JSON, label prefixes JSON or '', ttlMs, active
 * reservation JSON or ''. A live worker keeps its reservation and drain flag. A new worker
 * takes the active reservation as busy, and the fence counter moves past that fence.
 */
const REGISTER = `
local function register(argv)
  local now = now_ms()
  sweep(now)
  local id = argv[3]
  local w = load(id)
  local known = w ~= nil
  if known then
    idle_remove(id, w.lp)
  else
    w = { draining = false, state = '', token = '', fence = 0, callId = '', deadline = 0,
      tenantId = '', campaignId = '' }
  end
  w.url, w.host, w.labels = argv[4], argv[5], argv[6]
  w.lp = argv[7] == '' and {} or cjson.decode(argv[7])
  w.expiresAt = now + tonumber(argv[8])
  store(id, w)
  redis.call('ZADD', K_EXPIRY, w.expiresAt, id)
  keep_pool_keys()
  if not known and argv[9] ~= '' then
    assert_busy(id, w, cjson.decode(argv[9]), now)
  end
  local held = holding(w, now)
  if not w.draining and not held then
    idle_add(id, w.lp)
  end
  emit_for('registered', id, w, held)
  return 1
end
`;

/**
 * ARGV: workerId, ttlMs, active reservation JSON or '', released token or ''. Returns 1, or
 * 0 for an unknown worker. An active reservation whose token the worker does not hold as
 * busy replaces whatever the worker holds, as busy, and the fence counter moves past its
 * fence. Without one, a released token that still holds the slot is released, as `release`
 * would: the worker ran that call and ended it, so only a lost release can have left it.
 * A reservation with any other token (one in flight, or one confirmed after the worker
 * sent this heartbeat) is never touched, because tokens are never reused.
 */
const HEARTBEAT = `
local function heartbeat(argv)
  local now = now_ms()
  sweep(now)
  local id = argv[3]
  local w = load(id)
  if not w then
    return 0
  end
  w.expiresAt = now + tonumber(argv[4])
  redis.call('ZADD', K_EXPIRY, w.expiresAt, id)
  if argv[5] == '' and argv[6] ~= '' and w.token == argv[6] and holding(w, now) then
    free(id, w)
    return 1
  end
  if argv[5] ~= '' then
    local active = cjson.decode(argv[5])
    if w.state ~= 'busy' or w.token ~= active.token then
      if holding(w, now) then
        holders_remove(id, w.tenantId, w.campaignId)
      else
        idle_remove(id, w.lp)
      end
      redis.call('ZREM', K_DEADLINES, id)
      assert_busy(id, w, active, now)
      emit_for('confirmed', id, w, true)
      return 1
    end
  end
  store(id, w)
  return 1
end
`;

/** ARGV: workerId. Returns 1, or 0 for an unknown worker. */
const DEREGISTER = `
local function deregister(argv)
  local now = now_ms()
  sweep(now)
  local id = argv[3]
  local w = load(id)
  if not w then
    return 0
  end
  local held = holding(w, now)
  if held then
    holders_remove(id, w.tenantId, w.campaignId)
  end
  idle_remove(id, w.lp)
  redis.call('HDEL', K_WORKERS, 'w:' .. id)
  redis.call('ZREM', K_EXPIRY, id)
  redis.call('ZREM', K_DEADLINES, id)
  emit_for('deregistered', id, w, held)
  return 1
end
`;

/**
 * ARGV: callId, reservationTtlMs, token, required labels JSON, tenant id or '', campaign
 * id or '', tenant limit or -1, campaign limit or -1.
 * Returns {'reserved', workerId, url, fence, deadline}, {'quota', scope} or {'none'}.
 *
 * Nothing is swept on the common path. A worker found in `idle` has no live reservation
 * (see the invariants), and the one chosen is checked against its own `expiresAt`. An
 * expired one is deleted and the next is tried. A count of `holders` can only be too high
 * (a lapsed or expired reservation not yet swept), so it is counted again after a sweep
 * only when it reaches the limit. Likewise the pool is swept before it is reported full,
 * because a lapsed reservation is back in `idle` only once it is swept.
 *
 * Without required labels the pick is one ZRANGEBYLEX, O(log n). With labels, it walks
 * the idle workers carrying the first required label in id order and checks the others,
 * so its cost grows only with the idle workers that carry that label but not the rest.
 */
const RESERVE = `
-- Returns the scope of a quota whose live reservations reach its limit, or nil. A quota
-- id's members are a subset of \`holders\`, so while ZCARD is below a limit, O(1), the
-- count by prefix is skipped.
local function quota_reached(tenant_id, campaign_id, tenant_limit, campaign_limit)
  if tenant_limit < 0 and campaign_limit < 0 then
    return nil
  end
  local total = redis.call('ZCARD', K_HOLDERS)
  if tenant_limit >= 0 and total >= tenant_limit
    and count_holders('t', tenant_id) >= tenant_limit then
    return 'tenant'
  end
  if campaign_limit >= 0 and total >= campaign_limit
    and count_holders('c', campaign_id) >= campaign_limit then
    return 'campaign'
  end
  return nil
end

-- Returns a live idle worker's id and record, or nil. Expired workers met on the way are
-- deleted, so each is skipped only once.
local function pick_any(now)
  while true do
    local found = redis.call('ZRANGEBYLEX', K_IDLE, '[a', '(a' .. RANGE_END, 'LIMIT', 0, 1)
    if not found[1] then
      return nil
    end
    local id = string.sub(found[1], 2)
    local w = load(id)
    if w and w.expiresAt > now then
      return id, w
    end
    if w then
      settle(id, w, now)
    else
      redis.call('ZREM', K_IDLE, found[1])
    end
  end
end

local function pick_labelled(required, now)
  local first_key, first_value = next(required)
  local prefix = 'l' .. #first_key .. ':' .. first_key .. #first_value .. ':' .. first_value
  local page_size, offset = 64, 0
  local expired = {}
  local chosen_id, chosen = nil, nil
  repeat
    local page = redis.call('ZRANGEBYLEX', K_IDLE, '[' .. prefix, '(' .. prefix .. RANGE_END,
      'LIMIT', offset, page_size)
    for _, member in ipairs(page) do
      local id = string.sub(member, #prefix + 1)
      local w = load(id)
      if not w or w.expiresAt <= now then
        expired[#expired + 1] = id
      else
        local labels = cjson.decode(w.labels)
        local match = true
        for k, v in pairs(required) do
          if labels[k] ~= v then
            match = false
            break
          end
        end
        if match then
          chosen_id, chosen = id, w
          break
        end
      end
    end
    offset = offset + page_size
  until chosen or #page < page_size
  -- Deleting during the walk would shift the pages, so expired workers go afterwards.
  for _, id in ipairs(expired) do
    local w = load(id)
    if w then
      settle(id, w, now)
    else
      redis.call('ZREM', K_IDLE, 'a' .. id, prefix .. id)
    end
  end
  return chosen_id, chosen
end

local function pick(required, now)
  if required then
    return pick_labelled(required, now)
  end
  return pick_any(now)
end

local function reserve(argv)
  local now = now_ms()
  local call_id, deadline, token = argv[3], now + tonumber(argv[4]), argv[5]
  local tenant_id, campaign_id = argv[7], argv[8]
  local tenant_limit, campaign_limit = tonumber(argv[9]), tonumber(argv[10])
  local required = nil
  if argv[6] ~= '{}' then
    required = cjson.decode(argv[6])
  end

  local swept = false
  if quota_reached(tenant_id, campaign_id, tenant_limit, campaign_limit) then
    sweep(now)
    swept = true
    local scope = quota_reached(tenant_id, campaign_id, tenant_limit, campaign_limit)
    if scope then
      return {'quota', scope}
    end
  end
  local id, w = pick(required, now)
  if not id and not swept then
    sweep(now)
    id, w = pick(required, now)
  end
  if not id then
    return {'none'}
  end

  local fence = next_fence()
  w.state, w.token, w.fence, w.callId, w.deadline = 'reserved', token, fence, call_id, deadline
  w.tenantId, w.campaignId = tenant_id, campaign_id
  store(id, w)
  idle_remove(id, w.lp)
  redis.call('ZADD', K_DEADLINES, deadline, id)
  holders_add(id, tenant_id, campaign_id)
  emit('reserved', id, w.host, call_id, fence, tenant_id, campaign_id)
  return {'reserved', id, w.url, fence, deadline}
end
`;

/** ARGV: workerId, token. Returns a `ConfirmResult`. */
const CONFIRM = `
local function confirm(argv)
  local now = now_ms()
  local id = argv[3]
  local w = load(id)
  if not w or not settle(id, w, now) then
    return 'unknown-worker'
  end
  if w.state == '' or w.token ~= argv[4] then
    return 'token-mismatch'
  end
  if w.state == 'busy' then
    return 'confirmed'
  end
  if w.state == 'lapsed' then
    return 'expired'
  end
  w.state = 'busy'
  store(id, w)
  redis.call('ZREM', K_DEADLINES, id)
  emit_for('confirmed', id, w, true)
  return 'confirmed'
end
`;

/**
 * ARGV: workerId, token. Clears the reservation when the token matches; returns 1 only
 * when it still held the slot, and 0 for an unknown worker or another token.
 */
const RELEASE = `
local function release(argv)
  local now = now_ms()
  local id = argv[3]
  local w = load(id)
  if not w or not settle(id, w, now) or w.state == '' or w.token ~= argv[4] then
    return 0
  end
  if w.state == 'lapsed' then
    w.state = ''
    store(id, w)
    return 0
  end
  free(id, w)
  return 1
end
`;

/**
 * set_draining ARGV: workerId, '1' or '0'; returns 1, or 0 for an unknown worker.
 * set_draining_where ARGV: '1' or '0', host or '', workerId or ''; sets drain on the
 * pool's workers that match the non-empty filters and returns how many changed. It scans
 * the pool when no workerId is given.
 */
const DRAIN = `
local function set_draining(argv)
  local now = now_ms()
  sweep(now)
  local w = load(argv[3])
  if not w then
    return 0
  end
  set_drain(argv[3], w, argv[4] == '1', now)
  return 1
end

local function set_draining_where(argv)
  local now = now_ms()
  sweep(now)
  local draining, host, worker_id = argv[3] == '1', argv[4], argv[5]
  local changed = 0
  local ids = { worker_id }
  if worker_id == '' then
    ids = redis.call('ZRANGE', K_EXPIRY, 0, -1)
  end
  for _, id in ipairs(ids) do
    local w = load(id)
    if w and (host == '' or w.host == host) then
      changed = changed + set_drain(id, w, draining, now)
    end
  end
  return changed
end
`;

/**
 * list returns {now, {field, value, ...}, ...} after the sweep, one flat field list per
 * worker (with `workerId` and `pool`), numbers as decimal strings; every returned worker is
 * live. reap runs the sweep and returns its events as {{id, {field, value, ...}}, ...}.
 */
const READ = `
local function list(argv)
  local now = now_ms()
  sweep(now)
  local result = { now }
  for _, id in ipairs(redis.call('ZRANGE', K_EXPIRY, 0, -1)) do
    local w = load(id)
    if w then
      result[#result + 1] = { 'workerId', id, 'pool', POOL, 'url', w.url, 'host', w.host,
        'labels', w.labels, 'expiresAt', string.format('%d', w.expiresAt),
        'draining', w.draining and '1' or '0', 'state', w.state, 'token', w.token,
        'fence', string.format('%d', w.fence), 'callId', w.callId,
        'deadline', string.format('%d', w.deadline), 'tenantId', w.tenantId,
        'campaignId', w.campaignId }
    end
  end
  return result
end

local function reap(argv)
  local out = {}
  sweep(now_ms(), out)
  return out
end
`;

/**
 * Runs several reserve, confirm and release operations of one pool in one call. ARGV
 * after the pool name: for each operation its name, its argument count and its arguments.
 * Returns one reply per operation, in the order given, as the operation's own function
 * returns it, or {'error', message} for an operation that failed. The operations run
 * confirms first, then releases, then reserves (see `run_order`). A failure does not stop
 * the operations after it, and, as with a single call, the writes it made before failing
 * stay. The events of a batch go into one stream entry, in the order the operations ran
 * (several entries when they exceed `PENDING_MAX`). Runs of reserves without
 * labels, confirms or releases go through `reserve_many`, `confirm_many` or
 * `release_many`, which write the whole run with one command of each kind, or decline
 * without writing, and then the run goes one operation at a time.
 */
const BATCH = `
local BATCHABLE = { reserve = reserve, confirm = confirm, release = release }
-- Maximum number of operations that one pass (reserve_many, confirm_many or release_many)
-- takes.
local MANY_MAX = 100
-- The number of arguments each batched operation takes, as a number and as the client
-- sends it. Comparing the strings spares a tonumber per operation.
local ARITY = { reserve = 8, confirm = 2, release = 2 }
local ARITY_ARG = { reserve = '8', confirm = '2', release = '2' }

-- Scratch tables: the batch function and its passes keep them from call to call. A new
-- table filled with 8 values cost 3.3 times as much as the same table filled again
-- (npm run bench:registry-lua), and a batch of 8 operations built about 40 new tables. One
-- pass runs at a time and passes lengths along, so entries past a length, left from an
-- earlier use, are never read.
-- Operation k of the batch is NAMES[k], with COUNTS[k] arguments from argv[ATS[k]]; ORDER
-- lists the operations in the order they run. SEEN is a set, emptied after each use.
local NAMES, COUNTS, ATS, ORDER, SEEN = {}, {}, {}, {}, {}
-- The reply to the batch. Redis reads a reply table up to its first nil, so entries past
-- the batch's length are cleared.
local REPLIES, N_REPLIES = {}, 0
-- Per operation of a pass: worker ids, their fields in the workers hash, their decoded
-- records (tables reused as records), numbers read from the arguments, and flags.
local S_IDS, S_FIELDS, S_WORKERS, S_TTLS, S_TENANT_LIMITS, S_CAMPAIGN_LIMITS, S_FLAGS =
  {}, {}, {}, {}, {}, {}, {}
-- Arguments of the commands a pass sends.
local A_RECORDS, A_IDLE, A_DEADLINES, A_HOLDERS = {}, {}, {}, {}

-- The passes read each operation's arguments in place. A pass runs the operations
-- ORDER[first] to ORDER[last]; at = ATS[ORDER[k]] is the index in argv of an operation's
-- first argument. For a reserve, argv[at] to argv[at + 7] are the arguments that reserve
-- reads as ARGV[3] to ARGV[10]: callId, reservationTtlMs, token, required labels, tenant
-- id, campaign id, tenant limit, campaign limit. For a confirm or a release, argv[at] is
-- the workerId and argv[at + 1] the token. A pass either runs all of its operations and
-- puts their replies in REPLIES, or returns false without writing anything.

-- Tells whether the reserves in order, each counted after the ones before it, all stay
-- below their tenant and campaign limits, as quota_reached would find one at a time. Every
-- reserve with a tenant or campaign id adds a holder, whether or not it has a limit. Reads
-- the limits from S_TENANT_LIMITS and S_CAMPAIGN_LIMITS.
local function quotas_clear(argv, first, last)
  local lowest = nil
  for k = first, last do
    local tenant_limit, campaign_limit = S_TENANT_LIMITS[k], S_CAMPAIGN_LIMITS[k]
    if tenant_limit >= 0 and (not lowest or tenant_limit < lowest) then
      lowest = tenant_limit
    end
    if campaign_limit >= 0 and (not lowest or campaign_limit < lowest) then
      lowest = campaign_limit
    end
  end
  -- Each reserve adds at most two members, so no count can reach a limit above this.
  if not lowest or redis.call('ZCARD', K_HOLDERS) + 2 * (last - first + 1) < lowest then
    return true
  end
  -- Live holders per scope and quota id, counted once, then raised by each reserve in turn.
  local counts = { t = {}, c = {} }
  local function count_of(scope, quota_id)
    local count = counts[scope][quota_id]
    if not count then
      count = count_holders(scope, quota_id)
      counts[scope][quota_id] = count
    end
    return count
  end
  for k = first, last do
    local at = ATS[ORDER[k]]
    local tenant_id, campaign_id = argv[at + 4], argv[at + 5]
    local tenant_limit, campaign_limit = S_TENANT_LIMITS[k], S_CAMPAIGN_LIMITS[k]
    if (tenant_limit >= 0 and count_of('t', tenant_id) >= tenant_limit)
      or (campaign_limit >= 0 and count_of('c', campaign_id) >= campaign_limit) then
      return false
    end
    if tenant_id ~= '' then
      counts.t[tenant_id] = count_of('t', tenant_id) + 1
    end
    if campaign_id ~= '' then
      counts.c[campaign_id] = count_of('c', campaign_id) + 1
    end
  end
  return true
end

-- Calls a command with args[1] to args[n] after the key, in calls of at most 4,000 of
-- them, because Lua's unpack() takes at most 8,000 values. step is the size of one
-- argument group (2 for score and member, or field and value), which a call never splits.
local function call_chunked(command, key, args, n, step)
  local size = 4000 - 4000 % step
  if n <= size then
    if n > 0 then
      redis.call(command, key, unpack(args, 1, n))
    end
    return
  end
  for first = 1, n, size do
    redis.call(command, key, unpack(args, first, math.min(first + size - 1, n)))
  end
end

-- Returns the scratch record table for the i-th worker of a pass.
local function scratch_worker(i)
  local w = S_WORKERS[i]
  if not w then
    w = {}
    S_WORKERS[i] = w
  end
  return w
end

-- Runs reserves in order, as reserve would one at a time, for reserves that require no
-- labels, with 8 to 10 commands for all of them, instead of 9 or more commands each.
-- Returns false without writing anything when one of them could meet what only the
-- one-at-a-time path handles: fewer live idle workers than reserves, an expired worker,
-- or a quota at its limit.
local function reserve_many(argv, first, last, now)
  local count = last - first + 1
  for k = first, last do
    local at = ATS[ORDER[k]]
    local ttl = tonumber(argv[at + 1])
    local tenant_limit, campaign_limit = tonumber(argv[at + 6]), tonumber(argv[at + 7])
    if not ttl or not tenant_limit or not campaign_limit then
      return false
    end
    S_TTLS[k], S_TENANT_LIMITS[k], S_CAMPAIGN_LIMITS[k] = ttl, tenant_limit, campaign_limit
  end
  if not quotas_clear(argv, first, last) then
    return false
  end

  local found = redis.call('ZRANGEBYLEX', K_IDLE, '[a', '(a' .. RANGE_END, 'LIMIT', 0, count)
  if #found < count then
    return false
  end
  for i = 1, count do
    local id = string.sub(found[i], 2)
    S_IDS[i], S_FIELDS[i] = id, 'w:' .. id
  end
  local packed = redis.call('HMGET', K_WORKERS, unpack(S_FIELDS, 1, count))
  for i = 1, count do
    if not packed[i] then
      return false
    end
    local w = scratch_worker(i)
    decode_into(w, packed[i])
    if w.expiresAt <= now then
      return false
    end
  end

  -- The fences next_fence would hand out one after the other.
  local first_fence = redis.call('INCRBY', K_FENCE, count) - count + 1
  if first_fence == 1 then
    first_fence = fence_from_clock()
    redis.call('SET', K_FENCE, first_fence + count - 1)
  end

  local n_records, n_idle, n_deadlines, n_holders = 0, 0, 0, 0
  for i = 1, count do
    local k = first + i - 1
    local op = ORDER[k]
    local at, w, id = ATS[op], S_WORKERS[i], S_IDS[i]
    local tenant_id, campaign_id = argv[at + 4], argv[at + 5]
    local fence, deadline = first_fence + i - 1, now + S_TTLS[k]
    w.state, w.token, w.fence, w.callId, w.deadline = 'reserved', argv[at + 2], fence,
      argv[at], deadline
    w.tenantId, w.campaignId = tenant_id, campaign_id
    A_RECORDS[n_records + 1], A_RECORDS[n_records + 2] = S_FIELDS[i], encode(w)
    n_records = n_records + 2
    n_idle = n_idle + 1
    A_IDLE[n_idle] = found[i]
    for _, prefix in ipairs(w.lp) do
      n_idle = n_idle + 1
      A_IDLE[n_idle] = prefix .. id
    end
    A_DEADLINES[n_deadlines + 1], A_DEADLINES[n_deadlines + 2] = deadline, id
    n_deadlines = n_deadlines + 2
    if tenant_id ~= '' then
      A_HOLDERS[n_holders + 1] = '0'
      A_HOLDERS[n_holders + 2] = holders_prefix('t', tenant_id) .. id
      n_holders = n_holders + 2
    end
    if campaign_id ~= '' then
      A_HOLDERS[n_holders + 1] = '0'
      A_HOLDERS[n_holders + 2] = holders_prefix('c', campaign_id) .. id
      n_holders = n_holders + 2
    end
    REPLIES[op] = { 'reserved', id, w.url, fence, deadline }
  end
  call_chunked('HSET', K_WORKERS, A_RECORDS, n_records, 2)
  call_chunked('ZREM', K_IDLE, A_IDLE, n_idle, 1)
  call_chunked('ZADD', K_DEADLINES, A_DEADLINES, n_deadlines, 2)
  call_chunked('ZADD', K_HOLDERS, A_HOLDERS, n_holders, 2)
  for i = 1, count do
    local w = S_WORKERS[i]
    emit('reserved', S_IDS[i], w.host, w.callId, w.fence, w.tenantId, w.campaignId)
  end
  return true
end

-- Reads into S_WORKERS the records of the workers that a run of confirms or releases
-- names, for confirm_many and release_many, with their fields in S_FIELDS, and returns
-- them as stored, or nil when a worker is named twice or is missing, expired, or not
-- holding a live reservation with the operation's token, which only the one-at-a-time
-- path handles.
local function load_held(argv, first, last, now)
  local count = last - first + 1
  local twice = false
  for i = 1, count do
    local id = argv[ATS[ORDER[first + i - 1]]]
    if SEEN[id] then
      twice = true
    end
    SEEN[id] = true
    S_IDS[i], S_FIELDS[i] = id, 'w:' .. id
  end
  for i = 1, count do
    SEEN[S_IDS[i]] = nil
  end
  if twice then
    return nil
  end
  local packed = redis.call('HMGET', K_WORKERS, unpack(S_FIELDS, 1, count))
  for i = 1, count do
    if not packed[i] then
      return nil
    end
    local w = scratch_worker(i)
    decode_into(w, packed[i])
    if w.expiresAt <= now or w.token ~= argv[ATS[ORDER[first + i - 1]] + 1]
      or not holding(w, now) then
      return nil
    end
  end
  return packed
end

-- Runs confirms in order, as confirm would one at a time, or returns false without
-- writing anything when load_held turns them down.
local function confirm_many(argv, first, last, now)
  local packed = load_held(argv, first, last, now)
  if not packed then
    return false
  end
  local n_records, n_deadlines = 0, 0
  for i = 1, last - first + 1 do
    local w = S_WORKERS[i]
    -- A confirm of a busy reservation with its own token changes nothing, as in confirm.
    local changed = w.state == 'reserved'
    S_FLAGS[i] = changed
    if changed then
      w.state = 'busy'
      A_RECORDS[n_records + 1] = S_FIELDS[i]
      A_RECORDS[n_records + 2] = restate(packed[i], 'reserved', 'busy')
      n_records = n_records + 2
      n_deadlines = n_deadlines + 1
      A_DEADLINES[n_deadlines] = S_IDS[i]
    end
    REPLIES[ORDER[first + i - 1]] = 'confirmed'
  end
  call_chunked('HSET', K_WORKERS, A_RECORDS, n_records, 2)
  call_chunked('ZREM', K_DEADLINES, A_DEADLINES, n_deadlines, 1)
  -- The events go after the writes, so a pass that fails part way records no event.
  for i = 1, last - first + 1 do
    if S_FLAGS[i] then
      local w = S_WORKERS[i]
      emit('confirmed', S_IDS[i], w.host, w.callId, w.fence, w.tenantId, w.campaignId)
    end
  end
  return true
end

-- Runs releases in order, as release would one at a time (each frees a slot and returns
-- 1), or returns false without writing anything when load_held turns them down.
local function release_many(argv, first, last, now)
  local packed = load_held(argv, first, last, now)
  if not packed then
    return false
  end
  local n_records, n_deadlines, n_holders, n_idle = 0, 0, 0, 0
  for i = 1, last - first + 1 do
    local w, id = S_WORKERS[i], S_IDS[i]
    if w.state == 'reserved' then
      n_deadlines = n_deadlines + 1
      A_DEADLINES[n_deadlines] = id
    end
    A_RECORDS[n_records + 1] = S_FIELDS[i]
    A_RECORDS[n_records + 2] = restate(packed[i], w.state, '')
    n_records = n_records + 2
    w.state = ''
    if w.tenantId ~= '' then
      n_holders = n_holders + 1
      A_HOLDERS[n_holders] = holders_prefix('t', w.tenantId) .. id
    end
    if w.campaignId ~= '' then
      n_holders = n_holders + 1
      A_HOLDERS[n_holders] = holders_prefix('c', w.campaignId) .. id
    end
    if not w.draining then
      A_IDLE[n_idle + 1], A_IDLE[n_idle + 2] = '0', 'a' .. id
      n_idle = n_idle + 2
      for _, prefix in ipairs(w.lp) do
        A_IDLE[n_idle + 1], A_IDLE[n_idle + 2] = '0', prefix .. id
        n_idle = n_idle + 2
      end
    end
    REPLIES[ORDER[first + i - 1]] = 1
  end
  call_chunked('HSET', K_WORKERS, A_RECORDS, n_records, 2)
  call_chunked('ZREM', K_DEADLINES, A_DEADLINES, n_deadlines, 1)
  call_chunked('ZREM', K_HOLDERS, A_HOLDERS, n_holders, 1)
  call_chunked('ZADD', K_IDLE, A_IDLE, n_idle, 2)
  for i = 1, last - first + 1 do
    local w = S_WORKERS[i]
    emit('released', S_IDS[i], w.host, w.callId, w.fence, w.tenantId, w.campaignId)
  end
  return true
end

-- Returns the reply {'error', message} for what pcall caught: a Redis error table or a
-- Lua error.
local function failure(caught)
  if type(caught) == 'table' and caught.err then
    return { 'error', caught.err }
  end
  return { 'error', tostring(caught) }
end

-- Runs the operation fn alone, as its own function would run with the pool's first two
-- arguments and its count arguments from argv[at], and returns its reply, or
-- {'error', message} when it fails.
local function run_alone(fn, argv, at, count)
  local op_argv = { argv[1], argv[2] }
  for j = 1, count do
    op_argv[j + 2] = argv[at + j - 1]
  end
  local ok, reply = pcall(fn, op_argv)
  if ok then
    return reply
  end
  return failure(reply)
end

-- The pass of each kind of operation that batch runs in one go.
local MANY = { reserve = reserve_many, confirm = confirm_many, release = release_many }

-- Appends to ORDER, from position n + 1, the operations among the first count named name,
-- in the order given, and returns the new length.
local function order_kind(name, count, n)
  for k = 1, count do
    if NAMES[k] == name then
      n = n + 1
      ORDER[n] = k
    end
  end
  return n
end

-- Fills ORDER[1] to ORDER[count] with the order in which batch runs the operations:
-- confirms, then releases, then reserves, each kind in the order given. The operations of
-- a batch all started before any of them returned, so each order is one the callers could
-- have seen. This one frees slots before the reserves look for one, and makes long runs of
-- one kind for the passes. When two confirms or releases name one worker, or every
-- operation is of one kind, the batch runs in the order given. Operations of other kinds,
-- which fail alone, run first.
local function run_order(argv, count)
  local mixed, twice = false, false
  for k = 1, count do
    ORDER[k] = k
    local name = NAMES[k]
    mixed = mixed or name ~= NAMES[1]
    if name == 'confirm' or name == 'release' then
      local id = argv[ATS[k]]
      twice = twice or SEEN[id] == true
      SEEN[id] = true
    end
  end
  for k = 1, count do
    local name = NAMES[k]
    if name == 'confirm' or name == 'release' then
      SEEN[argv[ATS[k]]] = nil
    end
  end
  if not mixed or twice then
    return
  end
  local n = 0
  for k = 1, count do
    if not MANY[NAMES[k]] then
      n = n + 1
      ORDER[n] = k
    end
  end
  n = order_kind('confirm', count, n)
  n = order_kind('release', count, n)
  order_kind('reserve', count, n)
end

-- Returns the position in ORDER of the last operation of the run that starts at position
-- k: the operations after it of the same kind, up to MANY_MAX, and for reserves only those
-- that require no labels. Returns k - 1 when the operation at k has no pass.
local function run_end(argv, k, count)
  local name = NAMES[ORDER[k]]
  if not MANY[name] then
    return k - 1
  end
  local last = k - 1
  while last < count and last - k + 1 < MANY_MAX do
    local next_op = ORDER[last + 1]
    if NAMES[next_op] ~= name or (name == 'reserve' and argv[ATS[next_op] + 3] ~= '{}') then
      break
    end
    last = last + 1
  end
  return last
end

local function batch(argv)
  -- Every operation is read before any runs, so a malformed call changes nothing.
  local count, i, last = 0, 3, #argv
  while i <= last do
    local name, count_arg, arity = argv[i], argv[i + 1], nil
    if count_arg and ARITY_ARG[name] == count_arg then
      arity = ARITY[name]
    else
      arity = tonumber(count_arg)
      if not arity or arity < 0 or arity ~= math.floor(arity)
        or (ARITY[name] and arity ~= ARITY[name]) then
        return redis.error_reply('malformed batch at argument ' .. i)
      end
    end
    if i + 1 + arity > last then
      return redis.error_reply('malformed batch at argument ' .. i)
    end
    count = count + 1
    NAMES[count], COUNTS[count], ATS[count] = name, arity, i + 2
    i = i + 2 + arity
  end

  local now = now_ms()
  BATCHING, N_PENDING = true, 0
  -- A call that raises after this (when the final XADD fails) leaves its replies in
  -- REPLIES, so the next call clears up to the larger of the two lengths.
  N_REPLIES = math.max(N_REPLIES, count)
  run_order(argv, count)
  local k = 1
  while k <= count do
    -- A run of one kind of operation goes through that kind's pass: reserves that require
    -- no labels, confirms, or releases.
    local op = ORDER[k]
    local name = NAMES[op]
    local many_fn = MANY[name]
    local run_last = run_end(argv, k, count)
    if run_last >= k then
      local ok, done = pcall(many_fn, argv, k, run_last, now)
      for j = k, run_last do
        local run_op = ORDER[j]
        if not ok then
          -- It failed part way, so running these again one at a time could repeat writes.
          REPLIES[run_op] = failure(done)
        elseif not done then
          REPLIES[run_op] = run_alone(BATCHABLE[name], argv, ATS[run_op], COUNTS[run_op])
        end
      end
      k = run_last + 1
    else
      local fn = BATCHABLE[name]
      if fn then
        REPLIES[op] = run_alone(fn, argv, ATS[op], COUNTS[op])
      else
        REPLIES[op] = { 'error', 'not a batch operation: ' .. tostring(name) }
      end
      k = k + 1
    end
  end
  write_pending()
  BATCHING = false
  for j = count + 1, N_REPLIES do
    REPLIES[j] = nil
  end
  N_REPLIES = count
  return REPLIES
end
`;

/** Operations of the library; each is registered as the function `<library>_<name>`. */
export const FUNCTION_NAMES = [
  'register',
  'heartbeat',
  'deregister',
  'reserve',
  'confirm',
  'release',
  'set_draining',
  'set_draining_where',
  'list',
  'reap',
  'batch',
] as const;

export type FunctionName = (typeof FUNCTION_NAMES)[number];

const BODY = [
  HELPERS,
  REGISTER,
  HEARTBEAT,
  DEREGISTER,
  RESERVE,
  CONFIRM,
  RELEASE,
  DRAIN,
  READ,
  BATCH,
]
  .join('')
  .concat(
    FUNCTION_NAMES.map(
      (name) =>
        `redis.register_function('__LIBRARY___${name}', function(keys, argv)\n` +
        `  bind(keys, argv)\n  return ${name}(argv)\nend)\n`,
    ).join(''),
  );

/**
 * The library's name carries a hash of its code, so clients of two versions can share a
 * server during an upgrade, each calling its own functions.
 */
export const LIBRARY_NAME = `voxfleet_registry_${createHash('sha1').update(BODY).digest('hex').slice(0, 12)}`;

/** Source for `FUNCTION LOAD`. */
export const LIBRARY_SOURCE = `#!lua name=${LIBRARY_NAME}\n${BODY.replaceAll('__LIBRARY__', LIBRARY_NAME)}`;
