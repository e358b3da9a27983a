/**
 * The Redis backend's Lua code: one function library (Redis 7 `FUNCTION LOAD`, run with
 * `FCALL`). Each mutation is exactly one function call, so Redis runs it without
 * interleaving another client's command. A library defines its helpers once when it is
 * loaded, where a script sent with EVALSHA defines them again on every call. For the same
 * reserve code, Redis spent 27 µs per `FCALL` against 30 to 36 µs per `EVALSHA`, measured
 * with 32 calls in flight on the 2-core machine of docs/benchmarks.md.
 *
 * Every function takes the same seven keys, which share the hash tag `{pool}`, so Redis
 * Cluster keeps them in one slot (see `POOL_KEY_NAMES`). They are every key a function
 * touches: the FCALL reference (https://redis.io/commands/fcall) requires each key a
 * function accesses to be passed as a key argument, never built from stored data, so that
 * the client routes the call to the node that owns all of them. `ARGV[1]` is the
 * approximate maximum length of the pool's event stream and `ARGV[2]` the pool's name.
 *
 * The workers of a pool live in one hash, `<prefix>{pool}:slots`, with one field per
 * worker and attribute, named `<attribute>:<workerId>`, so a call reads and writes only the
 * fields it needs. Attributes:
 * - `url`, `host`, `labels` (JSON), `lp` (JSON array of the worker's label prefixes in
 *   `idle`, or '' without labels), `expiresAt`, `draining` ('1' or '0');
 * - the reservation: `state` ('' for none, 'reserved', 'busy' or 'lapsed'), `token`,
 *   `fence`, `callId`, `deadline`, `tenantId` and `campaignId` ('' when absent).
 *
 * NOTE: this layout replaced one hash per worker (`{pool}:worker:<workerId>`), which the
 * functions named without declaring it, and before that one JSON document per worker in
 * `{pool}:workers`. Keys of an earlier layout are not read, and their `holders` entries
 * would count against quotas here. An upgrade therefore moves to a new key prefix, or
 * deletes the old prefix's keys; workers then register again, because their heartbeat
 * returns false.
 *
 * Invariants every function keeps:
 * - Time is the Redis server's `TIME`, never the client's clock.
 * - `idle` contains a worker exactly when it is not draining and its reservation state is
 *   '' or 'lapsed', even if it is past its TTL and not yet deleted. `deadlines` contains
 *   exactly the reservations in state 'reserved'. `holders` contains one member per quota
 *   id of each reservation in state 'reserved' or 'busy'.
 * - Expiry is lazy. `sweep` removes every worker past its `expiresAt` and lapses every
 *   reservation past its deadline, with their events, in heartbeat, register, deregister,
 *   list, reap and drain. `settle` does the same for the one worker that confirm, release
 *   or reserve (for the worker it picks) reads. So every call that reads a worker
 *   settles it first, and `reserve` sweeps before it reports a full pool or a reached
 *   quota, because only an entry not yet swept could make either untrue.
 * - A lapsed reservation stays in its worker's fields, so a late `confirm` returns
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
 * standard libraries (`string`, `cjson`) are used inside functions only.
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
  'slots',
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
 */
const HELPERS = `
local K_EXPIRY, K_IDLE, K_DEADLINES, K_HOLDERS, K_EVENTS, K_FENCE, K_SLOTS
local EVENTS_MAX, POOL
local RANGE_END = '\\255'

-- Sets the pool's keys and arguments for the call that is starting.
local function bind(keys, argv)
  K_EXPIRY, K_IDLE, K_DEADLINES = keys[1], keys[2], keys[3]
  K_HOLDERS, K_EVENTS, K_FENCE, K_SLOTS = keys[4], keys[5], keys[6], keys[7]
  EVENTS_MAX, POOL = argv[1], argv[2]
end
local FIELDS = { 'url', 'host', 'lp', 'expiresAt', 'draining', 'state', 'token', 'fence',
  'callId', 'deadline', 'tenantId', 'campaignId' }
-- Every attribute a worker can have, for list and deletion.
local ALL_FIELDS = { 'url', 'host', 'labels', 'lp', 'expiresAt', 'draining', 'state', 'token',
  'fence', 'callId', 'deadline', 'tenantId', 'campaignId' }

-- Reads the named attributes of a worker from the pool's hash, as HMGET returns them.
local function get(id, names)
  local fields = {}
  for i, name in ipairs(names) do
    fields[i] = name .. ':' .. id
  end
  return redis.call('HMGET', K_SLOTS, unpack(fields))
end

-- Writes attributes of a worker: set(id, name1, value1, name2, value2, ...).
local function set(id, ...)
  local args = { ... }
  for i = 1, #args, 2 do
    args[i] = args[i] .. ':' .. id
  end
  redis.call('HSET', K_SLOTS, unpack(args))
end

local function delete(id)
  local fields = {}
  for i, name in ipairs(ALL_FIELDS) do
    fields[i] = name .. ':' .. id
  end
  redis.call('HDEL', K_SLOTS, unpack(fields))
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Returns the worker's fields as a table (missing ones as ''), or nil when it is not
-- registered.
local function read(id)
  local values = get(id, FIELDS)
  if not values[4] then
    return nil
  end
  local w = {}
  for i, name in ipairs(FIELDS) do
    w[name] = values[i] or ''
  end
  return w
end

local function holding(w, now)
  return w.state == 'busy' or (w.state == 'reserved' and tonumber(w.deadline) > now)
end

local function idle_add(id, lp)
  if lp == '' then
    redis.call('ZADD', K_IDLE, 0, 'a' .. id)
    return
  end
  local args = { 0, 'a' .. id }
  for _, prefix in ipairs(cjson.decode(lp)) do
    args[#args + 1] = 0
    args[#args + 1] = prefix .. id
  end
  redis.call('ZADD', K_IDLE, unpack(args))
end

local function idle_remove(id, lp)
  if lp == '' then
    redis.call('ZREM', K_IDLE, 'a' .. id)
    return
  end
  local members = { 'a' .. id }
  for _, prefix in ipairs(cjson.decode(lp)) do
    members[#members + 1] = prefix .. id
  end
  redis.call('ZREM', K_IDLE, unpack(members))
end

local function quota_prefix(scope, quota_id)
  return scope .. #quota_id .. ':' .. quota_id
end

local function holders_add(id, tenant_id, campaign_id)
  if tenant_id ~= '' and campaign_id ~= '' then
    redis.call('ZADD', K_HOLDERS, 0, quota_prefix('t', tenant_id) .. id,
      0, quota_prefix('c', campaign_id) .. id)
  elseif tenant_id ~= '' then
    redis.call('ZADD', K_HOLDERS, 0, quota_prefix('t', tenant_id) .. id)
  elseif campaign_id ~= '' then
    redis.call('ZADD', K_HOLDERS, 0, quota_prefix('c', campaign_id) .. id)
  end
end

local function holders_remove(id, tenant_id, campaign_id)
  if tenant_id ~= '' then
    redis.call('ZREM', K_HOLDERS, quota_prefix('t', tenant_id) .. id)
  end
  if campaign_id ~= '' then
    redis.call('ZREM', K_HOLDERS, quota_prefix('c', campaign_id) .. id)
  end
end

local function count_holders(scope, quota_id)
  local prefix = quota_prefix(scope, quota_id)
  return redis.call('ZLEXCOUNT', K_HOLDERS, '[' .. prefix, '(' .. prefix .. RANGE_END)
end

-- Appends an event. With a reservation (call_id not nil) it carries the call, fence and
-- quota ids. Returns the entry as {id, {field, value, ...}}, the shape XRANGE returns.
local function emit(kind, id, host, now, call_id, fence, tenant_id, campaign_id)
  local fields = { 'type', kind, 'workerId', id, 'pool', POOL, 'host', host, 'at', now }
  if call_id then
    fields[11], fields[12], fields[13], fields[14] = 'callId', call_id, 'fence', fence
    if tenant_id ~= '' then
      fields[#fields + 1] = 'tenantId'
      fields[#fields + 1] = tenant_id
    end
    if campaign_id ~= '' then
      fields[#fields + 1] = 'campaignId'
      fields[#fields + 1] = campaign_id
    end
  end
  local entry_id = redis.call('XADD', K_EVENTS, 'MAXLEN', '~', EVENTS_MAX, '*', unpack(fields))
  return { entry_id, fields }
end

-- Appends an event about the worker's reservation, or about the worker alone when with_res
-- is false.
local function emit_for(kind, id, w, now, with_res, out)
  local event
  if with_res then
    event = emit(kind, id, w.host, now, w.callId, w.fence, w.tenantId, w.campaignId)
  else
    event = emit(kind, id, w.host, now)
  end
  if out then
    -- A returned Lua number becomes an integer reply, so the times and fences in an
    -- entry's field list are formatted like the strings that XADD stored.
    local fields = event[2]
    fields[10] = string.format('%d', fields[10])
    if fields[14] then
      fields[14] = string.format('%d', fields[14])
    end
    out[#out + 1] = event
  end
end

-- Lapses the worker's reservation, which is in state 'reserved' and past its deadline.
local function lapse(id, w, now, out)
  holders_remove(id, w.tenantId, w.campaignId)
  if w.draining ~= '1' then
    idle_add(id, w.lp)
  end
  set(id, 'state', 'lapsed')
  redis.call('ZREM', K_DEADLINES, id)
  w.state = 'lapsed'
  emit_for('reservation-lapsed', id, w, now, true, out)
end

-- Deletes the worker, which is past its TTL, and the reservation it holds.
local function expire(id, w, now, out)
  local held = holding(w, now)
  if held then
    holders_remove(id, w.tenantId, w.campaignId)
  end
  idle_remove(id, w.lp)
  delete(id)
  redis.call('ZREM', K_EXPIRY, id)
  redis.call('ZREM', K_DEADLINES, id)
  emit_for('expired', id, w, now, held, out)
end

-- Lapses the worker's reservation if it is past its deadline, then deletes the worker if
-- it is past its TTL, as sweep would. Returns true when the worker is still live.
local function settle(id, w, now)
  if w.state == 'reserved' and tonumber(w.deadline) <= now then
    lapse(id, w, now)
  end
  if tonumber(w.expiresAt) <= now then
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
    local w = read(id)
    if w and w.state == 'reserved' then
      lapse(id, w, now, out)
    end
  end
  if #lapsed > 0 then
    redis.call('ZREMRANGEBYSCORE', K_DEADLINES, '-inf', now)
  end

  local expired = redis.call('ZRANGEBYSCORE', K_EXPIRY, '-inf', now)
  for _, id in ipairs(expired) do
    local w = read(id)
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
  if tonumber(current) < tonumber(fence) then
    redis.call('SET', K_FENCE, fence)
  end
end

-- Stores a re-asserted reservation (JSON from the client) as busy and counts it.
local function assert_busy(id, active, now)
  set(id, 'state', 'busy', 'token', active.token,
    'fence', active.fence, 'callId', active.callId, 'deadline', now,
    'tenantId', active.tenantId or '', 'campaignId', active.campaignId or '')
  holders_add(id, active.tenantId or '', active.campaignId or '')
  raise_fence(active.fence)
end

-- Clears the reservation that the worker holds and makes it idle unless it is draining.
local function free(id, w, now)
  set(id, 'state', '')
  if w.state == 'reserved' then
    redis.call('ZREM', K_DEADLINES, id)
  end
  holders_remove(id, w.tenantId, w.campaignId)
  if w.draining ~= '1' then
    idle_add(id, w.lp)
  end
  emit_for('released', id, w, now, true)
end

local function set_drain(id, w, draining, now)
  if (w.draining == '1') == draining then
    return 0
  end
  set(id, 'draining', draining and '1' or '0')
  if draining then
    idle_remove(id, w.lp)
    emit_for('drain', id, w, now, false)
  else
    if not holding(w, now) then
      idle_add(id, w.lp)
    end
    emit_for('undrain', id, w, now, false)
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
  local id, lp = argv[3], argv[7]
  local old = read(id)
  local expires_at = now + tonumber(argv[8])
  if old then
    idle_remove(id, old.lp)
  else
    set(id, 'draining', '0', 'state', '')
  end
  set(id, 'url', argv[4], 'host', argv[5], 'labels', argv[6], 'lp', lp, 'expiresAt', expires_at)
  redis.call('ZADD', K_EXPIRY, expires_at, id)
  if not old and argv[9] ~= '' then
    assert_busy(id, cjson.decode(argv[9]), now)
  end
  local w = read(id)
  local held = holding(w, now)
  if w.draining ~= '1' and not held then
    idle_add(id, lp)
  end
  emit_for('registered', id, w, now, held)
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
  local w = read(id)
  if not w then
    return 0
  end
  local expires_at = now + tonumber(argv[4])
  set(id, 'expiresAt', expires_at)
  redis.call('ZADD', K_EXPIRY, expires_at, id)
  if argv[5] == '' and argv[6] ~= '' and w.token == argv[6] and holding(w, now) then
    free(id, w, now)
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
      assert_busy(id, active, now)
      emit('confirmed', id, w.host, now, active.callId, active.fence, active.tenantId or '',
        active.campaignId or '')
    end
  end
  return 1
end
`;

/** ARGV: workerId. Returns 1, or 0 for an unknown worker. */
const DEREGISTER = `
local function deregister(argv)
  local now = now_ms()
  sweep(now)
  local id = argv[3]
  local w = read(id)
  if not w then
    return 0
  end
  local held = holding(w, now)
  if held then
    holders_remove(id, w.tenantId, w.campaignId)
  end
  idle_remove(id, w.lp)
  delete(id)
  redis.call('ZREM', K_EXPIRY, id)
  redis.call('ZREM', K_DEADLINES, id)
  emit_for('deregistered', id, w, now, held)
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

local PICK_FIELDS = { 'url', 'host', 'lp', 'expiresAt' }
local PICK_LABELLED_FIELDS = { 'url', 'host', 'lp', 'expiresAt', 'labels' }

-- Returns a live idle worker's id and its {url, host, lp, expiresAt}, or nil. Expired
-- workers met on the way are deleted, so each is skipped only once.
local function pick_any(now)
  while true do
    local found = redis.call('ZRANGEBYLEX', K_IDLE, '[a', '(a' .. RANGE_END, 'LIMIT', 0, 1)
    if not found[1] then
      return nil
    end
    local id = string.sub(found[1], 2)
    local f = get(id, PICK_FIELDS)
    if f[4] and tonumber(f[4]) > now then
      return id, f
    end
    local w = read(id)
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
      local f = get(id, PICK_LABELLED_FIELDS)
      if not f[4] or tonumber(f[4]) <= now then
        expired[#expired + 1] = id
      else
        local labels = cjson.decode(f[5])
        local match = true
        for k, v in pairs(required) do
          if labels[k] ~= v then
            match = false
            break
          end
        end
        if match then
          chosen_id, chosen = id, f
          break
        end
      end
    end
    offset = offset + page_size
  until chosen or #page < page_size
  -- Deleting during the walk would shift the pages, so expired workers go afterwards.
  for _, id in ipairs(expired) do
    local w = read(id)
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
  local id, f = pick(required, now)
  if not id and not swept then
    sweep(now)
    id, f = pick(required, now)
  end
  if not id then
    return {'none'}
  end

  local fence = next_fence()
  set(id, 'state', 'reserved', 'token', token, 'fence', fence,
    'callId', call_id, 'deadline', deadline, 'tenantId', tenant_id, 'campaignId', campaign_id)
  idle_remove(id, f[3])
  redis.call('ZADD', K_DEADLINES, deadline, id)
  holders_add(id, tenant_id, campaign_id)
  emit('reserved', id, f[2], now, call_id, fence, tenant_id, campaign_id)
  return {'reserved', id, f[1], fence, deadline}
end
`;

/** ARGV: workerId, token. Returns a `ConfirmResult`. */
const CONFIRM = `
local function confirm(argv)
  local now = now_ms()
  local id = argv[3]
  local w = read(id)
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
  set(id, 'state', 'busy')
  redis.call('ZREM', K_DEADLINES, id)
  emit_for('confirmed', id, w, now, true)
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
  local w = read(id)
  if not w or not settle(id, w, now) or w.state == '' or w.token ~= argv[4] then
    return 0
  end
  if w.state == 'lapsed' then
    set(id, 'state', '')
    return 0
  end
  free(id, w, now)
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
  local w = read(argv[3])
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
    local w = read(id)
    if w and (host == '' or w.host == host) then
      changed = changed + set_drain(id, w, draining, now)
    end
  end
  return changed
end
`;

/**
 * list returns {now, {field, value, ...}, ...} after the sweep, one flat field list per
 * worker (with `workerId` and `pool`); every returned worker is live. reap runs the sweep and returns its events as
 * {{id, {field, value, ...}}, ...}.
 */
const READ = `
local function list(argv)
  local now = now_ms()
  sweep(now)
  local result = { now }
  for _, id in ipairs(redis.call('ZRANGE', K_EXPIRY, 0, -1)) do
    local values = get(id, ALL_FIELDS)
    local fields = { 'workerId', id, 'pool', POOL }
    for i, name in ipairs(ALL_FIELDS) do
      if values[i] then
        fields[#fields + 1] = name
        fields[#fields + 1] = values[i]
      end
    end
    result[#result + 1] = fields
  end
  return result
end

local function reap(argv)
  local out = {}
  sweep(now_ms(), out)
  return out
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
] as const;

export type FunctionName = (typeof FUNCTION_NAMES)[number];

const BODY = [HELPERS, REGISTER, HEARTBEAT, DEREGISTER, RESERVE, CONFIRM, RELEASE, DRAIN, READ]
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
