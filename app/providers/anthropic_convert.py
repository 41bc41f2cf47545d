"""OpenAI chat messages -> Anthropic Messages ``system`` + ``messages`` (pure functions).

System/developer messages are lifted to ``system``; same-role turns are merged (tool results
become user ``tool_result`` blocks); tool calls become ``tool_use`` blocks, images ``image``
blocks, PDFs ``document`` blocks; ``cache_control`` marks are kept on the block they belong to.
"""
from app import errors
from app.providers import common
from app.providers.anthropic_stream import NAME


def convert_messages(messages):
    """(system, messages) for Anthropic: system lifted out, consecutive same roles merged."""
    system, turns = [], []
    for msg in messages:
        role = msg["role"]
        if role in ("system", "developer"):
            system.extend(_with_cache_control(_text_blocks(msg["content"]), msg))
            continue
        if role not in _CONVERTERS:
            raise errors.InvalidRequestError(
                f"{NAME} does not support '{role}' messages; use tools and tool messages",
                param="messages")
        role, blocks = _CONVERTERS[role](msg)
        blocks = _with_cache_control(blocks, msg)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return _compact(system), [{"role": t["role"], "content": _compact(t["content"])}
                              for t in turns]


def _user(msg):
    content = msg["content"]
    if isinstance(content, str):
        return "user", _text_blocks(content)
    return "user", [_user_part(p) for p in content if not _empty_text(p)]


def _assistant(msg):
    # Thinking blocks handed back from an earlier answer must lead the turn (tool use + thinking).
    blocks = list(msg.get("thinking_blocks") or ())
    blocks += _text_blocks(msg.get("content"))
    for call in msg.get("tool_calls") or ():
        if call.get("type") != "function":
            raise errors.InvalidRequestError(f"{NAME} only supports function tool calls",
                                             param="messages")
        blocks.append({"type": "tool_use", "id": call["id"], "name": call["function"]["name"],
                       "input": common.tool_arguments(call["function"].get("arguments"))})
    return "assistant", blocks


def _tool(msg):
    content = msg["content"]
    result = {"type": "tool_result", "tool_use_id": msg["tool_call_id"],
              "content": content if isinstance(content, str) else _text_blocks(content)}
    return "user", [result]


_CONVERTERS = {"user": _user, "assistant": _assistant, "tool": _tool}


def _text_blocks(content):
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    # Refusal parts of an earlier assistant answer are replayed as its text.
    return [keep_cache_control({"type": "text", "text": p.get("text") or p.get("refusal")}, p)
            for p in content if not _empty_text(p) and p.get("type") in ("text", "refusal")]


def _empty_text(part):
    # Anthropic refuses empty text blocks; OpenAI clients send them (e.g. content: "").
    return part.get("type") in ("text", "refusal") and not (part.get("text") or
                                                            part.get("refusal"))


def _user_part(part):
    kind = part.get("type")
    if kind == "text":
        return keep_cache_control({"type": "text", "text": part["text"]}, part)
    if kind == "image_url":
        return keep_cache_control(_image(part["image_url"]["url"]), part)
    if kind == "file" and (part.get("file") or {}).get("file_data"):
        return keep_cache_control(_document(part["file"]["file_data"]), part)
    raise errors.InvalidRequestError(f"{NAME} does not support '{kind}' content parts here",
                                     param="messages")


def _image(url):
    parsed = common.parse_data_uri(url)
    if parsed is None:
        return {"type": "image", "source": {"type": "url", "url": url}}
    mime, data = parsed
    if mime == "application/pdf":
        return _document(url)
    return {"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}}


def _document(data_uri):
    parsed = common.parse_data_uri(data_uri)
    if parsed is None or parsed[0] != "application/pdf":
        raise errors.InvalidRequestError(f"{NAME} accepts files as base64 PDF data URIs",
                                         param="messages")
    return {"type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": parsed[1]}}




def keep_cache_control(block, part):
    """Copy ``part``'s cache_control onto ``block`` (LiteLLM's prompt-caching convention)."""
    if isinstance(part.get("cache_control"), dict):
        block["cache_control"] = part["cache_control"]
    return block


def _with_cache_control(blocks, msg):
    # ... or on a whole message, meaning its last block.
    if blocks and isinstance(msg.get("cache_control"), dict):
        blocks[-1] = {**blocks[-1], "cache_control": msg["cache_control"]}
    return blocks


def _compact(blocks):
    # A lone plain text block is sent as a string: shorter, and what Anthropic's docs show.
    if len(blocks) == 1 and blocks[0]["type"] == "text" and set(blocks[0]) == {"type", "text"}:
        return blocks[0]["text"]
    return blocks
