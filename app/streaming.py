"""Server-sent events: reading a provider's stream and writing the client's.

Reading: ``sse_events`` turns raw byte chunks into ``(event, data)`` pairs, tolerating CRLF and
events split across reads. Writing: ``sse_body`` frames OpenAI chunk payloads, ends with
``data: [DONE]`` on success, or with one ``data: {"error": ...}`` event when the stream breaks,
and always closes the upstream connection (also when the client disconnects: the WSGI server
closes our generator, which runs the ``finally``).

A client that hangs up while its request waits on the provider (a long completion, a slow first
token, a pause between stream events) is noticed at once, not at the next write: ``ClientWatch``
watches its socket from gevent's hub and interrupts the wait, so the upstream connection is
closed right away and the provider stops generating for nobody.
"""
import logging
import time

import orjson

from app import errors
from app.sockets import pending_bytes

log = logging.getLogger("switchboard")

DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"


def sse_events(chunks):
    """Yield (event_name, data_bytes) for each event in an SSE byte stream."""
    buf = b""
    for chunk in chunks:
        if not chunk:
            continue
        buf = buf + chunk if buf else chunk
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n")
        while True:
            end = buf.find(b"\n\n")
            if end < 0:
                break
            block, buf = buf[:end], buf[end + 2:]
            event = _parse_block(block)
            if event is not None:
                yield event
    if buf.strip():
        event = _parse_block(buf)
        if event is not None:
            yield event


def _parse_block(block):
    # Fast path: the common single "data: {...}" line.
    if block.startswith(b"data: ") and b"\n" not in block:
        return None, block[6:]
    name, data = None, []
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            data.append(line[6:] if line[5:6] == b" " else line[5:])
        elif line.startswith(b"event:"):
            name = line[6:].strip().decode("utf-8", "replace")
        # comments (":...") and id/retry fields carry nothing we forward
    if not data and name is None:
        return None
    return name, b"\n".join(data)


def error_event(exc):
    """The final SSE event for an error in the middle of a stream."""
    return b"data: " + orjson.dumps(exc.body()) + b"\n\n"


class ClientGone(BaseException):
    """Thrown into a greenlet waiting on its provider when its client has hung up.

    A BaseException, like gevent's Timeout, so no ``except Exception`` on the way swallows it.
    """


class ClientWatch:
    """Watches a client socket while the greenlet serving it waits on the provider.

    The watcher is a hub callback, not a greenlet. When the socket turns readable with nothing to
    read, the client closed (or reset) the connection: if the serving greenlet is waiting on the
    provider (``armed``) it gets ``ClientGone`` thrown in from the hub, as gevent's Timeout does;
    otherwise ``gone`` is noted for its next wait. Readable *with* bytes means the client sent its
    next request early: it is still there, so the watch ends.
    """

    __slots__ = ("greenlet", "watcher", "sock", "armed", "gone")

    def __init__(self, sock):
        from gevent import get_hub, getcurrent
        self.greenlet = getcurrent()
        self.sock = sock
        self.armed = self.gone = False
        self.watcher = get_hub().loop.io(sock.fileno(), 1)
        self.watcher.start(self._readable)

    @classmethod
    def of(cls, sock):
        """A watch on ``sock`` when serving under gevent, else ``NOT_WATCHED``."""
        if sock is None:
            return NOT_WATCHED
        from gevent import monkey
        if not monkey.is_module_patched("socket"):
            return NOT_WATCHED
        try:
            return cls(sock)
        except (OSError, ValueError):  # the socket is already closed
            return NOT_WATCHED

    def _readable(self):
        self.watcher.stop()
        if pending_bytes(self.sock):
            return
        self.gone = True
        if self.armed:
            self.armed = False
            self.greenlet.throw(ClientGone)

    def wait_on(self, fn, *args):
        """``fn(*args)`` with the watch armed; a hang-up meanwhile ends the request with 499."""
        if self.gone:
            raise errors.ClientClosedRequestError(GONE)
        self.armed = True
        try:
            return fn(*args)
        except ClientGone:
            raise errors.ClientClosedRequestError(GONE) from None
        finally:
            self.armed = False

    def stop(self):
        """End the watch (the response is over)."""
        self.armed = False
        self.watcher.stop()


class _NoWatch:
    """The watch where there is nothing to watch (tests, other servers): never fires."""

    __slots__ = ("armed",)
    gone = False

    def __init__(self):
        self.armed = False

    def wait_on(self, fn, *args):
        return fn(*args)

    def stop(self):
        pass


NOT_WATCHED = _NoWatch()
GONE = "the client closed the connection before the answer"


class Framed(bytes):
    """Several OpenAI events already framed as SSE, relayed in one write (``events``: how many).

    Providers yield these instead of single payloads only when ``Call.relay_sse`` is set, which
    ``gateway.respond`` does for the plain OpenAI frame.
    """

    events = 1

    def payloads(self):
        """The block's event payloads (a relayed block holds only plain ``data: {...}`` lines)."""
        return [segment[6:] for segment in self[:-2].split(b"\n\n")]


class OpenAIFrame:
    """How a stream is written to the client: OpenAI's ``data:`` events and ``[DONE]``.

    Other front doors (Anthropic's Messages, OpenAI's Responses) pass their own object with the
    same three methods to ``SSEBody``; ``chunk`` may return b"" (nothing to send yet) or
    several events at once.
    """

    @staticmethod
    def chunk(payload):
        """The bytes to send for one OpenAI chunk payload (a ``Framed`` block as it is)."""
        if type(payload) is Framed:
            return payload
        return b"data: " + payload + b"\n\n"

    @staticmethod
    def done():
        """The bytes that end a complete stream."""
        return DONE

    @staticmethod
    def error(exc):
        """The bytes that end a stream broken by ``exc``."""
        return error_event(exc)


OPENAI_FRAME = OpenAIFrame()


class SSEBody:
    """The client's SSE body for a provider stream; ``on_end(error_or_None)`` runs exactly once.

    The WSGI server calls ``close()`` when the response ends or the client goes away, even if
    iteration never started, so the upstream connection is always released at once. With a
    ``watch`` on the client (``ClientWatch``) a hang-up is also noticed while waiting.
    ``frame`` writes the events (default: OpenAI's SSE, see ``OpenAIFrame``).
    """

    def __init__(self, stream, on_end, collect=False, watch=NOT_WATCHED, frame=None):
        self.frame = frame or OPENAI_FRAME
        self.stream = stream
        self.on_end = on_end
        self.ended = False
        self.first_at = None  # perf_counter() of the first event (time to first token)
        self.count = 0
        self.chunks = [] if collect else None  # payloads, kept only when a callback logs them
        self.watch = watch

    def __iter__(self):
        error = None
        chunks = self.chunks
        watch = self.watch
        frame = self.frame
        events = iter(self.stream)
        chunk = None if frame is OPENAI_FRAME else frame.chunk  # OpenAI's framing: inline
        count = 0
        try:
            while True:
                if watch.gone:
                    raise ClientGone
                watch.armed = True
                try:
                    payload = next(events)
                except StopIteration:
                    break
                finally:
                    watch.armed = False
                if not count:
                    self.first_at = time.perf_counter()
                if type(payload) is Framed:
                    count += payload.events
                    out = payload if chunk is None else chunk(payload)
                else:
                    count += 1
                    out = b"data: " + payload + b"\n\n" if chunk is None else chunk(payload)
                self.count = count
                if chunks is not None:
                    chunks.append(payload)
                if out:
                    yield out
            yield frame.done()
        except ClientGone:
            self._end(_DISCONNECTED)
            return
        except errors.SwitchboardError as exc:
            error = exc
            yield frame.error(exc)
        except Exception:  # a bug mid-stream: the client still gets a proper ending
            log.exception("internal error in stream")
            error = errors.InternalServerError("Internal error while streaming",
                                               code="internal_error")
            yield frame.error(error)
        self._end(error)

    def close(self):
        """Release the upstream; if the stream had not finished, the client disconnected."""
        self._end(_DISCONNECTED)

    def _end(self, error):
        if self.ended:
            return
        self.ended = True
        self.watch.stop()
        self.stream.close()
        self.on_end(error)


_DISCONNECTED = errors.ClientClosedRequestError("client disconnected before the stream ended")
