"""The relayed OpenAI stream path (whole network reads passed on) against the per-event path:
for the same upstream bytes, however they are cut into reads, the client gets the same bytes and
the same errors, and the logs the same usage."""
import json
import random

import pytest
import requests

from app import errors
from app.providers.base import Call, UpstreamStream
from app.providers.hosts import HOSTS
from app.providers.openai import OpenAICompatible
from app.providers.relay import check_block, plain_events
from app.streaming import Framed, SSEBody

OPENAI = OpenAICompatible("openai", HOSTS["openai"])  # stream_usage: asks for usage itself
USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


def chunk(delta, finish=None, **extra):
    return json.dumps({"id": "c1", "object": "chat.completion.chunk", "created": 1,
                       "model": "m", "choices": [{"index": 0, "delta": delta,
                                                  "finish_reason": finish}], **extra})


def sse(*events):
    return "".join(f"data: {e}\n\n" for e in events).encode()


def compact(data):
    """``data`` with its JSON events as OpenAI writes them (no spaces): the relay's fast path."""
    events = []
    for part in data.split(b"\n\n"):
        payload = part[6:]
        if part.startswith(b"data: {"):
            payload = json.dumps(json.loads(payload), separators=(",", ":")).encode()
        events.append(b"data: " + payload if part.startswith(b"data: ") else part)
    return b"\n\n".join(events)


PLAIN = sse(chunk({"role": "assistant", "content": ""}), chunk({"content": "Hi"}),
            chunk({}, "stop"), "[DONE]")
WITH_USAGE = sse(chunk({"content": "Hi"}, usage=None), chunk({}, "stop", usage=None),
                 json.dumps({"id": "c1", "choices": [], "usage": USAGE}), "[DONE]")
STREAMS = {
    "plain": PLAIN,
    "usage chunk": WITH_USAGE,
    "crlf": PLAIN.replace(b"\n", b"\r\n"),
    "comments and event names": b": keep-alive\n\nevent: chunk\n" + PLAIN,
    "multi-line data": b"data: {\"id\": \"c1\",\ndata: \"choices\": []}\n\n" + PLAIN,
    "no final blank line": PLAIN.rstrip(b"\n"),
    "events after done": PLAIN + sse(chunk({"content": "late"})),
    "no done": sse(chunk({"content": "Hi"})),
    "malformed": sse(chunk({"content": "Hi"}), "not json", "[DONE]"),
    "cut json": sse(chunk({"content": "Hi"})[:-3], "[DONE]"),
    "array": sse("[1, 2]", "[DONE]"),
    "error event": sse(chunk({"content": "Hi"}),
                       json.dumps({"error": {"message": "overloaded", "status": 503}})),
    "usage on a content chunk": sse(chunk({"content": "Hi"}, "stop", usage=USAGE), "[DONE]"),
    "text that mentions usage and error": sse(
        chunk({"content": 'say "usage":null then "usage": 1 or "error"'}), "[DONE]"),
}
STREAMS.update({f"compact {name}": compact(data) for name, data in list(STREAMS.items())
                if name in ("plain", "usage chunk", "error event", "usage on a content chunk",
                            "text that mentions usage and error", "events after done")})


class FakeResponse:
    """Just what the stream readers use of a requests.Response."""

    headers = {"content-type": "text/event-stream"}

    def __init__(self, reads):
        self.reads = reads
        self.consumed = False
        self.closed = False

    def iter_content(self, chunk_size=None):
        yield from self.reads
        self.consumed = True

    def close(self):
        self.closed = True


def cuts(data, how, rng):
    if how == "whole":
        return [data]
    if how == "events":
        return [part + b"\n\n" for part in data.split(b"\n\n") if part] or [data]
    points = sorted(rng.sample(range(1, len(data)), min(6, len(data) - 1)))
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


def serve(data, reads, relay, body=None):
    """(bytes the client got, usage logged, upstream fully read) for one stream."""
    call = Call("chat", body or {"model": "m", "messages": [], "stream": True}, stream=True)
    call.relay_sse = relay
    response = FakeResponse(reads)
    ended = []
    stream = UpstreamStream(response, OPENAI.iter_events(call, response))
    out = b"".join(SSEBody(stream, ended.append))
    return out, call.usage, response.consumed, type(ended[0]).__name__


@pytest.mark.parametrize("how", ["whole", "events", "random"])
@pytest.mark.parametrize("name", sorted(STREAMS))
def test_relay_matches_per_event_path(name, how):
    data = STREAMS[name]
    reads = cuts(data, how, random.Random(f"{name}{how}"))
    assert serve(data, reads, relay=True) == serve(data, reads, relay=False)


def test_client_asking_for_usage_gets_the_usage_chunk():
    body = {"model": "m", "messages": [], "stream": True,
            "stream_options": {"include_usage": True}}
    out, usage, _, _ = serve(WITH_USAGE, [WITH_USAGE], True, body)
    assert usage == USAGE and b'"usage":{"prompt_tokens"' in out.replace(b" ", b"")
    hidden, usage, _, _ = serve(WITH_USAGE, [WITH_USAGE], True)
    assert usage == USAGE and b"prompt_tokens" not in hidden


def test_a_plain_read_is_passed_on_as_it_came():
    read = sse(chunk({"content": "Hi"}), chunk({"content": " there"}))
    out, finished, error = check_block(Call("chat", {}), read, "openai", hide_usage=True)
    assert isinstance(out, Framed) and out is not read and out == read
    assert out.events == 2 and not finished and error is None


@pytest.mark.parametrize("data, events", [
    (compact(sse(chunk({"content": "Hi"}))), 1),
    (compact(sse(chunk({"content": "Hi"}, usage=None), chunk({}, "stop", usage=None))), 2),
    (compact(sse(chunk({"content": "Hi"}, usage=USAGE))), 0),  # usage to keep: parsed
    (compact(sse(json.dumps({"error": {"message": "x"}}))), 0),
    (sse("[DONE]"), 0),
    (b": keep-alive\n\n" + compact(sse(chunk({}))), 0),
    (compact(sse(chunk({})))[:-1], 0),  # not a whole event yet
    (b"data: {\"a\":\n1}\n\n", 0),  # a raw newline inside: not one line
    (b"data: {}\n\nevent: x\ndata: {}\n\n", 0),
])
def test_plain_events_are_recognised_without_parsing(data, events):
    assert plain_events(data) == events


def test_the_upstream_body_is_read_to_its_end_so_the_connection_is_reused():
    for relay in (True, False):
        assert serve(PLAIN, [PLAIN], relay)[2] is True


def test_a_truncated_stream_is_a_502():
    call = Call("chat", {"model": "m", "messages": []}, stream=True)
    call.relay_sse = True
    response = FakeResponse([sse(chunk({"content": "Hi"}))])
    with pytest.raises(errors.BadGatewayError):
        list(OPENAI.iter_events(call, response))


def test_lost_connection_mid_stream_is_a_502():
    class Broken(FakeResponse):
        def iter_content(self, chunk_size=None):
            yield sse(chunk({"content": "Hi"}))
            raise requests.exceptions.ChunkedEncodingError("gone")

    call = Call("chat", {"model": "m", "messages": []}, stream=True)
    call.relay_sse = True
    with pytest.raises(errors.BadGatewayError):
        list(OPENAI.iter_events(call, Broken([])))
