"""Observability: callback events (langfuse, webhook, jsonl, stdout), Prometheus metrics, cost.

The gateway calls three hooks per API request, all cheap and without I/O:

    begin()                          a Call exists: count it in flight
    finish(info, call, headers, ...) non-stream, from the after-request hook: cost, headers,
                                     metrics, and one event per configured sink (queued)
    finish_stream(info, call, body)  the same when a stream ends (``SSEBody.on_end``)

Sinks are chosen LiteLLM-style in ``litellm_settings``: ``success_callback`` (2xx/3xx),
``failure_callback`` (errors) and ``callbacks`` (both). Each sink has its own bounded queue and
drain thread (app.observability.queue), so a slow or dead sink never touches API latency.
``shutdown(app)`` flushes the queues (bounded); it also runs at interpreter exit.
"""
import atexit
import logging
import time
import weakref

from app.observability import events
from app.observability.cost import PriceBook, token_counts
from app.observability.metrics import Metrics
from app.observability.queue import Delivery

EXTENSION = "switchboard.observability"
log = logging.getLogger("switchboard.callbacks")
SHUTDOWN_TIMEOUT = 5.0
_LIVE = weakref.WeakSet()


class Observability:
    """Per-worker state: prices, metrics, sinks and their queues."""

    def __init__(self, settings, session=None, metrics=None):
        lit = settings.litellm_settings or {}
        self.prices = PriceBook(settings.model_list)
        self.metrics = metrics if metrics is not None else Metrics()
        self.models = frozenset(settings.by_name)
        self.log_messages = not lit.get("turn_off_message_logging", False)
        self.require_auth = bool(lit.get("require_auth_for_metrics_endpoint", False))
        self.deliveries, self.success, self.failure = {}, [], []
        self._session = None
        wanted = _callback_names(lit)
        if wanted:
            self._build_sinks(settings, session, wanted)
        # Streams keep their chunks only when an event will carry the reply.
        self.collect_streams = self.log_messages and bool(self.success or self.failure)
        _LIVE.add(self)

    def _build_sinks(self, settings, session, wanted):
        from app.observability.sinks import BUILT_IN, REGISTRY
        if session is None:
            from app.http import build_session
            session = self._session = build_session(pool_size=8)
        queue = _queue_options(settings)
        for name, (on_success, on_failure) in wanted.items():
            factory = REGISTRY.get(name)
            if factory is None:
                if name not in BUILT_IN:
                    log.warning("callback %r is not supported by switchboard; ignored "
                                "(supported: %s)", name, ", ".join(sorted(REGISTRY)))
                continue
            sink = factory(settings, session)
            if sink is None:
                continue
            delivery = self.deliveries.get(sink.name)
            if delivery is None:
                delivery = self.deliveries[sink.name] = Delivery(sink, self.metrics, **queue)
            if on_success and delivery not in self.success:
                self.success.append(delivery)
            if on_failure and delivery not in self.failure:
                self.failure.append(delivery)

    # -- the request hooks ------------------------------------------------------------------

    def begin(self):
        """An API call is about to be routed."""
        self.metrics.in_flight.inc()

    def finish(self, info, call, headers, result=None, attempts=1):
        """A non-stream request ended (``info`` has status and latency)."""
        status = info["status"]
        hit = info.get("cache_hit")  # a cached answer: no provider tokens, no spend
        counts = token_counts(call.usage) if call is not None and call.usage and not hit \
            else None
        cost = 0.0 if hit else self._cost(call, counts) if status < 400 else None
        if cost is not None:
            info["cost"] = cost
        if call is not None:
            self.metrics.in_flight.dec()
            add_headers(headers, call, attempts, info["latency_ms"], cost)
        self._count(info, call, counts, cost, None)
        sinks = self.success if status < 400 else self.failure
        if sinks and (call is not None or "model" in info):
            self._emit(sinks, self._event, info, call, result, cost, attempts)

    def _event(self, info, call, result, cost, attempts):
        output = None
        if result is not None and info["status"] < 400 and call is not None:
            output = events.output_of(call.endpoint, result)
        return events.build(info, call, self.log_messages, output,
                            call.usage if call else None, False, cost, None, attempts)

    def finish_stream(self, info, call, body, t0, attempts=1):
        """A stream ended, completely or not (``body`` is the SSEBody that served it)."""
        self.metrics.in_flight.dec()
        status = info["status"]
        ttft = body.first_at - t0 if body.first_at is not None else None
        sinks = self.success if status < 400 else self.failure
        output = events.stream_output(call.endpoint, body.chunks) \
            if body.chunks is not None else None
        usage, estimated = call.usage, False
        if not usage and body.count:
            usage, estimated = self._estimate(call, output, body.count), True
        hit = info.get("cache_hit")  # a replayed answer: no provider tokens, no spend
        counts = token_counts(usage) if usage and not hit else None
        cost = 0.0 if hit else self._cost(call, counts)
        if cost is not None:
            info["cost"] = cost
        self._count(info, call, counts, cost, ttft)
        if sinks:
            self._emit(sinks, events.build, info, call, self.log_messages, output, usage,
                       estimated, cost, ttft, attempts)

    # -- helpers ----------------------------------------------------------------------------

    def _cost(self, call, counts):
        if counts is None or call is None or call.deployment is None:
            return None
        return self.prices.cost(call.deployment.id, *counts)

    def _estimate(self, call, output, chunk_count):
        if output is not None:
            return events.estimate_usage(call.body, output)
        # No chunks kept: a provider streams about one token per content chunk.
        usage = events.estimate_usage(call.body, "")
        usage["completion_tokens"] = max(0, chunk_count - 1)
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return usage

    def _count(self, info, call, counts, cost, ttft):
        dep = call.deployment if call is not None else None
        if dep is not None:
            model, provider = dep.model_name, call.provider.name
        elif "model" in info:
            model = info["model"] if info["model"] in self.models else "unknown"
            provider = "cache" if info.get("cache_hit") else "none"
        else:
            return
        status = info["status"]
        self.metrics.observe(model, provider, status, info["latency_ms"] / 1000, counts, cost,
                             ttft)
        if status >= 400 and dep is not None:
            self.metrics.upstream_error(provider, status)

    def _emit(self, sinks, build, *args):
        try:
            event = build(*args)
        except Exception:  # noqa: BLE001 - logging must never fail the request it logs
            log.exception("could not build the callback event")
            return
        for delivery in sinks:
            delivery.put(event)

    def close(self, timeout=SHUTDOWN_TIMEOUT):
        """Flush every sink's queue, waiting at most ``timeout`` seconds in total."""
        deadline = time.monotonic() + timeout
        for delivery in self.deliveries.values():
            delivery.close(max(0.0, deadline - time.monotonic()))
        self.deliveries.clear()
        if self._session is not None:  # before interpreter teardown, which gevent dislikes
            self._session.close()
            self._session = None
        _LIVE.discard(self)


def add_headers(headers, call, attempts, ms=None, cost=None):
    """Debug headers: deployment, provider, retries, response time and cost (few bytes).

    ``add``, not ``[]=``: these names are only ever set here, and add skips werkzeug's scan.
    """
    add = headers.add
    if call.deployment is not None:
        add("x-switchboard-model-id", call.deployment.id)
        add("x-switchboard-provider", call.provider.name)
    add("x-switchboard-attempted-retries", str(max(0, attempts - 1)))
    if ms is not None:
        add("x-switchboard-response-time-ms", f"{ms:.1f}")
    if cost is not None:
        add("x-switchboard-response-cost", f"{cost:.10f}".rstrip("0").rstrip(".") or "0")


def _callback_names(lit):
    """{sink name: (on success, on failure)} from the three LiteLLM lists."""
    wanted = {}
    for key, success, failure in (("success_callback", True, False),
                                  ("failure_callback", False, True), ("callbacks", True, True)):
        names = lit.get(key) or []
        for name in [names] if isinstance(names, str) else names:
            if not isinstance(name, str):
                continue
            was = wanted.get(name.strip().lower(), (False, False))
            wanted[name.strip().lower()] = (was[0] or success, was[1] or failure)
    return wanted


def _queue_options(settings):
    conf = (settings.general_settings or {}).get("callback_queue") or {}
    options = {"max_size": int(conf.get("max_size", 10000)),
               "batch_size": int(conf.get("batch_size", 100)),
               "interval": float(conf.get("flush_interval", 1.0)),
               "retries": int(conf.get("max_retries", 3)),
               "backoff": float(conf.get("retry_backoff", 0.5))}
    return options


def init_app(app, settings):
    """Build the worker's observability state."""
    app.extensions[EXTENSION] = Observability(settings)


def of(app):
    """The observability state of an app."""
    return app.extensions[EXTENSION]


def shutdown(app, timeout=SHUTDOWN_TIMEOUT):
    """Flush the app's callback queues (gunicorn ``worker_exit``); safe to call twice."""
    obs = app.extensions.get(EXTENSION)
    if obs is not None:
        obs.close(timeout)


@atexit.register
def _flush_at_exit():
    for obs in list(_LIVE):
        obs.close(SHUTDOWN_TIMEOUT)
