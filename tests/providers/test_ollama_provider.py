"""Ollama: /api/chat, /api/embed and /api/generate translation, NDJSON streams and errors."""
import base64
import json
import struct

import pytest
import requests
import responses

from app import create_app, errors
from app.config import load_config
from app.overrides import Overrides
from app.providers import REGISTRY, resolve_model
from app.providers.base import Call
from conftest import fixture_bytes

OLLAMA = REGISTRY["ollama"]
BASE = "http://gpu-box:11434"
HELLO = [{"role": "user", "content": "why is the sky blue?"}]
CHAT = {"model": "llama", "messages": HELLO}
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5"
       "ErkJggg==")
WEATHER = {"type": "function", "function": {
    "name": "get_current_weather", "description": "Get the current weather for a location",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                   "required": ["location"]}}}


def deployment(**params):
    params.setdefault("model", "ollama/llama3.2")
    return load_config({"model_list": [{"model_name": "llama",
                                         "litellm_params": params}]}).model_list[0]


def call_for(dep=None, body=None, endpoint="chat", stream=False, drop_params=False,
             overrides=Overrides()):
    dep = dep or deployment(api_base=BASE)
    call = Call(endpoint, dict(body or CHAT), overrides, stream)
    provider = REGISTRY[dep.provider]
    return call.bind((dep, provider, provider.prepare(dep)), None, (10, 60), drop_params)


def native(body, **kwargs):
    call = call_for(body=body, **kwargs)
    out = OLLAMA.build_request(call)
    return out, json.loads(out.data)


def app_for(drop_params=False, **params):
    params.setdefault("model", "ollama_chat/llama3.2")
    params.setdefault("api_base", BASE)
    return create_app({
        "model_list": [{"model_name": "llama", "litellm_params": params},
                       {"model_name": "minilm", "litellm_params": {
                           "model": "ollama/all-minilm", "api_base": BASE}}],
        "litellm_settings": {"num_retries": 0, "drop_params": drop_params},
        "general_settings": {"access_log": "off"},
    }).test_client()


def sent(index=-1):
    return json.loads(responses.calls[index].request.body)


@pytest.mark.parametrize("model,expected", [("ollama/llama3.2", ("ollama", "llama3.2")),
                                            ("ollama_chat/qwen3:8b", ("ollama_chat", "qwen3:8b"))])
def test_resolve_model(model, expected):
    assert resolve_model(model) == expected


# -- requests -----------------------------------------------------------------------------------

def test_minimal_chat_request():
    out, body = native(CHAT)
    assert out.url == BASE + "/api/chat" and "Authorization" not in out.headers
    assert body == {"model": "llama3.2", "messages": HELLO, "stream": False}


@pytest.mark.parametrize("configured,expected", [
    (None, "http://localhost:11434"), ("http://h:11434/", "http://h:11434"),
    ("http://h:11434/v1", "http://h:11434"), ("http://h:11434/api", "http://h:11434")])
def test_base_url(monkeypatch, configured, expected):
    monkeypatch.delenv("OLLAMA_API_BASE", raising=False)
    dep = deployment(api_base=configured) if configured else deployment()
    assert OLLAMA.build_request(call_for(dep)).url == expected + "/api/chat"


def test_env_base_and_key(monkeypatch):
    monkeypatch.setenv("OLLAMA_API_BASE", "http://ollama.internal:11434")
    monkeypatch.setenv("OLLAMA_API_KEY", "ollama-key")
    out = OLLAMA.build_request(call_for(deployment()))
    assert out.url == "http://ollama.internal:11434/api/chat"
    assert out.headers["Authorization"] == "Bearer ollama-key"


def test_client_base_never_receives_the_deployment_key():
    dep = deployment(api_base=BASE, api_key="deployment-key")
    out = OLLAMA.build_request(call_for(dep, overrides=Overrides(api_base="http://other:11434")))
    assert out.url == "http://other:11434/api/chat" and "Authorization" not in out.headers
    out = OLLAMA.build_request(call_for(dep, overrides=Overrides(api_key="mine")))
    assert out.headers["Authorization"] == "Bearer mine"


def test_options_stop_and_json_mode():
    _, body = native({**CHAT, "temperature": 0.3, "top_p": 0.9, "seed": 42, "stop": "\n",
                      "max_tokens": 64, "presence_penalty": 0.5, "frequency_penalty": 0.1,
                      "response_format": {"type": "json_object"}, "user": "u1", "store": False,
                      "parallel_tool_calls": True, "stream_options": {"include_usage": True}})
    assert body["options"] == {"temperature": 0.3, "top_p": 0.9, "seed": 42, "stop": ["\n"],
                               "num_predict": 64, "presence_penalty": 0.5,
                               "frequency_penalty": 0.1}
    assert body["format"] == "json"
    assert not {"user", "store", "parallel_tool_calls", "stream_options"} & set(body)


def test_max_completion_tokens_json_schema_and_think():
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}}
    _, body = native({**CHAT, "max_completion_tokens": 10, "reasoning_effort": "low",
                      "response_format": {"type": "json_schema",
                                          "json_schema": {"name": "p", "schema": schema}}})
    assert body["options"] == {"num_predict": 10}
    assert body["format"] == schema and body["think"] == "low"


def test_deployment_presets_and_native_options():
    dep = deployment(api_base=BASE, temperature=0.1, num_ctx=8192, keep_alive="10m")
    body = json.loads(OLLAMA.build_request(call_for(dep, {**CHAT, "top_k": 20})).data)
    assert body["options"] == {"temperature": 0.1, "num_ctx": 8192, "top_k": 20}
    assert body["keep_alive"] == "10m"


def test_system_developer_images_and_tool_history():
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use celsius."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this and what's the weather?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_abc", "type": "function", "function": {
                "name": "get_current_weather", "arguments": "{\"location\": \"Paris, FR\"}"}}]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "18 degrees"},
    ]
    _, body = native({"model": "llama", "messages": messages, "tools": [WEATHER],
                      "tool_choice": "auto"})
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Use celsius."},
        {"role": "user", "content": "What is this and what's the weather?", "images": [PNG]},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_abc", "function": {
            "index": 0, "name": "get_current_weather", "arguments": {"location": "Paris, FR"}}}]},
        {"role": "tool", "content": "18 degrees", "tool_name": "get_current_weather",
         "tool_call_id": "call_abc"},
    ]
    assert body["tools"] == [WEATHER]


def test_image_urls_are_refused():
    content = [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]
    with pytest.raises(errors.InvalidRequestError) as excinfo:
        native({"model": "llama", "messages": [{"role": "user", "content": content}]})
    assert excinfo.value.param == "messages[0].content[0].image_url.url"


def test_tool_choice_none_sends_no_tools():
    _, body = native({**CHAT, "tools": [WEATHER], "tool_choice": "none"})
    assert "tools" not in body


@pytest.mark.parametrize("param,value", [
    ("n", 2), ("logit_bias", {"50256": -100}), ("logprobs", True),
    ("tool_choice", "required"), ("audio", {"voice": "alloy", "format": "wav"}),
    ("tool_choice", {"type": "function", "function": {"name": "get_current_weather"}})])
def test_unsupported_params_refused_or_dropped(param, value):
    body = {**CHAT, "tools": [WEATHER], param: value}
    with pytest.raises(errors.InvalidRequestError) as excinfo:
        native(body)
    assert excinfo.value.param == param and excinfo.value.code == "unsupported_parameter"
    _, out = native(body, drop_params=True)
    assert param not in out and out["messages"] == HELLO


@responses.activate
def test_drop_params_through_the_app():
    responses.post(BASE + "/api/chat", body=fixture_bytes("ollama/chat.json"),
                   content_type="application/json")
    resp = app_for().post("/v1/chat/completions", json={**CHAT, "logit_bias": {"1": 1}})
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "logit_bias"
    resp = app_for(drop_params=True).post("/v1/chat/completions",
                                          json={**CHAT, "logit_bias": {"1": 1}})
    assert resp.status_code == 200 and "logit_bias" not in sent()


# -- responses ----------------------------------------------------------------------------------

@responses.activate
def test_chat_response():
    responses.post(BASE + "/api/chat", body=fixture_bytes("ollama/chat.json"),
                   content_type="application/json")
    data = app_for().post("/v1/chat/completions", json=CHAT).get_json()
    assert data["object"] == "chat.completion" and data["id"].startswith("chatcmpl-")
    assert data["model"] == "llama3.2"
    assert data["choices"][0]["message"] == {"role": "assistant", "refusal": None,
                                             "content": "Hello! How are you today?"}
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"] == {"prompt_tokens": 26, "completion_tokens": 298,
                             "total_tokens": 324}
    assert sent()["stream"] is False


@responses.activate
def test_tool_call_response():
    responses.post(BASE + "/api/chat", body=fixture_bytes("ollama/chat_tools.json"),
                   content_type="application/json")
    data = app_for().post("/v1/chat/completions", json={**CHAT, "tools": [WEATHER]}).get_json()
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert [json.loads(c["function"]["arguments"])["location"] for c in calls] == [
        "Paris, FR", "Lyon, FR"]
    assert all(c["id"].startswith("call_") and c["type"] == "function" for c in calls)
    assert calls[0]["id"] != calls[1]["id"]


def test_thinking_and_length():
    call = call_for()
    data = OLLAMA.parse_response(call, fixture_bytes("ollama/chat_thinking_length.json"))
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["choices"][0]["message"]["reasoning_content"].startswith("The user asks")
    assert call.usage["total_tokens"] == 38


def test_non_json_body_is_a_502():
    with pytest.raises(errors.BadGatewayError):
        OLLAMA.parse_response(call_for(), b"<html>")


@responses.activate
@pytest.mark.parametrize("fmt", ["float", "base64"])
def test_embeddings(fmt):
    responses.post(BASE + "/api/embed", body=fixture_bytes("ollama/embed.json"),
                   content_type="application/json")
    resp = app_for().post("/v1/embeddings", json={"model": "minilm", "input": ["a", "b"],
                                                  "encoding_format": fmt, "dimensions": 5})
    data = resp.get_json()
    assert sent() == {"model": "all-minilm", "input": ["a", "b"], "dimensions": 5}
    assert data["usage"] == {"prompt_tokens": 8, "total_tokens": 8}
    first = data["data"][0]["embedding"]
    if fmt == "base64":
        first = list(struct.unpack("<5f", base64.b64decode(first)))
    assert first == pytest.approx([0.010071029, -0.0017594862, 0.05007221, 0.04692972,
                                   0.054916814])


def test_token_array_embeddings_refused():
    with pytest.raises(errors.InvalidRequestError) as excinfo:
        native({"model": "minilm", "input": [[1, 2, 3]]}, endpoint="embeddings")
    assert excinfo.value.param == "input"


@responses.activate
def test_completions_via_generate():
    responses.post(BASE + "/api/generate", body=fixture_bytes("ollama/generate.json"),
                   content_type="application/json")
    resp = app_for().post("/v1/completions", json={
        "model": "llama", "prompt": "def compute_gcd(a, b):", "suffix": "    return result",
        "temperature": 0})
    data = resp.get_json()
    assert sent() == {"model": "llama3.2", "prompt": "def compute_gcd(a, b):", "stream": False,
                      "suffix": "    return result", "options": {"temperature": 0}}
    assert data["object"] == "text_completion"
    assert data["choices"][0]["text"].startswith("\n  if a == 0")
    assert data["usage"]["total_tokens"] == 80


# -- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("status,fixture,cls,code", [
    (404, "ollama/error_404_model.json", errors.ModelNotFoundError, "model_not_found"),
    (400, "ollama/error_400_tools.json", errors.InvalidRequestError, None),
    (400, "ollama/error_400_context.json", errors.ContextLengthExceededError,
     "context_length_exceeded"),
    (401, "ollama/error_401.json", errors.AuthenticationError, "invalid_api_key"),
    (403, "ollama/error_403.json", errors.PermissionDeniedError, None),
    (429, "ollama/error_429.json", errors.RateLimitError, "rate_limit_exceeded"),
    (500, "ollama/error_500.json", errors.InternalServerError, None),
    (503, "ollama/error_503.json", errors.ServiceUnavailableError, "service_unavailable"),
])
def test_parse_error(status, fixture, cls, code):
    headers = requests.structures.CaseInsensitiveDict({"Retry-After": "2"})
    exc = OLLAMA.parse_error(call_for(), status, fixture_bytes(fixture), headers)
    assert type(exc) is cls and exc.code == code and exc.status == status
    assert exc.message == json.loads(fixture_bytes(fixture))["error"]
    if status == 429:
        assert exc.headers["Retry-After"] == "2"


def test_parse_error_non_json():
    exc = OLLAMA.parse_error(call_for(), 502, b"bad gateway",
                             requests.structures.CaseInsensitiveDict())
    assert isinstance(exc, errors.BadGatewayError)


@responses.activate
def test_model_not_found_through_the_app():
    responses.post(BASE + "/api/chat", status=404,
                   body=fixture_bytes("ollama/error_404_model.json"),
                   content_type="application/json")
    resp = app_for().post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "model_not_found"


# -- streams ------------------------------------------------------------------------------------

class FakeResponse:
    def __init__(self, body):
        self.body, self.headers = body, {"content-type": "application/x-ndjson"}

    def iter_content(self, chunk_size=None):
        for i in range(0, len(self.body), 13):  # lines split across reads on purpose
            yield self.body[i:i + 13]


def stream_of(fixture, body=None, endpoint="chat"):
    call = call_for(body=body or {**CHAT, "stream": True}, stream=True, endpoint=endpoint)
    chunks = [json.loads(c) for c in OLLAMA.iter_events(call, FakeResponse(fixture_bytes(fixture)))]
    return call, chunks


def test_stream_text_and_usage_chunk():
    call, chunks = stream_of("ollama/chat_stream.ndjson", {
        **CHAT, "stream": True, "stream_options": {"include_usage": True}})
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "The"}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "The sky is blue."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 308
    assert call.usage["prompt_tokens"] == 26


def test_stream_without_usage_request_has_no_usage_chunk():
    call, chunks = stream_of("ollama/chat_stream.ndjson")
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and "usage" not in chunks[-1]
    assert call.usage["completion_tokens"] == 282


def test_stream_thinking_and_length():
    _, chunks = stream_of("ollama/chat_stream_thinking.ndjson")
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "reasoning_content": "2+2"}
    assert deltas[2] == {"content": "4"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_stream_tool_calls():
    _, chunks = stream_of("ollama/chat_stream_tools.ndjson")
    calls = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", ())]
    assert [tc["index"] for tc in calls] == [0, 1]
    assert all(tc["id"].startswith("call_") and tc["function"]["name"] == "get_current_weather"
               for tc in calls)
    assert json.loads(calls[1]["function"]["arguments"]) == {"format": "celsius",
                                                             "location": "Lyon, FR"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_completions():
    call, chunks = stream_of("ollama/generate_stream.ndjson",
                             {"model": "llama", "prompt": "why", "stream": True},
                             endpoint="completions")
    assert [c["choices"][0]["text"] for c in chunks] == ["The", " sky", ""]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert len({c["id"] for c in chunks}) == 1 and call.usage["total_tokens"] == 285


@pytest.mark.parametrize("fixture,cls", [
    ("ollama/chat_stream_truncated.ndjson", errors.BadGatewayError),
    ("ollama/chat_stream_error.ndjson", errors.InternalServerError),
])
def test_broken_streams_raise(fixture, cls):
    call = call_for(body={**CHAT, "stream": True}, stream=True)
    events = OLLAMA.iter_events(call, FakeResponse(fixture_bytes(fixture)))
    assert json.loads(next(events))["choices"][0]["delta"]["content"] == "The"
    with pytest.raises(cls):
        list(events)


class BrokenResponse(FakeResponse):
    def iter_content(self, chunk_size=None):
        yield from super().iter_content()
        raise requests.exceptions.ChunkedEncodingError("connection reset")


def test_connection_lost_mid_stream_is_a_502():
    call = call_for(body={**CHAT, "stream": True}, stream=True)
    with pytest.raises(errors.BadGatewayError):
        list(OLLAMA.iter_events(call, BrokenResponse(fixture_bytes(
            "ollama/chat_stream_truncated.ndjson"))))


def test_malformed_stream_line_raises():
    call = call_for(body={**CHAT, "stream": True}, stream=True)
    with pytest.raises(errors.BadGatewayError):
        list(OLLAMA.iter_events(call, FakeResponse(b"<html>oops</html>\n")))


@responses.activate
def test_stream_through_the_app():
    responses.post(BASE + "/api/chat", body=fixture_bytes("ollama/chat_stream.ndjson"),
                   content_type="application/x-ndjson")
    resp = app_for().post("/v1/chat/completions", json={**CHAT, "stream": True})
    events = [e[6:] for e in resp.get_data(as_text=True).split("\n\n") if e]
    assert events[-1] == "[DONE]" and len(events) == 5
    assert sent()["stream"] is True
