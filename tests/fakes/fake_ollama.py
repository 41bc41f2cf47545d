"""A fake Ollama server for end-to-end tests (stdlib only).

Run ``python tests/fakes/fake_ollama.py --port 0``: it binds 127.0.0.1, prints
``LISTENING <port>`` and answers with Ollama's native API:

    POST /api/chat       {"message": ..., "done": true, "done_reason", "prompt_eval_count",
                         "eval_count", ...}; streamed (the default!) as NDJSON lines, the last
                         one with ``done: true``. With ``tools`` the model calls the first tool
                         with arguments {"location": <last user text>} (an object, no id).
                         ``format`` "json" or a schema -> the reply is a JSON object.
    POST /api/embed      {"model", "embeddings": [[...]], "prompt_eval_count"}
    POST /api/generate   {"response": ..., "done": true, ...}, NDJSON when streamed
    model "missing" -> 404 {"error": "model \"missing\" not found, try pulling it first"}

Test control and scripted behaviours: see tests/fakes/base.py; ``stream_events`` go out as NDJSON
lines, one more script key is Ollama's own:

    {"lines": ["{...}", ...]}     NDJSON lines as given, then end the body (no done line added)
"""
import hashlib
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the tests package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.base import FakeHandler, serve  # noqa: E402


def now():
    """Ollama's created_at (RFC 3339 with fractional seconds)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def count(text):
    """One token per word (at least one)."""
    return max(1, len(str(text).split()))


def last_user_text(messages):
    """The content of the last user message."""
    for message in reversed(messages or []):
        if message.get("role") == "user":
            return message.get("content") or ""
    return ""


def stats(prompt_tokens, eval_tokens):
    """The timing and count fields of a final line."""
    return {"total_duration": 4883583458, "load_duration": 1334875,
            "prompt_eval_count": prompt_tokens, "prompt_eval_duration": 342546000,
            "eval_count": eval_tokens, "eval_duration": 4535599000}


def reply_of(body):
    """The assistant message the fake answers a chat body with."""
    text = last_user_text(body.get("messages"))
    if body.get("tools"):
        name = body["tools"][0]["function"]["name"]
        return {"role": "assistant", "content": "",
                "tool_calls": [{"function": {"name": name, "arguments": {"location": text}}}]}
    if body.get("format"):
        return {"role": "assistant", "content": json.dumps({"echo": text})}
    images = sum(len(m.get("images") or ()) for m in body.get("messages") or ())
    suffix = f" ({images} images)" if images else ""
    return {"role": "assistant", "content": f"echo: {text}{suffix}"}


def chat_lines(body):
    """The NDJSON objects of a chat answer (one object when not streamed)."""
    model, message = body.get("model"), reply_of(body)
    prompt = sum(count(m.get("content") or "") for m in body.get("messages") or ())
    limit = (body.get("options") or {}).get("num_predict")
    words = message["content"].split(" ") if message["content"] else []
    reason = "stop"
    if limit and len(words) > limit:
        words, reason = words[:limit], "length"
    final = {"model": model, "created_at": now(),
             "message": {"role": "assistant", "content": ""}, "done_reason": reason,
             "done": True, **stats(prompt, max(1, len(words)))}
    if body.get("stream") is False:
        final["message"] = dict(message, content=" ".join(words))
        return [final]
    lines = [{"model": model, "created_at": now(),
              "message": {"role": "assistant", "content": (" " if i else "") + w},
              "done": False} for i, w in enumerate(words)]
    if message.get("tool_calls"):
        lines.append({"model": model, "created_at": now(), "message": message, "done": False})
    return lines + [final]


def generate_lines(body):
    """The NDJSON objects of a /api/generate answer."""
    model, text = body.get("model"), "echo: " + str(body.get("prompt") or "")
    final = {"model": model, "created_at": now(), "response": "", "done": True,
             "done_reason": "stop", "context": [1, 2, 3],
             **stats(count(body.get("prompt") or ""), count(text))}
    if body.get("stream") is False:
        return [dict(final, response=text)]
    return [{"model": model, "created_at": now(), "response": text, "done": False}, final]


def embed(body):
    """The /api/embed answer: deterministic vectors."""
    inputs = body.get("input")
    inputs = [inputs] if isinstance(inputs, str) else inputs
    size = int(body.get("dimensions") or 6)
    vectors = []
    for item in inputs:
        digest = hashlib.sha256(item.encode()).digest()
        vectors.append([(b - 128) / 256 for b in digest[:size]])
    return {"model": body.get("model"), "embeddings": vectors, "total_duration": 14143917,
            "load_duration": 1019500, "prompt_eval_count": sum(count(i) for i in inputs)}


class Handler(FakeHandler):
    """Ollama's /api routes, after any scripted behaviour (tests/fakes/base.py)."""

    server_version = "FakeOllama/1.0"
    stream_content_type = "application/x-ndjson"

    def send(self, status, payload, content_type="application/json; charset=utf-8",
             headers=None):
        """Ollama's Go server labels JSON bodies with a charset."""
        return super().send(status, payload, content_type=content_type, headers=headers)

    def send_chunked(self, frames, delay=0.0, **kwargs):
        """Ollama flushes line by line: at least a millisecond between lines."""
        return super().send_chunked(frames, delay=delay or 0.001, **kwargs)

    def frame(self, event):
        """One NDJSON line."""
        return (event if isinstance(event, str) else json.dumps(event)).encode() + b"\n"

    def control(self, path, raw):
        """Queue {"lines": [...]} as the base's stream_events (sent as is, no done line)."""
        if path == "/_fake/script":
            scripts = [dict(s, stream_events=s["lines"]) if "lines" in s else s
                       for s in json.loads(raw)]
            raw = json.dumps(scripts).encode()
        return super().control(path, raw)

    def api(self, path, body, script):
        """Ollama's /api routes."""
        if self.command != "POST" or path not in ("/api/chat", "/api/embed", "/api/generate"):
            return self.send(404, {"error": "404 page not found"})
        if not isinstance(body, dict):
            return self.send(400, {"error": "invalid character 'x' looking for beginning of "
                                            "value"})
        if body.get("model") == "missing":
            return self.send(404, {"error": 'model "missing" not found, try pulling it first'})
        if path == "/api/embed":
            return self.send(200, embed(body))
        lines = chat_lines(body) if path == "/api/chat" else generate_lines(body)
        if body.get("stream") is False:
            return self.send(200, lines[0])
        return self.send_chunked([self.frame(line) for line in lines],
                                 delay=script.get("stream_delay_ms", 0) / 1000)


def main(argv=None):
    """Serve until killed."""
    serve(Handler, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
