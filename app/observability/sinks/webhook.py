"""``webhook``: POST each event as a JSON object (or each batch as a JSON array) to a URL.

Config: ``general_settings.webhook: {url, headers: {...}, batch: false, timeout: 10}``, or
LiteLLM's ``GENERIC_LOGGER_ENDPOINT`` / ``GENERIC_LOGGER_HEADERS`` ("Name=value,Name2=value2").
"""
import os

from app.observability.sinks.base import TIMEOUT, log, post_json, section


class WebhookSink:
    """Generic HTTP POST sink."""

    name = "webhook"

    def __init__(self, session, url, headers=None, batch=False, timeout=TIMEOUT):
        self.session = session
        self.url = url
        self.headers = dict(headers or {})
        self.batch = batch
        self.timeout = timeout

    def send(self, events):
        """Deliver events; delivered ones leave the list, so a retry resumes after them."""
        if self.batch:
            post_json(self.session, self.url, events, self.headers, self.timeout)
            del events[:]
            return
        while events:
            post_json(self.session, self.url, events[0], self.headers, self.timeout)
            del events[0]

    def close(self):
        """Nothing to release (the session belongs to the callbacks)."""


def parse_headers(text):
    """LiteLLM's GENERIC_LOGGER_HEADERS format: ``Name=value,Name2=value2``."""
    pairs = (item.split("=", 1) for item in (text or "").split(",") if "=" in item)
    return {name.strip(): value.strip() for name, value in pairs if name.strip()}


def from_settings(settings, session):
    """The sink from general_settings.webhook or the GENERIC_LOGGER_* environment."""
    conf = section(settings, "webhook")
    url = conf.get("url") or os.environ.get("GENERIC_LOGGER_ENDPOINT")
    if not url:
        log.error("callback webhook: set general_settings.webhook.url (or "
                  "GENERIC_LOGGER_ENDPOINT); webhook events are off")
        return None
    headers = conf.get("headers") or parse_headers(os.environ.get("GENERIC_LOGGER_HEADERS"))
    read = float(conf.get("timeout") or TIMEOUT[1])
    return WebhookSink(session, url, headers, bool(conf.get("batch")), (TIMEOUT[0], read))
