"""A fake Azure OpenAI resource for end-to-end tests (stdlib only).

Run ``python tests/fakes/fake_azure.py --port 0``: it binds 127.0.0.1, prints ``LISTENING <port>``
and answers like an Azure OpenAI resource endpoint:

    POST /openai/deployments/{deployment}/chat/completions?api-version=...
         chat.completion with prompt_filter_results / content_filter_results; with
         ``stream: true`` Azure's SSE: a first prompt-filter chunk with empty choices, id and
         model, content (or tool-call) chunks, a filter annotation chunk, the finish chunk, a
         usage chunk when stream_options.include_usage, then [DONE]. With ``tools`` it calls
         the first tool with {"location": <last user text>}.
    POST /openai/deployments/{deployment}/embeddings?api-version=...   float or base64
    POST /openai/deployments/{deployment}/completions?api-version=...
    POST /openai/v1/responses[?api-version=preview]        the Responses API: the v1 path, or
    POST /openai/responses?api-version=2025-03-01-preview   the dated path (that version or later)
         no deployment in the URL (the body's model names it); OpenAI's Responses wire format
         (fake_openai's: a response object, or SSE with ``event:`` lines and sequence_number;
         function tools called until a function_call_output arrives; max_output_tokens cuts
         the reply, status incomplete; ``stop`` or max_output_tokens below 16 refused) with the
         model Azure reports. A dated api-version on the v1 path is a 400.

    no api-key / Bearer -> 401; api-key "bad-key" -> 401; no api-version -> 404 Resource not
    found; deployment "missing" -> 404 DeploymentNotFound; a message containing "FILTER_ME" ->
    400 content_filter (ResponsibleAIPolicyViolation).

Test control and scripted behaviours: see tests/fakes/base.py.
"""
import base64
import hashlib
import json
import re
import struct
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

if __package__ in (None, ""):  # run as a script: make the tests package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.base import FakeHandler, serve  # noqa: E402
from tests.fakes.fake_openai import (response_frames, response_object,  # noqa: E402
                                     responses_problem)

ROUTE = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/"
                   r"(?P<op>chat/completions|embeddings|completions)$")
RESPONSES = re.compile(r"^/openai(?P<v1>/v1)?/responses$")
# The first dated API version with the Responses API; the v1 path takes none (or "preview").
FIRST_RESPONSES_VERSION = "2025-03-01-preview"
V1_VERSIONS = (None, "preview", "latest")
MODEL = "gpt-4o-2024-08-06"
SAFE = {name: {"filtered": False, "severity": "safe"}
        for name in ("hate", "self_harm", "sexual", "violence")}
FILTERED = {**SAFE, "violence": {"filtered": True, "severity": "medium"}}


def azure_error(code, message, **extra):
    """Azure's error object."""
    return {"error": {"code": code, "message": message, **extra}}


def text_of(content):
    """The text of a message content (a string or a list of parts)."""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def last_user_text(messages):
    """The text of the last user message."""
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def count(text):
    """One token per word (at least one)."""
    return max(1, len(str(text).split()))


def usage(body, completion):
    """Azure's usage object, with details as the service sends them."""
    prompt = sum(count(text_of(m.get("content"))) for m in body.get("messages") or [])
    return {"completion_tokens": completion,
            "completion_tokens_details": {"accepted_prediction_tokens": 0, "audio_tokens": 0,
                                          "reasoning_tokens": 0, "rejected_prediction_tokens": 0},
            "prompt_tokens": prompt,
            "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 0},
            "total_tokens": prompt + completion}


def prompt_filter():
    """The prompt_filter_results list Azure attaches to answers."""
    return [{"prompt_index": 0, "content_filter_results": {
        **SAFE, "jailbreak": {"filtered": False, "detected": False}}}]


def tool_call(body):
    """The tool call the fake makes when the request offers tools."""
    name = body["tools"][0]["function"]["name"]
    args = json.dumps({"location": last_user_text(body.get("messages"))})
    return {"id": "call_" + uuid.uuid4().hex[:24], "type": "function",
            "function": {"name": name, "arguments": args}}


def chat_completion(body):
    """A non-streamed chat.completion."""
    message = {"annotations": [], "content": "echo: " + last_user_text(body.get("messages")),
               "refusal": None, "role": "assistant"}
    finish = "stop"
    if body.get("tools"):
        message.update(content=None, tool_calls=[tool_call(body)])
        finish = "tool_calls"
    return {"choices": [{"content_filter_results": SAFE, "finish_reason": finish, "index": 0,
                         "logprobs": None, "message": message}],
            "created": int(time.time()), "id": "chatcmpl-" + uuid.uuid4().hex[:29],
            "model": MODEL, "object": "chat.completion",
            "prompt_filter_results": prompt_filter(), "system_fingerprint": "fp_fakeazure",
            "usage": usage(body, count(message["content"] or "x"))}


def chat_chunks(body):
    """Azure's stream events for a chat request."""
    cid, created = "chatcmpl-" + uuid.uuid4().hex[:29], int(time.time())

    def chunk(delta, finish=None, results=None):
        return {"choices": [{"content_filter_results": results or {}, "delta": delta,
                             "finish_reason": finish, "index": 0, "logprobs": None}],
                "created": created, "id": cid, "model": MODEL,
                "object": "chat.completion.chunk", "system_fingerprint": "fp_fakeazure"}

    events = [{"choices": [], "created": 0, "id": "", "model": "", "object": "",
               "prompt_filter_results": prompt_filter()}]
    if body.get("tools"):
        call = tool_call(body)
        args = call["function"]["arguments"]
        events.append(chunk({"content": None, "refusal": None, "role": "assistant",
                             "tool_calls": [{"function": {"arguments": "", "name":
                                                          call["function"]["name"]},
                                             "id": call["id"], "index": 0,
                                             "type": "function"}]}))
        events += [chunk({"tool_calls": [{"function": {"arguments": args[i:i + 7]},
                                          "index": 0}]}) for i in range(0, len(args), 7)]
        events.append(chunk({}, "tool_calls"))
    else:
        reply = "echo: " + last_user_text(body.get("messages"))
        events.append(chunk({"content": "", "refusal": None, "role": "assistant"}))
        words = reply.split(" ")
        events += [chunk({"content": (" " if i else "") + w}, results=SAFE)
                   for i, w in enumerate(words)]
        events.append({"choices": [{"content_filter_offsets": {
            "check_offset": 0, "start_offset": 0, "end_offset": len(reply)},
            "content_filter_results": SAFE, "finish_reason": None, "index": 0}],
            "created": 0, "id": "", "model": "", "object": ""})
        events.append(chunk({}, "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append({"choices": [], "created": created, "id": cid, "model": MODEL,
                       "object": "chat.completion.chunk", "system_fingerprint": "fp_fakeazure",
                       "usage": usage(body, 5)})
    return events


def vector(text, dimensions):
    """Deterministic floats, exact in float32."""
    digest = hashlib.sha256(str(text).encode()).digest()
    while len(digest) < dimensions:
        digest += hashlib.sha256(digest).digest()
    return [(b - 128) / 256 for b in digest[:dimensions]]


def embeddings(body):
    """The embeddings list."""
    inputs = body.get("input")
    inputs = [inputs] if isinstance(inputs, str) else inputs
    data = []
    for index, item in enumerate(inputs):
        vec = vector(item, int(body.get("dimensions") or 8))
        if body.get("encoding_format") == "base64":
            vec = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
        data.append({"embedding": vec, "index": index, "object": "embedding"})
    tokens = sum(count(i) for i in inputs)
    return {"data": data, "model": "text-embedding-3-small", "object": "list",
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def completion(body):
    """A text_completion."""
    text = "echo: " + str(body.get("prompt"))
    return {"choices": [{"content_filter_results": SAFE, "finish_reason": "stop", "index": 0,
                         "logprobs": None, "text": text}],
            "created": int(time.time()), "id": "cmpl-" + uuid.uuid4().hex[:29],
            "model": "gpt-35-turbo-instruct", "object": "text_completion",
            "usage": {"completion_tokens": count(text), "prompt_tokens": 3,
                      "total_tokens": count(text) + 3}}


def denied(headers):
    """Azure's 401 body when a request has no usable credential, else None."""
    key = headers.get("api-key")
    if not key and not (headers.get("Authorization") or "").startswith("Bearer "):
        return azure_error(
            "401", "Access denied due to missing subscription key. Make sure to include "
            "subscription key when making requests to an API.")
    if key == "bad-key":
        return azure_error(
            "401", "Access denied due to invalid subscription key or wrong API endpoint. "
            "Make sure to provide a valid key for an active subscription and use a correct "
            "regional API endpoint for your resource.")
    return None


def refusal(deployment, body):
    """(status, Azure error) for a missing deployment or filtered content, else None."""
    if deployment == "missing":
        return 404, azure_error(
            "DeploymentNotFound", "The API deployment for this resource does not exist. If "
            "you created the deployment within the last 5 minutes, please wait a moment and "
            "try again.")
    if "FILTER_ME" in json.dumps(body):
        return 400, azure_error(
            "content_filter", "The response was filtered due to the prompt triggering "
            "Azure OpenAI's content management policy. Please modify your prompt and retry.",
            type=None, param="prompt", status=400, innererror={
                "code": "ResponsibleAIPolicyViolation", "content_filter_result": FILTERED})
    return None


class Handler(FakeHandler):
    """Azure's data-plane routes, after any scripted behaviour (tests/fakes/base.py)."""

    server_version = "FakeAzure/1.0"

    def send(self, status, payload, content_type="application/json", headers=None):
        """Every Azure answer carries an apim-request-id."""
        headers = {"apim-request-id": str(uuid.uuid4()), **(headers or {})}
        return super().send(status, payload, content_type=content_type, headers=headers)

    def done_frames(self):
        """Azure ends a complete stream with [DONE], as OpenAI does."""
        return [b"data: [DONE]\n\n"]

    def api(self, path, body, script):
        """The Azure OpenAI data-plane routes."""
        query = parse_qs(urlsplit(self.path).query)
        version = (query.get("api-version") or [None])[0]
        unauthorized = denied(self.headers)
        if unauthorized:
            return self.send(401, unauthorized)
        responses = RESPONSES.match(path)
        if self.command == "POST" and responses:
            return self.responses_api(bool(responses["v1"]), version, body, script)
        route = ROUTE.match(path)
        if self.command != "POST" or not route or not version:
            return self.send(404, azure_error("404", "Resource not found"))
        refused = refusal(route["deployment"], body)
        if refused:
            return self.send(*refused)
        if route["op"] == "embeddings":
            return self.send(200, embeddings(body))
        if route["op"] == "completions":
            return self.send(200, completion(body))
        if body.get("stream"):
            return self.send_chunked([self.frame(e) for e in chat_chunks(body)]
                                     + self.done_frames(),
                                     delay=script.get("stream_delay_ms", 0) / 1000)
        return self.send(200, chat_completion(body))

    def responses_api(self, v1, version, body, script):
        """The Responses API, on the v1 path or the dated deployment-less one (not ``responses``:
        BaseHTTPRequestHandler keeps its status table under that name)."""
        if v1 and version not in V1_VERSIONS:
            return self.send(400, azure_error("BadRequest", "API version not supported"))
        if not v1 and (version is None or version < FIRST_RESPONSES_VERSION):
            return self.send(404, azure_error("404", "Resource not found"))
        if not isinstance(body, dict):
            return self.send(400, azure_error("BadRequest", "The request body is not valid JSON."))
        refused = refusal(body.get("model"), body)
        if refused:
            return self.send(*refused)
        problem = responses_problem(body)  # the Responses API refuses what OpenAI's does
        if problem:
            return self.send(400, problem)
        if body.get("stream"):
            return self.send_chunked(response_frames(body, MODEL),
                                     delay=script.get("stream_delay_ms", 0) / 1000)
        return self.send(200, response_object(body, MODEL))


def main(argv=None):
    """Serve until killed."""
    serve(Handler, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
