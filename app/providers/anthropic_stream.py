"""Anthropic Messages API -> OpenAI: responses, stream events and errors.

The request side lives in ``anthropic.py``; this module reads what Anthropic sends back:

- a ``message`` object -> ``chat.completion`` (text, tool_use -> tool_calls, thinking ->
  ``reasoning_content``);
- the SSE events ``message_start``, ``content_block_start/delta/stop``, ``message_delta``,
  ``message_stop``, ``ping`` and ``error`` -> ``chat.completion.chunk`` payloads;
- ``{"type": "error", "error": {"type", "message"}}`` bodies -> the exception tree.

Translation is pure (``to_completion``, ``StreamTranslator.feed``, ``error_from``);
``stream_chunks`` adds the reading: content type, a connection lost mid-body, no message_stop.
"""
import orjson

from app import errors
from app.providers import common
from app.providers.base import end_of_body, scrub, stream_body
from app.streaming import sse_events

NAME = "anthropic"
FINISH_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
    "max_tokens": "length", "model_context_window_exceeded": "length",
    "tool_use": "tool_calls", "refusal": "content_filter",
}
# Anthropic's error types and the status each one means (the body's type wins over the HTTP
# status, because a stream's ``error`` event has no status of its own).
ERROR_STATUS = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
    "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
    "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529,
}
_CONTENT_FILTER_HINT = "content filtering policy"
# "input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, ..."
_CONTEXT_HINT = "exceed context limit"


def finish_reason(stop_reason):
    """OpenAI's finish_reason for an Anthropic stop_reason (unknown reasons end as "stop")."""
    return FINISH_REASONS.get(stop_reason, "stop") if stop_reason else None


def usage_of(usage):
    """OpenAI usage from Anthropic's; cache reads and writes are part of the prompt."""
    usage = usage or {}
    read = usage.get("cache_read_input_tokens")
    prompt = (usage.get("input_tokens") or 0) + (read or 0) \
        + (usage.get("cache_creation_input_tokens") or 0)
    details = usage.get("output_tokens_details") or {}
    return common.usage(prompt, usage.get("output_tokens"), cached=read,
                        reasoning=details.get("thinking_tokens"))


def to_completion(data, model):
    """A ``chat.completion`` for an Anthropic ``message`` object."""
    texts, calls, thoughts, blocks = [], [], [], []
    for block in data.get("content") or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "tool_use":
            calls.append(common.tool_call(block.get("id"), block.get("name"),
                                          block.get("input") or {}))
        elif kind in ("thinking", "redacted_thinking"):
            thoughts.append(block.get("thinking") or "")
            blocks.append(block)
    message = common.assistant_message("".join(texts), calls, "".join(thoughts))
    if blocks:
        # Kept whole (with signatures) so a client can hand them back on the next tool turn.
        message["thinking_blocks"] = blocks
    return common.completion(data.get("model") or model, message,
                             finish_reason(data.get("stop_reason")) or "stop",
                             usage_of(data.get("usage")))


def error_from(status, err, retry_after=None, scrub=str):
    """The exception for an Anthropic error object (from a body or a stream event)."""
    err = err if isinstance(err, dict) else {}
    kind = err.get("type")
    message = scrub(str(err.get("message") or f"{NAME} error ({kind or status})"))
    status = ERROR_STATUS.get(kind, status)
    if status == 400 and _CONTENT_FILTER_HINT in message.lower():
        return errors.ContentPolicyError(message)
    if status == 400 and _CONTEXT_HINT in message:
        return errors.ContextLengthExceededError(message)
    if status == 402:  # out of credit: not the client's request, not worth retrying
        return errors.PermissionDeniedError(message, code="billing_error")
    if status == 529:
        # Overloaded: 503 makes the OpenAI SDK (and our router) back off and retry.
        return errors.ServiceUnavailableError(message, code="overloaded_error",
                                              retry_after=retry_after)
    return errors.from_upstream(status, message, retry_after=retry_after)


def error_from_body(status, content, retry_after=None, scrub=str):
    """The exception for an HTTP error answer: Anthropic's error body, or anything else."""
    try:
        err = orjson.loads(content).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        err = None
    if not isinstance(err, dict):
        err = {"message": content.decode("utf-8", "replace")[:500]}
    return error_from(status, err, retry_after, scrub)


def scrubber(call):
    """A function removing the call's key from upstream text."""
    # x-api-key is not a header base._bearer knows, so name the key for scrub() here.
    if call.api_key is None:
        call.api_key = call.overrides.api_key or (call.target.api_key if call.target else None)
    return lambda text: scrub(call, text)


def stream_chunks(call, response):
    """OpenAI chunk payloads for an Anthropic SSE response (call.usage kept up to date)."""
    translator = StreamTranslator(call.deployment.upstream_model,
                                  common.wants_usage(call.body), scrubber(call))
    body = stream_body(response, NAME)
    for _name, data in sse_events(body):
        event = parse_event(data)
        yield from translator.feed(event)
        if event.get("type") in ("message_delta", "message_stop"):
            call.usage = translator.final_usage()
        if translator.done:
            end_of_body(body)
            return
    raise errors.BadGatewayError(f"{NAME} closed the stream before message_stop")


class StreamTranslator:
    """Turns Anthropic stream events into OpenAI chunk payloads, one event at a time."""

    def __init__(self, model, include_usage, scrub=str):
        self.out = common.ChunkStream(model, include_usage)
        self.scrub = scrub
        self.tools = {}  # content block index -> OpenAI tool_calls index
        self.usage = {}
        self.done = False

    def feed(self, event):
        """The chunk payloads (JSON bytes) for one parsed event; raises on an error event."""
        kind = event.get("type")
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        # ping and event types newer than this code carry nothing to forward
        return handler(self, event) if handler else ()

    def final_usage(self):
        """OpenAI usage from what message_start and message_delta reported."""
        return usage_of(self.usage)

    def _message_start(self, event):
        message = event.get("message") or {}
        if message.get("model"):
            self.out.model = message["model"]
        self.usage.update(message.get("usage") or {})
        return [self.out.chunk({"content": ""})]

    def _content_block_start(self, event):
        block = event.get("content_block") or {}
        kind = block.get("type")
        if kind == "tool_use":
            index = self.tools[event.get("index")] = len(self.tools)
            return [self._tool_delta({"index": index, "id": block.get("id"), "type": "function",
                                      "function": {"name": block.get("name"), "arguments": ""}})]
        if kind == "text" and block.get("text"):
            return [self.out.chunk({"content": block["text"]})]
        if kind == "thinking" and block.get("thinking"):
            return [self.out.chunk({"reasoning_content": block["thinking"]})]
        return ()

    def _content_block_delta(self, event):
        delta = event.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self.out.chunk({"content": delta["text"]})]
        if kind == "input_json_delta" and delta.get("partial_json"):
            index = self.tools.get(event.get("index"))
            if index is None:  # server tools (web search...) stream input we do not forward
                return ()
            return [self._tool_delta({"index": index,
                                      "function": {"arguments": delta["partial_json"]}})]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [self.out.chunk({"reasoning_content": delta["thinking"]})]
        return ()  # signature_delta, citations_delta: nothing OpenAI-shaped to say

    def _message_delta(self, event):
        self.usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        reason = finish_reason((event.get("delta") or {}).get("stop_reason"))
        return [self.out.chunk({}, reason)] if reason else ()

    def _message_stop(self, event):
        self.done = True
        return [self.out.usage_chunk(self.final_usage())] if self.out.include_usage else ()

    def _error(self, event):
        raise error_from(500, event.get("error"), scrub=self.scrub)

    def _tool_delta(self, call):
        return self.out.chunk({"tool_calls": [call]})


_HANDLERS = {
    "message_start": StreamTranslator._message_start,
    "content_block_start": StreamTranslator._content_block_start,
    "content_block_delta": StreamTranslator._content_block_delta,
    "message_delta": StreamTranslator._message_delta,
    "message_stop": StreamTranslator._message_stop,
    "error": StreamTranslator._error,
}


def parse_event(data):
    """One SSE data payload as a dict; anything else is a broken stream (502)."""
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise errors.BadGatewayError(f"{NAME} sent a malformed stream event") from None
    if not isinstance(event, dict):
        raise errors.BadGatewayError(f"{NAME} sent a malformed stream event")
    return event


_USAGE_EVENTS = frozenset({"message_start", "message_delta", "message_stop", "error"})


def relay_events(call, response):
    """Anthropic's SSE events as they came (``event:`` + ``data:`` bytes), reading only the ones
    that carry usage, the end or an error; a stream without message_stop is a 502."""
    usage = {}
    body = stream_body(response, NAME)
    for name, data in sse_events(body):
        if name is None or name in _USAGE_EVENTS:
            event = parse_event(data)
            kind = name = event.get("type")
            if kind == "error":
                raise error_from(500, event.get("error"), scrub=scrubber(call))
            if kind == "message_start":
                usage.update((event.get("message") or {}).get("usage") or {})
            elif kind == "message_delta":
                usage.update({k: v for k, v in (event.get("usage") or {}).items()
                              if v is not None})
            call.usage = usage_of(usage)
            if kind == "message_stop":
                yield b"event: message_stop\ndata: " + data + b"\n\n"
                end_of_body(body)
                return
        if isinstance(name, str):
            yield b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"
    raise errors.BadGatewayError(f"{NAME} closed the stream before message_stop")
