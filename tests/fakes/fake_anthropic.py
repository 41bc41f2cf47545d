"""A fake Anthropic Messages API server for end-to-end tests (stdlib only).

Run ``python tests/fakes/fake_anthropic.py --port 0``: it binds 127.0.0.1, prints
``LISTENING <port>`` and answers ``POST /v1/messages`` in Anthropic's wire format:

- ``x-api-key`` required (``sk-ant-bad`` -> 401 authentication_error), ``anthropic-version``
  required; ``max_tokens``, ``model`` and ``messages`` required; unknown top-level fields,
  roles that do not alternate, and tool_use blocks without a tool_result in the next user turn
  are refused with 400 invalid_request_error, as the real API does;
- with ``tools`` (and tool_choice not ``none``) and no tool_result in the last user turn, the
  model calls the chosen (or first) tool with ``{"query": <last user text>}``; after a
  tool_result it answers ``tool said: <result>``; otherwise ``echo: <last user text>``
  (a JSON object when ``output_config.format`` asks for JSON); ``max_tokens`` cuts the reply;
- ``POST /v1/messages/count_tokens`` -> ``{"input_tokens": N}`` (same count as a message's
  usage; generation parameters such as max_tokens are refused, as the real API does);
- ``"stream": true`` -> the SSE events message_start, content_block_start, ping,
  content_block_delta (text_delta / input_json_delta), content_block_stop, message_delta,
  message_stop.

Test control and scripted behaviours: see tests/fakes/base.py. A scripted stream event that is
a string goes on the wire as it is (no ``data:`` line added).
"""
import json
import sys
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the tests package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.base import FakeHandler, serve  # noqa: E402

BAD_KEY = "sk-ant-bad"
TOP_LEVEL = {"model", "messages", "max_tokens", "system", "stop_sequences", "stream",
             "temperature", "top_p", "top_k", "tools", "tool_choice", "metadata", "thinking",
             "output_config", "service_tier", "container", "mcp_servers", "context_management",
             "inference_geo"}


def error_body(type_, message):
    """Anthropic's error object."""
    return {"type": "error", "error": {"type": type_, "message": message},
            "request_id": "req_" + uuid.uuid4().hex[:24]}


def blocks_of(content):
    """A message content as a list of blocks."""
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def text_of(content):
    """The text in a content (string, text blocks, tool_result contents)."""
    parts = []
    for block in blocks_of(content or []):
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif block.get("type") == "tool_result":
            parts.append(text_of(block.get("content") or ""))
    return " ".join(p for p in parts if p)


def count_tokens(text):
    """One token per word, at least one."""
    return max(1, len(str(text).split()))


def check(body):
    """The 400 message for a request the real API refuses, or None."""
    for key in ("model", "messages", "max_tokens"):
        if key not in body:
            return f"{key}: Field required"
    extra = sorted(set(body) - TOP_LEVEL)
    if extra:
        return f"{extra[0]}: Extra inputs are not permitted"
    messages = body["messages"]
    for index, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            return f"messages.{index}.role: Input should be 'user' or 'assistant'"
        if index and messages[index - 1]["role"] == message["role"]:
            return "messages: roles must alternate between \"user\" and \"assistant\""
        if message["role"] == "assistant":
            ids = {b["id"] for b in blocks_of(message["content"]) if b.get("type") == "tool_use"}
            after = messages[index + 1]["content"] if index + 1 < len(messages) else []
            answered = {b.get("tool_use_id") for b in blocks_of(after)
                        if b.get("type") == "tool_result"}
            if ids - answered:
                return (f"messages.{index + 1}: `tool_use` ids were found without "
                        "`tool_result` blocks immediately after")
    return None


def reply_for(body):
    """(content blocks, stop_reason) the fake model answers with."""
    last = body["messages"][-1]
    blocks = blocks_of(last["content"])
    text = text_of([b for b in blocks if b.get("type") == "text"])
    results = [b for b in blocks if b.get("type") == "tool_result"]
    choice = body.get("tool_choice") or {}
    if body.get("tools") and not results and choice.get("type") != "none":
        name = choice.get("name") or body["tools"][0]["name"]
        return [{"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:24], "name": name,
                 "input": {"query": text}}], "tool_use"
    reply = ("tool said: " + text_of(results)) if results else "echo: " + text
    if ((body.get("output_config") or {}).get("format") or {}).get("type") == "json_schema":
        reply = json.dumps({"echo": reply})
    words = reply.split(" ")
    if len(words) > body["max_tokens"]:
        return [{"type": "text", "text": " ".join(words[:body["max_tokens"]])}], "max_tokens"
    return [{"type": "text", "text": reply}], "end_turn"


def prompt_tokens(body):
    """The input token count of a request body."""
    return count_tokens(text_of(body.get("system") or "") + " " + " ".join(
        text_of(m["content"]) for m in body["messages"]))


COUNT_FIELDS = {"model", "messages", "system", "tools", "tool_choice", "thinking",
                "mcp_servers", "context_management", "output_config"}


def count_answer(body):
    """(status, body) for POST /v1/messages/count_tokens."""
    extra = sorted(set(body) - COUNT_FIELDS) if isinstance(body, dict) else ["body"]
    if extra or "messages" not in body or "model" not in body:
        problem = f"{extra[0]}: Extra inputs are not permitted" if extra else "Field required"
        return 400, error_body("invalid_request_error", problem)
    return 200, {"input_tokens": prompt_tokens(body)}


def message_for(body):
    """A whole ``message`` object for a request body."""
    content, stop_reason = reply_for(body)
    output = sum(count_tokens(b.get("text") or json.dumps(b.get("input"))) for b in content)
    return {"id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "role": "assistant",
            "model": body["model"], "content": content, "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens(body), "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": output,
                      "service_tier": "standard"}}


def pieces(text, size):
    """text cut into pieces of ``size`` characters."""
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def stream_events(message):
    """The SSE events of a streamed ``message``."""
    start = dict(message, content=[], stop_reason=None,
                 usage=dict(message["usage"], output_tokens=1))
    events = [{"type": "message_start", "message": start}, {"type": "ping"}]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            events.append({"type": "content_block_start", "index": index,
                           "content_block": {"type": "text", "text": ""}})
            events += [{"type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": p}}
                       for p in pieces(block["text"], 6)]
        else:
            events.append({"type": "content_block_start", "index": index,
                           "content_block": dict(block, input={})})
            events += [{"type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": p}}
                       for p in [""] + pieces(json.dumps(block["input"]), 8)]
        events.append({"type": "content_block_stop", "index": index})
    events.append({"type": "message_delta",
                   "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                   "usage": {"output_tokens": message["usage"]["output_tokens"]}})
    events.append({"type": "message_stop"})
    return events


class Handler(FakeHandler):
    """POST /v1/messages, after any scripted behaviour (tests/fakes/base.py)."""

    server_version = "FakeAnthropic/1.0"

    def send(self, status, payload, content_type="application/json", headers=None):
        """Every answer carries Anthropic's ``request-id`` header."""
        headers = {"request-id": "req_" + uuid.uuid4().hex[:24], **(headers or {})}
        return super().send(status, payload, content_type, headers)

    def frame(self, event):
        """Dict events are framed with their ``event:`` name; strings go out as they are."""
        if isinstance(event, str):
            return event.encode()
        return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()

    def api(self, path, body, script):
        """POST /v1/messages."""
        if self.command != "POST" or path not in ("/v1/messages", "/v1/messages/count_tokens"):
            return self.send(404, error_body("not_found_error", f"Not found: {path}"))
        key = self.headers.get("x-api-key")
        if not key:
            return self.send(401, error_body("authentication_error",
                                             "x-api-key header is required"))
        if key == BAD_KEY:
            return self.send(401, error_body("authentication_error", "invalid x-api-key"))
        if not self.headers.get("anthropic-version"):
            return self.send(400, error_body("invalid_request_error",
                                             "anthropic-version: header is required"))
        if not isinstance(body, dict):
            return self.send(400, error_body("invalid_request_error",
                                             "There was an issue with the request body"))
        if path.endswith("/count_tokens"):
            return self.send(*count_answer(body))
        problem = check(body)
        if problem:
            return self.send(400, error_body("invalid_request_error", problem))
        message = message_for(body)
        if body.get("stream"):
            return self.send_chunked([self.frame(e) for e in stream_events(message)],
                                     delay=script.get("stream_delay_ms", 0) / 1000)
        return self.send(200, message)


def main(argv=None):
    """Serve until killed."""
    serve(Handler, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
