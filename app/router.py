"""Load balancing basics: pick a deployment for a public model name, retry on another.

Several ``model_list`` entries with one ``model_name`` share its traffic at random, weighted by
``weight`` (else ``rpm``, else ``tpm``, else equally). Retryable errors (429, 5xx, unreachable,
timeouts) are retried up to ``num_retries`` times, on another deployment when there is one; the
caller never retries a stream after its first byte went out (it only retries ``open_stream``).
"""
import random
import time

from app import errors
from app.overrides import check_policy
from app.providers import get_provider

EXTENSION = "switchboard.router"
CONNECT_TIMEOUT = 10.0
MAX_RETRY_WAIT = 30.0


class Router:
    """Routes for every public model name, built once per worker."""

    def __init__(self, settings, session, guarded_session=None):
        self.settings = settings
        self.session = session
        # Client-chosen bases go through connections that re-check the peer address.
        self.client_base_session = session if settings.allow_private_api_base \
            else guarded_session or session
        self.routes = {}
        for dep in settings.model_list:
            provider = get_provider(dep.provider)
            route = (dep, provider, provider.prepare(dep))
            self.routes.setdefault(dep.model_name, []).append(route)

    def routes_for(self, model, endpoint):
        """The routes that serve ``model`` for ``endpoint``; 404 when there are none."""
        routes = self.routes.get(model) if isinstance(model, str) else None
        if not routes:
            raise errors.ModelNotFoundError(
                f"The model `{model}` does not exist or you do not have access to it.",
                param="model")
        if all(endpoint in r[1].endpoints for r in routes):
            return routes
        routes = [r for r in routes if endpoint in r[1].endpoints]
        if not routes:
            raise errors.InvalidRequestError(
                f"The model `{model}` does not support {endpoint}.", param="model",
                code="unsupported_endpoint")
        return routes

    def run(self, call, routes, action):
        """Run ``action(call)`` on a picked route, retrying retryable errors."""
        retries = call.overrides.num_retries
        if retries is None:
            retries = self.settings.num_retries
        tried = []
        for attempt in range(retries + 1):
            route = self._pick(routes, tried)
            self._check_overrides(call, route[0])
            session = self.client_base_session if call.overrides.api_base else self.session
            call.bind(route, session, self._timeout(call, route[0]),
                      self._drop_params(call, route[0]))
            try:
                return action(call)
            except errors.SwitchboardError as exc:
                if not exc.retryable or attempt == retries:
                    raise
                tried.append(route)
                self._wait(exc, attempt, same=len(tried) >= len(routes))

    def _pick(self, routes, tried):
        if len(routes) == 1:
            return routes[0]
        fresh = [r for r in routes if not any(r is t for t in tried)] or routes
        weights = [_weight(r[0]) for r in fresh]
        if not any(weights):
            return random.choice(fresh)
        return random.choices(fresh, weights=weights)[0]

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

    def _timeout(self, call, dep):
        read = call.overrides.timeout or (call.stream and dep.stream_timeout) or dep.timeout \
            or self.settings.request_timeout
        return (min(CONNECT_TIMEOUT, read), read)

    def _wait(self, exc, attempt, same):
        # Another deployment is fresh: go at once. The same one again: honour Retry-After.
        if not same:
            return
        delay = _seconds(exc.retry_after)
        if delay is None:
            delay = min(0.25 * 2 ** attempt, 4.0)
        if delay > MAX_RETRY_WAIT:
            raise exc
        time.sleep(delay)


def _weight(dep):
    for value in (dep.weight, dep.rpm, dep.tpm):
        if value is not None:
            return float(value)
    return 1.0


def _seconds(retry_after):
    try:
        return max(0.0, float(retry_after))
    except (TypeError, ValueError):
        return None


def init_app(app, settings, session, guarded_session=None):
    """Build the worker's router."""
    app.extensions[EXTENSION] = Router(settings, session, guarded_session)


def router_of(app):
    """The router built for this app."""
    return app.extensions[EXTENSION]
