"""The state features working together through the real server: virtual keys on the new front
doors (/v1/messages, /v1/responses), per-team cache scope, cache hits in the spend log, stored
responses readable only by their owner. Each feature has its own suite; this one checks seams."""
import anthropic
import openai
import pytest
import requests

from tests.e2e.helpers import (MASTER_KEY, UPSTREAM_KEY, clear_of_minute_edge, model,
                                start_gateway, wait_for)

MASTER = {"Authorization": f"Bearer {MASTER_KEY}"}
PRICES = {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002}


@pytest.fixture(scope="module")
def gateway(fake_upstream, tmp_path_factory, redis_url):
    import redis
    redis.Redis.from_url(redis_url).flushdb()
    work = tmp_path_factory.mktemp("together")
    config = {
        "model_list": [model("gpt-3.5-turbo", "openai/gpt-3.5-turbo",
                             api_base=fake_upstream.base, api_key=UPSTREAM_KEY, **PRICES)],
        "router_settings": {"redis_url": redis_url},
        "litellm_settings": {"cache": True,
                             "cache_params": {"type": "redis", "url": redis_url,
                                              "namespace": "together"}},
        "general_settings": {"master_key": MASTER_KEY, "access_log": "stdout"},
    }
    gw = start_gateway(work, config, env={"SWITCHBOARD_DATA_DIR": str(work / "data")})
    yield gw
    gw.stop()


def post(gw, path, **body):
    r = requests.post(gw.url + path, json=body, headers=MASTER, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def spend_rows(gw, **params):
    r = requests.get(gw.url + "/spend/logs", params=params, headers=MASTER, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_virtual_key_on_messages_is_limited_and_charged(gateway, fake):
    made = post(gateway, "/key/generate", rpm_limit=2, key_alias="claude-code")
    clear_of_minute_edge()
    client = anthropic.Anthropic(api_key=made["key"], base_url=gateway.url, max_retries=0)
    for n in range(2):
        msg = client.messages.create(model="gpt-3.5-turbo", max_tokens=32,
                                     messages=[{"role": "user", "content": f"hi {n}"}])
        assert msg.id.startswith("msg_") and msg.content[0].text
    with pytest.raises(anthropic.RateLimitError) as caught:  # Anthropic's shape on this route
        client.messages.create(model="gpt-3.5-turbo", max_tokens=32,
                               messages=[{"role": "user", "content": "one too many"}])
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert len(fake.requests("/chat/completions")) == 2
    rows = wait_for(lambda: [r for r in spend_rows(gateway, api_key=made["key"])
                             if r["spend"] > 0] or None)
    assert len(rows) == 2 and {r["key_alias"] for r in rows} == {"claude-code"}
    wrong = anthropic.Anthropic(api_key="sk-not-a-key", base_url=gateway.url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        wrong.messages.create(model="gpt-3.5-turbo", max_tokens=8,
                              messages=[{"role": "user", "content": "x"}])
    assert len(fake.requests("/chat/completions")) == 2


def test_stored_response_belongs_to_its_key(gateway, fake):
    owner = post(gateway, "/key/generate", team_id=None, key_alias="resp-owner")["key"]
    other = post(gateway, "/key/generate", key_alias="resp-other")["key"]
    with openai.OpenAI(api_key=owner, base_url=gateway.url + "/v1", max_retries=0) as client:
        first = client.responses.create(model="gpt-3.5-turbo", input="remember 42")
        again = client.responses.retrieve(first.id)
        assert again.id == first.id and again.output_text == first.output_text
        second = client.responses.create(model="gpt-3.5-turbo", input="what number?",
                                         previous_response_id=first.id)
        assert second.status == "completed"
    sent = fake.requests("/chat/completions")[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    with openai.OpenAI(api_key=other, base_url=gateway.url + "/v1", max_retries=0) as client:
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(first.id)
        with pytest.raises(openai.NotFoundError):
            client.responses.create(model="gpt-3.5-turbo", input="steal",
                                    previous_response_id=first.id)


def test_cache_is_scoped_per_team_and_hits_are_logged_free(gateway, fake):
    for team in ("team-a", "team-b"):
        post(gateway, "/team/new", team_id=team)
    a1 = post(gateway, "/key/generate", team_id="team-a")["key"]
    a2 = post(gateway, "/key/generate", team_id="team-a")["key"]
    b1 = post(gateway, "/key/generate", team_id="team-b")["key"]
    question = [{"role": "user", "content": "cache me per team"}]

    def ask(key):
        with openai.OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0) as c:
            raw = c.chat.completions.with_raw_response.create(model="gpt-3.5-turbo",
                                                              messages=question)
        return raw.headers["x-switchboard-cache-hit"], raw.parse()

    hit, first = ask(a1)
    assert hit == "false"
    hit, second = ask(a2)  # same team: served from the cache, same completion
    assert hit == "true" and second.id == first.id
    hit, third = ask(b1)  # another team never reads team-a's answer
    assert hit == "false" and third.id != first.id
    assert len(fake.requests("/chat/completions")) == 2
    rows = wait_for(lambda: spend_rows(gateway, api_key=a2) or None)
    assert len(rows) == 1 and rows[0]["spend"] == 0
    assert rows[0].get("cache_hit") in (True, "True", "true", 1)
