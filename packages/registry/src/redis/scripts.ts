/**
 * Lua scripts of the Redis backend; each mutation is exactly one script, so Redis runs it
 * without interleaving another client's command.
 *
 * Keys of one pool share the hash tag `{pool}`, so Redis Cluster keeps them in one slot:
 * - `<prefix>{pool}:workers`: hash of worker id to a JSON document (`RedisWorkerDoc`).
 * - `<prefix>{pool}:expiry`: sorted set of worker ids scored by `expiresAt`.
 * - `<prefix>{pool}:fence`: the pool's fencing counter.
 *
 * Invariants every script keeps:
 * - Time is the Redis server's `TIME`, never the client's clock.
 * - A worker whose `expiresAt` is not after now is deleted before anything else is read,
 *   so no script reads or reserves an expired worker.
 * - A reservation holds its slot while `confirmed` or before `deadline`; a lapsed one is
 *   overwritten by the next `reserve` and ignored by every count.
 * - Numbers in documents are decimal strings, because cjson writes numbers with 14
 *   significant digits and fences can have 16.
 * - The fence counter is only ever incremented. When the key is missing (a new pool, or
 *   data lost in a restart) it starts from the server time in microseconds, so it stays
 *   above every earlier fence unless the pool averaged over a million reservations a second.
 */

const PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int(n)
  return string.format('%d', n)
end

local function prune(workers, expiry, now)
  local expired_ids = redis.call('ZRANGEBYSCORE', expiry, '-inf', int(now))
  for _, id in ipairs(expired_ids) do
    redis.call('HDEL', workers, id)
  end
  if #expired_ids > 0 then
    redis.call('ZREMRANGEBYSCORE', expiry, '-inf', int(now))
  end
end

local function holding(res, now)
  return type(res) == 'table' and (res.confirmed == true or tonumber(res.deadline) > now)
end

local function seed_fence(key)
  if redis.call('EXISTS', key) == 0 then
    local t = redis.call('TIME')
    redis.call('SET', key, t[1] .. string.format('%06d', tonumber(t[2])))
  end
end

local function load(workers, id)
  local raw = redis.call('HGET', workers, id)
  if not raw then
    return nil
  end
  return cjson.decode(raw)
end
`;

/**
 * KEYS: workers, expiry, fence. ARGV: workerId, metadata JSON, ttlMs, active reservation
 * JSON or ''. A live worker keeps its reservation and drain flag. A new worker takes the
 * active reservation as confirmed, and the fence counter moves past that fence.
 */
export const REGISTER = `${PRELUDE}
local now = now_ms()
prune(KEYS[1], KEYS[2], now)
local doc = cjson.decode(ARGV[2])
local old = load(KEYS[1], ARGV[1])
doc.draining = false
if old then
  doc.draining = old.draining
  doc.res = old.res
elseif ARGV[4] ~= '' then
  local res = cjson.decode(ARGV[4])
  res.confirmed = true
  res.deadline = int(now)
  doc.res = res
  seed_fence(KEYS[3])
  if tonumber(redis.call('GET', KEYS[3])) < tonumber(res.fence) then
    redis.call('SET', KEYS[3], res.fence)
  end
end
local expires_at = now + tonumber(ARGV[3])
doc.expiresAt = int(expires_at)
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(doc))
redis.call('ZADD', KEYS[2], int(expires_at), ARGV[1])
return 1
`;

/** KEYS: workers, expiry. ARGV: workerId, ttlMs. Returns 1, or 0 for an unknown worker. */
export const HEARTBEAT = `${PRELUDE}
local now = now_ms()
prune(KEYS[1], KEYS[2], now)
local doc = load(KEYS[1], ARGV[1])
if not doc then
  return 0
end
local expires_at = now + tonumber(ARGV[2])
doc.expiresAt = int(expires_at)
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(doc))
redis.call('ZADD', KEYS[2], int(expires_at), ARGV[1])
return 1
`;

/** KEYS: workers, expiry. ARGV: workerId. */
export const DEREGISTER = `
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`;

/**
 * KEYS: workers, expiry, fence. ARGV: callId, reservationTtlMs, token, required labels JSON,
 * tenant id or '', campaign id or '', tenant limit or -1, campaign limit or -1.
 * Returns {'reserved', workerId, url, fence, deadline}, {'quota', scope} or {'none'}.
 */
export const RESERVE = `${PRELUDE}
local now = now_ms()
prune(KEYS[1], KEYS[2], now)
local required_labels = cjson.decode(ARGV[4])
local tenant_id, campaign_id = ARGV[5], ARGV[6]
local tenant_limit, campaign_limit = tonumber(ARGV[7]), tonumber(ARGV[8])
local tenant_count, campaign_count = 0, 0
local chosen_id, chosen = nil, nil

local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local id, doc = all[i], cjson.decode(all[i + 1])
  if holding(doc.res, now) then
    if tenant_id ~= '' and doc.res.tenantId == tenant_id then
      tenant_count = tenant_count + 1
    end
    if campaign_id ~= '' and doc.res.campaignId == campaign_id then
      campaign_count = campaign_count + 1
    end
  elseif doc.draining ~= true and (chosen_id == nil or id < chosen_id) then
    local match = true
    for k, v in pairs(required_labels) do
      if type(doc.labels) ~= 'table' or doc.labels[k] ~= v then
        match = false
        break
      end
    end
    if match then
      chosen_id, chosen = id, doc
    end
  end
end

if tenant_limit >= 0 and tenant_count >= tenant_limit then
  return {'quota', 'tenant'}
end
if campaign_limit >= 0 and campaign_count >= campaign_limit then
  return {'quota', 'campaign'}
end
if not chosen then
  return {'none'}
end

seed_fence(KEYS[3])
local fence = redis.call('INCR', KEYS[3])
local deadline = now + tonumber(ARGV[2])
local res = { token = ARGV[3], fence = int(fence), callId = ARGV[1], deadline = int(deadline),
  confirmed = false }
if tenant_id ~= '' then res.tenantId = tenant_id end
if campaign_id ~= '' then res.campaignId = campaign_id end
chosen.res = res
redis.call('HSET', KEYS[1], chosen_id, cjson.encode(chosen))
return {'reserved', chosen_id, chosen.url, int(fence), int(deadline)}
`;

/** KEYS: workers, expiry. ARGV: workerId, token. Returns a `ConfirmResult`. */
export const CONFIRM = `${PRELUDE}
local now = now_ms()
prune(KEYS[1], KEYS[2], now)
local doc = load(KEYS[1], ARGV[1])
if not doc then
  return 'unknown-worker'
end
if type(doc.res) ~= 'table' or doc.res.token ~= ARGV[2] then
  return 'token-mismatch'
end
if doc.res.confirmed == true then
  return 'confirmed'
end
if tonumber(doc.res.deadline) <= now then
  return 'expired'
end
doc.res.confirmed = true
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(doc))
return 'confirmed'
`;

/**
 * KEYS: workers, expiry. ARGV: workerId, token. Clears the reservation when the token
 * matches; returns 1 only when it still held the slot.
 */
export const RELEASE = `${PRELUDE}
local now = now_ms()
prune(KEYS[1], KEYS[2], now)
local doc = load(KEYS[1], ARGV[1])
if not doc or type(doc.res) ~= 'table' or doc.res.token ~= ARGV[2] then
  return 0
end
local was_holding = holding(doc.res, now)
doc.res = nil
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(doc))
if was_holding then
  return 1
end
return 0
`;

/** KEYS: workers, expiry. ARGV: workerId, '1' or '0'. Returns 0 for an unknown worker. */
export const SET_DRAINING = `${PRELUDE}
local now = now_ms()
prune(KEYS[1], KEYS[2], now)
local doc = load(KEYS[1], ARGV[1])
if not doc then
  return 0
end
doc.draining = ARGV[2] == '1'
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(doc))
return 1
`;

/** KEYS: workers. Returns {now, document...}; the caller drops expired documents. */
export const LIST = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local result = { string.format('%d', now) }
for _, doc in ipairs(redis.call('HVALS', KEYS[1])) do
  result[#result + 1] = doc
end
return result
`;
