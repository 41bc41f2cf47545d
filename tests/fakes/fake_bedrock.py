"""A fake AWS Bedrock Runtime for end-to-end tests (stdlib only).

Run ``python tests/fakes/fake_bedrock.py --port 0``: it binds 127.0.0.1, prints
``LISTENING <port>`` and answers with Bedrock's wire formats:

    POST /model/{modelId}/converse          Converse JSON (echo, tool calls, guardrail)
    POST /model/{modelId}/converse-stream   the same as AWS binary event-stream frames
    POST /model/{modelId}/invoke            Titan / Cohere embeddings; Claude: the Anthropic
                                            Messages body (anthropic_version, no model) ->
                                            Anthropic's message object
    POST /model/{modelId}/invoke-with-response-stream   Claude: ``chunk`` frames, each
                                            {"bytes": base64 of one Anthropic stream event}
    POST /model/{modelId}/count-tokens      {"input": {"invokeModel": {"body": base64}}} ->
                                            {"inputTokens": N} (foundation model ids only)

Every API request must carry a valid SigV4 signature (service ``bedrock``) made with one of
CREDENTIALS, checked here with the AWS algorithm re-implemented on hashlib/hmac, or
``Authorization: Bearer <BEARER_TOKEN>`` (a Bedrock API key). Errors look like AWS's:
``x-amzn-ErrorType`` header plus ``{"message": ...}``.

Behaviour by the last user text: contains "weather" (with tools) -> a get_weather toolUse;
"forbidden" -> guardrail_intervened. Claude on InvokeModel is the fake Anthropic model of
tests/fakes/fake_anthropic.py (echo, tool_use with {"query": text}, "tool said: ..."), behind
Bedrock's own checks of the body (anthropic_version, no extraneous keys such as model/stream).

Test control: the /_fake/* routes of tests/fakes/base.py. Each recorded request has method,
path (raw), headers, body and auth_error (the failed auth check, or None). Auth, operation and
JSON body are checked before a script is taken; the scripts are Bedrock's own (FIFO, one per
API request that passed those checks):
    {"status": 429, "error_type": "ThrottlingException", "message": "...", "headers": {}}
    {"json": {...}}                              canned 200 JSON answer
    {"events": [{"event": "messageStart", "payload": {...}},
                {"chunk": {"type": "message_start", ...}},   an InvokeModel stream chunk
                {"exception": "throttlingException", "payload": {"message": "..."}},
                {"garbage": true}], "abort": false}   scripted stream frames
"""
import base64
import hashlib
import hmac
import json
import re
import struct
import sys
import uuid
import zlib
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

if __package__ in (None, ""):  # run as a script: make the tests package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes import fake_anthropic as claude  # noqa: E402
from tests.fakes.base import STATE, FakeHandler, serve  # noqa: E402

CREDENTIALS = {"AKIDFAKEEXAMPLE": "fake/secret/key+EXAMPLE"}
BEARER_TOKEN = "bedrock-api-key-fake"
ACCESS_KEY_PATTERN = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"bedrock/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<sig>[0-9a-f]{64})$")
PATH = re.compile(r"^/model/(?P<model>[^/]+)/(?P<action>converse|converse-stream|invoke"
                  r"|invoke-with-response-stream|count-tokens)$")
PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
GUARDRAIL_TEXT = "Sorry, the model cannot answer this question."


# -- AWS event-stream framing -------------------------------------------------------------------

def encode_headers(headers):
    """Event-stream headers, all of type 7 (string)."""
    out = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack(">B", len(raw_name)) + raw_name + b"\x07"
        out += struct.pack(">H", len(raw_value)) + raw_value
    return out


def frame(headers, payload):
    """One event-stream message: prelude (lengths + CRC), headers, payload, message CRC."""
    raw_headers = encode_headers(headers)
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + raw_headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event_frame(event_type, payload):
    """A ConverseStream event, padded with "p" like AWS does against length side channels."""
    body = dict(payload, p=PAD[:(len(json.dumps(payload)) * 7) % len(PAD) + 1])
    return frame({":event-type": event_type, ":content-type": "application/json",
                  ":message-type": "event"}, json.dumps(body, separators=(",", ":")).encode())


def chunk_frame(event):
    """An InvokeModelWithResponseStream ``chunk``: one JSON event as base64 ``bytes``, padded."""
    data = base64.b64encode(json.dumps(event, separators=(",", ":")).encode()).decode()
    body = {"bytes": data, "p": PAD[:len(data) % len(PAD) + 1]}
    return frame({":event-type": "chunk", ":content-type": "application/json",
                  ":message-type": "event"}, json.dumps(body, separators=(",", ":")).encode())


def exception_frame(exception_type, payload):
    """A ConverseStream exception message (e.g. throttlingException)."""
    return frame({":exception-type": exception_type, ":content-type": "application/json",
                  ":message-type": "exception"}, json.dumps(payload).encode())


# -- SigV4 check --------------------------------------------------------------------------------

def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def check_sigv4(method, raw_path, headers, body):
    """None when the SigV4 Authorization is valid, else (error type, message)."""
    auth = headers.get("authorization", "")
    match = ACCESS_KEY_PATTERN.match(auth)
    amz_date = headers.get("x-amz-date", "")
    if not match or not re.fullmatch(r"\d{8}T\d{6}Z", amz_date):
        return ("IncompleteSignatureException", "Authorization header requires 'Credential', "
                "'Signature' and 'SignedHeaders' and an X-Amz-Date header. Authorization="
                + auth.split(" ")[0])
    secret = CREDENTIALS.get(match["key"])
    if secret is None:
        return "UnrecognizedClientException", "The security token included in the request is " \
            "invalid."
    signed = match["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed or amz_date[:8] != match["date"]:
        return "IncompleteSignatureException", "host and x-amz-date must be signed"
    canonical_headers = "".join(
        f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed)
    canonical = "\n".join([method, quote(raw_path, safe="/~"), "", canonical_headers,
                           match["signed"], hashlib.sha256(body).hexdigest()])
    scope = f"{match['date']}/{match['region']}/bedrock/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(("AWS4" + secret).encode(), match["date"])
    for part in (match["region"], "bedrock", "aws4_request"):
        key = _hmac(key, part)
    if not hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(),
                               match["sig"]):
        return "InvalidSignatureException", "The request signature we calculated does not " \
            "match the signature you provided. Check your AWS Secret Access Key and signing " \
            "method. Consult the service documentation for details."
    return None


# -- the fake model -----------------------------------------------------------------------------

def count_tokens(text):
    """One token per word (at least one)."""
    return max(1, len(str(text).split()))


def last_user_text(messages):
    """The text blocks of the last user message."""
    for message in reversed(messages or []):
        if message.get("role") == "user":
            return " ".join(b["text"] for b in message.get("content", []) if "text" in b)
    return ""


def prompt_tokens(body):
    """Word count over system and message text blocks."""
    blocks = list(body.get("system") or [])
    for message in body.get("messages") or []:
        blocks += message.get("content") or []
    return sum(count_tokens(b["text"]) for b in blocks if "text" in b)


def answer(body):
    """(content blocks, stopReason) the fake model gives for a Converse body."""
    text = last_user_text(body.get("messages"))
    tools = (body.get("toolConfig") or {}).get("tools") or []
    if "forbidden" in text:
        return [{"text": GUARDRAIL_TEXT}], "guardrail_intervened"
    if tools and ("weather" in text or "any" in (body["toolConfig"].get("toolChoice") or {})):
        name = tools[0]["toolSpec"]["name"]
        return [{"text": "Let me check."},
                {"toolUse": {"toolUseId": "tooluse_" + uuid.uuid4().hex[:22], "name": name,
                             "input": {"city": "Paris", "unit": "celsius"}}}], "tool_use"
    return [{"text": "echo: " + text}], "end_turn"


def usage_for(body, blocks):
    """Converse usage for a request and the answer blocks."""
    out = sum(count_tokens(b.get("text") or json.dumps(b.get("toolUse"))) for b in blocks)
    prompt = prompt_tokens(body)
    return {"inputTokens": prompt, "outputTokens": out, "totalTokens": prompt + out}


def converse(body):
    """A Converse response body."""
    blocks, stop = answer(body)
    return {"output": {"message": {"role": "assistant", "content": blocks}}, "stopReason": stop,
            "usage": usage_for(body, blocks), "metrics": {"latencyMs": 42}}


def stream_frames(body):
    """The ConverseStream frames for a body."""
    blocks, stop = answer(body)
    frames = [event_frame("messageStart", {"role": "assistant"})]
    for index, block in enumerate(blocks):
        if "text" in block:
            words = block["text"].split(" ")
            for i in range(0, len(words), 3):
                piece = " ".join(words[i:i + 3]) + (" " if i + 3 < len(words) else "")
                frames.append(event_frame("contentBlockDelta", {
                    "contentBlockIndex": index, "delta": {"text": piece}}))
        else:
            use = block["toolUse"]
            frames.append(event_frame("contentBlockStart", {
                "contentBlockIndex": index,
                "start": {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}}))
            args = json.dumps(use["input"])
            for piece in (args[:10], args[10:]):
                frames.append(event_frame("contentBlockDelta", {
                    "contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}))
        frames.append(event_frame("contentBlockStop", {"contentBlockIndex": index}))
    frames.append(event_frame("messageStop", {"stopReason": stop}))
    frames.append(event_frame("metadata", {"usage": usage_for(body, blocks),
                                           "metrics": {"latencyMs": 42}}))
    return frames


def embed_vector(text, dimensions):
    """Deterministic floats, exact in float32."""
    digest = hashlib.sha256(text.encode()).digest()
    while len(digest) < dimensions:
        digest += hashlib.sha256(digest).digest()
    return [(b - 128) / 256 for b in digest[:dimensions]]


def invoke(model, body):
    """(status, body, headers) for an InvokeModel embeddings request."""
    if "titan-embed" in model:
        if not isinstance(body.get("inputText"), str):
            return 400, {"message": "Malformed input request: #: required key [inputText] "
                                    "not found, please reformat your input and try again."}, {}
        dims = int(body.get("dimensions") or 8)
        tokens = count_tokens(body["inputText"])
        return 200, {"embedding": embed_vector(body["inputText"], dims),
                     "embeddingsByType": {"float": embed_vector(body["inputText"], dims)},
                     "inputTextTokenCount": tokens}, {"X-Amzn-Bedrock-Input-Token-Count": tokens}
    if "cohere.embed" in model:
        texts = body.get("texts") or []
        vectors = [embed_vector(t, 8) for t in texts]
        out = {"id": str(uuid.uuid4()), "texts": texts}
        if body.get("embedding_types"):
            out.update(embeddings={"float": vectors}, response_type="embeddings_by_type")
        else:
            out.update(embeddings=vectors, response_type="embeddings_floats")
        tokens = sum(count_tokens(t) for t in texts)
        return 200, out, {"X-Amzn-Bedrock-Input-Token-Count": tokens}
    return 400, {"message": "The provided model identifier is invalid."}, {}


# -- Claude through InvokeModel ----------------------------------------------------------------

CLAUDE_KEYS = (claude.TOP_LEVEL - {"model", "stream"}) | {"anthropic_version", "anthropic_beta"}
ANTHROPIC_VERSION = "bedrock-2023-05-31"


def malformed(problem):
    """Bedrock's message for a body that fails the model's input schema."""
    return f"Malformed input request: #: {problem}, please reformat your input and try again."


def check_claude(body):
    """Bedrock's checks of a Claude InvokeModel body, then Anthropic's; None when it is fine."""
    if "anthropic_version" not in body:
        return malformed("required key [anthropic_version] not found")
    if body["anthropic_version"] != ANTHROPIC_VERSION:
        return "invalid anthropic_version"
    extra = sorted(set(body) - CLAUDE_KEYS)
    if extra:
        return malformed(f"extraneous key [{extra[0]}] is not permitted")
    betas = body.get("anthropic_beta", [])
    if not isinstance(betas, list) or not all(isinstance(b, str) for b in betas):
        return "anthropic_beta: Input should be a valid list"
    if set(body.get("metadata") or {}) - {"user_id"}:
        return "metadata: only user_id is permitted"
    return claude.check({**{k: v for k, v in body.items() if k in claude.TOP_LEVEL},
                         "model": "bedrock"})


def claude_message(model, body):
    """Anthropic's message object as Bedrock answers it (``msg_bdrk_`` id, bare model name)."""
    name = re.sub(r"-v\d+(?::\d+)?$", "", model[model.find("anthropic.") + len("anthropic."):])
    message = claude.message_for({**body, "model": name})
    return dict(message, id="msg_bdrk_" + message["id"][4:])


def claude_frames(message):
    """The chunk frames of a streamed message (no ping; metrics on message_stop, as Bedrock)."""
    events = [e for e in claude.stream_events(message) if e["type"] != "ping"]
    usage = message["usage"]
    events[-1]["amazon-bedrock-invocationMetrics"] = {
        "inputTokenCount": usage["input_tokens"], "outputTokenCount": usage["output_tokens"],
        "invocationLatency": 420, "firstByteLatency": 120}
    return [chunk_frame(e) for e in events]


def count_claude(model, body):
    """(status, body) for CountTokens with an InvokeModel body."""
    if not model.startswith("anthropic."):  # profiles and ARNs are refused, as AWS does
        return 400, {"message": "The provided model doesn't support counting tokens."}
    try:
        invoke = json.loads(base64.b64decode(body["input"]["invokeModel"]["body"],
                                             validate=True))
    except (KeyError, TypeError, ValueError):
        return 400, {"message": "input.invokeModel.body must be a base64 JSON document"}
    problem = check_claude(invoke)
    if problem:
        return 400, {"message": problem}
    return 200, {"inputTokens": claude.prompt_tokens(invoke)}


def validate_converse(body):
    """Bedrock's own checks on a Converse body that translation bugs would trip; None if fine."""
    messages = body.get("messages") or []
    if not messages:
        return "The value at messages is empty"
    if messages[0].get("role") != "user":
        return "A conversation must start with a user message. Try again with a conversation " \
            "that starts with a user message."
    if any(a.get("role") == b.get("role") for a, b in zip(messages, messages[1:])):
        return "A conversation must alternate between user and assistant roles. Make sure the " \
            "conversation alternates between user and assistant roles and try again."
    blocks = [b for m in messages for b in m.get("content") or []]
    if any("toolUse" in b or "toolResult" in b for b in blocks) and not body.get("toolConfig"):
        return "The toolConfig field must be defined when using toolUse and toolResult content " \
            "blocks."
    if any("text" in b and not b["text"].strip() for b in blocks):
        return "The text field in the ContentBlock object is blank. Add text to the text field, " \
            "and try again."
    return None


ERROR_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


def auth_problem(method, raw_path, headers, raw):
    """None when the request is authenticated (Bedrock API key or SigV4), else (type, message)."""
    auth = headers.get("authorization", "")
    if auth.startswith("Bearer "):
        return None if auth[7:] == BEARER_TOKEN else (
            "UnrecognizedClientException", "Invalid API Key format: Must start with "
            "pre-defined prefix")
    return check_sigv4(method, raw_path, headers, raw)


class Handler(FakeHandler):
    """Auth, routing and Bedrock's scripted behaviours, then the fake model."""

    server_version = "FakeBedrock/1.0"
    stream_content_type = "application/vnd.amazon.eventstream"

    def send(self, status, payload, content_type="application/json", headers=None):
        """Every AWS answer carries an x-amzn-RequestId."""
        super().send(status, payload, content_type,
                     {"x-amzn-RequestId": str(uuid.uuid4()), **(headers or {})})

    def send_chunked(self, frames, delay=0.0, abort=False, content_type=None, headers=None):
        """Event-stream bodies carry an x-amzn-RequestId too."""
        super().send_chunked(frames, delay, abort, content_type,
                             {"x-amzn-RequestId": str(uuid.uuid4()), **(headers or {})})

    def send_error_json(self, status, error_type, message, headers=None):
        """An AWS REST-JSON error."""
        self.send(status, {"message": message},
                  headers={"x-amzn-ErrorType": error_type + ERROR_SUFFIX, **(headers or {})})

    def frame(self, event):
        """One scripted stream item as event-stream bytes (``garbage``: not a frame at all)."""
        if event.get("garbage"):
            return b"\x00\x00\x00\x20not an event-stream frame at all!!"
        if "exception" in event:
            return exception_frame(event["exception"], event.get("payload") or {})
        if "chunk" in event:
            return chunk_frame(event["chunk"])
        return event_frame(event["event"], event.get("payload") or {})

    def dispatch(self):
        """Bedrock authenticates, routes and parses before any scripted behaviour."""
        raw_path = urlsplit(self.path).path
        if raw_path.startswith("/_fake/"):
            return super().dispatch()
        raw = self.read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        problem = auth_problem(self.command, raw_path, headers, raw)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        STATE.record({"method": self.command, "path": raw_path, "headers": headers,
                      "body": body, "auth_error": problem and problem[0]})
        if problem:
            return self.send_error_json(403, *problem)
        if self.command != "POST" or not PATH.match(raw_path):
            return self.send_error_json(404, "UnknownOperationException", "Unknown operation")
        if not isinstance(body, dict):
            return self.send_error_json(400, "SerializationException", "Malformed JSON body")
        script = STATE.next_script()
        if "status" in script:
            return self.send_error_json(script["status"], script["error_type"],
                                        script.get("message", "scripted"), script.get("headers"))
        if "json" in script:
            return self.send(200, script["json"])
        if "events" in script:
            return self.send_chunked([self.frame(e) for e in script["events"]],
                                     abort=script.get("abort", False))
        return self.api(raw_path, body, script)

    def api(self, path, body, script):
        """The Bedrock operations."""
        match = PATH.match(path)
        model, action = unquote(match["model"]), match["action"]
        if "anthropic.claude" in model and action in ("invoke", "invoke-with-response-stream",
                                                      "count-tokens"):
            return self.claude(model, action, body, script)
        if action == "invoke":
            status, out, headers = invoke(model, body)
            return self.send(status, out, headers=headers) if status == 200 else \
                self.send_error_json(status, "ValidationException", out["message"])
        problem = validate_converse(body)
        if problem:
            return self.send_error_json(400, "ValidationException", problem)
        if action == "converse-stream":
            return self.send_chunked(stream_frames(body),
                                     delay=script.get("stream_delay_ms", 0) / 1000)
        return self.send(200, converse(body))


    def claude(self, model, action, body, script):
        """Claude's native InvokeModel, InvokeModelWithResponseStream and CountTokens."""
        if action == "count-tokens":
            status, out = count_claude(model, body)
            return self.send(status, out) if status == 200 else \
                self.send_error_json(status, "ValidationException", out["message"])
        problem = check_claude(body)
        if problem:
            return self.send_error_json(400, "ValidationException", problem)
        message = claude_message(model, body)
        if action == "invoke":
            return self.send(200, message)
        return self.send_chunked(claude_frames(message),
                                 delay=script.get("stream_delay_ms", 0) / 1000)


def main(argv=None):
    """Serve until killed."""
    serve(Handler, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    main()
