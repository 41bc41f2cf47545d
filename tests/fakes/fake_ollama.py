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

Test control (never recorded): GET /_fake/requests, POST /_fake/reset, POST /_fake/script with a
JSON list of behaviours, one per API request:

    {"status": 500, "json": {"error": "..."}, "headers": {...}}    canned answer
    {"lines": ["{...}", ...]}     NDJSON lines as given, then end the body (no done line added)
    {"close": true}               drop the socket without answering
"""
import argparse
import collections
import hashlib
import json
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class State:
    """Recorded requests and queued behaviours, shared by the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.scripts = collections.deque()


STATE = State()


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


class Handler(BaseHTTPRequestHandler):
    """One request; HTTP/1.1 keep-alive like Ollama's Go server."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        """Quiet."""

    def do_GET(self):  # noqa: N802 - http.server's naming
        """Handle GET."""
        self.dispatch()

    def do_POST(self):  # noqa: N802
        """Handle POST."""
        self.dispatch()

    def send(self, status, payload, headers=None):
        """A complete JSON body."""
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(data)

    def send_lines(self, lines):
        """NDJSON over a chunked body, as Ollama streams."""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for line in lines:
            data = (line if isinstance(line, str) else json.dumps(line)).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            time.sleep(0.001)
        self.wfile.write(b"0\r\n\r\n")

    def dispatch(self):
        """Control routes, else record, apply a script, or answer as Ollama."""
        path = urlsplit(self.path).path
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path.startswith("/_fake/"):
            return self.control(path, raw)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        with STATE.lock:
            STATE.requests.append({"method": self.command, "path": path, "body": body,
                                   "headers": {k.lower(): v for k, v in self.headers.items()}})
            script = STATE.scripts.popleft() if STATE.scripts else {}
        if script.get("close"):
            self.close_connection = True
            return None
        if "lines" in script:
            return self.send_lines(script["lines"])
        if "status" in script:
            return self.send(script["status"], script.get("json", {}), script.get("headers"))
        return self.api(path, body)

    def control(self, path, raw):
        """The /_fake/* hooks."""
        with STATE.lock:
            if path == "/_fake/requests":
                return self.send(200, list(STATE.requests))
            if path == "/_fake/reset":
                STATE.requests.clear()
                STATE.scripts.clear()
                return self.send(200, {"ok": True})
            if path == "/_fake/script":
                STATE.scripts.extend(json.loads(raw))
                return self.send(200, {"ok": True})
        return self.send(404, {"error": "not found"})

    def api(self, path, body):
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
        return self.send_lines(lines)


class Server(ThreadingHTTPServer):
    """Threaded, quiet about clients that hang up."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        """Dropped connections are normal here."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def main(argv=None):
    """Serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = Server(("127.0.0.1", args.port), Handler)
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
