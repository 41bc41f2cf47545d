"""Prometheus series of the router, registered on the observability registry on first use."""
from flask import current_app

EXTENSION = "switchboard.router.metrics"


class RouterMetrics:
    """Deployment state gauge, cooldown/fallback/failure counters (children cached)."""

    def __init__(self, registry):
        from prometheus_client import Counter, Gauge
        self.state = Gauge("switchboard_deployment_state", "Deployment state: 0 healthy, "
                           "1 cooled down", ["model_group", "deployment"], registry=registry,
                           multiprocess_mode="livemax")
        self.cooldowns = Counter("switchboard_deployment_cooldowns", "Times a deployment was "
                                 "cooled down", ["model_group", "deployment", "reason"],
                                 registry=registry)
        self.failures = Counter("switchboard_deployment_failures", "Failed deployment calls by "
                                "error class", ["model_group", "deployment", "kind"],
                                registry=registry)
        self.fallbacks = Counter("switchboard_fallbacks", "Requests moved to a fallback model "
                                 "group", ["model_group", "fallback_group"], registry=registry)
        self._up = {}
        self._last = {}  # deployment id -> the value this worker last set

    def healthy(self, dep):
        """A call on ``dep`` succeeded: its state is 0 (cheap: cached child)."""
        if self._last.get(dep.id) == 0:  # this worker's series already says so
            return
        child = self._up.get(dep.id)
        if child is None:
            child = self._up[dep.id] = self.state.labels(dep.model_name, dep.id)
        child.set(0)
        self._last[dep.id] = 0

    def cooled(self, dep, reason):
        """``dep`` was cooled down."""
        self.state.labels(dep.model_name, dep.id).set(1)
        self._last[dep.id] = 1
        self.cooldowns.labels(dep.model_name, dep.id, reason).inc()

    def failed(self, dep, kind):
        """A call on ``dep`` failed with error class ``kind``."""
        self.failures.labels(dep.model_name, dep.id, kind).inc()

    def fell_back(self, group, target):
        """A request moved from ``group`` to ``target``."""
        self.fallbacks.labels(group, target).inc()


class _Off:
    def __getattr__(self, name):
        return lambda *args: None


OFF = _Off()


def metrics():
    """The router metrics of the current app (no-op outside an app with observability)."""
    ext = current_app.extensions
    found = ext.get(EXTENSION)
    if found is None:
        obs = ext.get("switchboard.observability")
        registry = getattr(getattr(obs, "metrics", None), "registry", None)
        found = ext[EXTENSION] = RouterMetrics(registry) if registry is not None else OFF
    return found
