"""Two instances sharing PostgreSQL and Redis: limits, budgets and key changes are exact."""
import concurrent.futures
import signal
import threading
import time

import pytest
import requests

from tests.e2e.helpers import (MASTER_KEY, UPSTREAM_KEY, clear_of_minute_edge, model,
                                start_gateway, wait_for)

MASTER = {"Authorization": f"Bearer {MASTER_KEY}"}
PRICES = {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002}
pytestmark = pytest.mark.e2e


def _config(fake, pg_url, redis_url):
    return {"model_list": [model("gpt-3.5-turbo", "openai/gpt-3.5-turbo", api_base=fake.base,
                                 api_key=UPSTREAM_KEY, **PRICES)],
            "router_settings": {"redis_url": redis_url},
            "general_settings": {"master_key": MASTER_KEY, "database_url": pg_url,
                                 "access_log": "stdout"}}


@pytest.fixture(scope="module")
def pair(fake_upstream, pg_url, redis_url, tmp_path_factory):
    import redis
    redis.Redis.from_url(redis_url).flushdb()
    config = _config(fake_upstream, pg_url, redis_url)
    work = tmp_path_factory.mktemp("keys-shared")
    started = []
    # Both start at once against the empty database (the migration lock).
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for gw in pool.map(lambda n: start_gateway(work / n, config, env={
                "SWITCHBOARD_DATA_DIR": str(work / n / "data")}), ("a", "b")):
            started.append(gw)
    yield started
    for gw in started:
        gw.stop()


def generate(gw, **fields):
    r = requests.post(gw.url + "/key/generate", json=fields, headers=MASTER, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def post_chat(gw, key):
    return requests.post(gw.url + "/v1/chat/completions", headers={"Authorization":
                         f"Bearer {key}"}, json={"model": "gpt-3.5-turbo", "messages": [
                             {"role": "user", "content": "hello there"}]}, timeout=30)


def test_rpm_limit_is_exact_across_instances(pair, fake):
    key = generate(pair[0], rpm_limit=10)["key"]
    clear_of_minute_edge()
    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        codes = list(pool.map(lambda i: post_chat(pair[i % 2], key).status_code, range(30)))
    assert codes.count(200) == 10 and codes.count(429) == 20, codes
    assert len(fake.requests("/chat/completions")) == 10


def test_budget_crossed_on_one_instance_refuses_on_the_other(pair, fake):
    made = generate(pair[0], max_budget=0.001)
    assert post_chat(pair[0], made["key"]).status_code == 200
    refused = post_chat(pair[1], made["key"])
    assert refused.status_code == 400 and "budget" in refused.json()["error"]["type"]
    info = requests.get(pair[1].url + "/key/info", params={"key": made["token_id"]},
                        headers=MASTER, timeout=5).json()["info"]
    assert info["spend"] > 0.001


def test_team_and_user_budgets_count_every_key(pair, fake):
    requests.post(pair[0].url + "/team/new", json={"team_id": "t-shared", "max_budget": 0.001},
                  headers=MASTER, timeout=5).raise_for_status()
    one = generate(pair[0], team_id="t-shared")["key"]
    two = generate(pair[1], team_id="t-shared")["key"]
    assert post_chat(pair[0], one).status_code == 200
    assert post_chat(pair[1], two).status_code == 400
    user = requests.post(pair[1].url + "/user/new", json={"user_id": "u-shared",
                         "max_budget": 0.001}, headers=MASTER, timeout=5).json()
    assert post_chat(pair[0], user["key"]).status_code == 200
    assert post_chat(pair[1], user["key"]).status_code == 400
    team = requests.get(pair[1].url + "/team/info", params={"team_id": "t-shared"},
                        headers=MASTER, timeout=5).json()
    assert team["team_info"]["spend"] > 0
    got = requests.get(pair[0].url + "/user/info", params={"user_id": "u-shared"},
                       headers=MASTER, timeout=5).json()
    assert got["user_info"]["spend"] > 0


def test_block_update_delete_apply_everywhere_within_a_second(pair, fake):
    made = generate(pair[0])
    key = made["key"]
    assert post_chat(pair[1], key).status_code == 200  # cached on b now
    for action, payload, expect in (
            ("/key/block", {"key": key}, 401), ("/key/unblock", {"key": key}, 200),
            ("/key/update", {"key": key, "models": ["other"]}, 401),
            ("/key/update", {"key": key, "models": []}, 200),
            ("/key/delete", {"keys": [key]}, 401)):
        t0 = time.monotonic()
        requests.post(pair[0].url + action, json=payload, headers=MASTER,
                      timeout=5).raise_for_status()
        assert post_chat(pair[0], key).status_code == expect, action  # at once here
        assert wait_for(lambda: post_chat(pair[1], key).status_code == expect, timeout=1.0), \
            action
        assert time.monotonic() - t0 < 1.5


def test_spend_rows_sum_to_key_spend_and_no_secret_in_redis_or_db(pair, fake, pg_url, redis_url):
    made = generate(pair[0])
    for gw in pair * 2:
        assert post_chat(gw, made["key"]).status_code == 200

    def rows():
        r = requests.get(pair[1].url + "/spend/logs", params={"api_key": made["key"]},
                         headers=MASTER, timeout=5).json()
        return r if len(r) == 4 else None
    found = wait_for(rows)
    assert found and len({r["request_id"] for r in found}) == 4
    info = requests.get(pair[0].url + "/key/info", params={"key": made["key"]},
                        headers=MASTER, timeout=5).json()["info"]
    assert info["spend"] == pytest.approx(sum(r["spend"] for r in found))
    import psycopg
    import redis
    client = redis.Redis.from_url(redis_url)
    for name in client.scan_iter():
        value = client.dump(name) or b""
        assert made["key"].encode() not in name + value
        assert MASTER_KEY.encode() not in name + value
    with psycopg.connect(pg_url) as conn:
        for table in ("keys", "teams", "users", "spend_logs"):
            dump = str(conn.execute(f"SELECT * FROM {table}").fetchall())
            assert made["key"] not in dump and MASTER_KEY not in dump


def test_slow_database_queries_do_not_block_requests(pair, fake, pg_url):
    """psycopg 3 under gevent: a management call waiting on a locked table (PostgreSQL) does
    not stop the same worker from serving chat."""
    import psycopg
    made = generate(pair[0])
    with psycopg.connect(pg_url) as conn:
        conn.execute("LOCK TABLE keys IN ACCESS EXCLUSIVE MODE")
        waiting = []
        thread = threading.Thread(target=lambda: waiting.append(requests.get(
            pair[0].url + "/key/info", params={"key": made["token_id"]}, headers=MASTER,
            timeout=30)))
        thread.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        with pair[0].client(api_key=MASTER_KEY) as client:
            for _ in range(3):
                client.chat.completions.create(model="gpt-3.5-turbo",
                                               messages=[{"role": "user", "content": "x"}])
        assert time.monotonic() - t0 < 1.0
        assert not waiting  # still waiting on the lock
        conn.rollback()
    thread.join(10)
    assert waiting and waiting[0].status_code == 200


def test_sigterm_during_a_call_finishes_charges_and_writes(pair, fake):
    made = generate(pair[1])
    fake.script({"delay_ms": 1000})
    result = []
    thread = threading.Thread(target=lambda: result.append(post_chat(pair[1], made["key"])))
    thread.start()
    assert wait_for(lambda: fake.requests("/chat/completions"), timeout=5)
    pair[1].proc.send_signal(signal.SIGTERM)
    thread.join(30)
    assert result and result[0].status_code == 200
    assert pair[1].proc.wait(30) is not None
    rows = wait_for(lambda: requests.get(pair[0].url + "/spend/logs", params={
        "api_key": made["token_id"]}, headers=MASTER, timeout=5).json())
    assert len(rows) == 1 and rows[0]["spend"] > 0
