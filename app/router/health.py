"""Health and visibility: ``/router/status``, ``check_health``, ``/health``, background checks.

A health check calls one deployment directly (no reservation, no retry) with the smallest
request its endpoint takes: chat ``max_tokens: 1``, embeddings one short input.
"""
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from app import errors
from app.providers.base import Call

log = logging.getLogger("switchboard.router")

HEALTH_TIMEOUT = 10.0
MAX_PARALLEL = 32
LOCK_KEY = "sb:router:health-lock"


def status(router):
    """{"groups": [{"model_name", "deployments": [...]}]} (see HELPERS.md's contract)."""
    groups = []
    named = [(name, [r[0] for r in routes]) for name, routes in router.table.groups.items()]
    # Wildcard entries keep their state under their own id, whatever name they served.
    named += [(pattern, [dep]) for pattern, dep, _ in router.table.wildcards]
    for name, deps in named:
        live = router.state.status(deps)
        groups.append({"model_name": name, "deployments": [
            _row(dep, live[dep.id]) for dep in deps]})
    return {"groups": groups}


def _row(dep, live):
    return {"id": dep.id, "provider": dep.provider, "model": dep.model,
            "api_base": dep.api_base, "healthy": live["cooldown_remaining"] is None,
            **live, "rpm_limit": dep.rpm, "tpm_limit": dep.tpm}


def find(router, model_id):
    """The route of deployment ``model_id``, or None."""
    for routes in router.table.groups.values():
        for route in routes:
            if route[0].id == model_id:
                return route
    return None


def check_health(router, model_id, timeout=HEALTH_TIMEOUT):
    """{"model_id", "healthy", "error", "latency_ms"} for one deployment (404 if unknown)."""
    route = find(router, model_id)
    if route is None:
        raise errors.NotFoundError(f"No deployment with id `{model_id}`.", param="model_id")
    return probe(router, route, timeout)


def probe(router, route, timeout=HEALTH_TIMEOUT):
    """Call one route with a minimal request; never raises for the provider's failure."""
    dep, provider = route[0], route[1]
    endpoint = "chat" if "chat" in provider.endpoints else next(iter(provider.endpoints))
    body = {"model": dep.model_name}
    if endpoint == "embeddings":
        body["input"] = ["ping"]
    elif endpoint == "completions":
        body.update(prompt="ping", max_tokens=1)
    else:
        body.update(messages=[{"role": "user", "content": "ping"}], max_tokens=1)
    call = Call(endpoint, body).bind(route, router.session,
                                     (min(timeout, 5.0), min(dep.timeout or timeout, timeout)))
    t0 = time.perf_counter()
    error = None
    try:
        provider.complete(call)
    except errors.SwitchboardError as exc:
        error = _scrub(f"{exc.status}: {exc.message}", (dep.api_key, call.api_key))
    except Exception as exc:  # a provider bug must not break /health
        error = f"error: {type(exc).__name__}"
    return {"model_id": dep.id, "healthy": error is None, "error": error,
            "latency_ms": round((time.perf_counter() - t0) * 1000, 3)}


def _scrub(text, keys):
    # Providers echo the key they were sent ("Incorrect API key provided: ..."); /health shows
    # errors to operators, so even a short key goes (scrub() spares keys under 8 characters).
    for key in keys:
        if key and len(key) >= 4:
            text = text.replace(key, "***")
    return text


def health(router, model=None):
    """LiteLLM's /health: every deployment (or those of ``model``) checked in parallel."""
    routes = [r for name, rs in router.table.groups.items() if model in (None, name) for r in rs]
    if model is not None and not routes:
        routes = router.table.lookup(model) or []
        if not routes:
            raise errors.ModelNotFoundError(f"The model `{model}` does not exist.",
                                            param="model")
    results = _all(router, routes)
    healthy, unhealthy = [], []
    for route, result in zip(routes, results, strict=True):
        dep = route[0]
        entry = {"model": dep.model, "model_name": dep.model_name, "model_id": dep.id,
                 "api_base": dep.api_base, "latency_ms": result["latency_ms"]}
        if result["healthy"]:
            healthy.append(entry)
        else:
            unhealthy.append({**entry, "error": result["error"]})
    return {"healthy_endpoints": healthy, "unhealthy_endpoints": unhealthy,
            "healthy_count": len(healthy), "unhealthy_count": len(unhealthy)}


def _all(router, routes):
    if not routes:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(routes))) as pool:
        return list(pool.map(lambda r: probe(router, r), routes))


def start_background_checks(app, router):
    """Check every deployment each ``health_check_interval`` s; cool down the failing ones.

    With Redis, one worker of one instance runs each round (a lock key with the interval as
    its TTL); without, each worker checks on its own.
    """
    interval = router.rs.health_check_interval

    def loop():
        while True:
            time.sleep(interval)
            try:
                run_checks(router, interval)
            except Exception:  # keep checking; a bug here must not kill the loop silently
                log.exception("background health check failed")

    threading.Thread(target=loop, name="router-health", daemon=True).start()


def run_checks(router, interval):
    """One round of background checks (skipped when another worker holds the round)."""
    kv = router.state.kv
    if kv is not None and not kv.run(
            lambda r: r.set(LOCK_KEY, b"1", nx=True, px=int(interval * 1000)), fallback=True):
        return
    cooldown = 0.0 if router.rs.disable_cooldowns else router.rs.cooldown_time
    for routes in router.table.groups.values():
        ids = [r[0].id for r in routes]
        for route, result in zip(routes, _all(router, routes), strict=True):
            if not result["healthy"]:
                router.state.failure(route[0].id, ids, True, 0, cooldown, "health_check")
