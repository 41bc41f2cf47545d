"""A fake Cohere v2 API server for end-to-end tests (stdlib only).

Run ``python tests/fakes/fake_cohere.py --port 0``: it binds 127.0.0.1, prints
``LISTENING <port>`` and answers with Cohere's v2 wire formats:

    POST /v2/chat    {"id", "message": {"role", "content"|"tool_plan"+"tool_calls"},
                     "finish_reason", "usage": {"billed_units", "tokens"}}; with "stream": true,
                     typed SSE events (event: <type> / data: {...}) from message-start to
                     message-end, then data: [DONE]
    POST /v2/embed   {"id", "texts", "embeddings": {"float": [...]}, "meta": {...},
                     "response_type": "embeddings_by_type"}

Behaviour: replies echo the last user text ("echo: ..."); with tools and a user turn last (and
tool_choice not NONE) the model calls the first tool, filling each string parameter with the user
text; after a tool turn it echoes the tool output. ``max_tokens`` cuts the reply (MAX_TOKENS).
Errors are Cohere's ``{"id", "message"}``: no key -> 401 "no api key supplied", key "co-bad" ->
401 "invalid api token", temperature outside 0..1 or p outside 0.01..0.99 -> 400, model
"command-nope" -> 404, embed without input_type -> 400.

Test control and scripted behaviours: see tests/fakes/base.py (a scripted stream ends with
``data: [DONE]`` only when it says ``"done": true``).
"""
import json
import sys
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the tests package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.base import FakeHandler, serve  # noqa: E402
# The same content text (v2 content blocks are OpenAI's) and deterministic float32-exact vectors.
from tests.fakes.fake_openai import embedding_vector, text_of  # noqa: E402


def words(text):
    """Whitespace-separated words (the fake's tokenizer)."""
    return str(text).split()


def usage(body, output):
    """Cohere's usage object: billed units and tokens (prompt words, reply words)."""
    prompt = sum(len(words(text_of(m.get("content")))) for m in body.get("messages") or [])
    return {"billed_units": {"input_tokens": prompt, "output_tokens": output},
            "tokens": {"input_tokens": prompt + 7, "output_tokens": output}}


def error(message):
    """Cohere's error body."""
    return {"id": str(uuid.uuid4()), "message": message}


def check_chat(body):
    """(status, message) for a chat body Cohere would refuse, else None."""
    if not body.get("model"):
        return 400, "a model parameter is required for this endpoint."
    if body["model"] == "command-nope":
        return 404, (f"model '{body['model']}' not found, make sure the correct model ID was "
                     "used and that you have access to the model.")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return 400, "invalid request: messages must not be empty"
    for message in body["messages"]:
        if message.get("role") not in ("system", "user", "assistant", "tool"):
            return 400, f"invalid request: invalid role {message.get('role')!r}"
        if message["role"] == "tool" and not message.get("tool_call_id"):
            return 400, "tool call id must be provided with tool message"
    if not 0 <= body.get("temperature", 0) <= 1:
        return 400, "invalid request: temperature must be between 0 and 1.0 inclusive."
    if not 0.01 <= body.get("p", 0.75) <= 0.99:
        return 400, "invalid request: p must be between 0.01 and 0.99 inclusive."
    return None


def plan(body):
    """What the model does: ("tool", tool, args) or ("text", reply, finish_reason)."""
    messages = body["messages"]
    last = messages[-1]
    tools = body.get("tools") or []
    if tools and last["role"] == "user" and body.get("tool_choice") != "NONE":
        tool = tools[0]["function"]
        props = (tool.get("parameters") or {}).get("properties") or {}
        args = {k: text_of(last["content"]) for k, v in props.items()
                if v.get("type") == "string"}
        return "tool", tool["name"], args
    source = last if last["role"] == "tool" else next(
        (m for m in reversed(messages) if m["role"] == "user"), last)
    reply = words("echo: " + text_of(source.get("content")))
    limit = body.get("max_tokens")
    if limit and len(reply) > limit:
        return "text", " ".join(reply[:limit]), "MAX_TOKENS"
    return "text", " ".join(reply), "COMPLETE"


def chat(body):
    """A non-streamed v2 chat response."""
    kind, what, detail = plan(body)
    rid = str(uuid.uuid4())
    if kind == "tool":
        calls = [{"id": f"{what}_{uuid.uuid4().hex[:12]}", "type": "function",
                  "function": {"name": what, "arguments": json.dumps(detail)}}]
        message = {"role": "assistant", "tool_plan": f"I will use the {what} tool.",
                   "tool_calls": calls}
        return {"id": rid, "message": message, "finish_reason": "TOOL_CALL",
                "usage": usage(body, 9)}
    message = {"role": "assistant", "content": [{"type": "text", "text": what}]}
    return {"id": rid, "message": message, "finish_reason": detail,
            "usage": usage(body, len(words(what)))}


def chat_events(body):
    """The typed v2 stream events for a body."""
    kind, what, detail = plan(body)
    events = [{"id": str(uuid.uuid4()), "type": "message-start", "delta": {"message": {
        "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}]
    if kind == "tool":
        for piece in ["I", " will", " use", f" the {what}", " tool."]:
            events.append({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}})
        args = json.dumps(detail)
        events.append({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
            "id": f"{what}_{uuid.uuid4().hex[:12]}", "type": "function",
            "function": {"name": what, "arguments": ""}}}}})
        for i in range(0, len(args), 4):
            events.append({"type": "tool-call-delta", "index": 0, "delta": {"message": {
                "tool_calls": {"function": {"arguments": args[i:i + 4]}}}}})
        events.append({"type": "tool-call-end", "index": 0})
        reason, output = "TOOL_CALL", 9
    else:
        events.append({"type": "content-start", "index": 0, "delta": {"message": {
            "content": {"type": "text", "text": ""}}}})
        for i, word in enumerate(words(what)):
            events.append({"type": "content-delta", "index": 0, "delta": {"message": {
                "content": {"text": word if i == 0 else " " + word}}}})
        events.append({"type": "content-end", "index": 0})
        reason, output = detail, len(words(what))
    events.append({"type": "message-end", "delta": {"finish_reason": reason,
                                                    "usage": usage(body, output)}})
    return events


def embed(body):
    """(status, body) of a v2 embed request."""
    if not body.get("input_type"):
        return 400, error("invalid request: valid input_type must be provided with the "
                          "provided model")
    if not body.get("embedding_types"):
        return 400, error("embedding_types parameter is required")
    texts = body.get("texts") or []
    if len(texts) > 96:
        return 400, error(f"invalid request: total number of texts must be at most 96 - "
                          f"received {len(texts)}")
    dimensions = int(body.get("output_dimension") or 8)
    return 200, {"id": str(uuid.uuid4()), "texts": texts,
                 "embeddings": {"float": [embedding_vector(t, dimensions) for t in texts]},
                 "meta": {"api_version": {"version": "2"}, "billed_units": {
                     "input_tokens": sum(len(words(t)) for t in texts)}},
                 "response_type": "embeddings_by_type"}


class Handler(FakeHandler):
    """The Cohere v2 endpoints, after any scripted behaviour (tests/fakes/base.py)."""

    server_version = "FakeCohere/1.0"
    stream_content_type = "text/event-stream"

    def frame(self, event):
        """Typed SSE, the way Cohere frames it: ``event: <type>`` then compact JSON data."""
        if not isinstance(event, dict):
            return f"data: {event}\n\n".encode()
        data = json.dumps(event, separators=(",", ":"))
        return f"event: {event.get('type')}\ndata: {data}\n\n".encode()

    def done_frames(self):
        """Cohere ends a complete stream with [DONE]."""
        return [b"data: [DONE]\n\n"]

    def api(self, path, body, script):
        """The Cohere v2 endpoints."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return self.send(401, error("no api key supplied"))
        if auth == "Bearer co-bad":
            return self.send(401, error("invalid api token"))
        if self.command != "POST" or path not in ("/v2/chat", "/v2/embed"):
            return self.send(404, error("404 page not found"))
        if not isinstance(body, dict):
            return self.send(400, error("invalid json syntax"))
        if path == "/v2/embed":
            return self.send(*embed(body))
        refused = check_chat(body)
        if refused:
            return self.send(refused[0], error(refused[1]))
        if body.get("stream"):
            return self.send_chunked([self.frame(e) for e in chat_events(body)]
                                     + self.done_frames(),
                                     delay=script.get("stream_delay_ms", 0) / 1000)
        return self.send(200, chat(body))


def main(argv=None):
    """Serve until killed."""
    serve(Handler, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
