"""A fake Gemini API (Google AI Studio) server for end-to-end tests (stdlib only).

Run ``python tests/fakes/fake_gemini.py --port 0``: it binds 127.0.0.1, prints
``LISTENING <port>`` and answers with the Gemini API's wire formats:

    POST /v1beta/models/{model}:generateContent         GenerateContentResponse
    POST /v1beta/models/{model}:streamGenerateContent?alt=sse   SSE of GenerateContentResponse
    POST /v1beta/models/{model}:embedContent            {"embedding": {"values": [...]}}
    POST /v1beta/models/{model}:batchEmbedContents      {"embeddings": [{"values": [...]}]}

Keys come in the ``x-goog-api-key`` header: none -> 403 PERMISSION_DENIED, ``gm-bad`` -> 400
API_KEY_INVALID. With tools declared and no functionResponse in the last turn the model calls
the first declared function (twice when the user text says "two cities"); otherwise it echoes
the last user text. Fields Gemini refuses in a function schema (additionalProperties, $schema,
strict ...) are refused here too, with Gemini's error text. JSON answers are pretty-printed and
SSE events CRLF-separated, like Google's front end.

Test control and scripted behaviours: see tests/fakes/base.py.
"""
import hashlib
import json
import sys
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the tests package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.base import FakeHandler, serve  # noqa: E402

BAD_KEY = "gm-bad"
SCHEMA_FIELDS = {"type", "format", "title", "description", "nullable", "enum", "items",
                 "properties", "required", "minItems", "maxItems", "minProperties",
                 "maxProperties", "minLength", "maxLength", "pattern", "minimum", "maximum",
                 "example", "default", "anyOf", "propertyOrdering"}


def google_error(code, status, message, details=None):
    """Google's error object."""
    err = {"code": code, "message": message, "status": status}
    if details:
        err["details"] = details
    return {"error": err}


def count_tokens(text):
    """One token per word (at least one)."""
    return max(1, len(str(text).split()))


def parts_text(parts):
    """The text of a list of parts."""
    return " ".join(p.get("text", "") for p in parts or [] if isinstance(p, dict))


def schema_problem(schema, where):
    """The first field Gemini's function parameters would refuse, as an error message."""
    if not isinstance(schema, dict):
        return None
    for key, value in schema.items():
        if key not in SCHEMA_FIELDS:
            return (f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': "
                    "Cannot find field.")
        if key == "properties":
            for name, sub in value.items():
                problem = schema_problem(sub, f"{where}.properties[{name}].value")
                if problem:
                    return problem
        if key == "items":
            problem = schema_problem(value, f"{where}.items")
            if problem:
                return problem
    return None


def check_request(body):
    """(status, error) for a request the real API would refuse, else None."""
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return google_error(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: "
                            "contents is not specified")
    for i, content in enumerate(contents):
        if content.get("role") not in ("user", "model"):
            return google_error(400, "INVALID_ARGUMENT",
                                f"Please use a valid role: user, model. (contents[{i}])")
        if not content.get("parts"):
            return google_error(400, "INVALID_ARGUMENT", f"* GenerateContentRequest.contents[{i}]"
                                ".parts: contents.parts must not be empty.")
    for t, tool in enumerate(body.get("tools") or []):
        for d, decl in enumerate(tool.get("functionDeclarations") or []):
            problem = schema_problem(decl.get("parameters"),
                                     f"tools[{t}].function_declarations[{d}].parameters")
            if problem:
                return google_error(400, "INVALID_ARGUMENT", problem)
    return None


def declared_functions(body):
    """Names of the declared functions, in order."""
    return [d["name"] for tool in body.get("tools") or []
            for d in tool.get("functionDeclarations") or []]


def answer_parts(body):
    """The model's parts for a request: function calls or an echo."""
    last = body["contents"][-1]
    functions = declared_functions(body)
    mode = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
    responded = [p["functionResponse"] for p in last["parts"] if "functionResponse" in p]
    if responded:
        return [{"text": "results: " + json.dumps([r["response"] for r in responded])}]
    text = parts_text(last["parts"])
    if functions and mode != "NONE":
        cities = ["Paris", "Rome"] if "two cities" in text else ["Paris"]
        return [{"functionCall": {"name": functions[0], "args": {"location": city}},
                 **({"thoughtSignature": "c2lnLWZha2U="} if i == 0 else {})}
                for i, city in enumerate(cities)]
    return [{"text": "echo: " + text}]


def usage(body, parts):
    """usageMetadata for a request and its answer."""
    system = (body.get("systemInstruction") or {}).get("parts")
    prompt = sum(count_tokens(parts_text(c["parts"])) for c in body["contents"])
    prompt += count_tokens(parts_text(system)) if system else 0
    out = sum(count_tokens(p.get("text") or json.dumps(p.get("functionCall"))) for p in parts)
    meta = {"promptTokenCount": prompt, "candidatesTokenCount": out,
            "totalTokenCount": prompt + out,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
    if ((body.get("generationConfig") or {}).get("thinkingConfig")):
        meta["thoughtsTokenCount"] = 7
        meta["totalTokenCount"] += 7
    return meta


def generate(body, model):
    """A GenerateContentResponse."""
    parts = answer_parts(body)
    count = int((body.get("generationConfig") or {}).get("candidateCount") or 1)
    candidates = [{"content": {"parts": parts, "role": "model"}, "finishReason": "STOP",
                   "index": i, "avgLogprobs": -0.1} for i in range(count)]
    return {"candidates": candidates, "usageMetadata": usage(body, parts), "modelVersion": model,
            "responseId": uuid.uuid4().hex[:22]}


def stream_events(body, model):
    """The GenerateContentResponse events of a streamed answer."""
    parts = answer_parts(body)
    meta = usage(body, parts)
    partial = {"promptTokenCount": meta["promptTokenCount"],
               "totalTokenCount": meta["promptTokenCount"]}
    rid = uuid.uuid4().hex[:22]
    events = []
    if parts and "text" in parts[0]:
        words = parts[0]["text"].split(" ")
        pieces = [" ".join(words[i:i + 3]) + (" " if i + 3 < len(words) else "")
                  for i in range(0, len(words), 3)]
        parts = [{"text": p} for p in pieces]
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        cand = {"content": {"parts": [part], "role": "model"}, "index": 0}
        if last:
            cand["finishReason"] = "STOP"
        events.append({"candidates": [cand], "usageMetadata": meta if last else partial,
                       "modelVersion": model, "responseId": rid})
    return events


def embedding(text, dimensions):
    """Deterministic floats, exactly representable as float32."""
    digest = hashlib.sha256(str(text).encode()).digest()
    while len(digest) < dimensions:
        digest += hashlib.sha256(digest).digest()
    return [(b - 128) / 256 for b in digest[:dimensions]]


def embed_one(request):
    """One embedContent answer."""
    return {"values": embedding(parts_text(request["content"]["parts"]),
                                int(request.get("outputDimensionality") or 8))}


class Handler(FakeHandler):
    """The Gemini endpoints, after any scripted behaviour (tests/fakes/base.py)."""

    server_version = "FakeGemini/1.0"
    stream_content_type = "text/event-stream"

    def send(self, status, payload, content_type="application/json; charset=UTF-8",
             headers=None):
        """Google pretty-prints its JSON answers."""
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload, indent=2)
        super().send(status, payload, content_type, headers)

    def frame(self, event):
        """One SSE data event, CRLF-separated like Google's front end."""
        data = event if isinstance(event, str) else json.dumps(event)
        return f"data: {data}\r\n\r\n".encode()

    def api(self, path, body, script):
        """The Gemini endpoints."""
        key = self.headers.get("x-goog-api-key")
        if not key:
            return self.send(403, google_error(
                403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers "
                "without established identity). Please use API Key or other form of API "
                "consumer identity to call this API."))
        if key == BAD_KEY:
            return self.send(400, google_error(
                400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                  "domain": "googleapis.com",
                  "metadata": {"service": "generativelanguage.googleapis.com"}}]))
        resource, _, method = path.partition(":")
        model = resource.rsplit("/", 1)[-1]
        if self.command != "POST" or not resource.startswith("/v1beta/models/"):
            return self.send(404, google_error(404, "NOT_FOUND", "Requested entity was not found."))
        if not isinstance(body, dict):
            return self.send(400, google_error(400, "INVALID_ARGUMENT",
                                               "Invalid JSON payload received."))
        if method == "embedContent":
            return self.send(200, {"embedding": embed_one(body)})
        if method == "batchEmbedContents":
            return self.send(200, {"embeddings": [embed_one(r) for r in body["requests"]]})
        if method not in ("generateContent", "streamGenerateContent"):
            return self.send(404, google_error(404, "NOT_FOUND", "Requested entity was not found."))
        problem = check_request(body)
        if problem:
            return self.send(400, problem)
        if method == "streamGenerateContent":
            return self.send_chunked([self.frame(e) for e in stream_events(body, model)],
                                     delay=script.get("stream_delay_ms", 0) / 1000)
        return self.send(200, generate(body, model))


def main(argv=None):
    """Serve until killed."""
    serve(Handler, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
