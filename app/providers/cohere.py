"""Cohere: Chat v2 (``POST /v2/chat``, SSE when streaming) and Embed v2 (``POST /v2/embed``).

OpenAI's chat body maps nearly 1:1 onto v2 (system/user/assistant/tool roles, ``tool_calls``,
``tool_call_id``, ``image_url`` parts, function tools). What differs: sampling names (``p``,
``stop_sequences``), ``tool_choice`` (only REQUIRED / NONE), the assistant's text next to tool
calls lives in ``tool_plan``, and responses and stream events have Cohere's own shapes.
``api_base`` is a bare host or, as LiteLLM configs write it, the endpoint URL (``.../v2/chat``).
"""

import orjson

from app import errors
from app.providers import common
from app.providers.base import Call, Outbound, Provider, Target, json_or_502, read_stream, scrub
from app.providers.cohere_response import (chat_response, embed_response, error_for,
                                           error_text, stream_chunks)
from app.streaming import sse_events

DEFAULT_BASE = "https://api.cohere.com"
PATHS = {"chat": "/v2/chat", "embeddings": "/v2/embed"}
# LiteLLM configs name the endpoint itself; these tails are cut off to find the host.
_SUFFIXES = ("/v2/chat", "/v2/embed", "/v1/chat", "/v1/embed", "/v2", "/v1")
KEY_ENV = ("COHERE_API_KEY", "CO_API_KEY")
BASE_ENV = ("COHERE_API_BASE",)
MAX_TEXTS = 96  # per /v2/embed request; OpenAI clients send up to 2048 inputs

# OpenAI parameters a deployment may preset in litellm_params (the request wins).
DEFAULT_PARAMS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
                  "presence_penalty", "frequency_penalty", "response_format", "reasoning_effort")
# Cohere's own fields, passed through from litellm_params or the request body.
NATIVE_CHAT = ("k", "safety_mode", "documents", "citation_options", "strict_tools", "thinking",
               "priority")
NATIVE_EMBED = ("input_type", "truncate", "priority")
# OpenAI parameters Cohere cannot honour (400 unless drop_params), by the values refused.
REFUSED = {"n": lambda v: v > 1, "logprobs": bool, "parallel_tool_calls": lambda v: v is False,
           "modalities": lambda v: any(m != "text" for m in v),
           **dict.fromkeys(("logit_bias", "top_logprobs", "functions", "function_call", "audio",
                            "prediction", "web_search_options", "verbosity", "moderation"),
                           lambda v: True)}
_TOP_P = (0.01, 0.99)  # Cohere's documented range for p


class CohereProvider(Provider):
    """Cohere v2: chat (with tools, vision, streaming) and embeddings."""

    endpoints = frozenset({"chat", "embeddings"})

    def __init__(self, name="cohere"):
        self.name = name

    def prepare(self, deployment):
        """Host, key and static headers from the deployment or COHERE_API_KEY/CO_API_KEY."""
        base = host_of(deployment.api_base or common.first_env(BASE_ENV) or DEFAULT_BASE)
        key = deployment.api_key or common.first_env(KEY_ENV)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        headers.update(deployment.extra_headers or {})
        defaults = {k: v for k, v in deployment.params.items()
                    if k in DEFAULT_PARAMS or k in NATIVE_CHAT or k in NATIVE_EMBED}
        return Target(base, key, headers, defaults)

    def build_request(self, call):
        """The Cohere request for a chat or embeddings call."""
        ov = call.overrides
        base = host_of(ov.api_base) if ov.api_base else call.target.base
        headers = _headers(call.target.headers, ov)
        if not any(k.lower() == "authorization" for k in headers):
            raise errors.AuthenticationError(
                f"No API key for {self.name}: set litellm_params.api_key or COHERE_API_KEY "
                "(or CO_API_KEY), or send api_key in the request")
        body = {**call.target.defaults, **call.body}  # a copy: drop_params may pop from it
        if call.endpoint == "embeddings":
            payload = embed_request(call, body)
        else:
            payload = chat_request(call, body)
        if call.stream:
            headers = {**headers, "Accept": "text/event-stream"}
        return Outbound(base + PATHS[call.endpoint], headers, orjson.dumps(payload))

    def complete(self, call):
        """Run a call; embeddings beyond Cohere's 96 texts go as several requests, in order."""
        inputs = call.body.get("input") if call.endpoint == "embeddings" else None
        if not isinstance(inputs, list) or len(inputs) <= MAX_TEXTS:
            return super().complete(call)
        route = (call.deployment, call.provider, call.target)
        parts = []
        for start in range(0, len(inputs), MAX_TEXTS):
            part = Call(call.endpoint, {**call.body, "input": inputs[start:start + MAX_TEXTS]},
                        call.overrides).bind(route, call.session, call.timeout, call.drop_params)
            parts.append(super().complete(part))
        out = parts[0]
        out["data"] = [{**d, "index": i} for i, d in enumerate(d for p in parts for d in p["data"])]
        tokens = sum(p["usage"]["prompt_tokens"] for p in parts)
        out["usage"] = call.usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return out

    def parse_response(self, call, content):
        """Cohere's chat or embed response in OpenAI's shape."""
        data = json_or_502(content, self.name)
        model = call.deployment.upstream_model
        if call.endpoint == "embeddings":
            out = embed_response(data, model, call.body.get("encoding_format"))
        else:
            out = chat_response(data, model)
        call.usage = out["usage"]
        return out

    def iter_events(self, call, response):
        """Cohere's typed SSE events as OpenAI chunks; a stream must end with message-end."""
        events = sse_events(read_stream(response, self.name))
        return stream_chunks(call, events, call.deployment.upstream_model)

    def parse_error(self, call, status, content, headers):
        """Cohere's ``{"id", "message"}`` error (or any body) -> the exception tree."""
        return error_for(status, scrub(call, error_text(content, status)),
                         headers.get("retry-after"))


# -- request ----------------------------------------------------------------------------------

def host_of(url):
    """The host part of a Cohere api_base, with a known endpoint path cut off."""
    url = url.rstrip("/")
    for suffix in _SUFFIXES:
        if url.endswith(suffix):
            return url[:-len(suffix)]
    return url


def chat_request(call, body):
    """The v2 chat body for an OpenAI chat body (``body`` is a private copy)."""
    _refuse_unsupported(call, body)
    out = {"model": call.deployment.upstream_model,
           "messages": _one_system_turn([cohere_message(m) for m in body["messages"]])}
    out.update(_tools(call, body))
    out.update(_sampling(body))
    out.update({k: body[k] for k in NATIVE_CHAT if body.get(k) is not None})
    if call.stream:
        out["stream"] = True
    return out


def _refuse_unsupported(call, body):
    for param, refused in REFUSED.items():
        if body.get(param) is not None and refused(body[param]):
            common.unsupported(call, body, param, "Cohere")


def cohere_message(msg):
    """One OpenAI message as a v2 message."""
    role, content = msg["role"], msg.get("content")
    if role in ("system", "developer"):
        return {"role": "system", "content": common.text_of(content)}
    if role == "user":
        return {"role": "user", "content": content if isinstance(content, str)
                else [_user_part(p) for p in content]}
    if role == "assistant":
        return _assistant(msg)
    if role == "tool":
        return {"role": "tool", "tool_call_id": msg["tool_call_id"],
                "content": content if isinstance(content, str)
                else [{"type": "text", "text": p.get("text", "")} for p in content]}
    raise errors.InvalidRequestError(
        f"Cohere does not accept '{role}' messages; use tool messages", param="messages")


def _one_system_turn(messages):
    # Cohere wants the system turn first and single; clients often send system + developer.
    head = next((i for i, m in enumerate(messages) if m["role"] != "system"), len(messages))
    if head < 2:
        return messages
    return [{"role": "system", "content": "\n\n".join(m["content"] for m in messages[:head])},
            *messages[head:]]


def _user_part(part):
    if part["type"] == "text":
        return {"type": "text", "text": part["text"]}
    if part["type"] == "image_url":
        image = part["image_url"]
        common.parse_data_uri(image["url"])  # refuses a data URI that is not base64
        out = {"url": image["url"]}
        if image.get("detail") in ("auto", "low", "high"):
            out["detail"] = image["detail"]
        return {"type": "image_url", "image_url": out}
    raise errors.InvalidRequestError(
        f"Cohere does not accept '{part['type']}' content parts", param="messages")


def _assistant(msg):
    text = common.text_of(msg.get("content")) or msg.get("refusal") or ""
    calls = msg.get("tool_calls")
    if not calls:
        return {"role": "assistant", "content": text}
    out = {"role": "assistant", "tool_calls": [_cohere_tool_call(c) for c in calls]}
    if text:  # v2 keeps the assistant's words next to tool calls in tool_plan
        out["tool_plan"] = text
    return out


def _cohere_tool_call(call):
    if call.get("type", "function") != "function":
        raise errors.InvalidRequestError("Cohere only supports function tool calls",
                                         param="messages")
    fn = call["function"]
    return {"id": call["id"], "type": "function",
            "function": {"name": fn["name"], "arguments": fn["arguments"]}}


def _tools(call, body):
    tools = body.get("tools")
    if not tools:
        return {}
    if any(t.get("type") != "function" for t in tools):
        common.unsupported(call, body, "tools", "Cohere")
        return {}
    functions = [t["function"] for t in tools]
    names, required = _tool_choice(body.get("tool_choice"))
    if names is not None:
        functions = [f for f in functions if f["name"] in names]
        if not functions:
            raise errors.InvalidRequestError("tool_choice names no tool in 'tools'",
                                             param="tool_choice")
    out = {"tools": [{"type": "function", "function": _function(f)} for f in functions]}
    if required is not None:
        out["tool_choice"] = required
    if any(f.get("strict") for f in functions):
        out["strict_tools"] = True
    return out


def _tool_choice(choice):
    """(names the tools are narrowed to or None, Cohere's tool_choice or None)."""
    if choice in (None, "auto"):
        return None, None
    if choice in ("none", "required"):
        return None, choice.upper()
    if choice.get("type") == "function":  # Cohere cannot name a tool: offer only that one
        return {choice["function"]["name"]}, "REQUIRED"
    if choice.get("type") == "allowed_tools":
        allowed = choice["allowed_tools"]
        names = {(t.get("function") or {}).get("name") or t.get("name") for t in allowed["tools"]}
        return names, "REQUIRED" if allowed["mode"] == "required" else None
    raise errors.InvalidRequestError("Cohere only supports function tools", param="tool_choice")


def _function(fn):
    out = {"name": fn["name"],
           "parameters": fn.get("parameters") or {"type": "object", "properties": {}}}
    if fn.get("description"):
        out["description"] = fn["description"]
    return out


def _sampling(body):
    out = {}
    for name in ("temperature", "seed", "frequency_penalty", "presence_penalty"):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("top_p") is not None:  # OpenAI's 1.0 ("no cut") is 0.99 at most for Cohere
        out["p"] = min(max(body["top_p"], _TOP_P[0]), _TOP_P[1])
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit:
        out["max_tokens"] = limit
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else stop
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_object":
        out["response_format"] = {"type": "json_object"}
    elif fmt.get("type") == "json_schema":
        schema = fmt["json_schema"].get("schema")
        out["response_format"] = {"type": "json_object", **({"json_schema": schema}
                                                             if schema else {})}
    effort = body.get("reasoning_effort")
    if effort is not None:
        out["thinking"] = {"type": "disabled" if effort == "none" else "enabled"}
    return out


def embed_request(call, body):
    """The v2 embed body for an OpenAI embeddings body."""
    texts = body["input"]
    texts = [texts] if isinstance(texts, str) else texts
    if not all(isinstance(t, str) for t in texts):
        # The input itself cannot be dropped, so this is refused whatever drop_params says.
        raise errors.InvalidRequestError("Cohere embeds text only; token-id input is not "
                                         "supported", param="input", code="unsupported_parameter")
    out = {"model": call.deployment.upstream_model, "texts": texts,
           "input_type": "search_document", "embedding_types": ["float"]}
    out.update({k: body[k] for k in NATIVE_EMBED if body.get(k) is not None})
    if body.get("dimensions"):
        out["output_dimension"] = body["dimensions"]
    return out


# -- response ---------------------------------------------------------------------------------

def _headers(headers, ov):
    if not (ov.api_key or ov.api_base or ov.extra_headers):
        return headers
    headers = dict(headers)
    if ov.api_base and not ov.api_key:
        headers.pop("Authorization", None)  # never hand the deployment's key to a client's base
    if ov.api_key:
        headers["Authorization"] = f"Bearer {ov.api_key}"
    for name, value in (ov.extra_headers or {}).items():
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value
    return headers


