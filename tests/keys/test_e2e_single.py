"""End to end on one instance with the embedded SQLite store: the real server, the openai SDK."""
import sqlite3
import time

import openai
import pytest
import requests

from tests.e2e.helpers import (MASTER_KEY, UPSTREAM_KEY, clear_of_minute_edge, model,
                                start_gateway, wait_for)

MASTER = {"Authorization": f"Bearer {MASTER_KEY}"}
PRICES = {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002}
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gateway(fake_upstream, tmp_path_factory):
    work = tmp_path_factory.mktemp("keys-single")
    config = {"model_list": [model("gpt-3.5-turbo", "openai/gpt-3.5-turbo",
                                   api_base=fake_upstream.base, api_key=UPSTREAM_KEY, **PRICES)],
              "general_settings": {"master_key": MASTER_KEY, "access_log": "stdout"}}
    gw = start_gateway(work, config, env={"SWITCHBOARD_DATA_DIR": str(work / "data")})
    gw.db = work / "data" / "switchboard.db"
    yield gw
    gw.stop()


def generate(gw, **fields):
    r = requests.post(gw.url + "/key/generate", json=fields, headers=MASTER, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def chat(client, **extra):
    return client.chat.completions.with_raw_response.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hello there"}], **extra)


def logs(gw, **params):
    r = requests.get(gw.url + "/spend/logs", params=params, headers=MASTER, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_rpm_limit_headers_and_429(gateway, fake):
    key = generate(gateway, rpm_limit=3)["key"]
    clear_of_minute_edge()
    with gateway.client(api_key=key) as client:
        for k in range(1, 4):
            raw = chat(client)
            assert raw.headers["x-ratelimit-limit-requests"] == "3"
            assert raw.headers["x-ratelimit-remaining-requests"] == str(3 - k)
        with pytest.raises(openai.RateLimitError) as caught:
            chat(client)
    assert 1 <= int(caught.value.response.headers["Retry-After"]) <= 60
    assert len(fake.requests("/chat/completions")) == 3


def test_budget_and_spend_logs(gateway, fake):
    made = generate(gateway, max_budget=0.001)
    with gateway.client(api_key=made["key"]) as client:
        first = chat(client, extra_body={"metadata": {"app": "billing"}}).parse()
        with pytest.raises(openai.BadRequestError) as caught:
            chat(client)
    assert "budget" in (caught.value.body.get("type", "") + str(caught.value.body.get("code")))
    assert len(fake.requests("/chat/completions")) == 1
    rows = wait_for(lambda: [r for r in logs(gateway, api_key=made["key"]) if r["spend"] > 0])
    assert len(rows) == 1
    row = rows[0]
    assert row["request_id"] == first.id and row["api_key"] == made["token_id"]
    assert row["metadata"] == {"app": "billing"} and row["startTime"] <= row["endTime"]
    expected = first.usage.prompt_tokens * 0.001 + first.usage.completion_tokens * 0.002
    assert row["spend"] == pytest.approx(expected)
    assert logs(gateway, request_id=first.id)[0]["total_tokens"] == first.usage.total_tokens
    info = requests.get(gateway.url + "/key/info", params={"key": made["token_id"]},
                        headers=MASTER, timeout=5).json()
    assert info["info"]["spend"] == pytest.approx(expected)
    report = requests.get(gateway.url + "/global/spend/report", params={"group_by": "key"},
                          headers=MASTER, timeout=5).json()
    mine = [i for day in report for i in day["items"] if i["name"] == made["token_id"]]
    assert mine and mine[0]["total_spend"] == pytest.approx(expected)


def test_stream_is_charged_without_include_usage(gateway, fake):
    made = generate(gateway, max_parallel_requests=1)
    with gateway.client(api_key=made["key"]) as client:
        chunks = list(client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert all(c.usage is None for c in chunks)
    rows = wait_for(lambda: logs(gateway, api_key=made["token_id"]))
    assert len(rows) == 1 and rows[0]["spend"] > 0 and rows[0]["request_id"] == chunks[0].id
    # The slot was released when the stream ended: the next call is admitted.
    with gateway.client(api_key=made["key"]) as client:
        assert chat(client).http_response.status_code == 200


def test_master_key_and_failures_are_logged(gateway, fake):
    fake.script({"status": 500, "json": {"error": {"message": "boom"}}})
    with gateway.client(api_key=MASTER_KEY) as client:
        with pytest.raises(openai.InternalServerError):
            chat(client, extra_body={"metadata": {"run": "f1"}})
    rows = wait_for(lambda: [r for r in logs(gateway) if r["metadata"] == {"run": "f1"}])
    assert rows[0]["status"] == "failure" and rows[0]["spend"] == 0
    assert rows[0]["api_key"] is None and rows[0]["status_code"] >= 500


def test_refusals_before_the_provider(gateway, fake):
    made = generate(gateway, models=["other"])
    for key in ("sk-unknown-key-123", made["key"]):
        with gateway.client(api_key=key) as client:
            with pytest.raises(openai.AuthenticationError):
                chat(client)
    assert fake.requests("/chat/completions") == []


def test_raw_keys_are_nowhere(gateway, fake):
    made = generate(gateway)
    with gateway.client(api_key=made["key"]) as client:
        chat(client)
    requests.get(gateway.url + "/key/info", params={"key": made["key"]}, headers=MASTER,
                 timeout=5)
    requests.get(gateway.url + "/spend/logs", params={"api_key": made["key"]}, headers=MASTER,
                 timeout=5)
    wait_for(lambda: logs(gateway, api_key=made["token_id"]))
    time.sleep(0.2)
    sent = fake.requests("/chat/completions")[-1]
    assert made["key"] not in str(sent)
    with sqlite3.connect(gateway.db) as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            dump = str(db.execute(f'SELECT * FROM "{table}"').fetchall())
            assert made["key"] not in dump and MASTER_KEY not in dump, table
    assert made["key"] not in gateway.stdout() + gateway.stderr()
    assert MASTER_KEY not in gateway.stdout() + gateway.stderr()
