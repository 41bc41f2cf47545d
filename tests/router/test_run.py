"""Load balancing and retries across deployments that share a model name."""
import json

import pytest
import responses

from app import errors
from app.config import load_config
from app.router import Router, router_of
from app.router.strategies import weight

A, B = "https://a.test/v1", "https://b.test/v1"
CHAT = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}


def config(num_retries=1, **extra_b):
    return {"model_list": [
        {"model_name": "gpt", "litellm_params": {"model": "openai/gpt-a", "api_base": A,
                                                 "api_key": "ka", "weight": 1}},
        {"model_name": "gpt", "litellm_params": {"model": "openai/gpt-b", "api_base": B,
                                                 "api_key": "kb", "weight": 1, **extra_b}},
    ], "litellm_settings": {"num_retries": num_retries},
        "general_settings": {"access_log": "off"}}


@pytest.mark.parametrize("status", [429, 500, 503])
@responses.activate
def test_retryable_error_moves_to_the_other_deployment(make_app, status):
    responses.post(f"{A}/chat/completions", status=status, json={"error": {"message": "busy"}})
    responses.post(f"{B}/chat/completions", status=status, json={"error": {"message": "busy"}})
    client = make_app(config()).test_client()
    for _ in range(6):
        responses.calls.reset()
        resp = client.post("/v1/chat/completions", json=CHAT)
        # both deployments fail: two attempts, one on each, then the error is passed on
        assert resp.status_code == status
        assert {c.request.url.split("/v1")[0] for c in responses.calls} == \
            {"https://a.test", "https://b.test"}


@responses.activate
def test_retry_succeeds_on_the_healthy_deployment(make_app):
    responses.post(f"{A}/chat/completions", status=429, json={"error": {"message": "slow down"}},
                   headers={"Retry-After": "100"})
    responses.post(f"{B}/chat/completions", json={"id": "ok", "object": "chat.completion",
                                                  "choices": [], "usage": None})
    client = make_app(config()).test_client()
    for _ in range(6):
        resp = client.post("/v1/chat/completions", json=CHAT)
        assert resp.status_code == 200 and resp.get_json()["id"] == "ok"


@responses.activate
def test_non_retryable_errors_are_not_retried(make_app):
    responses.post(f"{A}/chat/completions", status=400, json={"error": {"message": "bad"}})
    responses.post(f"{B}/chat/completions", status=400, json={"error": {"message": "bad"}})
    resp = make_app(config()).test_client().post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 400 and len(responses.calls) == 1


@responses.activate
def test_per_request_num_retries_zero_wins(make_app):
    responses.post(f"{A}/chat/completions", status=500, json={"error": {"message": "x"}})
    responses.post(f"{B}/chat/completions", status=500, json={"error": {"message": "x"}})
    resp = make_app(config()).test_client().post("/v1/chat/completions",
                                                 json={**CHAT, "num_retries": 0})
    assert resp.status_code == 500 and len(responses.calls) == 1


@responses.activate
def test_same_deployment_retry_honours_short_retry_after(make_app):
    slept = []
    cfg = config(num_retries=2)
    cfg["model_list"].pop()
    responses.post(f"{A}/chat/completions", status=429, json={"error": {"message": "x"}},
                   headers={"Retry-After": "2"})
    app = make_app(cfg)
    router_of(app).sleep = slept.append
    resp = app.test_client().post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"
    assert slept == [2.0, 2.0] and len(responses.calls) == 3


def test_weights_steer_traffic():
    settings = load_config(config(weight=0))
    router = Router(settings, None)
    routes = router.routes_for("gpt", "chat")
    picks = set()
    for _ in range(50):
        res = router.state.reserve("simple-shuffle", [r[0] for r in routes], router.rng, 0.0)
        picks.add(routes[res.index][0].upstream_model)
    assert picks == {"gpt-a"}
    assert weight(settings.model_list[1]) == 0.0


def test_unknown_model_and_unsupported_endpoint():
    router = Router(load_config({"model_list": [
        {"model_name": "g", "litellm_params": {"model": "groq/llama3", "api_key": "k"}}]}), None)
    with pytest.raises(errors.ModelNotFoundError):
        router.routes_for("nope", "chat")
    with pytest.raises(errors.InvalidRequestError, match="embeddings"):
        router.routes_for("g", "embeddings")


@responses.activate
def test_stream_retry_only_before_first_byte(make_app):
    responses.post(f"{A}/chat/completions", status=503, json={"error": {"message": "x"}})
    responses.post(f"{B}/chat/completions", status=503, json={"error": {"message": "x"}})
    resp = make_app(config()).test_client().post("/v1/chat/completions",
                                                 json={**CHAT, "stream": True})
    assert resp.status_code == 503 and len(responses.calls) == 2
    assert json.loads(resp.data)["error"]["type"] == "service_unavailable_error"
