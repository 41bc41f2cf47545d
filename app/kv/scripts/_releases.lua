-- Shared by router_pick.lua and router_done.lua: each inlines this file where it says
-- "-- include: _releases" (app/kv script_text), since Redis scripts cannot import.
-- End ``count`` router reservations: 3 KEYS each from KEYS[kbase + 1] (in-flight zset, tpm of
-- this minute, latency hash) and 3 ARGV each from ARGV[abase] (token, tokens, latency seconds
-- or -1 for no sample): drop the token from in-flight, add the tokens, update the latency
-- moving average with weight ``alpha`` for the new sample.
local function apply_releases(kbase, abase, count, alpha)
  for r = 0, count - 1 do
    local k, a = kbase + 3 * r, abase + 3 * r
    redis.call('ZREM', KEYS[k + 1], ARGV[a])
    local tokens = tonumber(ARGV[a + 1])
    if tokens > 0 then
      redis.call('INCRBY', KEYS[k + 2], tokens)
      redis.call('EXPIRE', KEYS[k + 2], 120)
    end
    local sample = tonumber(ARGV[a + 2])
    if sample >= 0 then
      local avg = tonumber(redis.call('HGET', KEYS[k + 3], 'avg') or '')
      if avg then sample = avg * (1 - alpha) + sample * alpha end
      redis.call('HSET', KEYS[k + 3], 'avg', tostring(sample))
      redis.call('EXPIRE', KEYS[k + 3], 3600)
    end
  end
end
