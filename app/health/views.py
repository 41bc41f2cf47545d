"""Health probes: liveliness and readiness (no auth, cheap), and /health (master key), which
calls every deployment (app.router.health)."""
from flask import Blueprint, current_app, jsonify, request

from app.lifecycle import SERVING

bp = Blueprint("health", __name__)
READY = "switchboard.ready"


@bp.get("/health/liveliness")
@bp.get("/health/liveness")
def liveliness():
    """The worker is alive."""
    return jsonify({"status": "alive"})


@bp.get("/health/readiness")
def readiness():
    """Ready when the config loaded and the worker is not shutting down (draining: 503)."""
    extensions = current_app.extensions
    settings = extensions.get("switchboard.settings")
    serving = extensions.get(SERVING)  # set by the gunicorn hook; absent under a test client
    ready = (settings is not None and extensions.get(READY, False)
             and (serving is None or serving()))
    body = {"status": "ready" if ready else "not ready",
            "models": len(settings.by_name) if settings else 0}
    return jsonify(body), 200 if ready else 503


@bp.get("/health")
def health():
    """LiteLLM's /health: call every deployment (``?model=`` one group) with a tiny request."""
    from app.router import router_of
    from app.router.health import health as check
    return jsonify(check(router_of(current_app), request.args.get("model") or None))
