"""The one exception tree of the gateway, rendered as OpenAI errors.

Every error a client can see is a subclass of ``SwitchboardError``; the class carries the HTTP
status and the OpenAI ``type``, so the official SDK raises the matching exception class::

    SwitchboardError (500 api_error)
     +-- InvalidRequestError            400 invalid_request_error
     |    +-- ContextLengthExceededError 400  code=context_length_exceeded
     |    +-- ContentPolicyError         400  code=content_policy_violation
     |    +-- BudgetExceededError        400 budget_exceeded (a virtual key's budget)
     +-- AuthenticationError            401 authentication_error
     +-- PermissionDeniedError          403 permission_error
     +-- NotFoundError                  404 invalid_request_error
     |    +-- ModelNotFoundError         404  code=model_not_found
     +-- MethodNotAllowedError          405 invalid_request_error
     +-- RequestTimeoutError            408 timeout_error
     +-- ConflictError                  409 invalid_request_error
     +-- PayloadTooLargeError           413 invalid_request_error
     +-- UnsupportedMediaTypeError      415 invalid_request_error
     +-- UnprocessableEntityError       422 invalid_request_error
     +-- RateLimitError                 429 rate_limit_error   (Retry-After passed on)
     +-- InternalServerError            500 api_error
     +-- BadGatewayError                502 api_error          (upstream unreachable / broken)
     +-- ServiceUnavailableError        503 service_unavailable_error
     +-- GatewayTimeoutError            504 timeout_error

Providers translate their native errors into this tree (``from_upstream``); views never look at
provider JSON. A front door speaking another API (Anthropic's ``/v1/messages``) registers a
*surface* (``add_surface``): the same exceptions, rendered in that API's error shape on its paths.
"""
import logging

import orjson
from flask import Response, current_app, g, has_request_context, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger("switchboard")


class SwitchboardError(Exception):
    """Root of every client-visible error."""

    status = 500
    type = "api_error"
    code = None
    # Retryable on another deployment (router) when raised before the first byte was sent.
    retryable = False

    def __init__(self, message, param=None, code=None, headers=None, retry_after=None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})
        self.retry_after = retry_after
        if retry_after is not None:
            self.headers["Retry-After"] = str(retry_after)

    def body(self):
        """The OpenAI error object as a dict."""
        return {"error": {"message": self.message, "type": self.type,
                          "param": self.param, "code": self.code}}


class InvalidRequestError(SwitchboardError):
    status, type = 400, "invalid_request_error"


class ContextLengthExceededError(InvalidRequestError):
    code = "context_length_exceeded"


class ContentPolicyError(InvalidRequestError):
    code = "content_policy_violation"


class BudgetExceededError(InvalidRequestError):
    type = code = "budget_exceeded"


class AuthenticationError(SwitchboardError):
    status, type, code = 401, "authentication_error", "invalid_api_key"


class PermissionDeniedError(SwitchboardError):
    status, type = 403, "permission_error"


class NotFoundError(SwitchboardError):
    status, type, code = 404, "invalid_request_error", "not_found"


class ModelNotFoundError(NotFoundError):
    code = "model_not_found"


class MethodNotAllowedError(SwitchboardError):
    status, type, code = 405, "invalid_request_error", "method_not_allowed"


class RequestTimeoutError(SwitchboardError):
    status, type, code, retryable = 408, "timeout_error", "timeout", True


class ConflictError(SwitchboardError):
    status, type = 409, "invalid_request_error"


class PayloadTooLargeError(SwitchboardError):
    status, type, code = 413, "invalid_request_error", "request_too_large"


class UnsupportedMediaTypeError(SwitchboardError):
    status, type, code = 415, "invalid_request_error", "unsupported_media_type"


class UnprocessableEntityError(SwitchboardError):
    status, type = 422, "invalid_request_error"


class ClientClosedRequestError(SwitchboardError):
    """nginx's 499: the client hung up before the answer; only the access log sees it."""
    status, type, code = 499, "invalid_request_error", "client_disconnected"


class RateLimitError(SwitchboardError):
    status, type, code, retryable = 429, "rate_limit_error", "rate_limit_exceeded", True


class InternalServerError(SwitchboardError):
    status, type, retryable = 500, "api_error", True


class BadGatewayError(SwitchboardError):
    status, type, code, retryable = 502, "api_error", "bad_gateway", True


class ServiceUnavailableError(SwitchboardError):
    status, type, code, retryable = 503, "service_unavailable_error", "service_unavailable", True


class GatewayTimeoutError(SwitchboardError):
    status, type, code, retryable = 504, "timeout_error", "timeout", True


_BY_STATUS = {
    400: InvalidRequestError, 401: AuthenticationError, 403: PermissionDeniedError,
    404: NotFoundError, 405: MethodNotAllowedError, 408: RequestTimeoutError, 409: ConflictError,
    413: PayloadTooLargeError, 415: UnsupportedMediaTypeError, 422: UnprocessableEntityError,
    429: RateLimitError, 500: InternalServerError, 502: BadGatewayError,
    503: ServiceUnavailableError, 504: GatewayTimeoutError,
}
_CONTEXT_HINTS = ("context_length_exceeded", "maximum context length", "context window",
                  "too many tokens", "prompt is too long", "exceed context limit")


def error_class_for(status):
    """The tree's class for an HTTP status (unknown 4xx -> 400, unknown 5xx -> 500)."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if 500 <= status < 600:
        return InternalServerError
    return InvalidRequestError


def from_upstream(status, message, param=None, code=None, retry_after=None):
    """Map an upstream provider error onto the tree, keeping context-length errors recognisable."""
    text = f"{code or ''} {message or ''}".lower()
    if status in (400, 413, 422) and any(h in text for h in _CONTEXT_HINTS):
        return ContextLengthExceededError(message, param=param)
    cls = error_class_for(status)
    if 300 <= status < 400:
        return BadGatewayError(f"upstream answered with a redirect ({status}); not followed")
    return cls(message or f"upstream error (HTTP {status})", param=param, code=code,
               retry_after=retry_after)


SURFACES = "switchboard.error_surfaces"


def add_surface(app, prefixes, shape):
    """Render errors on paths starting with one of ``prefixes`` as ``shape(exc)`` -> (status,
    body dict) instead of OpenAI's shape."""
    app.extensions.setdefault(SURFACES, []).append((tuple(prefixes), shape))


def _shape_for(path):
    for prefixes, shape in current_app.extensions.get(SURFACES, ()):
        if path.startswith(prefixes):
            return shape
    return None


def render(exc):
    """Flask response for a SwitchboardError (remembered on ``g`` for the access log)."""
    status, body = exc.status, exc.body()
    if has_request_context():
        g.error = exc
        shape = _shape_for(request.path)
        if shape is not None:
            status, body = shape(exc)
    resp = Response(orjson.dumps(body), status=status, mimetype="application/json")
    for name, value in exc.headers.items():
        resp.headers[name] = value
    return resp


def _http_exception(exc):
    # Werkzeug's routing errors (404 unknown route, 405 wrong method, 413 ...) in OpenAI's shape.
    cls = error_class_for(exc.code or 500)
    messages = {404: f"Unknown route: {_path()}", 405: f"Method not allowed on {_path()}",
                413: "Request body too large"}
    err = cls(messages.get(exc.code, exc.description or exc.name))
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        err.headers["Allow"] = ", ".join(exc.valid_methods)
    return render(err)


def _path():
    return request.path


def _unexpected(exc):
    # An internal bug: log the traceback server-side, hand the client only a request id.
    rid = getattr(g, "request_id", None)
    log.exception("internal error (request id %s)", rid)
    return render(InternalServerError(
        f"Internal server error; request id {rid}", code="internal_error"))


def init_app(app):
    """Register the single renderer for every error the app can raise."""
    app.register_error_handler(SwitchboardError, render)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)
