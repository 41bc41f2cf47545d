"""A fake OpenAI API server for end-to-end tests (stdlib only).

Run ``python tests/fakes/fake_openai.py --port 0``: it binds 127.0.0.1, prints
``LISTENING <port>`` and answers with OpenAI's wire formats:

    POST /v1/chat/completions   chat.completion, or SSE chat.completion.chunk events + [DONE]
    POST /v1/embeddings         float lists, or base64 little-endian float32 (encoding_format)
    POST /v1/completions        text_completion
    GET  /v1/models[/{id}]      model list / model
    Authorization "Bearer sk-bad" -> 401 invalid_api_key

Test control and scripted behaviours: see tests/fakes/base.py.
"""
import base64
import hashlib
import struct
import sys
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the tests package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.base import FakeHandler, serve  # noqa: E402

FINGERPRINT = "fp_fake0001"
MODELS = ("gpt-3.5-turbo", "gpt-4o-mini", "text-embedding-ada-002", "gpt-3.5-turbo-instruct")


def count_tokens(text):
    """A stable, cheap stand-in for a tokenizer: one token per word (at least one)."""
    return max(1, len(str(text).split()))


def text_of(content):
    """The text of a message content (a string or a list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def last_user_text(messages):
    """The text of the last user message."""
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def prompt_tokens(messages):
    """Token count of all message contents."""
    return sum(count_tokens(text_of(m.get("content")))
               for m in messages or [] if isinstance(m, dict))


def usage(prompt, completion):
    """OpenAI's chat usage object."""
    return {
        "prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    }


def embedding_vector(text, dimensions):
    """Deterministic floats, exactly representable as float32 (so base64 round-trips)."""
    digest = hashlib.sha256(str(text).encode()).digest()
    while len(digest) < dimensions:
        digest += hashlib.sha256(digest).digest()
    return [(b - 128) / 256 for b in digest[:dimensions]]


def encode_base64(vector):
    """OpenAI's base64 embedding: little-endian float32."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def error_body(message, type_, code=None, param=None):
    """OpenAI's error object."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def chat_completion(body):
    """A non-streamed chat.completion for a request body."""
    reply = "echo: " + last_user_text(body.get("messages"))
    choices = [{"index": i, "message": {"role": "assistant", "content": reply, "refusal": None},
                "logprobs": None, "finish_reason": "stop"} for i in range(int(body.get("n") or 1))]
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion",
        "created": int(time.time()), "model": body.get("model"), "choices": choices,
        "usage": usage(prompt_tokens(body.get("messages")), count_tokens(reply) * len(choices)),
        "system_fingerprint": FINGERPRINT, "service_tier": "default",
    }


def reply_pieces(reply, words=5):
    """Split a reply into pieces of about five words, keeping the spaces."""
    tokens = reply.split(" ")
    return [" ".join(tokens[i:i + words]) + (" " if i + words < len(tokens) else "")
            for i in range(0, len(tokens), words)]


def chat_chunks(body):
    """The chat.completion.chunk objects of a streamed answer."""
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    reply = "echo: " + last_user_text(body.get("messages"))
    base = {"id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion.chunk",
            "created": int(time.time()), "model": body.get("model"),
            "service_tier": "default", "system_fingerprint": FINGERPRINT}

    def chunk(delta, finish_reason=None):
        out = dict(base, choices=[{"index": 0, "delta": delta, "logprobs": None,
                                   "finish_reason": finish_reason}])
        if include_usage:
            out["usage"] = None
        return out

    chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
    chunks += [chunk({"content": piece}) for piece in reply_pieces(reply)]
    chunks.append(chunk({}, "stop"))
    if include_usage:
        chunks.append(dict(base, choices=[], usage=usage(prompt_tokens(body.get("messages")),
                                                          count_tokens(reply))))
    return chunks


def text_completion(body):
    """A text_completion for a /v1/completions body."""
    prompt = body.get("prompt")
    prompt = prompt[0] if isinstance(prompt, list) and prompt else prompt
    text = "echo: " + str(prompt or "")
    return {
        "id": "cmpl-" + uuid.uuid4().hex[:24], "object": "text_completion",
        "created": int(time.time()), "model": body.get("model"),
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": count_tokens(prompt or ""),
                  "completion_tokens": count_tokens(text),
                  "total_tokens": count_tokens(prompt or "") + count_tokens(text)},
        "system_fingerprint": FINGERPRINT,
    }


def embeddings(body):
    """An embeddings list for a /v1/embeddings body."""
    inputs = body.get("input")
    inputs = [inputs] if isinstance(inputs, str) or not isinstance(inputs, list) else inputs
    if inputs and all(isinstance(i, int) for i in inputs):
        inputs = [inputs]  # one tokenized input
    dimensions = int(body.get("dimensions") or 8)
    data = []
    for index, item in enumerate(inputs):
        vector = embedding_vector(item, dimensions)
        if body.get("encoding_format") == "base64":
            vector = encode_base64(vector)
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(count_tokens(i) for i in inputs)
    return {"object": "list", "data": data, "model": body.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def model_object(model_id):
    """One entry of the models list."""
    return {"id": model_id, "object": "model", "created": 1686935002, "owned_by": "openai"}


class Handler(FakeHandler):
    """OpenAI's endpoints, after any scripted behaviour (tests/fakes/base.py)."""

    server_version = "FakeOpenAI/1.0"

    def done_frames(self):
        """OpenAI ends a complete stream with [DONE]."""
        return [b"data: [DONE]\n\n"]

    def api(self, path, body, script):
        """The OpenAI endpoints."""
        stream_delay = script.get("stream_delay_ms", 0) / 1000
        if self.headers.get("Authorization", "") == "Bearer sk-bad":
            return self.send(401, error_body(
                "Incorrect API key provided: sk-bad. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error", "invalid_api_key"))
        if self.command == "GET" and path.endswith("/models"):
            return self.send(200, {"object": "list", "data": [model_object(m) for m in MODELS]})
        if self.command == "GET" and "/models/" in path:
            return self.send(200, model_object(path.rsplit("/", 1)[1]))
        if self.command != "POST":
            return self.send(404, error_body(f"Invalid URL ({self.command} {path})",
                                             "invalid_request_error"))
        if not isinstance(body, dict):
            return self.send(400, error_body(
                "We could not parse the JSON body of your request. (HINT: This likely means you "
                "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
                "but what was sent was not valid JSON.", "invalid_request_error"))
        if path.endswith("/chat/completions"):
            if body.get("stream"):
                return self.send_chunked([self.frame(c) for c in chat_chunks(body)]
                                         + self.done_frames(), delay=stream_delay)
            return self.send(200, chat_completion(body))
        if path.endswith("/completions"):
            return self.send(200, text_completion(body))
        if path.endswith("/embeddings"):
            return self.send(200, embeddings(body))
        return self.send(404, error_body(f"Invalid URL (POST {path})", "invalid_request_error"))


def main(argv=None):
    """Serve until killed."""
    serve(Handler, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
