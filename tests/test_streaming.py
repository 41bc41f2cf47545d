"""SSE reading and the client's stream body."""
import json

import pytest

from app import errors
from app.streaming import NOT_WATCHED, ClientWatch, SSEBody, sse_events


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


class Paused(Upstream):
    """One event, then a long wait on the provider (gevent-cooperative), then another."""

    def __init__(self, pause):
        super().__init__([])
        self.pause = pause

    def __iter__(self):
        import gevent
        yield b'{"x":1}'
        gevent.sleep(self.pause)
        yield b'{"x":2}'


@pytest.fixture
def client_pair():
    """A connected gevent socket pair (server side, client side)."""
    import gevent.socket
    server, client = gevent.socket.socketpair()
    yield server, client
    server.close()
    client.close()


def test_no_watch_outside_gevent(client_pair):
    # This process is not monkey-patched (no gevent server): nothing to watch.
    assert ClientWatch.of(client_pair[0]) is NOT_WATCHED
    assert ClientWatch.of(None) is NOT_WATCHED


def test_client_hang_up_interrupts_the_wait_for_the_provider(client_pair):
    import gevent
    server, client = client_pair
    ended, upstream = [], Paused(30)
    # The watch belongs to the greenlet serving the request, as in the gateway.
    reader = gevent.spawn(lambda: list(SSEBody(upstream, ended.append, watch=ClientWatch(server))))
    gevent.sleep(0.05)  # the first event is out; the body waits on the provider
    client.close()
    reader.join(timeout=2)
    assert reader.ready(), "still waiting on the provider after the client hung up"
    assert reader.value == [b'data: {"x":1}\n\n']
    assert ended[0].status == 499 and upstream.closed == 1


def test_hang_up_between_events_ends_the_stream_at_the_next_wait(client_pair):
    import gevent
    server, client = client_pair
    ended, upstream = [], Paused(30)
    events = iter(SSEBody(upstream, ended.append, watch=ClientWatch(server)))
    assert next(events) == b'data: {"x":1}\n\n'
    client.close()
    gevent.sleep(0.05)  # noticed while the server was writing, not waiting
    with gevent.Timeout(2):
        assert list(events) == []
    assert ended[0].status == 499 and upstream.closed == 1


def test_early_next_request_is_not_a_hang_up(client_pair):
    import gevent
    server, client = client_pair
    ended = []
    reader = gevent.spawn(lambda: list(SSEBody(Paused(0.2), ended.append,
                                               watch=ClientWatch(server))))
    gevent.sleep(0.05)
    client.sendall(b"GET /health HTTP/1.1\r\n\r\n")  # pipelined: the client is still there
    reader.join(timeout=2)
    assert reader.value[-1] == b"data: [DONE]\n\n" and len(reader.value) == 3
    assert ended == [None]


def test_hang_up_during_a_call_ends_it_with_499(client_pair):
    import gevent
    server, client = client_pair
    watch = ClientWatch(server)
    gevent.spawn_later(0.05, client.close)
    with gevent.Timeout(2), pytest.raises(errors.ClientClosedRequestError) as caught:
        watch.wait_on(gevent.sleep, 30)
    watch.stop()
    assert caught.value.status == 499


def test_call_finishing_first_is_untouched(client_pair):
    import gevent
    server, client = client_pair
    watch = ClientWatch(server)
    assert watch.wait_on(lambda: gevent.sleep(0.05) or "answer") == "answer"
    watch.stop()
    client.close()
    gevent.sleep(0.05)  # a hang-up after the watch ended throws nothing anywhere
    assert watch.gone is False
