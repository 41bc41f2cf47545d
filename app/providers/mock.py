"""The built-in mock provider: deterministic replies without any network or key.

``mock/<anything>`` echoes the last user message (or a fixed ``mock_response`` from the deployment
or the request), streams it in several chunks, embeds text as a deterministic unit vector and
counts usage with a simple word/punctuation tokenizer. ``mock_latency_ms`` adds latency;
``mock_response: "litellm.RateLimitError"`` (LiteLLM's convention) or ``mock_error_rate`` with
``mock_error_status`` inject errors. It serves the default ``demo`` model and load tests.
"""
import base64
import hashlib
import random
import re
import struct
import time
import uuid

import orjson

from app import errors
from app.providers.base import Provider, Target

_TOKEN = re.compile(r"\w+|[^\w\s]")
_ERRORS = {
    "litellm.RateLimitError": (errors.RateLimitError, "Mock rate limit"),
    "litellm.InternalServerError": (errors.InternalServerError, "Mock internal server error"),
    "litellm.APIError": (errors.InternalServerError, "Mock API error"),
    "litellm.AuthenticationError": (errors.AuthenticationError, "Mock authentication error"),
    "litellm.BadRequestError": (errors.InvalidRequestError, "Mock bad request"),
    "litellm.ContextWindowExceededError": (errors.ContextLengthExceededError,
                                           "Mock context window exceeded"),
    "litellm.ContentPolicyViolationError": (errors.ContentPolicyError, "Mock content policy"),
    "litellm.Timeout": (errors.GatewayTimeoutError, "Mock timeout"),
    "litellm.ServiceUnavailableError": (errors.ServiceUnavailableError, "Mock unavailable"),
}
DEFAULT_DIMENSIONS = 1536
WORDS_PER_CHUNK = 3


def count_tokens(text):
    """Deterministic token count used for mock usage."""
    return len(_TOKEN.findall(text))


def text_of(content):
    """The text of a message content (string or list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content
                        if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


class MockProvider(Provider):
    """Answers every endpoint locally."""

    name = "mock"
    endpoints = frozenset({"chat", "embeddings", "completions"})

    def prepare(self, deployment):
        """Nothing to resolve: no base, no key."""
        return Target(None, None, {})

    def complete(self, call):
        """Answer a non-stream call."""
        self._behave(call)
        return {"chat": self._chat, "embeddings": self._embeddings,
                "completions": self._completion}[call.endpoint](call)

    def open_stream(self, call):
        """Answer a stream call with several chunks."""
        self._behave(call)
        return _MockStream(self._chunks(call))

    def _behave(self, call):
        params = call.deployment.params
        latency = params.get("mock_latency_ms")
        if latency:
            time.sleep(float(latency) / 1000)
        fixed = self._fixed(call)
        if fixed in _ERRORS:
            cls, message = _ERRORS[fixed]
            raise cls(message, retry_after=1 if cls is errors.RateLimitError else None)
        rate = params.get("mock_error_rate")
        if rate and random.random() < float(rate):
            status = int(params.get("mock_error_status", 500))
            raise errors.error_class_for(status)(f"Mock injected error ({status})")

    def _fixed(self, call):
        return call.overrides.mock_response or call.deployment.mock_response

    def _reply(self, call):
        fixed = self._fixed(call)
        if fixed is not None:
            return fixed
        messages = call.body.get("messages", [])
        for msg in reversed(messages):
            if msg.get("role") == "user":
                return text_of(msg.get("content"))
        return text_of(messages[-1].get("content")) if messages else ""

    def _usage(self, call, completion_text):
        prompt = sum(count_tokens(text_of(m.get("content"))) for m in call.body["messages"])
        done = count_tokens(completion_text)
        call.usage = {"prompt_tokens": prompt, "completion_tokens": done,
                      "total_tokens": prompt + done}
        return call.usage

    def _chat(self, call):
        reply = self._reply(call)
        n = call.body.get("n") or 1
        return {"id": _chat_id(), "object": "chat.completion", "created": int(time.time()),
                "model": call.deployment.upstream_model, "system_fingerprint": None,
                "choices": [{"index": i, "finish_reason": "stop", "logprobs": None,
                             "message": {"role": "assistant", "content": reply,
                                         "refusal": None}} for i in range(n)],
                "usage": self._usage(call, reply)}

    def _chunks(self, call):
        reply = self._reply(call)
        base = {"id": _chat_id(), "object": "chat.completion.chunk", "created": int(time.time()),
                "model": call.deployment.upstream_model, "system_fingerprint": None}
        with_usage = bool((call.body.get("stream_options") or {}).get("include_usage"))
        extra = {"usage": None} if with_usage else {}
        delay = float(call.deployment.params.get("mock_stream_delay_ms") or 0) / 1000

        def chunk(delta, finish=None):
            return orjson.dumps({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                      "finish_reason": finish}], **extra})

        yield chunk({"role": "assistant", "content": "", "refusal": None})
        for piece in _pieces(reply):
            if delay:
                time.sleep(delay)
            yield chunk({"content": piece})
        yield chunk({}, "stop")
        usage = self._usage(call, reply)
        if with_usage:
            yield orjson.dumps({**base, "choices": [], "usage": usage})

    def _completion(self, call):
        prompt = call.body.get("prompt")
        text = self._fixed(call) or (prompt if isinstance(prompt, str) else
                                     " ".join(p for p in prompt if isinstance(p, str))
                                     if isinstance(prompt, list) else "")
        p_tokens = count_tokens(prompt) if isinstance(prompt, str) else len(prompt or [])
        call.usage = {"prompt_tokens": p_tokens, "completion_tokens": count_tokens(text),
                      "total_tokens": p_tokens + count_tokens(text)}
        return {"id": "cmpl-" + uuid.uuid4().hex[:24], "object": "text_completion",
                "created": int(time.time()), "model": call.deployment.upstream_model,
                "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
                "usage": call.usage}

    def _embeddings(self, call):
        inputs = call.body["input"]
        if isinstance(inputs, str) or (inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        dims = call.body.get("dimensions") or call.deployment.params.get("dimensions") \
            or DEFAULT_DIMENSIONS
        as_b64 = call.body.get("encoding_format") == "base64"
        data, tokens = [], 0
        for i, item in enumerate(inputs):
            vector = embed(item, dims)
            tokens += count_tokens(item) if isinstance(item, str) else len(item)
            if as_b64:
                vector = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vector})
        call.usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return {"object": "list", "data": data, "model": call.deployment.upstream_model,
                "usage": call.usage}


def embed(item, dims):
    """A deterministic unit vector for a string or a token list."""
    seed = hashlib.sha256(orjson.dumps(item)).digest()
    rng = random.Random(seed)
    vec = [rng.uniform(-1.0, 1.0) for _ in range(dims)]
    norm = sum(v * v for v in vec) ** 0.5 or 1.0
    return [v / norm for v in vec]


def _pieces(text):
    words = text.split(" ")
    for i in range(0, len(words), WORDS_PER_CHUNK):
        piece = " ".join(words[i:i + WORDS_PER_CHUNK])
        yield piece if i == 0 else " " + piece


def _chat_id():
    return "chatcmpl-" + uuid.uuid4().hex[:24]


class _MockStream:
    __slots__ = ("events",)

    def __init__(self, events):
        self.events = events

    def __iter__(self):
        return self.events

    def close(self):
        """Stop generating (the client went away)."""
        self.events.close()
