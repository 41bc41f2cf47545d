"""The /v1/responses views in-process (mock provider): owners, input_items paging, errors."""
import json
from types import SimpleNamespace

import pytest
import responses as responses_lib
from flask import g, request

from app import create_app


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path))
    app = create_app({"model_list": [{"model_name": "demo",
                                      "litellm_params": {"model": "mock/demo"}}],
                      "general_settings": {"access_log": "off"}})

    @app.before_request
    def principal():  # stands in for the keys stage: X-Test-Key / X-Test-Team -> g.principal
        if request.headers.get("X-Test-Key"):
            g.principal = SimpleNamespace(token=request.headers["X-Test-Key"],
                                          team_id=request.headers.get("X-Test-Team"))

    return app.test_client()


def as_key(key, team=None):
    return {"X-Test-Key": key, **({"X-Test-Team": team} if team else {})}


def test_only_the_creator_or_its_team_reads(client):
    rid = client.post("/v1/responses", json={"model": "demo", "input": "mine"},
                      headers=as_key("k1", "t1")).json["id"]
    assert client.get(f"/v1/responses/{rid}", headers=as_key("k1", "t1")).status_code == 200
    assert client.get(f"/v1/responses/{rid}", headers=as_key("k2", "t1")).status_code == 200
    assert client.get(f"/v1/responses/{rid}", headers=as_key("k3", "t2")).status_code == 404
    assert client.get(f"/v1/responses/{rid}").status_code == 404
    follow = client.post("/v1/responses", json={"model": "demo", "input": "x",
                                                "previous_response_id": rid},
                         headers=as_key("k3"))
    assert follow.status_code == 404 and rid in follow.json["error"]["message"]
    assert client.delete(f"/responses/{rid}", headers=as_key("k3")).status_code == 404
    assert client.delete(f"/responses/{rid}", headers=as_key("k1")).json["deleted"] is True


def test_input_items_paging(client):
    items = [{"role": "user", "content": f"m{i}"} for i in range(5)]
    rid = client.post("/v1/responses", json={"model": "demo", "input": items}).json["id"]
    page = client.get(f"/v1/responses/{rid}/input_items?limit=2").json
    assert [i["content"][0]["text"] for i in page["data"]] == ["m4", "m3"]
    assert page["has_more"] is True and page["object"] == "list"
    rest = client.get(f"/v1/responses/{rid}/input_items?limit=10&after={page['last_id']}").json
    assert [i["content"][0]["text"] for i in rest["data"]] == ["m2", "m1", "m0"]
    assert rest["has_more"] is False and all(i["id"].startswith("msg_") for i in rest["data"])
    bad = client.get(f"/v1/responses/{rid}/input_items?limit=0")
    assert bad.status_code == 400 and bad.json["error"]["param"] == "limit"


def test_bad_bodies(client):
    r = client.post("/v1/responses", data=b"[1]", content_type="application/json")
    assert r.status_code == 400
    r = client.post("/v1/responses", json={"model": "demo", "input": "x", "top_p": 7})
    assert r.status_code == 400 and r.json["error"]["param"] == "top_p"
    r = client.post("/v1/responses", json={"model": "ghost", "input": "x"})
    assert r.status_code == 404 and "ghost" in r.json["error"]["message"]


def test_a_response_that_cannot_be_stored_is_a_503(client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from app.store import responses as stored

    def broken(*args):
        raise OperationalError("INSERT", {}, Exception("disk full"))

    monkeypatch.setattr(stored, "save", broken)
    r = client.post("/v1/responses", json={"model": "demo", "input": "x"})
    assert r.status_code == 503 and r.json["error"]["code"] == "store_unavailable"
    assert client.post("/v1/responses", json={"model": "demo", "input": "x",
                                              "store": False}).status_code == 200


AZURE_BASE = "https://res.openai.azure.com"


@pytest.fixture
def azure_client(tmp_path, monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path))
    app = create_app({"model_list": [{"model_name": "az", "litellm_params": {
        "model": "azure/gpt-4o-dep", "api_base": AZURE_BASE, "api_key": "az-key-123456",
        "api_version": "2025-04-01-preview"}}], "general_settings": {"access_log": "off"}})
    return app.test_client()


def upstream_response(**fields):
    return {"id": "resp_up1", "object": "response", "created_at": 1, "status": "completed",
            "model": "gpt-4o", "output": [{"type": "message", "id": "msg_1", "role": "assistant",
                                           "status": "completed", "content": [
                                               {"type": "output_text", "text": "hi",
                                                "annotations": []}]}],
            "usage": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
            "metadata": {}, "store": False, **fields}


@responses_lib.activate
def test_azure_gets_the_responses_api_natively(azure_client):
    url = f"{AZURE_BASE}/openai/responses?api-version=2025-04-01-preview"
    responses_lib.post(url, json=upstream_response())
    r = azure_client.post("/v1/responses", json={"model": "az", "input": "hello",
                                                 "metadata": {"k": "v"},
                                                 "tools": [{"type": "web_search"}]})
    assert r.status_code == 200 and r.json["id"] == "resp_up1"
    assert r.json["metadata"] == {"k": "v"} and r.json["store"] is True
    sent = json.loads(responses_lib.calls[0].request.body)
    assert sent["model"] == "gpt-4o-dep" and "metadata" not in sent and sent["store"] is False
    assert sent["tools"] == [{"type": "web_search"}]
    assert responses_lib.calls[0].request.headers["api-key"] == "az-key-123456"
    assert azure_client.get("/v1/responses/resp_up1").json["output"][0]["content"][0]["text"] \
        == "hi"


@responses_lib.activate
def test_azure_upstream_errors_keep_status_and_retry_after(azure_client):
    url = f"{AZURE_BASE}/openai/responses?api-version=2025-04-01-preview"
    responses_lib.post(url, status=429, headers={"retry-after": "9"},
                       json={"error": {"message": "slow down", "code": "429"}})
    r = azure_client.post("/v1/responses", json={"model": "az", "input": "hello"})
    assert r.status_code == 429 and r.headers["Retry-After"] == "9"
    assert r.json["error"]["type"] == "rate_limit_error"
