"""The access log: one JSON line per request on stdout, with metadata and without secrets."""
import uuid

import openai
import pytest
import requests

from .helpers import MASTER_KEY, UPSTREAM_KEY, wait_for

HELLO = [{"role": "user", "content": "hello log"}]
USER_KEY = "sk-user-secret-4242"
FIELDS = {"request_id", "route", "model", "provider", "deployment", "status", "latency_ms",
          "usage", "metadata"}


def records_for(gateway, request_id, timeout=5.0):
    """The access-log records of one request id (waits for the line to appear)."""
    def found():
        return [r for r in gateway.log_records() if r.get("request_id") == request_id]
    return wait_for(found, timeout)


def new_id():
    """A unique X-Request-Id."""
    return "e2e-" + uuid.uuid4().hex


def test_chat_request_is_logged_once_with_metadata(master_gateway, fake):
    request_id = new_id()
    metadata = {"trace_id": "trace-7", "generation_name": "log-test"}
    with master_gateway.client(api_key=MASTER_KEY) as client:
        response = client.chat.completions.create(
            model="gpt-3.5-turbo", messages=HELLO, extra_headers={"X-Request-Id": request_id},
            extra_body={"metadata": metadata, "api_key": USER_KEY})

    [record] = records_for(master_gateway, request_id)
    assert FIELDS <= set(record), record
    assert "/chat/completions" in record["route"]
    assert record["model"] == "gpt-3.5-turbo"
    assert record["provider"] == "openai"
    assert record["deployment"]
    assert record["status"] == 200
    assert isinstance(record["latency_ms"], (int, float)) and record["latency_ms"] >= 0
    assert record["usage"]["total_tokens"] == response.usage.total_tokens
    assert record["usage"]["prompt_tokens"] == response.usage.prompt_tokens
    assert record["metadata"] == metadata


def test_stream_request_is_logged_once(master_gateway, fake):
    request_id = new_id()
    with master_gateway.client(api_key=MASTER_KEY) as client:
        list(client.chat.completions.create(
            model="gpt-3.5-turbo", messages=HELLO, stream=True,
            stream_options={"include_usage": True}, extra_headers={"X-Request-Id": request_id}))

    [record] = records_for(master_gateway, request_id)
    assert record["status"] == 200
    assert record["usage"]["total_tokens"] > 0


def test_mock_request_is_logged(master_gateway):
    request_id = new_id()
    with master_gateway.client(api_key=MASTER_KEY) as client:
        client.embeddings.create(model="demo", input="x",
                                 extra_headers={"X-Request-Id": request_id})

    [record] = records_for(master_gateway, request_id)
    assert "/embeddings" in record["route"]
    assert record["provider"] == "mock"
    assert record["model"] == "demo"


@pytest.mark.parametrize("model_name,status", [("no-such-model", 404), ("gpt-3.5-turbo", 429)])
def test_failed_requests_are_logged_with_their_status(master_gateway, fake, model_name, status):
    fake.script({"status": 429, "json": {"error": {"message": "slow down", "type": "requests",
                                                   "param": None, "code": None}}})
    request_id = new_id()
    with master_gateway.client(api_key=MASTER_KEY) as client, pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model=model_name, messages=HELLO,
                                       extra_headers={"X-Request-Id": request_id})

    [record] = records_for(master_gateway, request_id)
    assert record["status"] == status


def test_unauthenticated_request_is_logged_without_the_key(master_gateway):
    request_id = new_id()
    response = requests.post(master_gateway.url + "/v1/chat/completions", timeout=30,
                             json={"model": "gpt-3.5-turbo", "messages": HELLO},
                             headers={"Authorization": "Bearer sk-wrong-secret-9999",
                                      "X-Request-Id": request_id})

    assert response.status_code == 401
    [record] = records_for(master_gateway, request_id)
    assert record["status"] == 401
    assert "sk-wrong-secret-9999" not in master_gateway.stdout()


def test_request_id_header_matches_log(master_gateway):
    with master_gateway.client(api_key=MASTER_KEY) as client:
        raw = client.chat.completions.with_raw_response.create(model="demo", messages=HELLO)

    generated = raw.headers["x-request-id"]
    assert len(records_for(master_gateway, generated)) == 1


def test_secrets_never_logged(master_gateway, fake):
    request_id = new_id()
    with master_gateway.client(api_key=MASTER_KEY) as client:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=HELLO,
                                       extra_headers={"X-Request-Id": request_id},
                                       extra_body={"api_key": USER_KEY, "extra_headers": {
                                           "X-Upstream-Token": "sk-header-secret-77"}})
    records_for(master_gateway, request_id)

    output = master_gateway.stdout() + master_gateway.stderr()
    for secret in (MASTER_KEY, UPSTREAM_KEY, USER_KEY, "sk-header-secret-77"):
        assert secret not in output
