"""Response caching end to end: the real server, the openai SDK, the fake upstream, real Redis.

Gateways live for the module; every test asks its own questions (a uuid in the prompt), so
entries left by one test never answer another.
"""
import base64
import json
import socket
import struct
import threading
import time
import uuid

import openai
import pytest
import redis
import requests

from .helpers import UPSTREAM_KEY, chat_chunk, metric, model, start_gateway, wait_for

EMB = "text-embedding-ada-002"


def cache_config(fake_base, jsonl=None, **params):
    up = {"api_base": fake_base, "api_key": UPSTREAM_KEY}
    config = {
        "model_list": [model("gpt-3.5-turbo", "openai/gpt-3.5-turbo", input_cost_per_token=1e-6,
                             output_cost_per_token=2e-6, **up),
                       model(EMB, f"openai/{EMB}", **up)],
        "litellm_settings": {"num_retries": 0, "cache": True, "cache_params": params},
        "general_settings": {},
    }
    if jsonl:
        config["litellm_settings"]["success_callback"] = ["jsonl"]
        config["general_settings"].update(jsonl={"path": str(jsonl)},
                                          callback_queue={"flush_interval": 0.05})
    return config


@pytest.fixture(scope="module")
def local_gw(tmp_path_factory, fake_upstream):
    workdir = tmp_path_factory.mktemp("gw-cache-local")
    gw = start_gateway(workdir, cache_config(fake_upstream.base, workdir / "events.jsonl"))
    gw.jsonl = workdir / "events.jsonl"
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def redis_pair(tmp_path_factory, fake_upstream, redis_url):
    """Two instances sharing one Redis db and namespace (flushed: other suites share the db)."""
    redis.Redis.from_url(redis_url).flushdb()
    config = cache_config(fake_upstream.base, type="redis", url=redis_url, namespace="e2e")
    gws = [start_gateway(tmp_path_factory.mktemp(f"gw-cache-redis-{i}"), config)
           for i in range(2)]
    yield gws
    for gw in gws:
        gw.stop()


def ask(gw, content, **kwargs):
    """(headers, completion) of one chat request through the SDK."""
    with gw.client() as client:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": content}], **kwargs)
    return raw.headers, raw.parse()


def hit(headers):
    return headers["x-switchboard-cache-hit"] == "true"


def unique(text="question"):
    return f"{text} {uuid.uuid4().hex}"


def chat_calls(fake):
    return fake.requests("/chat/completions")


def test_hit_is_the_stored_answer_free_logged_and_counted(local_gw, fake):
    q = unique()
    h1, first = ask(local_gw, q, temperature=0.3)
    h2, second = ask(local_gw, q, temperature=0.3, extra_body={"metadata": {"run": 2}})
    assert not hit(h1) and hit(h2)
    assert len(chat_calls(fake)) == 1
    assert (second.id, second.model, second.choices) == (first.id, first.model, first.choices)
    assert float(h1["x-switchboard-response-cost"]) > 0
    assert h2["x-switchboard-response-cost"] == "0"
    assert h1["x-switchboard-cache-key"] == h2["x-litellm-cache-key"]
    records = wait_for(lambda: [r for r in local_gw.log_records() if r.get("cache_hit")])
    assert records and records[-1]["status"] == 200
    events = wait_for(lambda: [e for e in map(json.loads, local_gw.jsonl.read_text()
                                              .splitlines()) if e["cache_hit"]]
                      if local_gw.jsonl.exists() else [])
    assert events and events[-1]["cost"] == 0
    text = requests.get(local_gw.url + "/metrics", timeout=5).text
    assert metric(text, "switchboard_cache_hits_total", call_type="chat") >= 1
    assert metric(text, "switchboard_cache_misses_total", call_type="chat") >= 1


def test_each_control(redis_pair, fake):
    gw = redis_pair[0]
    q = unique()
    assert not hit(ask(gw, q, extra_body={"cache": {"no-store": True}})[0])
    assert not hit(ask(gw, q)[0])  # the no-store answer was not kept
    assert hit(ask(gw, q)[0])
    assert not hit(ask(gw, q, extra_body={"cache": {"no-cache": True}})[0])
    assert not hit(ask(gw, q, extra_headers={"Cache-Control": "no-cache"})[0])
    time.sleep(0.3)
    assert not hit(ask(gw, q, extra_body={"cache": {"s-maxage": 0.2, "no-store": True}})[0])
    assert hit(ask(gw, q, extra_body={"cache": {"s-maxage": 60}})[0])
    assert len(chat_calls(fake)) == 5
    sent = chat_calls(fake)[0]["body"]
    assert "cache" not in sent and "metadata" not in sent


def test_ttl_expiry(redis_pair, local_gw, fake):
    for gw in (redis_pair[0], local_gw):
        q = unique()
        ask(gw, q, extra_body={"cache": {"ttl": 0.5}})
        assert hit(ask(gw, q)[0])
        time.sleep(0.6)
        assert not hit(ask(gw, q)[0])


def test_two_instances_share_redis_at_once(redis_pair, fake):
    a, b = redis_pair
    for _ in range(3):
        q = unique()
        h1, first = ask(a, q)
        h2, second = ask(b, q)  # right after the answer: the write is already visible
        assert not hit(h1) and hit(h2) and second.id == first.id


def test_namespaces_are_isolated_and_entries_expire_in_redis(redis_pair, redis_url, fake):
    a, b = redis_pair
    q = unique()
    headers, _ = ask(a, q)
    assert not hit(ask(b, q, extra_body={"cache": {"namespace": "other"}})[0])
    assert hit(ask(b, q, extra_body={"cache": {"namespace": "other"}})[0])
    assert hit(ask(b, q)[0])
    r = redis.Redis.from_url(redis_url)
    key = headers["x-switchboard-cache-key"]
    assert 0 < r.pttl(f"e2e:{key}") <= 600_000
    assert r.exists(f"other:{key}")
    assert all(k.startswith((b"e2e:", b"other:")) for k in r.scan_iter(count=1000)
               if not k.startswith(b"switchboard-tests:"))


def stream_text(chunks):
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_stream_is_stored_and_replayed_to_the_sdk(redis_pair, fake):
    a, b = redis_pair
    q = unique("tell me a long story about")
    with a.client() as client:
        first = list(client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": q}], stream=True))
    with b.client() as client:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": q}], stream=True,
            stream_options={"include_usage": True})
        replayed = list(raw.parse())
    assert hit(raw.headers)
    assert stream_text(replayed) == stream_text(first) == f"echo: {q}"
    assert replayed[0].choices[0].delta.role == "assistant"
    assert replayed[-2].choices[0].finish_reason == "stop"
    assert replayed[-1].choices == [] and replayed[-1].usage.total_tokens > 0
    headers, plain = ask(a, q)
    assert hit(headers) and plain.choices[0].message.content == f"echo: {q}"
    assert len(chat_calls(fake)) == 1


def test_broken_streams_and_errors_are_not_stored(redis_pair, fake):
    gw = redis_pair[0]
    q = unique()
    fake.script({"stream_events": [chat_chunk({"role": "assistant", "content": ""}),
                                   chat_chunk({"content": "partial "})], "abort": True})
    with gw.client() as client, pytest.raises(openai.APIError):
        list(client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": q}], stream=True))
    fake.script({"status": 500, "json": {"error": {"message": "boom", "type": "server_error"}}})
    with pytest.raises(openai.InternalServerError):
        ask(gw, q)
    assert not hit(ask(gw, q)[0])
    assert hit(ask(gw, q)[0])
    assert len(chat_calls(fake)) == 3


def vectors_of(response):
    return [list(d.embedding) for d in response.data]


def test_embeddings_cached_per_item(redis_pair, fake):
    a, b = redis_pair
    x, y, z = unique("x"), unique("y"), unique("z")
    with a.client() as client:  # the SDK asks for base64 and decodes it
        first = client.embeddings.create(model=EMB, input=[x, y])
    with b.client() as client:
        raw = client.embeddings.with_raw_response.create(model=EMB, input=[z, x, y])
        mixed = raw.parse()
        full = client.embeddings.with_raw_response.create(model=EMB, input=[y, z])
    assert not hit(raw.headers) and hit(full.headers)
    sent = [r["body"]["input"] for r in fake.requests("/embeddings")]
    assert sent == [[x, y], [z]]
    assert vectors_of(mixed)[1:] == vectors_of(first)
    assert vectors_of(full.parse()) == [vectors_of(first)[1], vectors_of(mixed)[0]]
    # floats on the wire, the same numbers the base64 answers carried
    body = {"model": EMB, "input": [x, z], "encoding_format": "float"}
    floats = requests.post(a.url + "/v1/embeddings", json=body, timeout=10).json()
    assert [d["embedding"] for d in floats["data"]] == [vectors_of(first)[0],
                                                        vectors_of(mixed)[0]]
    body["encoding_format"] = "base64"
    again = requests.post(a.url + "/v1/embeddings", json=body, timeout=10)
    assert again.headers["x-switchboard-cache-hit"] == "true"
    vector = list(struct.unpack("<8f", base64.b64decode(again.json()["data"][1]["embedding"])))
    assert vector == vectors_of(mixed)[0]


class BlackHole:
    """A TCP server that accepts connections and never answers (a hung Redis)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.mark.parametrize("kind", ["refused", "hung"])
def test_redis_unreachable_keeps_serving(tmp_path, fake_upstream, fake, closed_port, kind):
    hole = BlackHole() if kind == "hung" else None
    port = hole.port if hole else closed_port
    config = cache_config(fake_upstream.base, type="redis", host="127.0.0.1", port=port,
                          socket_timeout=0.05)
    gw = start_gateway(tmp_path / "gw", config)
    try:
        q = unique()
        took = []
        for _ in range(5):
            t0 = time.monotonic()
            headers, answer = ask(gw, q)
            took.append(time.monotonic() - t0)
            assert not hit(headers) and answer.choices[0].message.content == f"echo: {q}"
        assert max(took) < 1.0, took
        assert len(chat_calls(fake)) == 5
        text = requests.get(gw.url + "/metrics", timeout=5).text
        assert metric(text, "switchboard_cache_errors_total") >= 5
        assert "cache redis unreachable" in gw.stderr()
    finally:
        gw.stop()
        if hole:
            hole.close()
