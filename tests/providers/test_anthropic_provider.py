"""Anthropic provider: request translation, responses, every stream event and error kind."""
import copy
import json

import pytest
import requests
import responses

from app import create_app, errors
from app.config import load_config
from app.overrides import Overrides
from app.providers import REGISTRY, resolve_model
from app.providers.anthropic import messages_url, translate_request
from app.providers.base import Call
from conftest import fixture_bytes, fixture_json

PROVIDER = REGISTRY["anthropic"]
KEY = "sk-ant-api03-secretsecretsecret"
HOST = "https://anthropic.test"
URL = HOST + "/v1/messages"
HI = [{"role": "user", "content": "hi"}]
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                   "required": ["location"]}}}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def deployment(**params):
    params.setdefault("model", "anthropic/claude-sonnet-4-5")
    params.setdefault("api_key", KEY)
    return load_config({"model_list": [{"model_name": "claude", "litellm_params": params}]}) \
        .model_list[0]


def call_for(body=None, dep=None, overrides=Overrides(), stream=False, drop_params=False):
    dep = dep or deployment()
    body = {"model": "claude", "messages": HI, **(body or {})}
    call = Call("chat", body, overrides, stream)
    return call.bind((dep, PROVIDER, PROVIDER.prepare(dep)), None, (10, 60), drop_params)


def sent(body=None, **kwargs):
    """The Messages body built for an OpenAI body."""
    return json.loads(PROVIDER.build_request(call_for(body, **kwargs)).data)


# -- routing, URLs, headers ---------------------------------------------------------------------

@pytest.mark.parametrize("model,expected", [
    ("anthropic/claude-sonnet-4-5", ("anthropic", "claude-sonnet-4-5")),
    ("claude-3-5-haiku-20241022", ("anthropic", "claude-3-5-haiku-20241022")),
])
def test_resolve_model(model, expected):
    assert resolve_model(model) == expected


@pytest.mark.parametrize("base", ["https://h.test", "https://h.test/", "https://h.test/v1",
                                  "https://h.test/v1/messages"])
def test_api_base_is_the_host_with_or_without_v1(base):
    assert messages_url(base) == "https://h.test/v1/messages"


def test_defaults_and_environment(monkeypatch):
    out = PROVIDER.build_request(call_for())
    assert out.url == "https://api.anthropic.com/v1/messages"
    assert out.headers["x-api-key"] == KEY and out.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in out.headers and "anthropic-beta" not in out.headers
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    monkeypatch.setenv("ANTHROPIC_API_BASE", "https://env.test")
    dep = load_config({"model_list": [{"model_name": "c", "litellm_params": {
        "model": "claude-3-5-haiku-20241022"}}]}).model_list[0]
    out = PROVIDER.build_request(call_for(dep=dep))
    assert out.url == "https://env.test/v1/messages" and out.headers["x-api-key"] == "sk-ant-env"
    assert json.loads(out.data)["model"] == "claude-3-5-haiku-20241022"


def test_missing_key_is_401(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    dep = load_config({"model_list": [{"model_name": "c", "litellm_params": {
        "model": "anthropic/claude-x"}}]}).model_list[0]
    with pytest.raises(errors.AuthenticationError, match="ANTHROPIC_API_KEY"):
        PROVIDER.build_request(call_for(dep=dep))


def test_beta_headers_from_deployment_and_request():
    dep = deployment(anthropic_beta=["a-2025-01-01", "b-2025-02-02"],
                     extra_headers={"X-Team": "t"})
    out = PROVIDER.build_request(call_for(dep=dep))
    assert out.headers["anthropic-beta"] == "a-2025-01-01,b-2025-02-02"
    assert out.headers["X-Team"] == "t"
    out = PROVIDER.build_request(call_for(dep=dep, overrides=Overrides(
        extra_headers={"Anthropic-Beta": "c-2025-03-03"})))
    assert [v for k, v in out.headers.items() if k.lower() == "anthropic-beta"] == ["c-2025-03-03"]


def test_client_base_never_receives_the_deployment_key():
    with pytest.raises(errors.AuthenticationError):
        PROVIDER.build_request(call_for(overrides=Overrides(api_base="https://other.test")))
    out = PROVIDER.build_request(call_for(overrides=Overrides(api_base="https://other.test/v1",
                                                              api_key="sk-ant-own")))
    assert out.url == "https://other.test/v1/messages" and out.headers["x-api-key"] == "sk-ant-own"


# -- request translation ------------------------------------------------------------------------

def test_system_and_developer_are_lifted_and_user_turns_merged():
    body = sent({"messages": [
        {"role": "system", "content": "be brief"},
        {"role": "developer", "content": [{"type": "text", "text": "use metric"}]},
        {"role": "user", "content": "first"},
        {"role": "user", "content": [{"type": "text", "text": "second"}]},
    ]})
    assert body["system"] == [{"type": "text", "text": "be brief"},
                              {"type": "text", "text": "use metric"}]
    assert body["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "first"}, {"type": "text", "text": "second"}]}]
    assert sent()["messages"] == [{"role": "user", "content": "hi"}]
    assert "system" not in sent()


def test_multi_turn_tool_calls_and_results():
    messages = [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "toolu_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}},
            {"id": "toolu_2", "type": "function",
             "function": {"name": "get_weather", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_2",
         "content": [{"type": "text", "text": "21C"}]},
        {"role": "user", "content": "thanks, and?"},
    ]
    original = copy.deepcopy(messages)
    body = sent({"messages": messages, "tools": [WEATHER_TOOL]})
    assert body["messages"] == [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
             "input": {"location": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
            {"type": "tool_result", "tool_use_id": "toolu_2",
             "content": [{"type": "text", "text": "21C"}]},
            {"type": "text", "text": "thanks, and?"}]},
    ]
    assert messages == original  # the client's body is never changed (retries reuse it)
    assert body["tools"] == [{"name": "get_weather", "description": "Current weather",
                              "input_schema": WEATHER_TOOL["function"]["parameters"]}]


def test_assistant_text_thinking_blocks_and_tool_use_order():
    thinking = {"type": "thinking", "thinking": "hmm", "signature": "sig"}
    body = sent({"messages": HI + [
        {"role": "assistant", "content": "Let me look.", "thinking_blocks": [thinking],
         "tool_calls": [{"id": "toolu_9", "type": "function",
                         "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "toolu_9", "content": "ok"}]})
    assert body["messages"][1]["content"] == [
        thinking, {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {}}]


def test_images_as_url_and_data_uri_and_pdf_file():
    body = sent({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "https://img.test/cat.jpg"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}",
                                            "detail": "high"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x",
                                  "filename": "a.pdf"}},
    ]}]})
    assert body["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "url", "url": "https://img.test/cat.jpg"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                        "data": "JVBERi0x"}},
    ]


def test_cache_control_on_parts_and_messages_is_kept():
    body = sent({"messages": [
        {"role": "system", "content": [{"type": "text", "text": "long doc",
                                        "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": "q", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]})
    assert body["system"] == [{"type": "text", "text": "long doc",
                               "cache_control": {"type": "ephemeral"}}]
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "q", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]


@pytest.mark.parametrize("model,expected", [
    ("anthropic/claude-sonnet-4-5", 8192), ("anthropic/claude-3-haiku-20240307", 4096),
    ("anthropic/claude-3-5-haiku-20241022", 8192)])
def test_max_tokens_is_always_sent(model, expected):
    assert sent(dep=deployment(model=model))["max_tokens"] == expected
    assert sent({"max_tokens": 100}, dep=deployment(model=model))["max_tokens"] == 100
    assert sent({"max_tokens": 100, "max_completion_tokens": 50})["max_tokens"] == 50
    assert sent(dep=deployment(model=model, max_tokens=300))["max_tokens"] == 300


def test_sampling_stop_and_user():
    body = sent({"temperature": 0.3, "top_p": 0.9, "stop": ["END", "\n\n", " "],
                 "user": "user-42", "top_k": 5})
    assert body["temperature"] == 0.3 and body["top_p"] == 0.9 and body["top_k"] == 5
    assert body["stop_sequences"] == ["END"]  # whitespace-only stops are refused upstream
    assert body["metadata"] == {"user_id": "user-42"}
    assert sent({"stop": "STOP"})["stop_sequences"] == ["STOP"]
    assert "stop_sequences" not in sent({"stop": None})


@pytest.mark.parametrize("choice,parallel,expected", [
    ("auto", None, {"type": "auto"}),
    ("required", None, {"type": "any"}),
    ("none", None, {"type": "none"}),
    ({"type": "function", "function": {"name": "get_weather"}}, None,
     {"type": "tool", "name": "get_weather"}),
    (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    (None, None, None),
])
def test_tool_choice(choice, parallel, expected):
    body = {"tools": [WEATHER_TOOL]}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    assert sent(body).get("tool_choice") == expected


def test_strict_tool_and_custom_tools():
    tool = {"type": "function", "function": {"name": "f", "strict": True}}
    assert sent({"tools": [tool]})["tools"] == [
        {"name": "f", "input_schema": {"type": "object", "properties": {}}, "strict": True}]
    with pytest.raises(errors.InvalidRequestError) as info:
        sent({"tools": [{"type": "custom", "custom": {"name": "g"}}]})
    assert info.value.param == "tools"


def test_response_format_json_schema_uses_structured_outputs():
    schema = {"type": "object", "properties": {"a": {"type": "string"}},
              "additionalProperties": False}
    body = sent({"response_format": {"type": "json_schema",
                                     "json_schema": {"name": "out", "schema": schema}}})
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "output_config" not in sent({"response_format": {"type": "text"}})


def test_reasoning_effort_and_thinking():
    body = sent({"reasoning_effort": "high"}, dep=deployment(model="anthropic/claude-3-opus"))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert body["max_tokens"] > 4096  # the budget must stay below max_tokens
    assert "thinking" not in sent({"reasoning_effort": "none"})
    own = {"type": "enabled", "budget_tokens": 2000}
    assert sent({"thinking": own, "reasoning_effort": "high"})["thinking"] == own


@pytest.mark.parametrize("param,value", [
    ("seed", 7), ("presence_penalty", 0.5), ("frequency_penalty", 0.5), ("n", 2),
    ("logprobs", True), ("top_logprobs", 2), ("logit_bias", {"50256": -100}),
    ("response_format", {"type": "json_object"}), ("functions", [{"name": "f"}]),
    ("not_a_param", 1),
])
def test_unsupported_params_are_400_or_dropped(param, value):
    with pytest.raises(errors.InvalidRequestError) as info:
        sent({param: value})
    assert info.value.param == param and info.value.code == "unsupported_parameter"
    assert param not in sent({param: value}, drop_params=True)


def test_harmless_params_are_ignored_and_neutral_values_accepted():
    body = sent({"store": True, "service_tier": "auto", "n": 1, "logprobs": False, "seed": None,
                 "stream_options": {"include_usage": True}, "modalities": ["text"]})
    assert set(body) == {"model", "messages", "max_tokens"}
    assert sent(stream=True)["stream"] is True


@pytest.mark.parametrize("message", [
    {"role": "user", "content": [{"type": "input_audio",
                                  "input_audio": {"data": "AAAA", "format": "wav"}}]},
    {"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]},
    {"role": "function", "name": "f", "content": "x"},
    {"role": "assistant", "tool_calls": [{"id": "t", "type": "function",
                                          "function": {"name": "f", "arguments": "[1]"}}]},
])
def test_untranslatable_messages_are_400(message):
    with pytest.raises(errors.InvalidRequestError) as info:
        translate_request(call_for(), {"messages": HI + [message]}, "claude-x")
    assert info.value.param == "messages"


# -- responses ----------------------------------------------------------------------------------

def parse(name, **kwargs):
    call = call_for(**kwargs)
    return call, PROVIDER.parse_response(call, fixture_bytes(f"anthropic/{name}"))


def test_text_response():
    call, result = parse("message.json")
    assert result["object"] == "chat.completion" and result["id"].startswith("chatcmpl-")
    assert result["model"] == "claude-sonnet-4-5-20250929"
    choice = result["choices"][0]
    assert choice["message"] == {"role": "assistant", "refusal": None,
                                 "content": "Hello! How can I help you today?"}
    assert choice["finish_reason"] == "stop"
    assert result["usage"] == call.usage == {
        "prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22,
        "prompt_tokens_details": {"cached_tokens": 0}}


def test_tool_use_response_and_cache_usage():
    _, result = parse("message_tool_use.json")
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    calls = choice["message"]["tool_calls"]
    assert [c["id"] for c in calls] == ["toolu_01A09q90qw90lq917835lq9",
                                        "toolu_01B19r01rx01mr028946mr0"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"location": "San Francisco, CA",
                                                             "unit": "celsius"}
    assert calls[1]["function"] == {"name": "get_time", "arguments": "{}"}
    assert result["usage"] == {"prompt_tokens": 1024 + 200 + 2048, "completion_tokens": 96,
                               "total_tokens": 1024 + 200 + 2048 + 96,
                               "prompt_tokens_details": {"cached_tokens": 2048}}


def test_thinking_response_and_reasoning_tokens():
    _, result = parse("message_thinking.json")
    choice = result["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["reasoning_content"].startswith("To approach this")
    assert [b["type"] for b in choice["message"]["thinking_blocks"]] == ["thinking",
                                                                        "redacted_thinking"]
    assert result["usage"]["completion_tokens_details"] == {"reasoning_tokens": 1500}


def test_refusal_is_content_filter():
    _, result = parse("message_refusal.json")
    assert result["choices"][0]["finish_reason"] == "content_filter"
    assert result["choices"][0]["message"]["content"] == "I can help with the first part, but"


@pytest.mark.parametrize("reason,expected", [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("pause_turn", "stop"),
    ("max_tokens", "length"), ("model_context_window_exceeded", "length"),
    ("tool_use", "tool_calls"), ("refusal", "content_filter")])
def test_stop_reason_mapping(reason, expected):
    data = {**fixture_json("anthropic/message.json"), "stop_reason": reason}
    result = PROVIDER.parse_response(call_for(), json.dumps(data).encode())
    assert result["choices"][0]["finish_reason"] == expected


def test_non_json_body_is_502():
    with pytest.raises(errors.BadGatewayError):
        PROVIDER.parse_response(call_for(), b"<html>")


# -- streams ------------------------------------------------------------------------------------

class FakeResponse:
    def __init__(self, body, ctype="text/event-stream; charset=utf-8", size=37):
        self.body, self.headers, self.size = body, {"content-type": ctype}, size

    def iter_content(self, chunk_size=None):
        # Small, odd-sized reads: events split across chunks, as on a real socket.
        return (self.body[i:i + self.size] for i in range(0, len(self.body), self.size))


def stream(name=None, body=None, include_usage=False):
    extra = {"stream": True}
    if include_usage:
        extra["stream_options"] = {"include_usage": True}
    call = call_for(extra, stream=True)
    raw = body if body is not None else fixture_bytes(f"anthropic/{name}")
    return call, [json.loads(p) for p in PROVIDER.iter_events(call, FakeResponse(raw))]


def test_text_stream_one_id_role_first_no_ping():
    call, chunks = stream("stream_text.txt", include_usage=True)
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:] if c["choices"])
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("content") or "" for d in deltas) == "Hello!"
    assert {} not in deltas[:-1]  # ping and block start/stop are not forwarded as empty chunks
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == call.usage == {
        "prompt_tokens": 30, "completion_tokens": 15, "total_tokens": 45,
        "prompt_tokens_details": {"cached_tokens": 5}}
    assert chunks[0]["model"] == "claude-sonnet-4-5-20250929"


def test_usage_chunk_only_when_asked():
    call, chunks = stream("stream_text.txt")
    assert all(c["choices"] for c in chunks) and "usage" not in chunks[0]
    assert call.usage["completion_tokens"] == 15


def test_tool_use_stream():
    _, chunks = stream("stream_tool_use.txt")
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks
             if "tool_calls" in c["choices"][0]["delta"]]
    assert calls[0] == {"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                        "function": {"name": "get_weather", "arguments": ""}}
    assert all(set(c) == {"index", "function"} for c in calls[1:])
    arguments = "".join(c["function"]["arguments"] for c in calls)
    assert json.loads(arguments) == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_thinking_stream_and_reasoning_usage():
    call, chunks = stream("stream_thinking.txt")
    deltas = [c["choices"][0]["delta"] for c in chunks]
    reasoning = "".join(d.get("reasoning_content") or "" for d in deltas)
    assert reasoning.startswith("I need to find the GCD") and reasoning.endswith("GCD is 21")
    assert "".join(d.get("content") or "" for d in deltas).endswith("is **21**.")
    assert call.usage == {"prompt_tokens": 40, "completion_tokens": 120, "total_tokens": 160,
                          "prompt_tokens_details": {"cached_tokens": 0},
                          "completion_tokens_details": {"reasoning_tokens": 80}}


def test_error_event_raises_mapped_error_after_partial_output():
    events = PROVIDER.iter_events(call_for(stream=True),
                                  FakeResponse(fixture_bytes("anthropic/stream_error.txt")))
    got = []
    with pytest.raises(errors.ServiceUnavailableError, match="Overloaded"):
        for payload in events:
            got.append(json.loads(payload))
    assert got[-1]["choices"][0]["delta"] == {"content": "Par"}


@pytest.mark.parametrize("raw", [
    fixture_bytes("anthropic/stream_truncated.txt"),
    b"event: message_start\ndata: {not json\n\n",
    b"event: message_start\ndata: [1, 2]\n\n",
    b"",
])
def test_broken_streams_are_502(raw):
    with pytest.raises(errors.BadGatewayError):
        stream(body=raw)


def test_stream_that_is_not_sse_is_502():
    with pytest.raises(errors.BadGatewayError, match="application/json"):
        list(PROVIDER.iter_events(call_for(stream=True),
                                  FakeResponse(b"{}", ctype="application/json")))


def test_unknown_events_and_blocks_are_skipped():
    raw = fixture_bytes("anthropic/stream_text.txt").replace(
        b"event: ping", b'event: future_event\ndata: {"type":"future_event"}\n\nevent: ping')
    _, chunks = stream(body=raw)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Hello!"


# -- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,status,cls,code", [
    ("error_invalid_request.json", 400, errors.InvalidRequestError, None),
    ("error_prompt_too_long.json", 400, errors.ContextLengthExceededError,
     "context_length_exceeded"),
    ("error_content_filter.json", 400, errors.ContentPolicyError, "content_policy_violation"),
    ("error_authentication.json", 401, errors.AuthenticationError, "invalid_api_key"),
    ("error_billing.json", 402, errors.PermissionDeniedError, "billing_error"),
    ("error_permission.json", 403, errors.PermissionDeniedError, None),
    ("error_not_found.json", 404, errors.NotFoundError, "not_found"),
    ("error_request_too_large.json", 413, errors.PayloadTooLargeError, "request_too_large"),
    ("error_rate_limit.json", 429, errors.RateLimitError, "rate_limit_exceeded"),
    ("error_api.json", 500, errors.InternalServerError, None),
    ("error_timeout.json", 504, errors.GatewayTimeoutError, "timeout"),
    ("error_overloaded.json", 529, errors.ServiceUnavailableError, "overloaded_error"),
])
def test_error_bodies(name, status, cls, code):
    exc = PROVIDER.parse_error(call_for(), status, fixture_bytes(f"anthropic/{name}"), {})
    assert type(exc) is cls and exc.code == code
    assert exc.message == fixture_json(f"anthropic/{name}")["error"]["message"]


@pytest.mark.parametrize("name,status", [("error_rate_limit.json", 429),
                                         ("error_overloaded.json", 529)])
def test_retry_after_is_passed_on(name, status):
    exc = PROVIDER.parse_error(call_for(), status, fixture_bytes(f"anthropic/{name}"),
                               {"retry-after": "17"})
    assert exc.headers["Retry-After"] == "17" and exc.status in (429, 503)


def test_input_plus_max_tokens_over_the_window_is_context_length():
    body = json.dumps({"type": "error", "error": {"type": "invalid_request_error", "message": (
        "input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, "
        "decrease input length or `max_tokens` and try again")}})
    exc = PROVIDER.parse_error(call_for(), 400, body.encode(), {})
    assert exc.code == "context_length_exceeded"


def test_non_json_errors_and_key_scrubbing():
    assert PROVIDER.parse_error(call_for(), 529, b"", {}).status == 503
    exc = PROVIDER.parse_error(call_for(), 502, b"<html>bad gateway</html>", {})
    assert exc.status == 502
    body = json.dumps({"type": "error", "error": {"type": "authentication_error",
                                                  "message": f"invalid x-api-key {KEY}"}})
    exc = PROVIDER.parse_error(call_for(), 401, body.encode(), {})
    assert KEY not in exc.message


# -- through the Flask app ----------------------------------------------------------------------

@pytest.fixture
def client():
    config = {"model_list": [
        {"model_name": "claude", "litellm_params": {"model": "anthropic/claude-sonnet-4-5",
                                                    "api_base": HOST, "api_key": KEY}},
        {"model_name": "claude-lenient", "litellm_params": {
            "model": "anthropic/claude-sonnet-4-5", "api_base": HOST, "api_key": KEY,
            "drop_params": True}}],
        "litellm_settings": {"num_retries": 0}, "general_settings": {"access_log": "off"}}
    return create_app(config).test_client()


@responses.activate
def test_chat_through_the_app(client):
    responses.post(URL, body=fixture_bytes("anthropic/message_tool_use.json"),
                   content_type="application/json")
    resp = client.post("/v1/chat/completions", json={
        "model": "claude", "messages": [{"role": "system", "content": "s"}] + HI,
        "tools": [WEATHER_TOOL], "tool_choice": "required"})
    assert resp.status_code == 200, resp.json
    assert resp.json["choices"][0]["finish_reason"] == "tool_calls"
    request = responses.calls[0].request
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    body = json.loads(request.body)
    assert body["system"] == "s" and body["tool_choice"] == {"type": "any"}
    assert body["model"] == "claude-sonnet-4-5" and body["max_tokens"] == 8192


@responses.activate
def test_stream_through_the_app(client):
    responses.post(URL, body=fixture_bytes("anthropic/stream_tool_use.txt"),
                   content_type="text/event-stream")
    resp = client.post("/v1/chat/completions", json={
        "model": "claude", "messages": HI, "stream": True, "tools": [WEATHER_TOOL]})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and text.endswith("data: [DONE]\n\n")
    assert '"ping"' not in text and json.loads(responses.calls[0].request.body)["stream"] is True


@responses.activate
def test_rate_limit_through_the_app(client):
    responses.post(URL, body=fixture_bytes("anthropic/error_rate_limit.json"), status=429,
                   content_type="application/json", headers={"retry-after": "3"})
    resp = client.post("/v1/chat/completions", json={"model": "claude", "messages": HI})
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3"
    assert resp.json["error"]["type"] == "rate_limit_error"


@responses.activate
def test_drop_params_per_deployment_and_request(client):
    responses.post(URL, body=fixture_bytes("anthropic/message.json"),
                   content_type="application/json")
    resp = client.post("/v1/chat/completions", json={"model": "claude", "messages": HI,
                                                     "seed": 1})
    assert resp.status_code == 400 and resp.json["error"]["param"] == "seed"
    assert not responses.calls
    for extra in ({"model": "claude-lenient"}, {"drop_params": True}):
        resp = client.post("/v1/chat/completions",
                           json={"model": "claude", "messages": HI, "seed": 1, **extra})
        assert resp.status_code == 200
        assert "seed" not in json.loads(responses.calls[-1].request.body)


@pytest.mark.parametrize("exc,cls", [
    (requests.exceptions.ChunkedEncodingError("lost"), errors.BadGatewayError),
    (requests.exceptions.ReadTimeout("slow"), errors.GatewayTimeoutError)])
def test_connection_lost_mid_stream(exc, cls):
    class Broken(FakeResponse):
        def iter_content(self, chunk_size=None):
            yield fixture_bytes("anthropic/stream_truncated.txt")
            raise exc

    events = PROVIDER.iter_events(call_for(stream=True), Broken(b""))
    with pytest.raises(cls):
        list(events)
