//! The Lua scripts. Each touches only the keys of one hash tag (one
//! channel, or for the offline queue index one user), so one Redis Cluster
//! slot, and runs atomically.

/// Publish with history.
///
/// KEYS: 1 stream, 2 meta.
/// ARGV: 1 epoch to create if the meta is missing, 2 encoded publication
/// body, 3 time ms, 4 history size, 5 stream TTL ms, 6 meta TTL ms,
/// 7 pub/sub channel.
/// Returns `{offset, epoch}`.
pub(crate) const PUBLISH: &str = r#"
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'top', 0)
end
local top = redis.call('HINCRBY', KEYS[2], 'top', 1)
redis.call('XADD', KEYS[1], 'MAXLEN', '=', ARGV[4], top .. '-0', 't', ARGV[3], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('PUBLISH', ARGV[7], 'p' .. top .. ':' .. epoch .. ':' .. ARGV[2])
return {top, epoch}
"#;

/// Read history, with the semantics of `Stream::read` after `Stream::trim`.
///
/// KEYS: 1 stream, 2 meta.
/// ARGV: 1 epoch to create if the meta is missing, 2 meta TTL ms, 3 now ms,
/// 4 history TTL ms, 5 history size, 6 since offset (-1: none), 7 since
/// epoch, 8 limit (-1: none), 9 reverse (1/0).
/// Returns `{'ok', top, epoch, offset, body, offset, body…}` or `{'unrecoverable'}`.
pub(crate) const HISTORY: &str = r#"
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'top', 0)
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
local top = tonumber(redis.call('HGET', KEYS[2], 'top'))
local now = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local size = tonumber(ARGV[5])
local since = tonumber(ARGV[6])
local limit = tonumber(ARGV[8])
local reverse = ARGV[9] == '1'

-- The first offset still kept: at most `size` newest, then expired ones
-- dropped from the front (like Stream::trim).
local first = top - size + 1
if first < 1 then first = 1 end
local cursor = first
first = top + 1
while cursor <= top do
  local batch = redis.call('XRANGE', KEYS[1], cursor .. '-0', '+', 'COUNT', 100)
  if #batch == 0 then break end
  local found = false
  for _, e in ipairs(batch) do
    local off = tonumber(string.match(e[1], '^(%d+)'))
    if tonumber(e[2][2]) + ttl > now then
      first = off
      found = true
      break
    end
    cursor = off + 1
  end
  if found then break end
end
if first > 1 then
  redis.call('XTRIM', KEYS[1], 'MINID', first .. '-0')
end

local out = {'ok', tostring(top), epoch}
local function push(entries)
  for _, e in ipairs(entries) do
    out[#out + 1] = string.match(e[1], '^(%d+)')
    out[#out + 1] = e[2][4]
  end
end
local function range(cmd, a, b)
  if limit == 0 then return end
  if limit > 0 then
    push(redis.call(cmd, KEYS[1], a, b, 'COUNT', limit))
  else
    push(redis.call(cmd, KEYS[1], a, b))
  end
end

if since >= 0 then
  if ARGV[7] ~= epoch or since > top then return {'unrecoverable'} end
  if reverse then
    local hi = since - 1
    if hi >= first then range('XREVRANGE', hi .. '-0', first .. '-0') end
  else
    if since < top and first > since + 1 then return {'unrecoverable'} end
    local lo = since + 1
    if lo < first then lo = first end
    if lo <= top then range('XRANGE', lo .. '-0', '+') end
  end
elseif first <= top then
  if reverse then
    range('XREVRANGE', '+', first .. '-0')
  else
    range('XRANGE', first .. '-0', '+')
  end
end
return out
"#;

/// Add or refresh a presence entry.
///
/// KEYS: 1 presence hash, 2 expiry sorted set.
/// ARGV: 1 client id, 2 encoded info, 3 expires at (ms), 4 key TTL ms.
pub(crate) const PRESENCE_ADD: &str = r#"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
"#;

/// Remove a presence entry.
///
/// KEYS: 1 presence hash, 2 expiry sorted set. ARGV: 1 client id.
pub(crate) const PRESENCE_REMOVE: &str = r#"
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"#;

/// Drop expired presence entries, then return the rest.
///
/// KEYS: 1 presence hash, 2 expiry sorted set. ARGV: 1 now (ms).
/// Returns `HGETALL` of the hash.
pub(crate) const PRESENCE_READ: &str = r#"
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for i = 1, #expired, 500 do
  redis.call('HDEL', KEYS[1], unpack(expired, i, math.min(i + 499, #expired)))
end
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
end
return redis.call('HGETALL', KEYS[1])
"#;

/// Register or refresh a connection's subscription for offline queues.
///
/// KEYS: 1 subscriptions sorted set (client id → expiry ms).
/// ARGV: 1 client id, 2 expires at (ms), 3 key TTL ms.
pub(crate) const OFFLINE_SUBSCRIBED: &str = r#"
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"#;

/// Queue a publication for every listed user subscribed nowhere.
///
/// KEYS: per user, its subscriptions sorted set then its queue list.
/// ARGV: 1 now (ms), 2 queue size, 3 queue TTL ms, 4 encoded publication.
/// Returns the (1-based) numbers of the users it was queued for.
pub(crate) const OFFLINE_PUSH: &str = r#"
local now = tonumber(ARGV[1])
local size = tonumber(ARGV[2])
local queued = {}
for i = 1, #KEYS, 2 do
  -- Entries of a node that stopped refreshing them no longer count.
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  if redis.call('ZCARD', KEYS[i]) == 0 then
    redis.call('RPUSH', KEYS[i + 1], ARGV[4])
    redis.call('LTRIM', KEYS[i + 1], -size, -1)
    redis.call('PEXPIRE', KEYS[i + 1], ARGV[3])
    queued[#queued + 1] = (i + 1) / 2
  end
end
return queued
"#;

/// Take a queue: its entries, oldest first, and the key is gone.
///
/// KEYS: 1 queue list.
pub(crate) const OFFLINE_TAKE: &str = r#"
local entries = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return entries
"#;

/// Note that a user has a queue in a channel until at least a time.
///
/// KEYS: 1 the user's index sorted set (channel → queue expiry ms).
/// ARGV: 1 channel, 2 queue expires at (ms), 3 queue TTL ms.
pub(crate) const USER_OFFLINE_ADD: &str = r#"
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
-- Another channel's queue may live longer: only ever extend the key.
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
"#;

/// Drop expired channels from a user's index, then return the rest.
///
/// KEYS: 1 the user's index sorted set. ARGV: 1 now (ms).
pub(crate) const USER_OFFLINE_READ: &str = r#"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
"#;
