-- Count a deployment failure this minute; cool the deployment down when due, unless every
-- other deployment of its group is cooled down already (never a total outage).
-- KEYS: failures (this minute), cooldown, then the cooldown keys of the group's other members
-- ARGV: at once (0/1), allowed fails, cooldown ms, reason
-- Returns 1 when the deployment is (now) cooled down, else 0.
local fails = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], 120)
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
if ARGV[1] ~= '1' and fails <= tonumber(ARGV[2]) then return 0 end
local ms = tonumber(ARGV[3])
if ms <= 0 then return 0 end
for j = 3, #KEYS do
  if redis.call('EXISTS', KEYS[j]) == 0 then
    redis.call('SET', KEYS[2], ARGV[4], 'PX', ms)
    return 1
  end
end
return 0
