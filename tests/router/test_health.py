"""The dashboard's contract (status, check_health), background checks and the metrics."""
import pytest
import responses

from app import errors
from app.router import router_of
from app.router.health import run_checks

A, B = "https://a.test/v1", "https://b.test/v1"
OK = {"id": "ok", "object": "chat.completion", "choices": [], "usage": {"total_tokens": 3}}
ROW_KEYS = {"id", "provider", "model", "api_base", "healthy", "cooldown_remaining",
            "cooldown_reason", "in_flight", "requests_this_minute", "failures_this_minute",
            "rpm_used", "rpm_limit", "tpm_used", "tpm_limit", "latency_ms"}


def config(**router_settings):
    return {"model_list": [
        {"model_name": "g", "model_info": {"id": "a"},
         "litellm_params": {"model": "openai/m", "api_base": A, "api_key": "ka", "rpm": 9}},
        {"model_name": "g", "model_info": {"id": "b"},
         "litellm_params": {"model": "openai/m", "api_base": B, "api_key": "kb-secret"}},
        {"model_name": "emb", "model_info": {"id": "e"},
         "litellm_params": {"model": "mock/emb"}}],
        "router_settings": router_settings, "general_settings": {"access_log": "off"}}


def test_status_contract(make_app):
    status = router_of(make_app(config())).status()
    assert [g["model_name"] for g in status["groups"]] == ["g", "emb"]
    rows = status["groups"][0]["deployments"]
    assert [set(r) for r in rows] == [ROW_KEYS, ROW_KEYS]
    assert rows[0]["rpm_limit"] == 9 and rows[0]["api_base"] == A and rows[0]["healthy"]
    assert rows[1]["rpm_limit"] is None and rows[1]["provider"] == "openai"


@responses.activate
def test_check_health_contract(make_app):
    responses.post(f"{A}/chat/completions", json=OK)
    responses.post(f"{B}/chat/completions", status=401,
                   json={"error": {"message": "Incorrect API key provided: kb-secret"}})
    router = router_of(make_app(config()))
    good, bad = router.check_health("a"), router.check_health("b")
    assert set(good) == {"model_id", "healthy", "error", "latency_ms"}
    assert good["healthy"] and good["error"] is None and good["latency_ms"] >= 0
    assert not bad["healthy"] and bad["error"].startswith("401") and "kb-secret" not in bad["error"]
    assert b'"max_tokens":1' in responses.calls[0].request.body
    with pytest.raises(errors.NotFoundError):
        router.check_health("nope")


@responses.activate
def test_background_check_cools_failing_deployment(make_app):
    responses.post(f"{A}/chat/completions", status=500, json={"error": {"message": "x"}})
    responses.post(f"{B}/chat/completions", json=OK)
    router = router_of(make_app(config(cooldown_time=30)))
    run_checks(router, 60)
    rows = {d["id"]: d for d in router.status()["groups"][0]["deployments"]}
    assert rows["a"]["cooldown_reason"] == "health_check" and not rows["a"]["healthy"]
    assert rows["b"]["healthy"]


@responses.activate
def test_prometheus_series(make_app):
    responses.post(f"{A}/chat/completions", status=429, json={"error": {"message": "x"}})
    responses.post(f"{B}/chat/completions", json=OK)
    app = make_app({**config(num_retries=1, fallbacks=[{"g": ["emb"]}]), "model_list": [
        {**e, "litellm_params": {**e["litellm_params"], "weight": w}}
        for e, w in zip(config()["model_list"], (1000, 1, 1), strict=True)]})
    client = app.test_client()
    chat = {"model": "g", "messages": [{"role": "user", "content": "hi"}]}
    assert client.post("/v1/chat/completions", json=chat).status_code == 200
    text = client.get("/metrics").get_data(as_text=True)
    assert 'switchboard_deployment_cooldowns_total{deployment="a",model_group="g",' \
           'reason="rate_limit"} 1.0' in text
    assert 'switchboard_deployment_state{deployment="a",model_group="g"} 1.0' in text
    assert 'switchboard_deployment_state{deployment="b",model_group="g"} 0.0' in text


def test_status_lists_wildcard_entries(make_app):
    app = make_app({"model_list": [
        {"model_name": "anthropic/*", "model_info": {"id": "wild"},
         "litellm_params": {"model": "anthropic/*", "api_key": "k"}}],
        "general_settings": {"access_log": "off"}})
    groups = router_of(app).status()["groups"]
    assert groups[0]["model_name"] == "anthropic/*"
    assert groups[0]["deployments"][0]["id"] == "wild"
    assert groups[0]["deployments"][0]["provider"] == "anthropic"
