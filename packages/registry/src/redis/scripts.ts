/**
 * Lua scripts of the Redis backend; each mutation is exactly one script, so Redis runs it
 * without interleaving another client's command.
 *
 * Every pool script takes the same seven keys, which share the hash tag `{pool}`, so Redis
 * Cluster keeps them in one slot (see `POOL_KEY_NAMES`), and `ARGV[1]`, the approximate
 * maximum length of the pool's event stream.
 *
 * Invariants every script keeps:
 * - Time is the Redis server's `TIME`, never the client's clock.
 * - `sweep` runs first. It lapses the reservations whose deadline is not after now and
 *   deletes the workers whose `expiresAt` is not after now, appending one event for each,
 *   so nothing later in the script sees a lapse or an expiry that was not yet reported.
 * - `idle` contains a worker exactly when it is live, not draining and holds no live
 *   reservation. `deadlines` contains exactly the unconfirmed reservations not yet lapsed.
 *   `holders` contains one member per live reservation and quota id it carries.
 * - A lapsed reservation stays in its worker's document, so a late `confirm` returns
 *   'expired'; it is overwritten by the next `reserve` and ignored by every count.
 * - Numbers in documents are decimal strings, because cjson writes numbers with 14
 *   significant digits and fences can have 16.
 * - The fence counter is only ever incremented. When the key is missing (a new pool, or
 *   data lost in a restart) it starts from the server time in microseconds, so it stays
 *   above every earlier fence unless the pool averaged over a million reservations a second.
 */

/** Key suffixes of a pool, in the order every pool script receives them. */
export const POOL_KEY_NAMES = [
  'workers',
  'expiry',
  'idle',
  'deadlines',
  'holders',
  'events',
  'fence',
] as const;

/**
 * Shared helpers. Members of the lexicographic sets encode their parts with a length
 * prefix, so one label or quota id can never be read as the start of another:
 * - `idle`: `a<workerId>` for every idle worker, and `l<#key>:<key><#value>:<value><workerId>`
 *   for each of its labels, so a reserve that requires one label finds a worker in
 *   O(log n) with `ZRANGEBYLEX`.
 * - `holders`: `t<#id>:<id><workerId>` per tenant and `c<#id>:<id><workerId>` per campaign,
 *   so `ZLEXCOUNT` counts a quota's live reservations in O(log n).
 * Byte 255 never occurs in UTF-8, so `(<prefix>\xff` ends the range of a prefix.
 */
const PRELUDE = `
local K_WORKERS, K_EXPIRY, K_IDLE, K_DEADLINES = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_HOLDERS, K_EVENTS, K_FENCE = KEYS[5], KEYS[6], KEYS[7]
local EVENTS_MAX = ARGV[1]
local RANGE_END = string.char(255)

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int(n)
  return string.format('%d', n)
end

local function load(id)
  local raw = redis.call('HGET', K_WORKERS, id)
  if not raw then
    return nil
  end
  return cjson.decode(raw)
end

local function save(id, doc)
  redis.call('HSET', K_WORKERS, id, cjson.encode(doc))
end

local function holding(res, now)
  return type(res) == 'table' and (res.confirmed == true or tonumber(res.deadline) > now)
end

local function label_prefix(k, v)
  return 'l' .. #k .. ':' .. k .. #v .. ':' .. v
end

local function idle_members(id, doc)
  local members = { 'a' .. id }
  if type(doc.labels) == 'table' then
    for k, v in pairs(doc.labels) do
      members[#members + 1] = label_prefix(k, v) .. id
    end
  end
  return members
end

local function idle_add(id, doc)
  local args = {}
  for _, member in ipairs(idle_members(id, doc)) do
    args[#args + 1] = 0
    args[#args + 1] = member
  end
  redis.call('ZADD', K_IDLE, unpack(args))
end

local function idle_remove(id, doc)
  redis.call('ZREM', K_IDLE, unpack(idle_members(id, doc)))
end

local function quota_prefix(scope, quota_id)
  return scope .. #quota_id .. ':' .. quota_id
end

local function holder_members(id, res)
  local members = {}
  if res.tenantId then
    members[#members + 1] = quota_prefix('t', res.tenantId) .. id
  end
  if res.campaignId then
    members[#members + 1] = quota_prefix('c', res.campaignId) .. id
  end
  return members
end

local function holders_add(id, res)
  local members = holder_members(id, res)
  if #members == 1 then
    redis.call('ZADD', K_HOLDERS, 0, members[1])
  elseif #members == 2 then
    redis.call('ZADD', K_HOLDERS, 0, members[1], 0, members[2])
  end
end

local function holders_remove(id, res)
  local members = holder_members(id, res)
  if #members > 0 then
    redis.call('ZREM', K_HOLDERS, unpack(members))
  end
end

local function count_holders(scope, quota_id)
  local prefix = quota_prefix(scope, quota_id)
  return redis.call('ZLEXCOUNT', K_HOLDERS, '[' .. prefix, '(' .. prefix .. RANGE_END)
end

-- Appends an event; res is the reservation it concerns, or nil. Returns the entry as
-- {id, field, value, ...}, the shape XRANGE returns.
local function emit(kind, id, doc, res, now)
  local fields = { 'type', kind, 'workerId', id, 'pool', doc.pool, 'host', doc.host, 'at', int(now) }
  if type(res) == 'table' then
    fields[#fields + 1] = 'callId'
    fields[#fields + 1] = res.callId
    fields[#fields + 1] = 'fence'
    fields[#fields + 1] = res.fence
    if res.tenantId then
      fields[#fields + 1] = 'tenantId'
      fields[#fields + 1] = res.tenantId
    end
    if res.campaignId then
      fields[#fields + 1] = 'campaignId'
      fields[#fields + 1] = res.campaignId
    end
  end
  local entry_id = redis.call('XADD', K_EVENTS, 'MAXLEN', '~', EVENTS_MAX, '*', unpack(fields))
  return { entry_id, fields }
end

-- Lapses reservations past their deadline, then deletes workers past their TTL. Appends
-- the events to out when out is a table.
local function sweep(now, out)
  local lapsed = redis.call('ZRANGEBYSCORE', K_DEADLINES, '-inf', int(now))
  for _, id in ipairs(lapsed) do
    local doc = load(id)
    if doc and type(doc.res) == 'table' and doc.res.confirmed ~= true then
      holders_remove(id, doc.res)
      if doc.draining ~= true then
        idle_add(id, doc)
      end
      local event = emit('reservation-lapsed', id, doc, doc.res, now)
      if out then
        out[#out + 1] = event
      end
    end
  end
  if #lapsed > 0 then
    redis.call('ZREMRANGEBYSCORE', K_DEADLINES, '-inf', int(now))
  end

  local expired = redis.call('ZRANGEBYSCORE', K_EXPIRY, '-inf', int(now))
  for _, id in ipairs(expired) do
    local doc = load(id)
    if doc then
      local res = nil
      if holding(doc.res, now) then
        res = doc.res
        holders_remove(id, res)
      end
      idle_remove(id, doc)
      redis.call('HDEL', K_WORKERS, id)
      redis.call('ZREM', K_DEADLINES, id)
      local event = emit('expired', id, doc, res, now)
      if out then
        out[#out + 1] = event
      end
    end
  end
  if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', K_EXPIRY, '-inf', int(now))
  end
end

-- Increments the fence counter and returns the new value. A missing counter (INCR
-- returns 1) starts from the server time in microseconds instead.
local function next_fence()
  local fence = redis.call('INCR', K_FENCE)
  if fence == 1 then
    local t = redis.call('TIME')
    fence = tonumber(t[1] .. string.format('%06d', tonumber(t[2])))
    redis.call('SET', K_FENCE, int(fence))
  end
  return fence
end

local function holding_or_nil(res, now)
  if holding(res, now) then
    return res
  end
  return nil
end

local function set_drain(id, doc, draining, now)
  if (doc.draining == true) == draining then
    return 0
  end
  doc.draining = draining
  save(id, doc)
  if draining then
    idle_remove(id, doc)
    emit('drain', id, doc, nil, now)
  else
    if not holding(doc.res, now) then
      idle_add(id, doc)
    end
    emit('undrain', id, doc, nil, now)
  end
  return 1
end
`;

/**
 * ARGV: workerId, metadata JSON, ttlMs, active reservation JSON or ''. A live worker keeps
 * its reservation and drain flag. A new worker takes the active reservation as confirmed,
 * and the fence counter moves past that fence.
 */
export const REGISTER = `${PRELUDE}
local now = now_ms()
sweep(now)
local id = ARGV[2]
local doc = cjson.decode(ARGV[3])
local old = load(id)
doc.draining = false
if old then
  doc.draining = old.draining
  doc.res = old.res
  idle_remove(id, old)
elseif ARGV[5] ~= '' then
  local res = cjson.decode(ARGV[5])
  res.confirmed = true
  res.deadline = int(now)
  doc.res = res
  holders_add(id, res)
  local current = redis.call('GET', K_FENCE)
  if not current then
    local t = redis.call('TIME')
    current = t[1] .. string.format('%06d', tonumber(t[2]))
    redis.call('SET', K_FENCE, current)
  end
  if tonumber(current) < tonumber(res.fence) then
    redis.call('SET', K_FENCE, res.fence)
  end
end
local expires_at = now + tonumber(ARGV[4])
doc.expiresAt = int(expires_at)
save(id, doc)
redis.call('ZADD', K_EXPIRY, int(expires_at), id)
if doc.draining ~= true and not holding(doc.res, now) then
  idle_add(id, doc)
end
emit('registered', id, doc, holding_or_nil(doc.res, now), now)
return 1
`;

/**
 * ARGV: workerId, ttlMs, active reservation JSON or ''. Returns 1, or 0 for an unknown
 * worker. An active reservation whose token the worker does not hold confirmed replaces
 * whatever the worker holds, as confirmed, and the fence counter moves past its fence.
 */
export const HEARTBEAT = `${PRELUDE}
local now = now_ms()
sweep(now)
local id = ARGV[2]
local doc = load(id)
if not doc then
  return 0
end
local expires_at = now + tonumber(ARGV[3])
doc.expiresAt = int(expires_at)
redis.call('ZADD', K_EXPIRY, int(expires_at), id)
if ARGV[4] ~= '' then
  local active = cjson.decode(ARGV[4])
  local old = doc.res
  if type(old) ~= 'table' or old.token ~= active.token or old.confirmed ~= true then
    if holding(old, now) then
      holders_remove(id, old)
    else
      idle_remove(id, doc)
    end
    redis.call('ZREM', K_DEADLINES, id)
    active.confirmed = true
    active.deadline = int(now)
    doc.res = active
    holders_add(id, active)
    local current = redis.call('GET', K_FENCE)
    if not current or tonumber(current) < tonumber(active.fence) then
      redis.call('SET', K_FENCE, active.fence)
    end
    emit('confirmed', id, doc, active, now)
  end
end
save(id, doc)
return 1
`;

/** ARGV: workerId. Returns 1, or 0 for an unknown worker. */
export const DEREGISTER = `${PRELUDE}
local now = now_ms()
sweep(now)
local id = ARGV[2]
local doc = load(id)
if not doc then
  return 0
end
local res = holding_or_nil(doc.res, now)
if res then
  holders_remove(id, res)
end
idle_remove(id, doc)
redis.call('HDEL', K_WORKERS, id)
redis.call('ZREM', K_EXPIRY, id)
redis.call('ZREM', K_DEADLINES, id)
emit('deregistered', id, doc, res, now)
return 1
`;

/**
 * ARGV: callId, reservationTtlMs, token, required labels JSON, tenant id or '', campaign
 * id or '', tenant limit or -1, campaign limit or -1.
 * Returns {'reserved', workerId, url, fence, deadline}, {'quota', scope} or {'none'}.
 *
 * Without required labels the pick is one ZRANGEBYLEX, O(log n). With labels, it walks
 * the idle workers carrying the first required label in id order and checks the others,
 * so its cost grows only with the idle workers that carry that label but not the rest.
 */
export const RESERVE = `${PRELUDE}
local now = now_ms()
sweep(now)
local tenant_id, campaign_id = ARGV[6], ARGV[7]
local tenant_limit, campaign_limit = tonumber(ARGV[8]), tonumber(ARGV[9])
if tenant_limit >= 0 and count_holders('t', tenant_id) >= tenant_limit then
  return {'quota', 'tenant'}
end
if campaign_limit >= 0 and count_holders('c', campaign_id) >= campaign_limit then
  return {'quota', 'campaign'}
end

local required = {}
if ARGV[5] ~= '{}' then
  required = cjson.decode(ARGV[5])
end
local first_key, first_value = next(required)
local chosen_id, chosen = nil, nil
if first_key == nil then
  local found = redis.call('ZRANGEBYLEX', K_IDLE, '[a', '(a' .. RANGE_END, 'LIMIT', 0, 1)
  if found[1] then
    chosen_id = string.sub(found[1], 2)
    chosen = load(chosen_id)
  end
else
  local prefix = label_prefix(first_key, first_value)
  local page_size, offset = 64, 0
  repeat
    local page = redis.call('ZRANGEBYLEX', K_IDLE, '[' .. prefix, '(' .. prefix .. RANGE_END,
      'LIMIT', offset, page_size)
    for _, member in ipairs(page) do
      local id = string.sub(member, #prefix + 1)
      local doc = load(id)
      local match = doc ~= nil and type(doc.labels) == 'table'
      if match then
        for k, v in pairs(required) do
          if doc.labels[k] ~= v then
            match = false
            break
          end
        end
      end
      if match then
        chosen_id, chosen = id, doc
        break
      end
    end
    offset = offset + page_size
  until chosen or #page < page_size
end
if not chosen then
  return {'none'}
end

local fence = next_fence()
local deadline = now + tonumber(ARGV[3])
local res = { token = ARGV[4], fence = int(fence), callId = ARGV[2], deadline = int(deadline),
  confirmed = false }
if tenant_id ~= '' then res.tenantId = tenant_id end
if campaign_id ~= '' then res.campaignId = campaign_id end
chosen.res = res
save(chosen_id, chosen)
idle_remove(chosen_id, chosen)
redis.call('ZADD', K_DEADLINES, int(deadline), chosen_id)
holders_add(chosen_id, res)
emit('reserved', chosen_id, chosen, res, now)
return {'reserved', chosen_id, chosen.url, int(fence), int(deadline)}
`;

/** ARGV: workerId, token. Returns a `ConfirmResult`. */
export const CONFIRM = `${PRELUDE}
local now = now_ms()
sweep(now)
local id = ARGV[2]
local doc = load(id)
if not doc then
  return 'unknown-worker'
end
if type(doc.res) ~= 'table' or doc.res.token ~= ARGV[3] then
  return 'token-mismatch'
end
if doc.res.confirmed == true then
  return 'confirmed'
end
if tonumber(doc.res.deadline) <= now then
  return 'expired'
end
doc.res.confirmed = true
save(id, doc)
redis.call('ZREM', K_DEADLINES, id)
emit('confirmed', id, doc, doc.res, now)
return 'confirmed'
`;

/**
 * ARGV: workerId, token. Clears the reservation when the token matches; returns 1 only
 * when it still held the slot, and 0 for an unknown worker or another token.
 */
export const RELEASE = `${PRELUDE}
local now = now_ms()
sweep(now)
local id = ARGV[2]
local doc = load(id)
if not doc or type(doc.res) ~= 'table' or doc.res.token ~= ARGV[3] then
  return 0
end
local res = doc.res
local was_holding = holding(res, now)
doc.res = nil
save(id, doc)
if not was_holding then
  return 0
end
redis.call('ZREM', K_DEADLINES, id)
holders_remove(id, res)
if doc.draining ~= true then
  idle_add(id, doc)
end
emit('released', id, doc, res, now)
return 1
`;

/** ARGV: workerId, '1' or '0'. Returns 1, or 0 for an unknown worker. */
export const SET_DRAINING = `${PRELUDE}
local now = now_ms()
sweep(now)
local doc = load(ARGV[2])
if not doc then
  return 0
end
set_drain(ARGV[2], doc, ARGV[3] == '1', now)
return 1
`;

/**
 * ARGV: '1' or '0', host or '', workerId or ''. Sets drain on the pool's workers that match
 * the non-empty filters; returns how many changed. Scans the pool when no workerId is given.
 */
export const SET_DRAINING_WHERE = `${PRELUDE}
local now = now_ms()
sweep(now)
local draining, host, worker_id = ARGV[2] == '1', ARGV[3], ARGV[4]
local changed = 0
local function visit(id, doc)
  if host == '' or doc.host == host then
    changed = changed + set_drain(id, doc, draining, now)
  end
end
if worker_id ~= '' then
  local doc = load(worker_id)
  if doc then
    visit(worker_id, doc)
  end
else
  local all = redis.call('HGETALL', K_WORKERS)
  for i = 1, #all, 2 do
    visit(all[i], cjson.decode(all[i + 1]))
  end
end
return changed
`;

/** Returns {now, document...} after the sweep; every returned worker is live. */
export const LIST = `${PRELUDE}
local now = now_ms()
sweep(now)
local result = { int(now) }
for _, doc in ipairs(redis.call('HVALS', K_WORKERS)) do
  result[#result + 1] = doc
end
return result
`;

/** Runs the sweep and returns its events as {{id, {field, value, ...}}, ...}. */
export const REAP = `${PRELUDE}
local out = {}
sweep(now_ms(), out)
return out
`;
