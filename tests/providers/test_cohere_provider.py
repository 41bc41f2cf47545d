"""Cohere v2 provider: request/response/stream/error translation over real-shaped fixtures."""
import base64
import json
import struct

import orjson
import pytest
import requests
import responses

from app import create_app, errors
from app.config import load_config
from app.overrides import Overrides
from app.providers import ALIASES, REGISTRY, resolve_model
from app.providers.base import Call
from conftest import fixture_bytes, fixture_json

HOST = "https://api.cohere.com"
HELLO = [{"role": "user", "content": "hi"}]
WEATHER = {"type": "function", "function": {
    "name": "weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                   "required": ["location"]}}}
ATTRACTIONS = {"type": "function", "function": {"name": "cityAttractions", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=="


@pytest.fixture(autouse=True)
def _no_cohere_env(monkeypatch):
    for name in ("COHERE_API_KEY", "CO_API_KEY", "COHERE_API_BASE"):
        monkeypatch.delenv(name, raising=False)


def deployment(**params):
    params.setdefault("model", "cohere/command-a-03-2025")
    params.setdefault("api_key", "co-deployment-key")
    return load_config({"model_list": [{"model_name": "m", "litellm_params": params}]}).model_list[0]


def call_for(dep=None, body=None, overrides=Overrides(), endpoint="chat", stream=False,
             drop_params=False):
    dep = dep or deployment()
    provider = REGISTRY[dep.provider]
    if body is None:
        body = {"model": "m", "messages": HELLO} if endpoint == "chat" else {"model": "m",
                                                                               "input": "hi"}
    call = Call(endpoint, body, overrides, stream)
    return call.bind((dep, provider, provider.prepare(dep)), None, (10, 60), drop_params)


def sent(call):
    """(url, headers, JSON body) that the provider would send for a call."""
    out = REGISTRY["cohere"].build_request(call)
    return out.url, out.headers, json.loads(out.data)


def chat_body(**params):
    return {"model": "m", "messages": HELLO, **params}


# -- model names, URLs and keys -----------------------------------------------------------------

def test_resolve_model():
    assert resolve_model("cohere/command-r-plus") == ("cohere", "command-r-plus")
    assert REGISTRY["cohere"].endpoints == {"chat", "embeddings"}


@pytest.mark.skipif("cohere_chat" not in ALIASES, reason="registry alias cohere_chat -> cohere "
                    "not added yet (app/providers/__init__.py)")
def test_litellm_cohere_chat_spelling():
    assert resolve_model("cohere_chat/command-r") == ("cohere", "command-r")


@pytest.mark.parametrize("api_base", [
    None, "https://api.cohere.com", "https://api.cohere.com/", "https://api.cohere.com/v2/chat",
    "https://api.cohere.com/v1/chat", "https://api.cohere.com/v2/embed", "https://api.cohere.com/v2",
])
def test_api_base_is_a_host_or_litellm_endpoint_url(api_base):
    dep = deployment(**({"api_base": api_base} if api_base else {}))
    assert sent(call_for(dep))[0] == HOST + "/v2/chat"
    assert sent(call_for(dep, endpoint="embeddings"))[0] == HOST + "/v2/embed"


def test_key_from_deployment_and_static_headers():
    _, headers, body = sent(call_for(deployment(extra_headers={"X-Client-Name": "sb"})))
    assert headers["Authorization"] == "Bearer co-deployment-key"
    assert headers["X-Client-Name"] == "sb" and headers["Content-Type"] == "application/json"
    assert body["model"] == "command-a-03-2025"


@pytest.mark.parametrize("env", ["COHERE_API_KEY", "CO_API_KEY"])
def test_key_and_base_from_env(monkeypatch, env):
    monkeypatch.setenv(env, "co-env")
    monkeypatch.setenv("COHERE_API_BASE", "https://cohere.internal/v2/chat")
    url, headers, _ = sent(call_for(deployment(api_key=None)))
    assert headers["Authorization"] == "Bearer co-env"
    assert url == "https://cohere.internal/v2/chat"


def test_missing_key_is_an_authentication_error():
    with pytest.raises(errors.AuthenticationError, match="COHERE_API_KEY"):
        sent(call_for(deployment(api_key=None)))


def test_client_base_never_receives_the_deployment_key():
    with pytest.raises(errors.AuthenticationError):
        sent(call_for(overrides=Overrides(api_base="https://other.example")))
    url, headers, _ = sent(call_for(overrides=Overrides(
        api_base="https://other.example/v2/chat", api_key="co-own", extra_headers={"X-A": "1"})))
    assert url == "https://other.example/v2/chat"
    assert headers["Authorization"] == "Bearer co-own" and headers["X-A"] == "1"


# -- chat request -------------------------------------------------------------------------------

def test_messages_all_roles_tools_and_images():
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "developer", "content": [{"type": "text", "text": "use tools"}]},
        {"role": "user", "content": [
            {"type": "text", "text": "what is here, and the weather?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": PNG, "detail": "original"}}]},
        {"role": "assistant", "content": "I will look it up.", "tool_calls": [
            {"id": "weather_1", "type": "function",
             "function": {"name": "weather", "arguments": "{\"location\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "weather_1", "content": "{\"temp\": 21}"},
        {"role": "tool", "tool_call_id": "weather_1",
         "content": [{"type": "text", "text": "sunny"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "It is sunny."}]},
        {"role": "user", "content": "thanks"},
    ]
    _, _, body = sent(call_for(body=chat_body(messages=messages)))
    assert body["messages"] == [
        {"role": "system", "content": "be brief\n\nuse tools"},
        {"role": "user", "content": [
            {"type": "text", "text": "what is here, and the weather?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png",
                                                "detail": "low"}},
            {"type": "image_url", "image_url": {"url": PNG}}]},
        {"role": "assistant", "tool_plan": "I will look it up.", "tool_calls": [
            {"id": "weather_1", "type": "function",
             "function": {"name": "weather", "arguments": "{\"location\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "weather_1", "content": "{\"temp\": 21}"},
        {"role": "tool", "tool_call_id": "weather_1", "content": [{"type": "text", "text": "sunny"}]},
        {"role": "assistant", "content": "It is sunny."},
        {"role": "user", "content": "thanks"},
    ]
    assert "stream" not in body


@pytest.mark.parametrize("message", [
    {"role": "function", "name": "f", "content": "x"},
    {"role": "user", "content": [{"type": "input_audio",
                                  "input_audio": {"data": "AAAA", "format": "wav"}}]},
    {"role": "user", "content": [{"type": "image_url",
                                  "image_url": {"url": "data:image/png,notbase64"}}]},
])
def test_messages_cohere_cannot_take(message):
    with pytest.raises(errors.InvalidRequestError) as exc:
        sent(call_for(body=chat_body(messages=[message])))
    assert exc.value.param == "messages"


def test_sampling_parameters():
    _, _, body = sent(call_for(body=chat_body(
        temperature=0.3, top_p=1, seed=7, stop="END", max_tokens=50, frequency_penalty=0.1,
        presence_penalty=0.2, user="u-1", store=False, k=40, safety_mode="STRICT")))
    assert body["temperature"] == 0.3 and body["p"] == 0.99 and body["seed"] == 7
    assert body["stop_sequences"] == ["END"] and body["max_tokens"] == 50
    assert body["frequency_penalty"] == 0.1 and body["presence_penalty"] == 0.2
    assert body["k"] == 40 and body["safety_mode"] == "STRICT"
    assert not {"top_p", "stop", "user", "store"} & set(body)


def test_max_completion_tokens_and_stop_list():
    _, _, body = sent(call_for(body=chat_body(max_completion_tokens=64, max_tokens=10,
                                              stop=["a", "b"], top_p=0.001)))
    assert body["max_tokens"] == 64 and body["stop_sequences"] == ["a", "b"] and body["p"] == 0.01


def test_deployment_params_are_defaults_the_request_overrides():
    dep = deployment(temperature=0.1, max_tokens=99, k=5, safety_mode="CONTEXTUAL")
    _, _, body = sent(call_for(dep, chat_body(temperature=0.9)))
    assert body["temperature"] == 0.9 and body["max_tokens"] == 99 and body["k"] == 5
    assert body["safety_mode"] == "CONTEXTUAL"


@pytest.mark.parametrize("fmt,expected", [
    ({"type": "json_object"}, {"type": "json_object"}),
    ({"type": "json_schema", "json_schema": {"name": "person", "strict": True, "schema": {
        "type": "object", "properties": {"name": {"type": "string"}}}}},
     {"type": "json_object", "json_schema": {"type": "object",
                                             "properties": {"name": {"type": "string"}}}}),
    ({"type": "text"}, None),
])
def test_response_format(fmt, expected):
    _, _, body = sent(call_for(body=chat_body(response_format=fmt)))
    assert body.get("response_format") == expected


@pytest.mark.parametrize("effort,thinking", [("none", "disabled"), ("high", "enabled")])
def test_reasoning_effort_maps_to_thinking(effort, thinking):
    _, _, body = sent(call_for(body=chat_body(reasoning_effort=effort)))
    assert body["thinking"] == {"type": thinking}


@pytest.mark.parametrize("choice,names,cohere_choice", [
    (None, ["weather", "cityAttractions"], None),
    ("auto", ["weather", "cityAttractions"], None),
    ("none", ["weather", "cityAttractions"], "NONE"),
    ("required", ["weather", "cityAttractions"], "REQUIRED"),
    ({"type": "function", "function": {"name": "weather"}}, ["weather"], "REQUIRED"),
    ({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [
        {"type": "function", "function": {"name": "cityAttractions"}}]}}, ["cityAttractions"], None),
])
def test_tools_and_tool_choice(choice, names, cohere_choice):
    params = {"tools": [WEATHER, ATTRACTIONS]}
    if choice is not None:
        params["tool_choice"] = choice
    _, _, body = sent(call_for(body=chat_body(**params)))
    assert [t["function"]["name"] for t in body["tools"]] == names
    assert body.get("tool_choice") == cohere_choice
    if "weather" in names:
        assert body["tools"][0] == {"type": "function", "function": {
            "name": "weather", "description": "Weather in a city",
            "parameters": WEATHER["function"]["parameters"]}}


def test_tool_without_parameters_and_strict():
    tool = {"type": "function", "function": {"name": "now", "strict": True}}
    _, _, body = sent(call_for(body=chat_body(tools=[tool])))
    assert body["tools"] == [{"type": "function", "function": {
        "name": "now", "parameters": {"type": "object", "properties": {}}}}]
    assert body["strict_tools"] is True


def test_tool_choice_naming_an_unknown_tool():
    with pytest.raises(errors.InvalidRequestError) as exc:
        sent(call_for(body=chat_body(tools=[WEATHER], tool_choice={
            "type": "function", "function": {"name": "nope"}})))
    assert exc.value.param == "tool_choice"


@pytest.mark.parametrize("param,value", [
    ("n", 2), ("logit_bias", {"50256": -100}), ("logprobs", True), ("top_logprobs", 3),
    ("parallel_tool_calls", False), ("functions", [{"name": "f"}]), ("modalities", ["audio"]),
])
def test_unsupported_parameters_refused_or_dropped(param, value):
    body = chat_body(**{param: value})
    with pytest.raises(errors.InvalidRequestError) as exc:
        sent(call_for(body=dict(body)))
    assert exc.value.param == param and exc.value.code == "unsupported_parameter"
    _, _, out = sent(call_for(body=body, drop_params=True))
    assert param not in out
    assert body[param] == value  # the client's body is untouched, so a retry sees it again


@pytest.mark.parametrize("param,value", [("n", 1), ("logprobs", False),
                                         ("parallel_tool_calls", True), ("modalities", ["text"])])
def test_harmless_values_pass(param, value):
    _, _, out = sent(call_for(body=chat_body(**{param: value})))
    assert param not in out


def test_stream_request():
    url, headers, body = sent(call_for(body=chat_body(stream=True,
                                                      stream_options={"include_usage": True}),
                                       stream=True))
    assert body["stream"] is True and "stream_options" not in body
    assert headers["Accept"] == "text/event-stream"


# -- chat response ------------------------------------------------------------------------------

def parse(fixture, **kw):
    call = call_for(**kw)
    return call, REGISTRY["cohere"].parse_response(call, fixture_bytes(fixture))


def test_text_response_with_cached_usage():
    call, out = parse("cohere/chat_text.json")
    assert out["object"] == "chat.completion" and out["id"].startswith("chatcmpl-")
    assert out["model"] == "command-a-03-2025"
    choice = out["choices"][0]
    assert choice["message"] == {"role": "assistant", "refusal": None,
                                 "content": "The Art of API Design: Crafting Elegant and Powerful "
                                            "Interfaces"}
    assert choice["finish_reason"] == "stop"
    assert out["usage"] == {"prompt_tokens": 215, "completion_tokens": 12, "total_tokens": 227,
                            "prompt_tokens_details": {"cached_tokens": 192}}
    assert call.usage == out["usage"]


def test_tool_call_response():
    _, out = parse("cohere/chat_tool_call.json")
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"].startswith("I will use the weather tool")
    assert message["tool_calls"] == [
        {"id": "weather_dqgshstja6p9", "type": "function",
         "function": {"name": "weather", "arguments": "{\"location\":\"San Francisco\"}"}},
        {"id": "cityAttractions_dcxfx4myvx68", "type": "function",
         "function": {"name": "cityAttractions", "arguments": "{\"city\":\"San Francisco\"}"}}]
    assert out["usage"]["prompt_tokens"] == 1549 and out["usage"]["completion_tokens"] == 103


def test_reasoning_response():
    _, out = parse("cohere/chat_reasoning.json")
    message = out["choices"][0]["message"]
    assert message["content"] == "The answer to 2 + 2 is 4."
    assert message["reasoning_content"].startswith("The user is asking")


def test_max_tokens_response_uses_billed_units_without_tokens():
    _, out = parse("cohere/chat_max_tokens.json")
    assert out["choices"][0]["finish_reason"] == "length"
    assert out["usage"] == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


@pytest.mark.parametrize("reason,cls", [("ERROR", errors.BadGatewayError),
                                        ("TIMEOUT", errors.GatewayTimeoutError)])
def test_failed_generation_raises(reason, cls):
    data = {**fixture_json("cohere/chat_text.json"), "finish_reason": reason}
    with pytest.raises(cls):
        REGISTRY["cohere"].parse_response(call_for(), orjson.dumps(data))


@pytest.mark.parametrize("content", [b"<html>", b"[]", b'{"id": "x"}'])
def test_broken_response_is_502(content):
    with pytest.raises(errors.BadGatewayError):
        REGISTRY["cohere"].parse_response(call_for(), content)


# -- chat stream --------------------------------------------------------------------------------

class FakeStreamResponse:
    """Just enough of requests.Response: the body in awkward small pieces."""

    def __init__(self, body, size=37):
        self.body = body
        self.size = size
        self.headers = {"content-type": "text/event-stream"}

    def iter_content(self, chunk_size=None):
        return (self.body[i:i + self.size] for i in range(0, len(self.body), self.size))


def stream(fixture=None, body=None, include_usage=False, raw=None):
    params = {"stream": True}
    if include_usage:
        params["stream_options"] = {"include_usage": True}
    call = call_for(body=chat_body(**params), stream=True)
    events = REGISTRY["cohere"].iter_events(
        call, FakeStreamResponse(raw if raw is not None else fixture_bytes(fixture)))
    return call, events


def collect(events):
    return [json.loads(c) for c in events]


def test_stream_text_with_citations_and_usage():
    call, events = stream("cohere/stream_text.sse", include_usage=True)
    chunks = collect(events)
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "The tallest penguins are emperor penguins."
    final, usage = chunks[-2], chunks[-1]
    assert final["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                   "finish_reason": "stop"}
    assert usage["choices"] == [] and usage["usage"] == {
        "prompt_tokens": 721, "completion_tokens": 59, "total_tokens": 780,
        "prompt_tokens_details": {"cached_tokens": 512}}
    assert call.usage == usage["usage"]
    # citations are bookkeeping, not empty chunks
    assert all(c["choices"][0]["delta"] or c["choices"][0]["finish_reason"]
               for c in chunks if c["choices"])


def test_stream_without_include_usage_has_no_usage_chunk():
    call, events = stream("cohere/stream_text.sse")
    chunks = collect(events)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks)
    assert call.usage["total_tokens"] == 780  # the access log still gets it


def test_stream_tool_calls():
    _, events = stream("cohere/stream_tool_call.sse")
    chunks = collect(events)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    plan = "".join(d.get("content") or "" for d in deltas)
    assert plan == "I will use the weather tool."
    starts = [d["tool_calls"][0] for d in deltas if "tool_calls" in d and "id" in d["tool_calls"][0]]
    assert starts == [
        {"index": 0, "id": "weather_e8p4pn45zt0t", "type": "function",
         "function": {"name": "weather", "arguments": ""}},
        {"index": 1, "id": "cityAttractions_pyxssbwnq9fq", "type": "function",
         "function": {"name": "cityAttractions", "arguments": ""}}]
    args = {0: "", 1: ""}
    for d in deltas:
        for tc in d.get("tool_calls", []):
            args[tc["index"]] += tc["function"]["arguments"]
    assert json.loads(args[0]) == {"location": "San Francisco"}
    assert json.loads(args[1]) == {"city": "San Francisco"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_reasoning():
    _, events = stream("cohere/stream_reasoning.sse")
    deltas = [c["choices"][0]["delta"] for c in collect(events)]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "The user wants 2+2."
    assert "".join(d.get("content") or "" for d in deltas) == "2 + 2 is 4."


def test_stream_max_tokens():
    _, events = stream("cohere/stream_max_tokens.sse")
    assert collect(events)[-1]["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("raw", [
    fixture_bytes("cohere/stream_truncated.sse"),
    fixture_bytes("cohere/stream_truncated.sse") + b"data: [DONE]\n\n",
    b"event: message-start\ndata: {not json\n\n",
    b"event: content-delta\ndata: [1, 2]\n\n",
    b"",
])
def test_broken_streams_raise_bad_gateway(raw):
    _, events = stream(raw=raw)
    with pytest.raises(errors.BadGatewayError):
        collect(events)


def test_stream_generation_error_raises_after_partial_text():
    _, events = stream("cohere/stream_error.sse")
    got = []
    with pytest.raises(errors.BadGatewayError, match="internal error during generation"):
        for chunk in events:
            got.append(json.loads(chunk))
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in got) == "The tallest"


# -- embeddings ---------------------------------------------------------------------------------

def test_embed_request_defaults():
    url, _, body = sent(call_for(deployment(model="cohere/embed-v4.0"), endpoint="embeddings",
                                 body={"model": "m", "input": ["a", "b"], "dimensions": 256,
                                       "encoding_format": "base64", "user": "u"}))
    assert url == HOST + "/v2/embed"
    assert body == {"model": "embed-v4.0", "texts": ["a", "b"], "input_type": "search_document",
                    "embedding_types": ["float"], "output_dimension": 256}


def test_embed_input_type_from_deployment_then_request():
    dep = deployment(model="cohere/embed-v4.0", input_type="search_query", truncate="END")
    _, _, body = sent(call_for(dep, endpoint="embeddings", body={"model": "m", "input": "q"}))
    assert body["texts"] == ["q"] and body["input_type"] == "search_query"
    assert body["truncate"] == "END"
    _, _, body = sent(call_for(dep, endpoint="embeddings", body={
        "model": "m", "input": "q", "input_type": "classification"}))
    assert body["input_type"] == "classification"


@pytest.mark.parametrize("tokens", [[1, 2, 3], [[1, 2], [3]]])
def test_embed_token_input_refused_even_with_drop_params(tokens):
    with pytest.raises(errors.InvalidRequestError) as exc:
        sent(call_for(endpoint="embeddings", body={"model": "m", "input": tokens},
                      drop_params=True))
    assert exc.value.param == "input"


@pytest.mark.parametrize("encoding", [None, "float", "base64"])
def test_embed_response(encoding):
    body = {"model": "m", "input": ["x", "y"]}
    if encoding:
        body["encoding_format"] = encoding
    call = call_for(deployment(model="cohere/embed-v4.0"), body, endpoint="embeddings")
    out = REGISTRY["cohere"].parse_response(call, fixture_bytes("cohere/embed.json"))
    floats = fixture_json("cohere/embed.json")["embeddings"]["float"]
    assert out["object"] == "list" and out["model"] == "embed-v4.0"
    assert out["usage"] == {"prompt_tokens": 10, "total_tokens": 10} == call.usage
    assert [d["index"] for d in out["data"]] == [0, 1]
    for item, vector in zip(out["data"], floats):
        value = item["embedding"]
        if encoding == "base64":
            value = list(struct.unpack("<5f", base64.b64decode(value)))
            assert value == pytest.approx(vector, rel=1e-6)
        else:
            assert value == vector


# -- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("status,fixture,cls,code,param", [
    (400, "error_400.json", errors.InvalidRequestError, None, None),
    (400, "error_context.json", errors.ContextLengthExceededError, "context_length_exceeded",
     "messages"),
    (400, "error_max_tokens.json", errors.InvalidRequestError, None, "max_tokens"),
    (401, "error_401.json", errors.AuthenticationError, "invalid_api_key", None),
    (402, "error_402.json", errors.RateLimitError, "insufficient_quota", None),
    (403, "error_401.json", errors.PermissionDeniedError, None, None),
    (404, "error_404_model.json", errors.ModelNotFoundError, "model_not_found", "model"),
    (422, "error_422.json", errors.UnprocessableEntityError, None, None),
    (429, "error_429.json", errors.RateLimitError, "rate_limit_exceeded", None),
    (498, "error_498.json", errors.ContentPolicyError, "content_policy_violation", None),
    (499, "error_499.json", errors.BadGatewayError, "bad_gateway", None),
    (500, "error_500.json", errors.InternalServerError, None, None),
    (501, "error_400.json", errors.InvalidRequestError, "not_implemented", None),
    (503, "error_503.json", errors.ServiceUnavailableError, "service_unavailable", None),
    (504, "error_503.json", errors.GatewayTimeoutError, "timeout", None),
])
def test_errors(status, fixture, cls, code, param):
    headers = requests.structures.CaseInsensitiveDict({"Retry-After": "7"})
    exc = REGISTRY["cohere"].parse_error(call_for(), status, fixture_bytes("cohere/" + fixture),
                                         headers)
    assert type(exc) is cls and exc.code == code and exc.param == param
    assert exc.message == fixture_json("cohere/" + fixture)["message"]
    if status in (429, 503):
        assert exc.headers["Retry-After"] == "7"


def test_error_text_is_scrubbed_and_non_json_kept():
    call = call_for()
    call.api_key = "co-deployment-key"
    exc = REGISTRY["cohere"].parse_error(call, 401, b'{"message": "bad key co-deployment-key"}',
                                         {})
    assert exc.message == "bad key ***"
    exc = REGISTRY["cohere"].parse_error(call, 502, b"<html>bad gateway</html>", {})
    assert isinstance(exc, errors.BadGatewayError) and "bad gateway" in exc.message
    exc = REGISTRY["cohere"].parse_error(call, 500, b"", {})
    assert exc.message == "Cohere error (HTTP 500)"


# -- through the app (HTTP level) ---------------------------------------------------------------

@pytest.fixture
def client():
    app = create_app({"model_list": [
        {"model_name": "command", "litellm_params": {
            "model": "cohere/command-a-03-2025", "api_key": "co-key",
            "api_base": "https://api.cohere.com/v2/chat"}},
        {"model_name": "embed", "litellm_params": {"model": "cohere/embed-v4.0",
                                                   "api_key": "co-key"}},
    ], "litellm_settings": {"num_retries": 0}, "general_settings": {"access_log": "off"}})
    return app.test_client()


@responses.activate
def test_http_chat(client):
    responses.post(HOST + "/v2/chat", body=fixture_bytes("cohere/chat_tool_call.json"),
                   content_type="application/json")
    resp = client.post("/v1/chat/completions", json={
        "model": "command", "messages": HELLO, "tools": [WEATHER], "temperature": 0.2})
    assert resp.status_code == 200, resp.text
    assert resp.json["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "weather"
    [sent_call] = responses.calls
    assert sent_call.request.headers["Authorization"] == "Bearer co-key"
    body = json.loads(sent_call.request.body)
    assert body["model"] == "command-a-03-2025" and body["temperature"] == 0.2
    assert body["messages"] == HELLO and body["tools"][0]["function"]["name"] == "weather"


@responses.activate
def test_http_stream(client):
    responses.post(HOST + "/v2/chat", body=fixture_bytes("cohere/stream_text.sse"),
                   content_type="text/event-stream")
    resp = client.post("/v1/chat/completions", json={
        "model": "command", "messages": HELLO, "stream": True,
        "stream_options": {"include_usage": True}})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and text.endswith("data: [DONE]\n\n")
    payloads = [json.loads(b[6:]) for b in text.strip().split("\n\n")[:-1]]
    assert payloads[-1]["usage"]["total_tokens"] == 780
    assert json.loads(responses.calls[0].request.body)["stream"] is True


@responses.activate
def test_http_broken_stream_ends_with_an_error_event(client):
    responses.post(HOST + "/v2/chat", body=fixture_bytes("cohere/stream_truncated.sse"),
                   content_type="text/event-stream")
    resp = client.post("/v1/chat/completions", json={"model": "command", "messages": HELLO,
                                                     "stream": True})
    last = resp.get_data(as_text=True).strip().split("\n\n")[-1]
    assert json.loads(last[6:])["error"]["code"] == "bad_gateway"


@responses.activate
def test_http_embeddings_base64(client):
    responses.post(HOST + "/v2/embed", body=fixture_bytes("cohere/embed.json"),
                   content_type="application/json")
    resp = client.post("/v1/embeddings", json={"model": "embed", "input": ["a", "b"],
                                               "encoding_format": "base64"})
    assert resp.status_code == 200, resp.text
    assert isinstance(resp.json["data"][0]["embedding"], str)
    assert json.loads(responses.calls[0].request.body)["input_type"] == "search_document"


@responses.activate
def test_http_rate_limit_keeps_retry_after(client):
    responses.post(HOST + "/v2/chat", status=429, body=fixture_bytes("cohere/error_429.json"),
                   content_type="application/json", headers={"Retry-After": "12"})
    resp = client.post("/v1/chat/completions", json={"model": "command", "messages": HELLO})
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "12"
    assert resp.json["error"]["type"] == "rate_limit_error"


@responses.activate
def test_http_unsupported_parameter(client):
    resp = client.post("/v1/chat/completions", json={"model": "command", "messages": HELLO,
                                                     "logit_bias": {"1": 1}})
    assert resp.status_code == 400 and resp.json["error"]["param"] == "logit_bias"
    responses.post(HOST + "/v2/chat", body=fixture_bytes("cohere/chat_text.json"),
                   content_type="application/json")
    resp = client.post("/v1/chat/completions", json={"model": "command", "messages": HELLO,
                                                     "logit_bias": {"1": 1}, "drop_params": True})
    assert resp.status_code == 200
    assert "logit_bias" not in json.loads(responses.calls[0].request.body)


@responses.activate
def test_http_embeddings_beyond_96_texts_are_batched_in_order(client):
    def answer(request):
        texts = json.loads(request.body)["texts"]
        return 200, {}, json.dumps({
            "id": "e", "texts": texts, "response_type": "embeddings_by_type",
            "embeddings": {"float": [[float(t), 0.5] for t in texts]},
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": len(texts)}}})

    responses.add_callback(responses.POST, HOST + "/v2/embed", callback=answer,
                           content_type="application/json")
    inputs = [str(i) for i in range(200)]
    resp = client.post("/v1/embeddings", json={"model": "embed", "input": inputs})
    assert resp.status_code == 200, resp.text
    assert [len(json.loads(c.request.body)["texts"]) for c in responses.calls] == [96, 96, 8]
    data = resp.json["data"]
    assert [d["index"] for d in data] == list(range(200))
    assert [d["embedding"][0] for d in data] == [float(i) for i in range(200)]
    assert resp.json["usage"] == {"prompt_tokens": 200, "total_tokens": 200}
