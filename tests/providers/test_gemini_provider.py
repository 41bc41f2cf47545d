"""Gemini (Google AI Studio) provider: request/response/stream/error translation over fixtures."""
import base64
import json
import struct

import pytest
import responses

from app import create_app, errors
from app.config import load_config
from app.overrides import EMPTY, Overrides
from app.providers import REGISTRY, resolve_model
from app.providers.base import Call
from app.providers.gemini_convert import gemini_schema
from conftest import fixture_bytes, fixture_json

HOST = "https://generativelanguage.googleapis.com"
BASE = HOST + "/v1beta/models/gemini-2.5-flash"
HELLO = [{"role": "user", "content": "hi"}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city", "strict": True,
    "parameters": {"type": "object", "additionalProperties": False,
                   "$schema": "http://json-schema.org/draft-07/schema#",
                   "properties": {"location": {"type": "string", "format": "uri-reference"},
                                  "unit": {"type": ["string", "null"],
                                           "enum": ["celsius", "fahrenheit"]},
                                  "when": {"$ref": "#/$defs/When"}},
                   "required": ["location"],
                   "$defs": {"When": {"type": "object", "additionalProperties": False,
                                      "properties": {"day": {"type": "integer",
                                                             "const": 1}}}}}}}


def deployment(**params):
    params.setdefault("model", "gemini/gemini-2.5-flash")
    params.setdefault("api_key", "gm-deploy-key")
    config = {"model_list": [{"model_name": "g", "litellm_params": params}]}
    return load_config(config).model_list[0]


def call_for(dep=None, body=None, endpoint="chat", stream=False, overrides=EMPTY,
             drop_params=False):
    dep = dep or deployment()
    provider = REGISTRY[dep.provider]
    body = dict(body or {"model": "g", "messages": HELLO})
    call = Call(endpoint, body, overrides, stream)
    return call.bind((dep, provider, provider.prepare(dep)), None, (10, 60), drop_params)


def build(body, **kwargs):
    call = call_for(body={"model": "g", **body}, **kwargs)
    out = REGISTRY["gemini"].build_request(call)
    return out, json.loads(out.data)


def parse(name, body=None, endpoint="chat"):
    call = call_for(body=body, endpoint=endpoint)
    return call, REGISTRY["gemini"].parse_response(call, fixture_bytes(f"gemini/{name}"))


class FakeResponse:
    """Just enough of requests.Response for iter_events."""

    def __init__(self, content, ctype="text/event-stream"):
        self.content = content
        self.headers = {"content-type": ctype}

    def iter_content(self, chunk_size=None):
        # Split at odd places: events must survive arbitrary read boundaries.
        for i in range(0, len(self.content), 37):
            yield self.content[i:i + 37]


def stream(name, body=None):
    call = call_for(body=body or {"model": "g", "messages": HELLO, "stream": True}, stream=True)
    events = REGISTRY["gemini"].iter_events(call, FakeResponse(fixture_bytes(f"gemini/{name}")))
    return call, events


# -- routing, URL, key ------------------------------------------------------------------------


def test_resolve_and_endpoints():
    assert resolve_model("gemini/gemini-2.5-flash") == ("gemini", "gemini-2.5-flash")
    assert REGISTRY["gemini"].endpoints == {"chat", "embeddings"}


@pytest.mark.parametrize("api_base,root", [
    (None, HOST + "/v1beta"),
    ("https://proxy.example", "https://proxy.example/v1beta"),
    ("https://proxy.example/v1beta/", "https://proxy.example/v1beta"),
    ("https://proxy.example/v1", "https://proxy.example/v1"),
])
def test_url_from_api_base(api_base, root):
    dep = deployment(api_base=api_base) if api_base else deployment()
    out = REGISTRY["gemini"].build_request(call_for(dep))
    assert out.url == root + "/models/gemini-2.5-flash:generateContent"


def test_bare_host_with_api_version():
    dep = deployment(api_base="https://proxy.example", api_version="v1alpha")
    out = REGISTRY["gemini"].build_request(call_for(dep))
    assert out.url == "https://proxy.example/v1alpha/models/gemini-2.5-flash:generateContent"


def test_key_only_in_header_never_in_url():
    out, _ = build({"messages": HELLO})
    assert out.headers["x-goog-api-key"] == "gm-deploy-key"
    assert "key=" not in out.url and "gm-deploy-key" not in out.url
    assert "Authorization" not in out.headers


def test_stream_url():
    out, _ = build({"messages": HELLO, "stream": True}, stream=True)
    assert out.url == BASE + ":streamGenerateContent?alt=sse"


def test_key_from_env(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "gm-env")
    dep = load_config({"model_list": [{"model_name": "g", "litellm_params": {
        "model": "gemini/gemini-2.5-flash"}}]}).model_list[0]
    out = REGISTRY["gemini"].build_request(call_for(dep))
    assert out.headers["x-goog-api-key"] == "gm-env"


def test_google_api_key_env_and_missing_key(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    dep = load_config({"model_list": [{"model_name": "g", "litellm_params": {
        "model": "gemini/gemini-2.5-flash"}}]}).model_list[0]
    with pytest.raises(errors.AuthenticationError):
        REGISTRY["gemini"].build_request(call_for(dep))
    monkeypatch.setenv("GOOGLE_API_KEY", "gm-google")
    out = REGISTRY["gemini"].build_request(call_for(dep))
    assert out.headers["x-goog-api-key"] == "gm-google"


def test_client_base_never_gets_the_deployment_key():
    with pytest.raises(errors.AuthenticationError):
        build({"messages": HELLO}, overrides=Overrides(api_base="https://other.example"))
    out, _ = build({"messages": HELLO}, overrides=Overrides(api_base="https://other.example",
                                                            api_key="gm-own"))
    assert out.url.startswith("https://other.example/v1beta/models/")
    assert out.headers["x-goog-api-key"] == "gm-own"


# -- request translation -----------------------------------------------------------------------


def test_system_developer_and_roles():
    _, sent = build({"messages": [
        {"role": "system", "content": "be brief"},
        {"role": "developer", "content": [{"type": "text", "text": "use French"}]},
        {"role": "user", "content": "hello"}, {"role": "assistant", "content": "bonjour"},
        {"role": "user", "content": "again"}, {"role": "user", "content": "and again"}]})
    assert sent["systemInstruction"] == {"parts": [{"text": "be brief"}, {"text": "use French"}]}
    assert sent["contents"] == [
        {"role": "user", "parts": [{"text": "hello"}]},
        {"role": "model", "parts": [{"text": "bonjour"}]},
        {"role": "user", "parts": [{"text": "again"}, {"text": "and again"}]}]


def test_multi_turn_tool_calls_and_results():
    _, sent = build({"tools": [WEATHER], "messages": [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1__thought__c2ln", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}},
            {"id": "call_2", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"location": "Rome"}'}}]},
        {"role": "tool", "tool_call_id": "call_1__thought__c2ln", "content": '{"temp": 21}'},
        {"role": "tool", "tool_call_id": "call_2", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "[1, 2]"}]})
    assert sent["contents"][1] == {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"location": "Paris"}},
         "thoughtSignature": "c2ln"},
        {"functionCall": {"name": "get_weather", "args": {"location": "Rome"}}}]}
    assert sent["contents"][2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
        {"functionResponse": {"name": "get_weather", "response": {"content": "sunny"}}},
        {"functionResponse": {"name": "get_weather", "response": {"content": [1, 2]}}}]}


def test_unknown_tool_call_id_and_bad_arguments_are_400():
    with pytest.raises(errors.InvalidRequestError) as info:
        build({"messages": HELLO + [{"role": "tool", "tool_call_id": "nope", "content": "x"}]})
    assert info.value.param == "messages[1].tool_call_id"
    with pytest.raises(errors.InvalidRequestError):
        build({"messages": HELLO + [{"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]})


def test_images_as_data_uri_and_url():
    _, sent = build({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp?x=1"}}]}]})
    assert sent["contents"][0]["parts"] == [
        {"text": "what is this?"},
        {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo="}},
        {"file_data": {"mime_type": "image/webp", "file_uri": "https://example.com/cat.webp?x=1"}}]


def test_generation_config():
    _, sent = build({"messages": HELLO, "temperature": 0.3, "top_p": 0.9, "seed": 7, "n": 2,
                     "max_tokens": 50, "stop": "END", "presence_penalty": 0.5,
                     "frequency_penalty": 0.25, "user": "u-1"})
    assert sent["generationConfig"] == {
        "temperature": 0.3, "topP": 0.9, "seed": 7, "candidateCount": 2, "maxOutputTokens": 50,
        "stopSequences": ["END"], "presencePenalty": 0.5, "frequencyPenalty": 0.25}


def test_max_completion_tokens_wins_and_stop_list():
    _, sent = build({"messages": HELLO, "max_tokens": 50, "max_completion_tokens": 80,
                     "stop": ["a", "b"]})
    assert sent["generationConfig"] == {"maxOutputTokens": 80, "stopSequences": ["a", "b"]}


def test_deployment_defaults_yield_to_request():
    call = call_for(deployment(temperature=0.1, max_tokens=9),
                    {"model": "g", "messages": HELLO, "temperature": 0.8})
    sent = json.loads(REGISTRY["gemini"].build_request(call).data)
    assert sent["generationConfig"] == {"temperature": 0.8, "maxOutputTokens": 9}


def test_tools_schema_is_cleaned_and_tool_choice():
    _, sent = build({"messages": HELLO, "tools": [WEATHER, {"type": "function", "function": {
        "name": "now", "parameters": {"type": "object", "properties": {}}}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    [decl, no_args] = sent["tools"][0]["functionDeclarations"]
    assert decl == {"name": "get_weather", "description": "Weather for a city", "parameters": {
        "type": "OBJECT", "required": ["location"], "properties": {
            "location": {"type": "STRING"},
            "unit": {"type": "STRING", "nullable": True, "enum": ["celsius", "fahrenheit"]},
            "when": {"type": "OBJECT", "properties": {"day": {"type": "INTEGER"}}}}}}
    assert no_args == {"name": "now"}
    assert sent["toolConfig"] == {"functionCallingConfig": {
        "mode": "ANY", "allowedFunctionNames": ["get_weather"]}}


@pytest.mark.parametrize("choice,mode", [("auto", "AUTO"), ("none", "NONE"), ("required", "ANY")])
def test_tool_choice_strings(choice, mode):
    _, sent = build({"messages": HELLO, "tools": [WEATHER], "tool_choice": choice})
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": mode}}


def test_schema_any_of_with_null():
    assert gemini_schema({"anyOf": [{"type": "string"}, {"type": "null"}]}) == {
        "nullable": True, "type": "STRING"}
    assert gemini_schema({"type": ["string", "integer"]}) == {
        "anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}


def test_response_format():
    _, sent = build({"messages": HELLO, "response_format": {"type": "json_object"}})
    assert sent["generationConfig"] == {"responseMimeType": "application/json"}
    schema = {"type": "object", "properties": {"a": {"type": "string"}},
              "additionalProperties": False, "required": ["a"]}
    _, sent = build({"messages": HELLO, "response_format": {
        "type": "json_schema", "json_schema": {"name": "r", "schema": schema, "strict": True}}})
    assert sent["generationConfig"] == {"responseMimeType": "application/json",
                                        "responseJsonSchema": schema}


def test_reasoning_effort():
    _, sent = build({"messages": HELLO, "reasoning_effort": "low"})
    assert sent["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 1024,
                                                          "includeThoughts": True}
    call = call_for(deployment(model="gemini/gemini-3-pro-preview"),
                    {"model": "g", "messages": HELLO, "reasoning_effort": "high"})
    sent = json.loads(REGISTRY["gemini"].build_request(call).data)
    assert sent["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "high",
                                                          "includeThoughts": True}


@pytest.mark.parametrize("param,value", [("logprobs", True), ("logit_bias", {"1": 2}),
                                         ("top_logprobs", 2), ("modalities", ["audio"]),
                                         ("parallel_tool_calls", False)])
def test_unsupported_params_400_or_dropped(param, value):
    with pytest.raises(errors.InvalidRequestError) as info:
        build({"messages": HELLO, param: value})
    assert info.value.param == param and info.value.code == "unsupported_parameter"
    _, sent = build({"messages": HELLO, param: value}, drop_params=True)
    assert sent == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def test_ignored_params_are_silent():
    _, sent = build({"messages": HELLO, "user": "u", "store": False, "service_tier": "auto",
                     "parallel_tool_calls": True})
    assert sent == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


# -- responses ---------------------------------------------------------------------------------


def test_text_response():
    call, out = parse("generate_content.json")
    assert out["object"] == "chat.completion" and out["id"].startswith("chatcmpl-")
    assert out["model"] == "g"
    assert out["choices"] == [{"index": 0, "logprobs": None, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "Hello! How can I help you today?", "refusal": None}}]
    assert out["usage"] == call.usage == {"prompt_tokens": 5, "completion_tokens": 9,
                                          "total_tokens": 14}


def test_tool_call_response_with_reasoning_tokens():
    _, out = parse("generate_content_tools.json")
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    first, second = choice["message"]["tool_calls"]
    assert first["id"].startswith("call_")
    assert first["id"].endswith("__thought__CiQB0e2Kb3Jhbmdlcy1zaWduYXR1cmU=")
    assert first["function"] == {"name": "get_weather",
                                 "arguments": '{"location":"Paris","unit":"celsius"}'}
    assert second["function"]["arguments"] == '{"tz":"Europe/Paris"}'
    assert "__thought__" not in second["id"]
    assert out["usage"] == {"prompt_tokens": 73, "completion_tokens": 87, "total_tokens": 160,
                            "completion_tokens_details": {"reasoning_tokens": 66}}


def test_thinking_and_cached_tokens():
    _, out = parse("generate_content_thinking.json")
    message = out["choices"][0]["message"]
    assert message["content"] == "11 is the smallest prime greater than 10."
    assert message["reasoning_content"].startswith("**Weighing the options**")
    assert out["usage"] == {"prompt_tokens": 2040, "completion_tokens": 110,
                            "total_tokens": 2150,
                            "prompt_tokens_details": {"cached_tokens": 2000},
                            "completion_tokens_details": {"reasoning_tokens": 98}}


def test_several_candidates():
    _, out = parse("generate_content_n2.json")
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in out["choices"]] \
        == [(0, "Blue.", "stop"), (1, "The sky is blue", "length")]


def test_safety_finish_is_content_filter():
    _, out = parse("generate_content_safety.json")
    assert out["choices"][0]["finish_reason"] == "content_filter"
    assert out["choices"][0]["message"]["content"] == "Here is the first step"


def test_blocked_prompt_is_content_policy_400():
    with pytest.raises(errors.ContentPolicyError) as info:
        parse("prompt_blocked.json")
    assert info.value.status == 400 and info.value.code == "content_policy_violation"
    assert "PROHIBITED_CONTENT" in info.value.message


def test_non_json_body_is_502():
    call = call_for()
    with pytest.raises(errors.BadGatewayError):
        REGISTRY["gemini"].parse_response(call, b"<html>")


# -- streams -----------------------------------------------------------------------------------


def test_text_stream():
    call, events = stream("stream_text.txt")
    chunks = [json.loads(c) for c in events]
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "The"}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == \
        "The sky is blue because of Rayleigh scattering."
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                        "finish_reason": "stop"}
    assert call.usage == {"prompt_tokens": 6, "completion_tokens": 9, "total_tokens": 15}


def test_stream_with_tools_reasoning_and_usage_chunk():
    body = {"model": "g", "messages": HELLO, "stream": True,
            "stream_options": {"include_usage": True}}
    call, events = stream("stream_tools.txt", body)
    chunks = [json.loads(c) for c in events]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "reasoning_content": "Let me look up the weather."}
    first, second = deltas[1]["tool_calls"][0], deltas[2]["tool_calls"][0]
    assert first["index"] == 0 and first["id"].endswith("__thought__CiwB0e2Kb2Ffc2lnbmF0dXJl")
    assert first["function"] == {"name": "get_weather", "arguments": '{"location":"Paris"}'}
    assert second["index"] == 1 and second["function"]["arguments"] == '{"location":"Rome"}'
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == call.usage == {
        "prompt_tokens": 40, "completion_tokens": 55, "total_tokens": 95,
        "completion_tokens_details": {"reasoning_tokens": 25}}
    assert all(c["usage"] is None for c in chunks[:-1])


def test_stream_safety_finish():
    _, events = stream("stream_safety.txt")
    chunks = [json.loads(c) for c in events]
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"
    assert len(chunks) == 2  # the empty text part is not forwarded as an empty chunk


def test_truncated_stream_raises_502():
    _, events = stream("stream_truncated.txt")
    assert json.loads(next(events))["choices"][0]["delta"]["content"] == "Once upon"
    with pytest.raises(errors.BadGatewayError):
        next(events)


def test_stream_prompt_blocked():
    _, events = stream("stream_prompt_blocked.txt")
    with pytest.raises(errors.ContentPolicyError):
        list(events)


def test_stream_error_event():
    _, events = stream("stream_error.txt")
    next(events)
    with pytest.raises(errors.ServiceUnavailableError):
        next(events)


def test_stream_not_sse_or_malformed():
    call = call_for(stream=True)
    with pytest.raises(errors.BadGatewayError):
        list(REGISTRY["gemini"].iter_events(call, FakeResponse(b"{}", "application/json")))
    with pytest.raises(errors.BadGatewayError):
        list(REGISTRY["gemini"].iter_events(call, FakeResponse(b"data: {oops\r\n\r\n")))


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,status,cls,code", [
    ("error_api_key_invalid.json", 400, errors.AuthenticationError, "invalid_api_key"),
    ("error_permission_denied.json", 403, errors.PermissionDeniedError, None),
    ("error_not_found.json", 404, errors.NotFoundError, "not_found"),
    ("error_rate_limit.json", 429, errors.RateLimitError, "rate_limit_exceeded"),
    ("error_context_length.json", 400, errors.ContextLengthExceededError,
     "context_length_exceeded"),
    ("error_invalid_argument.json", 400, errors.InvalidRequestError, None),
    ("error_internal.json", 500, errors.InternalServerError, None),
    ("error_unavailable.json", 503, errors.ServiceUnavailableError, "service_unavailable"),
    ("error_deadline.json", 504, errors.GatewayTimeoutError, "timeout"),
])
def test_errors(name, status, cls, code):
    call = call_for()
    exc = REGISTRY["gemini"].parse_error(call, status, fixture_bytes(f"gemini/{name}"), {})
    assert type(exc) is cls and exc.code == code
    assert exc.message == fixture_json(f"gemini/{name}")["error"]["message"]


def test_rate_limit_retry_after_from_retry_info():
    exc = REGISTRY["gemini"].parse_error(call_for(), 429,
                                         fixture_bytes("gemini/error_rate_limit.json"), {})
    assert exc.headers["Retry-After"] == "31"


def test_error_text_never_shows_the_key():
    body = json.dumps({"error": {"code": 400, "message": "bad key gm-deploy-key here",
                                 "status": "INVALID_ARGUMENT"}}).encode()
    exc = REGISTRY["gemini"].parse_error(call_for(), 400, body, {})
    assert "gm-deploy-key" not in exc.message


def test_non_json_error_body():
    exc = REGISTRY["gemini"].parse_error(call_for(), 502, b"<html>bad gateway</html>", {})
    assert isinstance(exc, errors.BadGatewayError)


# -- embeddings --------------------------------------------------------------------------------


def embed_call(body):
    dep = deployment(model="gemini/gemini-embedding-001", task_type="RETRIEVAL_DOCUMENT")
    return call_for(dep, {"model": "e", **body}, endpoint="embeddings")


def test_embed_one_and_batch_requests():
    out = REGISTRY["gemini"].build_request(embed_call({"input": "hello", "dimensions": 4}))
    assert out.url == HOST + "/v1beta/models/gemini-embedding-001:embedContent"
    assert json.loads(out.data) == {"model": "models/gemini-embedding-001",
                                    "content": {"parts": [{"text": "hello"}]},
                                    "outputDimensionality": 4, "taskType": "RETRIEVAL_DOCUMENT"}
    out = REGISTRY["gemini"].build_request(embed_call({"input": ["a", "b"]}))
    assert out.url.endswith(":batchEmbedContents")
    assert [r["content"]["parts"][0]["text"] for r in json.loads(out.data)["requests"]] == \
        ["a", "b"]


def test_embed_token_input_is_400():
    with pytest.raises(errors.InvalidRequestError) as info:
        REGISTRY["gemini"].build_request(embed_call({"input": [1, 2, 3]}))
    assert info.value.param == "input"


def test_embed_responses_float_and_base64():
    call = embed_call({"input": "hello"})
    out = REGISTRY["gemini"].parse_response(call, fixture_bytes("gemini/embed_content.json"))
    assert out["data"] == [{"object": "embedding", "index": 0,
                            "embedding": [0.0125, -0.5, 0.25, 0.75]}]
    assert out["usage"] == {"prompt_tokens": 0, "total_tokens": 0}
    call = embed_call({"input": ["a", "b"], "encoding_format": "base64"})
    out = REGISTRY["gemini"].parse_response(call,
                                            fixture_bytes("gemini/batch_embed_contents.json"))
    decoded = [struct.unpack("<3f", base64.b64decode(d["embedding"])) for d in out["data"]]
    assert decoded == [(0.5, -0.25, 0.125), (-0.5, 0.25, 1.0)]


# -- through the Flask app (HTTP level) ------------------------------------------------------


@pytest.fixture
def gemini_client():
    app = create_app({"model_list": [
        {"model_name": "g", "litellm_params": {"model": "gemini/gemini-2.5-flash",
                                               "api_key": "gm-deploy-key"}},
        {"model_name": "e", "litellm_params": {"model": "gemini/gemini-embedding-001",
                                               "api_key": "gm-deploy-key"}}],
        "litellm_settings": {"num_retries": 0}, "general_settings": {"access_log": "off"}})
    return app.test_client()


@responses.activate
def test_http_chat_round_trip(gemini_client):
    responses.post(BASE + ":generateContent", body=fixture_bytes("gemini/generate_content.json"),
                   content_type="application/json")
    resp = gemini_client.post("/v1/chat/completions", json={"model": "g", "messages": HELLO,
                                                            "max_tokens": 5})
    assert resp.status_code == 200, resp.json
    assert resp.json["choices"][0]["message"]["content"] == "Hello! How can I help you today?"
    [sent] = responses.calls
    assert sent.request.headers["x-goog-api-key"] == "gm-deploy-key"
    assert "key=" not in sent.request.url
    assert json.loads(sent.request.body) == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"maxOutputTokens": 5}}


@responses.activate
def test_http_stream(gemini_client):
    responses.post(BASE + ":streamGenerateContent?alt=sse",
                   body=fixture_bytes("gemini/stream_text.txt"), content_type="text/event-stream")
    resp = gemini_client.post("/v1/chat/completions", json={
        "model": "g", "messages": HELLO, "stream": True})
    text = resp.get_data(as_text=True)
    assert text.endswith("data: [DONE]\n\n")
    assert "Rayleigh" in text


@responses.activate
def test_http_rate_limit_and_context_errors(gemini_client):
    responses.post(BASE + ":generateContent", status=429,
                   body=fixture_bytes("gemini/error_rate_limit.json"),
                   content_type="application/json")
    responses.post(BASE + ":generateContent", status=400,
                   body=fixture_bytes("gemini/error_context_length.json"),
                   content_type="application/json")
    resp = gemini_client.post("/v1/chat/completions", json={"model": "g", "messages": HELLO})
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "31"
    resp = gemini_client.post("/v1/chat/completions", json={"model": "g", "messages": HELLO})
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "context_length_exceeded"


@responses.activate
def test_http_embeddings(gemini_client):
    responses.post(HOST + "/v1beta/models/gemini-embedding-001:batchEmbedContents",
                   body=fixture_bytes("gemini/batch_embed_contents.json"),
                   content_type="application/json")
    resp = gemini_client.post("/v1/embeddings", json={"model": "e", "input": ["a", "b"]})
    assert resp.status_code == 200, resp.json
    assert [d["embedding"] for d in resp.json["data"]] == [[0.5, -0.25, 0.125], [-0.5, 0.25, 1.0]]
