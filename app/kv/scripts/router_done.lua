-- End reservations (a batch, off the request path): drop each from in-flight, add its
-- tokens, update the latency moving average.
-- KEYS, 3 per release: in-flight zset, tpm (this minute), latency hash
-- ARGV: alpha (weight of a new sample), then 3 per release: token, tokens, latency seconds
--   (-1: no sample)
-- include: _releases
apply_releases(0, 2, #KEYS / 3, tonumber(ARGV[1]))
return #KEYS / 3
