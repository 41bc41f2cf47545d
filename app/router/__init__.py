"""The router: pick a deployment of a model group, retry, fall back, cool down, keep score.

    routes_for(model, endpoint)   group, alias or wildcard -> the routes (404 when none)
    run(call, routes, action)     per group: reserve a deployment (strategy + state: ONE Redis
                                  round trip), call it, classify a failure (app.router.policy),
                                  count it / cool the deployment down, retry or move on; when
                                  the group is exhausted, fall back to the next group

Retries move to another deployment of the group when there is one; only a retry on a
deployment already tried waits (Retry-After, else backoff with jitter). A stream is only ever
retried before its first byte (``action`` is ``open_stream``); the returned stream releases its
reservation when it ends. See README "Router" for every setting.
"""
import random
import time

from flask import g, has_app_context, has_request_context, request

from app import errors
from app.overrides import check_policy
from app.router import policy
from app.router.metrics import OFF, metrics
from app.router.settings import from_settings
from app.router.state import State
from app.router.table import Table, not_found
from app.router.tokens import fits, prompt_tokens

EXTENSION = "switchboard.router"
CONNECT_TIMEOUT = 10.0
TIMEOUT_HEADER = "x-switchboard-timeout"


class Router:
    """Routes for every public model name, built once per worker."""

    def __init__(self, settings, session, guarded_session=None, kv=None, clock=time.time,
                 rng=random.random, sleep=time.sleep):
        self.settings = settings
        self.rs = from_settings(settings)
        self.session = session
        # Client-chosen bases go through connections that re-check the peer address.
        self.client_base_session = session if settings.allow_private_api_base \
            else guarded_session or session
        self.table = Table(settings.model_list, self.rs.aliases)
        self.routes = self.table.public()
        self.state = State(kv, clock)
        self.rng, self.sleep = rng, sleep
        self._metrics = None

    def metrics(self):
        """The router's Prometheus series (found on the first call inside the app)."""
        if self._metrics is None:
            if not has_app_context():
                return OFF
            self._metrics = metrics()
        return self._metrics

    # -- lookup ---------------------------------------------------------------------------------

    def routes_for(self, model, endpoint):
        """The routes that serve ``model`` for ``endpoint``; 404 when there are none."""
        routes = self.table.lookup(model) if isinstance(model, str) else None
        if not routes:
            raise not_found(model)
        if all(endpoint in r[1].endpoints for r in routes):
            return routes
        routes = [r for r in routes if endpoint in r[1].endpoints]
        if not routes:
            raise errors.InvalidRequestError(
                f"The model `{model}` does not support {endpoint}.", param="model",
                code="unsupported_endpoint")
        return routes

    # -- the call -------------------------------------------------------------------------------

    def run(self, call, routes, action):
        """Run ``action(call)`` on a picked route with retries, cooldowns and fallbacks."""
        requested = call.body.get("model")
        deadline = self._deadline(call)
        group, queue, tried, used = routes[0][0].model_name, None, set(), 0
        _note(fallbacks=0)
        while True:
            tried.add(group)
            try:
                return self._run_group(call, routes, action, deadline)
            except errors.SwitchboardError as exc:
                kind = policy.kind_of(exc)
                if queue is None:
                    queue = policy.fallback_list(kind, self.rs, group, requested,
                                                 call.overrides.fallbacks)
                nxt = self._next_group(queue, tried, call.endpoint, kind)
                if nxt is None or used >= self.rs.max_fallbacks or _expired(deadline):
                    raise
                self.metrics().fell_back(group, nxt[0])
                group, routes = nxt
                used += 1
                _note(fallbacks=used)

    def _next_group(self, queue, tried, endpoint, kind):
        if kind in ("bad_request", "client"):
            return None
        while queue:
            name = queue.pop(0)
            if name in tried:
                continue
            routes = self.table.lookup(name)
            routes = [r for r in routes or () if endpoint in r[1].endpoints]
            if routes:
                return name, routes
        return None

    def _run_group(self, call, routes, action, deadline):
        routes = self._pre_call_check(call, routes)
        base = _num_retries(call, routes, self.rs.num_retries)
        group_ids = [r[0].id for r in routes]
        tried, attempt = set(), 0
        while True:
            fresh = [r for r in routes if r[0].id not in tried]
            candidates = fresh or routes
            route, res = self._reserve(candidates, routes)
            client_bound = self._bind(call, route, deadline)
            try:
                result = action(call)
            except errors.SwitchboardError as exc:
                kind = policy.kind_of(exc)
                if kind == "timeout" and client_bound:
                    kind = "client"  # the client's own deadline passed: nobody's failure
                self._failed(route[0], res, kind, group_ids)
                tried.add(route[0].id)
                left = [r for r in routes if r[0].id not in tried]
                if kind in policy.MOVE_ON and left and \
                        self.rs.retry_policy.get(policy.POLICY_KEY.get(kind, "")) != 0:
                    continue
                if attempt >= policy.retries_for(kind, base, self.rs.retry_policy) \
                        or _expired(deadline):
                    raise
                self._wait(exc, attempt, same=not left, deadline=deadline)
                attempt += 1
                continue
            except BaseException:
                self.state.release(route[0].id, res)
                raise
            return self._succeeded(call, route[0], res, result)

    def _reserve(self, candidates, routes):
        deps = [r[0] for r in candidates]
        res = self.state.reserve(self.rs.strategy, deps, self.rng, self.rs.latency_buffer)
        if res is None:
            wait = 60 - int(self.state.clock()) % 60
            group = routes[0][0].model_name
            raise errors.RateLimitError(
                f"No deployments available for model group `{group}`: every deployment is at "
                f"its rpm/tpm limit for this minute. Retry after {wait}s.", retry_after=wait)
        return candidates[res.index], res

    def _succeeded(self, call, dep, res, result):
        self.metrics().healthy(dep)
        if call.stream:
            return Tracked(result, self, call, dep, res)
        latency = time.perf_counter() - res.t0
        self.state.release(dep.id, res, _total_tokens(call, result), latency)
        return result

    def _failed(self, dep, res, kind, group_ids):
        self.state.release(dep.id, res)
        if not policy.is_failure(kind):
            return
        self.metrics().failed(dep, kind)
        cooldown = 0.0 if self.rs.disable_cooldowns else self.rs.cooldown_time
        if self.state.failure(dep.id, group_ids, policy.cools_at_once(kind),
                              policy.allowed_fails_for(kind, self.rs), cooldown, kind) \
                and cooldown > 0:
            self.metrics().cooled(dep, kind)

    def _wait(self, exc, attempt, same, deadline):
        # Another deployment is fresh: go at once. The same one again: Retry-After or backoff.
        if not same:
            return
        delay = policy.backoff(attempt, exc.retry_after, self.rs.retry_after, self.rng)
        if delay is None or (deadline is not None and time.monotonic() + delay > deadline):
            raise exc
        self.sleep(delay)

    # -- per-attempt settings -------------------------------------------------------------------

    def _bind(self, call, route, deadline):
        dep = route[0]
        self._check_overrides(call, dep)
        session = self.client_base_session if call.overrides.api_base else self.session
        read = (call.stream and (dep.stream_timeout or self.rs.stream_timeout)) or dep.timeout \
            or self.rs.timeout or self.settings.request_timeout
        client_bound = False
        if deadline is not None:
            left = max(0.001, deadline - time.monotonic())
            client_bound = left <= read
            read = min(read, left)
        call.bind(route, session, (min(CONNECT_TIMEOUT, read), read),
                  self._drop_params(call, dep))
        return client_bound

    def _deadline(self, call):
        """The client's own deadline (body ``timeout`` or the x-switchboard-timeout header)."""
        seconds = call.overrides.timeout
        if seconds is None and has_request_context():
            seconds = _header_timeout(request.headers.get(TIMEOUT_HEADER))
        return None if seconds is None else time.monotonic() + seconds

    def _pre_call_check(self, call, routes):
        if not self.rs.pre_call_checks or call.endpoint == "embeddings":
            return routes
        tokens = prompt_tokens(call.body)
        fitting = [r for r in routes if fits(r[0], tokens)]
        if not fitting:
            raise errors.ContextLengthExceededError(
                f"The prompt (about {tokens} tokens) does not fit the context window of any "
                f"deployment of `{routes[0][0].model_name}`.", param="messages")
        return fitting

    def _check_overrides(self, call, dep):
        ov = call.overrides
        if ov.api_base or ov.api_version:
            settings = self.settings
            check_policy(ov, allow_client_side_credentials=settings.allow_client_side_credentials,
                         clientside_params=dep.configurable_clientside_auth_params or (),
                         allow_private_api_base=settings.allow_private_api_base)

    def _drop_params(self, call, dep):
        # The request decides, then the deployment, then litellm_settings.
        for value in (call.overrides.drop_params, dep.params.get("drop_params")):
            if value is not None:
                return bool(value)
        return self.settings.drop_params

    # -- visibility (app.router.health) ---------------------------------------------------------

    def status(self):
        """Every group and deployment with its live state (the dashboard's contract)."""
        from app.router.health import status
        return status(self)

    def check_health(self, model_id):
        """Call one deployment with a minimal request: {"model_id","healthy","error",...}."""
        from app.router.health import check_health
        return check_health(self, model_id)


class Tracked:
    """A stream that releases its reservation when it ends (latency: time to first event)."""

    __slots__ = ("stream", "router", "call", "dep", "res", "first", "error", "done")

    def __init__(self, stream, router, call, dep, res):
        self.stream, self.router, self.call, self.dep, self.res = stream, router, call, dep, res
        self.first = self.error = None
        self.done = False

    def __iter__(self):
        events = iter(self.stream)
        try:
            for payload in events:  # the first event times the deployment; the rest pass on
                self.first = time.perf_counter() - self.res.t0
                yield payload
                yield from events
        except errors.SwitchboardError as exc:
            self.error = exc
            raise

    def close(self):
        """Close the upstream and release the deployment (once)."""
        self.stream.close()
        if self.done:
            return
        self.done = True
        router, dep = self.router, self.dep
        if self.error is not None:
            group = [r[0].id for r in router.table.lookup(dep.model_name) or ()] or [dep.id]
            router._failed(dep, self.res, policy.kind_of(self.error), group)
            return
        router.state.release(dep.id, self.res, _tokens_of(self.call.usage), self.first)


def _num_retries(call, routes, default):
    # The request decides, then the deployments' own num_retries (the largest), then settings.
    if call.overrides.num_retries is not None:
        return call.overrides.num_retries
    own = [r[0].params.get("num_retries") for r in routes]
    own = [n for n in own if isinstance(n, int) and not isinstance(n, bool) and n >= 0]
    return max(own) if own else default


def _note(fallbacks):
    if has_request_context():
        g.attempted_fallbacks = fallbacks


def _expired(deadline):
    return deadline is not None and time.monotonic() >= deadline


def _header_timeout(value):
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise errors.InvalidRequestError(
            f"{TIMEOUT_HEADER} must be a number of seconds between 0 and 3600",
            param=TIMEOUT_HEADER)
    return seconds


def _total_tokens(call, result):
    usage = result.get("usage") if isinstance(result, dict) else call.usage
    return _tokens_of(usage)


def _tokens_of(usage):
    if isinstance(usage, dict):
        total = usage.get("total_tokens")
        return total if isinstance(total, int) else 0
    return 0


def init_app(app, settings, session, guarded_session=None):
    """Build the worker's router (state in Redis when ``app.kv`` has a client)."""
    from app.kv import kv_of
    router = app.extensions[EXTENSION] = Router(settings, session, guarded_session, kv_of(app))
    if router.rs.background_health_checks:
        from app.router.health import start_background_checks
        start_background_checks(app, router)


def router_of(app):
    """The router built for this app."""
    return app.extensions[EXTENSION]
