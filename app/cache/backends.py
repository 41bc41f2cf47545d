"""Where entries live: an in-process LRU (``type: local``) or Redis (``type: redis``).

Both store bytes under string keys with a time to live, and answer ``get_many`` / ``set_many``.
A read that could not reach the store returns ``UNREACHABLE`` (the request then goes to the
provider as if nothing were cached); a write that could not is dropped. Every Redis call runs
through ``KV.run``: bounded by ``socket_timeout`` and a circuit breaker, so a slow or dead Redis
costs a few milliseconds once, then nothing, until it answers again.
"""
import threading
import time
from collections import OrderedDict

UNREACHABLE = object()


class LocalStore:
    """A per-worker LRU bounded by entry count and total bytes; expired entries miss."""

    kind = "local"

    def __init__(self, max_entries, max_bytes):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries = OrderedDict()  # key -> (expires at, value)
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._entries)

    def get_many(self, keys):
        """Values (bytes or None) for keys, in order; a hit becomes the most recently used."""
        now = time.monotonic()
        out = []
        with self._lock:
            for key in keys:
                found = self._entries.get(key)
                if found is None:
                    out.append(None)
                elif found[0] <= now:
                    self._drop(key)
                    out.append(None)
                else:
                    self._entries.move_to_end(key)
                    out.append(found[1])
        return out

    def set_many(self, items, ttl):
        """Store (key, value) pairs for ``ttl`` seconds, evicting the least recently used."""
        expires = time.monotonic() + ttl
        with self._lock:
            for key, value in items:
                if len(value) > self.max_bytes:
                    continue
                if key in self._entries:
                    self._drop(key)
                self._entries[key] = (expires, value)
                self.bytes += len(value)
                while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
                    self._drop(next(iter(self._entries)))
        return True

    def _drop(self, key):
        self.bytes -= len(self._entries.pop(key)[1])


class RedisStore:
    """Entries in Redis (shared by every worker and instance), through the worker's KV."""

    kind = "redis"

    def __init__(self, kv):
        self.kv = kv

    def get_many(self, keys):
        """Values (bytes or None) for keys, in order, or UNREACHABLE."""
        if len(keys) == 1:
            key = keys[0]
            return self.kv.run(lambda r: [r.get(key)], UNREACHABLE)
        return self.kv.run(lambda r: r.mget(keys), UNREACHABLE)

    def set_many(self, items, ttl):
        """SET each pair with a TTL in one round trip; False when Redis was unreachable."""
        ms = max(1, int(ttl * 1000))
        if len(items) == 1:
            key, value = items[0]
            return self.kv.run(lambda r: r.set(key, value, px=ms), UNREACHABLE) \
                is not UNREACHABLE

        def write(r):
            pipe = r.pipeline(transaction=False)
            for key, value in items:
                pipe.set(key, value, px=ms)
            return pipe.execute()
        return self.kv.run(write, UNREACHABLE) is not UNREACHABLE
