-- End reservations (a batch, off the request path): drop each from in-flight, add its
-- tokens, update the latency moving average.
-- KEYS, 3 per release: in-flight zset, tpm (this minute), latency hash
-- ARGV: alpha (weight of a new sample), then 3 per release: token, tokens, latency seconds
--   (-1: no sample)
local alpha = tonumber(ARGV[1])
for r = 0, #KEYS / 3 - 1 do
  local k, a = 3 * r, 2 + 3 * r
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
return #KEYS / 3
