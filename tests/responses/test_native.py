"""Which deployments get the Responses API natively, and what is sent to them."""
import orjson

from app.config import load_config
from app.overrides import EMPTY
from app.providers import get_provider
from app.providers.base import Call
from app.responses import native


def bound(litellm_model, model_info=None, **params):
    entry = {"model_name": "x", "litellm_params": {"model": litellm_model, **params}}
    if model_info:
        entry["model_info"] = model_info
    dep = load_config({"model_list": [entry]}).model_list[0]
    provider = get_provider(dep.provider)
    call = Call("chat", {"model": "x", "messages": []}, EMPTY)
    return call.bind((dep, provider, provider.prepare(dep)), None, (1, 1))


def test_who_speaks_responses():
    body = {"model": "x", "input": "hi"}
    assert native.speaks_responses(bound("openai/gpt-4.1", api_key="sk-1"), body)
    assert native.speaks_responses(bound("azure/dep", api_base="https://r.openai.azure.com",
                                         api_key="k"), body)
    # a custom base or a generic OpenAI-compatible host: chat completions only
    assert not native.speaks_responses(bound("openai/m", api_base="http://127.0.0.1:9/v1",
                                             api_key="k"), body)
    assert not native.speaks_responses(bound("groq/llama", api_key="k"), body)
    assert not native.speaks_responses(bound("anthropic/claude-x", api_key="k"), body)
    # the operator can vouch for a base, or opt out
    assert native.speaks_responses(bound("openai/m", {"responses_api": True},
                                         api_base="http://proxy/v1", api_key="k"), body)
    assert not native.speaks_responses(bound("openai/m", {"responses_api": False},
                                             api_key="k"), body)
    # OpenAI refuses max_output_tokens below 16
    assert not native.speaks_responses(bound("openai/gpt-4.1", api_key="sk-1"),
                                       {**body, "max_output_tokens": 15})
    # stop is chat completions' (the Responses API refuses it): such a call goes through chat
    assert not native.speaks_responses(bound("openai/gpt-4.1", api_key="sk-1"),
                                       {**body, "stop": ["END"]})


def test_native_body_and_outbound():
    call = bound("openai/gpt-4.1", api_key="sk-1")
    body = {"model": "x", "input": "again", "metadata": {"a": "b"},
            "previous_response_id": "resp_1", "store": True, "instructions": "short",
            "api_key": "sk-client-override", "num_retries": 2, "service_tier": "flex"}
    history = [{"type": "message", "role": "user", "content": "first"}]
    # extras are what the pipeline left of the client's undeclared keys (no overrides)
    out = native.native_body(call, body, history, {"seed": 7})
    assert out == {"model": "gpt-4.1", "input": [history[0], {"role": "user",
                                                               "content": "again"}],
                   "instructions": "short", "store": False, "service_tier": "flex",
                   "seed": 7}
    request = native.outbound(call, out)
    assert request.url == "https://api.openai.com/v1/responses"
    assert request.headers["Authorization"] == "Bearer sk-1"
    assert orjson.loads(request.data) == out


def test_azure_urls():
    base = "https://r.openai.azure.com"
    assert native.azure_url(base, "2024-10-21") == f"{base}/openai/v1/responses"
    assert native.azure_url(base, "preview") == f"{base}/openai/v1/responses?api-version=preview"
    assert native.azure_url(base, "2025-04-01-preview") == \
        f"{base}/openai/responses?api-version=2025-04-01-preview"
    call = bound("azure/dep", api_base=base + "/openai/", api_key="az-key", api_version="v1")
    request = native.outbound(call, {"model": "dep"})
    assert request.url == f"{base}/openai/v1/responses" and request.headers["api-key"] == "az-key"


def test_azure_url_boundaries_and_entra_token():
    # Azure documents the dated path from 2025-03-01-preview on; earlier dated versions have
    # no Responses API, so they get the version-less v1 path.
    base = "https://r.openai.azure.com"
    assert native.azure_url(base, "2025-03-01-preview") == \
        f"{base}/openai/responses?api-version=2025-03-01-preview"
    assert native.azure_url(base, "2025-01-01-preview") == f"{base}/openai/v1/responses"
    assert native.azure_url(base, "latest") == f"{base}/openai/v1/responses"
    call = bound("azure/dep", api_base=base, azure_ad_token="entra-1",
                 api_version="2025-04-01-preview")
    request = native.outbound(call, {"model": "dep"})
    assert request.headers["Authorization"] == "Bearer entra-1" and "api-key" not in request.headers
