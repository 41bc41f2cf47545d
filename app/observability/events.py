"""The callback event: one plain dict per API request, built from the access-log record.

Every sink receives the same event (webhook/jsonl/stdout send it as is; langfuse maps it onto a
trace and a generation). Its fields::

    id, type ("success"|"failure"), call_type ("chat"|"completions"|"embeddings"), stream,
    start_time, end_time, completion_start_time (epoch seconds), latency_ms, ttft_ms,
    request_id, route, model (public name), model_id (deployment), provider, upstream_model,
    status, model_parameters, messages, response, usage, usage_estimated, cost,
    metadata, tags, error, attempted_retries, cache_hit

Nothing secret is ever copied in: keys and headers are not part of the record, client metadata
is already redacted, and the request body lost api_key & co. in ``overrides.extract``.
Prompts and replies are left out ("redacted-by-switchboard") when message logging is off or the
request's metadata says ``mask_input`` / ``mask_output``.
"""
import orjson

REDACTED = "redacted-by-switchboard"
# Body fields that are the input or plumbing, not model parameters.
_NOT_PARAMS = frozenset({"model", "messages", "input", "prompt", "stream", "stream_options",
                         "tools", "functions", "response_format", "user"})
CHARS_PER_TOKEN = 4


def build(info, call, log_messages, output=None, usage=None, estimated=False, cost=None,
          ttft=None, attempts=1):
    """The event for one finished request (``info`` is the completed access-log record)."""
    start = info["ts"]
    latency = info.get("latency_ms", 0.0)
    status = info.get("status", 0)
    meta = info.get("metadata") or {}
    body = call.body if call is not None else {}
    dep = call.deployment if call is not None else None
    endpoint = call.endpoint if call is not None else _endpoint_of(info.get("route", ""))
    mask_in = not log_messages or bool(meta.get("mask_input"))
    mask_out = not log_messages or bool(meta.get("mask_output"))
    return {
        "id": info["request_id"], "request_id": info["request_id"],
        "type": "success" if status < 400 else "failure", "call_type": endpoint,
        "stream": bool(info.get("stream")),
        "start_time": start, "end_time": round(start + latency / 1000, 6),
        "completion_start_time": round(start + ttft, 6) if ttft is not None else None,
        "latency_ms": latency, "ttft_ms": round(ttft * 1000, 2) if ttft is not None else None,
        "route": info.get("route"), "model": dep.model_name if dep else info.get("model"),
        "model_id": dep.id if dep else None, "provider": info.get("provider"),
        "upstream_model": dep.upstream_model if dep else None, "status": status,
        "model_parameters": model_parameters(body),
        "messages": REDACTED if mask_in else input_of(body),
        "response": REDACTED if mask_out else output,
        "usage": usage, "usage_estimated": estimated, "cost": cost,
        "metadata": meta, "tags": info.get("tags") or [],
        "error": info.get("error"), "attempted_retries": max(0, attempts - 1),
        "cache_hit": bool(info.get("cache_hit")),
    }


def _endpoint_of(route):
    for name in ("chat", "embeddings", "completions"):
        if name in route:
            return name
    return None


def model_parameters(body):
    """The scalar request parameters (temperature, max_tokens, ...)."""
    return {k: v for k, v in body.items()
            if k not in _NOT_PARAMS and isinstance(v, (str, int, float, bool))}


def input_of(body):
    """What the model was asked: messages, prompt or embedding input."""
    for key in ("messages", "prompt", "input"):
        if key in body:
            return body[key]
    return None


def output_of(endpoint, result):
    """What the model answered, from a non-stream response (vectors are summarised)."""
    if not isinstance(result, dict):
        return None
    choices = result.get("choices")
    if endpoint == "embeddings":
        data = result.get("data") or []
        first = data[0].get("embedding") if data and isinstance(data[0], dict) else None
        return {"embeddings": len(data),
                "dimensions": len(first) if isinstance(first, list) else None}
    if not choices or not isinstance(choices[0], dict):
        return None
    if endpoint == "completions":
        return choices[0].get("text")
    return choices[0].get("message")


def stream_output(endpoint, payloads):
    """The assistant message assembled from streamed chunk payloads (JSON bytes)."""
    text, tools, role = [], {}, "assistant"
    for payload in payloads:
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            if endpoint == "completions":
                text.append(choice.get("text") or "")
                continue
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            for call in delta.get("tool_calls") or ():
                _merge_tool_call(tools, call)
    if endpoint == "completions":
        return "".join(text)
    message = {"role": role, "content": "".join(text) or None}
    if tools:
        message["tool_calls"] = [tools[i] for i in sorted(tools)]
    return message


def _merge_tool_call(tools, part):
    slot = tools.setdefault(part.get("index", 0), {"id": None, "type": "function",
                                                   "function": {"name": "", "arguments": ""}})
    if part.get("id"):
        slot["id"] = part["id"]
    fn = part.get("function") or {}
    slot["function"]["name"] += fn.get("name") or ""
    slot["function"]["arguments"] += fn.get("arguments") or ""


def estimate_usage(body, output):
    """Token counts for a stream whose provider sent no usage (about four characters a token)."""
    prompt = _tokens(orjson.dumps(input_of(body) or ""))
    if isinstance(output, dict):
        completion = _tokens((output.get("content") or "").encode()) + \
            sum(_tokens(orjson.dumps(t)) for t in output.get("tool_calls") or ())
    else:
        completion = _tokens((output or "").encode()) if isinstance(output, str) else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _tokens(data):
    return (len(data) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN
