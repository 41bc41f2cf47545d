"""Ollama's native API: ``/api/chat`` (NDJSON streaming), ``/api/embed`` and ``/api/generate``.

``ollama/<model>`` and ``ollama_chat/<model>`` both chat through ``/api/chat``. Sampling
parameters go into ``options`` (``max_tokens`` is ``num_predict``), JSON mode into ``format``,
images into a message's ``images`` (base64 only), tool-call arguments travel as objects and carry
no ids, so ids are made here. A stream is one JSON object per line; the ``done: true`` line ends
it with ``done_reason`` and the token counts.
"""
import os
import time

import orjson

from app import errors
from app.providers import common
from app.providers.base import Outbound, Provider, Target, json_or_502, read_stream, scrub
from app.providers.openai import DEFAULT_PARAMS, override_headers

DEFAULT_BASE = "http://localhost:11434"
PATHS = {"chat": "/api/chat", "embeddings": "/api/embed", "completions": "/api/generate"}
FINISH_REASONS = {"stop": "stop", "length": "length", "load": "stop", "unload": "stop"}
# OpenAI request parameter -> Ollama option.
OPTIONS = {"temperature": "temperature", "top_p": "top_p", "seed": "seed",
           "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty",
           "max_tokens": "num_predict", "max_completion_tokens": "num_predict"}
# Ollama's own options (Modelfile parameters), accepted from the deployment or the request.
NATIVE_OPTIONS = ("num_ctx", "num_predict", "top_k", "min_p", "typical_p", "repeat_last_n",
                  "repeat_penalty", "mirostat", "mirostat_tau", "mirostat_eta", "num_keep",
                  "num_batch", "num_gpu", "main_gpu", "num_thread", "penalize_newline",
                  "use_mmap", "use_mlock", "low_vram", "numa")
TOP_LEVEL = ("keep_alive", "think")
# OpenAI parameters Ollama has no equivalent for: a 400 naming them unless drop_params.
REFUSED = ("logit_bias", "logprobs", "top_logprobs", "functions", "function_call", "audio",
           "prediction", "web_search_options", "verbosity", "moderation", "echo")
THINK = {"none": False, "minimal": False, "low": "low", "medium": "medium", "high": "high",
         "xhigh": "high", "max": "high"}


class OllamaProvider(Provider):
    """An Ollama server (no key by default; a Bearer key when one is configured)."""

    endpoints = frozenset({"chat", "embeddings", "completions"})

    def __init__(self, name="ollama"):
        self.name = name

    def prepare(self, deployment):
        """Resolve the server root, optional key and preset parameters once."""
        base = deployment.api_base or os.environ.get("OLLAMA_API_BASE") or DEFAULT_BASE
        key = deployment.api_key or os.environ.get("OLLAMA_API_KEY")
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        headers.update(deployment.extra_headers or {})
        names = DEFAULT_PARAMS + NATIVE_OPTIONS + TOP_LEVEL
        defaults = {k: deployment.params[k] for k in names if k in deployment.params}
        return Target(server_root(base), key, headers, defaults)

    def build_request(self, call):
        """The native request for a chat, embeddings or completions call."""
        ov = call.overrides
        base = server_root(ov.api_base) or call.target.base
        headers = call.target.headers
        if ov.api_key or ov.api_base or ov.organization or ov.extra_headers:
            headers = override_headers(headers, ov)
        body = {**call.target.defaults, **call.body}
        build = {"chat": chat_request, "embeddings": embed_request,
                 "completions": generate_request}[call.endpoint]
        native = build(call, body)
        native["model"] = call.deployment.upstream_model
        return Outbound(base + PATHS[call.endpoint], headers, orjson.dumps(native))

    def parse_response(self, call, content):
        """Ollama's JSON answer -> chat.completion, embeddings list or text_completion."""
        data = json_or_502(content, self.name)
        if "error" in data:
            raise error_for(500, scrub(call, str(data["error"])))
        if call.endpoint == "embeddings":
            out = embeddings_response(data, call.body)
            call.usage = out["usage"]
            return out
        call.usage = common.usage(data.get("prompt_eval_count"), data.get("eval_count"))
        model = data.get("model") or call.deployment.upstream_model
        if call.endpoint == "completions":
            return text_completion(model, data.get("response") or "", finish_reason(data),
                                   call.usage)
        return chat_completion(data, model, call.usage)

    def iter_events(self, call, response):
        """NDJSON lines -> chat.completion.chunk (or text_completion) payloads."""
        model = call.deployment.upstream_model
        if call.endpoint == "completions":
            return _generate_chunks(call, response, model)
        stream = common.ChunkStream(model, common.wants_usage(call.body))
        return _chat_chunks(call, response, stream)

    def parse_error(self, call, status, content, headers):
        """Ollama's ``{"error": "..."}`` -> the tree."""
        try:
            message = orjson.loads(content).get("error")
        except (orjson.JSONDecodeError, AttributeError):
            message = None
        if not isinstance(message, str):
            return super().parse_error(call, status, content, headers)
        return error_for(status, scrub(call, message), headers.get("retry-after"))


def server_root(base):
    """The server root of an api_base (``/``, ``/api`` or ``/v1`` at the end are dropped)."""
    if not base:
        return None
    base = base.rstrip("/")
    for tail in ("/api", "/v1"):
        if base.endswith(tail):
            return base[:-len(tail)]
    return base


def error_for(status, message, retry_after=None):
    """An Ollama error message with its status -> the exception tree."""
    low = message.lower()
    if "context length" in low or "context window" in low:
        return errors.ContextLengthExceededError(message)
    if status == 404 and "not found" in low:
        return errors.ModelNotFoundError(message, param="model")
    return errors.from_upstream(status, message, retry_after=retry_after)


# -- requests ----------------------------------------------------------------------------------

def chat_request(call, body):
    """OpenAI chat body -> Ollama /api/chat body."""
    _refuse(call, body)
    native = {"messages": messages(body["messages"]), "stream": call.stream}
    tools = _tools(call, body)
    if tools:
        native["tools"] = tools
    fmt = response_format(body.get("response_format"))
    if fmt is not None:
        native["format"] = fmt
    if body.get("reasoning_effort") in THINK:
        native["think"] = THINK[body["reasoning_effort"]]
    return _common_fields(native, body)


def generate_request(call, body):
    """OpenAI completions body -> Ollama /api/generate body."""
    _refuse(call, body)
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise errors.InvalidRequestError("ollama takes one text prompt per request",
                                             param="prompt")
        prompt = prompt[0]
    native = {"prompt": prompt or "", "stream": call.stream}
    if body.get("suffix"):
        native["suffix"] = body["suffix"]
    return _common_fields(native, body)


def embed_request(call, body):
    """OpenAI embeddings body -> Ollama /api/embed body."""
    inputs = body["input"]
    if not isinstance(inputs, str) and not all(isinstance(i, str) for i in inputs):
        raise errors.InvalidRequestError("ollama embeds text only, not token arrays",
                                         param="input")
    native = {"input": inputs}
    if body.get("dimensions"):
        native["dimensions"] = body["dimensions"]
    for key in ("truncate", "keep_alive"):
        if key in body:
            native[key] = body[key]
    return native


def _refuse(call, body):
    for param in REFUSED:
        if body.get(param) not in (None, False, [], {}):
            common.unsupported(call, body, param, "ollama")
    for param in ("n", "best_of"):
        if (body.get(param) or 1) > 1:
            common.unsupported(call, body, param, "ollama")
    if any(m != "text" for m in body.get("modalities") or ()):
        common.unsupported(call, body, "modalities", "ollama")


def _common_fields(native, body):
    # Native names first, so a preset num_predict yields to the request's max_tokens; an
    # explicit ``options`` object in the request wins over everything.
    options = {k: body[k] for k in NATIVE_OPTIONS if k in body}
    options.update({OPTIONS[k]: body[k] for k in OPTIONS if body.get(k) is not None})
    if body.get("stop"):
        options["stop"] = [body["stop"]] if isinstance(body["stop"], str) else body["stop"]
    if isinstance(body.get("options"), dict):
        options.update(body["options"])
    if options:
        native["options"] = options
    native.update({k: body[k] for k in TOP_LEVEL if k in body and k not in native})
    return native


def _tools(call, body):
    tools, choice = body.get("tools"), body.get("tool_choice")
    if not tools or choice == "none":
        return None
    if choice not in (None, "auto"):
        common.unsupported(call, body, "tool_choice", "ollama")
    if any(t.get("type") != "function" for t in tools):
        raise errors.InvalidRequestError("ollama supports only function tools", param="tools")
    return tools


def response_format(fmt):
    """OpenAI response_format -> Ollama ``format`` ("json", a JSON schema, or None)."""
    kind = (fmt or {}).get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        return fmt["json_schema"].get("schema") or "json"
    return None


def messages(items):
    """OpenAI messages -> Ollama messages (tool results carry the tool's name)."""
    names, out = {}, []
    for i, msg in enumerate(items):
        role = msg["role"]
        if role in ("system", "developer"):
            out.append({"role": "system", "content": common.text_of(msg.get("content"))})
        elif role == "user":
            out.append(user_message(msg.get("content"), i))
        elif role == "assistant":
            out.append(assistant_message(msg, i, names))
        else:  # tool, or the legacy function role
            call_id = msg.get("tool_call_id")
            result = {"role": "tool", "content": common.text_of(msg.get("content"))}
            name = names.get(call_id) or msg.get("name")
            if name:
                result["tool_name"] = name
            if call_id:
                result["tool_call_id"] = call_id
            out.append(result)
    return out


def user_message(content, i):
    """A user message: text, plus base64 ``images`` from data-URI image parts."""
    if not isinstance(content, list):
        return {"role": "user", "content": content or ""}
    texts, images = [], []
    for j, part in enumerate(content):
        if part["type"] == "text":
            texts.append(part["text"])
        elif part["type"] == "image_url":
            images.append(_image(part["image_url"]["url"], f"messages[{i}].content[{j}]"))
        else:
            raise errors.InvalidRequestError(
                f"ollama does not accept {part['type']} content parts",
                param=f"messages[{i}].content[{j}]")
    msg = {"role": "user", "content": "\n".join(texts)}
    if images:
        msg["images"] = images
    return msg


def _image(url, param):
    parsed = common.parse_data_uri(url)
    if parsed is None:
        raise errors.InvalidRequestError(
            "ollama takes images as base64 data URIs (data:image/png;base64,...), not URLs",
            param=param + ".image_url.url")
    return parsed[1]


def assistant_message(msg, i, names):
    """An assistant turn; tool-call arguments become objects, as Ollama expects."""
    out = {"role": "assistant", "content": common.text_of(msg.get("content"))}
    calls = []
    for j, tc in enumerate(msg.get("tool_calls") or ()):
        function = tc.get("function") or {}
        names[tc.get("id")] = function.get("name")
        calls.append({"id": tc.get("id"), "function": {
            "index": j, "name": function.get("name"),
            "arguments": common.tool_arguments(function.get("arguments"),
                                    f"messages[{i}].tool_calls[{j}].function.arguments")}})
    if calls:
        out["tool_calls"] = calls
    return out




# -- responses ---------------------------------------------------------------------------------

def tool_calls(message):
    """Ollama tool calls -> OpenAI tool calls (JSON-string arguments, generated ids)."""
    out = []
    for tc in message.get("tool_calls") or ():
        function = tc.get("function") or {}
        out.append(common.tool_call(tc.get("id"), function.get("name"),
                                    function.get("arguments") or {}))
    return out


def finish_reason(data, tools_called=False):
    """OpenAI finish_reason of a done line (tool calls win, as OpenAI reports them)."""
    if tools_called:
        return "tool_calls"
    return FINISH_REASONS.get(data.get("done_reason"), "stop")


def chat_completion(data, model, usage):
    """Ollama's non-stream /api/chat answer -> chat.completion."""
    msg = data.get("message") or {}
    calls = tool_calls(msg)
    message = common.assistant_message(msg.get("content") or "", calls, msg.get("thinking"))
    return common.completion(model, message, finish_reason(data, bool(calls)), usage)


def text_completion(model, text, finish, usage, created=None, id_=None):
    """A text_completion object (also the shape of its stream chunks)."""
    return {"id": id_ or "cmpl-" + common.chat_id()[9:], "object": "text_completion",
            "created": created or int(time.time()), "model": model,
            "choices": [{"text": text, "index": 0, "logprobs": None,
                         "finish_reason": finish}], "usage": usage}


def embeddings_response(data, body):
    """Ollama's /api/embed answer -> OpenAI's embeddings list."""
    vectors = data.get("embeddings")
    if not isinstance(vectors, list):
        raise errors.BadGatewayError("ollama answered without embeddings")
    return common.embeddings_response(vectors, data.get("model") or body["model"],
                                      data.get("prompt_eval_count"), body.get("encoding_format"))


def _lines(call, response):
    for line in common.ndjson(read_stream(response, "ollama")):
        if not isinstance(line, dict):
            raise errors.BadGatewayError("ollama sent a malformed stream line")
        if "error" in line:
            raise error_for(500, scrub(call, str(line["error"])))
        yield line


def _chat_chunks(call, response, stream):
    index = 0
    for line in _lines(call, response):
        msg = line.get("message") or {}
        delta = {}
        if msg.get("thinking"):
            delta["reasoning_content"] = msg["thinking"]
        if msg.get("content"):
            delta["content"] = msg["content"]
        calls = tool_calls(msg)
        if calls:
            delta["tool_calls"] = [{"index": index + k, **tc} for k, tc in enumerate(calls)]
            index += len(calls)
        if delta or not stream.role_sent:
            yield stream.chunk(delta or {"content": ""})
        if line.get("done"):
            call.usage = common.usage(line.get("prompt_eval_count"), line.get("eval_count"))
            yield stream.chunk({}, finish_reason(line, index > 0))
            if stream.include_usage:
                yield stream.usage_chunk(call.usage)
            return
    raise errors.BadGatewayError("ollama closed the stream before it was complete")


def _generate_chunks(call, response, model):
    first = text_completion(model, "", None, None)
    id_, created = first["id"], first["created"]
    for line in _lines(call, response):
        done = bool(line.get("done"))
        if done:
            call.usage = common.usage(line.get("prompt_eval_count"), line.get("eval_count"))
        if line.get("response") or done:
            usage = call.usage if done and common.wants_usage(call.body) else None
            yield orjson.dumps(text_completion(model, line.get("response") or "",
                                               finish_reason(line) if done else None, usage,
                                               created, id_))
        if done:
            return
    raise errors.BadGatewayError("ollama closed the stream before it was complete")
