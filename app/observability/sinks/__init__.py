"""Callback sinks, by the names LiteLLM's ``success_callback`` / ``failure_callback`` use.

A sink has a ``name``, ``send(batch)`` (deliver a list of events; raise to have the batch
retried; it may remove delivered events from the list so a retry resumes after them;
``PermanentError`` means retrying cannot help) and ``close()``. Each is built from the settings by
its ``from_settings(settings, session)``, which returns None (with a logged reason) when the sink
is not configured.
"""
from app.observability.sinks import jsonl, langfuse, stdout, webhook

REGISTRY = {
    "langfuse": langfuse.from_settings,
    "webhook": webhook.from_settings,
    "generic": webhook.from_settings,       # LiteLLM's generic API logger
    "generic_api": webhook.from_settings,
    "jsonl": jsonl.from_settings,
    "stdout": stdout.from_settings,
}
# Accepted without a sink: Prometheus metrics are always on at GET /metrics.
BUILT_IN = frozenset({"prometheus"})
