"""The Redis-backed state (app/kv/scripts/router_*.lua) on the machine's real Redis."""
import random
import socket
import threading
import time

import pytest
import redis

from app import kv
from app.router import strategies
from app.router.state import LATENCY_ALPHA, State

from .helpers import Clock, deployments
from .proxy import RedisProxy

STRATEGIES = ["simple-shuffle", "least-busy", "latency-based-routing", "usage-based-routing-v2"]


def shared(url, clock=None):
    return State(kv.KV(url), clock or time.time)


def test_lua_pick_agrees_with_python_choose(redis_clean):
    """The script and strategies.choose pick the same deployment from the same state."""
    r = redis.Redis.from_url(redis_clean)
    rand = random.Random(7)
    clock = Clock(1_800_000_030.0)
    state = shared(redis_clean, clock)
    minute = int(clock() // 60)
    for trial in range(60):
        r.flushdb()
        specs = [{"id": f"t{trial}-{i}", "rpm": rand.choice([None, 3, 10]),
                  "weight": rand.choice([None, 1, 4])} for i in range(rand.randint(1, 4))]
        deps = deployments(*[{k: v for k, v in s.items() if v is not None} for s in specs])
        stats = []
        for d in deps:
            s = strategies.Stats(cooled=rand.random() < 0.3, in_flight=rand.randint(0, 3),
                                 rpm_used=rand.randint(0, 10),
                                 latency=rand.choice([None, 0.1, 0.2, 0.5]))
            stats.append(s)
            base = f"sb:router:{d.id}"
            if s.cooled:
                r.set(f"{base}:cd", "x", px=5000)
            for n in range(s.in_flight):
                r.zadd(f"{base}:if", {f"x{n}": clock() * 1000 + 60000})
            r.set(f"{base}:rpm:{minute}", s.rpm_used)
            if s.latency is not None:
                r.hset(f"{base}:lat", "avg", repr(s.latency))
        strategy = rand.choice(STRATEGIES)
        rnd = rand.random()
        want = strategies.choose(strategy, deps, stats, lambda: rnd, 0.1)
        got = state.reserve(strategy, deps, lambda: rnd, 0.1)
        assert (got.index if got else None) == want, (strategy, stats)


def test_every_key_has_a_ttl_and_the_db_number_is_honoured(redis_clean):
    state = shared(redis_clean)
    deps = deployments({"rpm": 5, "id": "ttl-a"}, {"id": "ttl-b"})
    res = state.reserve("usage-based-routing-v2", deps, lambda: 0.0, 0.0)
    state.release(deps[res.index].id, res, tokens=10, latency=0.1)
    res = state.reserve("least-busy", deps, lambda: 0.0, 0.0)  # left in flight
    for _ in range(4):
        state.failure("ttl-a", ["ttl-a", "ttl-b"], False, 2, 5.0, "server")
    state.flush()
    r = redis.Redis.from_url(redis_clean)
    keys = r.keys("*")
    assert keys, "nothing written to the session's db"
    assert all(r.pttl(k) > 0 for k in keys), {k: r.pttl(k) for k in keys}
    assert r.get("sb:router:ttl-a:cd") == b"server"
    db = int(redis_clean.rsplit("/", 1)[1])
    assert not redis.Redis(db=0 if db else 1).exists("sb:router:ttl-a:cd")


def test_cooldown_is_shared_and_never_the_last_deployment(redis_clean):
    a, b = shared(redis_clean), shared(redis_clean)
    deps = deployments({"id": "s-a"}, {"id": "s-b"})
    ids = ["s-a", "s-b"]
    assert a.failure("s-a", ids, True, 3, 5.0, "rate_limit")
    # instance b, which saw nothing, skips s-a at once
    assert {deps[b.reserve("simple-shuffle", deps, lambda: x / 10, 0.0).index].id
            for x in range(10)} == {"s-b"}
    # s-b is the last one up: instance b cannot cool it down
    assert not b.failure("s-b", ids, True, 3, 5.0, "rate_limit")
    status = b.status(deps)
    assert status["s-a"]["cooldown_reason"] == "rate_limit"
    assert 0 < status["s-a"]["cooldown_remaining"] <= 5.0
    assert status["s-b"]["cooldown_remaining"] is None


def test_rpm_limit_is_exact_under_concurrency_across_instances(redis_clean):
    deps = deployments({"rpm": 7, "id": "c-a"}, {"rpm": 5, "id": "c-b"})
    states = [shared(redis_clean) for _ in range(4)]
    got = []
    # stay inside one UTC minute
    if 60 - time.time() % 60 < 3:
        time.sleep(60 - time.time() % 60 + 0.1)

    def fire(state):
        for _ in range(10):
            got.append(state.reserve("usage-based-routing-v2", deps, random.random, 0.0))

    threads = [threading.Thread(target=fire, args=(s,)) for s in states]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    picked = [deps[g.index].id for g in got if g is not None]
    assert picked.count("c-a") == 7 and picked.count("c-b") == 5
    assert sum(g is None for g in got) == 40 - 12


def test_in_flight_is_shared_and_released(redis_clean):
    a, b = shared(redis_clean), shared(redis_clean)
    deps = deployments({"id": "f-a"}, {"id": "f-b"})
    first = a.reserve("least-busy", deps, lambda: 0.0, 0.0)
    second = b.reserve("least-busy", deps, lambda: 0.0, 0.0)
    assert first.index != second.index
    a.release(deps[first.index].id, first)
    # the release rides along with a's next reserve, or the flusher sends it within 50 ms
    deadline = time.monotonic() + 0.3
    while b.status(deps)[deps[first.index].id]["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert b.status(deps)[deps[first.index].id]["in_flight"] == 0
    assert b.status(deps)[deps[second.index].id]["in_flight"] == 1


@pytest.mark.parametrize("path", ["flush", "ride-along"])
def test_released_tokens_and_latency_are_shared(redis_clean, path):
    # Both scripts end reservations (router_done.lua in a batch, router_pick.lua before a
    # pick); each must add the tokens and fold the latency sample into the moving average.
    a, b = shared(redis_clean), shared(redis_clean)
    deps = deployments({"id": f"t-{path}"})
    for tokens, latency in ((500, 0.2), (300, 0.4)):
        res = a.reserve("simple-shuffle", deps, lambda: 0.0, 0.0)
        a.release(deps[0].id, res, tokens, latency)
        if path == "flush":
            a.flush()
    if path == "ride-along":
        a.reserve("simple-shuffle", deps, lambda: 0.0, 0.0)  # carries the last release
    row = b.status(deps)[deps[0].id]
    assert row["tpm_used"] == 800
    expected = 0.2 * (1 - LATENCY_ALPHA) + 0.4 * LATENCY_ALPHA
    assert row["latency_ms"] == pytest.approx(expected * 1000, abs=0.01)


@pytest.fixture
def refused_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"redis://127.0.0.1:{port}/3"


@pytest.fixture
def silent_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield f"redis://127.0.0.1:{sock.getsockname()[1]}/3"
    sock.close()


@pytest.mark.parametrize("which", ["refused_url", "silent_url"])
def test_redis_down_falls_back_to_local_state_fast(request, which):
    state = State(kv.KV(request.getfixturevalue(which), probe_interval=5), time.time)
    deps = deployments({"id": "d-a"}, {"id": "d-b"})
    t0 = time.monotonic()
    for _ in range(50):
        res = state.reserve("least-busy", deps, random.random, 0.0)
        state.release(deps[res.index].id, res, 1, 0.01)
    # cooldowns still work, from this process's state
    assert state.failure("d-a", ["d-a", "d-b"], True, 3, 5.0, "rate_limit")
    assert {deps[state.reserve("simple-shuffle", deps, lambda: x / 10, 0.0).index].id
            for x in range(10)} == {"d-b"}
    assert state.status(deps)["d-a"]["cooldown_reason"] == "rate_limit"
    assert time.monotonic() - t0 < 1.0
    state.kv.close()


def test_sharing_resumes_within_seconds_after_redis_comes_back(redis_clean):
    db = redis_clean.rsplit("/", 1)[1]
    proxy = RedisProxy()
    state = State(kv.KV(proxy.url(db), probe_interval=0.2), time.time)
    deps = deployments({"id": "back-a"})
    r = redis.Redis.from_url(redis_clean)
    def shared_picks():
        return int(r.get(f"sb:router:back-a:rpm:{int(time.time() // 60)}") or 0)

    assert state.reserve("least-busy", deps, random.random, 0.0).shared
    proxy.close()  # Redis "goes down"
    t0 = time.monotonic()
    assert not state.reserve("least-busy", deps, random.random, 0.0).shared
    assert not state.reserve("least-busy", deps, random.random, 0.0).shared
    assert time.monotonic() - t0 < 0.5
    proxy = RedisProxy(port=proxy.port)  # back on the same address
    try:
        before, t0 = shared_picks(), time.monotonic()
        while not state.reserve("least-busy", deps, random.random, 0.0).shared:
            assert time.monotonic() - t0 < 10
            time.sleep(0.05)
        assert shared_picks() > before or int(time.time()) % 60 < 1
    finally:
        proxy.close()
        state.kv.close()


def test_allowed_fails_are_counted_across_instances(redis_clean):
    a, b = shared(redis_clean), shared(redis_clean)
    ids = ["x-a", "x-b"]
    if 60 - time.time() % 60 < 1:  # failures are counted per UTC minute
        time.sleep(1.1)
    assert not a.failure("x-a", ids, False, 1, 5.0, "server")
    assert b.failure("x-a", ids, False, 1, 5.0, "server")  # 2 > allowed_fails across both
    assert a.status(deployments({"id": "x-a"}))["x-a"]["failures_this_minute"] == 2
