"""A fake OpenAI API server for end-to-end tests (stdlib only).

Run ``python tests/fakes/fake_openai.py --port 0``: it binds 127.0.0.1, prints
``LISTENING <port>`` and answers with OpenAI's wire formats:

    POST /v1/chat/completions   chat.completion, or SSE chat.completion.chunk events + [DONE]
    POST /v1/embeddings         float lists, or base64 little-endian float32 (encoding_format)
    POST /v1/completions        text_completion
    GET  /v1/models[/{id}]      model list / model
    Authorization "Bearer sk-bad" -> 401 invalid_api_key

Test control (never recorded):

    GET  /_fake/requests   every other request: method, path, query, headers, body, raw
    GET  /_fake/streams    per stream served: events sent, events planned, cut by the reader
    POST /_fake/reset      forget requests and scripts
    POST /_fake/script     queue behaviours (a JSON list, FIFO, one per API request):
        {"status": 429, "headers": {...}, "json": {...}}    canned answer
        {"raw": "<html>", "status": 200, "content_type": "text/html"}
        {"stream_events": ["{...}", "not json"], "done": false}   SSE, then end the body
        {"stream_events": [...], "abort": true}   SSE, then drop the socket mid-body
        {"delay_ms": 2000}         sleep, then answer normally
        {"stream_delay_ms": 200}   normal stream with pauses between events
        {"close": true}            drop the socket without answering
"""
import argparse
import base64
import collections
import hashlib
import json
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FINGERPRINT = "fp_fake0001"
MODELS = ("gpt-3.5-turbo", "gpt-4o-mini", "text-embedding-ada-002", "gpt-3.5-turbo-instruct")


class State:
    """Recorded requests and queued behaviours, shared by the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.scripts = collections.deque()
        self.streams = []  # one {"sent", "total", "cut"} per stream served

    def record(self, entry):
        """Remember one API request."""
        with self.lock:
            self.requests.append(entry)

    def next_script(self):
        """The next queued behaviour, or None."""
        with self.lock:
            return self.scripts.popleft() if self.scripts else None


STATE = State()


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


class Handler(BaseHTTPRequestHandler):
    """Routes API calls to the fakes above, after any scripted behaviour."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        """Silence the per-request stderr line."""

    def do_GET(self):  # noqa: N802 - stdlib naming
        """Handle GET."""
        self.dispatch()

    def do_POST(self):  # noqa: N802
        """Handle POST."""
        self.dispatch()

    def do_DELETE(self):  # noqa: N802
        """Handle DELETE."""
        self.dispatch()

    # -- plumbing ---------------------------------------------------------------------------

    def read_body(self):
        """The raw request body (Content-Length or chunked)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raw = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return raw
                raw += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send(self, status, payload, content_type="application/json", headers=None):
        """Answer with a complete body and a Content-Length."""
        data = payload if isinstance(payload, bytes) else (
            payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", "req_fake_" + uuid.uuid4().hex[:12])
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def send_stream(self, events, done=True, delay=0.0, abort=False):
        """SSE over a chunked body, like OpenAI; ``abort`` drops the socket mid-body."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        lines = [e if isinstance(e, str) else json.dumps(e) for e in events]
        lines += ["[DONE]"] if done else []
        record = {"sent": 0, "total": len(lines), "cut": False}
        with STATE.lock:
            STATE.streams.append(record)
        for index, line in enumerate(lines):
            if delay and index:
                time.sleep(delay)
            data = f"data: {line}\n\n".encode()
            try:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            except OSError:  # the reader closed the connection: note how early
                record["cut"] = True
                self.close_connection = True
                return
            record["sent"] = index + 1
        if abort:
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def dispatch(self):
        """Control routes, else record + script + fake API."""
        url = urlsplit(self.path)
        raw = self.read_body()
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
        if "delay_ms" in script:
            time.sleep(script["delay_ms"] / 1000)
        if "status" in script and "raw" not in script and "stream_events" not in script:
            return self.send(script["status"], script.get("json", ""),
                             headers=script.get("headers"))
        if "raw" in script:
            return self.send(script.get("status", 200), script["raw"],
                             content_type=script.get("content_type", "text/html"),
                             headers=script.get("headers"))
        if "stream_events" in script:
            return self.send_stream(script["stream_events"], done=script.get("done", False),
                                    abort=script.get("abort", False))
        return self.api(url.path, raw, body, script.get("stream_delay_ms", 0) / 1000)

    def control(self, path, raw):
        """The /_fake/* test hooks."""
        if path == "/_fake/requests":
            with STATE.lock:
                return self.send(200, list(STATE.requests))
        if path == "/_fake/streams":
            with STATE.lock:
                return self.send(200, list(STATE.streams))
        if path == "/_fake/reset":
            with STATE.lock:
                STATE.requests.clear()
                STATE.scripts.clear()
                STATE.streams.clear()
            return self.send(200, {"ok": True})
        if path == "/_fake/script":
            with STATE.lock:
                STATE.scripts.extend(json.loads(raw))
            return self.send(200, {"ok": True})
        return self.send(404, error_body(f"Unknown control route {path}", "invalid_request_error"))

    def api(self, path, raw, body, stream_delay):
        """The OpenAI endpoints."""
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
                return self.send_stream(chat_chunks(body), delay=stream_delay)
            return self.send(200, chat_completion(body))
        if path.endswith("/completions"):
            return self.send(200, text_completion(body))
        if path.endswith("/embeddings"):
            return self.send(200, embeddings(body))
        return self.send(404, error_body(f"Invalid URL (POST {path})", "invalid_request_error"))


class Server(ThreadingHTTPServer):
    """Threaded, quiet about clients that hang up (timeouts, aborted streams)."""

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
