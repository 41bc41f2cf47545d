"""A fake Cohere v2 API server for end-to-end tests (stdlib only).

Run ``python tests/fakes/fake_cohere.py --port 0``: it binds 127.0.0.1, prints
``LISTENING <port>`` and answers with Cohere's v2 wire formats:

    POST /v2/chat    {"id", "message": {"role", "content"|"tool_plan"+"tool_calls"},
                     "finish_reason", "usage": {"billed_units", "tokens"}}; with "stream": true,
                     typed SSE events (event: <type> / data: {...}) from message-start to
                     message-end, then data: [DONE]
    POST /v2/embed   {"id", "texts", "embeddings": {"float": [...]}, "meta": {...},
                     "response_type": "embeddings_by_type"}

Behaviour: replies echo the last user text ("echo: ..."); with tools and a user turn last (and
tool_choice not NONE) the model calls the first tool, filling each string parameter with the user
text; after a tool turn it echoes the tool output. ``max_tokens`` cuts the reply (MAX_TOKENS).
Errors are Cohere's ``{"id", "message"}``: no key -> 401 "no api key supplied", key "co-bad" ->
401 "invalid api token", temperature outside 0..1 or p outside 0.01..0.99 -> 400, model
"command-nope" -> 404, embed without input_type -> 400.

Test control (never recorded):

    GET  /_fake/requests   every other request: method, path, query, headers, body, raw
    POST /_fake/reset      forget requests and scripts
    POST /_fake/script     queue behaviours (a JSON list, FIFO, one per API request):
        {"status": 429, "headers": {...}, "json": {...}}    canned answer
        {"raw": "<html>", "status": 200, "content_type": "text/html"}
        {"stream_events": [{...}, "not json"], "done": false}   typed SSE events, then end
        {"close": true}            drop the socket without answering
"""
import argparse
import collections
import hashlib
import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class State:
    """Recorded requests and queued behaviours, shared by the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.scripts = collections.deque()

    def record(self, entry):
        """Remember one API request."""
        with self.lock:
            self.requests.append(entry)

    def next_script(self):
        """The next queued behaviour, or None."""
        with self.lock:
            return self.scripts.popleft() if self.scripts else None


STATE = State()


def words(text):
    """Whitespace-separated words (the fake's tokenizer)."""
    return str(text).split()


def text_of(content):
    """The text of a v2 content (a string or a list of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def usage(body, output):
    """Cohere's usage object: billed units and tokens (prompt words, reply words)."""
    prompt = sum(len(words(text_of(m.get("content")))) for m in body.get("messages") or [])
    return {"billed_units": {"input_tokens": prompt, "output_tokens": output},
            "tokens": {"input_tokens": prompt + 7, "output_tokens": output}}


def error(message):
    """Cohere's error body."""
    return {"id": str(uuid.uuid4()), "message": message}


def check_chat(body):
    """(status, message) for a chat body Cohere would refuse, else None."""
    if not body.get("model"):
        return 400, "a model parameter is required for this endpoint."
    if body["model"] == "command-nope":
        return 404, (f"model '{body['model']}' not found, make sure the correct model ID was "
                     "used and that you have access to the model.")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return 400, "invalid request: messages must not be empty"
    for message in body["messages"]:
        if message.get("role") not in ("system", "user", "assistant", "tool"):
            return 400, f"invalid request: invalid role {message.get('role')!r}"
        if message["role"] == "tool" and not message.get("tool_call_id"):
            return 400, "tool call id must be provided with tool message"
    if not 0 <= body.get("temperature", 0) <= 1:
        return 400, "invalid request: temperature must be between 0 and 1.0 inclusive."
    if not 0.01 <= body.get("p", 0.75) <= 0.99:
        return 400, "invalid request: p must be between 0.01 and 0.99 inclusive."
    return None


def plan(body):
    """What the model does: ("tool", tool, args) or ("text", reply, finish_reason)."""
    messages = body["messages"]
    last = messages[-1]
    tools = body.get("tools") or []
    if tools and last["role"] == "user" and body.get("tool_choice") != "NONE":
        tool = tools[0]["function"]
        props = (tool.get("parameters") or {}).get("properties") or {}
        args = {k: text_of(last["content"]) for k, v in props.items()
                if v.get("type") == "string"}
        return "tool", tool["name"], args
    source = last if last["role"] == "tool" else next(
        (m for m in reversed(messages) if m["role"] == "user"), last)
    reply = words("echo: " + text_of(source.get("content")))
    limit = body.get("max_tokens")
    if limit and len(reply) > limit:
        return "text", " ".join(reply[:limit]), "MAX_TOKENS"
    return "text", " ".join(reply), "COMPLETE"


def chat(body):
    """A non-streamed v2 chat response."""
    kind, what, detail = plan(body)
    rid = str(uuid.uuid4())
    if kind == "tool":
        calls = [{"id": f"{what}_{uuid.uuid4().hex[:12]}", "type": "function",
                  "function": {"name": what, "arguments": json.dumps(detail)}}]
        message = {"role": "assistant", "tool_plan": f"I will use the {what} tool.",
                   "tool_calls": calls}
        return {"id": rid, "message": message, "finish_reason": "TOOL_CALL",
                "usage": usage(body, 9)}
    message = {"role": "assistant", "content": [{"type": "text", "text": what}]}
    return {"id": rid, "message": message, "finish_reason": detail,
            "usage": usage(body, len(words(what)))}


def chat_events(body):
    """The typed v2 stream events for a body."""
    kind, what, detail = plan(body)
    events = [{"id": str(uuid.uuid4()), "type": "message-start", "delta": {"message": {
        "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}]
    if kind == "tool":
        for piece in ["I", " will", " use", f" the {what}", " tool."]:
            events.append({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}})
        args = json.dumps(detail)
        events.append({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
            "id": f"{what}_{uuid.uuid4().hex[:12]}", "type": "function",
            "function": {"name": what, "arguments": ""}}}}})
        for i in range(0, len(args), 4):
            events.append({"type": "tool-call-delta", "index": 0, "delta": {"message": {
                "tool_calls": {"function": {"arguments": args[i:i + 4]}}}}})
        events.append({"type": "tool-call-end", "index": 0})
        reason, output = "TOOL_CALL", 9
    else:
        events.append({"type": "content-start", "index": 0, "delta": {"message": {
            "content": {"type": "text", "text": ""}}}})
        for i, word in enumerate(words(what)):
            events.append({"type": "content-delta", "index": 0, "delta": {"message": {
                "content": {"text": word if i == 0 else " " + word}}}})
        events.append({"type": "content-end", "index": 0})
        reason, output = detail, len(words(what))
    events.append({"type": "message-end", "delta": {"finish_reason": reason,
                                                    "usage": usage(body, output)}})
    return events


def embed_vector(text, dimensions):
    """Deterministic floats, exactly representable as float32 (so base64 round-trips)."""
    digest = hashlib.sha256(str(text).encode()).digest()
    while len(digest) < dimensions:
        digest += hashlib.sha256(digest).digest()
    return [(b - 128) / 256 for b in digest[:dimensions]]


def embed(body):
    """(status, body) of a v2 embed request."""
    if not body.get("input_type"):
        return 400, error("invalid request: valid input_type must be provided with the "
                          "provided model")
    if not body.get("embedding_types"):
        return 400, error("embedding_types parameter is required")
    texts = body.get("texts") or []
    if len(texts) > 96:
        return 400, error(f"invalid request: total number of texts must be at most 96 - "
                          f"received {len(texts)}")
    dimensions = int(body.get("output_dimension") or 8)
    return 200, {"id": str(uuid.uuid4()), "texts": texts,
                 "embeddings": {"float": [embed_vector(t, dimensions) for t in texts]},
                 "meta": {"api_version": {"version": "2"}, "billed_units": {
                     "input_tokens": sum(len(words(t)) for t in texts)}},
                 "response_type": "embeddings_by_type"}


class Handler(BaseHTTPRequestHandler):
    """Routes API calls to the fakes above, after any scripted behaviour."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeCohere/1.0"

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        """Silence the per-request stderr line."""

    def do_GET(self):  # noqa: N802 - stdlib naming
        """Handle GET."""
        self.dispatch()

    def do_POST(self):  # noqa: N802
        """Handle POST."""
        self.dispatch()

    def send(self, status, payload, content_type="application/json", headers=None):
        """Answer with a complete body and a Content-Length."""
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def send_stream(self, events, done=True):
        """Typed SSE over a chunked body, the way Cohere frames it."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        frames = []
        for event in events:
            if isinstance(event, dict):
                data = json.dumps(event, separators=(",", ":"))
                frames.append(f"event: {event.get('type')}\ndata: {data}\n\n")
            else:
                frames.append(f"data: {event}\n\n")
        frames += ["data: [DONE]\n\n"] if done else []
        try:
            for frame in frames:
                data = frame.encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def dispatch(self):
        """Control routes, else record + script + fake API."""
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if url.path.startswith("/_fake/"):
            return self.control(url.path, raw)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        STATE.record({"method": self.command, "path": url.path, "query": parse_qs(url.query),
                      "headers": {k.lower(): v for k, v in self.headers.items()},
                      "body": body, "raw": raw.decode("utf-8", "replace")})
        script = STATE.next_script() or {}
        if script.get("close"):
            self.close_connection = True
            return None
        if "raw" in script:
            return self.send(script.get("status", 200), script["raw"],
                             script.get("content_type", "text/html"), script.get("headers"))
        if "status" in script:
            return self.send(script["status"], script.get("json", ""),
                             headers=script.get("headers"))
        if "stream_events" in script:
            return self.send_stream(script["stream_events"], done=script.get("done", False))
        return self.api(url.path, body)

    def control(self, path, raw):
        """The /_fake/* test hooks."""
        if path == "/_fake/requests":
            with STATE.lock:
                return self.send(200, list(STATE.requests))
        if path == "/_fake/reset":
            with STATE.lock:
                STATE.requests.clear()
                STATE.scripts.clear()
            return self.send(200, {"ok": True})
        if path == "/_fake/script":
            with STATE.lock:
                STATE.scripts.extend(json.loads(raw))
            return self.send(200, {"ok": True})
        return self.send(404, error(f"unknown control route {path}"))

    def api(self, path, body):
        """The Cohere v2 endpoints."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return self.send(401, error("no api key supplied"))
        if auth == "Bearer co-bad":
            return self.send(401, error("invalid api token"))
        if self.command != "POST" or path not in ("/v2/chat", "/v2/embed"):
            return self.send(404, error("404 page not found"))
        if not isinstance(body, dict):
            return self.send(400, error("invalid json syntax"))
        if path == "/v2/embed":
            return self.send(*embed(body))
        refused = check_chat(body)
        if refused:
            return self.send(refused[0], error(refused[1]))
        if body.get("stream"):
            return self.send_stream(chat_events(body))
        return self.send(200, chat(body))


class Server(ThreadingHTTPServer):
    """Threaded, quiet about clients that hang up."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        """Dropped connections are normal here; anything else goes to stderr."""
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
