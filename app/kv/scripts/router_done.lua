-- End a reservation: drop it from in-flight, add the call's tokens, update the latency average.
-- KEYS: in-flight zset, tpm (this minute), latency hash
-- ARGV: token, tokens, latency seconds (-1: no sample), alpha (weight of the new sample)
redis.call('ZREM', KEYS[1], ARGV[1])
local tokens = tonumber(ARGV[2])
if tokens > 0 then
  redis.call('INCRBY', KEYS[2], tokens)
  redis.call('EXPIRE', KEYS[2], 120)
end
local sample = tonumber(ARGV[3])
if sample >= 0 then
  local avg = tonumber(redis.call('HGET', KEYS[3], 'avg') or '')
  local alpha = tonumber(ARGV[4])
  if avg then sample = avg * (1 - alpha) + sample * alpha end
  redis.call('HSET', KEYS[3], 'avg', tostring(sample))
  redis.call('EXPIRE', KEYS[3], 3600)
end
return 1
