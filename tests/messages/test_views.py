"""The /v1/messages routes in-process: auth, errors in Anthropic's shape with the SDK's statuses,
the native body to an Anthropic deployment (checked with ``responses``), count_tokens."""
import json

import pytest
import responses

from app import create_app, errors
from app.messages.shape import render

BASE = "https://anthropic.test"
HELLO = [{"role": "user", "content": "hi"}]
MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
           "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
           "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 1}}


@pytest.fixture
def client():
    app = create_app({
        "model_list": [
            {"model_name": "claude", "litellm_params": {
                "model": "anthropic/claude-x", "api_base": BASE, "api_key": "sk-ant-test-123456",
                "anthropic_beta": "deployment-beta"}},
            {"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
        "litellm_settings": {"num_retries": 0},
        "general_settings": {"master_key": "sk-m", "access_log": "off",
                             "max_request_size_mb": 0.001}})
    return app.test_client()


def post(client, path="/v1/messages", body=None, key="sk-m", **headers):
    headers = {"x-api-key": key, **headers} if key else headers
    return client.post(path, json=body, headers=headers)


def anthropic_error(response, status, kind):
    assert response.status_code == status, response.data
    data = response.get_json()
    assert data["type"] == "error" and data["error"]["type"] == kind
    assert data["error"]["message"]
    return data


@pytest.mark.parametrize("path", ["/v1/messages", "/messages", "/v1/messages/count_tokens",
                                  "/messages/count_tokens"])
def test_auth_in_anthropic_shape(client, path):
    anthropic_error(post(client, path, {"model": "demo"}, key="wrong"), 401,
                    "authentication_error")
    anthropic_error(post(client, path, {"model": "demo"}, key=None), 401,
                    "authentication_error")
    ok = client.post(path + "?beta=true", headers={"Authorization": "Bearer sk-m"},
                     json={"model": "demo", "max_tokens": 5, "messages": HELLO})
    assert ok.status_code == 200


def test_bad_requests(client):
    bad_json = client.post("/v1/messages", data=b"{", headers={
        "x-api-key": "sk-m", "content-type": "application/json"})
    anthropic_error(bad_json, 400, "invalid_request_error")
    anthropic_error(post(client, body={"model": "demo", "messages": HELLO}), 400,
                    "invalid_request_error")
    anthropic_error(post(client, body={"model": "nope", "max_tokens": 5, "messages": HELLO}),
                    404, "not_found_error")
    anthropic_error(post(client, body={"model": "demo", "max_tokens": 5,
                                       "messages": [{"role": "user", "content": "x" * 2000}]}),
                    413, "request_too_large")
    anthropic_error(client.get("/v1/messages", headers={"x-api-key": "sk-m"}), 405,
                    "invalid_request_error")
    # other routes keep OpenAI's shape
    other = post(client, "/v1/chat/completions", {"model": "nope", "messages": HELLO})
    assert other.status_code == 404 and other.get_json()["error"]["code"] == "model_not_found"


@pytest.mark.parametrize("exc, status, kind", [
    (errors.RateLimitError("slow", retry_after=7), 429, "rate_limit_error"),
    (errors.ServiceUnavailableError("busy"), 529, "overloaded_error"),
    (errors.InternalServerError("boom"), 500, "api_error"),
    (errors.BadGatewayError("down"), 502, "api_error"),
    (errors.GatewayTimeoutError("slow"), 504, "timeout_error"),
    (errors.PermissionDeniedError("no"), 403, "permission_error"),
    (errors.UnprocessableEntityError("no"), 422, "invalid_request_error"),
])
def test_statuses_the_sdk_maps(client, exc, status, kind):
    with client.application.test_request_context("/v1/messages"):
        assert render(exc) == (status, {"type": "error", "error": {"type": kind,
                                                                   "message": exc.message}})
        response = errors.render(exc)
    assert response.status_code == status
    if exc.retry_after:
        assert response.headers["Retry-After"] == "7"


@responses.activate
def test_native_body_and_beta_headers(client):
    responses.post(BASE + "/v1/messages", json=MESSAGE)
    body = {"model": "claude", "max_tokens": 5, "messages": HELLO, "top_k": 3,
            "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
            "metadata": {"user_id": "u"}, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    response = post(client, body=body, **{"anthropic-beta": "client-beta"})

    assert response.status_code == 200 and response.get_json() == MESSAGE
    sent = responses.calls[0].request
    assert json.loads(sent.body) == {**body, "model": "claude-x"}
    assert sent.headers["anthropic-beta"] == "deployment-beta,client-beta"
    assert sent.headers["x-api-key"] == "sk-ant-test-123456"


@responses.activate
def test_native_upstream_error_keeps_its_type(client):
    responses.post(BASE + "/v1/messages", status=529, json={
        "type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    anthropic_error(post(client, body={"model": "claude", "max_tokens": 5, "messages": HELLO}),
                    529, "overloaded_error")


@responses.activate
def test_count_tokens(client):
    responses.post(BASE + "/v1/messages/count_tokens", json={"input_tokens": 42})
    native = post(client, "/v1/messages/count_tokens", {"model": "claude", "messages": HELLO,
                                                        "system": "s"})
    assert native.get_json() == {"input_tokens": 42}
    assert json.loads(responses.calls[0].request.body) == {
        "model": "claude-x", "messages": HELLO, "system": "s"}
    estimate = post(client, "/v1/messages/count_tokens", {"model": "demo", "messages": [
        {"role": "user", "content": "x" * 400}]})
    assert estimate.get_json() == {"input_tokens": 104}  # 400 chars / 4 + 4 for the message
    assert len(responses.calls) == 1


def test_cached_answer_is_translated():
    # A cache hit binds no deployment: the stored chat answer goes out as a message.
    app = create_app({"model_list": [{"model_name": "demo", "litellm_params": {
        "model": "mock/demo"}}], "litellm_settings": {"cache": True},
        "general_settings": {"master_key": "sk-m", "access_log": "off"}})
    body = {"model": "demo", "max_tokens": 5, "messages": HELLO}
    first, second = (post(app.test_client(), body=body) for _ in range(2))
    assert first.headers["x-switchboard-cache-hit"] == "false"
    assert second.status_code == 200, second.data
    assert second.headers["x-switchboard-cache-hit"] == "true"
    assert second.get_json()["content"] == first.get_json()["content"]
