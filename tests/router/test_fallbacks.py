"""Retries, moves, cooldowns and fallbacks through the app (upstreams faked with responses)."""
import pytest
import responses

from app.router import router_of

A, B, C = "https://a.test/v1", "https://b.test/v1", "https://c.test/v1"
CHAT = {"model": "main", "messages": [{"role": "user", "content": "hi"}]}
OK = {"id": "ok", "object": "chat.completion", "choices": [], "usage": {"total_tokens": 3}}


def entry(name, base, model="m", dep_id=None, **params):
    out = {"model_name": name, "litellm_params": {"model": f"openai/{model}", "api_base": base,
                                                  "api_key": "k", **params}}
    if dep_id:
        out["model_info"] = {"id": dep_id}
    return out


def cfg(entries, **router_settings):
    return {"model_list": entries, "router_settings": router_settings,
            "general_settings": {"access_log": "off"}}


def hosts():
    return [c.request.url.split("/v1")[0].split("//")[1] for c in responses.calls]


@responses.activate
def test_fallback_group_after_retries_and_header(make_app):
    responses.post(f"{A}/chat/completions", status=500, json={"error": {"message": "down"}})
    responses.post(f"{B}/chat/completions", json=OK)
    app = make_app(cfg([entry("main", A), entry("backup", B)], num_retries=1,
                       fallbacks=[{"main": ["backup"]}]))
    router_of(app).sleep = lambda s: None
    resp = app.test_client().post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 200, resp.json
    assert hosts() == ["a.test", "a.test", "b.test"]
    assert resp.headers["x-switchboard-attempted-fallbacks"] == "1"
    assert resp.headers["x-switchboard-attempted-retries"] == "2"


@responses.activate
def test_client_body_fallbacks_and_max_fallbacks(make_app):
    responses.post(f"{A}/chat/completions", status=503, json={"error": {"message": "x"}})
    responses.post(f"{B}/chat/completions", status=503, json={"error": {"message": "x"}})
    responses.post(f"{C}/chat/completions", json=OK)
    config = cfg([entry("main", A), entry("b", B), entry("c", C)], max_fallbacks=1)
    client = make_app(config).test_client()
    resp = client.post("/v1/chat/completions", json={**CHAT, "fallbacks": ["b", "c"]})
    assert resp.status_code == 503 and hosts() == ["a.test", "b.test"]
    responses.calls.reset()
    config["router_settings"]["max_fallbacks"] = 2
    resp = make_app(config).test_client().post(
        "/v1/chat/completions", json={**CHAT, "fallbacks": [{"model": "b"}, "c"]})
    assert resp.status_code == 200 and hosts() == ["a.test", "b.test", "c.test"]
    assert resp.headers["x-switchboard-attempted-fallbacks"] == "2"


@responses.activate
def test_context_window_fallback_and_not_a_failure(make_app):
    responses.post(f"{A}/chat/completions", status=400, json={"error": {
        "message": "This model's maximum context length is 10 tokens",
        "code": "context_length_exceeded"}})
    responses.post(f"{B}/chat/completions", json=OK)
    app = make_app(cfg([entry("main", A, dep_id="small"), entry("big", B)], num_retries=3,
                       context_window_fallbacks=[{"main": ["big"]}],
                       fallbacks=[{"main": ["nowhere"]}]))
    resp = app.test_client().post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 200 and hosts() == ["a.test", "b.test"]
    row = router_of(app).status()["groups"][0]["deployments"][0]
    assert row["id"] == "small" and row["failures_this_minute"] == 0


@responses.activate
def test_pre_call_checks_skip_small_windows(make_app):
    responses.post(f"{A}/chat/completions", json=OK)
    responses.post(f"{B}/chat/completions", json=OK)
    small = entry("main", A)
    small["model_info"] = {"max_input_tokens": 50}
    app = make_app(cfg([small, entry("main", B)], enable_pre_call_checks=True))
    long = {**CHAT, "messages": [{"role": "user", "content": "word " * 400}]}
    client = app.test_client()
    for _ in range(5):
        assert client.post("/v1/chat/completions", json=long).status_code == 200
    assert set(hosts()) == {"b.test"}
    # nothing fits: context_length_exceeded without calling anyone
    only = make_app(cfg([small], enable_pre_call_checks=True)).test_client()
    responses.calls.reset()
    resp = only.post("/v1/chat/completions", json=long)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "context_length_exceeded"
    assert hosts() == []


@pytest.mark.parametrize("status", [401, 404])
@responses.activate
def test_misconfigured_deployment_moves_on_without_retries_and_is_cooled(make_app, status):
    responses.post(f"{A}/chat/completions", status=status, json={"error": {"message": "no"}})
    responses.post(f"{B}/chat/completions", json=OK)
    app = make_app(cfg([entry("main", A, dep_id="bad", weight=1000),
                        entry("main", B, dep_id="good", weight=1)], num_retries=0))
    client = app.test_client()
    for _ in range(6):
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert hosts().count("a.test") == 1  # cooled down after its first answer
    rows = {d["id"]: d for d in router_of(app).status()["groups"][0]["deployments"]}
    assert not rows["bad"]["healthy"] and rows["good"]["healthy"]


@responses.activate
def test_client_errors_are_never_retried_nor_failures(make_app):
    responses.post(f"{A}/chat/completions", status=422, json={"error": {"message": "bad"}})
    app = make_app(cfg([entry("main", A, dep_id="a"), entry("main", A, model="n")],
                       num_retries=3, allowed_fails=0))
    resp = app.test_client().post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == 422 and len(responses.calls) == 1
    rows = router_of(app).status()["groups"][0]["deployments"]
    assert all(r["healthy"] and r["failures_this_minute"] == 0 for r in rows)


@responses.activate
def test_allowed_fails_then_cooldown_then_back(make_app):
    responses.post(f"{A}/chat/completions", status=500, json={"error": {"message": "x"}})
    responses.post(f"{B}/chat/completions", json=OK)
    app = make_app(cfg([entry("main", A, dep_id="a", weight=1000),
                        entry("main", B, dep_id="b", weight=1)],
                       num_retries=1, allowed_fails=2, cooldown_time=0.3))
    router = router_of(app)
    client = app.test_client()
    for _ in range(3):
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert hosts().count("a.test") == 3  # the third failure is more than allowed_fails
    assert router.status()["groups"][0]["deployments"][0]["cooldown_reason"] == "server"
    responses.calls.reset()
    for _ in range(5):
        client.post("/v1/chat/completions", json=CHAT)
    assert "a.test" not in hosts()
    import time
    time.sleep(0.35)
    responses.calls.reset()
    client.post("/v1/chat/completions", json=CHAT)
    assert hosts()[0] == "a.test"


@responses.activate
def test_disable_cooldowns(make_app):
    responses.post(f"{A}/chat/completions", status=429, json={"error": {"message": "x"}})
    responses.post(f"{B}/chat/completions", json=OK)
    app = make_app(cfg([entry("main", A, weight=1000), entry("main", B, weight=1)],
                       num_retries=1, disable_cooldowns=True))
    client = app.test_client()
    for _ in range(4):
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert hosts().count("a.test") == 4


@responses.activate
def test_usage_based_rpm_limit_gives_429_with_retry_after(make_app):
    responses.post(f"{A}/chat/completions", json=OK)
    app = make_app(cfg([entry("main", A, rpm=2)], routing_strategy="usage-based-routing-v2"))
    router_of(app).state.clock = router_of(app).state.local.clock = lambda: 1_800_000_010.0
    client = app.test_client()
    assert [client.post("/v1/chat/completions", json=CHAT).status_code
            for _ in range(3)] == [200, 200, 429]
    resp = client.post("/v1/chat/completions", json=CHAT)
    assert resp.headers["Retry-After"] == "50"
    assert resp.json["error"]["type"] == "rate_limit_error" and len(responses.calls) == 2


@responses.activate
def test_wildcards_and_aliases(make_app):
    responses.post(f"{A}/chat/completions", json=OK)
    config = cfg([entry("main", A), {"model_name": "openai/*", "litellm_params": {
        "model": "openai/*", "api_base": A, "api_key": "k"}}],
        model_group_alias={"public": "main", "secret": {"model": "main", "hidden": True}})
    client = make_app(config).test_client()
    for name in ("openai/gpt-9", "public", "secret"):
        assert client.post("/v1/chat/completions", json={**CHAT, "model": name}) \
            .status_code == 200
    sent = [c.request.body for c in responses.calls]
    assert b'"model":"gpt-9"' in sent[0] and b'"model":"m"' in sent[1]
    listed = {m["id"] for m in client.get("/v1/models").json["data"]}
    assert "public" in listed and "secret" not in listed
    assert client.post("/v1/chat/completions", json={**CHAT, "model": "nope"}).status_code == 404


def test_bad_router_settings_are_clear_config_errors():
    from app.config import ConfigError, load_config
    base = {"model_list": [{"model_name": "m", "litellm_params": {"model": "mock/x"}}]}
    for bad, words in [({"routing_strategy": "fastest"}, "routing_strategy: unknown routing"),
                       ({"retry_policy": {"Oops": 1}}, "retry_policy"),
                       ({"fallbacks": "x"}, "fallbacks: Must be a list"),
                       ({"cooldown_time": -1}, "cooldown_time")]:
        with pytest.raises(ConfigError, match=words):
            load_config({**base, "router_settings": bad})


@responses.activate
def test_num_retries_from_deployment_and_body(make_app):
    responses.post(f"{A}/chat/completions", status=500, json={"error": {"message": "x"}})
    app = make_app(cfg([entry("main", A, num_retries=2)], num_retries=0))
    router_of(app).sleep = lambda s: None
    client = app.test_client()
    assert client.post("/v1/chat/completions", json=CHAT).status_code == 500
    assert len(responses.calls) == 3  # the deployment's num_retries: 2
    responses.calls.reset()
    assert client.post("/v1/chat/completions", json={**CHAT, "num_retries": 0}) \
        .status_code == 500
    assert len(responses.calls) == 1  # the request's own wins


@responses.activate
def test_stream_releases_its_reservation_and_bad_timeout_header(make_app):
    sse = (b'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,'
           b'"delta":{"content":"hi"},"finish_reason":null}]}\n\ndata: [DONE]\n\n')
    responses.post(f"{A}/chat/completions", body=sse, content_type="text/event-stream")
    app = make_app(cfg([entry("main", A, dep_id="s")], routing_strategy="least-busy"))
    client = app.test_client()
    resp = client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert b"[DONE]" in resp.get_data()
    resp.close()
    row = router_of(app).status()["groups"][0]["deployments"][0]
    assert row["in_flight"] == 0 and row["requests_this_minute"] == 1
    assert row["latency_ms"] is not None  # time to first token
    bad = client.post("/v1/chat/completions", json=CHAT,
                      headers={"x-switchboard-timeout": "soon"})
    assert bad.status_code == 400 and bad.json["error"]["param"] == "x-switchboard-timeout"
