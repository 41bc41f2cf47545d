"""Prometheus metrics, counted in every gunicorn worker and summed on ``GET /metrics``.

prometheus_client's multiprocess mode keeps each worker's values in mmap'ed files under
``PROMETHEUS_MULTIPROC_DIR``; the variable must be set before prometheus_client is imported in a
worker, so this module imports it lazily. Wiring for the arbiter (optional, see the README):

    prepare_multiprocess_dir()   once at start: an empty shared directory, exported in the env
    child_exit(server, worker)   gunicorn hook: drop a dead worker's live gauges

Without that wiring a worker picks ``<tmp>/switchboard-metrics-<arbiter pid>`` itself and sweeps
out the gauge files of workers that are gone, so /metrics still counts every worker.
Outside gunicorn (tests, the Flask dev server) metrics live in a private in-process registry.
"""
import glob
import os
import shutil
import sys
import tempfile

ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
# Upstream error statuses -> a small, fixed set of label values (upstream codes are unbounded).
ERROR_TYPES = {400: "bad_request", 401: "authentication", 403: "permission", 404: "not_found",
               408: "timeout", 413: "too_large", 422: "unprocessable", 429: "rate_limit",
               499: "client_disconnected", 500: "internal", 502: "bad_gateway",
               503: "unavailable", 504: "timeout"}


def default_dir(arbiter_pid):
    """The shared directory used when none is configured: one per gunicorn arbiter."""
    return os.path.join(tempfile.gettempdir(), f"switchboard-metrics-{arbiter_pid}")


def prepare_multiprocess_dir(path=None):
    """Arbiter, before workers start: create/empty the shared directory and export it."""
    path = path or os.environ.get(ENV) or default_dir(os.getpid())
    os.makedirs(path, mode=0o700, exist_ok=True)
    for name in glob.glob(os.path.join(path, "*.db")):
        os.unlink(name)
    os.environ[ENV] = path
    return path


def child_exit(server, worker):
    """Gunicorn ``child_exit`` hook (arbiter): forget the live gauges of a worker that ended."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)


def _in_gunicorn_worker():
    return os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/")


def ensure_multiprocess_dir():
    """Worker: make sure the shared directory exists; pick a default under gunicorn.

    Returns the directory, or None for single-process mode. Only takes effect while
    prometheus_client is not yet imported (it reads the variable at import).
    """
    path = os.environ.get(ENV)
    if not path and _in_gunicorn_worker() and "prometheus_client" not in sys.modules:
        path = os.environ[ENV] = default_dir(os.getppid())
        _remove_stale_dirs()
    if path:
        os.makedirs(path, mode=0o700, exist_ok=True)
        _sweep_dead(path)
    return path


def _remove_stale_dirs():
    # Default directories of arbiters that are gone (one is left behind per server run).
    for path in glob.glob(default_dir("*")):
        pid = path.rsplit("-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _sweep_dead(path):
    # Live gauges of workers that died without the child_exit hook would be summed forever.
    from prometheus_client import multiprocess
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        pid = name.rsplit("_", 1)[1][:-3]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), path)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Metrics:
    """The gateway's metrics; child series are cached per deployment so updates are cheap."""

    def __init__(self):
        self.multiprocess = bool(ensure_multiprocess_dir())  # before importing the client
        from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram,
                                       disable_created_metrics)
        disable_created_metrics()  # the *_created series would double the exposition size
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("switchboard_requests", "API requests by model, provider and "
                                "HTTP status", ["model", "provider", "status"], registry=r)
        self.latency = Histogram("switchboard_request_duration_seconds", "Time to the complete "
                                 "response (streams: to the last event)", ["model"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.ttft = Histogram("switchboard_time_to_first_token_seconds", "Streams: time to the "
                              "first event", ["model"], buckets=TTFT_BUCKETS, registry=r)
        self.tokens = Counter("switchboard_tokens", "Tokens by model and direction "
                              "(input/output)", ["model", "direction"], registry=r)
        self.cost = Counter("switchboard_cost_usd", "Spend in USD by model", ["model"],
                            registry=r)
        self.upstream_errors = Counter("switchboard_upstream_errors", "Failed provider calls by "
                                       "provider and error type", ["provider", "type"],
                                       registry=r)
        self.in_flight = Gauge("switchboard_in_flight_requests", "API requests being served",
                               registry=r, multiprocess_mode="livesum")
        self.queue_depth = Gauge("switchboard_callback_queue_depth", "Events waiting for a "
                                 "callback sink", ["sink"], registry=r,
                                 multiprocess_mode="livesum")
        self.dropped = Counter("switchboard_callback_events_dropped", "Events a sink lost "
                               "(reason: overflow or failed)", ["sink", "reason"], registry=r)
        self.delivered = Counter("switchboard_callback_events_delivered", "Events a sink "
                                 "accepted", ["sink"], registry=r)
        self._series = {}
        self._requests = {}

    def series(self, model, provider):
        """(latency, ttft, input tokens, output tokens, cost) children for one model."""
        key = (model, provider)
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = (
                self.latency.labels(model), self.ttft.labels(model),
                self.tokens.labels(model, "input"), self.tokens.labels(model, "output"),
                self.cost.labels(model))
        return found

    def observe(self, model, provider, status, seconds, usage, cost, ttft=None):
        """Count one finished API request."""
        latency, first, tok_in, tok_out, spend = self.series(model, provider)
        key = (model, provider, status)
        counter = self._requests.get(key)
        if counter is None:
            counter = self._requests[key] = self.requests.labels(model, provider, str(status))
        counter.inc()
        latency.observe(seconds)
        if ttft is not None:
            first.observe(ttft)
        if usage:
            tok_in.inc(usage[0])
            tok_out.inc(usage[1])
        if cost:
            spend.inc(cost)

    def upstream_error(self, provider, status):
        """Count a failed provider call."""
        self.upstream_errors.labels(provider, ERROR_TYPES.get(status, str(status))).inc()

    def render(self):
        """The exposition text (bytes) and its content type, summed over all workers."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        if not self.multiprocess:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
