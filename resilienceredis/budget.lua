-- One sync of a fleet retry budget: publish what a replica counted since
-- Redis last heard of it, give back its grant, read the fleet's window and
-- reserve the replica's next grant, all at one moment of Redis's clock.
--
-- KEYS[1]: the set of replicas that synced lately (sorted by Redis ms).
-- KEYS[2]: this replica's hash: d, w (its totals Redis has counted), g (its
-- grant reserved), gb (the bucket the grant is reserved in), i (the
-- incarnation that wrote d and w).
-- ARGV: 1 bucket key prefix, 2 replica, 3 deposits since it started,
-- 4 withdrawals since it started, 5 and 6 the totals of its last
-- acknowledged sync, 7 ratio, 8 floor (retries per window), 9 bucket width
-- in seconds, 10 buckets in the window, 11 most retries in one grant (0: no
-- cap), 12 how long a replica counts as active, in ms, 13 keys' time to
-- live in seconds, 14 "1" when the replica leaves (no new grant), 15 the
-- incarnation: an id of this Budget, new at each start of the replica.
-- Buckets are hashes <prefix><slot> with fields d (calls), w (retries) and
-- r (retries reserved as grants and not yet given back).
-- Returns {grant, fleet calls, fleet retries, retries reserved by the
-- others, active replicas, allowance}.
local limit = 2 ^ 50
local function num(v, what)
  if v == false or v == nil then return nil end
  local x = tonumber(v)
  if x == nil or x ~= x or x < -limit or x > limit or x ~= math.floor(x) then
    error('resilienceredis: ' .. what .. ' holds no count: ' .. tostring(v), 0)
  end
  return x
end
local prefix, replica = ARGV[1], ARGV[2]
local cd, cw = num(ARGV[3], 'deposits'), num(ARGV[4], 'withdrawals')
local ad, aw = num(ARGV[5], 'acked deposits'), num(ARGV[6], 'acked withdrawals')
local ratio, floor = tonumber(ARGV[7]), tonumber(ARGV[8])
local width, nb = tonumber(ARGV[9]), tonumber(ARGV[10])
local reserve, span, ttl = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local leave = ARGV[14] == '1'
local t = redis.call('TIME')
local sec = tonumber(t[1])
local nowms = sec * 1000 + math.floor(tonumber(t[2]) / 1000)
local slot = math.floor(sec / width)
local cur = prefix .. slot

-- What Redis already counted of this replica: its own record, unless that
-- is gone (expired, Redis restarted), written by an earlier incarnation
-- (the replica restarted under the same name) or ahead of the replica; then
-- the replica's last acknowledged sync.
local inc = ARGV[15]
local prev = redis.call('HMGET', KEYS[2], 'd', 'w', 'g', 'gb', 'i')
local pd, pw = num(prev[1], KEYS[2]), num(prev[2], KEYS[2])
local pg, pb = num(prev[3], KEYS[2]), num(prev[4], KEYS[2])
if prev[5] ~= inc then pd, pw = nil, nil end
if pd == nil or pd > cd then pd = ad end
if pw == nil or pw > cw then pw = aw end
local dd, dw = math.max(cd - pd, 0), math.max(cw - pw, 0)

-- Give the last grant back to the bucket it was reserved in, if that
-- bucket is still in the window.
if pg ~= nil and pg > 0 and pb ~= nil and pb > slot - nb and pb <= slot then
  local bk = prefix .. pb
  if redis.call('EXISTS', bk) == 1 then
    local r = num(redis.call('HGET', bk, 'r'), bk) or 0
    redis.call('HSET', bk, 'r', math.max(r - pg, 0))
  end
end
if dd > 0 then redis.call('HINCRBY', cur, 'd', dd) end
if dw > 0 then redis.call('HINCRBY', cur, 'w', dw) end

local D, W, R = 0, 0, 0
for s = slot - nb + 1, slot do
  local bk = prefix .. s
  local v = redis.call('HMGET', bk, 'd', 'w', 'r')
  D = D + (num(v[1], bk) or 0)
  W = W + (num(v[2], bk) or 0)
  R = R + (num(v[3], bk) or 0)
end
if D < 0 or W < 0 or R < 0 or D > limit or W > limit or R > limit then
  error('resilienceredis: ' .. prefix .. ' buckets hold counts out of range', 0)
end

local n = 1
if leave then
  redis.call('ZREM', KEYS[1], replica)
else
  redis.call('ZADD', KEYS[1], nowms, replica)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowms - span)
  n = math.max(redis.call('ZCARD', KEYS[1]), 1)
  redis.call('PEXPIRE', KEYS[1], ttl * 1000)
end
local allow = math.max(ratio * D, floor)
local g = 0
if not leave then
  g = math.floor(math.min(allow - W - R, (allow - W) / n))
  if reserve > 0 and g > reserve then g = reserve end
  if g < 0 then g = 0 end
end
if g > 0 then redis.call('HINCRBY', cur, 'r', g) end
if redis.call('EXISTS', cur) == 1 then redis.call('EXPIRE', cur, ttl) end
redis.call('HSET', KEYS[2], 'd', cd, 'w', cw, 'g', g, 'gb', slot, 'i', inc)
redis.call('EXPIRE', KEYS[2], ttl)
return {g, D, W, R, n, math.floor(math.min(allow, limit))}
