-- Read the state of deployments for /router/status (never on the request path).
-- KEYS, 6 per deployment: cooldown, in-flight zset, rpm, tpm, latency hash, failures
-- ARGV: now ms. Returns per deployment:
--   {cooldown pttl, cooldown reason, in flight, rpm, tpm, failures, latency avg}
local now, out = tonumber(ARGV[1]), {}
for i = 0, #KEYS / 6 - 1 do
  local k = i * 6
  out[#out + 1] = {redis.call('PTTL', KEYS[k + 1]), redis.call('GET', KEYS[k + 1]),
                   redis.call('ZCOUNT', KEYS[k + 2], now, '+inf'),
                   redis.call('GET', KEYS[k + 3]), redis.call('GET', KEYS[k + 4]),
                   redis.call('GET', KEYS[k + 6]), redis.call('HGET', KEYS[k + 5], 'avg')}
end
return out
