"""A fake OpenAI API server for end-to-end tests (stdlib only).

Run ``python tests/fakes/fake_openai.py --port 0``: it binds 127.0.0.1, prints
``LISTENING <port>`` and answers with OpenAI's wire formats:

    POST /v1/chat/completions   chat.completion, or SSE chat.completion.chunk events + [DONE]
    POST /v1/embeddings         float lists, or base64 little-endian float32 (encoding_format)
    POST /v1/completions        text_completion
    POST /v1/responses          response object, or SSE Responses events (``event:`` lines,
                                sequence_number); function tools are called with
                                {"query": <last user text>} until a function_call_output
                                arrives; max_output_tokens (>= 16, as OpenAI requires) cuts
                                the reply (status incomplete); ``stop`` is refused as upstream
    GET  /v1/models[/{id}]      model list / model
    Authorization "Bearer sk-bad" -> 401 invalid_api_key

Test control and scripted behaviours: see tests/fakes/base.py.
"""
import base64
import hashlib
import json
import struct
import sys
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the tests package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.base import FakeHandler, serve  # noqa: E402

FINGERPRINT = "fp_fake0001"
MODELS = ("gpt-3.5-turbo", "gpt-4o-mini", "text-embedding-ada-002", "gpt-3.5-turbo-instruct")


def count_tokens(text):
    """A stable, cheap stand-in for a tokenizer: one token per word (at least one)."""
    return max(1, len(str(text).split()))


def text_of(content):
    """The text of a message content (a string or a list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def last_user_text(messages):
    """The text of the last user message."""
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def prompt_tokens(messages):
    """Token count of all message contents."""
    return sum(count_tokens(text_of(m.get("content")))
               for m in messages or [] if isinstance(m, dict))


def usage(prompt, completion):
    """OpenAI's chat usage object."""
    return {
        "prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    }


def embedding_vector(text, dimensions):
    """Deterministic floats, exactly representable as float32 (so base64 round-trips)."""
    digest = hashlib.sha256(str(text).encode()).digest()
    while len(digest) < dimensions:
        digest += hashlib.sha256(digest).digest()
    return [(b - 128) / 256 for b in digest[:dimensions]]


def encode_base64(vector):
    """OpenAI's base64 embedding: little-endian float32."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def error_body(message, type_, code=None, param=None):
    """OpenAI's error object."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def chat_completion(body):
    """A non-streamed chat.completion for a request body."""
    reply = "echo: " + last_user_text(body.get("messages"))
    choices = [{"index": i, "message": {"role": "assistant", "content": reply, "refusal": None},
                "logprobs": None, "finish_reason": "stop"} for i in range(int(body.get("n") or 1))]
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion",
        "created": int(time.time()), "model": body.get("model"), "choices": choices,
        "usage": usage(prompt_tokens(body.get("messages")), count_tokens(reply) * len(choices)),
        "system_fingerprint": FINGERPRINT, "service_tier": "default",
    }


def reply_pieces(reply, words=5):
    """Split a reply into pieces of about five words, keeping the spaces."""
    tokens = reply.split(" ")
    return [" ".join(tokens[i:i + words]) + (" " if i + words < len(tokens) else "")
            for i in range(0, len(tokens), words)]


def chat_chunks(body):
    """The chat.completion.chunk objects of a streamed answer."""
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    reply = "echo: " + last_user_text(body.get("messages"))
    base = {"id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion.chunk",
            "created": int(time.time()), "model": body.get("model"),
            "service_tier": "default", "system_fingerprint": FINGERPRINT}

    def chunk(delta, finish_reason=None):
        out = dict(base, choices=[{"index": 0, "delta": delta, "logprobs": None,
                                   "finish_reason": finish_reason}])
        if include_usage:
            out["usage"] = None
        return out

    chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
    chunks += [chunk({"content": piece}) for piece in reply_pieces(reply)]
    chunks.append(chunk({}, "stop"))
    if include_usage:
        chunks.append(dict(base, choices=[], usage=usage(prompt_tokens(body.get("messages")),
                                                          count_tokens(reply))))
    return chunks


def text_completion(body):
    """A text_completion for a /v1/completions body."""
    prompt = body.get("prompt")
    prompt = prompt[0] if isinstance(prompt, list) and prompt else prompt
    text = "echo: " + str(prompt or "")
    return {
        "id": "cmpl-" + uuid.uuid4().hex[:24], "object": "text_completion",
        "created": int(time.time()), "model": body.get("model"),
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": count_tokens(prompt or ""),
                  "completion_tokens": count_tokens(text),
                  "total_tokens": count_tokens(prompt or "") + count_tokens(text)},
        "system_fingerprint": FINGERPRINT,
    }


def embeddings(body):
    """An embeddings list for a /v1/embeddings body."""
    inputs = body.get("input")
    inputs = [inputs] if isinstance(inputs, str) or not isinstance(inputs, list) else inputs
    if inputs and all(isinstance(i, int) for i in inputs):
        inputs = [inputs]  # one tokenized input
    dimensions = int(body.get("dimensions") or 8)
    data = []
    for index, item in enumerate(inputs):
        vector = embedding_vector(item, dimensions)
        if body.get("encoding_format") == "base64":
            vector = encode_base64(vector)
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(count_tokens(i) for i in inputs)
    return {"object": "list", "data": data, "model": body.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def response_input_text(value):
    """The last user text (or function output) of a Responses ``input``."""
    if isinstance(value, str):
        return value, None
    for item in reversed(value or []):
        if item.get("type") == "function_call_output":
            return "", item.get("output")
        if item.get("role") == "user":
            return text_of(item.get("content")), None
    return "", None


def response_object(body, model=None):
    """A finished Responses API ``response`` for a /v1/responses body (``model``: the name the
    upstream reports, by default the body's with a snapshot date)."""
    text, tool_output = response_input_text(body.get("input"))
    tools = [t for t in body.get("tools") or [] if t.get("type") == "function"]
    status, incomplete, output = "completed", None, []
    if tools and tool_output is None and body.get("tool_choice") != "none":
        output.append({"type": "function_call", "id": "fc_" + uuid.uuid4().hex,
                       "call_id": "call_" + uuid.uuid4().hex[:24], "name": tools[0]["name"],
                       "arguments": json.dumps({"query": text}), "status": "completed"})
        reply = ""
    else:
        reply = ("tool said: " + str(tool_output)) if tool_output is not None else "echo: " + text
        words, limit = reply.split(" "), body.get("max_output_tokens")
        if limit is not None and len(words) > limit:
            reply, status, incomplete = " ".join(words[:limit]), "incomplete", {
                "reason": "max_output_tokens"}
        output.append({"type": "message", "id": "msg_" + uuid.uuid4().hex, "status": "completed",
                       "role": "assistant", "content": [{"type": "output_text", "text": reply,
                                                         "annotations": [], "logprobs": []}]})
    prompt = count_tokens(text or tool_output or "")
    completion = count_tokens(reply) if reply else 5
    return {
        "id": "resp_" + uuid.uuid4().hex, "object": "response", "created_at": int(time.time()),
        "status": status, "background": False, "error": None, "incomplete_details": incomplete,
        "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
        "model": model or body.get("model") + "-2025-04-14", "output": output,
        "parallel_tool_calls": True, "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None}, "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0), "text": {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0), "truncation": "disabled",
        "usage": {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": prompt + completion},
        "user": None, "metadata": body.get("metadata") or {},
    }


def response_events(body, model=None):
    """The SSE events (type, payload) of a streamed Responses answer, in OpenAI's order."""
    final = response_object(body, model)
    start = dict(final, status="in_progress", output=[], usage=None, incomplete_details=None)
    events = [("response.created", {"response": start}),
              ("response.in_progress", {"response": start})]
    for index, item in enumerate(final["output"]):
        events.append(("response.output_item.added", {
            "output_index": index, "item": dict(item, status="in_progress", content=[])
            if item["type"] == "message" else dict(item, arguments="", status="in_progress")}))
        if item["type"] == "message":
            text, part = item["content"][0]["text"], dict(item["content"][0], text="")
            events.append(("response.content_part.added", {
                "item_id": item["id"], "output_index": index, "content_index": 0, "part": part}))
            for piece in reply_pieces(text):
                events.append(("response.output_text.delta", {
                    "item_id": item["id"], "output_index": index, "content_index": 0,
                    "delta": piece, "logprobs": []}))
            events.append(("response.output_text.done", {
                "item_id": item["id"], "output_index": index, "content_index": 0, "text": text,
                "logprobs": []}))
            events.append(("response.content_part.done", {
                "item_id": item["id"], "output_index": index, "content_index": 0,
                "part": item["content"][0]}))
        else:
            events.append(("response.function_call_arguments.delta", {
                "item_id": item["id"], "output_index": index, "delta": item["arguments"]}))
            events.append(("response.function_call_arguments.done", {
                "item_id": item["id"], "output_index": index, "arguments": item["arguments"]}))
        events.append(("response.output_item.done", {"output_index": index, "item": item}))
    kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
    events.append((kind, {"response": final}))
    return [dict(payload, type=name, sequence_number=seq)
            for seq, (name, payload) in enumerate(events)]


def response_frames(body, model=None):
    """The wire bytes of a streamed Responses answer: an ``event:`` line above each ``data:``."""
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode()
            for e in response_events(body, model)]


def responses_problem(body):
    """OpenAI's 400 for what its Responses API refuses (that chat completions would take)."""
    if "stop" in body:
        return error_body("Unknown parameter: 'stop'.", "invalid_request_error",
                          "unknown_parameter", "stop")
    limit = body.get("max_output_tokens")
    if limit is not None and limit < 16:
        return error_body("Invalid 'max_output_tokens': integer below minimum value. Expected a "
                          f"value >= 16, but got {limit} instead.", "invalid_request_error",
                          "integer_below_min_value", "max_output_tokens")
    if "input" not in body or "model" not in body:
        return error_body("Missing required parameter: 'input'.", "invalid_request_error",
                          "missing_required_parameter", "input")
    return None


def model_object(model_id):
    """One entry of the models list."""
    return {"id": model_id, "object": "model", "created": 1686935002, "owned_by": "openai"}


class Handler(FakeHandler):
    """OpenAI's endpoints, after any scripted behaviour (tests/fakes/base.py)."""

    server_version = "FakeOpenAI/1.0"

    def done_frames(self):
        """OpenAI ends a complete stream with [DONE]."""
        return [b"data: [DONE]\n\n"]

    def api(self, path, body, script):
        """The OpenAI endpoints."""
        stream_delay = script.get("stream_delay_ms", 0) / 1000
        if self.headers.get("Authorization", "") == "Bearer sk-bad":
            return self.send(401, error_body(
                "Incorrect API key provided: sk-bad. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error", "invalid_api_key"))
        if self.command == "GET" and path.endswith("/models"):
            return self.send(200, {"object": "list", "data": [model_object(m) for m in MODELS]})
        if self.command == "GET" and "/models/" in path:
            return self.send(200, model_object(path.rsplit("/", 1)[1]))
        if self.command != "POST":
            return self.send(404, error_body(f"Invalid URL ({self.command} {path})",
                                             "invalid_request_error"))
        if not isinstance(body, dict):
            return self.send(400, error_body(
                "We could not parse the JSON body of your request. (HINT: This likely means you "
                "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
                "but what was sent was not valid JSON.", "invalid_request_error"))
        if path.endswith("/responses"):
            problem = responses_problem(body)
            if problem:
                return self.send(400, problem)
            if body.get("stream"):
                return self.send_chunked(response_frames(body), delay=stream_delay)
            return self.send(200, response_object(body))
        if path.endswith("/chat/completions"):
            if body.get("stream"):
                return self.send_chunked([self.frame(c) for c in chat_chunks(body)]
                                         + self.done_frames(), delay=stream_delay)
            return self.send(200, chat_completion(body))
        if path.endswith("/completions"):
            return self.send(200, text_completion(body))
        if path.endswith("/embeddings"):
            return self.send(200, embeddings(body))
        return self.send(404, error_body(f"Invalid URL (POST {path})", "invalid_request_error"))


def main(argv=None):
    """Serve until killed."""
    serve(Handler, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
