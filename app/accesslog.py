"""One JSON line per request: the access log the logging layer builds on.

Written with a single ``write`` per line to stdout or to a file opened for append, so lines from
several gunicorn workers never interleave. Secrets never reach it: metadata values under
key-like names are redacted, and keys are never put in a record in the first place.
"""
import os
import sys
import time

import orjson

EXTENSION = "switchboard.accesslog"
_SECRET_WORDS = ("key", "secret", "token", "password", "authorization", "credential")


class AccessLog:
    """Writes records as JSON lines to a file descriptor."""

    def __init__(self, target):
        self.fd = None
        self._own = False
        if target in (None, "off"):
            return
        if target == "stdout":
            self.fd = sys.stdout.fileno()
        elif target == "stderr":
            self.fd = sys.stderr.fileno()
        else:
            self.fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            self._own = True

    def write(self, record):
        """Append one record."""
        if self.fd is not None:
            os.write(self.fd, orjson.dumps(record, default=str) + b"\n")

    def close(self):
        """Close a log file we opened."""
        if self._own and self.fd is not None:
            os.close(self.fd)
            self.fd = None


def redact(value, depth=0):
    """A copy of client metadata with secret-looking entries masked."""
    if depth > 8:
        return "[too deep]"
    if isinstance(value, dict):
        return {k: "[redacted]" if _secret_name(k) else redact(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, depth + 1) for v in value]
    return value


def _secret_name(name):
    name = str(name).lower()
    return any(word in name for word in _SECRET_WORDS)


def begin(request_id, method, route):
    """The start of a request's record; the pipeline adds model, provider, usage... to it."""
    return {"ts": round(time.time(), 3), "request_id": request_id, "method": method,
            "route": route}


def finish(info, t0, status, error=None):
    """Complete a record with status, latency and the error, if any."""
    info["status"] = status
    info["latency_ms"] = round((time.perf_counter() - t0) * 1000, 2)
    if error is not None:
        info["error"] = {"type": error.type, "code": error.code, "message": error.message[:300]}
    return info


def log_of(app):
    """The access log opened for this app."""
    return app.extensions[EXTENSION]


def init_app(app, target):
    """Open the access log named in the config."""
    app.extensions[EXTENSION] = AccessLog(target)
