"""Anthropic Messages <-> the gateway's internal chat form, as pure functions over dicts.

One function per direction: ``to_chat`` (a Messages request body -> a chat completions body, for
every provider that does not speak Messages itself) and ``to_message`` (a ``chat.completion`` ->
Anthropic's ``message`` object). The stream direction is ``stream.MessagesFrame``.
"""
import uuid

import orjson


# finish_reason -> Anthropic stop_reason
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "function_call": "tool_use", "content_filter": "refusal"}
CHAT_SOURCES = ("base64", "url")


def message_id():
    """A fresh Anthropic-style message id."""
    return "msg_" + uuid.uuid4().hex[:24]


# -- request: Messages -> chat --------------------------------------------------------------------

def to_chat(body):
    """The chat completions body for a (validated) Messages body, which is left untouched."""
    messages = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _system_text(system)})
    for msg in body["messages"]:
        messages.extend(_ROLES[msg["role"]](msg["content"]))
    out = {"model": body["model"], "messages": messages, "max_tokens": body["max_tokens"]}
    for key in ("temperature", "top_p", "stream"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        out["stop"] = body["stop_sequences"]
    tools = [_tool(t) for t in body.get("tools") or () if _client_tool(t)]
    if tools:  # server tools are left out (refused unless the deployment is Anthropic's)
        out["tools"] = tools
    choice = body.get("tool_choice")
    if choice and out.get("tools"):
        out.update(_tool_choice(choice))
    user = (body.get("metadata") or {}).get("user_id")
    if user:
        out["user"] = user
    # ``thinking`` and ``top_k`` are not sent: Claude Code asks for thinking on whatever model
    # a Claude name is routed to, and a non-reasoning model refuses reasoning_effort. A
    # deployment chooses its own (litellm_params.reasoning_effort).
    return out


def anthropic_only(body):
    """Why ``body`` can only be served by a provider speaking Messages natively, or None."""
    for tool in body.get("tools") or ():
        if not _client_tool(tool):
            return f"the tool type '{tool['type']}' is an Anthropic server tool"
    for msg in body["messages"]:
        for block in msg["content"] if isinstance(msg["content"], list) else ():
            source = block.get("source") if block["type"] in ("image", "document") else None
            if source and source["type"] not in (CHAT_SOURCES if block["type"] == "image"
                                                 else ("base64",)):
                return f"a {block['type']} with a '{source['type']}' source"
    return None


def _client_tool(tool):
    return tool.get("type") in (None, "custom")


def _system_text(system):
    # Blocks are joined: not every chat provider takes parts in a system message.
    if isinstance(system, str):
        return system
    return "\n\n".join(b["text"] for b in system if b.get("text"))


def _user(content):
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    # tool_result blocks become tool messages, which must directly follow the tool calls.
    tools = [_tool_result(b) for b in content if b["type"] == "tool_result"]
    parts = [p for p in (_user_part(b) for b in content if b["type"] != "tool_result") if p]
    if parts:
        tools.append({"role": "user", "content": _compact(parts)})
    return tools


def _assistant(content):
    if isinstance(content, str):
        return [{"role": "assistant", "content": content}]
    text, calls = [], []
    for block in content:
        kind = block["type"]
        if kind == "text":
            text.append(block["text"])
        elif kind == "tool_use":
            calls.append({"id": block["id"], "type": "function",
                          "function": {"name": block["name"],
                                       "arguments": orjson.dumps(block.get("input") or {})
                                       .decode()}})
        # thinking blocks are dropped: only Anthropic reads them back (and gets them natively)
    msg = {"role": "assistant", "content": "".join(text) or None}
    if calls:
        msg["tool_calls"] = calls
    if msg["content"] is None and not calls:
        msg["content"] = ""
    return [msg]


_ROLES = {"user": _user, "assistant": _assistant}


def _user_part(block):
    kind = block["type"]
    if kind == "text":
        return {"type": "text", "text": block["text"]} if block["text"] else None
    if kind == "image" and block["source"]["type"] in CHAT_SOURCES:
        return {"type": "image_url", "image_url": {"url": _source_url(block["source"])}}
    if kind == "document" and block["source"]["type"] == "base64":
        return {"type": "file", "file": {"file_data": _source_url(block["source"])}}
    # thinking blocks in a user turn, search results ...: nothing a chat model can read
    return None


def _source_url(source):
    if source["type"] == "base64":
        return f"data:{source['media_type']};base64,{source['data']}"
    return source.get("url")  # other source types are refused by ``anthropic_only``


def _tool_result(block):
    content = block.get("content")
    if isinstance(content, list):
        content = "\n".join(b.get("text", "") for b in content if b.get("type") == "text")
    content = content or ""
    if block.get("is_error"):
        content = "Error: " + content
    return {"role": "tool", "tool_call_id": block["tool_use_id"], "content": content}


def _compact(parts):
    if len(parts) == 1 and parts[0]["type"] == "text":
        return parts[0]["text"]
    return parts


def _tool(tool):
    fn = {"name": tool["name"],
          "parameters": tool.get("input_schema") or {"type": "object", "properties": {}}}
    if tool.get("description"):
        fn["description"] = tool["description"]
    return {"type": "function", "function": fn}


def _tool_choice(choice):
    kind = choice["type"]
    out = {}
    if kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        out["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[kind]
    if choice.get("disable_parallel_tool_use") and kind != "none":
        out["parallel_tool_calls"] = False
    return out


# -- response: chat.completion -> message ---------------------------------------------------------

def to_message(completion, model):
    """Anthropic's ``message`` object for a ``chat.completion``."""
    choice = (completion.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    content = []
    for block in msg.get("thinking_blocks") or ():
        content.append(block)
    if not content and msg.get("reasoning_content"):
        content.append({"type": "thinking", "thinking": msg["reasoning_content"],
                        "signature": ""})
    text = _text(msg.get("content"))
    if text:
        content.append({"type": "text", "text": text})
    for call in msg.get("tool_calls") or ():
        fn = call.get("function") or {}
        content.append({"type": "tool_use", "id": call.get("id") or tool_use_id(),
                        "name": fn.get("name"), "input": tool_input(fn.get("arguments"))})
    return {"id": message_id(), "type": "message", "role": "assistant",
            "model": completion.get("model") or model, "content": content,
            "stop_reason": stop_reason(choice.get("finish_reason")), "stop_sequence": None,
            "usage": usage(completion.get("usage"))}


def _text(content):
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def stop_reason(finish_reason):
    """Anthropic's stop_reason for an OpenAI finish_reason."""
    return STOP_REASONS.get(finish_reason, "end_turn")


def tool_use_id():
    """A fresh tool_use id (for providers that give none)."""
    return "toolu_" + uuid.uuid4().hex[:24]


def tool_input(arguments):
    """A tool call's JSON-string arguments as an object (what is not one is kept as a string)."""
    if isinstance(arguments, dict):
        return arguments
    try:
        value = orjson.loads(arguments) if arguments and arguments.strip() else {}
    except orjson.JSONDecodeError:
        return {"arguments": arguments}
    return value if isinstance(value, dict) else {"arguments": value}


def usage(chat_usage):
    """Anthropic usage for OpenAI's: cached prompt tokens are reported as cache reads."""
    chat_usage = chat_usage or {}
    prompt = int(chat_usage.get("prompt_tokens") or 0)
    cached = int((chat_usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    return {"input_tokens": prompt - cached, "output_tokens":
            int(chat_usage.get("completion_tokens") or 0),
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": cached}
