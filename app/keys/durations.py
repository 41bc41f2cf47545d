"""LiteLLM's duration strings ("30s", "1m", "1h", "1d", "30d", "1w", "1mo") and budget windows.

A budget window starts when its key, team or user is created and repeats every
``budget_duration``: window k covers [anchor + k*d, anchor + (k+1)*d). Every instance computes
the same window from the same two numbers, so no cron job and no shared clock are needed.
"""
import datetime as dt
import re

_DURATION = re.compile(r"^\s*(\d{1,9})\s*(s|m|h|d|w|mo)\s*$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
            "mo": 30 * 86_400_000}
UTC = dt.timezone.utc


def parse_ms(text):
    """Milliseconds of a duration string; ValueError when it is not one."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"not a duration: {text!r}")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def to_ms(when):
    """Epoch milliseconds of a datetime (naive ones are UTC, as SQLite returns them)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(round(when.timestamp() * 1000))


def from_ms(ms):
    """An aware UTC datetime from epoch milliseconds."""
    return dt.datetime.fromtimestamp(ms / 1000, UTC)


def now_utc():
    """Now, to the millisecond (what the tables store)."""
    return from_ms(int(dt.datetime.now(UTC).timestamp() * 1000))


def window(anchor_ms, duration_ms, now_ms):
    """(index, end in epoch ms) of the window holding ``now_ms``; (0, None) without a duration."""
    if not duration_ms:
        return 0, None
    index = max(0, (now_ms - anchor_ms) // duration_ms)
    return index, anchor_ms + (index + 1) * duration_ms


def iso(value):
    """ISO 8601 text of a datetime (UTC), or None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()
