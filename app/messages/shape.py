"""The gateway's exceptions in Anthropic's error shape, with the statuses the anthropic SDK maps
to its exception classes (``{"type": "error", "error": {"type", "message"}}``)."""
import orjson
from flask import g, has_app_context

# HTTP status -> (status sent, Anthropic error type); anything else 4xx/5xx falls back below.
_BY_STATUS = {
    400: (400, "invalid_request_error"), 401: (401, "authentication_error"),
    403: (403, "permission_error"), 404: (404, "not_found_error"),
    405: (405, "invalid_request_error"), 408: (408, "timeout_error"),
    409: (409, "invalid_request_error"), 413: (413, "request_too_large"),
    415: (415, "invalid_request_error"), 422: (422, "invalid_request_error"),
    429: (429, "rate_limit_error"), 499: (499, "invalid_request_error"),
    500: (500, "api_error"), 502: (502, "api_error"),
    # Anthropic's "overloaded" is 529; the SDK raises OverloadedError and retries it.
    503: (529, "overloaded_error"), 504: (504, "timeout_error"),
}


def status_and_type(exc):
    """(HTTP status, Anthropic error type) for one of the gateway's exceptions."""
    found = _BY_STATUS.get(exc.status)
    if found:
        return found
    return (exc.status, "api_error") if exc.status >= 500 else (exc.status,
                                                                 "invalid_request_error")


def error_body(exc):
    """Anthropic's error object for ``exc``."""
    body = {"type": "error", "error": {"type": status_and_type(exc)[1], "message": exc.message}}
    rid = g.get("request_id") if has_app_context() else None  # none mid-stream
    if rid:
        body["request_id"] = rid
    return body


def render(exc):
    """(status, body) for the single error handler (``errors.add_surface``)."""
    return status_and_type(exc)[0], error_body(exc)


def error_event(exc):
    """The ``error`` SSE event ending a stream broken by ``exc``."""
    return b"event: error\ndata: " + orjson.dumps(error_body(exc)) + b"\n\n"
