"""The router's live state: cooldowns, in-flight requests, usage this minute, latency.

``State`` keeps it in Redis when the router has a ``KV`` (shared by every worker and instance)
and in this process otherwise. Hot path: ``reserve`` is ONE Redis round trip (the
``router_pick`` script reads the candidates' state, picks by the strategy and reserves the pick
atomically, so rpm limits hold across instances). ``release`` costs no round trip of its own:
releases queue up and ride along with the next ``reserve`` of this worker, or a flusher sends
the leftovers every FLUSH_INTERVAL (so in-flight counts drop within ~50 ms when idle).
``failure`` runs after the answer. When Redis fails (the KV breaker is open), every method
answers from the in-process ``Local`` state at once; cooldowns are always mirrored there, so
they keep working.
"""
import atexit
import itertools
import os
import threading
import time
from dataclasses import dataclass

from app.router import strategies

LATENCY_ALPHA = 0.3  # weight of a new sample in the moving average
IN_FLIGHT_TTL = 900.0  # a reservation whose release was lost (killed worker) expires
FLUSH_INTERVAL = 0.05
MAX_RIDERS = 64  # releases carried by one reserve at most
_tokens = itertools.count()


@dataclass
class Reservation:
    """A picked deployment, reserved until ``State.release``."""

    index: int
    token: str
    shared: bool  # reserved in Redis (else in this process)
    t0: float


class _Dep:
    """One deployment's in-process state."""

    __slots__ = ("cool_until", "reason", "in_flight", "minute", "rpm", "tpm", "fails", "latency")

    def __init__(self):
        self.cool_until, self.reason = 0.0, None
        self.in_flight = {}
        self.minute, self.rpm, self.tpm, self.fails = 0, 0, 0, 0
        self.latency = None

    def roll(self, minute):
        """Start a new UTC minute's counters."""
        if minute != self.minute:
            self.minute, self.rpm, self.tpm, self.fails = minute, 0, 0, 0


class Local:
    """State of this process only (no Redis, or Redis down). ``clock`` is injectable."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self.deps = {}
        self.lock = threading.Lock()

    def dep(self, dep_id):
        """The (created on first use) state of one deployment, counters of this minute."""
        state = self.deps.get(dep_id)
        if state is None:
            state = self.deps[dep_id] = _Dep()
        state.roll(int(self.clock() // 60))
        return state

    def stats(self, dep_id):
        """Stats for the strategies."""
        d, now = self.dep(dep_id), self.clock()
        return strategies.Stats(d.cool_until > now, len(d.in_flight), d.rpm, d.tpm, d.latency)

    def reserve(self, strategy, deps, rng, buffer, token):
        """Pick and reserve atomically (one lock); None when all are at their limits."""
        with self.lock:
            if len(deps) == 1 and not (strategy in strategies.USAGE_BASED
                                       and (deps[0].rpm is not None or deps[0].tpm is not None)):
                index = 0  # what choose() returns for a lone deployment without hard limits
            else:
                index = strategies.choose(strategy, deps, [self.stats(d.id) for d in deps],
                                          rng, buffer)
            if index is not None:
                d = self.dep(deps[index].id)
                d.in_flight[token] = self.clock() + IN_FLIGHT_TTL
                d.rpm += 1
            return index

    def release(self, dep_id, token, tokens, latency):
        """End a reservation; add its tokens and latency sample."""
        d = self.dep(dep_id)
        d.in_flight.pop(token, None)
        d.tpm += tokens
        if latency is not None:
            d.latency = latency if d.latency is None else \
                d.latency * (1 - LATENCY_ALPHA) + latency * LATENCY_ALPHA

    def failure(self, dep_id, group_ids, at_once, allowed, cooldown, reason):
        """Count a failure; cool down if due and another group member is still up."""
        with self.lock:
            d = self.dep(dep_id)
            d.fails += 1
            if not (at_once or d.fails > allowed):
                return False
            return self.cool(dep_id, group_ids, cooldown, reason)

    def cool(self, dep_id, group_ids, seconds, reason):
        """Cool ``dep_id`` down unless that would leave its group without a deployment."""
        now = self.clock()
        d = self.dep(dep_id)
        if seconds <= 0:
            return False
        if d.cool_until > now:
            return True
        if not any(self.dep(o).cool_until <= now for o in group_ids if o != dep_id):
            return False
        d.cool_until, d.reason = now + seconds, reason
        return True

    def status(self, dep_id):
        """The status fields of one deployment."""
        d, now = self.dep(dep_id), self.clock()
        left = d.cool_until - now
        return {"cooldown_remaining": round(left, 3) if left > 0 else None,
                "cooldown_reason": d.reason if left > 0 else None,
                "in_flight": len(d.in_flight), "requests_this_minute": d.rpm,
                "failures_this_minute": d.fails, "rpm_used": d.rpm, "tpm_used": d.tpm,
                "latency_ms": round(d.latency * 1000, 3) if d.latency is not None else None}


def _keys(dep_id, minute):
    base = f"sb:router:{dep_id}"
    return (f"{base}:cd", f"{base}:if", f"{base}:rpm:{minute}", f"{base}:tpm:{minute}",
            f"{base}:lat", f"{base}:fail:{minute}")


class State:
    """Redis-backed state with the in-process fallback (see the module docstring)."""

    def __init__(self, kv=None, clock=time.time):
        self.kv = kv
        self.local = Local(clock)
        self.clock = clock
        self.prefix = f"{os.getpid()}-{id(self):x}-"
        self.pending = []  # (keys, args) of releases not yet sent to Redis
        self._static = {}  # deployment id -> (key prefix, (rpm limit, tpm limit, weight))
        self._pending_lock = threading.Lock()
        self.flusher = None

    def reserve(self, strategy, deps, rng, buffer):
        """A Reservation of one of ``deps``, or None when all are at their rpm/tpm limits."""
        token = self.prefix + str(next(_tokens))
        t0 = time.perf_counter()
        if self.kv is not None:
            index = self._reserve_shared(strategy, deps, rng(), buffer, token)
            if index is not _DOWN:
                return None if index is None else Reservation(index, token, True, t0)
        index = self.local.reserve(strategy, deps, rng, buffer, token)
        return None if index is None else Reservation(index, token, False, t0)

    def _reserve_shared(self, strategy, deps, rnd, buffer, token):
        now = self.clock()
        minute = int(now // 60)
        keys, args = [], [strategy, int(now * 1000), repr(rnd), repr(buffer), token,
                          int(IN_FLIGHT_TTL * 1000), len(deps), LATENCY_ALPHA]
        local = self.local
        for d in deps:
            static = self._static.get(d.id)
            if static is None:
                static = self._static[d.id] = (
                    f"sb:router:{d.id}:", (_limit(d.rpm), _limit(d.tpm), strategies.weight(d)))
            base = static[0]
            keys += (base + "cd", base + "if", f"{base}rpm:{minute}", f"{base}tpm:{minute}",
                     base + "lat")
            args += static[1]
            args.append(1 if local.dep(d.id).cool_until > now else 0)
        riders = self._take(MAX_RIDERS)
        for rkeys, rargs in riders:
            keys.extend(rkeys)
            args.extend(rargs)
        got = self.kv.script("router_pick", keys, args, fallback=_DOWN)
        if got is _DOWN:
            self._requeue(riders)  # sent again when Redis answers
            return _DOWN
        return None if got == 0 else int(got) - 1

    def release(self, dep_id, res, tokens=0, latency=None):
        """End a reservation (after the answer, streams included); no round trip of its own."""
        if res.shared and self.kv is not None:
            base = f"sb:router:{dep_id}"
            entry = ((f"{base}:if", f"{base}:tpm:{int(self.clock() // 60)}", f"{base}:lat"),
                     (res.token, int(tokens or 0), -1 if latency is None else repr(latency)))
            with self._pending_lock:
                self.pending.append(entry)
            if self.flusher is None:
                self.flusher = threading.Thread(target=self._flush_loop, name="router-flush",
                                                daemon=True)
                self.flusher.start()
                atexit.register(self.flush)  # a worker's last releases are not lost
            return
        self.local.release(dep_id, res.token, tokens or 0, latency)

    def _take(self, limit):
        if not self.pending:
            return []
        with self._pending_lock:
            taken, self.pending[:limit] = self.pending[:limit], []
        return taken

    def _requeue(self, entries):
        with self._pending_lock:
            self.pending[:0] = entries

    def flush(self):
        """Send the queued releases now (one round trip); True when nothing is left."""
        batch = self._take(256)
        if not batch:
            return True
        keys = [k for rkeys, _ in batch for k in rkeys]
        args = [LATENCY_ALPHA] + [a for _, rargs in batch for a in rargs]
        if self.kv.script("router_done", keys, args, fallback=_DOWN) is _DOWN:
            self._requeue(batch)
            return True  # Redis is down: wait for the next round
        return not self.pending

    def _flush_loop(self):
        while True:
            time.sleep(FLUSH_INTERVAL)
            while not self.flush():
                pass

    def failure(self, dep_id, group_ids, at_once, allowed, cooldown, reason):
        """Count a failure everywhere; True if the deployment is now cooled down."""
        cooled = self.local.failure(dep_id, group_ids, at_once, allowed, cooldown, reason)
        if self.kv is None:
            return cooled
        minute = int(self.clock() // 60)
        mine = _keys(dep_id, minute)
        keys = [mine[5], mine[0]] + [_keys(o, minute)[0] for o in group_ids if o != dep_id]
        args = [1 if at_once else 0, allowed, int(cooldown * 1000), reason]
        shared = self.kv.script("router_fail", keys, args, fallback=_DOWN)
        return cooled if shared is _DOWN else bool(shared)

    def status(self, deps):
        """Status fields per deployment id (Redis when it answers, else this process)."""
        out = {d.id: self.local.status(d.id) for d in deps}
        if self.kv is None or not deps:
            return out
        minute = int(self.clock() // 60)
        keys = [k for d in deps for k in _keys(d.id, minute)]
        rows = self.kv.script("router_status", keys, [int(self.clock() * 1000)], fallback=None)
        for d, row in zip(deps, rows or [None] * len(deps), strict=True):
            if row is None:
                break
            out[d.id] = _status_row(row)
        return out


def _status_row(row):
    pttl, reason, in_flight, rpm, tpm, fails, lat = row
    cooling = pttl is not None and int(pttl) > 0
    rpm = int(rpm or 0)
    return {"cooldown_remaining": round(int(pttl) / 1000, 3) if cooling else None,
            "cooldown_reason": _text(reason) if cooling else None,
            "in_flight": int(in_flight or 0), "requests_this_minute": rpm,
            "failures_this_minute": int(fails or 0), "rpm_used": rpm, "tpm_used": int(tpm or 0),
            "latency_ms": round(float(lat) * 1000, 3) if lat else None}


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _limit(value):
    return -1 if value is None else int(value)


_DOWN = object()
