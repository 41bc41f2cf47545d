"""Health probes (no auth): liveliness (the process answers) and readiness (config loaded)."""
from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)
READY = "switchboard.ready"


@bp.get("/health/liveliness")
@bp.get("/health/liveness")
def liveliness():
    """The worker is alive."""
    return jsonify({"status": "alive"})


@bp.get("/health/readiness")
def readiness():
    """Ready when the config loaded and the worker is not shutting down."""
    settings = current_app.extensions.get("switchboard.settings")
    ready = settings is not None and current_app.extensions.get(READY, False)
    body = {"status": "ready" if ready else "not ready",
            "models": len(settings.by_name) if settings else 0}
    return jsonify(body), 200 if ready else 503
