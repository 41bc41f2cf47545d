"""Stored answers: what may be stored, a finished stream folded into one completion, a stored
completion replayed as a stream.

One format for both ways in: the OpenAI completion object (``chat.completion`` or
``text_completion``), so a stored stream answers a later non-stream request and the other way
round. Entries are ``b"<stored at, unix ms>\\n" + payload``; the age serves ``s-maxage``.
"""
import time

import orjson

from app.streaming import Framed

PIECE = 96  # characters of content per replayed chunk ...
MAX_PIECES = 64  # ... or more, so a long answer is not thousands of writes


def pack(payload):
    """An entry: the time it was stored, then the payload."""
    return b"%d\n%s" % (int(time.time() * 1000), payload)


def unpack(entry, max_age=None):
    """The payload of an entry, or None when it is older than ``max_age`` s or not ours."""
    stamp, _, payload = entry.partition(b"\n")
    try:
        age = time.time() - int(stamp) / 1000
    except ValueError:  # something else under our namespace: a miss, not a 500
        return None
    return payload if max_age is None or age <= max_age else None


def storable(endpoint, answer):
    """True for a complete answer with no refusal; errors never get here."""
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not choices or not isinstance(choices, list):
        return False
    for choice in choices:
        if not isinstance(choice, dict) or choice.get("finish_reason") == "content_filter":
            return False
        message = choice.get("message")
        if endpoint == "chat" and (not isinstance(message, dict) or message.get("refusal")):
            return False
    return True


# -- a finished stream -> one completion ---------------------------------------------------------

def assemble(endpoint, payloads, usage=None):
    """The completion a finished stream amounts to, or None if it is not complete."""
    first, choices = None, {}
    for payload in payloads:
        chunk = orjson.loads(payload)
        if first is None and chunk.get("choices"):
            first = chunk
        usage = chunk.get("usage") or usage
        for part in chunk.get("choices") or ():
            slot = choices.setdefault(part.get("index", 0), _slot(endpoint))
            _merge(endpoint, slot, part)
    if first is None or any(s["finish_reason"] is None for s in choices.values()):
        return None
    answer = {k: v for k, v in first.items() if k not in ("choices", "usage", "object")}
    answer["object"] = "chat.completion" if endpoint == "chat" else "text_completion"
    answer["choices"] = [_finish(endpoint, i, choices[i]) for i in sorted(choices)]
    if usage:
        answer["usage"] = usage
    return answer


def _slot(endpoint):
    return {"text": [], "refusal": [], "tools": {}, "finish_reason": None, "role": "assistant"}


def _merge(endpoint, slot, part):
    if part.get("finish_reason"):
        slot["finish_reason"] = part["finish_reason"]
    if endpoint != "chat":
        slot["text"].append(part.get("text") or "")
        return
    delta = part.get("delta") or {}
    slot["role"] = delta.get("role") or slot["role"]
    slot["text"].append(delta.get("content") or "")
    slot["refusal"].append(delta.get("refusal") or "")
    for call in delta.get("tool_calls") or ():
        tool = slot["tools"].setdefault(call.get("index", 0), {
            "id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        tool["id"] = call.get("id") or tool["id"]
        fn = call.get("function") or {}
        tool["function"]["name"] += fn.get("name") or ""
        tool["function"]["arguments"] += fn.get("arguments") or ""


def _finish(endpoint, index, slot):
    text = "".join(slot["text"])
    if endpoint != "chat":
        return {"text": text, "index": index, "logprobs": None,
                "finish_reason": slot["finish_reason"]}
    message = {"role": slot["role"], "content": text or None,
               "refusal": "".join(slot["refusal"]) or None}
    if slot["tools"]:
        message["tool_calls"] = [slot["tools"][i] for i in sorted(slot["tools"])]
    return {"index": index, "message": message, "logprobs": None,
            "finish_reason": slot["finish_reason"]}


# -- one completion -> a stream ------------------------------------------------------------------

def replay(endpoint, answer, include_usage=False):
    """The chunk payloads (JSON bytes) of a stream that says what ``answer`` says."""
    chat = endpoint == "chat"
    base = {k: v for k, v in answer.items() if k not in ("choices", "usage", "object")}
    base["object"] = "chat.completion.chunk" if chat else "text_completion"
    if include_usage:
        base["usage"] = None
    out = []
    for choice in answer["choices"]:
        parts = _chat_parts(choice) if chat else _text_parts(choice)
        out.extend(orjson.dumps(dict(base, choices=[part])) for part in parts)
    if include_usage:
        out.append(orjson.dumps(dict(base, choices=[], usage=answer.get("usage"))))
    return out


def _pieces(text):
    size = max(PIECE, -(-len(text) // MAX_PIECES))
    return [text[i:i + size] for i in range(0, len(text), size)]


def _chat_parts(choice):
    index, message = choice.get("index", 0), choice.get("message") or {}

    def part(delta, finish_reason=None):
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    parts = [part({"role": message.get("role") or "assistant", "content": ""})]
    parts += [part({"content": piece}) for piece in _pieces(message.get("content") or "")]
    tools = message.get("tool_calls")
    if tools:
        parts.append(part({"tool_calls": [dict(t, index=i) for i, t in enumerate(tools)]}))
    parts.append(part({}, choice.get("finish_reason") or "stop"))
    return parts


def _text_parts(choice):
    index = choice.get("index", 0)

    def part(text, finish_reason=None):
        return {"text": text, "index": index, "logprobs": None, "finish_reason": finish_reason}
    parts = [part(piece) for piece in _pieces(choice.get("text") or "")]
    parts.append(part("", choice.get("finish_reason") or "stop"))
    return parts


class Replay:
    """A stored answer served as an open upstream stream (iterate for chunk payloads)."""

    __slots__ = ("payloads",)

    def __init__(self, payloads):
        self.payloads = payloads

    def __iter__(self):
        return iter(self.payloads)

    def close(self):
        """Nothing to release."""


class Recorder:
    """Wraps an upstream stream: passes its payloads on and calls ``done(payloads)`` only when
    the stream ended normally (a broken or abandoned stream is never handed on)."""

    __slots__ = ("stream", "done", "limit", "payloads", "size")

    def __init__(self, stream, done, limit):
        self.stream, self.done, self.limit = stream, done, limit
        self.payloads, self.size = [], 0

    def __iter__(self):
        payloads = self.payloads
        for payload in self.stream:
            if payloads is not None:
                self.size += len(payload)
                if self.size > self.limit:  # too big to store: stop keeping it
                    payloads = self.payloads = None
                elif isinstance(payload, Framed):  # several relayed events in one block
                    payloads.extend(payload.payloads())
                else:
                    payloads.append(payload)
            yield payload
        if payloads is not None:
            self.done(payloads)

    def close(self):
        """Close the upstream."""
        self.stream.close()
