"""The request pipeline through the Flask test client, with `responses` faking the upstream."""
import json

import pytest
import responses

from conftest import UPSTREAM, fixture_bytes, fixture_json

CHAT = {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "write a poem"}]}


def error_of(resp):
    body = resp.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


@responses.activate
def test_chat_forwards_body_and_adds_response_ms(client):
    responses.post(f"{UPSTREAM}/chat/completions", body=fixture_bytes("openai/chat_completion.json"),
                   content_type="application/json")
    resp = client.post("/v1/chat/completions", json={**CHAT, "temperature": 0.5,
                                                     "vendor_param": {"x": 1}})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["choices"][0]["message"]["content"] == "Roses are red."
    assert isinstance(body["_response_ms"], float)
    sent = json.loads(responses.calls[0].request.body)
    assert sent == {**CHAT, "temperature": 0.5, "vendor_param": {"x": 1}}
    assert responses.calls[0].request.headers["Authorization"] == "Bearer sk-config-key"
    assert resp.headers["x-request-id"]


@responses.activate
def test_seed_paths_without_v1_prefix(client):
    responses.post(f"{UPSTREAM}/chat/completions", body=fixture_bytes("openai/chat_completion.json"),
                   content_type="application/json")
    responses.post(f"{UPSTREAM}/embeddings", body=fixture_bytes("openai/embeddings.json"),
                   content_type="application/json")
    assert client.post("/chat/completions", json=CHAT).status_code == 200
    resp = client.post("/embeddings", json={"input": ["hello"], "model": "text-embedding-ada-002"})
    assert resp.get_json()["data"][0]["embedding"][0] == 0.0023064255


@responses.activate
def test_metadata_tags_and_overrides_are_not_forwarded(make_app):
    app = make_app()
    responses.post(f"{UPSTREAM}/chat/completions", body=fixture_bytes("openai/chat_completion.json"),
                   content_type="application/json")
    body = {**CHAT, "metadata": {"generation_name": "g", "trace_id": "t"}, "tags": ["a"],
            "api_key": "sk-client-key", "timeout": 30, "num_retries": 0}
    assert app.test_client().post("/v1/chat/completions", json=body).status_code == 200
    sent = json.loads(responses.calls[0].request.body)
    assert sent == CHAT
    assert responses.calls[0].request.headers["Authorization"] == "Bearer sk-client-key"


def test_request_id_is_echoed(client):
    resp = client.post("/v1/chat/completions", json={**CHAT, "model": "demo"},
                       headers={"X-Request-Id": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"


@pytest.mark.parametrize("data,ctype,status,param", [
    (b"{not json", "application/json", 400, None),
    (b'{"model": NaN}', "application/json", 400, None),
    (b'{"model": "demo", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
     "application/json", 400, None),
    (b"[" * 5000 + b"]" * 5000, "application/json", 400, None),
    (b"[1, 2]", "application/json", 400, None),
    (b"model=demo", "text/plain", 415, None),
    (json.dumps({**CHAT, "temperature": 5}).encode(), "application/json", 400, "temperature"),
    (json.dumps({**CHAT, "messages": [{"role": "user", "content": 3}]}).encode(),
     "application/json", 400, "messages[0].content"),
])
def test_malformed_input_is_4xx(client, data, ctype, status, param):
    resp = client.post("/v1/chat/completions", data=data, content_type=ctype)
    assert resp.status_code == status
    err = error_of(resp)
    assert err["type"] == "invalid_request_error"
    if param:
        assert err["param"] == param


def test_body_too_large_is_413(make_app):
    client = make_app(max_request_size_mb=0.001).test_client()
    resp = client.post("/v1/chat/completions", json={**CHAT, "pad": "x" * 5000})
    assert resp.status_code == 413
    assert error_of(resp)["type"] == "invalid_request_error"


def test_unknown_model_route_and_method(client):
    resp = client.post("/v1/chat/completions", json={**CHAT, "model": "nope"})
    assert resp.status_code == 404 and error_of(resp)["code"] == "model_not_found"
    resp = client.get("/v1/nothing-here")
    assert resp.status_code == 404 and error_of(resp)["code"] == "not_found"
    resp = client.get("/v1/chat/completions")
    assert resp.status_code == 405 and "POST" in resp.headers["Allow"]
    error_of(resp)


def test_master_key(make_app):
    client = make_app(master_key="sk-master").test_client()
    demo = {**CHAT, "model": "demo"}
    resp = client.post("/v1/chat/completions", json=demo)
    assert resp.status_code == 401 and error_of(resp)["type"] == "authentication_error"
    resp = client.post("/v1/chat/completions", json=demo, headers={"Authorization": "Bearer no"})
    assert resp.status_code == 401
    assert "sk-master" not in resp.get_data(as_text=True)
    ok = client.post("/v1/chat/completions", json=demo,
                     headers={"Authorization": "Bearer sk-master"})
    assert ok.status_code == 200
    ok = client.post("/v1/chat/completions", json=demo, headers={"api-key": "sk-master"})
    assert ok.status_code == 200
    assert client.get("/health/readiness").status_code == 200
    assert client.get("/v1/models").status_code == 401


@pytest.mark.parametrize("status,fixture,expected_status,code", [
    (429, "openai/error_rate_limit.json", 429, "rate_limit_exceeded"),
    (400, "openai/error_context_length.json", 400, "context_length_exceeded"),
    (401, "openai/error_invalid_key.json", 401, "invalid_api_key"),
])
@responses.activate
def test_upstream_errors_are_mapped(client, status, fixture, expected_status, code):
    responses.post(f"{UPSTREAM}/chat/completions", json=fixture_json(fixture), status=status,
                   headers={"Retry-After": "20"} if status == 429 else {})
    resp = client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == expected_status
    assert error_of(resp)["code"] == code
    if status == 429:
        assert resp.headers["Retry-After"] == "20"
        assert error_of(resp)["type"] == "rate_limit_error"


@responses.activate
def test_upstream_error_text_never_leaks_the_key(client):
    responses.post(f"{UPSTREAM}/chat/completions", status=401,
                   json={"error": {"message": "bad key sk-client-secret-value-123456"}})
    resp = client.post("/v1/chat/completions", json={**CHAT, "api_key": "sk-client-secret-value-123456"})
    assert resp.status_code == 401
    assert "secret-value" not in resp.get_data(as_text=True)


@pytest.mark.parametrize("kwargs,status", [
    ({"status": 302, "headers": {"Location": "https://elsewhere.test/"}}, 502),
    ({"status": 200, "body": "<html>oops</html>", "content_type": "text/html"}, 502),
    ({"status": 503, "body": "busy"}, 503),
    ({"body": __import__("requests").exceptions.ConnectionError("refused")}, 502),
    ({"body": __import__("requests").exceptions.ReadTimeout("slow")}, 504),
])
@responses.activate
def test_upstream_failures(client, kwargs, status):
    responses.post(f"{UPSTREAM}/chat/completions", **kwargs)
    resp = client.post("/v1/chat/completions", json=CHAT)
    assert resp.status_code == status
    error_of(resp)


@responses.activate
def test_stream_passes_chunks_and_done(client):
    responses.post(f"{UPSTREAM}/chat/completions", body=fixture_bytes("openai/chat_stream.txt"),
                   content_type="text/event-stream")
    resp = client.post("/v1/chat/completions", json={**CHAT, "stream": True,
                                                     "stream_options": {"include_usage": True}})
    assert resp.status_code == 200
    assert resp.headers["X-Accel-Buffering"] == "no"
    assert resp.mimetype == "text/event-stream"
    events = [e for e in resp.get_data().split(b"\n\n") if e]
    assert events[-1] == b"data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks
                   if c["choices"]) == "Roses are red."
    assert chunks[-1]["usage"]["total_tokens"] == 15


@pytest.mark.parametrize("body,ctype", [
    ('data: {"id": "x", "choices": []}\n\ndata: {"id": "x"', "text/event-stream"),
    ('data: {"id": "x", "choices": []}\n\ndata: not-json\n\n', "text/event-stream"),
    ('{"id": "x"}', "application/json"),
])
@responses.activate
def test_broken_stream_ends_with_error_event(client, body, ctype):
    responses.post(f"{UPSTREAM}/chat/completions", body=body, content_type=ctype)
    resp = client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    events = [e for e in resp.get_data().split(b"\n\n") if e]
    assert b"[DONE]" not in events[-1]
    last = json.loads(events[-1][6:])
    assert last["error"]["type"] == "api_error"


def test_models_list_and_get(client):
    body = client.get("/v1/models").get_json()
    assert body["object"] == "list"
    assert {m["id"] for m in body["data"]} == {"gpt-3.5-turbo", "text-embedding-ada-002", "demo"}
    assert client.get("/v1/models/demo").get_json()["id"] == "demo"
    assert client.get("/models/nope").status_code == 404


def test_health(client):
    assert client.get("/health/liveliness").get_json() == {"status": "alive"}
    assert client.get("/health/readiness").get_json()["status"] == "ready"


def test_internal_bug_is_a_500_with_request_id_and_no_trace(client, monkeypatch, caplog):
    def broken(self, call):
        raise KeyError("secret internals")
    monkeypatch.setattr("app.providers.mock.MockProvider.complete", broken)
    resp = client.post("/v1/chat/completions", json={**CHAT, "model": "demo"},
                       headers={"X-Request-Id": "rid-42"})
    assert resp.status_code == 500
    err = error_of(resp)
    assert err["type"] == "api_error" and "rid-42" in err["message"]
    assert "secret internals" not in resp.get_data(as_text=True)
    assert "Traceback" not in resp.get_data(as_text=True)
    assert "rid-42" in caplog.text


def test_bug_mid_stream_ends_with_error_event(client, monkeypatch):
    def chunks(self, call):
        yield b'{"id": "x", "object": "chat.completion.chunk", "choices": []}'
        raise KeyError("boom")
    monkeypatch.setattr("app.providers.mock.MockProvider._chunks", chunks)
    resp = client.post("/v1/chat/completions", json={**CHAT, "model": "demo", "stream": True})
    events = [e for e in resp.get_data().split(b"\n\n") if e]
    assert json.loads(events[-1][6:])["error"]["code"] == "internal_error"


@responses.activate
def test_body_nested_deeper_than_the_encoder_allows_is_400(client):
    deep = "[" * 600 + "]" * 600
    body = ('{"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}], '
            '"tools": [{"type": "function", "function": {"name": "f", "parameters": {"a": '
            + deep + '}}}]}')
    resp = client.post("/v1/chat/completions", data=body, content_type="application/json")
    assert resp.status_code == 400 and "nested too deeply" in error_of(resp)["message"]
    assert len(responses.calls) == 0
