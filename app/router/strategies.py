"""Routing strategies: pick one candidate from a snapshot of the deployments' state.

``choose`` is pure: the state (cooled down, in flight, usage this minute, latency) comes in as
``Stats`` and randomness as ``rng``, so unit tests pin every case. The Redis-backed state runs
the same rules inside its Lua script (app/kv/scripts/router_pick.lua), where the pick and the
reservation must be one atomic step; tests/router/test_redis_state.py checks they agree.
"""
import random
from dataclasses import dataclass

USAGE_BASED = frozenset({"usage-based-routing", "usage-based-routing-v2"})


@dataclass
class Stats:
    """One candidate's state right now."""

    cooled: bool = False
    in_flight: int = 0
    rpm_used: int = 0
    tpm_used: int = 0
    latency: float | None = None  # moving average, seconds (time to first token for streams)


def weight(dep):
    """simple-shuffle's weight: ``weight``, else ``rpm``, else ``tpm``, else 1."""
    for value in (dep.weight, dep.rpm, dep.tpm):
        if value is not None:
            return float(value)
    return 1.0


def under_limits(dep, stats):
    """Usage-based routing's hard limits: rpm and tpm of the current minute."""
    return (dep.rpm is None or stats.rpm_used < dep.rpm) and \
        (dep.tpm is None or stats.tpm_used < dep.tpm)


def choose(strategy, deps, stats, rng=random.random, buffer=0.0):
    """Index of the deployment to use, or None when every one is at its rpm/tpm limit.

    Cooled-down deployments are skipped unless all are cooled down (a group never goes dark
    because of cooldowns).
    """
    idx = [i for i, s in enumerate(stats) if not s.cooled] or list(range(len(deps)))
    if strategy in USAGE_BASED:
        idx = [i for i in idx if under_limits(deps[i], stats[i])]
        if not idx:
            return None
        return _lowest(idx, lambda i: _usage(deps[i], stats[i]), rng)
    if strategy == "least-busy":
        return _lowest(idx, lambda i: stats[i].in_flight, rng)
    if strategy == "latency-based-routing":
        return _fastest(idx, stats, rng, buffer)
    return _weighted(idx, [weight(deps[i]) for i in idx], rng)


def _usage(dep, stats):
    # The share of the limit already used (most headroom first); without limits, raw usage.
    shares = [stats.rpm_used / dep.rpm if dep.rpm else None,
              stats.tpm_used / dep.tpm if dep.tpm else None]
    shares = [s for s in shares if s is not None]
    return max(shares) if shares else stats.tpm_used + stats.rpm_used


def _lowest(idx, key, rng):
    best = min(key(i) for i in idx)
    ties = [i for i in idx if key(i) == best]
    return ties[int(rng() * len(ties)) % len(ties)]


def _fastest(idx, stats, rng, buffer):
    # A deployment with no sample yet gets traffic, so it gets measured.
    fresh = [i for i in idx if stats[i].latency is None]
    if fresh:
        return fresh[int(rng() * len(fresh)) % len(fresh)]
    best = min(stats[i].latency for i in idx)
    near = [i for i in idx if stats[i].latency <= best * (1 + buffer)]
    return near[int(rng() * len(near)) % len(near)]


def _weighted(idx, weights, rng):
    total = sum(weights)
    if total <= 0:
        return idx[int(rng() * len(idx)) % len(idx)]
    point = rng() * total
    for i, w in zip(idx, weights, strict=True):
        point -= w
        if point < 0:
            return i
    return idx[-1]
