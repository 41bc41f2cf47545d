"""Each routing strategy's pick from a given state (pure, deterministic)."""
from app.router.strategies import Stats, choose, weight

from .helpers import Seq, deployments


def test_simple_shuffle_weights_then_rpm_then_tpm():
    deps = deployments({"weight": 3}, {"weight": 1})
    stats = [Stats(), Stats()]
    assert choose("simple-shuffle", deps, stats, Seq(0.0)) == 0
    assert choose("simple-shuffle", deps, stats, Seq(0.74)) == 0
    assert choose("simple-shuffle", deps, stats, Seq(0.76)) == 1
    assert [weight(d) for d in deployments({"rpm": 5}, {"tpm": 7}, {})] == [5.0, 7.0, 1.0]


def test_simple_shuffle_zero_weight_never_picked():
    deps = deployments({"weight": 0}, {"weight": 1})
    assert {choose("simple-shuffle", deps, [Stats(), Stats()], Seq(r / 10))
            for r in range(10)} == {1}


def test_cooled_down_deployments_are_skipped_unless_all_are():
    deps = deployments({}, {})
    assert {choose("simple-shuffle", deps, [Stats(cooled=True), Stats()], Seq(r / 10))
            for r in range(10)} == {1}
    # every deployment cooled down: still serve (a group never goes dark)
    assert choose("least-busy", deps, [Stats(cooled=True, in_flight=3),
                                       Stats(cooled=True, in_flight=1)], Seq(0.0)) == 1


def test_least_busy_picks_fewest_in_flight_ties_at_random():
    deps = deployments({}, {}, {})
    stats = [Stats(in_flight=2), Stats(in_flight=1), Stats(in_flight=1)]
    assert choose("least-busy", deps, stats, Seq(0.0)) == 1
    assert choose("least-busy", deps, stats, Seq(0.9)) == 2


def test_latency_based_prefers_unmeasured_then_fastest_with_buffer():
    deps = deployments({}, {}, {})
    assert choose("latency-based-routing", deps,
                  [Stats(latency=0.1), Stats(latency=None), Stats(latency=0.5)], Seq(0.5)) == 1
    stats = [Stats(latency=0.30), Stats(latency=0.10), Stats(latency=0.11)]
    assert choose("latency-based-routing", deps, stats, Seq(0.9)) == 1
    # a 20% buffer spreads over the near-equals
    picks = {choose("latency-based-routing", deps, stats, Seq(r / 10), buffer=0.2)
             for r in range(10)}
    assert picks == {1, 2}


def test_usage_based_most_headroom_and_hard_limits():
    deps = deployments({"rpm": 10}, {"rpm": 100})
    # 5/10 used vs 20/100 used: the second has more headroom
    assert choose("usage-based-routing-v2", deps,
                  [Stats(rpm_used=5), Stats(rpm_used=20)], Seq(0.0)) == 1
    # at its limit: never picked, whatever the headroom of the other
    assert choose("usage-based-routing-v2", deps,
                  [Stats(rpm_used=1), Stats(rpm_used=100)], Seq(0.0)) == 0
    assert choose("usage-based-routing", deps,
                  [Stats(rpm_used=10), Stats(rpm_used=100)], Seq(0.0)) is None
    tpm = deployments({"tpm": 1000}, {})
    assert choose("usage-based-routing-v2", tpm,
                  [Stats(tpm_used=1000), Stats(tpm_used=5000)], Seq(0.0)) == 1


def test_rpm_is_not_a_limit_for_other_strategies():
    deps = deployments({"rpm": 1})
    assert choose("simple-shuffle", deps, [Stats(rpm_used=50)], Seq(0.3)) == 0
