"""Cohere v2 answers in OpenAI's shape: chat responses, stream events, embeddings, errors.

Pure functions over Cohere's documented bodies; app/providers/cohere.py builds the requests.
"""
import orjson

from app import errors
from app.providers import common

FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length",
          "TOOL_CALL": "tool_calls", "ERROR_TOXIC": "content_filter", "ERROR_LIMIT": "length"}
_CONTEXT_HINTS = ("too many tokens", "size limit exceeded", "prompt is too long", "context length",
                  "context window")

def chat_response(data, model):
    """A v2 chat response as an OpenAI chat.completion."""
    message = data.get("message")
    if not isinstance(message, dict):
        raise errors.BadGatewayError("Cohere answered without a message")
    parts = [p for p in message.get("content") or [] if isinstance(p, dict)]
    text = "".join(p.get("text") or "" for p in parts if p.get("type") == "text")
    thinking = "".join(p.get("thinking") or "" for p in parts if p.get("type") == "thinking")
    calls = [common.tool_call(c.get("id"), (c.get("function") or {}).get("name"),
                              (c.get("function") or {}).get("arguments") or "{}")
             for c in message.get("tool_calls") or []]
    if calls and not text:
        text = message.get("tool_plan") or ""
    reason = finish_reason(data.get("finish_reason"), None)
    rid = data.get("id")
    return common.completion(model, common.assistant_message(text, calls, thinking or None),
                             reason, usage_of(data.get("usage")),
                             id_=f"chatcmpl-{rid}" if rid else None)


def finish_reason(reason, error):
    """OpenAI's finish_reason; a failed or timed-out generation raises instead."""
    if reason == "ERROR":
        raise errors.BadGatewayError(f"Cohere failed while generating: {error or 'ERROR'}")
    if reason == "TIMEOUT":
        raise errors.GatewayTimeoutError("Cohere stopped: the generation exceeded its time limit")
    return FINISH.get(reason, "stop")


def usage_of(usage):
    """OpenAI usage from Cohere's (``tokens``, else ``billed_units``; ``cached_tokens``)."""
    usage = usage if isinstance(usage, dict) else {}
    tokens = usage.get("tokens") or usage.get("billed_units") or {}
    return common.usage(tokens.get("input_tokens"), tokens.get("output_tokens"),
                        cached=usage.get("cached_tokens"))


def embed_response(data, model, encoding_format):
    """A v2 embed response (``embeddings.float``) as OpenAI's embeddings list."""
    vectors = data.get("embeddings")
    if isinstance(vectors, dict):
        vectors = vectors.get("float")
    if not isinstance(vectors, list):
        raise errors.BadGatewayError("Cohere answered without float embeddings")
    tokens = ((data.get("meta") or {}).get("billed_units") or {}).get("input_tokens")
    return common.embeddings_response(vectors, model, tokens, encoding_format)


# -- stream -----------------------------------------------------------------------------------

def stream_chunks(call, events, model):
    """Translate v2 stream events into chunk payloads until message-end."""
    stream = common.ChunkStream(model, common.wants_usage(call.body))
    indexes = {}  # Cohere's tool-call index -> ours
    for name, data in events:
        if data == b"[DONE]":
            break
        event = _event(data)
        kind = event.get("type") or name
        delta = event.get("delta") if isinstance(event.get("delta"), dict) else {}
        message = delta.get("message") if isinstance(delta.get("message"), dict) else {}
        if kind == "message-end":
            yield from _end(call, stream, delta)
            return
        out = _delta(kind, event, message, indexes)
        if out is not None:
            yield stream.chunk(out)
    raise errors.BadGatewayError("Cohere closed the stream before message-end")


def _delta(kind, event, message, indexes):
    """The OpenAI delta for one event, or None for bookkeeping events (citations, ends)."""
    if kind == "message-start":
        return {"content": ""}
    if kind in ("content-start", "content-delta"):
        part = message.get("content") or {}
        if part.get("thinking"):
            return {"reasoning_content": part["thinking"]}
        return {"content": part["text"]} if part.get("text") else None
    if kind == "tool-plan-delta":
        return {"content": message["tool_plan"]} if message.get("tool_plan") else None
    if kind in ("tool-call-start", "tool-call-delta"):
        call = message.get("tool_calls") or {}
        call = call[0] if isinstance(call, list) and call else call
        fn = call.get("function") or {}
        if kind == "tool-call-delta":
            index = indexes.get(event.get("index"), max(len(indexes) - 1, 0))
            return ({"tool_calls": [{"index": index, "function": {"arguments": fn["arguments"]}}]}
                    if fn.get("arguments") else None)
        index = indexes.setdefault(event.get("index", len(indexes)), len(indexes))
        return {"tool_calls": [{
            "index": index, "id": call.get("id") or common.tool_call_id(), "type": "function",
            "function": {"name": fn.get("name"), "arguments": fn.get("arguments") or ""}}]}
    return None


def _end(call, stream, delta):
    call.usage = usage_of(delta.get("usage"))
    reason = finish_reason(delta.get("finish_reason"), delta.get("error"))
    yield stream.chunk({}, reason)
    if stream.include_usage:
        yield stream.usage_chunk(call.usage)


def _event(data):
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise errors.BadGatewayError("Cohere sent a malformed stream event") from None
    if not isinstance(event, dict):
        raise errors.BadGatewayError("Cohere sent a malformed stream event")
    return event


# -- errors -----------------------------------------------------------------------------------

def error_for(status, message, retry_after=None):
    """The tree's exception for a Cohere HTTP error."""
    text = message.lower()
    if status == 498:  # a deny-listed token in the prompt or the answer
        return errors.ContentPolicyError(message)
    if status == 402:  # billing limit: OpenAI says 429 insufficient_quota
        return errors.RateLimitError(message, code="insufficient_quota")
    if status == 499:  # Cohere cancelled the request; another try may work
        return errors.BadGatewayError(message)
    if status == 501:  # a feature the model does not have: retrying will not help
        return errors.InvalidRequestError(message, code="not_implemented")
    if status == 404 and "model" in text:
        return errors.ModelNotFoundError(message, param="model")
    if status in (400, 422) and "max tokens must be" in text:
        return errors.InvalidRequestError(message, param="max_tokens")
    if status in (400, 413, 422) and any(h in text for h in _CONTEXT_HINTS):
        return errors.ContextLengthExceededError(message, param="messages")
    return errors.from_upstream(status, message, retry_after=retry_after)


def error_text(content, status):
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str) and data["message"]:
        return data["message"]
    text = content.decode("utf-8", "replace").strip()[:500]
    return text or f"Cohere error (HTTP {status})"
