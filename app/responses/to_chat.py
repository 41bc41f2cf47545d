"""Responses request -> the internal chat form (pure functions over plain dicts).

``to_chat(body, history)`` gives the chat.completions body the pipeline routes; ``history`` is the
list of items replayed from ``previous_response_id`` (earlier inputs and outputs, in order).
"""
from app import errors

# Responses parameters with the same meaning in chat.completions, under the same name.
# ``stop`` is not a Responses API field; a client that sends it gets chat completions' stop.
_SAME = ("model", "temperature", "top_p", "parallel_tool_calls", "user", "stream", "stop")


def to_chat(body, history=()):
    """The chat.completions body for a validated Responses ``body``."""
    chat = {k: body[k] for k in _SAME if body.get(k) is not None}
    if body.get("metadata") is not None:
        chat["metadata"] = body["metadata"]  # logged by the pipeline, never sent upstream
    messages = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": body["instructions"]})
    messages.extend(to_messages([*history, *input_items(body["input"])]))
    chat["messages"] = messages
    if body.get("stream"):
        chat["stream_options"] = {"include_usage": True}  # usage belongs on response.completed
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    tools = [chat_tool(t) for t in body.get("tools") or () if t.get("type") == "function"]
    if tools:
        chat["tools"] = tools
    if body.get("tool_choice") is not None and tools:
        chat["tool_choice"] = chat_tool_choice(body["tool_choice"])
    fmt = (body.get("text") or {}).get("format")
    if fmt and fmt.get("type") != "text":
        chat["response_format"] = response_format(fmt)
    effort = (body.get("reasoning") or {}).get("effort")
    if effort:
        chat["reasoning_effort"] = effort
    return chat


def input_items(value):
    """The input as a list of items (a string is one user message)."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return value


def to_messages(items):
    """Chat messages for Responses items; consecutive function calls share one assistant turn."""
    messages = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item))
        elif kind == "function_call":
            _add_tool_call(messages, item)
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item["call_id"],
                             "content": _text(item["output"])})
        elif kind == "reasoning":
            continue  # provider-private; chat has no place for it
        else:
            raise errors.InvalidRequestError(
                f"Input items of type '{kind}' are not supported for this model.", param="input")
    return messages


def _message(item):
    role, content = item["role"], item["content"]
    if role == "developer":
        role = "system"  # most providers know only system
    if isinstance(content, str):
        return {"role": role, "content": content}
    if role == "user":
        return {"role": role, "content": [_user_part(p) for p in content]}
    return {"role": role, "content": _text(content)}


def _user_part(part):
    kind = part.get("type")
    if kind == "input_image":
        if not part.get("image_url"):
            raise errors.InvalidRequestError(
                "input_image with file_id needs an OpenAI deployment; send image_url instead.",
                param="input")
        image = {"url": part["image_url"]}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        raise errors.InvalidRequestError(
            "input_file needs an OpenAI deployment.", param="input")
    return {"type": "text", "text": part.get("text") or part.get("refusal") or ""}


def _text(content):
    if isinstance(content, str):
        return content
    return "".join(p.get("text") or p.get("refusal") or "" for p in content)


def _add_tool_call(messages, item):
    call = {"id": item["call_id"], "type": "function",
            "function": {"name": item["name"], "arguments": item["arguments"]}}
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant" and not isinstance(last["content"], list):
        last.setdefault("tool_calls", []).append(call)
        return
    messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def chat_tool(tool):
    """A Responses function tool as a chat tool."""
    function = {"name": tool["name"]}
    for key in ("description", "parameters", "strict"):
        if tool.get(key) is not None:
            function[key] = tool[key]
    return {"type": "function", "function": function}


def chat_tool_choice(choice):
    """tool_choice in chat's spelling."""
    if isinstance(choice, str):
        return choice
    if choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice["name"]}}
    raise errors.InvalidRequestError(
        f"tool_choice of type '{choice.get('type')}' needs an OpenAI deployment.",
        param="tool_choice")


def response_format(fmt):
    """text.format as chat's response_format."""
    if fmt["type"] == "json_object":
        return {"type": "json_object"}
    schema = {"name": fmt["name"], "schema": fmt["schema"]}
    for key in ("strict", "description"):
        if fmt.get(key) is not None:
            schema[key] = fmt[key]
    return {"type": "json_schema", "json_schema": schema}
