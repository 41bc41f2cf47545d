"""The JSON-lines access log: one line per request, metadata kept, secrets never."""
import json

from app.accesslog import redact

CHAT = {"model": "demo", "messages": [{"role": "user", "content": "hello"}]}


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_line_per_request_with_metadata(make_app, tmp_path):
    log = tmp_path / "access.jsonl"
    client = make_app(access_log=str(log), master_key="sk-master-secret").test_client()
    auth = {"Authorization": "Bearer sk-master-secret"}
    meta = {"generation_name": "g1", "trace_id": "t1", "api_key": "sk-in-metadata"}
    client.post("/v1/chat/completions", json={**CHAT, "metadata": meta, "api_key": "sk-user-key"},
                headers={**auth, "X-Request-Id": "r1"})
    client.post("/v1/chat/completions", json={**CHAT, "model": "missing"}, headers=auth)
    client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=auth).get_data()
    first, second, third = lines(log)
    assert first["request_id"] == "r1" and first["status"] == 200
    assert first["metadata"] == {"generation_name": "g1", "trace_id": "t1",
                                 "api_key": "[redacted]"}
    assert first["provider"] == "mock" and first["usage"]["total_tokens"] == 2
    assert first["model"] == "demo" and first["route"] == "/v1/chat/completions"
    assert second["status"] == 404 and second["error"]["code"] == "model_not_found"
    assert third["stream"] is True and third["status"] == 200 and third["usage"]
    text = log.read_text()
    for secret in ("sk-master-secret", "sk-in-metadata", "sk-user-key"):
        assert secret not in text


def test_redact_nested():
    assert redact({"a": {"Authorization": "x", "list": [{"token": 1, "ok": 2}]}}) == \
        {"a": {"Authorization": "[redacted]", "list": [{"token": "[redacted]", "ok": 2}]}}
