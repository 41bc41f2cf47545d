"""Pure translation between OpenAI's chat shapes and Bedrock's Converse JSON.

Request: ``converse_request``. Response: ``chat_response``. Streams: ``StreamTranslator`` turns
the decoded ConverseStream events (messageStart, contentBlockStart/Delta/Stop, messageStop,
metadata) into OpenAI chunks. No HTTP, no signing, no environment here.
"""
import orjson

from app import errors
from app.providers import common

PROVIDER = "Bedrock"
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
          "model_context_window_exceeded": "length", "tool_use": "tool_calls",
          "guardrail_intervened": "content_filter", "content_filtered": "content_filter"}
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
                 "image/webp": "webp"}
DOCUMENT_FORMATS = {
    "application/pdf": "pdf", "text/csv": "csv", "application/msword": "doc", "text/html": "html",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls", "text/plain": "txt", "text/markdown": "md",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx"}
# OpenAI parameters that say nothing Bedrock could act on; accepted and not sent.
IGNORED = frozenset({"model", "messages", "stream", "stream_options", "user", "store", "metadata",
                     "service_tier", "safety_identifier", "prompt_cache_key", "verbosity",
                     "prompt_cache_retention", "prompt_cache_options"})
HANDLED = frozenset({"max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "tools",
                     "tool_choice", "parallel_tool_calls", "response_format", "reasoning_effort",
                     "n", "seed", "logprobs", "top_logprobs", "presence_penalty",
                     "frequency_penalty", "logit_bias", "functions", "function_call",
                     "modalities", "audio", "prediction", "web_search_options", "moderation",
                     "additionalModelRequestFields"})
# Converse request members a client (or the deployment) may set directly, as LiteLLM allows.
PASSTHROUGH = ("guardrailConfig", "performanceConfig", "requestMetadata", "promptVariables",
               "additionalModelResponseFieldPaths")
# Anthropic's extended-thinking budgets per reasoning_effort (LiteLLM's values).
THINKING_BUDGET = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096, "xhigh": 8192,
                   "max": 16384}


# -- chat request --------------------------------------------------------------------------------

def converse_request(call, defaults, model_id):
    """The Converse (or ConverseStream) request body for an OpenAI chat call."""
    body = {**defaults, **call.body}
    _refuse_unsupported(call, body)
    creds = [k for k in body if k.startswith("aws_")]
    if creds:
        # Never forwarded (they would land in additionalModelRequestFields) nor used.
        raise errors.InvalidRequestError(
            "per-request AWS credentials and settings are not supported; configure them on "
            "the deployment", param=creds[0])
    system, messages = convert_messages(body["messages"])
    req = {"messages": messages}
    if system:
        req["system"] = system
    extra = dict(body.get("additionalModelRequestFields") or {})
    extra.update({k: v for k, v in body.items()
                  if k not in IGNORED and k not in HANDLED and k not in PASSTHROUGH})
    inference = inference_config(body)
    _reasoning(call, body, model_id, extra, inference)
    if inference:
        req["inferenceConfig"] = inference
    tools = tool_config(call, body, messages)
    if tools:
        req["toolConfig"] = tools
    output = output_config(call, body)
    if output:
        req["outputConfig"] = output
    if extra:
        req["additionalModelRequestFields"] = extra
    req.update({k: body[k] for k in PASSTHROUGH if body.get(k) is not None})
    return req


# Parameters Converse cannot honour, with the test for a value that would change the answer
# (OpenAI's no-op defaults such as n=1 or presence_penalty=0 pass).
_REFUSED = {"seed": lambda v: v is not None, "n": lambda v: v not in (None, 1),
            "logprobs": bool, "top_logprobs": lambda v: v is not None,
            "presence_penalty": bool, "frequency_penalty": bool, "logit_bias": bool,
            "functions": bool, "function_call": lambda v: v is not None,
            "modalities": lambda v: v not in (None, ["text"]), "audio": bool,
            "prediction": bool, "web_search_options": lambda v: v is not None,
            "moderation": bool, "parallel_tool_calls": lambda v: v is False}


def _refuse_unsupported(call, body):
    for param, present in _REFUSED.items():
        if param in body and present(body[param]):
            common.unsupported(call, body, param, PROVIDER)
    if (body.get("response_format") or {}).get("type") == "json_object":
        common.unsupported(call, body, "response_format", PROVIDER)
    if any(t.get("type") != "function" for t in body.get("tools") or []):
        common.unsupported(call, body, "tools", PROVIDER)
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") != "function":
        common.unsupported(call, body, "tool_choice", PROVIDER)


def convert_messages(messages):
    """(system blocks, alternating user/assistant messages) for OpenAI messages."""
    system, turns = [], []
    for msg in messages:
        role = msg["role"]
        if role in ("system", "developer"):
            system.extend(_cache_point(user_blocks(msg["content"]), msg))
        elif role == "user":
            _append(turns, "user", _cache_point(user_blocks(msg["content"]), msg))
        elif role == "assistant":
            _append(turns, "assistant", _cache_point(assistant_blocks(msg), msg))
        elif role == "tool":
            _append(turns, "user", _cache_point([tool_result(msg)], msg))
        else:
            raise errors.InvalidRequestError(
                f"{PROVIDER} does not support '{role}' messages; use tools and tool messages",
                param="messages")
    return system, turns


def _append(turns, role, blocks):
    # Converse wants strictly alternating roles: consecutive same-role messages become one.
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def user_blocks(content):
    """Converse content blocks for a user message's content."""
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            if part["text"]:
                blocks.append({"text": part["text"]})
        elif kind == "image_url":
            blocks.append(image_block(part["image_url"]["url"]))
        elif kind == "file":
            blocks.append(document_block(part["file"], len(blocks)))
        else:
            raise errors.InvalidRequestError(
                f"{PROVIDER} does not support '{kind}' content parts", param="messages")
        _cache_point(blocks, part)
    return blocks


def _cache_point(blocks, item):
    # Prompt caching, marked as LiteLLM does (cache_control) or with prompt_cache_breakpoint:
    # Converse caches everything before a cachePoint block.
    marked = isinstance(item.get("cache_control"), dict) \
        or isinstance(item.get("prompt_cache_breakpoint"), dict)
    if marked and blocks and "cachePoint" not in blocks[-1]:
        blocks.append({"cachePoint": {"type": "default"}})
    return blocks


def image_block(url):
    """An image block from a base64 data URI or an s3:// URI."""
    if url.startswith("s3://"):
        ext = url.rsplit(".", 1)[-1].lower()
        fmt = IMAGE_FORMATS.get(f"image/{ext}")
        if not fmt:
            raise _bad_media(f"cannot tell the image format of {url!r} (png, jpeg, gif, webp)")
        return {"image": {"format": fmt, "source": {"s3Location": {"uri": url}}}}
    parsed = common.parse_data_uri(url)
    if parsed is None:
        raise errors.InvalidRequestError(
            f"{PROVIDER} does not fetch image URLs; send the image as a base64 data URI "
            "(data:image/png;base64,...) or an s3:// URI", param="messages",
            code="unsupported_image_url")
    mime, data = parsed
    fmt = IMAGE_FORMATS.get(mime.lower())
    if not fmt:
        raise _bad_media(f"image type {mime} is not supported (png, jpeg, gif, webp)")
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def document_block(file, position):
    """A document block from an OpenAI file part carrying a base64 data URI."""
    parsed = common.parse_data_uri(file.get("file_data") or "")
    if parsed is None:
        raise _bad_media("file parts need file_data as a base64 data URI (file_id is not "
                         "supported)")
    mime, data = parsed
    fmt = DOCUMENT_FORMATS.get(mime.lower())
    if not fmt:
        raise _bad_media(f"document type {mime} is not supported")
    # Converse document names allow letters, digits, spaces, hyphens, parentheses, brackets.
    stem = (file.get("filename") or "").rsplit(".", 1)[0]
    name = " ".join("".join(c for c in stem if c.isalnum() or c in " -()[]").split())
    name = name or f"doc{position}"
    return {"document": {"format": fmt, "name": name, "source": {"bytes": data}}}


def _bad_media(message):
    return errors.InvalidRequestError(message, param="messages")


def assistant_blocks(msg):
    """Converse content blocks for an assistant message (text, then toolUse blocks)."""
    blocks = []
    text = common.text_of(msg.get("content"))
    if text:
        blocks.append({"text": text})
    for tc in msg.get("tool_calls") or []:
        if tc.get("type", "function") != "function":
            raise errors.InvalidRequestError(
                f"{PROVIDER} supports only function tool calls", param="messages")
        fn = tc["function"]
        blocks.append({"toolUse": {"toolUseId": tc["id"], "name": fn["name"],
                                   "input": common.tool_arguments(fn["arguments"])}})
    return blocks




def tool_result(msg):
    """A toolResult block for an OpenAI tool message."""
    return {"toolResult": {"toolUseId": msg["tool_call_id"],
                           "content": [{"text": common.text_of(msg["content"])}]}}


def inference_config(body):
    """Converse inferenceConfig from max tokens, temperature, top_p and stop."""
    cfg = {}
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        cfg["maxTokens"] = max_tokens
    if body.get("temperature") is not None:
        cfg["temperature"] = body["temperature"]
    if body.get("top_p") is not None:
        cfg["topP"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        cfg["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    return cfg


def _reasoning(call, body, model_id, extra, inference):
    effort = body.get("reasoning_effort")
    if effort in (None, "none"):
        return
    if "anthropic." not in model_id:
        common.unsupported(call, body, "reasoning_effort", PROVIDER)
        return
    budget = THINKING_BUDGET[effort]
    extra.setdefault("thinking", {"type": "enabled", "budget_tokens": budget})
    # Claude refuses a thinking budget that does not fit under maxTokens.
    inference.setdefault("maxTokens", budget + 4096)


def tool_config(call, body, messages):
    """Converse toolConfig for OpenAI tools + tool_choice (None when there are no tools)."""
    tools = body.get("tools")
    if not tools:
        return None
    cfg = {"tools": [tool_spec(t["function"]) for t in tools]}
    choice = body.get("tool_choice")
    if choice == "none":
        # Converse has no "none" choice, and it refuses toolUse/toolResult blocks in the
        # conversation unless toolConfig is present: keep the tools only in that case.
        return cfg if _uses_tools(messages) else None
    if choice == "required":
        cfg["toolChoice"] = {"any": {}}
    elif isinstance(choice, dict):
        cfg["toolChoice"] = {"tool": {"name": choice["function"]["name"]}}
    # "auto" is Converse's default; saying it explicitly is refused by some model families.
    return cfg


def tool_spec(fn):
    """One Converse tool specification for an OpenAI function definition."""
    spec = {"name": fn["name"],
            "inputSchema": {"json": fn.get("parameters") or {"type": "object", "properties": {}}}}
    if fn.get("description"):
        spec["description"] = fn["description"]
    return {"toolSpec": spec}


def _uses_tools(messages):
    return any("toolUse" in b or "toolResult" in b for m in messages for b in m["content"])


def output_config(call, body):
    """Converse outputConfig (structured output) for response_format json_schema."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") != "json_schema":
        return None
    spec = fmt["json_schema"]
    schema = {"schema": orjson.dumps(spec.get("schema") or {"type": "object"}).decode(),
              "name": spec["name"]}
    if spec.get("description"):
        schema["description"] = spec["description"]
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": schema}}}


# -- chat response -------------------------------------------------------------------------------

def finish_reason(stop_reason):
    """OpenAI finish_reason for a Converse stopReason."""
    return FINISH.get(stop_reason, "stop")


def usage_of(usage):
    """OpenAI usage for Converse usage; prompt tokens include cache reads and writes."""
    usage = usage or {}
    cached = usage.get("cacheReadInputTokens")
    prompt = (usage.get("inputTokens") or 0) + (cached or 0) \
        + (usage.get("cacheWriteInputTokens") or 0)
    return common.usage(prompt, usage.get("outputTokens"), cached=cached)


def chat_response(data, model):
    """An OpenAI chat.completion for a Converse response."""
    message = (data.get("output") or {}).get("message")
    if not isinstance(message, dict):
        raise errors.BadGatewayError("Bedrock answered without output.message")
    text, reasoning, calls = [], [], []
    for block in message.get("content") or []:
        if "text" in block:
            text.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append(common.tool_call(use.get("toolUseId"), use.get("name"),
                                          use.get("input") or {}))
        elif "reasoningContent" in block:
            reasoning.append((block["reasoningContent"].get("reasoningText") or {})
                             .get("text", ""))
    msg = common.assistant_message("".join(text), calls, "".join(reasoning) or None)
    return common.completion(model, msg, finish_reason(data.get("stopReason")),
                             usage_of(data.get("usage")))


class StreamTranslator:
    """Turns decoded ConverseStream events into OpenAI chunk payloads (JSON bytes)."""

    def __init__(self, model, include_usage=False):
        self.chunks = common.ChunkStream(model, include_usage)
        self.tools = {}  # contentBlockIndex -> OpenAI tool_calls index
        self.finish = None
        self.usage = None
        self.done = False

    def event(self, kind, data):
        """The chunks for one event (unknown event types yield none)."""
        return getattr(self, "_" + kind)(data) if kind in _EVENTS else []

    def _messageStart(self, data):  # noqa: N802 - named after the event type
        return [self.chunks.chunk({"content": ""})]

    def _contentBlockStart(self, data):  # noqa: N802
        use = (data.get("start") or {}).get("toolUse")
        if not use:
            return []
        index = self._tool_index(data)
        return [self.chunks.chunk({"tool_calls": [{
            "index": index, "id": use.get("toolUseId") or common.tool_call_id(),
            "type": "function", "function": {"name": use.get("name"), "arguments": ""}}]})]

    def _contentBlockDelta(self, data):  # noqa: N802
        delta = data.get("delta") or {}
        if delta.get("text"):
            return [self.chunks.chunk({"content": delta["text"]})]
        if "toolUse" in delta:
            fragment = delta["toolUse"].get("input") or ""
            return [self.chunks.chunk({"tool_calls": [{
                "index": self._tool_index(data), "function": {"arguments": fragment}}]})]
        text = (delta.get("reasoningContent") or {}).get("text")
        if text:
            return [self.chunks.chunk({"reasoning_content": text})]
        return []  # empty text, reasoning signatures, redacted reasoning, citations

    def _contentBlockStop(self, data):  # noqa: N802
        return []

    def _messageStop(self, data):  # noqa: N802
        self.finish = finish_reason(data.get("stopReason"))
        return [self.chunks.chunk({}, self.finish)]

    def _metadata(self, data):
        self.usage = usage_of(data.get("usage"))
        self.done = True
        return [self.chunks.usage_chunk(self.usage)] if self.chunks.include_usage else []

    def _tool_index(self, data):
        block = data.get("contentBlockIndex", 0)
        if block not in self.tools:
            self.tools[block] = len(self.tools)
        return self.tools[block]


_EVENTS = frozenset({"messageStart", "contentBlockStart", "contentBlockDelta",
                     "contentBlockStop", "messageStop", "metadata"})
