"""POST /v1/embeddings (and /embeddings)."""
from flask import Blueprint

from app.embeddings.schemas import validate_embeddings
from app.gateway import handle

bp = Blueprint("embeddings", __name__)


@bp.post("/v1/embeddings")
@bp.post("/embeddings")
def embeddings():
    """Create embeddings."""
    return handle("embeddings", validate_embeddings)
