"""POST /v1/completions (legacy text completions) for providers that have them."""
from flask import Blueprint

from app.completions.schemas import validate_completions
from app.gateway import handle

bp = Blueprint("completions", __name__)


@bp.post("/v1/completions")
@bp.post("/completions")
def completions():
    """Create a text completion, streamed or not."""
    return handle("completions", validate_completions)
