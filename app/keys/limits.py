"""Rate limits and budgets: one atomic check-and-reserve before a call, one record after it.

Counters per principal (key, team, user): requests and tokens of the current minute, calls in
flight, and spend of the current budget window. With Redis they live there and both steps are
one Lua script each (``limits_admit``, ``limits_settle``): exact across every instance. Without
Redis, or while it is down, ``LocalCounters`` runs the same rules in a small SQLite file shared by
the workers of this host (one ``BEGIN IMMEDIATE`` transaction per step), so they stay exact
across the gunicorn workers of one instance.
"""
import logging
import random
import sqlite3
import threading
import time

log = logging.getLogger("switchboard.keys")

NO_LIMIT = -1
PARALLEL_TTL = 900
SPEND_TTL = 30 * 86400  # budgets without a window: refreshed on every call
_UNAVAILABLE = object()


class Entity:
    """What one principal (key, team or user) is limited by, plus its spend seed."""

    __slots__ = ("kind", "id", "rpm", "tpm", "parallel", "budget", "duration_ms", "anchor_ms",
                 "seed", "seed_window", "prefix")

    def __init__(self, kind, ident, rpm=None, tpm=None, parallel=None, budget=None,
                 duration_ms=None, anchor_ms=0, seed=0.0, seed_window=0):
        self.kind, self.id = kind, ident
        self.rpm, self.tpm, self.parallel, self.budget = rpm, tpm, parallel, budget
        self.duration_ms, self.anchor_ms = duration_ms, anchor_ms
        self.seed, self.seed_window = seed, seed_window
        self.prefix = f"sb:lim:{kind}:{ident}"

    def window(self, now_ms):
        """(index, end ms or None) of the budget window holding ``now_ms``."""
        from app.keys.durations import window
        return window(self.anchor_ms, self.duration_ms, now_ms)

    def seed_for(self, index):
        """The database's spend for window ``index`` (0 when it describes another window)."""
        return self.seed if index == self.seed_window else 0.0

    def spend_ttl(self, now_ms):
        """Seconds the spend counter of the current window must live."""
        end = self.window(now_ms)[1]
        return SPEND_TTL if end is None else max(1, (end - now_ms) // 1000 + 60)

    def names(self, now_ms):
        """Counter names: (requests, tokens, in flight, spend) for this minute and window."""
        minute = now_ms // 60000
        p = self.prefix
        return (f"{p}:r:{minute}", f"{p}:t:{minute}", f"{p}:p",
                f"{p}:s:{self.window(now_ms)[0]}")


class Verdict:
    """The outcome of ``admit``: ok, or the reason and the entity that refused."""

    __slots__ = ("ok", "reason", "entity", "value", "counts", "backend", "now_ms")

    def __init__(self, ok, reason=None, entity=None, value=0.0, counts=(), backend=None,
                 now_ms=0):
        self.ok, self.reason, self.entity, self.value = ok, reason, entity, value
        self.counts, self.backend, self.now_ms = counts, backend, now_ms


def _lim(value):
    return NO_LIMIT if value is None else value


def admit_args(entities, now_ms):
    """KEYS and ARGV of limits_admit."""
    keys, args = [], [len(entities)]
    for e in entities:
        keys.extend(e.names(now_ms))
        index = e.window(now_ms)[0]
        args.extend([_lim(e.rpm), _lim(e.tpm), _lim(e.parallel), _lim(e.budget),
                     repr(float(e.seed_for(index))), e.spend_ttl(now_ms)])
    return keys, args


def settle_args(entities, now_ms, tokens, spend, released):
    """KEYS and ARGV of limits_settle."""
    keys, args = [], [len(entities), int(tokens), repr(float(spend))]
    for e in entities:
        _r, t, p, s = e.names(now_ms)
        keys.extend([t, p, s])
        args.extend(["1" if released and e.parallel is not None else "0",
                     repr(float(e.seed_for(e.window(now_ms)[0]))), e.spend_ttl(now_ms)])
    return keys, args


def verdict_of(result, entities, backend, now_ms):
    """A Verdict from the script's reply."""
    head = result[0].decode() if isinstance(result[0], bytes) else result[0]
    if head == "ok":
        counts = [(int(result[i]), int(result[i + 1])) for i in range(1, len(result), 2)]
        return Verdict(True, counts=counts, backend=backend, now_ms=now_ms)
    value = result[2].decode() if isinstance(result[2], bytes) else result[2]
    return Verdict(False, head, entities[int(result[1])], float(value), backend=backend,
                   now_ms=now_ms)


class _Script:
    """One of app/kv/scripts run with EVALSHA straight on a pooled connection.

    redis-py's client layer costs about as much CPU as the round trip itself (~50 us per call
    in redis-py 8); on the request path, twice per call, that is worth skipping. Runs inside
    ``KV.run`` (timeouts and the circuit breaker stay the same).
    """

    def __init__(self, name):
        from app.kv import script_text
        self.text = script_text(name)
        import hashlib
        self.sha = hashlib.sha1(self.text.encode()).hexdigest()

    def __call__(self, client, keys, args):
        from redis.exceptions import NoScriptError
        pool = client.connection_pool
        conn = pool.get_connection()
        try:
            conn.send_command("EVALSHA", self.sha, len(keys), *keys, *args)
            try:
                return conn.read_response()
            except NoScriptError:  # a restarted or flushed Redis: load it once, run again
                conn.send_command("SCRIPT", "LOAD", self.text)
                conn.read_response()
                conn.send_command("EVALSHA", self.sha, len(keys), *keys, *args)
                return conn.read_response()
        except BaseException:
            conn.disconnect()  # never hand back a connection with a reply still pending
            raise
        finally:
            pool.release(conn)


class RedisCounters:
    """The counters in Redis (exact across instances)."""

    name = "redis"

    def __init__(self, kv):
        self.kv = kv
        self._admit, self._settle = _Script("limits_admit"), _Script("limits_settle")

    def admit(self, entities, now_ms):
        """Check and reserve; None when Redis is unavailable."""
        keys, args = admit_args(entities, now_ms)
        result = self.kv.run(lambda r: self._admit(r, keys, args), fallback=_UNAVAILABLE)
        return None if result is _UNAVAILABLE else verdict_of(result, entities, self, now_ms)

    def settle(self, entities, now_ms, tokens, spend, released):
        """Record tokens and spend, release slots; False when Redis is unavailable."""
        keys, args = settle_args(entities, now_ms, tokens, spend, released)
        return self.kv.run(lambda r: self._settle(r, keys, args), fallback=_UNAVAILABLE) \
            is not _UNAVAILABLE

    def spend(self, entity, now_ms):
        """The entity's spend in the current window, or None when unknown here."""
        name = entity.names(now_ms)[3]
        value = self.kv.run(lambda r: r.get(name), fallback=_UNAVAILABLE)
        return None if value is _UNAVAILABLE or value is None else float(value)


class LocalCounters:
    """The same counters in a SQLite file shared by this host's workers (BEGIN IMMEDIATE)."""

    name = "local"

    def __init__(self, path):
        self.path = str(path)
        self._conn = None
        # One connection per process: a transaction is a few microseconds of C calls that
        # never yield to another greenlet, so sharing it behind a lock costs nothing.
        self._lock = threading.Lock()

    def _db(self):
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=5, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, "
                         "value REAL NOT NULL, expires REAL NOT NULL)")
            self._conn = conn
        return self._conn

    def _tx(self, fn):
        with self._lock:
            return self._locked_tx(fn)

    def _locked_tx(self, fn):
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(_Table(conn, time.time()))
            if random.random() < 0.001:  # expired rows are ignored; drop them now and then
                conn.execute("DELETE FROM counters WHERE expires < ?", (time.time(),))
            conn.execute("COMMIT")
            return result
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def admit(self, entities, now_ms):
        """Check and reserve (the rules of limits_admit.lua)."""
        return self._tx(lambda t: self._admit(t, entities, now_ms))

    def _admit(self, t, entities, now_ms):
        for e in entities:
            r, tk, p, s = e.names(now_ms)
            if e.budget is not None:
                spent = t.get(s)
                if spent is None:
                    spent = e.seed_for(e.window(now_ms)[0])
                    t.set(s, spent, e.spend_ttl(now_ms))
                if spent >= e.budget:
                    return Verdict(False, "budget", e, spent, backend=self, now_ms=now_ms)
            if e.rpm is not None and (t.get(r) or 0) + 1 > e.rpm:
                return Verdict(False, "rpm", e, backend=self, now_ms=now_ms)
            if e.tpm is not None and (t.get(tk) or 0) >= e.tpm:
                return Verdict(False, "tpm", e, backend=self, now_ms=now_ms)
            if e.parallel is not None and (t.get(p) or 0) + 1 > e.parallel:
                return Verdict(False, "parallel", e, backend=self, now_ms=now_ms)
        counts = []
        for e in entities:
            r, tk, p, _s = e.names(now_ms)
            requests = t.add(r, 1, 120)
            if e.parallel is not None:
                t.add(p, 1, PARALLEL_TTL)
            counts.append((int(requests), int(t.get(tk) or 0)))
        return Verdict(True, counts=counts, backend=self, now_ms=now_ms)

    def settle(self, entities, now_ms, tokens, spend, released):
        """Record tokens and spend, release slots (the rules of limits_settle.lua)."""
        def run(t):
            for e in entities:
                _r, tk, p, s = e.names(now_ms)
                if tokens > 0:
                    t.add(tk, tokens, 120)
                if released and e.parallel is not None:
                    t.set(p, max(0.0, (t.get(p) or 0) - 1), PARALLEL_TTL)
                if t.get(s) is None:
                    t.set(s, e.seed_for(e.window(now_ms)[0]), e.spend_ttl(now_ms))
                t.add(s, spend, e.spend_ttl(now_ms))
            return True
        return self._tx(run)

    def spend(self, entity, now_ms):
        """The entity's spend in the current window, or None when unknown here."""
        return self._tx(lambda t: t.get(entity.names(now_ms)[3]))


class _Table:
    """get/set/add on the counters table inside one transaction."""

    def __init__(self, conn, now):
        self.conn, self.now = conn, now

    def get(self, name):
        row = self.conn.execute("SELECT value FROM counters WHERE name = ? AND expires >= ?",
                                (name, self.now)).fetchone()
        return None if row is None else row[0]

    def set(self, name, value, ttl):
        self.conn.execute("INSERT OR REPLACE INTO counters VALUES (?, ?, ?)",
                          (name, float(value), self.now + ttl))

    def add(self, name, amount, ttl):
        value = (self.get(name) or 0) + amount
        self.set(name, value, ttl)
        return value


class Limiter:
    """Redis when configured and up, else the host-local counters (same interface)."""

    def __init__(self, kv, local):
        self.redis = RedisCounters(kv) if kv is not None else None
        self.local = local

    def admit(self, entities, now_ms=None):
        """Check every limit of ``entities`` and reserve the call, atomically -> Verdict."""
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        if self.redis is not None:
            verdict = self.redis.admit(entities, now_ms)
            if verdict is not None:
                return verdict
        return self.local.admit(entities, now_ms)

    def settle(self, verdict, entities, tokens, spend, released=True):
        """Record a finished call where it was admitted (else wherever is up)."""
        now_ms = int(time.time() * 1000)
        backend = verdict.backend if verdict is not None else None
        if backend is not self.local and self.redis is not None:
            if self.redis.settle(entities, now_ms, tokens, spend, released):
                return
            released = released and backend is not self.redis
        self.local.settle(entities, now_ms, tokens, spend, released)

    def spend(self, entity, now_ms=None):
        """Spend of the entity's current window as the counters know it (None: not known)."""
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        if self.redis is not None and self.redis.kv.available:
            value = self.redis.spend(entity, now_ms)
            if value is not None or self.redis.kv.available:
                return value
        return self.local.spend(entity, now_ms)
