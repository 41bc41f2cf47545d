"""Cooldown rules and counters of the in-process state, on a hand-moved clock."""
from app.router.state import Local, State

from .helpers import Clock, deployments

GROUP = ["a", "b"]


def test_cooldown_after_more_than_allowed_fails_within_a_minute():
    clock = Clock(1_800_000_000.0)  # a minute boundary
    local = Local(clock)
    assert not local.failure("a", GROUP, False, 2, 5.0, "server")
    assert not local.failure("a", GROUP, False, 2, 5.0, "server")
    assert local.failure("a", GROUP, False, 2, 5.0, "server")
    assert local.stats("a").cooled and local.status("a")["cooldown_reason"] == "server"
    clock.advance(4.9)
    assert local.stats("a").cooled
    clock.advance(0.2)
    assert not local.stats("a").cooled


def test_failures_are_counted_per_minute():
    clock = Clock(1_800_000_000.0)
    local = Local(clock)
    local.failure("a", GROUP, False, 1, 5.0, "server")
    clock.advance(60)  # next minute: the count starts again
    assert not local.failure("a", GROUP, False, 1, 5.0, "server")
    assert local.status("a")["failures_this_minute"] == 1


def test_immediate_cooldown_and_never_the_last_deployment():
    local = Local(Clock())
    assert local.failure("a", GROUP, True, 3, 5.0, "rate_limit")
    # b is the group's last deployment up: it is never cooled down
    assert not local.failure("b", GROUP, True, 3, 5.0, "rate_limit")
    assert not local.stats("b").cooled
    # a single-deployment group never goes dark
    assert not local.failure("solo", ["solo"], True, 0, 5.0, "rate_limit")


def test_disabled_cooldowns_count_but_never_cool():
    local = Local(Clock())
    assert not local.failure("a", GROUP, True, 0, 0.0, "rate_limit")
    assert local.status("a")["failures_this_minute"] == 1 and not local.stats("a").cooled


def test_reserve_counts_in_flight_rpm_and_release_latency():
    clock = Clock()
    state = State(None, clock)
    deps = deployments({}, {})
    r1 = state.reserve("least-busy", deps, lambda: 0.0, 0.0)
    r2 = state.reserve("least-busy", deps, lambda: 0.0, 0.0)
    assert {r1.index, r2.index} == {0, 1}  # the busy one is avoided
    status = state.status(deps)
    assert [status[d.id]["in_flight"] for d in deps] == [1, 1]
    state.release(deps[r1.index].id, r1, tokens=12, latency=0.2)
    row = state.status(deps)[deps[r1.index].id]
    assert row["in_flight"] == 0 and row["tpm_used"] == 12 and row["latency_ms"] == 200.0
    assert row["requests_this_minute"] == 1


def test_usage_based_refuses_when_all_at_rpm_limit_until_next_minute():
    clock = Clock(1_800_000_000.0)
    state = State(None, clock)
    deps = deployments({"rpm": 2}, {"rpm": 1})
    picks = [state.reserve("usage-based-routing-v2", deps, lambda: 0.0, 0.0) for _ in range(4)]
    assert sorted(p.index for p in picks[:3]) == [0, 0, 1] and picks[3] is None
    clock.advance(60)
    assert state.reserve("usage-based-routing-v2", deps, lambda: 0.0, 0.0) is not None
