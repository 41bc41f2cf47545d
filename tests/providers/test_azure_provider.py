"""Azure OpenAI: deployment URLs, api-version, api-key/AD auth, content filters, stream clean-up."""
import json

import pytest
import requests
import responses

from app import create_app, errors
from app.config import load_config
from app.overrides import Overrides
from app.providers import REGISTRY, resolve_model
from app.providers.base import Call
from conftest import fixture_bytes, fixture_json

AZURE = REGISTRY["azure"]
BASE = "https://my-res.openai.azure.com"
CHAT_URL = f"{BASE}/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
HELLO = [{"role": "user", "content": "What is the capital of France?"}]
CHAT = {"model": "gpt-4o", "messages": HELLO}
NO_HEADERS = requests.structures.CaseInsensitiveDict()


def deployment(**params):
    params.setdefault("model", "azure/gpt4o-prod")
    return load_config({"model_list": [{"model_name": "gpt-4o",
                                         "litellm_params": params}]}).model_list[0]


def call_for(dep, body=None, overrides=Overrides(), endpoint="chat", stream=False):
    call = Call(endpoint, dict(body or CHAT), overrides, stream)
    return call.bind((dep, AZURE, AZURE.prepare(dep)), None, (10, 60))


def app_for(**params):
    params.setdefault("model", "azure/gpt4o-prod")
    params.setdefault("api_base", BASE)
    params.setdefault("api_key", "azure-key-1")
    params.setdefault("api_version", "2024-10-21")
    return create_app({
        "model_list": [{"model_name": "gpt-4o", "litellm_params": params},
                       {"model_name": "embed", "litellm_params": {
                           **params, "model": "azure/embed-small"}}],
        "litellm_settings": {"num_retries": 0},
        # Private bases allowed so that no DNS lookup is needed for a client api_base here.
        "general_settings": {"access_log": "off", "allow_client_side_credentials": True,
                             "allow_private_api_base": True},
    }).test_client()


def sent(index=-1):
    return json.loads(responses.calls[index].request.body)


def test_resolve_model():
    assert resolve_model("azure/gpt4o-prod") == ("azure", "gpt4o-prod")
    assert AZURE.endpoints == frozenset({"chat", "embeddings", "completions"})


# -- request building ---------------------------------------------------------------------------

def test_url_key_and_body_from_the_deployment():
    dep = deployment(api_base=BASE + "/", api_key="azure-key-1", api_version="2024-10-21",
                     temperature=0.2)
    out = AZURE.build_request(call_for(dep, {**CHAT, "max_tokens": 5}))
    assert out.url == CHAT_URL
    assert out.headers["api-key"] == "azure-key-1" and "Authorization" not in out.headers
    body = json.loads(out.data)
    assert body == {"model": "gpt4o-prod", "messages": HELLO, "max_tokens": 5,
                    "temperature": 0.2}


@pytest.mark.parametrize("endpoint,path", [("embeddings", "/embeddings"),
                                           ("completions", "/completions")])
def test_other_endpoints(endpoint, path):
    dep = deployment(api_base=BASE, api_key="k", api_version="2024-06-01")
    out = AZURE.build_request(call_for(dep, {"model": "gpt-4o", "input": "x"}, endpoint=endpoint))
    assert out.url == f"{BASE}/openai/deployments/gpt4o-prod{path}?api-version=2024-06-01"


def test_env_base_key_and_version(monkeypatch):
    monkeypatch.setenv("AZURE_API_BASE", BASE + "/openai/")
    monkeypatch.setenv("AZURE_API_KEY", "env-key")
    monkeypatch.setenv("AZURE_API_VERSION", "2025-01-01-preview")
    out = AZURE.build_request(call_for(deployment()))
    assert out.url == f"{BASE}/openai/deployments/gpt4o-prod/chat/completions" \
                      "?api-version=2025-01-01-preview"
    assert out.headers["api-key"] == "env-key"


def test_default_api_version_and_missing_base(monkeypatch):
    for name in ("AZURE_API_BASE", "AZURE_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_API_VERSION",
                 "AZURE_AD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(errors.InvalidRequestError, match="api_base"):
        AZURE.build_request(call_for(deployment(api_key="k")))
    with pytest.raises(errors.AuthenticationError, match="AZURE_API_KEY"):
        AZURE.build_request(call_for(deployment(api_base=BASE)))
    out = AZURE.build_request(call_for(deployment(api_base=BASE, api_key="k")))
    assert out.url.endswith("?api-version=2024-10-21")


@pytest.mark.parametrize("version,url", [
    ("v1", f"{BASE}/openai/v1/chat/completions"),
    ("latest", f"{BASE}/openai/v1/chat/completions"),
    ("preview", f"{BASE}/openai/v1/chat/completions?api-version=preview")])
def test_v1_api_versions(version, url):
    out = AZURE.build_request(call_for(deployment(api_base=BASE, api_key="k", api_version=version)))
    assert out.url == url and json.loads(out.data)["model"] == "gpt4o-prod"


@pytest.mark.parametrize("base", [BASE, f"{BASE}/", f"{BASE}/openai", f"{BASE}/openai/v1/"])
@pytest.mark.parametrize("version,url", [
    ("v1", f"{BASE}/openai/v1/chat/completions"), ("2024-10-21", CHAT_URL)])
def test_api_base_given_with_or_without_the_openai_path(base, version, url):
    out = AZURE.build_request(call_for(deployment(api_base=base, api_key="k",
                                                  api_version=version)))
    assert out.url == url


def test_azure_ad_token_is_a_bearer_token():
    out = AZURE.build_request(call_for(deployment(api_base=BASE, azure_ad_token="eyJ0eXAi")))
    assert out.headers["Authorization"] == "Bearer eyJ0eXAi" and "api-key" not in out.headers


def test_request_api_version_wins():
    dep = deployment(api_base=BASE, api_key="k", api_version="2024-02-01")
    out = AZURE.build_request(call_for(dep, overrides=Overrides(api_version="2024-10-21")))
    assert out.url == CHAT_URL


def test_client_key_replaces_the_deployment_credentials():
    dep = deployment(api_base=BASE, azure_ad_token="deployment-token")
    out = AZURE.build_request(call_for(dep, overrides=Overrides(api_key="client-key")))
    assert out.headers["api-key"] == "client-key" and "Authorization" not in out.headers


def test_client_base_never_receives_the_deployment_key():
    dep = deployment(api_base=BASE, api_key="deployment-key")
    with pytest.raises(errors.AuthenticationError):
        AZURE.build_request(call_for(dep, overrides=Overrides(api_base="https://other.example")))
    out = AZURE.build_request(call_for(dep, overrides=Overrides(
        api_base="https://other.example", api_key="own", api_version="2024-06-01",
        extra_headers={"X-Trace": "1"})))
    assert out.url == "https://other.example/openai/deployments/gpt4o-prod/chat/completions" \
                      "?api-version=2024-06-01"
    assert out.headers["api-key"] == "own" and out.headers["X-Trace"] == "1"


# -- through the app (responses records what was sent) ------------------------------------------

@responses.activate
def test_chat_passes_through_with_usage_details():
    responses.post(CHAT_URL, body=fixture_bytes("azure/chat_completion.json"),
                   content_type="application/json")
    resp = app_for().post("/v1/chat/completions", json={
        **CHAT, "stop": ["\n"], "seed": 7, "top_p": 0.5, "max_completion_tokens": 20,
        "response_format": {"type": "json_object"}})
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["choices"][0]["message"]["content"] == "Paris is the capital of France."
    assert data["usage"]["prompt_tokens_details"]["cached_tokens"] == 1280
    assert responses.calls[0].request.headers["api-key"] == "azure-key-1"
    body = sent()
    assert body["stop"] == ["\n"] and body["seed"] == 7 and body["max_completion_tokens"] == 20
    assert body["response_format"] == {"type": "json_object"} and body["model"] == "gpt4o-prod"


@responses.activate
def test_tools_and_reasoning_usage():
    responses.post(CHAT_URL, body=fixture_bytes("azure/chat_completion_tools.json"),
                   content_type="application/json")
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"location": {"type": "string"}}}}}]
    history = HELLO + [
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"}]
    resp = app_for().post("/v1/chat/completions", json={
        "model": "gpt-4o", "messages": history, "tools": tools, "tool_choice": "auto"})
    choice = resp.get_json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {
        "location": "Paris, FR"}
    assert resp.get_json()["usage"]["completion_tokens_details"]["reasoning_tokens"] == 192
    assert sent()["messages"] == history and sent()["tools"] == tools


@responses.activate
def test_content_filter_finish_reason_passes_through():
    responses.post(CHAT_URL, body=fixture_bytes("azure/chat_completion_filtered.json"),
                   content_type="application/json")
    resp = app_for().post("/v1/chat/completions", json=CHAT)
    assert resp.get_json()["choices"][0]["finish_reason"] == "content_filter"


@responses.activate
@pytest.mark.parametrize("fmt", ["float", "base64"])
def test_embeddings(fmt):
    url = f"{BASE}/openai/deployments/embed-small/embeddings?api-version=2024-10-21"
    responses.post(url, body=fixture_bytes("azure/embeddings.json"),
                   content_type="application/json")
    resp = app_for().post("/v1/embeddings", json={"model": "embed", "input": ["a", "b"],
                                                  "encoding_format": fmt, "dimensions": 4})
    assert resp.status_code == 200 and len(resp.get_json()["data"]) == 2
    assert sent()["encoding_format"] == fmt and sent()["dimensions"] == 4


@responses.activate
def test_per_request_credentials_seed_example():
    url = "https://client-res.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions" \
          "?api-version=2024-08-01-preview"
    responses.post(url, body=fixture_bytes("azure/chat_completion.json"),
                   content_type="application/json")
    resp = app_for().post("/v1/chat/completions", json={
        **CHAT, "api_key": "my-azure-key", "api_base": "https://client-res.openai.azure.com",
        "api_version": "2024-08-01-preview"})
    assert resp.status_code == 200, resp.get_json()
    assert responses.calls[0].request.headers["api-key"] == "my-azure-key"
    assert set(sent()) == {"model", "messages"}


# -- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("status,fixture,cls,code", [
    (400, "azure/error_content_filter.json", errors.ContentPolicyError,
     "content_policy_violation"),
    (400, "azure/error_context_length.json", errors.ContextLengthExceededError,
     "context_length_exceeded"),
    (401, "azure/error_401.json", errors.AuthenticationError, "invalid_api_key"),
    (403, "azure/error_403.json", errors.PermissionDeniedError, None),
    (404, "azure/error_404_deployment.json", errors.ModelNotFoundError, "model_not_found"),
    (429, "azure/error_429.json", errors.RateLimitError, "rate_limit_exceeded"),
    (500, "azure/error_500.json", errors.InternalServerError, "InternalServerError"),
    (503, "azure/error_503.json", errors.ServiceUnavailableError, "ServiceUnavailable"),
])
def test_parse_error(status, fixture, cls, code):
    headers = requests.structures.CaseInsensitiveDict({"retry-after": "6"})
    exc = AZURE.parse_error(call_for(deployment(api_base=BASE, api_key="k")), status,
                            fixture_bytes(fixture), headers)
    assert type(exc) is cls and exc.code == code and exc.status == status
    assert exc.message == fixture_json(fixture)["error"]["message"]
    if status == 429:
        assert exc.headers["Retry-After"] == "6"


def test_retry_after_ms_and_non_json_errors():
    call = call_for(deployment(api_base=BASE, api_key="k"))
    headers = requests.structures.CaseInsensitiveDict({"retry-after-ms": "1500"})
    exc = AZURE.parse_error(call, 429, fixture_bytes("azure/error_429.json"), headers)
    assert exc.headers["Retry-After"] == "1.5"
    exc = AZURE.parse_error(call, 502, b"<html>Bad Gateway</html>", NO_HEADERS)
    assert isinstance(exc, errors.BadGatewayError)


@responses.activate
def test_content_filter_error_through_the_app():
    responses.post(CHAT_URL, status=400, body=fixture_bytes("azure/error_content_filter.json"),
                   content_type="application/json")
    resp = app_for().post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "content_policy_violation"
    assert resp.get_json()["error"]["type"] == "invalid_request_error"


# -- streams ------------------------------------------------------------------------------------

class FakeResponse:
    def __init__(self, body, ctype="text/event-stream"):
        self.body, self.headers = body, {"content-type": ctype}

    def iter_content(self, chunk_size=None):
        for i in range(0, len(self.body), 11):  # awkward splits on purpose
            yield self.body[i:i + 11]


def stream_of(fixture, body=None):
    call = call_for(deployment(api_base=BASE, api_key="k"), body, stream=True)
    chunks = [json.loads(e) for e in AZURE.iter_events(call, FakeResponse(fixture_bytes(fixture)))]
    return call, chunks


def test_stream_drops_bookkeeping_and_keeps_one_id():
    call, chunks = stream_of("azure/chat_stream.txt")
    assert len(chunks) == 6  # prompt filter results and the filter annotation are gone
    assert {c["id"] for c in chunks} == {"chatcmpl-AXq4Kp2vJ0sXc7Ue1yQ3Hn8mBdZfL"}
    assert {c["created"] for c in chunks} == {1732617700}
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Paris is the capital of France."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and call.usage["total_tokens"] == 21


def test_stream_tool_call_deltas():
    _, chunks = stream_of("azure/chat_stream_tools.txt")
    first = chunks[0]["choices"][0]["delta"]["tool_calls"][0]
    assert first["id"] == "call_8TqHjwYhqS6o1D3rBXEXgYBc" and first["index"] == 0
    args = "".join(c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                   for c in chunks if c["choices"][0]["delta"].get("tool_calls"))
    assert json.loads(args) == {"location": "Paris, FR"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_content_filter_finish_reason():
    _, chunks = stream_of("azure/chat_stream_filtered.txt")
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"


def test_stream_rewrites_empty_and_varying_ids():
    events = [
        {"choices": [{"delta": {"role": "assistant", "content": "a"}, "index": 0,
                      "finish_reason": None}], "created": 0, "id": "", "model": "",
         "object": ""},
        {"choices": [{"delta": {"content": "b"}, "index": 0, "finish_reason": None}],
         "created": 5, "id": "chatcmpl-other", "model": "gpt-4o",
         "object": "chat.completion.chunk"},
        {"choices": [{"index": 0, "finish_reason": "stop"}], "created": 6, "id": "x",
         "model": "gpt-4o", "object": "chat.completion.chunk"},
    ]
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    call = call_for(deployment(api_base=BASE, api_key="k"), stream=True)
    response = FakeResponse(body + b"data: [DONE]\n\n")
    chunks = [json.loads(e) for e in AZURE.iter_events(call, response)]
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert len({c["created"] for c in chunks}) == 1 and chunks[0]["created"] > 0
    assert {c["model"] for c in chunks} == {"gpt4o-prod"}
    assert chunks[-1]["choices"][0]["delta"] == {}


@pytest.mark.parametrize("body,cls", [
    (b'data: {"choices":[{"delta":{"content":"a"},"index":0}],"id":"chatcmpl-1"}\n\n',
     errors.BadGatewayError),
    (b"data: nope\n\n", errors.BadGatewayError),
    (b'data: {"error": {"message": "The server had an error", "code": "server_error"}}\n\n',
     errors.InternalServerError),
])
def test_broken_streams_raise(body, cls):
    call = call_for(deployment(api_base=BASE, api_key="k"), stream=True)
    with pytest.raises(cls):
        list(AZURE.iter_events(call, FakeResponse(body)))


class BrokenResponse(FakeResponse):
    def iter_content(self, chunk_size=None):
        yield from super().iter_content()
        raise requests.exceptions.ChunkedEncodingError("connection reset")


def test_connection_lost_mid_stream_is_a_502():
    call = call_for(deployment(api_base=BASE, api_key="k"), stream=True)
    with pytest.raises(errors.BadGatewayError):
        list(AZURE.iter_events(call, BrokenResponse(b'data: {"choices":[]}\n\n')))


@responses.activate
def test_stream_through_the_app():
    responses.post(CHAT_URL, body=fixture_bytes("azure/chat_stream.txt"),
                   content_type="text/event-stream")
    resp = app_for().post("/v1/chat/completions", json={
        **CHAT, "stream": True, "stream_options": {"include_usage": True}})
    events = [e[6:] for e in resp.get_data(as_text=True).split("\n\n") if e]
    assert events[-1] == "[DONE]" and len(events) == 7
    assert sent()["stream_options"] == {"include_usage": True}
