"""POST /v1/messages and /v1/messages/count_tokens (also without /v1; query strings ignored).

A Messages request goes through the gateway's one pipeline (``gateway.prepare/execute/respond``)
in the internal chat form; a deployment that speaks Messages (``speaks_messages_for``: an
Anthropic one, or Claude on Bedrock) receives the client's body as it is instead
(``Call.native``), and its answer is relayed as it came. Every error on these paths is
rendered in Anthropic's shape (``shape``).
"""
import orjson
from flask import Blueprint, Response, current_app, g, request

from app import errors
from app.chat.schemas import validate_chat
from app.gateway import execute, prepare, read_json, respond
from app.messages import count, shape
from app.messages.schemas import validate_count, validate_messages
from app.messages.stream import NATIVE_FRAME, MessagesFrame
from app.messages.translate import anthropic_only, to_chat, to_message
from app.providers.anthropic import NativeMessages

bp = Blueprint("messages", __name__)
PREFIXES = ("/v1/messages", "/messages")


@bp.record_once
def _errors_in_anthropic_shape(state):
    errors.add_surface(state.app, PREFIXES, shape.render)


@bp.post("/v1/messages")
@bp.post("/messages")
def create_message():
    """Create a message, streamed or not, on any configured model."""
    body = read_json()
    validate_messages(body)
    call = prepare("chat", to_chat(body), validate_chat)
    call.native = NativeMessages(body, request.headers.get("anthropic-beta"))
    _check_translatable(body)
    result = execute(call)
    native = _speaks_messages(call.deployment, call.provider)
    if call.stream:
        frame = NATIVE_FRAME if native else MessagesFrame(call, body["model"])
        return respond(call, result, frame)
    message = result if native else to_message(result, body["model"])
    return Response(orjson.dumps(message), mimetype="application/json")


def _check_translatable(body):
    # Checked once the routes are known: an all-Anthropic model group takes anything.
    if all(_speaks_messages(*route[:2]) for route in g.routes):
        return
    problem = anthropic_only(body)
    if problem:
        raise errors.InvalidRequestError(
            f"The model `{body['model']}` cannot take {problem}: that needs an Anthropic "
            "deployment.")


def _speaks_messages(deployment, provider):
    # No provider: a cached answer, always in the internal chat form.
    return provider is not None and provider.speaks_messages_for(deployment)


@bp.post("/v1/messages/count_tokens")
@bp.post("/messages/count_tokens")
def count_tokens():
    """``{"input_tokens": N}``: the provider's own count for Claude models (Anthropic,
    Bedrock), an estimate otherwise."""
    body = read_json()
    validate_count(body)
    return Response(orjson.dumps({"input_tokens": count.input_tokens(current_app, body)}),
                    mimetype="application/json")
