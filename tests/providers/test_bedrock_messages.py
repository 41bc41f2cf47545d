"""Bedrock Claude natively: the InvokeModel body, the chunk stream relayed as Anthropic SSE,
CountTokens, and which deployments take the Messages body as it is."""
import base64
import json

import pytest
import requests
import responses

from app import create_app, errors
from app.config import load_config
from app.overrides import Overrides
from app.providers import REGISTRY
from app.providers import bedrock_messages as native
from app.providers.anthropic import NativeMessages
from app.providers.base import Call
from conftest import fixture_json
from tests.fakes.fake_bedrock import CREDENTIALS, check_sigv4, chunk_frame, exception_frame

KEY_ID = "AKIDFAKEEXAMPLE"
CREDS = {"aws_access_key_id": KEY_ID, "aws_secret_access_key": CREDENTIALS[KEY_ID],
         "aws_region_name": "us-east-1"}
MODEL = "anthropic.claude-3-7-sonnet-20250219-v1:0"
HOST = "https://bedrock-runtime.us-east-1.amazonaws.com"
MODEL_URL = f"{HOST}/model/anthropic.claude-3-7-sonnet-20250219-v1%3A0"
HELLO = [{"role": "user", "content": "hello"}]
# A Claude Code-shaped body: everything in it must reach Bedrock as it is.
BODY = {"model": "claude", "max_tokens": 2048, "stream": True,
        "system": [{"type": "text", "text": "You are a CLI.", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "read it", "cache_control": {"type": "ephemeral"}}]}],
        "tools": [{"name": "Read", "input_schema": {"type": "object"},
                   "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "enabled", "budget_tokens": 1024}, "top_k": 5,
        "metadata": {"user_id": "user_abc"}, "temperature": 1}


def deployment(model="bedrock/" + MODEL, **params):
    entry = {"model_name": "claude", "litellm_params": {"model": model, **CREDS, **params}}
    return load_config({"model_list": [entry]}).model_list[0]


def call_for(dep=None, body=None, beta=None, stream=False, overrides=Overrides()):
    dep = dep or deployment()
    provider = REGISTRY[dep.provider]
    body = body or {"model": "claude", "max_tokens": 5, "messages": HELLO}
    call = Call("chat", {"model": "claude", "messages": HELLO, "max_tokens": 5}, overrides, stream)
    call.native = NativeMessages(body, beta)
    return call.bind((dep, provider, provider.prepare(dep)), requests.Session(), (5, 30))


def stream_bytes(events):
    """Anthropic events as InvokeModelWithResponseStream chunk frames (the fake's encoder)."""
    return b"".join(chunk_frame(e) for e in events)


class _Response:
    """Enough of requests.Response for iter_events."""

    def __init__(self, data, size=7, ctype="application/vnd.amazon.eventstream"):
        self.headers = {"content-type": ctype}
        self.data, self.size = data, size

    def iter_content(self, chunk_size=None):
        return (self.data[i:i + self.size] for i in range(0, len(self.data), self.size))


def relayed(data, size=7):
    call = call_for(stream=True)
    out = b"".join(REGISTRY["bedrock"].iter_events(call, _Response(data, size)))
    return out, call


def sse_events(data):
    """(event name, parsed data) of each SSE event."""
    out = []
    for block in data.decode().split("\n\n")[:-1]:
        name, payload = block.split("\n")
        assert name.startswith("event: ") and payload.startswith("data: ")
        out.append((name[7:], json.loads(payload[6:])))
    return out


# -- which deployments ----------------------------------------------------------------------------

@pytest.mark.parametrize("model_id,expected", [
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", True),
    ("us.anthropic.claude-sonnet-4-20250514-v1:0", True),
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", True),
    ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-3-7", True),
    ("amazon.nova-lite-v1:0", False), ("meta.llama3-1-70b-instruct-v1:0", False),
    ("cohere.command-r-plus-v1:0", False), ("amazon.titan-embed-text-v2:0", False)])
def test_is_claude(model_id, expected):
    assert native.is_claude(model_id) is expected


@pytest.mark.parametrize("model,expected", [
    ("bedrock/" + MODEL, True), ("bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0", True),
    ("bedrock/converse/" + MODEL, False),  # Converse asked for by name
    ("bedrock/amazon.nova-pro-v1:0", False), ("bedrock/meta.llama3-1-8b-instruct-v1:0", False)])
def test_speaks_messages_per_deployment(model, expected):
    dep = deployment(model)
    assert REGISTRY["bedrock"].speaks_messages_for(dep) is expected


def test_other_providers_keep_their_answer():
    entries = [{"model_name": "a", "litellm_params": {"model": "anthropic/claude-x"}},
               {"model_name": "o", "litellm_params": {"model": "openai/gpt-4o"}}]
    claude, gpt = load_config({"model_list": entries}).model_list
    assert REGISTRY["anthropic"].speaks_messages_for(claude) is True
    assert REGISTRY["openai"].speaks_messages_for(gpt) is False


# -- request --------------------------------------------------------------------------------------

def test_invoke_body_is_the_client_body_but_model_and_stream():
    original = json.loads(json.dumps(BODY))
    out = native.invoke_body(BODY, "interleaved-thinking-2025-05-14, context-1m-2025-08-07")
    assert BODY == original  # not mutated
    expected = {k: v for k, v in BODY.items() if k not in ("model", "stream")}
    assert out == {"anthropic_version": "bedrock-2023-05-31", **expected,
                   "anthropic_beta": ["interleaved-thinking-2025-05-14",
                                      "context-1m-2025-08-07"]}
    assert list(out)[0] == "anthropic_version"


@pytest.mark.parametrize("body_betas,header,expected", [
    (None, None, None), (None, "", None), (None, " a ,, b,a", ["a", "b"]),
    (["x"], "a", ["x", "a"]), ("x,a", "a", ["x", "a"]), ([], None, None)])
def test_beta_sources(body_betas, header, expected):
    body = {"max_tokens": 1, "messages": HELLO}
    if body_betas is not None:
        body["anthropic_beta"] = body_betas
    assert native.invoke_body(body, header).get("anthropic_beta") == expected


def test_client_anthropic_version_is_bedrocks():
    out = native.invoke_body({"anthropic_version": "2023-06-01", "max_tokens": 1,
                              "messages": HELLO})
    assert out["anthropic_version"] == "bedrock-2023-05-31"


def test_native_request_signed_and_unchanged():
    call = call_for(body=BODY, beta="interleaved-thinking-2025-05-14")
    out = REGISTRY["bedrock"].build_request(call)
    assert out.url == MODEL_URL + "/invoke"
    assert json.loads(out.data) == native.invoke_body(BODY, "interleaved-thinking-2025-05-14")
    headers = {k.lower(): v for k, v in out.headers.items()}
    headers["host"] = HOST.split("://")[1]
    assert headers["accept"] == "application/json"
    assert check_sigv4("POST", out.url[len(HOST):], headers, out.data) is None

    stream = REGISTRY["bedrock"].build_request(call_for(body=BODY, stream=True))
    assert stream.url == MODEL_URL + "/invoke-with-response-stream"
    assert "stream" not in json.loads(stream.data)


def test_api_key_and_client_base_as_for_converse():
    out = REGISTRY["bedrock"].build_request(call_for(deployment(api_key="dep-key")))
    assert out.headers["Authorization"] == "Bearer dep-key"
    ov = Overrides(api_base="https://bedrock-runtime.eu-central-1.amazonaws.com")
    out = REGISTRY["bedrock"].build_request(call_for(overrides=ov))
    assert out.url.startswith(ov.api_base + "/model/") and out.url.endswith("/invoke")
    assert "/eu-central-1/bedrock/" in out.headers["Authorization"]


@pytest.mark.parametrize("model", ["bedrock/amazon.nova-lite-v1:0", "bedrock/converse/" + MODEL])
def test_other_models_are_translated_to_converse(model):
    out = REGISTRY["bedrock"].build_request(call_for(deployment(model), body=BODY))
    assert out.url.endswith("/converse")
    assert json.loads(out.data)["messages"] == [{"role": "user",
                                                 "content": [{"text": "hello"}]}]


# -- response -------------------------------------------------------------------------------------

def test_message_relayed_as_it_came_with_usage():
    message = fixture_json("bedrock/invoke_claude_message.json")
    call = call_for()
    assert REGISTRY["bedrock"].parse_response(call, json.dumps(message).encode()) == message
    assert call.usage == {"prompt_tokens": 1436, "completion_tokens": 97, "total_tokens": 1533,
                          "prompt_tokens_details": {"cached_tokens": 1024}}
    with pytest.raises(errors.BadGatewayError):
        REGISTRY["bedrock"].parse_response(call_for(), b"<html>")


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_stream_relayed_as_anthropic_sse(size):
    events = fixture_json("bedrock/invoke_claude_stream.json")
    out, call = relayed(stream_bytes(events), size)
    found = sse_events(out)
    assert [name for name, _ in found] == [e["type"] for e in events]
    assert [data for _, data in found[:-1]] == events[:-1]
    assert found[-1] == ("message_stop", {"type": "message_stop"})  # Bedrock's metrics left out
    assert call.usage == {"prompt_tokens": 1436, "completion_tokens": 97, "total_tokens": 1533,
                          "prompt_tokens_details": {"cached_tokens": 1024}}


def test_event_json_goes_out_as_it_came():
    raw = b'{"type": "content_block_delta",  "index": 0, "delta": {"type": "text_delta", ' \
          b'"text": "caf\\u00e9"}}'
    payload = json.dumps({"bytes": base64.b64encode(raw).decode(), "p": "abc"}).encode()
    relay = native.StreamRelay()
    assert relay.feed(payload) == b"event: content_block_delta\ndata: " + raw + b"\n\n"
    pretty = json.dumps({"type": "ping"}, indent=2).encode()
    payload = json.dumps({"bytes": base64.b64encode(pretty).decode()}).encode()
    assert relay.feed(payload) == b'event: ping\ndata: {"type":"ping"}\n\n'
    untyped = json.dumps({"bytes": base64.b64encode(b'{"x": 1}').decode()}).encode()
    assert relay.feed(untyped) == b""


@pytest.mark.parametrize("frame,cls", [
    (exception_frame("throttlingException", {"message": "Too many tokens"}), errors.RateLimitError),
    (exception_frame("modelStreamErrorException", {"message": "Model failed"}),
     errors.BadGatewayError),
    (exception_frame("modelTimeoutException", {"message": "Model timed out"}),
     errors.RequestTimeoutError),
    (exception_frame("validationException", {"message": "Input is too long for requested model."}),
     errors.ContextLengthExceededError),
    (chunk_frame({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
     errors.ServiceUnavailableError),
])
def test_stream_errors_mapped(frame, cls):
    start = fixture_json("bedrock/invoke_claude_stream.json")[:3]
    with pytest.raises(cls):
        relayed(stream_bytes(start) + frame)


@pytest.mark.parametrize("data", [
    b"", stream_bytes(fixture_json("bedrock/invoke_claude_stream.json")[:-1]),  # no message_stop
    chunk_frame({"type": "message_start"})[:-9],  # cut mid-frame
])
def test_truncated_streams_are_502(data):
    with pytest.raises(errors.BadGatewayError):
        relayed(data)


@pytest.mark.parametrize("payload", [
    b"not json", b'{"nobytes": 1}', b'{"bytes": "%%%not base64"}', b'["bytes"]',
    json.dumps({"bytes": base64.b64encode(b"not json").decode()}).encode(),
    json.dumps({"bytes": base64.b64encode(b"[1, 2]").decode()}).encode()])
def test_malformed_chunks_are_502(payload):
    with pytest.raises(errors.BadGatewayError):
        native.StreamRelay().feed(payload)


# -- count_tokens ---------------------------------------------------------------------------------

COUNT_BODY = {"model": "claude", "system": "be brief", "messages": HELLO,
              "thinking": {"type": "enabled", "budget_tokens": 2048}}


def test_count_request_is_the_invoke_body_as_base64():
    request = native.count_request(COUNT_BODY, "context-1m-2025-08-07")
    sent = json.loads(base64.b64decode(request["input"]["invokeModel"]["body"]))
    assert sent == {**native.invoke_body(COUNT_BODY, "context-1m-2025-08-07"),
                    "max_tokens": 2049}  # above the thinking budget, as InvokeModel requires
    plain = native.count_request({"messages": HELLO})["input"]["invokeModel"]["body"]
    assert json.loads(base64.b64decode(plain))["max_tokens"] == 1024
    given = native.count_request({"messages": HELLO, "max_tokens": 7})
    assert json.loads(base64.b64decode(given["input"]["invokeModel"]["body"]))["max_tokens"] == 7


@pytest.mark.parametrize("model_id,expected", [
    (MODEL, MODEL), ("us.anthropic.claude-sonnet-4-20250514-v1:0",
                     "anthropic.claude-sonnet-4-20250514-v1:0"),
    ("arn:aws:bedrock:us-east-1::foundation-model/" + MODEL, MODEL)])
def test_count_model_is_the_foundation_model(model_id, expected):
    assert native.count_model(model_id) == expected


@responses.activate
def test_count_tokens_through_countTokens():  # noqa: N802 - the AWS operation's name
    responses.post(f"{HOST}/model/anthropic.claude-sonnet-4-20250514-v1%3A0/count-tokens",
                   json={"inputTokens": 17})
    call = call_for(deployment("bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0"),
                    body=COUNT_BODY)
    assert REGISTRY["bedrock"].count_tokens(call) == {"input_tokens": 17}
    sent = json.loads(responses.calls[0].request.body)
    assert sent == native.count_request(COUNT_BODY)
    assert "AWS4-HMAC-SHA256" in responses.calls[0].request.headers["Authorization"]


@responses.activate
def test_count_tokens_unsupported_model_is_none_other_errors_raise():
    url = MODEL_URL + "/count-tokens"
    responses.post(url, status=400, headers={"x-amzn-ErrorType": "ValidationException"},
                   json={"message": "The provided model doesn't support counting tokens."})
    assert REGISTRY["bedrock"].count_tokens(call_for()) is None
    responses.replace(responses.POST, url, status=400, json={"message": "messages: Field required"},
                      headers={"x-amzn-ErrorType": "ValidationException"})
    with pytest.raises(errors.InvalidRequestError):
        REGISTRY["bedrock"].count_tokens(call_for())
    responses.replace(responses.POST, url, status=429, json={"message": "slow"},
                      headers={"x-amzn-ErrorType": "ThrottlingException"})
    with pytest.raises(errors.RateLimitError):
        REGISTRY["bedrock"].count_tokens(call_for())
    responses.replace(responses.POST, url, json={"tokens": 1})
    with pytest.raises(errors.BadGatewayError):
        REGISTRY["bedrock"].count_tokens(call_for())


# -- through the app ------------------------------------------------------------------------------

@pytest.fixture
def app_client():
    entries = [{"model_name": "claude", "litellm_params": {"model": "bedrock/" + MODEL, **CREDS}},
               {"model_name": "nova", "litellm_params": {"model": "bedrock/amazon.nova-lite-v1:0",
                                                         **CREDS}}]
    app = create_app({"model_list": entries, "litellm_settings": {"num_retries": 0},
                      "general_settings": {"master_key": "sk-m", "access_log": "off"}})
    return app.test_client()


def post(client, path, body, **headers):
    return client.post(path, json=body, headers={"x-api-key": "sk-m", **headers})


@responses.activate
def test_messages_through_the_app(app_client):
    message = fixture_json("bedrock/invoke_claude_message.json")
    responses.post(MODEL_URL + "/invoke", json=message)
    responses.post(MODEL_URL + "/invoke-with-response-stream",
                   body=stream_bytes(fixture_json("bedrock/invoke_claude_stream.json")),
                   content_type="application/vnd.amazon.eventstream")
    body = {k: v for k, v in BODY.items() if k != "stream"}
    answer = post(app_client, "/v1/messages", body, **{"anthropic-beta": "b1"})
    assert answer.status_code == 200 and answer.get_json() == message
    assert json.loads(responses.calls[0].request.body) == native.invoke_body(body, "b1")

    streamed = post(app_client, "/v1/messages", {**body, "stream": True})
    assert streamed.status_code == 200 and streamed.mimetype == "text/event-stream"
    names = [name for name, _ in sse_events(streamed.get_data())]
    assert names[0] == "message_start" and names[-1] == "message_stop"


@responses.activate
def test_errors_through_the_app_in_anthropic_shape(app_client):
    responses.post(MODEL_URL + "/invoke", status=429, json={"message": "Too many requests"},
                   headers={"x-amzn-ErrorType": "ThrottlingException", "Retry-After": "4"})
    response = post(app_client, "/v1/messages", {"model": "claude", "max_tokens": 5,
                                                 "messages": HELLO})
    assert response.status_code == 429 and response.headers["Retry-After"] == "4"
    assert response.get_json()["error"]["type"] == "rate_limit_error"


@responses.activate
def test_count_tokens_through_the_app(app_client):
    responses.post(MODEL_URL + "/count-tokens", json={"inputTokens": 9})
    counted = post(app_client, "/v1/messages/count_tokens", {"model": "claude", "messages": HELLO})
    assert counted.get_json() == {"input_tokens": 9}
    responses.replace(responses.POST, MODEL_URL + "/count-tokens", status=400,
                      headers={"x-amzn-ErrorType": "ValidationException"},
                      json={"message": "The provided model doesn't support counting tokens."})
    estimated = post(app_client, "/v1/messages/count_tokens",
                     {"model": "claude", "messages": [{"role": "user", "content": "x" * 400}]})
    assert estimated.get_json() == {"input_tokens": 104}  # the estimate: 400 chars / 4 + 4
    nova = post(app_client, "/v1/messages/count_tokens", {"model": "nova", "messages": HELLO})
    assert nova.status_code == 200 and len(responses.calls) == 2  # Nova: estimated, not asked
