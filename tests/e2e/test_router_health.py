"""/health, /router/status, stalled streams, and failures that are not the deployment's."""
import time

import pytest
import requests

from .helpers import MASTER_KEY, UPSTREAM_KEY, model, sse_events, start_gateway, wait_for

HELLO = [{"role": "user", "content": "hi"}]
AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}


@pytest.fixture(scope="module")
def gw(tmp_path_factory, fake_upstream):
    up = {"api_base": fake_upstream.base, "api_key": UPSTREAM_KEY}
    config = {"model_list": [
        {**model("solo", "openai/gpt-3.5-turbo", stream_timeout=0.5, **up),
         "model_info": {"id": "solo-1"}},
        {**model("broken", "openai/gpt-3.5-turbo", api_base=fake_upstream.base,
                 api_key="sk-bad"), "model_info": {"id": "broken-1"}}],
        "general_settings": {"master_key": MASTER_KEY, "access_log": "off"}}
    gateway = start_gateway(tmp_path_factory.mktemp("gw-health"), config)
    yield gateway
    gateway.stop()


def row(gateway, dep_id):
    groups = requests.get(gateway.url + "/router/status", headers=AUTH, timeout=5).json()
    return next(d for g in groups["groups"] for d in g["deployments"] if d["id"] == dep_id)


def test_health_needs_the_master_key_and_calls_nobody_without(gw, fake):
    assert requests.get(gw.url + "/health", timeout=5).status_code == 401
    assert requests.get(gw.url + "/router/status", timeout=5).status_code == 401
    assert fake.requests() == []
    for path in ("/health/liveliness", "/health/readiness"):
        assert requests.get(gw.url + path, timeout=5).status_code == 200


def test_health_shape_names_deployments_never_keys(gw, fake):
    body = requests.get(gw.url + "/health", headers=AUTH, timeout=15).json()
    assert body["healthy_count"] == 1 and body["unhealthy_count"] == 1
    assert body["healthy_endpoints"][0]["model_id"] == "solo-1"
    bad = body["unhealthy_endpoints"][0]
    assert bad["model_id"] == "broken-1" and bad["api_base"] == fake.base and bad["error"]
    assert "sk-bad" not in str(body) and UPSTREAM_KEY not in str(body)
    sent = fake.requests("/chat/completions")
    assert len(sent) == 2 and all(r["body"]["max_tokens"] == 1 for r in sent)
    one = requests.get(gw.url + "/health", params={"model": "solo"}, headers=AUTH,
                       timeout=15).json()
    assert one["healthy_count"] == 1 and one["unhealthy_count"] == 0


def test_stalled_stream_is_cut_after_stream_timeout(gw, fake):
    fake.script({"stream_delay_ms": 3000})
    t0 = time.monotonic()
    resp = requests.post(gw.url + "/v1/chat/completions", headers=AUTH, timeout=10,
                         json={"model": "solo", "messages": HELLO, "stream": True})
    events = sse_events(resp.text)
    assert time.monotonic() - t0 < 2.5
    assert '"error"' in events[-1] and "timed out" in events[-1]
    assert wait_for(lambda: row(gw, "solo-1")["failures_this_minute"] >= 1, 2)
    # the group's only deployment is never cooled down into an outage
    assert row(gw, "solo-1")["healthy"]


def test_client_deadline_and_hang_up_are_not_deployment_failures(gw, fake):
    before = row(gw, "solo-1")["failures_this_minute"]
    fake.script({"delay_ms": 1500}, {"delay_ms": 1500})
    resp = requests.post(gw.url + "/v1/chat/completions", headers=AUTH, timeout=10,
                         json={"model": "solo", "messages": HELLO, "timeout": 0.3})
    assert resp.status_code == 504
    headered = {**AUTH, "x-switchboard-timeout": "0.3"}
    with pytest.raises(requests.Timeout):  # this client gives up and hangs up first
        requests.post(gw.url + "/v1/chat/completions", headers=headered, timeout=0.2,
                      json={"model": "solo", "messages": HELLO})
    time.sleep(0.5)
    assert row(gw, "solo-1")["failures_this_minute"] == before
    assert wait_for(lambda: row(gw, "solo-1")["in_flight"] == 0, 3)
