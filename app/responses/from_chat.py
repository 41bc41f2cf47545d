"""chat.completions result -> a Responses ``response`` object (pure functions over plain dicts).

``skeleton`` is the object before any output (what a stream's ``response.created`` carries);
``from_chat`` fills it from a whole chat.completion; ``usage`` and ``finish`` are shared with the
stream encoder (``events.py``).
"""
import os
import time

# chat finish_reason -> Responses incomplete_details.reason (anything else is complete)
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
# Request fields echoed on the response object, with OpenAI's defaults.
_ECHO = {"instructions": None, "max_output_tokens": None, "metadata": {},
         "parallel_tool_calls": True, "previous_response_id": None, "store": True,
         "temperature": 1.0, "tool_choice": "auto", "tools": [], "top_p": 1.0, "user": None}


def new_id(prefix):
    """An OpenAI-looking id: ``resp_``, ``msg_``, ``fc_`` + 48 hex digits."""
    return prefix + os.urandom(24).hex()


def skeleton(body, response_id=None, created_at=None):
    """The response object for request ``body`` with no output yet (status in_progress)."""
    out = {"id": response_id or new_id("resp_"), "object": "response",
           "created_at": created_at or int(time.time()), "status": "in_progress",
           "background": False, "error": None, "incomplete_details": None,
           "model": body["model"], "output": [], "output_text": "", "usage": None}
    for key, default in _ECHO.items():
        value = body.get(key)
        out[key] = default if value is None else value
    out["text"] = body.get("text") or {"format": {"type": "text"}}
    out["reasoning"] = body.get("reasoning") or {"effort": None, "summary": None}
    return out


def from_chat(body, result, response_id=None):
    """The finished response object for ``body`` from a chat.completion dict."""
    response = skeleton(body, response_id)
    choice = (result.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    output = []
    if message.get("content"):
        output.append(message_item(message["content"]))
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        output.append(function_call_item(call.get("id") or new_id("call_"),
                                         function.get("name") or "",
                                         function.get("arguments") or ""))
    response["output"] = output
    finish(response, choice.get("finish_reason"), usage(result.get("usage")))
    if result.get("model"):
        response["model"] = body["model"]  # the public name, as chat completions show it
    return response


def message_item(text, item_id=None, status="completed"):
    """An assistant message output item holding one output_text part."""
    return {"type": "message", "id": item_id or new_id("msg_"), "status": status,
            "role": "assistant", "content": [output_text(text)]}


def output_text(text):
    """An output_text content part."""
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_call_item(call_id, name, arguments, item_id=None, status="completed"):
    """A function_call output item."""
    return {"type": "function_call", "id": item_id or new_id("fc_"), "call_id": call_id,
            "name": name, "arguments": arguments, "status": status}


def usage(chat_usage):
    """Chat usage (prompt/completion tokens) in the Responses spelling, or None."""
    if not chat_usage:
        return None
    prompt = int(chat_usage.get("prompt_tokens") or 0)
    completion = int(chat_usage.get("completion_tokens") or 0)
    cached = ((chat_usage.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0
    reasoning = ((chat_usage.get("completion_tokens_details") or {})
                 .get("reasoning_tokens")) or 0
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": int(chat_usage.get("total_tokens") or prompt + completion)}


def chat_usage(response_usage):
    """Responses usage in the chat spelling (for logs, metrics and cost)."""
    if not response_usage:
        return None
    prompt = int(response_usage.get("input_tokens") or 0)
    completion = int(response_usage.get("output_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": int(response_usage.get("total_tokens") or prompt + completion)}


def finish(response, finish_reason, response_usage):
    """Set status, incomplete_details, usage and output_text on a finished response."""
    reason = _INCOMPLETE.get(finish_reason)
    response["status"] = "incomplete" if reason else "completed"
    response["incomplete_details"] = {"reason": reason} if reason else None
    response["usage"] = response_usage
    response["output_text"] = text_of(response["output"])
    return response


def text_of(output):
    """The concatenated output_text of the message items (the SDK's ``output_text``)."""
    return "".join(part.get("text") or "" for item in output if item.get("type") == "message"
                   for part in item.get("content") or () if part.get("type") == "output_text")
