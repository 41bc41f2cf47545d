"""OpenAI and every OpenAI-compatible host (one instance per row of hosts.HOSTS).

The wire format is already OpenAI's, so translation is light: set the upstream model, forward
the body, check that what comes back is what OpenAI documents (a JSON object; an event stream of
JSON chunks ending in [DONE]) and map errors.
"""

import orjson

from app import errors
from app.providers import common
from app.providers.base import (Outbound, Provider, Target, end_of_body, json_or_502,
                                relay_json, scrub, stream_body)
from app.providers.relay import parse_chunk, relay, stream_error
from app.streaming import sse_events

PATHS = {"chat": "/chat/completions", "embeddings": "/embeddings", "completions": "/completions"}
# Deployment litellm_params that are request parameters (sent unless the request sets them).
DEFAULT_PARAMS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
                  "presence_penalty", "frequency_penalty", "response_format", "reasoning_effort",
                  "n", "logit_bias", "user", "service_tier")


class OpenAICompatible(Provider):
    """A provider speaking OpenAI's HTTP API at some base URL."""

    def __init__(self, name, host):
        self.name = name
        self.host = host
        self.endpoints = host.endpoints

    def prepare(self, deployment):
        """Resolve base URL, key and static headers once, from the deployment or the env."""
        base = deployment.api_base or common.first_env(self.host.base_env) or self.host.base
        key = deployment.api_key or common.first_env(self.host.key_env)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if deployment.organization:
            headers["OpenAI-Organization"] = deployment.organization
        headers.update(deployment.extra_headers or {})
        defaults = {k: deployment.params[k] for k in DEFAULT_PARAMS if k in deployment.params}
        return Target(base.rstrip("/") if base else None, key, headers, defaults)

    def build_request(self, call):
        """URL, headers and body for an OpenAI-compatible call."""
        target, ov = call.target, call.overrides
        base = (ov.api_base or "").rstrip("/") or target.base
        if not base:
            raise errors.InvalidRequestError(
                f"Deployment {call.deployment.model_name!r} ({self.name}) has no api_base; "
                "set litellm_params.api_base", param="api_base")
        headers = target.headers
        if ov.api_key or ov.api_base or ov.organization or ov.extra_headers:
            headers = override_headers(headers, ov)
        if self.host.key_required and not _has_auth(headers):
            raise errors.AuthenticationError(
                f"No API key for {self.name}: set litellm_params.api_key or "
                f"{self.host.key_env[0]}, or send api_key in the request")
        body = {**target.defaults, **call.body} if target.defaults else dict(call.body)
        body["model"] = call.deployment.upstream_model
        if call.stream and self.host.stream_usage and not common.wants_usage(call.body):
            body["stream_options"] = {**(call.body.get("stream_options") or {}),
                                      "include_usage": True}
        return Outbound(base + PATHS[call.endpoint], headers, orjson.dumps(body))

    def parse_response(self, call, content):
        """OpenAI's own shape: check it is a JSON object and pick out usage."""
        if call.endpoint == "embeddings":
            return relay_json(content, self.name, call)
        data = json_or_502(content, self.name)
        call.usage = data.get("usage")
        return data

    def iter_events(self, call, response):
        """Pass OpenAI chunks through, checking each is JSON and that [DONE] arrives."""
        # Usage we asked for on our own account is kept for the logs, not shown to the client.
        hide_usage = self.host.stream_usage and not common.wants_usage(call.body)
        if call.relay_sse:
            yield from relay(call, response, self.name, hide_usage)
            return
        for chunk, data in self.chunks(call, response):
            if hide_usage and chunk.get("usage") and not chunk.get("choices"):
                continue
            yield data

    def chunks(self, call, response):
        """(chunk, raw bytes) of an OpenAI event stream; errors, a missing [DONE] raise."""
        body = stream_body(response, self.name)
        for _name, data in sse_events(body):
            if data == b"[DONE]":
                end_of_body(body)
                return
            chunk = parse_chunk(data, self.name)
            if "error" in chunk:
                raise stream_error(call, chunk["error"])
            if chunk.get("usage"):
                call.usage = chunk["usage"]
            yield chunk, data
        raise errors.BadGatewayError(f"{self.name} closed the stream before it was complete")

    def parse_error(self, call, status, content, headers):
        """OpenAI's error body -> the exception tree, keeping code and param."""
        retry_after = headers.get("retry-after")
        try:
            err = orjson.loads(content).get("error")
        except (orjson.JSONDecodeError, AttributeError):
            err = None
        if not isinstance(err, dict):
            return super().parse_error(call, status, content, headers)
        message = scrub(call, str(err.get("message") or f"{self.name} error (HTTP {status})"))
        code = err.get("code")
        return errors.from_upstream(status, message, param=err.get("param"),
                                    code=str(code) if code is not None else None,
                                    retry_after=retry_after)




def _has_auth(headers):
    return "Authorization" in headers or any(k.lower() == "authorization" for k in headers)


def override_headers(headers, ov):
    headers = dict(headers)
    if ov.api_base and not ov.api_key:
        # Never hand the deployment's own key to a base the client chose.
        headers.pop("Authorization", None)
    if ov.api_key:
        headers["Authorization"] = f"Bearer {ov.api_key}"
    if ov.organization:
        headers["OpenAI-Organization"] = ov.organization
    for name, value in (ov.extra_headers or {}).items():
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value
    return headers
