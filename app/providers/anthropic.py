"""Anthropic Messages API provider (``anthropic/<model>`` and bare ``claude-*`` names).

``POST {api_base}/v1/messages`` with ``x-api-key`` and ``anthropic-version``. This module turns an
OpenAI chat request into a Messages request (parameters, tools, ``max_tokens`` always set; the
messages themselves in ``anthropic_convert``). Responses, stream events and errors are read back
in ``anthropic_stream``.

Every OpenAI parameter is in one of the tables below (TRANSLATED, PASSTHROUGH, IGNORED); any
other is refused with a 400 naming it, or dropped under drop_params. None values count as absent.
"""
import os

import orjson

from app import errors
from app.providers import common
from app.providers.anthropic_convert import convert_messages, keep_cache_control
from app.providers.anthropic_stream import (
    NAME, error_from, error_from_body, relay_events, scrubber, stream_chunks, to_completion,
    usage_of,
)
from app.providers.base import Outbound, Provider, Target, json_or_502

DEFAULT_BASE = "https://api.anthropic.com"
BASE_ENV = ("ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL")
KEY_ENV = "ANTHROPIC_API_KEY"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 8192
# Claude 3 (not 3.5/3.7) and older models cap output at 4096 tokens.
SMALL_OUTPUT_MODELS = ("claude-3-haiku", "claude-3-opus", "claude-3-sonnet", "claude-2",
                       "claude-instant")
# reasoning_effort -> extended thinking budget (Anthropic's minimum budget is 1024).
THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096, "xhigh": 8192,
                    "max": 16384}
# Deployment litellm_params that are request defaults (the request's own values win).
DEFAULT_PARAMS = ("temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "stop",
                  "thinking", "reasoning_effort", "response_format", "user")

TRANSLATED = frozenset({
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "stop", "tools", "tool_choice", "parallel_tool_calls",
    "response_format", "user", "safety_identifier", "reasoning_effort", "n", "logprobs",
    "modalities"})
# Anthropic's own request fields, sent as given (LiteLLM passes them through too).
PASSTHROUGH = frozenset({"top_k", "thinking", "output_config", "container", "mcp_servers",
                         "context_management", "inference_geo"})
# Meaningless for Anthropic but harmless to leave out: no change to the answer.
IGNORED = frozenset({"store", "service_tier", "prompt_cache_key", "prompt_cache_retention",
                     "prompt_cache_options"})
# What Anthropic's count_tokens endpoint accepts of a Messages body.
COUNT_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers",
                "context_management", "output_config")
# Everything else (seed, presence_penalty, frequency_penalty, logit_bias, top_logprobs, audio,
# prediction, web_search_options, functions, function_call, verbosity, moderation, unknown keys)
# is refused with a 400 naming it, or dropped under drop_params.


class AnthropicProvider(Provider):
    """Anthropic Messages API."""

    endpoints = frozenset({"chat"})

    def __init__(self, name="anthropic"):
        self.name = name

    def speaks_messages_for(self, deployment):
        """Every Anthropic deployment takes a Messages body as is."""
        return True

    def prepare(self, deployment):
        """Messages URL, key and static headers, from the deployment or the environment."""
        base = deployment.api_base or common.first_env(BASE_ENV) or DEFAULT_BASE
        key = deployment.api_key or os.environ.get(KEY_ENV)
        headers = {"Content-Type": "application/json", "anthropic-version": API_VERSION}
        if key:
            headers["x-api-key"] = key
        beta = deployment.params.get("anthropic_beta")
        if beta:
            headers["anthropic-beta"] = beta if isinstance(beta, str) else ",".join(beta)
        headers = _merge_headers(headers, deployment.extra_headers)
        defaults = {k: deployment.params[k] for k in DEFAULT_PARAMS if k in deployment.params}
        return Target(messages_url(base), key, headers, defaults)

    def build_request(self, call):
        """URL, headers and Messages body for one chat call."""
        ov = call.overrides
        headers = call.target.headers
        if ov.api_key or ov.api_base or ov.extra_headers:
            headers = dict(headers)
            if ov.api_base and not ov.api_key:
                # Never hand the deployment's own key to a base the client chose.
                headers.pop("x-api-key", None)
            if ov.api_key:
                headers["x-api-key"] = ov.api_key
            headers = _merge_headers(headers, ov.extra_headers)
        if not any(k.lower() in ("x-api-key", "authorization") for k in headers):
            raise errors.AuthenticationError(
                f"No API key for {NAME}: set litellm_params.api_key or {KEY_ENV}, "
                "or send api_key in the request")
        url = messages_url(ov.api_base) if ov.api_base else call.target.base
        if call.native is not None:
            return _native_request(call, headers, url)
        body = {**call.target.defaults, **call.body} if call.target.defaults else call.body
        payload = translate_request(call, body, call.deployment.upstream_model)
        return Outbound(url, headers, orjson.dumps(payload))

    def parse_response(self, call, content):
        """An Anthropic ``message`` -> ``chat.completion`` (as it came for a native call)."""
        data = json_or_502(content, NAME)
        if data.get("type") == "error":
            raise error_from(500, data.get("error"), scrub=scrubber(call))
        if call.native is not None:
            call.usage = usage_of(data.get("usage"))
            return data
        result = to_completion(data, call.deployment.upstream_model)
        call.usage = result["usage"]
        return result

    def iter_events(self, call, response):
        """Anthropic SSE events -> OpenAI chunks (relayed as they came for a native call);
        a stream without message_stop is a 502."""
        if call.native is not None:
            return relay_events(call, response)
        return stream_chunks(call, response)

    def count_tokens(self, call):
        """Anthropic's own input token count for the native body of ``call`` (no generation)."""
        out = self.build_request(call)
        body = orjson.loads(out.data)
        body = {k: body[k] for k in COUNT_FIELDS if k in body}
        call.api_key = call.overrides.api_key or call.target.api_key
        resp = self._post(call, Outbound(out.url + "/count_tokens", out.headers,
                                         orjson.dumps(body)), stream=False)
        return json_or_502(resp.content, NAME)

    def parse_error(self, call, status, content, headers):
        """Anthropic's ``{"type": "error", "error": {...}}`` body -> the exception tree."""
        return error_from_body(status, content, headers.get("retry-after"), scrubber(call))


class NativeMessages:
    """A client's Anthropic Messages body and ``anthropic-beta`` header, to send as they are."""

    __slots__ = ("body", "beta")

    def __init__(self, body, beta=None):
        self.body = body
        self.beta = beta


def _native_request(call, headers, url):
    # The client's body unchanged but for the model (cache_control, thinking, metadata, top_k).
    native = call.native
    payload = dict(native.body)
    payload["model"] = call.deployment.upstream_model
    if native.beta:
        headers = dict(headers)
        mine = headers.get("anthropic-beta")
        headers["anthropic-beta"] = f"{mine},{native.beta}" if mine else native.beta
    return Outbound(url, headers, orjson.dumps(payload))


def messages_url(base):
    """The Messages endpoint for an api_base: the host, also accepted with /v1 or /v1/messages."""
    base = base.rstrip("/")
    for suffix in ("/v1/messages", "/v1"):
        if base.endswith(suffix):
            base = base[:-len(suffix)]
            break
    return base + "/v1/messages"


def default_max_tokens(model):
    """max_tokens to send when neither the client nor the deployment gave one."""
    return 4096 if model.startswith(SMALL_OUTPUT_MODELS) else DEFAULT_MAX_TOKENS


# -- request translation ------------------------------------------------------------------------

def translate_request(call, body, model):
    """The Messages request body for an OpenAI chat body (which is left untouched)."""
    body = {k: v for k, v in body.items() if v is not None}
    check_params(call, body)
    system, messages = convert_messages(body["messages"])
    out = {"model": model, "messages": messages}
    if system:
        out["system"] = system
    explicit_max = body.get("max_completion_tokens") or body.get("max_tokens")
    out["max_tokens"] = explicit_max or default_max_tokens(model)
    for key in ("temperature", "top_p"):
        if key in body:
            out[key] = body[key]
    stops = _stop_sequences(body.get("stop"))
    if stops:
        out["stop_sequences"] = stops
    if body.get("tools"):
        out["tools"] = [convert_tool(t) for t in body["tools"]]
        choice = convert_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice:
            out["tool_choice"] = choice
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = fmt["json_schema"].get("schema") or {"type": "object"}
        out["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    user = body.get("user") or body.get("safety_identifier")
    if user:
        out["metadata"] = {"user_id": user}
    thinking = _thinking(body.get("reasoning_effort"))
    if thinking:
        out["thinking"] = thinking
    out.update({k: v for k, v in body.items() if k in PASSTHROUGH})
    budget = (out.get("thinking") or {}).get("budget_tokens")
    if not explicit_max and isinstance(budget, int) and budget >= out["max_tokens"]:
        # The budget must stay below max_tokens; leave the usual room for the answer.
        out["max_tokens"] = budget + default_max_tokens(model)
    if call.stream:
        out["stream"] = True
    return out


def check_params(call, body):
    """Refuse (or, under drop_params, drop from ``body``) what Anthropic cannot honour."""
    refused = [k for k in body if k not in TRANSLATED and k not in PASSTHROUGH
               and k not in IGNORED]
    if body.get("n", 1) != 1:
        refused.append("n")
    if body.get("logprobs"):
        refused.append("logprobs")
    if (body.get("response_format") or {}).get("type") == "json_object":
        refused.append("response_format")
    if "audio" in (body.get("modalities") or ()):
        refused.append("modalities")
    for param in refused:
        common.unsupported(call, body, param, NAME)


def convert_tool(tool):
    """An OpenAI function tool -> Anthropic's ``{name, description, input_schema}``."""
    if tool.get("type") != "function":
        raise errors.InvalidRequestError(f"{NAME} only supports function tools", param="tools")
    fn = tool["function"]
    out = {"name": fn["name"],
           "input_schema": fn.get("parameters") or {"type": "object", "properties": {}}}
    if fn.get("description"):
        out["description"] = fn["description"]
    if fn.get("strict"):
        out["strict"] = True
    return keep_cache_control(out, tool)


def convert_tool_choice(choice, parallel):
    """OpenAI tool_choice / parallel_tool_calls -> Anthropic's tool_choice (or None)."""
    if choice is None:
        out = None
    elif isinstance(choice, str):
        out = {"type": {"auto": "auto", "required": "any", "none": "none"}[choice]}
    elif choice.get("type") == "function":
        out = {"type": "tool", "name": choice["function"]["name"]}
    else:
        raise errors.InvalidRequestError(
            f"{NAME} supports tool_choice auto, required, none or a function",
            param="tool_choice")
    if parallel is False and (out is None or out["type"] != "none"):
        out = {**(out or {"type": "auto"}), "disable_parallel_tool_use": True}
    return out


def _stop_sequences(stop):
    stops = [stop] if isinstance(stop, str) else list(stop or ())
    # Anthropic refuses whitespace-only stop sequences (LiteLLM drops them the same way).
    return [s for s in stops if s.strip()]


def _thinking(effort):
    budget = THINKING_BUDGETS.get(effort)
    return {"type": "enabled", "budget_tokens": budget} if budget else None


def _merge_headers(headers, extra):
    if not extra:
        return headers
    headers = dict(headers)
    for name, value in extra.items():
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value
    return headers


