"""A real local HTTP receiver for sink tests: records every POST, answers as scripted."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Listens on 127.0.0.1 in a thread; ``posts`` holds (path, headers, parsed JSON body)."""

    def __init__(self, status=200, body=b"{}", delay=0.0):
        self.status, self.body, self.delay = status, body, delay
        self.posts = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.posts.append((self.path, dict(self.headers), json.loads(raw), raw))
                body = receiver.body(raw) if callable(receiver.body) else receiver.body
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self):
        """The parsed JSON bodies received so far."""
        with self.lock:
            return [p[2] for p in self.posts]

    def wait(self, count=1, timeout=5.0):
        """Wait until ``count`` POSTs arrived; returns the bodies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.posts) < count:
            time.sleep(0.01)
        return self.bodies()

    def close(self):
        """Stop serving and release the socket."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
