"""POST /v1/chat/completions (and /chat/completions, as the seed calls it)."""
from flask import Blueprint

from app.chat.schemas import validate_chat
from app.gateway import handle

bp = Blueprint("chat", __name__)


@bp.post("/v1/chat/completions")
@bp.post("/chat/completions")
def chat_completions():
    """Create a chat completion, streamed or not."""
    return handle("chat", validate_chat)
