"""POST/GET/DELETE /v1/responses (and /responses): OpenAI's Responses API on every provider."""
from flask import Blueprint, Response, request

import orjson

from app import errors
from app.chat.schemas import validate_chat
from app.gateway import execute, prepare, read_json, respond
from app.responses import turn
from app.responses.events import ResponsesFrame
from app.responses.from_chat import from_chat, new_id
from app.responses.schemas import validate_request
from app.responses.to_chat import to_chat
from app.store import responses as stored

bp = Blueprint("responses", __name__)


@bp.post("/v1/responses")
@bp.post("/responses")
def create():
    """Create a response, streamed or not; stored unless ``store`` is false."""
    body = read_json()
    validate_request(body)
    history = []
    if body.get("previous_response_id"):
        history = turn.replay(turn.find(body["previous_response_id"]))
    chat = to_chat(body, history)
    extras = turn.extras(body)
    chat.update(extras)
    # to_chat builds a valid chat body from a validated one: only client extras need checking.
    call = prepare("chat", chat, validate_chat if extras else _trusted)
    keep = body.get("store") is not False
    response_id = new_id("resp_")
    this = turn.Turn(body, history, response_id)
    if call.stream:
        this.frame = ResponsesFrame(body, response_id, this.save if keep else None)
        this.frame.call = call
    result = execute(call, this.action)
    if call.stream:
        return respond(call, result, this.frame)
    response = result if this.native else from_chat(body, result, response_id)
    if keep:
        this.save(response)
    return respond(call, response)


@bp.get("/v1/responses/<response_id>")
@bp.get("/responses/<response_id>")
def retrieve(response_id):
    """A stored response, for the key (or team) that created it."""
    return _json(turn.find(response_id)["response"])


@bp.delete("/v1/responses/<response_id>")
@bp.delete("/responses/<response_id>")
def delete(response_id):
    """Delete a stored response; a second delete is a 404."""
    if not stored.delete(turn.store(), response_id, turn.owner()):
        raise turn.not_found(response_id)
    return _json({"id": response_id, "object": "response", "deleted": True})


@bp.get("/v1/responses/<response_id>/input_items")
@bp.get("/responses/<response_id>/input_items")
def input_items(response_id):
    """The input items of a stored response, as a cursor page (``order``, ``limit``, ``after``)."""
    items = turn.find(response_id)["input_items"]
    order = request.args.get("order", "desc")
    if order not in ("asc", "desc"):
        raise errors.InvalidRequestError("order must be 'asc' or 'desc'", param="order")
    if order == "desc":
        items = items[::-1]
    after = request.args.get("after")
    if after:
        ids = [i.get("id") for i in items]
        items = items[ids.index(after) + 1:] if after in ids else []
    limit = _limit(request.args.get("limit", "20"))
    page = items[:limit]
    return _json({"object": "list", "data": page,
                  "first_id": page[0]["id"] if page else None,
                  "last_id": page[-1]["id"] if page else None,
                  "has_more": len(items) > limit})


def _trusted(chat):
    """The chat body came from to_chat alone: nothing to check again."""


def _limit(value):
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise errors.InvalidRequestError("limit must be an integer from 1 to 100", param="limit")
    return limit


def _json(data):
    return Response(orjson.dumps(data), mimetype="application/json")
