"""Management API through the Flask app: validation, permissions, field names, no partial rows."""
import pytest

from app.store import keys as rows
from app.store import store_of
from tests.conftest import base_config

MASTER = {"Authorization": "Bearer sk-master"}


@pytest.fixture
def app(make_app, sqlite_url):
    return make_app(master_key="sk-master", database_url=sqlite_url)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.mark.parametrize("field,value", [
    ("max_budget", -1), ("max_budget", "10"), ("rpm_limit", 1.5), ("rpm_limit", True),
    ("tpm_limit", -3), ("budget_duration", "5 parsecs"), ("duration", 30), ("models", "demo"),
    ("metadata", [1]), ("blocked", "yes"), ("key", "not-sk"), ("unknown_field", 1)])
def test_bad_key_input_is_400_naming_the_field(client, app, field, value):
    r = client.post("/key/generate", json={field: value}, headers=MASTER)
    assert r.status_code == 400, r.json
    assert r.json["error"]["param"] == field
    assert rows.list_rows(store_of(app).engine, "key") == []


def test_user_new_with_a_bad_key_field_writes_nothing(client, app):
    r = client.post("/user/new", json={"user_id": "u1", "rpm_limit": "x"}, headers=MASTER)
    assert r.status_code == 400 and r.json["error"]["param"] == "rpm_limit"
    r = client.post("/user/new", json={"user_id": "u1", "team_id": "nope"}, headers=MASTER)
    assert r.status_code == 400 and r.json["error"]["param"] == "team_id"
    engine = store_of(app).engine
    assert rows.list_rows(engine, "user") == [] and rows.list_rows(engine, "key") == []


def test_not_json_and_missing_auth(client):
    assert client.post("/key/generate", json={}).status_code == 401
    assert client.get("/key/list", headers={"Authorization": "Bearer sk-nope"}).status_code == 401
    r = client.post("/key/generate", data="{", headers={**MASTER, "Content-Type":
                                                        "application/json"})
    assert r.status_code == 400


def test_virtual_key_is_refused_on_management_routes_but_sees_itself(client):
    made = client.post("/key/generate", json={"key_alias": "me"}, headers=MASTER).json
    other = client.post("/key/generate", json={"key_alias": "other"}, headers=MASTER).json
    mine = {"x-api-key": made["key"]}
    for method, path in (("post", "/key/generate"), ("get", "/key/list"),
                         ("post", "/team/new"), ("get", "/spend/logs"),
                         ("get", f"/key/info?key={other['token_id']}")):
        assert getattr(client, method)(path, headers=mine).status_code in (401, 403), path
    info = client.get("/key/info", headers=mine).json
    assert info["info"]["key_alias"] == "me" and info["key"] == made["token_id"]
    by_hash = client.get(f"/key/info?key={made['token_id']}", headers=mine).json
    assert by_hash == info


def test_key_lifecycle_and_field_names(client):
    made = client.post("/key/generate", json={
        "models": ["demo"], "max_budget": 5, "budget_duration": "30d", "rpm_limit": 7,
        "tpm_limit": 1000, "max_parallel_requests": 2, "duration": "1h", "key_alias": "a",
        "metadata": {"app": "x"}}, headers=MASTER).json
    assert made["key"].startswith("sk-") and len(made["token_id"]) == 64
    assert made["expires"] and made["rpm_limit"] == 7 and made["budget_duration"] == "30d"
    listed = client.get("/key/list", headers=MASTER).json
    assert listed["keys"] == [made["token_id"]]
    full = client.get("/key/list?return_full_object=true", headers=MASTER).json["keys"][0]
    assert made["key"] not in str(full)
    client.post("/key/block", json={"key": made["key"]}, headers=MASTER)
    info = client.get(f"/key/info?key={made['token_id']}", headers=MASTER).json
    assert info["info"]["blocked"] is True
    chat = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
    r = client.post("/v1/chat/completions", json=chat,
                    headers={"Authorization": "Bearer " + made["key"]})
    assert r.status_code == 401
    client.post("/key/unblock", json={"key": made["token_id"]}, headers=MASTER)
    r = client.post("/v1/chat/completions", json=chat, headers={"api-key": made["key"]})
    assert r.status_code == 200 and r.headers["x-ratelimit-limit-requests"] == "7"
    new = client.post("/key/regenerate", json={"key": made["key"]}, headers=MASTER).json
    assert client.post("/v1/chat/completions", json=chat,
                       headers={"api-key": made["key"]}).status_code == 401
    assert client.post("/v1/chat/completions", json=chat,
                       headers={"api-key": new["key"]}).status_code == 200
    gone = client.post("/key/delete", json={"keys": [new["key"]]}, headers=MASTER).json
    assert gone["deleted_keys"] == [new["token_id"]]
    assert client.post("/v1/chat/completions", json=chat,
                       headers={"api-key": new["key"]}).status_code == 401


def test_team_key_gets_exactly_the_team_models(make_app, sqlite_url):
    config = base_config(master_key="sk-master", database_url=sqlite_url)
    config["model_list"][0]["model_info"] = {"access_groups": ["cheap"]}
    client = make_app(config).test_client()
    client.post("/team/new", json={"team_id": "t1", "models": ["cheap", "demo"]},
                headers=MASTER)
    made = client.post("/key/generate", json={"team_id": "t1"}, headers=MASTER).json
    seen = client.get("/v1/models", headers={"api-key": made["key"]}).json["data"]
    assert sorted(m["id"] for m in seen) == ["demo", "gpt-3.5-turbo"]
    r = client.post("/v1/embeddings", json={"model": "text-embedding-ada-002", "input": "x"},
                    headers={"api-key": made["key"]})
    assert r.status_code == 401 and r.json["error"]["code"] == "key_model_access_denied"
    info = client.get("/team/info?team_id=t1", headers=MASTER).json
    assert info["team_info"]["spend"] == 0 and len(info["keys"]) == 1


def test_spend_rows_keep_prompts_only_when_asked(make_app, sqlite_url, tmp_path):
    from app.keys import keys_of
    from app.store.spend import logs
    for store_prompts in (False, True):
        url = f"sqlite:///{tmp_path / f'p{store_prompts}.db'}"
        app = make_app(master_key="sk-master", database_url=url,
                       store_prompts_in_spend_logs=store_prompts)
        r = app.test_client().post("/v1/chat/completions", headers=MASTER, json={
            "model": "demo", "messages": [{"role": "user", "content": "secret plans"}],
            "metadata": {"k": "v"}})
        assert r.status_code == 200
        keys_of(app).queue.drain()
        (row,) = logs(store_of(app).engine)
        assert row["metadata"] == {"k": "v"} and row["request_id"] == r.json["id"]
        assert (row["messages"] is not None) is store_prompts
        assert ("secret plans" in str(row["response"])) is store_prompts


def test_expired_key_is_refused_and_last_used_is_recorded(client, app):
    import time

    from app.keys import keys_of
    made = client.post("/key/generate", json={"duration": "1s"}, headers=MASTER).json
    chat = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
    assert client.post("/v1/chat/completions", json=chat,
                       headers={"api-key": made["key"]}).status_code == 200
    keys_of(app).queue.drain()
    info = client.get(f"/key/info?key={made['token_id']}", headers=MASTER).json["info"]
    assert info["last_used"] is not None
    time.sleep(max(0.0, 1.05 - (time.time() - __import__("datetime").datetime.fromisoformat(
        made["created_at"]).timestamp())))
    r = client.post("/v1/chat/completions", json=chat, headers={"api-key": made["key"]})
    assert r.status_code == 401 and r.json["error"]["code"] == "key_expired"
