"""SSE reading and the client's stream body."""
import json

import pytest

from app import errors
from app.streaming import SSEBody, sse_events


@pytest.mark.parametrize("size", [1, 3, 1000])
def test_sse_events_across_splits_and_crlf(size):
    raw = (b"event: message_start\r\ndata: {\"a\": 1}\r\n\r\n: comment\n\n"
           b"data: line1\ndata: line2\n\nid: 7\ndata:[DONE]\n\n")
    chunks = [raw[i:i + size] for i in range(0, len(raw), size)]
    assert list(sse_events(chunks)) == [("message_start", b'{"a": 1}'), (None, b"line1\nline2"),
                                        (None, b"[DONE]")]


def test_sse_events_trailing_event_without_blank_line():
    assert list(sse_events([b"data: {}\n\ndata: tail"])) == [(None, b"{}"), (None, b"tail")]


class Upstream:
    def __init__(self, items):
        self.items, self.closed = items, 0

    def __iter__(self):
        for item in self.items:
            if isinstance(item, Exception):
                raise item
            yield item

    def close(self):
        self.closed += 1


def run(items, consume=True):
    ended = []
    upstream = Upstream(items)
    body = SSEBody(upstream, ended.append)
    out = list(body) if consume else []
    body.close()
    return out, ended, upstream


def test_complete_stream_ends_with_done():
    out, ended, upstream = run([b'{"x":1}', b'{"x":2}'])
    assert out == [b'data: {"x":1}\n\n', b'data: {"x":2}\n\n', b"data: [DONE]\n\n"]
    assert ended == [None] and upstream.closed == 1


def test_error_mid_stream_is_the_last_event():
    out, ended, upstream = run([b'{"x":1}', errors.BadGatewayError("closed early")])
    assert json.loads(out[-1][6:])["error"]["message"] == "closed early"
    assert b"[DONE]" not in b"".join(out)
    assert isinstance(ended[0], errors.BadGatewayError) and upstream.closed == 1


def test_bug_mid_stream_becomes_internal_error_event():
    out, ended, _ = run([ValueError("bug")])
    assert json.loads(out[-1][6:])["error"]["code"] == "internal_error"
    assert ended[0].status == 500


def test_client_disconnect_closes_upstream_once():
    out, ended, upstream = run([b"{}"], consume=False)
    assert upstream.closed == 1 and ended[0].status == 499
