"""GET /router/status (master key): live state of every group and deployment."""
from flask import Blueprint, current_app, jsonify

from app.router import router_of

bp = Blueprint("router", __name__)


@bp.get("/router/status")
def router_status():
    """Per group and deployment: health, cooldown, in flight, usage this minute, latency."""
    return jsonify(router_of(current_app).status())
