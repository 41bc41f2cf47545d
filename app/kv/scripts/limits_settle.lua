-- Record one finished call for up to three principals and release their in-flight slots.
-- Per entity i KEYS[3i+1..3i+3] = tokens-this-minute, in-flight, spend-this-window;
-- ARGV[1] = n, ARGV[2] = tokens, ARGV[3] = spend (USD), then per entity 3 values:
-- release (1 when admit took a slot), spend seed (used when the spend key is missing),
-- spend key TTL in seconds. Returns the spend of each entity's window after the call.
local n, tokens, spend = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 0, n - 1 do
  local k, a = i * 3, 4 + i * 3
  if tokens > 0 then
    redis.call('INCRBY', KEYS[k + 1], tokens)
    redis.call('EXPIRE', KEYS[k + 1], 120)
  end
  if ARGV[a] == '1' then
    if redis.call('DECR', KEYS[k + 2]) < 0 then redis.call('SET', KEYS[k + 2], 0, 'EX', 900) end
  end
  if redis.call('EXISTS', KEYS[k + 3]) == 0 then
    redis.call('SET', KEYS[k + 3], ARGV[a + 1], 'EX', tonumber(ARGV[a + 2]))
  end
  local total = ARGV[a + 1]
  if spend > 0 then
    total = redis.call('INCRBYFLOAT', KEYS[k + 3], ARGV[3])
  else
    total = redis.call('GET', KEYS[k + 3])
  end
  redis.call('EXPIRE', KEYS[k + 3], tonumber(ARGV[a + 2]))
  out[#out + 1] = tostring(total)
end
return out
