"""``GET /metrics``: Prometheus exposition, summed over every gunicorn worker.

Open by default, like LiteLLM's; with ``litellm_settings.require_auth_for_metrics_endpoint:
true`` it needs the master key (``Authorization: Bearer <master_key>``).
"""
import hmac

from flask import Blueprint, Response, current_app, request

from app import errors, observability

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@bp.get("/metrics/")
def metrics():
    """The metrics in Prometheus' text format."""
    obs = observability.of(current_app)
    if obs.require_auth:
        _check_master_key()
    data, content_type = obs.metrics.render()
    return Response(data, content_type=content_type)


def _check_master_key():
    master = current_app.config.get("SWITCHBOARD_MASTER_KEY")
    auth = request.headers.get("Authorization", "")
    given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if master is None or not given or not hmac.compare_digest(given.encode(), master):
        raise errors.AuthenticationError(
            "Invalid or missing proxy API key: send 'Authorization: Bearer <key>'.")
