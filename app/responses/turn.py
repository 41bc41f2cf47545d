"""One Responses request as a turn of a conversation: who owns it, what it replays, where it goes.

``Turn`` holds what the view needs between the pipeline stages: the earlier items replayed from
``previous_response_id``, the creator (for the stored row) and the router's action, which picks
the upstream API per deployment (native Responses for OpenAI / Azure, chat for the rest).
"""
import logging

from flask import current_app, g
from sqlalchemy.exc import SQLAlchemyError

from app import errors
from app.responses import native
from app.responses.from_chat import new_id
from app.responses.schemas import DOCUMENTED, builtin_tools
from app.store import responses as stored
from app.store import store_of

log = logging.getLogger("switchboard")

DEFAULT_RETENTION_DAYS = 30


def owner():
    """(key hash, team id) of the caller: None, None for the master key or no key."""
    principal = getattr(g, "principal", None)
    if principal is None:
        return None, None
    return getattr(principal, "token", None), getattr(principal, "team_id", None)


def store(db=None):
    """The database engine, its schema brought up to date on first use."""
    db = db or store_of(current_app)
    db.ensure_schema()
    return db.engine


def retention_days():
    """general_settings.responses_retention_days (default 30)."""
    settings = current_app.extensions["switchboard.settings"]
    return float(settings.general_settings.get("responses_retention_days")
                 or DEFAULT_RETENTION_DAYS)


def not_found(response_id):
    """The 404 for an id that is unknown, expired, deleted, or someone else's."""
    return errors.NotFoundError(f"Response with id '{response_id}' not found.",
                                param="response_id")


def find(response_id):
    """The stored row for ``response_id`` visible to the caller, else a 404."""
    row = stored.load(store(), response_id, owner())
    if row is None:
        raise not_found(response_id)
    return row


def replay(row):
    """The conversation items a stored row continues with: its context, input and output."""
    items = [*row["input_items"], *(row["response"].get("output") or ())]
    return [*row["context"], *(i for i in map(plain, items) if i is not None)]


def plain(item):
    """An item as input for a next turn (no ids or status; reasoning dropped)."""
    kind = item.get("type", "message")
    if kind == "message":
        content = item["content"]
        if isinstance(content, list):
            content = [{"type": p["type"], "text": p.get("text") or p.get("refusal") or ""}
                       if p.get("type") in ("output_text", "refusal", "input_text")
                       else {k: v for k, v in p.items()} for p in content]
        return {"type": "message", "role": item["role"], "content": content}
    if kind == "function_call":
        return {"type": "function_call", "call_id": item["call_id"], "name": item["name"],
                "arguments": item["arguments"]}
    if kind == "function_call_output":
        return {"type": "function_call_output", "call_id": item["call_id"],
                "output": item["output"]}
    return None


def extras(body):
    """Undeclared top-level keys (provider params, LiteLLM overrides) to keep on the chat body."""
    return {k: v for k, v in body.items() if k not in DOCUMENTED}


class Turn:
    """State of one POST /v1/responses between the pipeline stages."""

    def __init__(self, body, history, response_id, frame=None):
        self.body = body
        self.history = history
        self.response_id = response_id
        self.frame = frame
        self.native = False
        self.owner = owner()
        self.builtin = builtin_tools(body)
        # Captured now: a stream saves from the response body, outside the app context.
        self.db = store_of(current_app)
        self.days = retention_days()

    def action(self, call):
        """The router's action for one attempt: native Responses API, or chat completions."""
        g.attempts += 1
        self.native = native.speaks_responses(call, self.body)
        if self.frame is not None:
            self.frame.native = self.native
        if not self.native:
            if self.builtin:
                raise errors.InvalidRequestError(
                    f"Built-in tools ({', '.join(self.builtin)}) run only on OpenAI deployments;"
                    f" model '{self.body['model']}' is served by {call.provider.name}.",
                    param="tools")
            return call.provider.open_stream(call) if call.stream \
                else call.provider.complete(call)
        upstream = native.native_body(call, self.body, self.history, self._extras(call))
        if call.stream:
            return native.open_stream(call, self.body, upstream, self.frame)
        return native.complete(call, self.body, upstream)

    def _extras(self, call):
        # What survived in the chat body of the client's own extra keys (overrides are out).
        return {k: call.body[k] for k in extras(self.body) if k in call.body}

    def save(self, response):
        """Keep a finished response (when the request asked for storage)."""
        items = input_items(self.body["input"])
        context = [i for i in map(plain, self.history) if i is not None]
        try:
            stored.save(store(self.db), self.owner, response, context, items, self.days)
        except SQLAlchemyError as exc:
            # An id the client could not use later is worse than an honest failure.
            log.error("could not store response %s: %s", response.get("id"), type(exc).__name__)
            raise errors.ServiceUnavailableError(
                "The response could not be stored; retry, or send store: false.",
                code="store_unavailable") from None


def input_items(value):
    """This turn's input as stored items with ids (what input_items lists)."""
    if isinstance(value, str):
        value = [{"type": "message", "role": "user",
                  "content": [{"type": "input_text", "text": value}]}]
    out = []
    for item in value:
        kind = item.get("type", "message")
        prefix = {"message": "msg_", "function_call": "fc_"}.get(kind, "item_")
        entry = {"id": item.get("id") or new_id(prefix), **item, "type": kind}
        if kind == "message":
            entry.setdefault("status", "completed")
            if isinstance(entry["content"], str):
                part = "output_text" if entry["role"] == "assistant" else "input_text"
                entry["content"] = [{"type": part, "text": entry["content"]}]
        out.append(entry)
    return out
