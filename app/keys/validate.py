"""Validation of management-API input: every field named, typed and bounded before any write.

A bad value raises ``InvalidRequestError`` (400) naming the field, so nothing is half-written.
"""
import math

from app import errors
from app.keys.durations import parse_ms

MAX_TEXT = 256


def _fail(name, what):
    raise errors.InvalidRequestError(f"'{name}' {what}", param=name)


def text(name, value, limit=MAX_TEXT):
    """A non-empty string of at most ``limit`` characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        _fail(name, f"must be a non-empty string of at most {limit} characters")
    return value


def budget(name, value):
    """A finite number >= 0 (USD)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        _fail(name, "must be a number >= 0")
    return float(value)


def count(name, value):
    """An integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2**62:
        _fail(name, "must be an integer >= 0")
    return value


def duration(name, value):
    """A duration string such as "30s", "1m", "1h", "1d", "30d"."""
    try:
        parse_ms(value)
    except ValueError:
        _fail(name, 'must be a duration such as "30s", "1m", "1h", "1d" or "30d"')
    return value.strip()


def string_list(name, value):
    """A list of non-empty strings."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        _fail(name, "must be an array of strings")
    return list(value)


def mapping(name, value):
    """A JSON object."""
    if not isinstance(value, dict):
        _fail(name, "must be an object")
    return value


def flag(name, value):
    """A boolean."""
    if not isinstance(value, bool):
        _fail(name, "must be a boolean")
    return value


def raw_key(name, value):
    """A custom key: "sk-" and 8 to 256 printable characters."""
    if not isinstance(value, str) or not value.startswith("sk-") or not 11 <= len(value) <= 256 \
            or not value.isprintable() or any(c.isspace() for c in value):
        _fail(name, 'must start with "sk-" and be 11 to 256 characters without spaces')
    return value


def check(data, spec, required=()):
    """``data`` (a JSON object) checked against ``spec`` {field: checker}; nulls pass through."""
    if not isinstance(data, dict):
        raise errors.InvalidRequestError("The request body must be a JSON object.")
    unknown = sorted(set(data) - set(spec))
    if unknown:
        _fail(unknown[0], f"is not a known field (known: {', '.join(sorted(spec))})")
    for name in required:
        if data.get(name) is None:
            _fail(name, "is required")
    return {name: (None if value is None else spec[name](name, value))
            for name, value in data.items()}


LIMITS = {"max_budget": budget, "budget_duration": duration, "rpm_limit": count,
          "tpm_limit": count, "max_parallel_requests": count, "models": string_list,
          "metadata": mapping, "blocked": flag}
KEY = {**LIMITS, "duration": duration, "key_alias": text, "user_id": text, "team_id": text,
       "key": raw_key, "tags": string_list}
KEY_UPDATE = {**KEY, "key": text}
TEAM = {**LIMITS, "team_id": text, "team_alias": text, "members": string_list}
USER = {"user_id": text, "user_email": text, "user_role": text, "models": string_list,
        "max_budget": budget, "budget_duration": duration, "metadata": mapping,
        "team_id": text, "key_alias": text, "duration": duration, "rpm_limit": count,
        "tpm_limit": count, "max_parallel_requests": count, "auto_create_key": flag}
