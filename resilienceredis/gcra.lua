-- A GCRA over one quota, granting a lease of up to ARGV[3] units at once.
-- KEYS[1]: the quota's theoretical arrival time, in microseconds of Redis's
-- clock. ARGV[1]: microseconds per unit (may be fractional). ARGV[2]: burst,
-- in units. ARGV[3]: units wanted. Returns {granted, microseconds until one
-- more unit is available}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local per = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
if per == nil or burst == nil or want == nil or per <= 0 or burst < 1 or want < 0 then
  return redis.error_reply('resilienceredis: bad arguments')
end
local tat = now
local v = redis.call('GET', KEYS[1])
if v then
  local x = tonumber(v)
  if x == nil or x ~= x then
    return redis.error_reply('resilienceredis: ' .. KEYS[1] .. ' holds no number')
  end
  if x > now then tat = x end
end
local tau = burst * per
if tat > now + tau + per then
  return redis.error_reply('resilienceredis: ' .. KEYS[1] .. ' lies beyond the burst')
end
local avail = math.floor((now + tau - tat) / per)
if avail > burst then avail = burst end
if avail < 0 then avail = 0 end
local grant = want
if grant > avail then grant = avail end
if grant > 0 then
  tat = tat + grant * per
  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.floor((tat - now) / 1000) + 1)
end
local wait = tat + per - tau - now
if wait < 0 then wait = 0 end
return {grant, math.ceil(wait)}
