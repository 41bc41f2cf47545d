"""Bedrock provider: Converse request/response translation, SigV4, event streams, embeddings."""
import base64
import json
import struct
import subprocess
import sys

import pytest
import requests
import responses

from app import create_app, errors
from app.config import load_config
from app.overrides import Overrides
from app.providers import REGISTRY, bedrock, bedrock_convert, bedrock_embeddings, resolve_model
from app.providers.base import Call
from conftest import fixture_json
from tests.fakes.fake_bedrock import CREDENTIALS, check_sigv4, exception_frame, frame

KEY_ID = "AKIDFAKEEXAMPLE"
SECRET = CREDENTIALS[KEY_ID]
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
HOST = "https://bedrock-runtime.us-east-1.amazonaws.com"
CONVERSE = f"{HOST}/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
STREAM_URL = CONVERSE + "-stream"
CREDS = {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET,
         "aws_region_name": "us-east-1"}
HELLO = [{"role": "user", "content": "hello"}]
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


@pytest.fixture(autouse=True)
def _no_aws_environment(monkeypatch, tmp_path):
    # The standard chain must never find the developer's real credentials or call IMDS.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_BEARER_TOKEN_BEDROCK",
                 "AWS_BEDROCK_RUNTIME_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bedrock._chain_credentials.cache_clear()
    yield
    bedrock._chain_credentials.cache_clear()


def deployment(model="bedrock/" + MODEL, **params):
    params = {**CREDS, **params}
    entry = {"model_name": "claude", "litellm_params": {"model": model, **params}}
    return load_config({"model_list": [entry]}).model_list[0]


def call_for(dep, body=None, overrides=Overrides(), endpoint="chat", stream=False, drop=False):
    provider = REGISTRY[dep.provider]
    body = dict(body or {"model": "claude", "messages": HELLO})
    call = Call(endpoint, body, overrides, stream)
    return call.bind((dep, provider, provider.prepare(dep)), requests.Session(), (5, 30), drop)


def sent(body, dep=None, **kwargs):
    """The Converse JSON built for an OpenAI body."""
    out = REGISTRY["bedrock"].build_request(call_for(dep or deployment(), body, **kwargs))
    return json.loads(out.data)


def chat(**body):
    return {"model": "claude", "messages": HELLO, **body}


def app_for(**params):
    entry = {"model_name": "claude", "litellm_params": {"model": "bedrock/" + MODEL, **CREDS,
                                                         **params}}
    embed = {"model_name": "titan", "litellm_params": {
        "model": "bedrock/amazon.titan-embed-text-v2:0", **CREDS}}
    cohere = {"model_name": "cohere", "litellm_params": {
        "model": "bedrock/cohere.embed-english-v3", **CREDS}}
    return create_app({"model_list": [entry, embed, cohere],
                       "litellm_settings": {"num_retries": 0},
                       "general_settings": {"access_log": "off"}})


def stream_bytes(name):
    """A fixture's events as AWS event-stream frames (encoded by the fake's encoder)."""
    return b"".join(frame(e["headers"], json.dumps(e["payload"]).encode())
                    for e in fixture_json(name))


def sse_payloads(text):
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


# -- configuration --------------------------------------------------------------------------------

def test_resolve_model_and_converse_prefix():
    assert resolve_model("bedrock/" + MODEL) == ("bedrock", MODEL)
    target = REGISTRY["bedrock"].prepare(deployment("bedrock/converse/" + MODEL))
    assert target.model_id == MODEL
    assert target.base == HOST and target.region == "us-east-1"


def test_module_import_does_not_load_botocore():
    code = ("import sys, app.providers.bedrock; "
            "sys.exit(any(m.startswith('botocore') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_region_and_endpoint_sources(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    target = REGISTRY["bedrock"].prepare(deployment(aws_region_name=None))
    assert target.base == "https://bedrock-runtime.eu-west-3.amazonaws.com"
    monkeypatch.setenv("AWS_REGION_NAME", "ap-south-1")  # LiteLLM's name wins
    assert REGISTRY["bedrock"].prepare(deployment(aws_region_name=None)).region == "ap-south-1"
    monkeypatch.delenv("AWS_REGION_NAME")
    monkeypatch.delenv("AWS_REGION")  # then the endpoint's host names the region
    target = REGISTRY["bedrock"].prepare(deployment(
        aws_region_name=None,
        aws_bedrock_runtime_endpoint="https://vpce-1.bedrock-runtime.us-west-2.vpce.amazonaws.com"))
    assert target.region == "us-west-2" and target.base.startswith("https://vpce-1")


def test_missing_region_is_a_clear_error():
    with pytest.raises(errors.InvalidRequestError, match="aws_region_name"):
        sent(chat(), dep=deployment(aws_region_name=None))


def test_credentials_from_the_standard_chain(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    dep = deployment(aws_access_key_id=None, aws_secret_access_key=None)
    out = REGISTRY["bedrock"].build_request(call_for(dep))
    assert check_sigv4("POST", out.url[len(HOST):], _lower(out.headers, HOST), out.data) is None


def test_no_credentials_anywhere_is_401():
    dep = deployment(aws_access_key_id=None, aws_secret_access_key=None)
    with pytest.raises(errors.AuthenticationError, match="No AWS credentials"):
        REGISTRY["bedrock"].build_request(call_for(dep))


def _lower(headers, base):
    out = {k.lower(): v for k, v in headers.items()}
    out["host"] = base.split("://", 1)[1]
    return out


# -- signing --------------------------------------------------------------------------------------

def test_sigv4_signature_verifies_over_encoded_arn():
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7"
    dep = deployment("bedrock/" + arn, aws_session_token="session-tok",
                     extra_headers={"X-Team": "a"})
    out = REGISTRY["bedrock"].build_request(call_for(dep))
    path = out.url[len(HOST):]
    assert path == ("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile"
                    "%2Fus.anthropic.claude-3-7/converse")
    headers = _lower(out.headers, HOST)
    assert headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={KEY_ID}/{headers['x-amz-date'][:8]}/us-east-1/bedrock/"
        "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-team, "
        "Signature=")
    assert headers["x-amz-security-token"] == "session-tok"
    assert check_sigv4("POST", path, headers, out.data) is None
    assert check_sigv4("POST", path, headers, out.data + b" ")[0] == "InvalidSignatureException"


def test_bearer_api_key_instead_of_sigv4(monkeypatch):
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-key-env")
    out = REGISTRY["bedrock"].build_request(call_for(deployment()))
    assert out.headers["Authorization"] == "Bearer bedrock-key-env"
    out = REGISTRY["bedrock"].build_request(call_for(deployment(api_key="dep-key")))
    assert out.headers["Authorization"] == "Bearer dep-key"


def test_client_base_never_gets_the_deployment_api_key():
    dep = deployment(api_key="dep-key", aws_access_key_id=None, aws_secret_access_key=None)
    ov = Overrides(api_base="https://bedrock-runtime.eu-central-1.amazonaws.com")
    with pytest.raises(errors.AuthenticationError):
        REGISTRY["bedrock"].build_request(call_for(dep, overrides=ov))
    out = REGISTRY["bedrock"].build_request(call_for(deployment(), overrides=ov))
    assert "/eu-central-1/bedrock/" in out.headers["Authorization"]  # signed for its region
    assert out.url.startswith(ov.api_base + "/model/")


# -- request translation --------------------------------------------------------------------------

def test_system_developer_and_inference_config():
    body = sent(chat(messages=[
        {"role": "system", "content": "be brief"},
        {"role": "developer", "content": [{"type": "text", "text": "answer in French"}]},
        {"role": "user", "content": "hi"}],
        max_completion_tokens=50, max_tokens=10, temperature=0.3, top_p=0.9, stop="END",
        user="u-1", stream_options={"include_usage": True}))
    assert body == {
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        "system": [{"text": "be brief"}, {"text": "answer in French"}],
        "inferenceConfig": {"maxTokens": 50, "temperature": 0.3, "topP": 0.9,
                            "stopSequences": ["END"]}}


def test_multi_turn_tool_calls_and_results_alternate():
    messages = [
        {"role": "user", "content": "weather in Paris and Tokyo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "tooluse_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "tooluse_2", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Tokyo"}'}}]},
        {"role": "tool", "tool_call_id": "tooluse_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "tooluse_2", "content": [{"type": "text", "text": "25C"}]},
        {"role": "user", "content": "thanks"},
        {"role": "assistant", "content": "You're welcome"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "bye"}]
    body = sent(chat(messages=messages, tools=[WEATHER_TOOL]))
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "weather in Paris and Tokyo?"}]},
        {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather",
                         "input": {"city": "Paris"}}},
            {"toolUse": {"toolUseId": "tooluse_2", "name": "get_weather",
                         "input": {"city": "Tokyo"}}}]},
        {"role": "user", "content": [
            {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "18C"}]}},
            {"toolResult": {"toolUseId": "tooluse_2", "content": [{"text": "25C"}]}},
            {"text": "thanks"}]},
        {"role": "assistant", "content": [{"text": "You're welcome"}]},
        {"role": "user", "content": [{"text": "bye"}]}]
    assert body["toolConfig"] == {"tools": [{"toolSpec": {
        "name": "get_weather", "description": "Weather for a city",
        "inputSchema": {"json": WEATHER_TOOL["function"]["parameters"]}}}]}


def test_bad_tool_arguments_are_400():
    messages = [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
        {"id": "t", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]
    with pytest.raises(errors.InvalidRequestError, match="JSON object"):
        sent(chat(messages=messages))


@pytest.mark.parametrize("choice,expected", [
    ("auto", None), ("required", {"any": {}}),
    ({"type": "function", "function": {"name": "get_weather"}}, {"tool": {"name": "get_weather"}}),
])
def test_tool_choice(choice, expected):
    config = sent(chat(tools=[WEATHER_TOOL], tool_choice=choice))["toolConfig"]
    assert config.get("toolChoice") == expected


def test_tool_choice_none_omits_tools_unless_history_needs_them():
    assert "toolConfig" not in sent(chat(tools=[WEATHER_TOOL], tool_choice="none"))
    history = [{"role": "user", "content": "x"},
               {"role": "assistant", "tool_calls": [{"id": "t", "type": "function", "function": {
                   "name": "get_weather", "arguments": "{}"}}]},
               {"role": "tool", "tool_call_id": "t", "content": "sunny"}]
    body = sent(chat(messages=history, tools=[WEATHER_TOOL], tool_choice="none"))
    assert "toolChoice" not in body["toolConfig"] and body["toolConfig"]["tools"]


def test_images_as_data_uri_and_s3_and_refused_url():
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    content = [{"type": "text", "text": "what is this?"},
               {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
               {"type": "image_url", "image_url": {"url": "s3://bucket/cat.JPG"}}]
    body = sent(chat(messages=[{"role": "user", "content": content}]))
    assert body["messages"][0]["content"] == [
        {"text": "what is this?"},
        {"image": {"format": "png", "source": {"bytes": png}}},
        {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bucket/cat.JPG"}}}}]
    url = [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]
    with pytest.raises(errors.InvalidRequestError) as exc:
        sent(chat(messages=[{"role": "user", "content": url}]))
    assert exc.value.code == "unsupported_image_url" and exc.value.param == "messages"


def test_pdf_file_part_becomes_a_document():
    pdf = base64.b64encode(b"%PDF-1.4").decode()
    part = {"type": "file", "file": {"filename": "Q3 report_v2.pdf",
                                     "file_data": f"data:application/pdf;base64,{pdf}"}}
    body = sent(chat(messages=[{"role": "user", "content": [part]}]))
    assert body["messages"][0]["content"] == [
        {"document": {"format": "pdf", "name": "Q3 reportv2", "source": {"bytes": pdf}}}]


def test_response_format_json_schema_is_structured_output():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = sent(chat(response_format={"type": "json_schema", "json_schema": {
        "name": "answer", "schema": schema}}))
    assert body["outputConfig"] == {"textFormat": {"type": "json_schema", "structure": {
        "jsonSchema": {"schema": json.dumps(schema, separators=(",", ":")), "name": "answer"}}}}


@pytest.mark.parametrize("param,value", [
    ("seed", 7), ("n", 2), ("logprobs", True), ("presence_penalty", 0.5),
    ("frequency_penalty", 1), ("logit_bias", {"50256": -100}),
    ("response_format", {"type": "json_object"}), ("parallel_tool_calls", False),
])
def test_unsupported_params_are_400_or_dropped(param, value):
    with pytest.raises(errors.InvalidRequestError) as exc:
        sent(chat(**{param: value}))
    assert exc.value.param == param and exc.value.code == "unsupported_parameter"
    body = sent(chat(**{param: value}), drop=True)
    assert f'"{param}"' not in json.dumps(body)


def test_noop_values_of_unsupported_params_pass():
    body = sent(chat(n=1, presence_penalty=0, logprobs=False, parallel_tool_calls=True,
                     response_format={"type": "text"}))
    assert set(body) == {"messages"}


def test_reasoning_effort_is_claude_thinking_else_unsupported():
    body = sent(chat(reasoning_effort="medium"))
    assert body["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert body["inferenceConfig"]["maxTokens"] == 2048 + 4096
    nova = deployment("bedrock/amazon.nova-pro-v1:0")
    with pytest.raises(errors.InvalidRequestError, match="reasoning_effort"):
        sent(chat(reasoning_effort="low"), dep=nova)


def test_provider_fields_deployment_defaults_and_passthrough():
    dep = deployment(temperature=0.1, max_tokens=99, top_k=5,
                     guardrailConfig={"guardrailIdentifier": "gr-1", "guardrailVersion": "1"})
    body = sent(chat(temperature=0.7, requestMetadata={"team": "a"}), dep=dep)
    assert body["inferenceConfig"] == {"maxTokens": 99, "temperature": 0.7}
    assert body["additionalModelRequestFields"] == {"top_k": 5}
    assert body["guardrailConfig"] == {"guardrailIdentifier": "gr-1", "guardrailVersion": "1"}
    assert body["requestMetadata"] == {"team": "a"}
    assert "aws_access_key_id" not in json.dumps(body)


# -- response translation -------------------------------------------------------------------------

def test_text_response_with_cached_usage():
    out = bedrock_convert.chat_response(fixture_json("bedrock/converse_text.json"), MODEL)
    assert out["object"] == "chat.completion" and out["id"].startswith("chatcmpl-")
    assert out["choices"][0]["message"] == {"role": "assistant", "refusal": None,
                                            "content": "Paris is the capital of France."}
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"] == {"prompt_tokens": 2062, "completion_tokens": 9, "total_tokens": 2071,
                            "prompt_tokens_details": {"cached_tokens": 2048}}


def test_tool_use_response():
    out = bedrock_convert.chat_response(fixture_json("bedrock/converse_tool_use.json"), MODEL)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "I'll look up the weather in Paris and Tokyo."
    assert [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in choice["message"]["tool_calls"]] == [
        ("tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "get_weather", {"city": "Paris", "unit": "celsius"}),
        ("tooluse_3Lm0oJq8QyqV2xB1dZr9Ww", "get_weather", {"city": "Tokyo", "unit": "celsius"})]
    assert out["usage"]["total_tokens"] == 543


def test_reasoning_response_and_length():
    out = bedrock_convert.chat_response(fixture_json("bedrock/converse_reasoning.json"), MODEL)
    msg = out["choices"][0]["message"]
    assert msg["reasoning_content"].startswith("The user asks for 17 * 23")
    assert msg["content"] == "17 × 23 = 391"
    assert out["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("reason,expected", [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
    ("model_context_window_exceeded", "length"), ("tool_use", "tool_calls"),
    ("guardrail_intervened", "content_filter"), ("content_filtered", "content_filter"),
    ("something_new", "stop")])
def test_finish_reasons(reason, expected):
    assert bedrock_convert.finish_reason(reason) == expected


@responses.activate
def test_chat_through_the_app_guardrail_is_content_filter():
    responses.post(CONVERSE, body=json.dumps(fixture_json("bedrock/converse_guardrail.json")),
                   content_type="application/json")
    resp = app_for().test_client().post("/v1/chat/completions", json=chat())
    assert resp.status_code == 200, resp.json
    assert resp.json["choices"][0]["finish_reason"] == "content_filter"
    assert resp.json["model"] == MODEL
    [call] = responses.calls
    assert call.request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert json.loads(call.request.body) == {"messages": [{"role": "user",
                                                           "content": [{"text": "hello"}]}]}


@responses.activate
def test_non_json_answer_is_502():
    responses.post(CONVERSE, body="<html>oops</html>", content_type="text/html")
    resp = app_for().test_client().post("/v1/chat/completions", json=chat())
    assert resp.status_code == 502


# -- streams --------------------------------------------------------------------------------------

def test_fixture_frames_decode_with_botocore():
    from botocore.eventstream import EventStreamBuffer

    buffer = EventStreamBuffer()
    buffer.add_data(stream_bytes("bedrock/converse_stream_tools.json"))
    decoded = [(m.headers, json.loads(m.payload)) for m in buffer]
    assert decoded == [(e["headers"], e["payload"])
                       for e in fixture_json("bedrock/converse_stream_tools.json")]


class _Response:
    """Enough of requests.Response for iter_events."""

    def __init__(self, data, size, ctype="application/vnd.amazon.eventstream"):
        self.headers = {"content-type": ctype}
        self.data, self.size = data, size

    def iter_content(self, chunk_size=None):
        return (self.data[i:i + self.size] for i in range(0, len(self.data), self.size))


def _events(data, size=7, body=None, ctype="application/vnd.amazon.eventstream"):
    call = call_for(deployment(), body or chat(stream=True, stream_options={"include_usage": True}),
                    stream=True)
    chunks = [json.loads(c) for c in
              REGISTRY["bedrock"].iter_events(call, _Response(data, size, ctype))]
    return chunks, call


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_every_stream_event_type(size):
    chunks, call = _events(stream_bytes("bedrock/converse_stream_tools.json"), size)
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"reasoning_content": "Two cities, two calls."}
    assert "".join(d.get("content") or "" for d in deltas) == "I'll check both."
    calls = [tc for d in deltas for tc in d.get("tool_calls", [])]
    assert calls[0] == {"index": 0, "id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "type": "function",
                        "function": {"name": "get_weather", "arguments": ""}}
    args = {}
    for tc in calls:
        args[tc["index"]] = args.get(tc["index"], "") + tc["function"]["arguments"]
    assert {i: json.loads(a) for i, a in args.items()} == {0: {"city": "Paris"},
                                                           1: {"city": "Tokyo"}}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == {
        "prompt_tokens": 1415, "completion_tokens": 121, "total_tokens": 1536,
        "prompt_tokens_details": {"cached_tokens": 1024}}
    assert call.usage == chunks[-1]["usage"]


def test_stream_without_include_usage_still_records_usage():
    chunks, call = _events(stream_bytes("bedrock/converse_stream_guardrail.json"),
                           body=chat(stream=True))
    assert all(c["choices"] for c in chunks) and "usage" not in chunks[0]
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"
    assert call.usage["prompt_tokens"] == 18


def test_exception_frame_mid_stream_raises_mapped_error():
    with pytest.raises(errors.RateLimitError, match="Too many tokens"):
        _events(stream_bytes("bedrock/converse_stream_throttled.json"))


@pytest.mark.parametrize("kind,cls", [
    ("validationException", errors.InvalidRequestError),
    ("modelStreamErrorException", errors.BadGatewayError),
    ("internalServerException", errors.InternalServerError),
    ("serviceUnavailableException", errors.ServiceUnavailableError)])
def test_stream_exception_types(kind, cls):
    with pytest.raises(cls, match="boom"):
        _events(exception_frame(kind, {"message": "boom"}))


def test_stream_context_length_exception():
    data = exception_frame("validationException", {"message": "Input is too long for requested "
                                                              "model."})
    with pytest.raises(errors.ContextLengthExceededError):
        _events(data)


@pytest.mark.parametrize("data", [
    b"", stream_bytes("bedrock/converse_stream_tools.json")[:-300],  # cut inside metadata
    stream_bytes("bedrock/converse_stream_tools.json")[:-500],  # no messageStop either
    frame({":event-type": "messageStart", ":message-type": "event"}, b"{}")
    + b"\x00\x00\x00\x10junkjunkjunk",  # bad prelude CRC
    frame({":event-type": "messageStart", ":message-type": "event"}, b"not json"),
])
def test_broken_streams_are_502(data):
    with pytest.raises(errors.BadGatewayError):
        _events(data)


def test_stream_with_wrong_content_type_is_502():
    with pytest.raises(errors.BadGatewayError, match="not application/vnd.amazon.eventstream"):
        _events(b"{}", ctype="application/json")


@responses.activate
def test_stream_through_the_app():
    responses.post(STREAM_URL, body=stream_bytes("bedrock/converse_stream_tools.json"),
                   content_type="application/vnd.amazon.eventstream")
    resp = app_for().test_client().post("/v1/chat/completions", json=chat(
        stream=True, tools=[WEATHER_TOOL], stream_options={"include_usage": True}))
    payloads = sse_payloads(resp.get_data(as_text=True))
    assert payloads[-1] == "[DONE]"
    assert json.loads(payloads[-2])["usage"]["completion_tokens"] == 121
    assert "toolConfig" in json.loads(responses.calls[0].request.body)


@responses.activate
def test_stream_exception_becomes_final_error_event():
    responses.post(STREAM_URL, body=stream_bytes("bedrock/converse_stream_throttled.json"),
                   content_type="application/vnd.amazon.eventstream")
    resp = app_for().test_client().post("/v1/chat/completions", json=chat(stream=True))
    payloads = sse_payloads(resp.get_data(as_text=True))
    assert json.loads(payloads[1])["choices"][0]["delta"]["content"] == "Once upon"
    assert json.loads(payloads[-1])["error"]["type"] == "rate_limit_error"


# -- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", fixture_json("bedrock/errors.json"), ids=lambda c: c["name"])
@responses.activate
def test_error_mapping(case):
    responses.post(CONVERSE, json=case["body"], status=case["status"],
                   headers={"x-amzn-ErrorType": case["type"], "Retry-After": "3"})
    resp = app_for().test_client().post("/v1/chat/completions", json=chat())
    expect = case["expect"]
    assert resp.status_code == expect["status"], resp.json
    error = resp.json["error"]
    assert case["body"]["message"] in error["message"]
    if "code" in expect:
        assert error["code"] == expect["code"]
    if expect["status"] == 429:
        assert resp.headers["Retry-After"] == "3"


def test_parse_error_class_names():
    provider = REGISTRY["bedrock"]
    call = call_for(deployment())
    for case in fixture_json("bedrock/errors.json"):
        exc = provider.parse_error(call, case["status"], json.dumps(case["body"]).encode(),
                                   {"x-amzn-errortype": case["type"]})
        assert type(exc).__name__ == case["expect"]["class"], case["name"]
    exc = provider.parse_error(call, 500, b"", {})
    assert isinstance(exc, errors.InternalServerError)


# -- embeddings -----------------------------------------------------------------------------------

TITAN_URL = f"{HOST}/model/amazon.titan-embed-text-v2%3A0/invoke"
COHERE_URL = f"{HOST}/model/cohere.embed-english-v3/invoke"


@responses.activate
def test_titan_embeddings_one_call_per_input_float_and_base64():
    responses.post(TITAN_URL, json=fixture_json("bedrock/titan_embed_v2.json"),
                   headers={"X-Amzn-Bedrock-Input-Token-Count": "5"})
    client = app_for().test_client()
    resp = client.post("/v1/embeddings", json={"model": "titan", "input": ["a b", "c d e"],
                                               "dimensions": 256})
    assert resp.status_code == 200, resp.json
    vector = fixture_json("bedrock/titan_embed_v2.json")["embedding"]
    assert [d["embedding"] for d in resp.json["data"]] == [vector, vector]
    assert resp.json["usage"] == {"prompt_tokens": 10, "total_tokens": 10}
    assert [json.loads(c.request.body) for c in responses.calls] == [
        {"inputText": "a b", "dimensions": 256, "normalize": True},
        {"inputText": "c d e", "dimensions": 256, "normalize": True}]
    assert responses.calls[0].request.headers["Accept"] == "application/json"
    resp = client.post("/v1/embeddings", json={"model": "titan", "input": "x",
                                               "encoding_format": "base64"})
    raw = base64.b64decode(resp.json["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(vector)}f", raw)) == vector


@pytest.mark.parametrize("fixture", ["cohere_embed_by_type.json", "cohere_embed_floats.json"])
@responses.activate
def test_cohere_embeddings(fixture):
    data = fixture_json("bedrock/" + fixture)
    responses.post(COHERE_URL, json=data, headers={"X-Amzn-Bedrock-Input-Token-Count": "4"})
    inputs = data["texts"]
    resp = app_for().test_client().post("/v1/embeddings", json={
        "model": "cohere", "input": inputs, "input_type": "search_query"})
    assert resp.status_code == 200, resp.json
    assert len(resp.json["data"]) == len(inputs) and resp.json["usage"]["prompt_tokens"] == 4
    assert json.loads(responses.calls[0].request.body) == {
        "texts": inputs, "input_type": "search_query", "embedding_types": ["float"]}


def test_cohere_batches_of_96_and_embedding_refusals():
    assert [len(b) for b in bedrock_embeddings.embedding_batches("cohere", ["x"] * 200)] == [96, 96, 8]
    assert len(bedrock_embeddings.embedding_batches("titan", ["x"] * 3)) == 3
    with pytest.raises(errors.InvalidRequestError, match="token arrays"):
        bedrock_embeddings.embedding_inputs({"input": [[1, 2, 3]]})
    with pytest.raises(errors.InvalidRequestError, match="titan-embed"):
        bedrock_embeddings.embedding_family("meta.llama3-70b-instruct-v1:0")
    dep = deployment("bedrock/cohere.embed-english-v3")
    with pytest.raises(errors.InvalidRequestError, match="dimensions"):
        REGISTRY["bedrock"].build_request(call_for(
            dep, {"model": "c", "input": ["x"], "dimensions": 64}, endpoint="embeddings"))


@responses.activate
def test_embeddings_with_missing_vectors_are_502():
    responses.post(TITAN_URL, json={"inputTextTokenCount": 1})
    resp = app_for().test_client().post("/v1/embeddings", json={"model": "titan", "input": "x"})
    assert resp.status_code == 502


def test_per_request_aws_settings_are_refused_never_forwarded():
    with pytest.raises(errors.InvalidRequestError) as exc:
        sent(chat(aws_secret_access_key="x"))
    assert exc.value.param == "aws_secret_access_key"


def test_cache_markers_become_cache_points():
    cached = {"type": "ephemeral"}
    body = sent(chat(messages=[
        {"role": "system", "content": [{"type": "text", "text": "long rules",
                                        "cache_control": cached}]},
        {"role": "user", "content": "long document", "cache_control": cached},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [
            {"type": "text", "text": "question",
             "prompt_cache_breakpoint": {"mode": "explicit"}}]}]))
    point = {"cachePoint": {"type": "default"}}
    assert body["system"] == [{"text": "long rules"}, point]
    assert body["messages"][0]["content"] == [{"text": "long document"}, point]
    assert body["messages"][2]["content"] == [{"text": "question"}, point]


@pytest.mark.parametrize("model_id,expected", [
    ("amazon.titan-embed-text-v2:0", {"inputText": "x", "dimensions": 256, "normalize": True}),
    ("amazon.titan-embed-image-v1", {"inputText": "x",
                                     "embeddingConfig": {"outputEmbeddingLength": 256}}),
    ("amazon.titan-embed-text-v1", None),
    ("cohere.embed-v4:0", {"texts": ["x"], "input_type": "search_document",
                           "embedding_types": ["float"], "output_dimension": 256}),
])
def test_embedding_request_per_model(model_id, expected):
    call = call_for(deployment("bedrock/" + model_id),
                    {"model": "e", "input": ["x"], "dimensions": 256}, endpoint="embeddings")
    if expected is None:
        with pytest.raises(errors.InvalidRequestError, match="dimensions"):
            REGISTRY["bedrock"].build_request(call)
        return
    out = REGISTRY["bedrock"].build_request(call)
    assert json.loads(out.data) == expected
    assert out.url.endswith("/invoke")


def test_embedding_defaults_from_the_deployment_stay_out_of_chat():
    dep = deployment("bedrock/cohere.embed-english-v3", input_type="classification",
                     truncate="END")
    out = REGISTRY["bedrock"].build_request(call_for(dep, {"model": "e", "input": ["x"]},
                                                     endpoint="embeddings"))
    assert json.loads(out.data) == {"texts": ["x"], "input_type": "classification",
                                    "embedding_types": ["float"], "truncate": "END"}
    assert "additionalModelRequestFields" not in sent(chat(), dep=deployment(input_type="x"))


# -- the documented shapes, checked with botocore's Bedrock Runtime service model ---------------

def _service_model():
    import botocore.session

    return botocore.session.Session().get_service_model("bedrock-runtime")


def test_translated_requests_validate_against_the_service_model():
    from botocore.validate import ParamValidator

    shape = _service_model().operation_model("Converse").input_shape
    history = [
        {"role": "system", "content": "rules", "cache_control": {"type": "ephemeral"}},
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": "checking", "tool_calls": [{
            "id": "tooluse_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "tooluse_1", "content": "18C"}]
    schema = {"name": "w", "schema": {"type": "object"}}
    bodies = [
        chat(messages=history, tools=[WEATHER_TOOL], tool_choice="required", max_tokens=9,
             temperature=0.5, top_p=0.9, stop=["x"], top_k=3),
        chat(tools=[WEATHER_TOOL], tool_choice={"type": "function",
                                                "function": {"name": "get_weather"}}),
        chat(response_format={"type": "json_schema", "json_schema": schema},
             guardrailConfig={"guardrailIdentifier": "g", "guardrailVersion": "1"}),
        chat(reasoning_effort="high"),
    ]
    for body in bodies:
        report = ParamValidator().validate({"modelId": MODEL, **sent(body)}, shape)
        assert not report.has_errors(), report.generate_report()


@pytest.mark.parametrize("name", ["converse_text", "converse_tool_use", "converse_reasoning",
                                  "converse_guardrail"])
def test_converse_fixtures_parse_with_the_service_model(name):
    import botocore.parsers

    shape = _service_model().operation_model("Converse").output_shape
    raw = json.dumps(fixture_json(f"bedrock/{name}.json")).encode()
    parsed = botocore.parsers.create_parser("rest-json").parse(
        {"status_code": 200, "headers": {}, "body": raw}, shape)
    assert parsed["output"]["message"]["content"] and parsed["stopReason"]


@pytest.mark.parametrize("name", ["converse_stream_tools.json", "converse_stream_guardrail.json",
                                  "converse_stream_throttled.json"])
def test_stream_fixtures_parse_with_botocores_converse_stream_parser(name):
    import botocore.exceptions
    import botocore.parsers
    from botocore.eventstream import EventStream

    class Raw:
        def stream(self):
            yield stream_bytes("bedrock/" + name)

        def close(self):
            pass

    shape = _service_model().operation_model("ConverseStream").output_shape.members["stream"]
    events = EventStream(Raw(), shape, botocore.parsers.EventStreamJSONParser(), "ConverseStream")
    expected = [e["headers"].get(":event-type") for e in fixture_json("bedrock/" + name)]
    if "throttled" in name:
        with pytest.raises(botocore.exceptions.EventStreamError, match="Too many tokens"):
            list(events)
        return
    assert [next(iter(e)) for e in events] == expected


def test_mid_stream_read_timeout_is_504_and_broken_connection_502():
    from urllib3.exceptions import ReadTimeoutError

    class Stalled(_Response):
        def __init__(self, exc):
            super().__init__(b"", 1)
            self.exc = exc

        def iter_content(self, chunk_size=None):
            yield frame({":event-type": "messageStart", ":message-type": "event"}, b"{}")
            raise self.exc

    call = call_for(deployment(), chat(stream=True), stream=True)
    timeout = requests.exceptions.ConnectionError(ReadTimeoutError(None, "/", "Read timed out."))
    with pytest.raises(errors.GatewayTimeoutError):
        list(REGISTRY["bedrock"].iter_events(call, Stalled(timeout)))
    broken = requests.exceptions.ChunkedEncodingError("Connection broken")
    with pytest.raises(errors.BadGatewayError):
        list(REGISTRY["bedrock"].iter_events(call, Stalled(broken)))
