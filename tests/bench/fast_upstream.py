"""A fast fake OpenAI upstream for tests/bench/bench.py (stdlib only: asyncio + raw HTTP/1.1).

    python tests/bench/fast_upstream.py [--port 0] [--latency-ms 0] [--cpu N]

Prints ``LISTENING <port>`` once bound to 127.0.0.1. Bodies are rendered once at start, so a
request costs a header scan and one write; keep-alive and pipelining work. It must never be the
bottleneck: it serves far more requests per second than the gateway on the same machine.

    POST .../chat/completions   JSON completion, or 23 SSE events (chunked) when "stream": true
                                (a body containing "bench_slow_stream" spaces them 2 ms apart)
    POST .../embeddings         one 1536-dim vector; base64 when "encoding_format":"base64"
    GET  /_count                requests served so far (the benchmark's denominator)

Request bodies must carry Content-Length (the gateway sends them that way).
"""
import argparse
import asyncio
import base64
import json
import os
import struct

CREATED = 1700000000
WORDS = ("An LLM gateway sits between applications and model providers and adds routing, "
         "auth and logging, so its own overhead must stay small.").split()


def chat_body():
    return json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": CREATED,
        "model": "gpt-3.5-turbo-0125", "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": " ".join(WORDS)}}],
        "usage": {"prompt_tokens": 38, "completion_tokens": 20, "total_tokens": 58},
    }).encode()


def stream_events():
    """23 SSE events: role, 20 content deltas, finish, [DONE]."""
    def chunk(delta, finish=None):
        return {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED,
                "model": "gpt-3.5-turbo-0125", "system_fingerprint": "fp_bench",
                "choices": [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish}]}
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": " " + w}) for w in (WORDS * 2)[:20]]
    chunks.append(chunk({}, "stop"))
    events = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks]
    return events + [b"data: [DONE]\n\n"]


def embedding_body(b64):
    vector = [((i * 7919) % 2000 - 1000) / 31622.7766 for i in range(1536)]
    value = base64.b64encode(struct.pack("<1536f", *vector)).decode() if b64 else vector
    return json.dumps({
        "object": "list", "model": "text-embedding-3-small",
        "data": [{"object": "embedding", "index": 0, "embedding": value}],
        "usage": {"prompt_tokens": 20, "total_tokens": 20},
    }).encode()


def response(body, ctype=b"application/json"):
    return (b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype + b"\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + body)


def as_chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


SSE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n")
EVENTS = [as_chunk(e) for e in stream_events()] + [b"0\r\n\r\n"]
RESPONSES = {
    "chat": response(chat_body()),
    "stream": SSE_HEAD + b"".join(EVENTS),
    "embed": response(embedding_body(False)),
    "embed64": response(embedding_body(True)),
    "404": b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
}
COUNT = [0]


def pick(line, body):
    """Which pre-rendered response a request gets (cheap substring tests only)."""
    if b"/chat/completions" in line:
        if b'"stream":true' in body or b'"stream": true' in body:
            return "slow" if b"bench_slow_stream" in body else "stream"
        return "chat"
    if b"/embeddings" in line:
        return "embed64" if b"base64" in body else "embed"
    return "404"


class Upstream(asyncio.Protocol):
    latency = 0.0

    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            length, at = 0, head.lower().find(b"content-length:")
            if at >= 0:
                eol = head.find(b"\r\n", at)
                length = int(head[at + 15:eol if eol > 0 else len(head)])
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4:end + 4 + length]
            self.buf = self.buf[end + 4 + length:]
            self.answer(head.split(b"\r\n", 1)[0], body)

    def answer(self, line, body):
        if line.startswith(b"GET /_count"):
            self.transport.write(response(str(COUNT[0]).encode()))
            return
        COUNT[0] += 1
        kind = pick(line, body)
        loop = asyncio.get_running_loop()
        if kind == "slow":
            asyncio.ensure_future(self.slow_stream())
        elif self.latency:
            loop.call_later(self.latency, self.write, RESPONSES[kind])
        else:
            self.transport.write(RESPONSES[kind])

    def write(self, data):
        if not self.transport.is_closing():
            self.transport.write(data)

    async def slow_stream(self):
        """A stream whose events arrive 2 ms apart (for clients that leave mid-stream)."""
        await asyncio.sleep(self.latency)
        self.write(SSE_HEAD)
        for event in EVENTS:
            await asyncio.sleep(0.002)
            self.write(event)


async def serve(port, latency_ms):
    Upstream.latency = latency_ms / 1000.0
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", port, backlog=1024)
    print("LISTENING", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--cpu", help="comma-separated CPUs to pin to")
    args = p.parse_args()
    if args.cpu:
        os.sched_setaffinity(0, {int(c) for c in args.cpu.split(",")})
    try:
        asyncio.run(serve(args.port, args.latency_ms))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
