"""GET /v1/models and /v1/models/{id}: the configured public model names, in OpenAI's format."""
from flask import Blueprint, current_app, g, jsonify

from app import errors
from app.router import router_of

bp = Blueprint("models", __name__)


def _model(name, deployments):
    return {"id": name, "object": "model", "created": current_app.config["SWITCHBOARD_STARTED"],
            "owned_by": deployments[0].provider}


@bp.get("/v1/models")
@bp.get("/models")
def list_models():
    """Every public model name."""
    routes = router_of(current_app).routes
    allowed = getattr(g.get("principal"), "models", None)  # a virtual key sees what it may call
    if allowed is not None:
        routes = {name: rs for name, rs in routes.items() if name in allowed}
    return jsonify({"object": "list",
                    "data": [_model(name, [r[0] for r in rs]) for name, rs in routes.items()]})


@bp.get("/v1/models/<path:model_id>")
@bp.get("/models/<path:model_id>")
def get_model(model_id):
    """One public model name."""
    routes = router_of(current_app).routes.get(model_id)
    allowed = getattr(g.get("principal"), "models", None)
    if not routes or allowed is not None and model_id not in allowed:
        raise errors.ModelNotFoundError(
            f"The model `{model_id}` does not exist or you do not have access to it.",
            param="model")
    return jsonify(_model(model_id, [r[0] for r in routes]))
