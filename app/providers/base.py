"""The small interface every provider implements, and the HTTP flow they share.

A provider is a handful of hooks over plain data:

- ``prepare(deployment)`` -> ``Target``: what can be worked out once per deployment at start-up
  (base URL, static auth headers), so the hot path reads no environment.
- ``build_request(call)`` -> ``Outbound``: URL, headers and body bytes for one call.
- ``parse_response(call, content)`` -> OpenAI-shaped dict.
- ``iter_events(call, response)`` -> OpenAI ``chat.completion.chunk`` payloads (JSON bytes).
- ``parse_error(call, status, content, headers)`` -> a ``SwitchboardError``.

``complete`` and ``open_stream`` run the shared flow (send, map transport failures, check status,
parse); a provider without HTTP (mock) overrides those two instead.
"""
import re
from dataclasses import dataclass, field

import orjson
import requests
from urllib3.exceptions import ReadTimeoutError

from app import errors, http
from app.overrides import EMPTY

_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-]{3})[A-Za-z0-9_\-*]{6,}")


@dataclass(frozen=True)
class Target:
    """What a provider worked out once for one deployment."""

    base: str | None
    api_key: str | None
    headers: dict
    defaults: dict = field(default_factory=dict)  # request params the deployment presets


@dataclass(frozen=True)
class Outbound:
    """One HTTP request to a provider."""

    url: str
    headers: dict
    data: bytes


class Call:
    """One attempt of one client request against one deployment."""

    __slots__ = ("endpoint", "body", "overrides", "stream", "deployment", "provider", "target",
                 "timeout", "session", "usage", "api_key", "drop_params", "native",
                 "relay_sse")

    def __init__(self, endpoint, body, overrides=EMPTY, stream=False):
        self.endpoint = endpoint
        self.body = body
        self.overrides = overrides
        self.stream = stream
        self.deployment = self.provider = self.target = self.session = None
        self.timeout = None
        self.usage = None
        self.api_key = None
        self.drop_params = False
        # The client's body in another API (Anthropic Messages), for a deployment that speaks
        # that API natively (``Provider.speaks_messages_for``) to send instead of ``body``.
        self.native = None
        # Set by gateway.respond before a stream is read: the client's frame is plain OpenAI
        # SSE, so a provider may yield ``streaming.Framed`` blocks of events as they came.
        self.relay_sse = False

    def bind(self, route, session, timeout, drop_params=False):
        """Point this call at one deployment (the router may re-bind it on retry)."""
        self.deployment, self.provider, self.target = route
        self.session = session
        self.timeout = timeout
        self.drop_params = drop_params
        self.usage = None
        return self


class Provider:
    """Base provider: subclasses fill in the translation hooks."""

    name = "base"
    endpoints = frozenset({"chat"})

    def speaks_messages_for(self, deployment):
        """True when ``deployment`` takes an Anthropic Messages body as is (``Call.native``)."""
        return False

    def prepare(self, deployment):
        """Precompute the Target for a deployment."""
        raise NotImplementedError

    def build_request(self, call):
        """The Outbound request for a call."""
        raise NotImplementedError

    def parse_response(self, call, content):
        """Translate a successful non-stream response body to OpenAI's shape."""
        raise NotImplementedError

    def iter_events(self, call, response):
        """Yield OpenAI chunk payloads (JSON bytes) read from a streaming response."""
        raise NotImplementedError

    def parse_error(self, call, status, content, headers):
        """Translate an upstream error response into the exception tree."""
        return errors.from_upstream(status, scrub(call, content.decode("utf-8", "replace")[:500]),
                                    retry_after=headers.get("retry-after"))

    # -- the shared HTTP flow -------------------------------------------------------------------

    def complete(self, call):
        """Run a non-stream call and return the OpenAI-shaped response dict."""
        resp = self._send(call, stream=False)
        return self.parse_response(call, resp.content)

    def open_stream(self, call):
        """Start a stream; errors before the first event raise here (so they can be retried)."""
        resp = self._send(call, stream=True)
        return UpstreamStream(resp, self.iter_events(call, resp))

    def _send(self, call, stream):
        try:
            out = self.build_request(call)
        except TypeError as exc:
            # orjson encodes at most 254 levels (it parses up to 1024): a deeper body is the
            # client's problem, not an internal error.
            if "Recursion limit" not in str(exc):
                raise
            raise errors.InvalidRequestError(
                "The request body is nested too deeply (more than 254 levels).") from None
        return self.send(call, out, stream)

    def send(self, call, out, stream):
        """POST ``out`` for ``call``; transport failures and error statuses raise as the tree."""
        call.api_key = _bearer(out.headers)
        return self._post(call, out, stream)

    def _post(self, call, out, stream):
        try:
            resp = http.post(call.session, out.url, out.data, out.headers, call.timeout, stream)
        except requests.exceptions.ConnectTimeout:
            raise _unreachable(errors.GatewayTimeoutError(
                f"Timed out connecting to {self.name}")) from None
        except requests.exceptions.ReadTimeout:
            raise errors.GatewayTimeoutError(
                f"{self.name} did not answer within {call.timeout[1]:g}s") from None
        except requests.exceptions.RequestException as exc:
            err = errors.BadGatewayError(f"{self.name} is unreachable: {type(exc).__name__}")
            if isinstance(exc, requests.exceptions.ConnectionError):
                _unreachable(err)
            raise err from None
        if resp.status_code >= 300:
            try:
                content = resp.content
            except requests.exceptions.RequestException:
                content = b""
            finally:
                resp.close()
            raise self.parse_error(call, resp.status_code, content, resp.headers)
        return resp


class UpstreamStream:
    """An open upstream stream: iterate for chunk payloads, close to free the connection."""

    __slots__ = ("response", "events")

    def __init__(self, response, events):
        self.response = response
        self.events = events

    def __iter__(self):
        return self.events

    def close(self):
        """Close the upstream connection at once (the client went away or we are done)."""
        self.response.close()


def _unreachable(exc):
    # The router moves such a failure to another deployment at once (app.router.policy).
    exc.unreachable = True
    return exc


def _bearer(headers):
    auth = (headers.get("Authorization") or headers.get("api-key") or headers.get("x-api-key")
            or headers.get("x-goog-api-key") or "")
    return auth[7:] if auth.startswith("Bearer ") else auth or None


def scrub(call, text):
    """Remove the key used for a call (and anything key-shaped) from upstream error text."""
    target_key = call.target.api_key if call.target is not None else None
    for key in (call.api_key, call.overrides.api_key, target_key):
        # Real keys are long; replacing a 1-3 character test key would mangle the message.
        if key and len(key) >= 8 and key in text:
            text = text.replace(key, "***")
    return _KEY_PATTERN.sub(r"\1***", text)


class RawJSON(bytes):
    """An upstream JSON object relayed as it came (large embeddings are not re-encoded)."""

    def with_field(self, name, value):
        """The same object with one more top-level field appended."""
        end = self.rindex(b"}")
        sep = b"," if self[:end].rstrip()[-1:] not in (b"{", b"") else b""
        return self[:end] + sep + orjson.dumps(name) + b":" + orjson.dumps(value) + b"}"


_USAGE = re.compile(rb'"usage"\s*:\s*(\{[^{}]*\})')


def relay_json(content, who, call):
    """Pass a JSON object through without decoding it, reading only its usage for the logs.

    Only for bodies whose shape we do not change (OpenAI-compatible embeddings): parsing and
    re-encoding 1536 floats costs more CPU than the rest of the request. Anything that does not
    look like a JSON object is parsed the normal way, so a broken body is still a 502.
    """
    body = content.strip()
    if not (body.startswith(b"{") and body.endswith(b"}")):
        return json_or_502(content, who)
    match = _USAGE.search(body, max(0, len(body) - 512))
    if match:
        try:
            call.usage = orjson.loads(match.group(1))
        except orjson.JSONDecodeError:
            return json_or_502(content, who)
    return RawJSON(body)


def stream_body(response, who, content_type="text/event-stream"):
    """The body chunks of a streaming response, once it is known to be the stream we asked for."""
    ctype = response.headers.get("content-type", "")
    if not ctype.startswith(content_type):
        raise errors.BadGatewayError(
            f"{who} answered a stream request with {ctype or 'no content type'}, "
            f"not {content_type}")
    return read_stream(response, who)


def read_stream(response, who):
    """The body chunks of a streaming response; a lost connection is the provider's 502/504."""
    try:
        yield from response.iter_content(chunk_size=None)
    except requests.exceptions.RequestException as exc:
        # Mid-body, requests reports a read timeout as a ConnectionError wrapping urllib3's.
        if isinstance(exc, requests.exceptions.Timeout) \
                or any(isinstance(a, ReadTimeoutError) for a in exc.args):
            raise errors.GatewayTimeoutError(
                f"{who} timed out mid-stream: nothing arrived within the read timeout") from None
        raise errors.BadGatewayError(f"{who} broke the stream ({type(exc).__name__})") from None


def end_of_body(body):
    """Read on past a stream's last event to the end of its body (normally just the terminating
    chunk), so ``Response.close`` hands the connection back to the pool instead of closing it."""
    for _ in body:  # more after the last event: leave it, the connection is closed instead
        break


def json_or_502(content, who):
    """Parse an upstream JSON body; a body that is not a JSON object is a 502."""
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise errors.BadGatewayError(f"{who} answered with a body that is not JSON") from None
    if not isinstance(data, dict):
        raise errors.BadGatewayError(f"{who} answered with JSON that is not an object")
    return data
