"""Python load clients for tests/bench/bench.py: closed-loop threads over keep-alive connections.

``closed_loop`` drives one request kind (streams, or chat/embeddings when wrk is missing) and
checks every response; ``soak`` sends a mix, including clients that hang up mid-stream.
Latencies are wall times from sending the request to the end of the body (a stream's last event).
"""
import http.client
import itertools
import socket
import threading
import time

CHAT = {"model": "gpt-3.5-turbo", "temperature": 0.2, "max_tokens": 128, "messages": [
    {"role": "system", "content": "You are a helpful assistant. Answer concisely."},
    {"role": "user", "content": "Explain in two short paragraphs what an LLM gateway does and "
                                "why its latency overhead matters for interactive applications."}]}
STREAM = dict(CHAT, stream=True)
# Forwarded upstream as an unknown top-level field; the fake then spaces the events 2 ms apart,
# so a client that leaves after the first bytes really leaves in the middle of the stream.
SLOW_STREAM = dict(STREAM, bench_slow_stream=True)
EMBED = {"model": "text-embedding-3-small",
         "input": ["The food was delicious and the waiter was very friendly; we will definitely "
                   "come back next week."]}
# Cache hits (bench.py --cache): the same chat, opted in to a cache in mode default_off, so the
# plain scenarios of the same run still go to the provider.
HIT = dict(CHAT, cache={"use-cache": True})
HIT_STREAM = dict(STREAM, cache={"use-cache": True})
# The same conversation through Anthropic's Messages API (translated to the OpenAI upstream).
MESSAGES = {"model": "gpt-3.5-turbo", "temperature": 0.2, "max_tokens": 128,
            "system": CHAT["messages"][0]["content"], "messages": CHAT["messages"][1:]}
MESSAGES_STREAM = dict(MESSAGES, stream=True)
# The same conversation through OpenAI's Responses API (translated to chat for this upstream):
# "responses" keeps nothing (store: false), "responses_stored" is the default (a database row).
RESPONSES = {"model": "gpt-3.5-turbo", "temperature": 0.2, "max_output_tokens": 128,
             "instructions": CHAT["messages"][0]["content"],
             "input": CHAT["messages"][1]["content"], "store": False}
RESPONSES_STORED = dict(RESPONSES, store=True)
RESPONSES_STREAM = dict(RESPONSES, stream=True)
PATHS = {"chat": "/v1/chat/completions", "stream": "/v1/chat/completions",
         "embed": "/v1/embeddings", "hit": "/v1/chat/completions",
         "hit-stream": "/v1/chat/completions", "vkey": "/v1/chat/completions",
         "messages": "/v1/messages", "messages-stream": "/v1/messages",
         "responses": "/v1/responses", "responses_stored": "/v1/responses",
         "responses_stream": "/v1/responses"}
STREAMS = ("stream", "hit-stream", "messages-stream", "responses_stream")  # read by python threads, not wrk


def stream_done(data):
    """A stream is good when its last event is [DONE]."""
    return data.rstrip().endswith(b"data: [DONE]")


def chat_ok(data):
    return b'"choices"' in data


def embed_ok(data):
    return b'"embedding"' in data


def message_ok(data):
    return b'"type":"message"' in data


def message_stream_done(data):
    return data.rstrip().endswith(b'data: {"type":"message_stop"}')


def response_ok(data):
    return b'"output_text"' in data


def response_stream_done(data):
    """A Responses stream is good when it ends with response.completed."""
    return b"event: response.completed" in data[-8192:]


CHECKS = {"chat": chat_ok, "stream": stream_done, "embed": embed_ok, "hit": chat_ok,
          "hit-stream": stream_done, "vkey": chat_ok, "messages": message_ok,
          "messages-stream": message_stream_done, "responses": response_ok,
          "responses_stored": response_ok, "responses_stream": response_stream_done}


class Client:
    """One keep-alive connection to the gateway, reopened after any failure."""

    def __init__(self, port, key, timeout=30):
        self.port, self.timeout = port, timeout
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        self.conn = None

    def post(self, path, body, read_bytes=None):
        """(status, body) or (None, b"") on a socket error; read_bytes: hang up after that many."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.request("POST", path, body, self.headers)
            resp = self.conn.getresponse()
            if read_bytes is not None:
                data = resp.read1(read_bytes)
                self.close()
                return resp.status, data
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException):
            self.close()
            return None, b""

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def percentile(values, q):
    """Nearest-rank percentile of a list of floats (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def closed_loop(port, key, kind, body, concurrency, seconds):
    """``concurrency`` threads each send ``kind`` requests back to back for ``seconds``."""
    path, check = PATHS[kind], CHECKS[kind]
    latencies, errors = [], []
    stop = time.monotonic() + seconds

    def worker():
        client = Client(port, key)
        while time.monotonic() < stop:
            start = time.perf_counter()
            status, data = client.post(path, body)
            if status is not None and 200 <= status < 300 and check(data):
                latencies.append(time.perf_counter() - start)
            else:
                errors.append(status)
        client.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    wall = time.monotonic() - started
    return {"requests": len(latencies) + len(errors), "errors": len(errors), "seconds": wall,
            "p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}


def soak_plan(i):
    """Request i of the soak mix: 5 chat, 2 streams, 1 abandoned stream, 1 embedding in 10."""
    slot = i % 10
    if slot < 5:
        return "chat", None
    if slot < 8:
        return "stream", None
    if slot == 8:
        return "abandon", 300
    return "embed", None


def soak(port, key, bodies, total, concurrency, deadline):
    """Send ``total`` mixed requests; returns counts per outcome. Stops at ``deadline``."""
    counter, outcomes, lock = itertools.count(), {}, threading.Lock()

    def record(name):
        with lock:
            outcomes[name] = outcomes.get(name, 0) + 1

    def worker():
        client = Client(port, key)
        while time.monotonic() < deadline:
            i = next(counter)
            if i >= total:
                break
            kind, read_bytes = soak_plan(i)
            status, data = client.post(PATHS.get(kind, PATHS["stream"]), bodies[kind], read_bytes)
            if kind == "abandon":
                record("abandoned" if status == 200 else "error")
            elif status is not None and 200 <= status < 300 and CHECKS[kind](data):
                record(kind)
            else:
                record("error")
        client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1.0, deadline - time.monotonic()))
    return outcomes


def wait_http_ok(port, key, body, deadline):
    """Poll a proxied chat request until it answers 200; True when it did before ``deadline``."""
    client = Client(port, key, timeout=5)
    try:
        while time.monotonic() < deadline:
            status, _ = client.post(PATHS["chat"], body)
            if status == 200:
                return True
            time.sleep(0.02)
        return False
    finally:
        client.close()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
