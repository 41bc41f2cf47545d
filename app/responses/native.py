"""Pass-through to a provider that speaks the Responses API itself (OpenAI, Azure OpenAI).

The client's body goes upstream with the deployment's model, the replayed earlier turns in
``input`` and nothing the gateway keeps for itself (``metadata``, ``previous_response_id``; the
upstream's own storage is off because ours holds the conversation). Generic OpenAI-compatible
hosts (hosts.py rows, a custom api_base) are never sent here: they have chat completions only.
"""
import re
from urllib.parse import quote

import orjson

from app import errors
from app.providers.azure import V1_VERSIONS, azure_headers, resource_base
from app.providers.base import Outbound, UpstreamStream, json_or_502, stream_body
from app.providers.openai import override_headers
from app.responses.from_chat import chat_usage
from app.responses.schemas import DOCUMENTED
from app.streaming import sse_events

OPENAI_BASE = "https://api.openai.com/v1"
# OpenAI's Responses API refuses max_output_tokens below 16; chat completions takes any.
MIN_OUTPUT_TOKENS = 16
# Azure serves the Responses API on dated versions from this one (else the v1 path).
AZURE_FIRST_DATED = "2025-03-01-preview"
# Request fields the gateway answers itself and never sends upstream.
_OURS = ("metadata", "previous_response_id", "store", "stream_options")
_SEQ = re.compile(rb'"sequence_number"\s*:\s*(\d+)')
_PATCHED = frozenset({"response.created", "response.in_progress", "response.completed",
                      "response.incomplete", "response.failed"})


def speaks_responses(call, body):
    """True when this call's deployment gets the Responses API natively."""
    max_out = body.get("max_output_tokens")
    if max_out is not None and max_out < MIN_OUTPUT_TOKENS:
        return False
    if body.get("stop") is not None:  # the Responses API has no stop: chat completions does
        return False
    name = call.provider.name
    if name == "azure":
        return True
    if name != "openai":
        return False
    declared = call.deployment.model_info.get("responses_api")
    if declared is not None:  # an operator's word for a base that proxies OpenAI itself
        return bool(declared)
    base = (call.overrides.api_base or call.target.base or "").rstrip("/")
    return base == OPENAI_BASE


def native_body(call, body, history, extras):
    """The upstream body: the client's documented fields minus ours, its surviving extras
    (provider parameters; overrides such as api_key were taken out by the pipeline), and the
    earlier turns replayed into ``input``."""
    out = {k: v for k, v in body.items() if k in DOCUMENTED and k not in _OURS}
    out.update(extras)
    out["model"] = call.deployment.upstream_model
    out["store"] = False
    if history:
        items = body["input"]
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        out["input"] = [*history, *items]
    return out


def outbound(call, upstream_body):
    """URL and headers for the deployment's Responses endpoint."""
    target, ov = call.target, call.overrides
    if call.provider.name == "azure":
        base = resource_base(ov.api_base) or target.base
        headers = azure_headers(target.headers, ov) if (ov.api_key or ov.api_base) \
            else target.headers
        url = azure_url(base, ov.api_version or target.api_version)
    else:
        base = (ov.api_base or "").rstrip("/") or target.base
        headers = override_headers(target.headers, ov) if (ov.api_key or ov.api_base) \
            else target.headers
        url = f"{base}/responses"
    return Outbound(url, headers, orjson.dumps(upstream_body))


def azure_url(base, api_version):
    """Azure's Responses endpoint for a resource and API version."""
    if api_version not in V1_VERSIONS and api_version >= AZURE_FIRST_DATED:
        return f"{base}/openai/responses?api-version={quote(api_version, safe='')}"
    query = "?api-version=preview" if api_version == "preview" else ""
    return f"{base}/openai/v1/responses{query}"


def echo(response, body):
    """Put back what the client sent and we kept from upstream (metadata, store, previous id)."""
    response["metadata"] = body.get("metadata") or {}
    response["store"] = body.get("store") is not False
    response["previous_response_id"] = body.get("previous_response_id")
    return response


def complete(call, body, upstream_body):
    """One non-stream Responses call; returns the response object."""
    resp = call.provider.send(call, outbound(call, upstream_body), stream=False)
    data = json_or_502(resp.content, call.provider.name)
    call.usage = chat_usage(data.get("usage"))
    return echo(data, body)


def open_stream(call, body, upstream_body, frame):
    """Start a Responses stream; its events pass through framed, ours patched in."""
    resp = call.provider.send(call, outbound(call, upstream_body), stream=True)
    return UpstreamStream(resp, _events(call, body, resp, frame))


def _events(call, body, resp, frame):
    who = call.provider.name
    for name, data in sse_events(stream_body(resp, who)):
        frame.started = True
        seq = _SEQ.search(data)
        if seq:
            frame.seq = int(seq.group(1)) + 1
        if name in _PATCHED:
            data = _patch(call, body, data, frame, name)
        kind = (name or "message").encode()
        yield b"event: " + kind + b"\ndata: " + data + b"\n\n"
        if name in ("response.completed", "response.incomplete", "response.failed", "error"):
            return
    raise errors.BadGatewayError(f"{who} closed the stream before it was complete")


def _patch(call, body, data, frame, name):
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise errors.BadGatewayError(f"{call.provider.name} sent a malformed stream event") \
            from None
    response = event.get("response")
    if isinstance(response, dict):
        echo(response, body)
        if name in ("response.completed", "response.incomplete"):
            call.usage = chat_usage(response.get("usage"))
            if frame.on_done is not None:
                frame.on_done(response)
    return orjson.dumps(event)
