"""Per-request cache controls: the body's ``cache`` object and the ``Cache-Control`` header.

Body (LiteLLM's names, the OpenAI SDK's ``extra_body``)::

    "cache": {"no-cache": true}    don't read: always ask the provider (the answer is stored)
             {"no-store": true}    don't write this answer
             {"ttl": 60}           keep this answer 60 s (default: cache_params.ttl)
             {"s-maxage": 30}      accept only an entry younger than 30 s
             {"namespace": "x"}    read and write under this namespace instead of the config's
             {"use-cache": true}   opt in when cache_params.mode is default_off (false: opt out)

Header: ``Cache-Control: no-cache``, ``no-store``, ``max-age=N`` (= ``s-maxage``) and
``s-maxage=N``; unknown directives are ignored, as HTTP says. The body wins over the header.
``cache`` is popped from the body, so it never reaches a provider.
"""
import math
from dataclasses import dataclass

from app.errors import InvalidRequestError

_FLAGS = {"no-cache": "no_cache", "no-store": "no_store", "use-cache": "use_cache"}
_SECONDS = {"ttl": "ttl", "s-maxage": "max_age"}
MAX_TTL = 365 * 24 * 3600
MAX_NAMESPACE = 128


@dataclass(frozen=True)
class Controls:
    """What one request asked of the cache (None: not said, the config decides)."""

    no_cache: bool = False
    no_store: bool = False
    use_cache: bool | None = None
    ttl: float | None = None
    max_age: float | None = None
    namespace: str | None = None


NONE = Controls()


def take(body, header=None):
    """Pop ``cache`` out of ``body`` and merge it over the Cache-Control ``header``."""
    raw = body.pop("cache", None)
    if raw is None and not header:
        return NONE
    values = from_header(header) if header else {}
    if raw is not None:
        values.update(from_body(raw))
    return Controls(**values) if values else NONE


def from_body(raw):
    """The body's ``cache`` object as Controls fields; a bad value is a 400 naming it."""
    if not isinstance(raw, dict):
        raise InvalidRequestError("'cache' must be an object, e.g. {\"no-cache\": true}",
                                  param="cache")
    values = {}
    for name, value in raw.items():
        param = f"cache.{name}"
        if name in _FLAGS:
            if not isinstance(value, bool):
                raise InvalidRequestError(f"{param} must be true or false", param=param)
            values[_FLAGS[name]] = value
        elif name in _SECONDS:
            values[_SECONDS[name]] = _seconds(value, param)
        elif name == "namespace":
            values["namespace"] = _namespace(value, param)
        else:
            raise InvalidRequestError(
                f"unknown cache control {name!r} (known: no-cache, no-store, ttl, s-maxage, "
                "namespace, use-cache)", param=param)
    return values


def _seconds(value, param):
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not 0 <= value <= MAX_TTL:
        raise InvalidRequestError(f"{param} must be a number of seconds from 0 to {MAX_TTL}",
                                  param=param)
    return float(value)


def _namespace(value, param):
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAMESPACE \
            or not value.isprintable():
        raise InvalidRequestError(
            f"{param} must be a non-empty printable string of at most {MAX_NAMESPACE} characters",
            param=param)
    return value


def from_header(header):
    """Cache-Control request directives as Controls fields (malformed ones are ignored)."""
    values = {}
    for part in header.lower().split(","):
        name, _, arg = part.strip().partition("=")
        if name in ("no-cache", "no-store"):
            values[_FLAGS[name]] = True
        elif name in ("max-age", "s-maxage"):
            try:
                seconds = float(arg.strip().strip('"'))
            except ValueError:
                continue
            if math.isfinite(seconds) and seconds >= 0:
                values["max_age"] = seconds
    return values
