"""Bedrock Claude natively: a client's Anthropic Messages body through InvokeModel, unchanged.

A ``/v1/messages`` request routed to a Bedrock Claude deployment is not translated to Converse.
Bedrock's documented format for Claude (InvokeModel / InvokeModelWithResponseStream):

- request: the Messages body without ``model`` (it is in the URL) and ``stream`` (it is the
  action), plus ``"anthropic_version": "bedrock-2023-05-31"``; the ``anthropic-beta`` header's
  values go in the body as ``"anthropic_beta": [...]``. cache_control, thinking, top_k, metadata,
  tools and system blocks are sent as they came;
- answer: Anthropic's ``message`` object itself;
- stream: AWS event-stream frames whose ``chunk`` events carry ``{"bytes": <base64>}``, each one
  Anthropic stream event as JSON (the last one with ``amazon-bedrock-invocationMetrics``),
  re-emitted here as Anthropic's SSE events;
- count_tokens: CountTokens (``/model/{foundation model}/count-tokens``) with the InvokeModel
  body as a base64 blob: ``{"input": {"invokeModel": {"body": ...}}}`` -> ``{"inputTokens": N}``.

Pure functions over dicts and bytes; HTTP, signing and the event-stream framing stay in
``bedrock``.
"""
import base64
import binascii
import re

import orjson

from app import errors
from app.providers.anthropic_stream import error_from, usage_of
from app.providers.base import scrub

ANTHROPIC_VERSION = "bedrock-2023-05-31"
NOT_SENT = ("model", "stream")  # the URL names the model, the action says whether to stream
METRICS = "amazon-bedrock-invocationMetrics"  # Bedrock's, not Anthropic's: not relayed
# Bedrock refuses CountTokens for some Claude models (those served only through cross-Region
# inference); the gateway estimates their count instead of failing count_tokens.
NO_COUNT = re.compile(r"count(?:ing)? tokens|token count", re.I)
_USAGE_EVENTS = ("message_start", "message_delta")


def is_claude(model_id):
    """True for a Claude model id on Bedrock, with or without an inference-profile prefix
    (``us.``, ``global.``...) or ARN around it."""
    return "anthropic.claude" in model_id


def invoke_body(body, beta=None):
    """The InvokeModel body for a client's Messages body and ``anthropic-beta`` header."""
    out = {"anthropic_version": ANTHROPIC_VERSION}
    out.update((k, v) for k, v in body.items() if k not in NOT_SENT and k != "anthropic_version")
    betas = beta_list(body.get("anthropic_beta"), beta)
    if betas:
        out["anthropic_beta"] = betas
    else:
        out.pop("anthropic_beta", None)
    return out


def beta_list(*sources):
    """Beta names from lists or comma-separated strings, in order, each once."""
    names = []
    for source in sources:
        items = source.split(",") if isinstance(source, str) else source or ()
        for name in items:
            name = name.strip() if isinstance(name, str) else name
            if name and name not in names:
                names.append(name)
    return names


def count_request(body, beta=None):
    """The CountTokens request for a count_tokens body: the InvokeModel body it would be, as the
    base64 blob AWS's JSON protocol sends (max_tokens added: the InvokeModel schema needs it)."""
    invoke = invoke_body(body, beta)
    if "max_tokens" not in invoke:
        budget = (invoke.get("thinking") or {}).get("budget_tokens")
        invoke["max_tokens"] = budget + 1 if isinstance(budget, int) else 1024
    data = base64.b64encode(orjson.dumps(invoke)).decode()
    return {"input": {"invokeModel": {"body": data}}}


def count_model(model_id):
    """The foundation model id CountTokens takes for a model id, inference profile or ARN
    (``us.anthropic.claude-x`` -> ``anthropic.claude-x``)."""
    start = model_id.find("anthropic.")
    return model_id[start:] if start > 0 else model_id


def input_tokens(data):
    """``{"input_tokens": N}`` from CountTokens' ``{"inputTokens": N}``."""
    count = data.get("inputTokens")
    if not isinstance(count, int):
        raise errors.BadGatewayError("bedrock answered CountTokens without inputTokens")
    return {"input_tokens": count}


def cannot_count(exc):
    """True when Bedrock refused CountTokens because the model does not support it."""
    return isinstance(exc, errors.InvalidRequestError) and bool(NO_COUNT.search(exc.message))


def relay_events(call, messages):
    """Anthropic SSE events for the decoded event-stream ``messages`` of a native Claude stream
    (``call.usage`` kept up to date); a stream without message_stop is a 502."""
    relay = StreamRelay(lambda text: scrub(call, text))
    for message in messages:
        if message.headers.get(":event-type") != "chunk":
            continue
        out = relay.feed(message.payload)
        if relay.usage:
            call.usage = usage_of(relay.usage)
        if out:
            yield out
        if relay.done:
            return
    raise errors.BadGatewayError("bedrock closed the stream before message_stop")


class StreamRelay:
    """The payloads of ``chunk`` frames -> Anthropic SSE events, keeping the usage they report."""

    def __init__(self, scrub=str):
        self.scrub = scrub
        self.usage = {}  # Anthropic usage: message_start's, updated by message_delta's
        self.done = False

    def feed(self, payload):
        """The SSE bytes for one chunk payload (b"" for an event without a type); an ``error``
        event raises."""
        event, raw = chunk_event(payload)
        kind = event.get("type")
        if not isinstance(kind, str):
            return b""
        if kind == "error":
            raise error_from(500, event.get("error"), scrub=self.scrub)
        if kind in _USAGE_EVENTS:
            found = (event.get("message") or {}).get("usage") if kind == "message_start" \
                else event.get("usage")
            self.usage.update({k: v for k, v in (found or {}).items() if v is not None})
        elif kind == "message_stop":
            self.done = True
        return sse(kind, event, raw)


def chunk_event(payload):
    """(event dict, its JSON bytes) carried by a ``chunk`` frame's payload; 502 otherwise."""
    try:
        part = orjson.loads(payload)
        raw = base64.b64decode(part["bytes"], validate=True)
        event = orjson.loads(raw)
    except (orjson.JSONDecodeError, binascii.Error, KeyError, TypeError):
        raise errors.BadGatewayError("bedrock sent a malformed stream chunk") from None
    if not isinstance(event, dict):
        raise errors.BadGatewayError("bedrock sent a stream chunk that is not a JSON object")
    return event, raw


def sse(kind, event, raw):
    """One Anthropic SSE event; the JSON as it came unless it must change (metrics removed, or
    line breaks an SSE data line cannot hold)."""
    if METRICS in event:
        raw = orjson.dumps({k: v for k, v in event.items() if k != METRICS})
    elif b"\n" in raw or b"\r" in raw:
        raw = orjson.dumps(event)
    return b"event: " + kind.encode() + b"\ndata: " + raw + b"\n\n"
