"""Google AI Studio (the Gemini API): chat, streaming, tools, vision and embeddings.

``POST {base}/models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse`` for chat,
``:embedContent`` / ``:batchEmbedContents`` for embeddings. The key travels only in the
``x-goog-api-key`` header, never in the URL, so it cannot leak into access logs. Request
translation lives in ``gemini_convert``; responses, stream events and errors are mapped here.
"""
import math
import os
import re

import orjson

from app import errors
from app.providers import common
from app.providers.base import Outbound, Provider, Target, json_or_502, scrub, stream_body
from app.providers.gemini_convert import SIGNATURE_SEP, request_body
from app.streaming import sse_events

DEFAULT_BASE = "https://generativelanguage.googleapis.com"
DEFAULT_VERSION = "v1beta"
KEY_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
# Deployment litellm_params that act as request defaults (the request's own value wins).
DEFAULT_PARAMS = ("temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "stop",
                  "seed", "presence_penalty", "frequency_penalty", "response_format",
                  "reasoning_effort", "n", "safety_settings")
FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter",
          "RECITATION": "content_filter", "BLOCKLIST": "content_filter",
          "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
          "IMAGE_SAFETY": "content_filter", "IMAGE_PROHIBITED_CONTENT": "content_filter",
          "IMAGE_RECITATION": "content_filter"}
_VERSIONED = re.compile(r"/v\d+(?:alpha|beta)?\d*$")
_CONTEXT = ("exceeds the maximum number of tokens", "input token count", "context window",
            "too many tokens")
_BY_STATUS_NAME = {"UNAUTHENTICATED": errors.AuthenticationError,
                   "PERMISSION_DENIED": errors.PermissionDeniedError,
                   "NOT_FOUND": errors.NotFoundError, "RESOURCE_EXHAUSTED": errors.RateLimitError,
                   "UNAVAILABLE": errors.ServiceUnavailableError,
                   "DEADLINE_EXCEEDED": errors.GatewayTimeoutError}


class GeminiProvider(Provider):
    """Google AI Studio (Gemini API)."""

    endpoints = frozenset({"chat", "embeddings"})

    def __init__(self, name="gemini"):
        self.name = name

    def prepare(self, deployment):
        """Base URL (host + API version), key and static headers, once per deployment."""
        base = deployment.api_base or os.environ.get("GEMINI_API_BASE") or DEFAULT_BASE
        key = deployment.api_key or next(
            (os.environ[n] for n in KEY_ENV if os.environ.get(n)), None)
        headers = {"Content-Type": "application/json", **(deployment.extra_headers or {})}
        defaults = {k: deployment.params[k] for k in DEFAULT_PARAMS if k in deployment.params}
        return Target(api_root(base, deployment.api_version), key, headers, defaults)

    def build_request(self, call):
        """URL, headers (key in x-goog-api-key) and GenerateContent/embed body for a call."""
        target, ov = call.target, call.overrides
        base = api_root(ov.api_base, ov.api_version or call.deployment.api_version) \
            if ov.api_base else target.base
        # Never hand the deployment's own key to a base the client chose.
        key = ov.api_key or (None if ov.api_base else target.api_key)
        if not key:
            raise errors.AuthenticationError(
                "No API key for gemini: set litellm_params.api_key or GEMINI_API_KEY, or send "
                "api_key in the request")
        headers = {**target.headers, **(ov.extra_headers or {})}
        for name in [k for k in headers if k.lower() == "x-goog-api-key"]:
            del headers[name]
        headers["x-goog-api-key"] = key
        model = model_path(call.deployment.upstream_model)
        if call.endpoint == "embeddings":
            method, body = embed_request(call, model)
        else:
            if target.defaults:
                call.body = {**target.defaults, **call.body}
            method = "streamGenerateContent?alt=sse" if call.stream else "generateContent"
            body = request_body(call, model)
        return Outbound(f"{base}/{model}:{method}", headers, orjson.dumps(body))

    def parse_response(self, call, content):
        """GenerateContentResponse -> chat.completion (or the embeddings list)."""
        data = json_or_502(content, self.name)
        if call.endpoint == "embeddings":
            return embeddings_response(call, data)
        candidates = data.get("candidates") or []
        if not candidates:
            raise blocked(data)
        call.usage = usage_of(data.get("usageMetadata") or {})
        choices = []
        for position, cand in enumerate(candidates):
            message, finish = candidate_message(cand)
            choices.append({"index": cand.get("index", position), "message": message,
                            "logprobs": None, "finish_reason": finish})
        out = common.completion(call.body["model"], choices[0]["message"],
                                choices[0]["finish_reason"], call.usage)
        out["choices"] = choices
        return out

    def iter_events(self, call, response):
        """Translate Gemini's SSE GenerateContentResponse events into chat.completion.chunks."""
        state = _StreamState(call.body["model"], common.wants_usage(call.body))
        for _name, data in sse_events(stream_body(response, self.name)):
            event = _event(data)
            err = event.get("error")
            if isinstance(err, dict):
                code = err.get("code")
                raise error_of(call, code if isinstance(code, int) else 500, err, {})
            if event.get("usageMetadata"):
                state.meta = event["usageMetadata"]
            candidates = event.get("candidates") or []
            if not candidates and (event.get("promptFeedback") or {}).get("blockReason"):
                raise blocked(event)
            for position, cand in enumerate(candidates):
                yield from state.candidate_chunks(cand.get("index", position), cand)
        if not state.finished:
            raise errors.BadGatewayError("gemini closed the stream before it was complete")
        call.usage = usage_of(state.meta or {})
        if state.cs.include_usage:
            yield state.cs.usage_chunk(call.usage)

    def parse_error(self, call, status, content, headers):
        """Google's ``{"error": {code, message, status, details}}`` -> the exception tree."""
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            body = None
        # Some Google front ends wrap the error object in a one-element list.
        if isinstance(body, list) and body:
            body = body[0]
        err = body.get("error") if isinstance(body, dict) else None
        if not isinstance(err, dict):
            return super().parse_error(call, status, content, headers)
        return error_of(call, status, err, headers)


# -- URLs and embeddings -----------------------------------------------------------------------


def api_root(base, version=None):
    """Host + API version: a bare host gets /v1beta (or the deployment's api_version)."""
    base = base.rstrip("/")
    return base if _VERSIONED.search(base) else f"{base}/{version or DEFAULT_VERSION}"


def model_path(model):
    """``models/<id>`` (tuned models keep their own ``tunedModels/`` prefix)."""
    return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"


def embed_request(call, model):
    """(method, body): embedContent for one text, batchEmbedContents for several."""
    body = call.body
    texts = body["input"]
    texts = [texts] if isinstance(texts, str) else texts
    if not all(isinstance(t, str) for t in texts):
        raise errors.InvalidRequestError("gemini embeddings take text input, not token arrays",
                                         param="input")
    extra = {}
    if body.get("dimensions"):
        extra["outputDimensionality"] = body["dimensions"]
    params = call.deployment.params
    task = body.get("task_type") or params.get("task_type") or params.get("taskType")
    if task:
        extra["taskType"] = task
    requests = [{"model": model, "content": {"parts": [{"text": t}]}, **extra} for t in texts]
    if len(requests) == 1:
        return "embedContent", requests[0]
    return "batchEmbedContents", {"requests": requests}


def embeddings_response(call, data):
    """embedding.values / embeddings[].values as OpenAI's list (usage: Gemini reports none)."""
    if "embedding" in data:
        vectors = [data["embedding"].get("values") or []]
    else:
        vectors = [e.get("values") or [] for e in data.get("embeddings") or []]
    tokens = (data.get("usageMetadata") or {}).get("promptTokenCount", 0)
    call.usage = {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens}
    return common.embeddings_response(vectors, call.body["model"], tokens,
                                      call.body.get("encoding_format"))


# -- responses ---------------------------------------------------------------------------------


def candidate_message(cand):
    """(assistant message, finish_reason) of one candidate."""
    text, reasoning, calls = [], [], []
    for part in (cand.get("content") or {}).get("parts") or ():
        if "functionCall" in part:
            fn = part["functionCall"]
            calls.append(common.tool_call(call_id(fn, part), fn.get("name"), fn.get("args") or {}))
        elif isinstance(part.get("text"), str):
            (reasoning if part.get("thought") else text).append(part["text"])
    message = common.assistant_message("".join(text), calls, "".join(reasoning))
    return message, finish_reason(cand.get("finishReason"), bool(calls))


def call_id(fn, part):
    """Gemini's own call id or a fresh one, carrying any thought signature along."""
    id_ = fn.get("id") or common.tool_call_id()
    signature = part.get("thoughtSignature")
    return f"{id_}{SIGNATURE_SEP}{signature}" if signature else id_


def finish_reason(reason, called_tools):
    """Gemini finishReason -> OpenAI finish_reason."""
    mapped = FINISH.get(reason, "stop")
    return "tool_calls" if mapped == "stop" and called_tools else mapped


def usage_of(meta):
    """usageMetadata -> OpenAI usage; thoughts count as completion (reasoning) tokens."""
    prompt = meta.get("promptTokenCount", 0) + meta.get("toolUsePromptTokenCount", 0)
    thoughts = meta.get("thoughtsTokenCount")
    completion = meta.get("candidatesTokenCount", 0) + (thoughts or 0)
    return common.usage(prompt, completion, cached=meta.get("cachedContentTokenCount"),
                        reasoning=thoughts)


def blocked(data):
    """A response without candidates: the prompt was blocked (or the answer is broken)."""
    reason = (data.get("promptFeedback") or {}).get("blockReason")
    if reason:
        return errors.ContentPolicyError(f"gemini blocked the prompt (blockReason {reason})")
    return errors.BadGatewayError("gemini answered without candidates")


def error_of(call, status, err, headers):
    """One Google error object -> the matching SwitchboardError."""
    message = scrub(call, str(err.get("message") or f"gemini error (HTTP {status})"))
    details = [d for d in err.get("details") or () if isinstance(d, dict)]
    reasons = {d.get("reason") for d in details}
    name = err.get("status")
    if "API_KEY_INVALID" in reasons:
        return errors.AuthenticationError(message)
    if status == 400 and any(h in message.lower() for h in _CONTEXT):
        return errors.ContextLengthExceededError(message)
    retry_after = _retry_delay(details) or headers.get("retry-after")
    if status in (400, 500) and name in _BY_STATUS_NAME:  # e.g. an error event inside a stream
        return _BY_STATUS_NAME[name](message, retry_after=retry_after)
    return errors.from_upstream(status, message, retry_after=retry_after)


def _retry_delay(details):
    for detail in details:
        delay = detail.get("retryDelay")
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return max(1, math.ceil(float(delay[:-1])))
            except ValueError:
                return None
    return None


# -- streams -----------------------------------------------------------------------------------


def _event(data):
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise errors.BadGatewayError("gemini sent a malformed stream event") from None
    if not isinstance(event, dict):
        raise errors.BadGatewayError("gemini sent a malformed stream event")
    return event


class _StreamState:
    """One stream's chunk builder, per-choice tool-call counters and last usageMetadata."""

    def __init__(self, model, include_usage):
        self.cs = common.ChunkStream(model, include_usage)
        self.tool_calls = {}
        self.finished = set()
        self.started = set()
        self.meta = None

    def candidate_chunks(self, index, cand):
        """Chunks for one candidate of one event: text, reasoning, tool calls, finish."""
        for part in (cand.get("content") or {}).get("parts") or ():
            if "functionCall" in part:
                fn = part["functionCall"]
                position = self.tool_calls.get(index, 0)
                self.tool_calls[index] = position + 1
                call = common.tool_call(call_id(fn, part), fn.get("name"), fn.get("args") or {})
                yield self.chunk(index, {"tool_calls": [{"index": position, **call}]})
            elif part.get("text"):
                key = "reasoning_content" if part.get("thought") else "content"
                yield self.chunk(index, {key: part["text"]})
        if cand.get("finishReason"):
            self.finished.add(index)
            yield self.chunk(index, {}, finish_reason(cand["finishReason"],
                                                      bool(self.tool_calls.get(index))))

    def chunk(self, index, delta, finish=None):
        """One chunk for choice ``index`` (each choice's first delta carries the role)."""
        first = index not in self.started
        self.started.add(index)
        if index == 0:
            return self.cs.chunk(delta, finish)
        body = orjson.loads(self.cs.chunk(delta, finish))
        choice = body["choices"][0]
        choice["index"] = index
        choice["delta"] = {"role": "assistant", **delta} if first else delta
        return orjson.dumps(body)
