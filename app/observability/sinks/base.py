"""What the sinks share: the error that stops retries, settings lookup, JSON POST."""
import logging

import orjson
import requests

from app import http

log = logging.getLogger("switchboard.callbacks")
TIMEOUT = (3.0, 10.0)


class PermanentError(Exception):
    """Delivery failed in a way retrying will not fix (bad credentials, bad URL...)."""


def section(settings, name):
    """``general_settings.<name>`` as a dict ({} when absent)."""
    value = (settings.general_settings or {}).get(name)
    return value if isinstance(value, dict) else {}


def post_json(session, url, payload, headers, timeout=TIMEOUT):
    """POST a JSON payload; return the response, raise on transport errors and bad statuses."""
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload, default=str)
    try:
        resp = http.post(session, url, data, {"Content-Type": "application/json", **headers},
                         timeout)
    except requests.exceptions.RequestException as exc:
        raise ConnectionError(f"{type(exc).__name__} posting to the sink") from None
    try:
        content = resp.content
    finally:
        resp.close()
    if resp.status_code >= 300:
        message = f"HTTP {resp.status_code} from the sink"
        if resp.status_code in (408, 429) or resp.status_code >= 500:
            raise ConnectionError(message)
        raise PermanentError(message)
    return resp.status_code, content
