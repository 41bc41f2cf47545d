"""OpenAI event streams relayed a network read at a time, the bytes untouched where nothing in
them must change.

The per-event path (``OpenAICompatible.chunks``) parses every chunk and hands the client one
payload per event. Relaying for the plain OpenAI frame instead hands on each network read as one
``Framed`` block and parses only the chunks that may need something done: one that may carry an
``error`` (raises), a non-null ``usage`` (kept for the logs; our own usage chunk hidden), or one
that does not look like a JSON object (a 502, as before). ``[DONE]`` ends the stream. The block
is the original bytes when every event is a plain ``data: {...}`` line that is kept, else the kept
events re-framed the way the per-event path writes them.

Most reads are one or more plain events with nothing to do; ``plain_events`` recognises them with
a few whole-read byte scans (no per-event Python), which is most of a relayed stream's cost.
"""
import orjson

from app import errors
from app.providers.base import end_of_body, scrub, stream_body
from app.streaming import Framed, _parse_block

DONE = b"[DONE]"


def relay(call, response, who, hide_usage):
    """``Framed`` blocks of OpenAI events, one per network read (a read cut mid-event waits)."""
    rest = b""
    body = stream_body(response, who)
    for raw in body:
        data = rest + raw if rest else raw
        n = plain_events(data)
        if n:
            rest = b""
            out = Framed(data)
            if n > 1:
                out.events = n
            yield out
            continue
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        end = data.rfind(b"\n\n")
        if end < 0:
            rest = data
            continue
        block, rest = data[:end + 2], data[end + 2:]
        out, finished, error = check_block(call, block, who, hide_usage)
        if out:
            yield out
        if error is not None:
            raise error
        if finished:
            end_of_body(body)
            return
    if rest.strip():  # a last event without its blank line
        out, finished, error = check_block(call, rest.rstrip(b"\n") + b"\n\n", who,
                                           hide_usage)
        if out:
            yield out
        if error is not None:
            raise error
        if finished:
            return
    raise errors.BadGatewayError(f"{who} closed the stream before it was complete")


def plain_events(data):
    """How many events ``data`` is when it is nothing but whole ``data: {...}`` lines, none with
    an ``error`` or a non-null ``usage`` (0 when ``check_block`` must look event by event).

    A JSON payload has no raw newline, so with exactly two per blank-line boundary every event
    is one line; each starts with ``data: {`` and ends with ``}``, which is ``_inspect``'s outline.
    One event per read is the common case: its only newlines are the last two.
    """
    if not (data.startswith(b"data: {") and data.endswith(b"}\n\n")):
        return 0
    n = 1 if data.find(b"\n") == len(data) - 2 else _count_lines(data)
    if not n or data.find(b'"error"') >= 0:
        return 0
    usage = data.find(b'"usage"')
    while usage >= 0:  # OpenAI sends "usage":null on every chunk once usage is asked for
        if not data.startswith(b'"usage":null', usage):
            return 0
        usage = data.find(b'"usage"', usage + 12)
    return n


def _count_lines(data):
    n = data.count(b"\n\n")
    if data.count(b"\n") != 2 * n or data.count(b"}\n\ndata: {") != n - 1:
        return 0
    return n


def check_block(call, block, who, hide_usage):
    """(Framed or None, saw [DONE]) for whole events ``block`` (ends with a blank line); an
    upstream error or a broken event raises, once the events before it are handed on."""
    kept, changed, finished, error = [], False, False, None
    for segment in block[:-2].split(b"\n\n"):
        simple = segment.startswith(b"data: ") and b"\n" not in segment
        event = (None, segment[6:]) if simple else _parse_block(segment)
        if event is None:  # a comment or an empty event: nothing to forward
            changed = True
            continue
        data = event[1]
        if data == DONE:
            finished = True
            break
        try:
            if _inspect(data) and _hidden(call, parse_chunk(data, who), hide_usage):
                changed = True
                continue
        except errors.SwitchboardError as exc:
            error = exc
            break
        changed = changed or not simple
        kept.append(data)
    out = _framed(block, kept, changed or finished or error is not None)
    return out, finished, error


def _framed(block, kept, rebuilt):
    if not kept:
        return None
    out = Framed(b"".join([b"data: " + d + b"\n\n" for d in kept]) if rebuilt else block)
    out.events = len(kept)
    return out


def _inspect(data):
    # Only a chunk that may carry an error or usage is parsed; any other passes as it came
    # once it looks like a JSON object (an upstream sending broken JSON is caught either way
    # when it breaks the object's outline, which is how a cut or garbled event looks).
    if not (data.startswith(b"{") and data.endswith(b"}")):
        return True
    if b'"error"' in data:
        return True
    return b'"usage"' in data and b'"usage":null' not in data and b'"usage": null' not in data


def parse_chunk(data, who):
    """One OpenAI chunk payload as a dict; anything else is a broken stream (502)."""
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise errors.BadGatewayError(f"{who} sent a malformed stream event") from None
    if not isinstance(chunk, dict):
        raise errors.BadGatewayError(f"{who} sent a malformed stream event")
    return chunk


def _hidden(call, chunk, hide_usage):
    # The same checks as OpenAICompatible.chunks/iter_events, event by event.
    if "error" in chunk:
        raise stream_error(call, chunk["error"])
    usage = chunk.get("usage")
    if usage:
        call.usage = usage
        return hide_usage and not chunk.get("choices")
    return False


def stream_error(call, err):
    """The exception for an ``error`` object an OpenAI-compatible host sent mid-stream."""
    if not isinstance(err, dict):
        return errors.BadGatewayError("upstream error in stream")
    status = err.get("status") if isinstance(err.get("status"), int) else 500
    return errors.from_upstream(status, scrub(call, str(err.get("message", ""))),
                                param=err.get("param"), code=err.get("code"))
