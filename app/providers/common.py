"""Pieces every translating provider shares: OpenAI response builders, stream chunks with one id,
tool-call ids, data URIs, base64 embeddings, NDJSON reading and the drop_params rule.

Provider modules keep their own tables (finish reasons, roles); what is the same for all of them
lives here once.
"""
import base64
import os
import re
import struct
import time
import uuid

import orjson

from app import errors

_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^;,]*)*),(?P<data>.*)$",
                       re.DOTALL)


def first_env(names):
    """The first of these environment variables that is set and not empty (read at start-up)."""
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def chat_id():
    """A fresh OpenAI-style chat completion id."""
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def tool_call_id():
    """A fresh OpenAI-style tool call id (for providers that give none)."""
    return "call_" + uuid.uuid4().hex[:24]


def usage(prompt, completion, cached=None, reasoning=None):
    """OpenAI's usage object, with cached/reasoning token details when the provider gives them."""
    prompt, completion = int(prompt or 0), int(completion or 0)
    out = {"prompt_tokens": prompt, "completion_tokens": completion,
           "total_tokens": prompt + completion}
    if cached is not None:
        out["prompt_tokens_details"] = {"cached_tokens": int(cached)}
    if reasoning is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": int(reasoning)}
    return out


def completion(model, message, finish_reason, usage_, id_=None, created=None):
    """A ``chat.completion`` object with one choice."""
    return {"id": id_ or chat_id(), "object": "chat.completion",
            "created": created or int(time.time()), "model": model, "system_fingerprint": None,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": finish_reason}],
            "usage": usage_}


def assistant_message(text, tool_calls=None, reasoning=None):
    """The assistant message of a completion (content None when only tools were called)."""
    msg = {"role": "assistant", "content": text if (text or not tool_calls) else None,
           "refusal": None}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    if reasoning:
        msg["reasoning_content"] = reasoning
    return msg


def tool_call(id_, name, arguments):
    """One OpenAI tool call; ``arguments`` is a dict or an already-encoded JSON string."""
    if not isinstance(arguments, str):
        arguments = orjson.dumps(arguments).decode()
    return {"id": id_ or tool_call_id(), "type": "function",
            "function": {"name": name, "arguments": arguments}}


def tool_arguments(text, param="messages"):
    """A tool call's JSON-string arguments as the object native APIs want (blank -> {})."""
    try:
        value = orjson.loads(text) if text and text.strip() else {}
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise errors.InvalidRequestError("tool call arguments must be a JSON object",
                                         param=param)
    return value


class ChunkStream:
    """Builds ``chat.completion.chunk`` payloads sharing one id and one ``created``."""

    def __init__(self, model, include_usage=False):
        self.id = chat_id()
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
        self.role_sent = False

    def chunk(self, delta, finish_reason=None):
        """One chunk (JSON bytes); the first one carries the assistant role."""
        if not self.role_sent:
            delta = {"role": "assistant", **delta}
            self.role_sent = True
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish_reason}]}
        if self.include_usage:
            body["usage"] = None
        return orjson.dumps(body)

    def usage_chunk(self, usage_):
        """The final usage chunk (``choices: []``), sent only when the client asked for it."""
        return orjson.dumps({"id": self.id, "object": "chat.completion.chunk",
                             "created": self.created, "model": self.model,
                             "system_fingerprint": None, "choices": [], "usage": usage_})


def wants_usage(body):
    """True when a stream request set ``stream_options.include_usage``."""
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def unsupported(call, body, param, provider):
    """Drop ``param`` from ``body`` when drop_params is on, else refuse it with a 400."""
    if call.drop_params:
        body.pop(param, None)
        return
    raise errors.InvalidRequestError(
        f"{provider} does not support the parameter '{param}'. Set drop_params: true "
        "(litellm_settings, the deployment, or the request) to drop it.", param=param,
        code="unsupported_parameter")


def parse_data_uri(url):
    """(mime type, base64 data) of a ``data:`` URI, or None when url is not one."""
    if not url.startswith("data:"):
        return None
    match = _DATA_URI.match(url)
    if not match or ";base64" not in match.group("params"):
        raise errors.InvalidRequestError("image data URIs must be base64 encoded",
                                         param="messages")
    return match.group("mime") or "application/octet-stream", match.group("data")


def text_of(content):
    """The text of an OpenAI message content (a string or a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content
                   if isinstance(p, dict) and p.get("type") in ("text", "refusal"))


def embedding_value(vector, encoding_format):
    """A float vector as the client asked: a list, or base64 of little-endian float32."""
    if encoding_format != "base64":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def embeddings_response(vectors, model, prompt_tokens, encoding_format=None):
    """OpenAI's embeddings list object."""
    return {"object": "list", "model": model,
            "data": [{"object": "embedding", "index": i,
                      "embedding": embedding_value(v, encoding_format)}
                     for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": int(prompt_tokens or 0),
                      "total_tokens": int(prompt_tokens or 0)}}


def ndjson(chunks):
    """Yield each parsed JSON line of a newline-delimited JSON byte stream."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if line.strip():
                yield _json_line(line)
    if buf.strip():
        yield _json_line(buf)


def _json_line(line):
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        raise errors.BadGatewayError("the provider sent a malformed stream line") from None
