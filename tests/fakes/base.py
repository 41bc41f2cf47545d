"""Plumbing shared by the fake provider servers: recording, scripted behaviours, control routes.

A fake subclasses ``FakeHandler`` and implements ``api(path, body, script)`` (its provider's
documented endpoints) and ``frame(event)`` (how one scripted stream event goes on the wire), then
calls ``serve(Handler)``. Test hooks, the same for every fake:

    GET  /_fake/requests   every API request: method, path, query, headers, body, raw
    GET  /_fake/streams    per stream served: events sent, events planned, cut by the reader,
                           and when (``cut_after_s``: seconds after the headers went out)
    POST /_fake/reset      forget requests, scripts and streams
    POST /_fake/script     queue behaviours (a JSON list, FIFO, one per API request):
        {"status": 429, "headers": {...}, "json": {...}}    canned answer
        {"raw": "<html>", "status": 200, "content_type": "text/html"}
        {"stream_events": [...], "done": false}   these events, then end the body
        {"stream_events": [...], "abort": true}   these events, then drop the socket mid-body
        {"delay_ms": 2000}         sleep, then answer normally (a reader that hangs up
                                   meanwhile is noted: ``abandoned_after_s`` on its request)
        {"stream_delay_ms": 200}   normal stream with pauses between events
        {"close": true}            drop the socket without answering
"""
import argparse
import collections
import json
import select
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


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
        """The next queued behaviour, or an empty one."""
        with self.lock:
            return self.scripts.popleft() if self.scripts else {}

    def reset(self):
        """Forget everything."""
        with self.lock:
            self.requests.clear()
            self.scripts.clear()
            self.streams.clear()


STATE = State()


class FakeHandler(BaseHTTPRequestHandler):
    """Routes control calls and scripted behaviours; subclasses answer the API itself."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeProvider/1.0"
    stream_content_type = "text/event-stream; charset=utf-8"

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

    # -- what a fake provides -------------------------------------------------------------------

    def api(self, path, body, script):
        """Answer one API request (``script`` may hold stream_delay_ms)."""
        raise NotImplementedError

    def frame(self, event):
        """Wire bytes of one scripted stream event (default: an SSE data line)."""
        data = event if isinstance(event, str) else json.dumps(event)
        return f"data: {data}\n\n".encode()

    def done_frames(self):
        """What ends a complete scripted stream (OpenAI: ``data: [DONE]``)."""
        return []

    # -- plumbing -------------------------------------------------------------------------------

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

    def send_chunked(self, frames, delay=0.0, abort=False, content_type=None, headers=None):
        """Stream ``frames`` (bytes) in a chunked body; note how far the reader let us get."""
        self.send_response(200)
        self.send_header("Content-Type", content_type or self.stream_content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        frames = list(frames)
        record = {"sent": 0, "total": len(frames), "cut": False, "cut_after_s": None}
        with STATE.lock:
            STATE.streams.append(record)
        started = time.monotonic()
        for index, data in enumerate(frames):
            try:
                if delay and index and self.reader_left(delay):
                    raise ConnectionResetError
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            except OSError:  # the reader closed the connection: note how early
                with STATE.lock:
                    record.update(cut=True, cut_after_s=round(time.monotonic() - started, 3))
                self.close_connection = True
                return
            record["sent"] = index + 1
        if abort:
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def reader_left(self, seconds):
        """Pause for ``seconds``; True as soon as the reader closes its end."""
        readable, _, _ = select.select([self.connection], [], [], seconds)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def dispatch(self):
        """Control routes, else record + scripted behaviour + the fake API."""
        url = urlsplit(self.path)
        raw = self.read_body()
        if url.path.startswith("/_fake/"):
            return self.control(url.path, raw)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        entry = {"method": self.command, "path": url.path, "query": parse_qs(url.query),
                 "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": body, "raw": raw.decode("utf-8", "replace")}
        STATE.record(entry)
        script = STATE.next_script()
        if script.get("close"):
            self.close_connection = True
            return None
        if "delay_ms" in script:
            started = time.monotonic()
            if self.reader_left(script["delay_ms"] / 1000):
                with STATE.lock:
                    entry["abandoned_after_s"] = round(time.monotonic() - started, 3)
                self.close_connection = True
                return None
        if "raw" in script:
            return self.send(script.get("status", 200), script["raw"],
                             content_type=script.get("content_type", "text/html"),
                             headers=script.get("headers"))
        if "stream_events" in script:
            frames = [self.frame(e) for e in script["stream_events"]]
            if script.get("done", False):
                frames += self.done_frames()
            return self.send_chunked(frames, abort=script.get("abort", False))
        if "status" in script:
            return self.send(script["status"], script.get("json", ""),
                             headers=script.get("headers"))
        return self.api(url.path, body, script)

    def control(self, path, raw):
        """The /_fake/* test hooks."""
        if path == "/_fake/requests":
            with STATE.lock:
                recorded = [dict(entry) for entry in STATE.requests]
            return self.send(200, recorded)
        if path == "/_fake/streams":
            with STATE.lock:
                served = [dict(record) for record in STATE.streams]
            return self.send(200, served)
        if path == "/_fake/reset":
            STATE.reset()
            return self.send(200, {"ok": True})
        if path == "/_fake/script":
            with STATE.lock:
                STATE.scripts.extend(json.loads(raw))
            return self.send(200, {"ok": True})
        return self.send(404, {"error": f"unknown control route {path}"})


class Server(ThreadingHTTPServer):
    """Threaded, quiet about clients that hang up (timeouts, aborted streams)."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        """Dropped connections are normal here; anything else goes to stderr."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def serve(handler, description, argv=None):
    """Serve on 127.0.0.1 until killed; ``--port 0`` picks a port and prints it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = Server(("127.0.0.1", args.port), handler)
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
