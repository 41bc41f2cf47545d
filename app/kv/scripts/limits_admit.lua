-- Check and reserve one call for up to three principals (key, team, user) atomically.
-- Per entity i (0-based) KEYS[4i+1..4i+4] = requests-this-minute, tokens-this-minute,
-- in-flight, spend-this-window; ARGV[1] = n, then per entity 6 values:
-- rpm, tpm, parallel, budget (-1 = no limit), spend seed (the database's figure, used only when
-- the spend key is missing), spend key TTL in seconds.
-- Returns {"ok", requests_1, tokens_1, ...} after reserving, or {reason, i, value} untouched.
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local a = 2 + i * 6
  local rpm, tpm, par, budget = tonumber(ARGV[a]), tonumber(ARGV[a + 1]),
                                tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local k = i * 4
  if budget >= 0 then
    local spent = redis.call('GET', KEYS[k + 4])
    if not spent then
      spent = ARGV[a + 4]
      redis.call('SET', KEYS[k + 4], spent, 'EX', tonumber(ARGV[a + 5]))
    end
    if tonumber(spent) >= budget then return {'budget', i, tostring(spent)} end
  end
  if rpm >= 0 and tonumber(redis.call('GET', KEYS[k + 1]) or '0') + 1 > rpm then
    return {'rpm', i, '0'}
  end
  if tpm >= 0 and tonumber(redis.call('GET', KEYS[k + 2]) or '0') >= tpm then
    return {'tpm', i, '0'}
  end
  if par >= 0 and tonumber(redis.call('GET', KEYS[k + 3]) or '0') + 1 > par then
    return {'parallel', i, '0'}
  end
end
local out = {'ok'}
for i = 0, n - 1 do
  local k = i * 4
  local requests = redis.call('INCR', KEYS[k + 1])
  if requests == 1 then redis.call('EXPIRE', KEYS[k + 1], 120) end
  if tonumber(ARGV[2 + i * 6 + 2]) >= 0 then
    redis.call('INCR', KEYS[k + 3])
    redis.call('EXPIRE', KEYS[k + 3], 900)
  end
  out[#out + 1] = requests
  out[#out + 1] = tonumber(redis.call('GET', KEYS[k + 2]) or '0')
end
return out
