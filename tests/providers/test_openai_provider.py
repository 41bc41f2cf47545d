"""OpenAI-compatible provider: pure request building, error parsing and stream checking."""
import json

import pytest
import requests

from app import errors
from app.config import load_config
from app.overrides import Overrides
from app.providers import REGISTRY, resolve_model
from app.providers.base import Call
from conftest import fixture_bytes, fixture_json

CHAT = {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}]}


def deployment(**params):
    params.setdefault("model", "openai/gpt-4o")
    return load_config({"model_list": [{"model_name": "m", "litellm_params": params}]}).model_list[0]


def call_for(dep, body=None, overrides=Overrides(), endpoint="chat"):
    provider = REGISTRY[dep.provider]
    call = Call(endpoint, dict(body or CHAT), overrides)
    return call.bind((dep, provider, provider.prepare(dep)), None, (10, 60))


@pytest.mark.parametrize("model,expected", [
    ("gpt-4o-mini", ("openai", "gpt-4o-mini")),
    ("openai/my-finetune", ("openai", "my-finetune")),
    ("text-embedding-3-small", ("openai", "text-embedding-3-small")),
    ("groq/llama3-8b-8192", ("groq", "llama3-8b-8192")),
    ("together_ai/meta-llama/Llama-3-70b", ("together_ai", "meta-llama/Llama-3-70b")),
    ("hosted_vllm/qwen", ("hosted_vllm", "qwen")),
    ("mock/demo", ("mock", "demo")),
])
def test_resolve_model(model, expected):
    assert resolve_model(model) == expected


@pytest.mark.parametrize("model", ["nosuch/x", "llama3", "openai/"])
def test_resolve_model_refuses_unknown(model):
    with pytest.raises(ValueError):
        resolve_model(model)


def test_build_request_uses_host_defaults_and_env(monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "gsk-env")
    out = REGISTRY["groq"].build_request(call_for(deployment(model="groq/llama3")))
    assert out.url == "https://api.groq.com/openai/v1/chat/completions"
    assert out.headers["Authorization"] == "Bearer gsk-env"
    assert json.loads(out.data)["model"] == "llama3"


def test_build_request_deployment_params_and_defaults():
    dep = deployment(api_base="http://10.0.0.5:8000/v1/", api_key="k", organization="org-1",
                     extra_headers={"X-Team": "a"}, temperature=0.1, max_tokens=9)
    out = REGISTRY["openai"].build_request(call_for(dep, {**CHAT, "temperature": 0.7}))
    assert out.url == "http://10.0.0.5:8000/v1/chat/completions"
    assert out.headers["OpenAI-Organization"] == "org-1" and out.headers["X-Team"] == "a"
    sent = json.loads(out.data)
    assert sent["temperature"] == 0.7 and sent["max_tokens"] == 9 and sent["model"] == "gpt-4o"


def test_client_base_never_receives_the_deployment_key():
    dep = deployment(api_key="sk-deployment")
    with pytest.raises(errors.AuthenticationError):
        REGISTRY["openai"].build_request(
            call_for(dep, overrides=Overrides(api_base="https://other.example/v1")))
    out = REGISTRY["openai"].build_request(call_for(
        dep, overrides=Overrides(api_base="https://other.example/v1", api_key="sk-own")))
    assert out.url.startswith("https://other.example/v1") and "sk-own" in out.headers["Authorization"]


def test_client_extra_headers_replace_case_insensitively():
    dep = deployment(api_key="sk-deployment")
    out = REGISTRY["openai"].build_request(
        call_for(dep, overrides=Overrides(extra_headers={"authorization": "Bearer x"})))
    assert [k for k in out.headers if k.lower() == "authorization"] == ["authorization"]


def test_missing_key_is_an_authentication_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(errors.AuthenticationError, match="OPENAI_API_KEY"):
        REGISTRY["openai"].build_request(call_for(deployment()))


def test_hosted_vllm_needs_a_base_but_no_key():
    with pytest.raises(errors.InvalidRequestError, match="api_base"):
        REGISTRY["hosted_vllm"].build_request(call_for(deployment(model="hosted_vllm/q")))
    out = REGISTRY["hosted_vllm"].build_request(
        call_for(deployment(model="hosted_vllm/q", api_base="http://gpu:8000/v1")))
    assert "Authorization" not in out.headers


@pytest.mark.parametrize("status,fixture,cls,code", [
    (429, "openai/error_rate_limit.json", errors.RateLimitError, "rate_limit_exceeded"),
    (400, "openai/error_context_length.json", errors.ContextLengthExceededError,
     "context_length_exceeded"),
    (401, "openai/error_invalid_key.json", errors.AuthenticationError, "invalid_api_key"),
])
def test_parse_error(status, fixture, cls, code):
    call = call_for(deployment(api_key="k"))
    exc = REGISTRY["openai"].parse_error(call, status, fixture_bytes(fixture),
                                         requests.structures.CaseInsensitiveDict({"Retry-After": "3"}))
    assert type(exc) is cls and exc.code == code and exc.status == status
    if status == 429:
        assert exc.headers["Retry-After"] == "3"
    message = fixture_json(fixture)["error"]["message"]
    if status == 401:  # key fragments are scrubbed from upstream text
        message = message.replace("sk-clien****************************" + "********yKey", "sk-cli***")
    assert exc.message == message


def test_parse_error_non_json_body():
    exc = REGISTRY["openai"].parse_error(call_for(deployment(api_key="k")), 502, b"<html>",
                                         requests.structures.CaseInsensitiveDict())
    assert isinstance(exc, errors.BadGatewayError)


class FakeResponse:
    def __init__(self, body, ctype="text/event-stream"):
        self.body, self.headers = body, {"content-type": ctype}

    def iter_content(self, chunk_size=None):
        data = self.body
        for i in range(0, len(data), 7):  # awkward splits on purpose
            yield data[i:i + 7]


def test_iter_events_passes_chunks_and_records_usage():
    call = call_for(deployment(api_key="k"), {**CHAT, "stream_options": {"include_usage": True}})
    events = list(REGISTRY["openai"].iter_events(call, FakeResponse(
        fixture_bytes("openai/chat_stream.txt"))))
    assert len(events) == 5 and all(json.loads(e)["object"] == "chat.completion.chunk"
                                    for e in events)
    assert call.usage["total_tokens"] == 15


@pytest.mark.parametrize("body,ctype,cls", [
    (b'data: {"a": 1}\n\n', "text/event-stream", errors.BadGatewayError),
    (b"data: nope\n\n", "text/event-stream", errors.BadGatewayError),
    (b'{"a": 1}', "application/json", errors.BadGatewayError),
    (b'data: {"error": {"message": "overloaded", "code": "server_error"}}\n\n',
     "text/event-stream", errors.InternalServerError),
])
def test_iter_events_broken_streams_raise(body, ctype, cls):
    with pytest.raises(cls):
        list(REGISTRY["openai"].iter_events(call_for(deployment(api_key="k")),
                                            FakeResponse(body, ctype)))


def test_streams_ask_openai_for_usage_and_hide_it_from_clients_that_did_not():
    dep = deployment(api_key="k")
    call = call_for(dep, {**CHAT, "stream": True})
    call.stream = True
    sent = json.loads(REGISTRY["openai"].build_request(call).data)
    assert sent["stream_options"] == {"include_usage": True}
    assert "stream_options" not in call.body  # the client's own body is untouched
    events = list(REGISTRY["openai"].iter_events(call, FakeResponse(
        fixture_bytes("openai/chat_stream.txt"))))
    assert all(json.loads(e)["choices"] for e in events)  # the usage-only chunk is not shown
    assert call.usage["total_tokens"] == 15  # ...but the logs and cost get it


def test_client_asking_for_usage_gets_it_and_other_hosts_are_left_alone(monkeypatch):
    dep = deployment(api_key="k")
    asked = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    call = call_for(dep, asked)
    call.stream = True
    events = list(REGISTRY["openai"].iter_events(call, FakeResponse(
        fixture_bytes("openai/chat_stream.txt"))))
    assert json.loads(events[-1])["choices"] == []
    monkeypatch.setenv("GROQ_API_KEY", "gsk")
    groq = call_for(deployment(model="groq/llama3"), {**CHAT, "stream": True})
    groq.stream = True
    assert "stream_options" not in json.loads(REGISTRY["groq"].build_request(groq).data)
