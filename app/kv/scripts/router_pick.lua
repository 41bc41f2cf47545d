-- Pick a deployment by the routing strategy and reserve it, atomically (one round trip).
-- Releases of earlier calls ride along (applied first), so a request costs one round trip.
-- KEYS, 5 per candidate: cooldown, in-flight (zset token -> expiry ms), rpm (this minute),
--   tpm (this minute), latency (hash: avg seconds); then 3 per release: in-flight, tpm, latency
-- ARGV: strategy, now_ms, rnd [0,1), latency buffer, token, in-flight ttl ms, candidates n,
--   latency alpha, then 4 per candidate: rpm limit (-1 none), tpm limit (-1 none), weight,
--   cooled locally (0/1), then 3 per release: token, tokens, latency seconds (-1: none)
-- Returns the 1-based index of the pick, or 0 when every candidate is at its rpm/tpm limit.
-- The rules mirror app/router/strategies.py (choose); releases are router_done.lua's.
-- include: _releases
local strategy, now, rnd = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local buffer, token, ttl = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local n, alpha = tonumber(ARGV[7]), tonumber(ARGV[8])
local first_release = 9 + 4 * n
apply_releases(5 * n, first_release, (#ARGV - first_release + 1) / 3, alpha)
local usage = strategy == 'usage-based-routing' or strategy == 'usage-based-routing-v2'
local st = {}
for i = 1, n do
  local k, a = (i - 1) * 5, 8 + (i - 1) * 4
  local s = {rpm_limit = tonumber(ARGV[a + 1]), tpm_limit = tonumber(ARGV[a + 2]),
             weight = tonumber(ARGV[a + 3])}
  s.cooled = ARGV[a + 4] == '1' or redis.call('EXISTS', KEYS[k + 1]) == 1
  if strategy == 'least-busy' then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 2], '-inf', now)
    s.in_flight = redis.call('ZCARD', KEYS[k + 2])
  elseif usage then
    s.rpm = tonumber(redis.call('GET', KEYS[k + 3]) or '0')
    s.tpm = tonumber(redis.call('GET', KEYS[k + 4]) or '0')
  elseif strategy == 'latency-based-routing' then
    local lat = redis.call('HGET', KEYS[k + 5], 'avg')
    s.latency = lat and tonumber(lat) or nil
  end
  st[i] = s
end

local idx = {}
for i = 1, n do if not st[i].cooled then idx[#idx + 1] = i end end
if #idx == 0 then for i = 1, n do idx[#idx + 1] = i end end

local function any_of(list)
  return list[math.floor(rnd * #list) % #list + 1]
end

local function lowest(list, key)
  local best
  for _, i in ipairs(list) do
    local v = key(i)
    if best == nil or v < best then best = v end
  end
  local ties = {}
  for _, i in ipairs(list) do if key(i) == best then ties[#ties + 1] = i end end
  return any_of(ties)
end

local pick
if usage then
  local ok = {}
  for _, i in ipairs(idx) do
    local s = st[i]
    if (s.rpm_limit < 0 or s.rpm < s.rpm_limit) and (s.tpm_limit < 0 or s.tpm < s.tpm_limit) then
      ok[#ok + 1] = i
    end
  end
  if #ok == 0 then return 0 end
  pick = lowest(ok, function(i)
    local s, share = st[i], nil
    if s.rpm_limit > 0 then share = s.rpm / s.rpm_limit end
    if s.tpm_limit > 0 then
      local t = s.tpm / s.tpm_limit
      if share == nil or t > share then share = t end
    end
    if share == nil then return s.tpm + s.rpm end
    return share
  end)
elseif strategy == 'least-busy' then
  pick = lowest(idx, function(i) return st[i].in_flight end)
elseif strategy == 'latency-based-routing' then
  local fresh = {}
  for _, i in ipairs(idx) do if st[i].latency == nil then fresh[#fresh + 1] = i end end
  if #fresh > 0 then
    pick = any_of(fresh)
  else
    local best
    for _, i in ipairs(idx) do
      if best == nil or st[i].latency < best then best = st[i].latency end
    end
    local near = {}
    for _, i in ipairs(idx) do
      if st[i].latency <= best * (1 + buffer) then near[#near + 1] = i end
    end
    pick = any_of(near)
  end
else
  local total = 0
  for _, i in ipairs(idx) do total = total + st[i].weight end
  if total <= 0 then
    pick = any_of(idx)
  else
    local point = rnd * total
    pick = idx[#idx]
    for _, i in ipairs(idx) do
      point = point - st[i].weight
      if point < 0 then pick = i break end
    end
  end
end

local k = (pick - 1) * 5
redis.call('ZREMRANGEBYSCORE', KEYS[k + 2], '-inf', now)
redis.call('ZADD', KEYS[k + 2], now + ttl, token)
redis.call('PEXPIRE', KEYS[k + 2], ttl)
redis.call('INCR', KEYS[k + 3])
redis.call('EXPIRE', KEYS[k + 3], 120)
return pick
