"""The counters: limits_admit/limits_settle against real Redis, and the host-local SQLite twin.

Both backends run the same cases with a controllable clock (``now_ms``).
"""
import pytest

from app.keys.durations import parse_ms, window
from app.keys.limits import Entity, LocalCounters, RedisCounters, admit_args

T0 = 1_800_000_000_000 - 1_800_000_000_000 % 60000  # the start of a minute


@pytest.fixture(params=["redis", "local"])
def counters(request, tmp_path):
    if request.param == "local":
        return LocalCounters(tmp_path / "limits.db")
    from app.kv import KV
    url = request.getfixturevalue("redis_clean")
    return RedisCounters(KV(url, socket_timeout=1.0))


def test_rpm_is_exact_and_counts_reported(counters):
    e = Entity("key", "k1", rpm=3)
    got = [counters.admit([e], T0 + i) for i in range(4)]
    assert [v.ok for v in got] == [True, True, True, False]
    assert [v.counts[0][0] for v in got[:3]] == [1, 2, 3]
    assert got[3].reason == "rpm" and got[3].entity is e
    assert counters.admit([e], T0 + 60_000).ok  # the next minute starts again


def test_tpm_counts_reported_tokens(counters):
    e = Entity("key", "k2", tpm=100)
    v = counters.admit([e], T0)
    assert v.ok
    counters.settle([e], T0 + 1, 60, 0.0, True)
    assert counters.admit([e], T0 + 2).counts[0][1] == 60
    counters.settle([e], T0 + 3, 40, 0.0, True)
    refused = counters.admit([e], T0 + 4)
    assert not refused.ok and refused.reason == "tpm"


def test_parallel_slot_held_until_settled(counters):
    e = Entity("key", "k3", parallel=1)
    assert counters.admit([e], T0).ok
    refused = counters.admit([e], T0 + 1)
    assert not refused.ok and refused.reason == "parallel"
    counters.settle([e], T0 + 2, 0, 0.0, True)
    assert counters.admit([e], T0 + 3).ok


def test_refusal_by_the_team_reserves_nothing_for_the_key(counters):
    key, team = Entity("key", "k4", rpm=10, parallel=5), Entity("team", "t4", rpm=1)
    assert counters.admit([key, team], T0).ok
    refused = counters.admit([key, team], T0 + 1)
    assert refused.reason == "rpm" and refused.entity is team
    # The key's own counters did not move on the refused call.
    assert counters.admit([key], T0 + 2).counts[0][0] == 2


def test_budget_counts_spend_and_resets_with_its_window(counters):
    d = parse_ms("5s")
    anchor = T0 + 123
    e = Entity("user", "u1", budget=1.0, duration_ms=d, anchor_ms=anchor)
    assert counters.admit([e], anchor + 10).ok
    counters.settle([e], anchor + 20, 10, 0.6, True)
    assert counters.admit([e], anchor + 30).ok
    counters.settle([e], anchor + 40, 10, 0.6, True)
    refused = counters.admit([e], anchor + 50)
    assert refused.reason == "budget" and refused.value == pytest.approx(1.2)
    assert counters.spend(e, anchor + 60) == pytest.approx(1.2)
    assert not counters.admit([e], anchor + d - 1).ok  # not before the window ends
    assert counters.admit([e], anchor + d).ok         # the next window starts at zero
    assert counters.spend(e, anchor + d + 1) == pytest.approx(0.0)


def test_spend_seed_from_the_database_applies_to_its_window_only(counters):
    d = parse_ms("1m")
    e = Entity("key", "k5", budget=1.0, duration_ms=d, anchor_ms=T0, seed=1.5, seed_window=0)
    assert counters.admit([e], T0 + 1).reason == "budget"
    assert counters.admit([e], T0 + d + 1).ok


def test_windows_start_at_the_anchor():
    assert window(1000, 5000, 1000) == (0, 6000)
    assert window(1000, 5000, 5999) == (0, 6000)
    assert window(1000, 5000, 6000) == (1, 11000)
    assert window(1000, None, 10**12) == (0, None)


def test_admit_args_name_no_secret():
    e = Entity("key", "a" * 64, rpm=1, budget=2.0)
    keys, args = admit_args([e], T0)
    assert all(k.startswith("sb:lim:key:" + "a" * 64) for k in keys)
    assert args[:5] == [1, 1, -1, -1, 2.0]


def test_limiter_falls_back_to_local_counters_while_redis_is_down(tmp_path):
    import socket

    from app.keys.limits import Limiter
    from app.kv import KV
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        kv = KV(f"redis://127.0.0.1:{sock.getsockname()[1]}/1", probe_interval=60)
        limiter = Limiter(kv, LocalCounters(tmp_path / "limits.db"))
        e = Entity("key", "k9", rpm=2, parallel=5)
        got = [limiter.admit([e], T0 + i) for i in range(3)]
        assert [v.ok for v in got] == [True, True, False]
        assert all(v.backend is limiter.local for v in got) and not kv.available
        limiter.settle(got[0], [e], 5, 0.5)
        assert limiter.spend(e, int(__import__("time").time() * 1000)) == 0.5
        kv.close()


def test_scripts_are_loaded_again_after_a_redis_restart(redis_clean):
    from app.kv import KV
    kv = KV(redis_clean, socket_timeout=1.0)
    counters = RedisCounters(kv)
    e = Entity("key", "k10", rpm=5)
    assert counters.admit([e], T0).ok
    kv.redis.script_flush()
    assert counters.admit([e], T0 + 1).counts[0][0] == 2 and kv.available
    kv.close()
