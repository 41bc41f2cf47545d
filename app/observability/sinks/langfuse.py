"""``langfuse``: one trace + one generation per request via Langfuse's public ingestion API.

``POST {host}/api/public/ingestion`` with basic auth ``public_key:secret_key`` and a body
``{"batch": [event, ...], "metadata": {...}}``; each event is ``{id, timestamp, type, body}``
(``trace-create`` / ``generation-create``). Langfuse answers 207 with per-event successes and
errors; batches stay under its 3.5 MB limit.

Request metadata is mapped as LiteLLM's Langfuse logger does: ``trace_id``, ``trace_name``,
``trace_user_id``, ``session_id``, ``trace_version``, ``trace_release`` / ``release``,
``trace_metadata``, ``tags`` (plus the request's ``tags``) go to the trace; ``generation_id``,
``generation_name``, ``parent_observation_id``, ``version`` to the generation;
``existing_trace_id`` attaches the generation to a trace without creating or updating it. Other
metadata keys land in the generation's metadata.

Keys: LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_HOST (default
https://cloud.langfuse.com), or ``general_settings.langfuse: {public_key, secret_key, host}``.
"""
import base64
import datetime
import os
import uuid

import orjson

from app.observability.sinks.base import TIMEOUT, log, post_json, section

DEFAULT_HOST = "https://cloud.langfuse.com"
MAX_BATCH_BYTES = 3_000_000
SDK = {"sdk_name": "switchboard", "sdk_integration": "switchboard", "public_key": None}
TRACE_KEYS = frozenset({"trace_id", "trace_name", "trace_user_id", "session_id",
                        "trace_version", "trace_release", "release", "trace_metadata", "tags",
                        "existing_trace_id", "generation_id", "generation_name",
                        "parent_observation_id", "version", "mask_input", "mask_output"})


class LangfuseSink:
    """Posts ingestion batches to a Langfuse host."""

    name = "langfuse"

    def __init__(self, session, public_key, secret_key, host=DEFAULT_HOST, timeout=TIMEOUT):
        self.session = session
        self.url = host.rstrip("/") + "/api/public/ingestion"
        token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.metadata = dict(SDK, public_key=public_key)
        self.timeout = timeout

    def send(self, events):
        """Deliver the events' traces and generations; sent chunks leave the list."""
        while events:
            count, data = self._chunk(events)
            status, content = post_json(self.session, self.url, data, self.headers, self.timeout)
            del events[:count]
            if status == 207:
                _log_rejections(content)

    def _chunk(self, events):
        parts, size, count = [], 0, 0
        for event in events:
            encoded = [orjson.dumps(item, default=str) for item in ingestion_events(event)]
            grown = size + sum(len(e) + 1 for e in encoded)
            if count and grown > MAX_BATCH_BYTES:
                break
            parts.extend(encoded)
            size, count = grown, count + 1
        data = b'{"batch":[' + b",".join(parts) + b'],"metadata":' + \
            orjson.dumps(dict(self.metadata, batch_size=len(parts))) + b"}"
        return count, data

    def close(self):
        """The session belongs to the callbacks."""


def iso(ts):
    """Epoch seconds -> ISO 8601 UTC with milliseconds, as Langfuse expects."""
    moment = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ingestion_events(event):
    """The trace-create and generation-create envelopes for one callback event."""
    meta = event.get("metadata") or {}
    now = iso(event["end_time"])
    existing = _text(meta.get("existing_trace_id"))
    trace_id = existing or _text(meta.get("trace_id")) or event["request_id"]
    out = []
    if not existing:
        out.append(_envelope("trace-create", now, trace_body(event, meta, trace_id)))
    out.append(_envelope("generation-create", now, generation_body(event, meta, trace_id)))
    return out


def _envelope(kind, timestamp, body):
    return {"id": str(uuid.uuid4()), "timestamp": timestamp, "type": kind, "body": body}


def trace_body(event, meta, trace_id):
    """The trace: id, name, user, session, tags, release, version, input and output."""
    default_name = f"switchboard-{event.get('call_type') or 'request'}"
    tags = [t for t in _list(meta.get("tags")) + list(event.get("tags") or ())
            if isinstance(t, str)]
    body = {"id": trace_id, "timestamp": iso(event["start_time"]),
            "name": _text(meta.get("trace_name")) or _text(meta.get("generation_name"))
            or default_name,
            "userId": _text(meta.get("trace_user_id")), "sessionId": _text(meta.get("session_id")),
            "release": _text(meta.get("trace_release") or meta.get("release")),
            "version": _text(meta.get("trace_version") or meta.get("version")),
            "metadata": meta.get("trace_metadata") if isinstance(meta.get("trace_metadata"), dict)
            else None,
            "tags": list(dict.fromkeys(tags)) or None,
            "input": event.get("messages"), "output": event.get("response")}
    return {k: v for k, v in body.items() if v is not None}


def generation_body(event, meta, trace_id):
    """The generation: model, parameters, input/output, usage, cost, times, level, status."""
    failed = event.get("type") == "failure"
    error = event.get("error") or {}
    usage, cost = event.get("usage") or {}, event.get("cost")
    extra = {k: v for k, v in meta.items() if k not in TRACE_KEYS}
    extra.update({"request_id": event["request_id"], "model_id": event.get("model_id"),
                  "provider": event.get("provider"), "model_group": event.get("model"),
                  "status": event.get("status"), "stream": event.get("stream"),
                  "attempted_retries": event.get("attempted_retries"),
                  "usage_estimated": event.get("usage_estimated") or None})
    body = {
        "id": _text(meta.get("generation_id")) or f"gen-{event['request_id']}",
        "traceId": trace_id,
        "parentObservationId": _text(meta.get("parent_observation_id")),
        "name": _text(meta.get("generation_name"))
        or f"switchboard-{event.get('call_type') or 'request'}",
        "startTime": iso(event["start_time"]), "endTime": iso(event["end_time"]),
        "completionStartTime": iso(event["completion_start_time"])
        if event.get("completion_start_time") else None,
        "model": event.get("upstream_model") or event.get("model"),
        "modelParameters": event.get("model_parameters") or None,
        "input": event.get("messages"), "output": event.get("response"),
        "usageDetails": _usage(usage), "costDetails": _cost(cost),
        "metadata": {k: v for k, v in extra.items() if v is not None},
        "level": "ERROR" if failed else "DEFAULT",
        "statusMessage": error.get("message") if failed else None,
        "version": _text(meta.get("version")),
    }
    return {k: v for k, v in body.items() if v is not None}


def _usage(usage):
    if not usage:
        return None
    prompt, completion = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
    return {"input": int(prompt), "output": int(completion),
            "total": int(usage.get("total_tokens") or prompt + completion)}


def _cost(cost):
    return None if cost is None else {"total": cost}


def _text(value):
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _list(value):
    return value if isinstance(value, list) else []


def _log_rejections(content):
    try:
        errors = orjson.loads(content).get("errors") or []
    except (orjson.JSONDecodeError, AttributeError):
        return
    if errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        log.warning("callback langfuse: %d event(s) rejected (first: %s %s)", len(errors),
                    first.get("status"), str(first.get("message") or first.get("error"))[:200])


def from_settings(settings, session):
    """The sink from general_settings.langfuse or the LANGFUSE_* environment."""
    conf = section(settings, "langfuse")
    public = conf.get("public_key") or os.environ.get("LANGFUSE_PUBLIC_KEY")
    secret = conf.get("secret_key") or os.environ.get("LANGFUSE_SECRET_KEY")
    host = conf.get("host") or os.environ.get("LANGFUSE_HOST") or DEFAULT_HOST
    if not public or not secret:
        log.error("callback langfuse: LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY are needed; "
                  "langfuse events are off")
        return None
    if not host.startswith(("http://", "https://")):
        host = "https://" + host
    return LangfuseSink(session, public, secret, host)

