"""The cache stage in the pipeline, through the Flask test client (upstream faked by responses)."""
import base64
import json
import struct

import pytest
import responses
from flask import g

from tests.conftest import UPSTREAM, base_config, fixture_bytes, fixture_json

CHAT = {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "write a poem"}]}
EMB = "text-embedding-ada-002"


@pytest.fixture
def cached(make_app):
    def make(**params):
        config = base_config()
        config["litellm_settings"].update(cache=True, cache_params=params)
        return make_app(config).test_client()
    return make


def chat_upstream(body=None):
    responses.post(f"{UPSTREAM}/chat/completions",
                   body=body or fixture_bytes("openai/chat_completion.json"),
                   content_type="application/json")


def upstream_calls(path="/chat/completions"):
    return [c for c in responses.calls if c.request.url.endswith(path)]


def post(client, body=CHAT, headers=None, path="/v1/chat/completions"):
    return client.post(path, json=body, headers=headers)


@responses.activate
def test_second_identical_request_is_a_hit_without_provider_call(cached):
    chat_upstream()
    client = cached()
    first = post(client)
    second = post(client, dict(reversed(list(CHAT.items())), metadata={"x": 1}))
    assert first.headers["x-switchboard-cache-hit"] == "false"
    assert second.headers["x-switchboard-cache-hit"] == "true"
    assert second.headers["x-switchboard-response-cost"] == "0"
    key = first.headers["x-switchboard-cache-key"]
    assert second.headers["x-switchboard-cache-key"] == second.headers["x-litellm-cache-key"] \
        == key
    assert len(upstream_calls()) == 1
    a, b = first.get_json(), second.get_json()
    assert (a["id"], a["model"], a["choices"]) == (b["id"], b["model"], b["choices"])
    assert "cache" not in json.loads(responses.calls[0].request.body)


@responses.activate
def test_cache_object_is_never_sent_upstream_even_with_caching_off(make_app):
    chat_upstream()
    resp = post(make_app().test_client(), dict(CHAT, cache={"no-cache": True}))
    assert resp.status_code == 200 and "x-switchboard-cache-hit" not in resp.headers
    assert json.loads(responses.calls[0].request.body) == CHAT


@responses.activate
def test_no_cache_reads_nothing_but_stores_no_store_stores_nothing(cached):
    chat_upstream()
    client = cached()
    assert post(client, dict(CHAT, cache={"no-store": True})).headers[
        "x-switchboard-cache-hit"] == "false"
    assert post(client).headers["x-switchboard-cache-hit"] == "false"  # nothing was stored
    assert post(client, dict(CHAT, cache={"no-cache": True})).headers[
        "x-switchboard-cache-hit"] == "false"
    assert post(client).headers["x-switchboard-cache-hit"] == "true"
    assert post(client, headers={"Cache-Control": "no-cache"}).headers[
        "x-switchboard-cache-hit"] == "false"
    assert len(upstream_calls()) == 4


@responses.activate
def test_s_maxage_and_max_age_accept_only_young_entries(cached, monkeypatch):
    chat_upstream()
    client = cached()
    post(client)
    import time

    import app.cache.answers as answers

    class Later:  # the entry is now 30 s old
        @staticmethod
        def time():
            return time.time() + 30
    monkeypatch.setattr(answers, "time", Later)
    assert post(client, dict(CHAT, cache={"s-maxage": 10, "no-store": True})).headers[
        "x-switchboard-cache-hit"] == "false"
    assert post(client, headers={"Cache-Control": "max-age=10, no-store"}).headers[
        "x-switchboard-cache-hit"] == "false"
    assert post(client, dict(CHAT, cache={"s-maxage": 60})).headers[
        "x-switchboard-cache-hit"] == "true"


@responses.activate
def test_namespaces_do_not_share(cached):
    chat_upstream()
    client = cached(namespace="one")
    post(client)
    assert post(client, dict(CHAT, cache={"namespace": "two"})).headers[
        "x-switchboard-cache-hit"] == "false"
    assert post(client, dict(CHAT, cache={"namespace": "two"})).headers[
        "x-switchboard-cache-hit"] == "true"
    assert post(client).headers["x-switchboard-cache-hit"] == "true"
    assert len(upstream_calls()) == 2


@responses.activate
def test_default_off_caches_only_who_asks(cached):
    chat_upstream()
    client = cached(mode="default_off")
    post(client)
    resp = post(client)
    assert resp.headers["x-switchboard-cache-hit"] == "false"
    assert "x-switchboard-cache-key" not in resp.headers
    opt_in = dict(CHAT, cache={"use-cache": True})
    post(client, opt_in)
    assert post(client, opt_in).headers["x-switchboard-cache-hit"] == "true"
    assert len(upstream_calls()) == 3


@responses.activate
def test_supported_call_types(cached):
    chat_upstream()
    responses.post(f"{UPSTREAM}/embeddings", body=fixture_bytes("openai/embeddings.json"),
                   content_type="application/json")
    client = cached(supported_call_types=["aembedding"])
    post(client)
    assert post(client).headers["x-switchboard-cache-hit"] == "false"
    emb = {"model": EMB, "input": ["hello"]}
    post(client, emb, path="/v1/embeddings")
    assert post(client, emb, path="/v1/embeddings").headers["x-switchboard-cache-hit"] == "true"


@responses.activate
def test_errors_and_refusals_are_not_cached(cached):
    responses.post(f"{UPSTREAM}/chat/completions", status=500,
                   json={"error": {"message": "boom", "type": "server_error"}})
    refusal = fixture_json("openai/chat_completion.json")
    refusal["choices"][0]["message"]["refusal"] = "I can't."
    chat_upstream(json.dumps(refusal))
    chat_upstream()
    client = cached()
    failed = post(client)
    assert failed.status_code == 500 and failed.headers["x-switchboard-cache-hit"] == "false"
    assert post(client).headers["x-switchboard-cache-hit"] == "false"  # the refusal
    assert post(client).headers["x-switchboard-cache-hit"] == "false"  # the good answer
    assert post(client).headers["x-switchboard-cache-hit"] == "true"
    assert len(upstream_calls()) == 3


@responses.activate
def test_client_key_and_base_overrides_are_part_of_the_key(cached):
    chat_upstream()
    client = cached()
    post(client)
    resp = post(client, dict(CHAT, api_key="sk-some-client-key"))
    assert resp.headers["x-switchboard-cache-hit"] == "false"
    assert upstream_calls()[-1].request.headers["Authorization"] == "Bearer sk-some-client-key"
    assert post(client, dict(CHAT, api_key="sk-some-client-key")).headers[
        "x-switchboard-cache-hit"] == "true"


class Principal:
    def __init__(self, team_id):
        self.team_id, self.token, self.is_admin = team_id, f"hash-{team_id}", False


@responses.activate
@pytest.mark.parametrize("scope, team_b_hits", [(None, False), ("global", True)])
def test_teams_do_not_read_each_other_unless_scope_global(make_app, scope, team_b_hits):
    chat_upstream()
    config = base_config()
    params = {"scope": scope} if scope else {}
    config["litellm_settings"].update(cache=True, cache_params=params)
    app = make_app(config)

    @app.before_request
    def as_team():  # what the keys stage will set
        from flask import request
        g.principal = Principal(request.headers.get("x-team"))
    client = app.test_client()
    post(client, headers={"x-team": "a"})
    assert post(client, headers={"x-team": "a"}).headers["x-switchboard-cache-hit"] == "true"
    hit = post(client, headers={"x-team": "b"}).headers["x-switchboard-cache-hit"]
    assert hit == ("true" if team_b_hits else "false")


@responses.activate
def test_max_cached_bytes_bounds_an_entry(cached):
    chat_upstream()
    client = cached(max_cached_bytes=100)
    post(client)
    assert post(client).headers["x-switchboard-cache-hit"] == "false"


@responses.activate
def test_hit_is_logged_counted_and_free(cached):
    chat_upstream()
    client = cached()
    post(client)
    post(client)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'switchboard_cache_hits_total{call_type="chat"} 1.0' in text
    assert 'switchboard_cache_misses_total{call_type="chat"} 1.0' in text
    assert 'switchboard_requests_total{model="gpt-3.5-turbo",provider="cache",status="200"} 1.0' \
        in text


def embed_upstream():
    def answer(request):
        body = json.loads(request.body)
        data = []
        for i, text in enumerate(body["input"]):
            vector = [float(len(text)), 0.5, -1.0]
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack("<3f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vector})
        usage = {"prompt_tokens": len(data), "total_tokens": len(data)}
        return 200, {}, json.dumps({"object": "list", "data": data, "model": EMB,
                                    "usage": usage})
    responses.add_callback(responses.POST, f"{UPSTREAM}/embeddings", callback=answer,
                           content_type="application/json")


def sent_inputs():
    return [json.loads(c.request.body)["input"] for c in upstream_calls("/embeddings")]


@responses.activate
@pytest.mark.parametrize("fmt", ["float", "base64"])
def test_embeddings_per_item(cached, fmt):
    embed_upstream()
    client = cached()

    def embed(items):
        return post(client, {"model": EMB, "input": items, "encoding_format": fmt},
                    path="/v1/embeddings")
    first = embed(["a", "bb"])
    assert first.headers["x-switchboard-cache-hit"] == "false"
    mixed = embed(["ccc", "a", "ccc", "bb", "dddd"])
    assert mixed.headers["x-switchboard-cache-hit"] == "false"
    assert sent_inputs() == [["a", "bb"], ["ccc", "dddd"]]
    data = mixed.get_json()["data"]
    assert [d["index"] for d in data] == [0, 1, 2, 3, 4]
    vectors = [d["embedding"] for d in data]
    if fmt == "base64":
        vectors = [list(struct.unpack("<3f", base64.b64decode(v))) for v in vectors]
    assert [v[0] for v in vectors] == [3.0, 1.0, 3.0, 2.0, 4.0]
    assert mixed.get_json()["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    full = embed(["dddd", "a"])
    assert full.headers["x-switchboard-cache-hit"] == "true"
    assert [d["embedding"] for d in full.get_json()["data"]] == [data[4]["embedding"],
                                                                 data[1]["embedding"]]
    assert len(upstream_calls("/embeddings")) == 2


@responses.activate
def test_chat_stream_is_stored_and_replayed(cached):
    responses.post(f"{UPSTREAM}/chat/completions", body=fixture_bytes("openai/chat_stream.txt"),
                   content_type="text/event-stream")
    client = cached()
    stream = dict(CHAT, stream=True)
    first = post(client, stream)
    first_text = first.get_data(as_text=True)
    assert first_text.rstrip().endswith("data: [DONE]")
    second = post(client, stream)
    assert second.headers["x-switchboard-cache-hit"] == "true"
    assert second.headers["x-switchboard-response-cost"] == "0"
    body = second.get_data(as_text=True)
    assert body.rstrip().endswith("data: [DONE]")

    def text(sse):
        out = ""
        for line in sse.splitlines():
            if line.startswith("data: {"):
                for choice in json.loads(line[6:])["choices"]:
                    out += choice["delta"].get("content") or ""
        return out
    assert text(body) == text(first_text) != ""
    plain = post(client)
    assert plain.headers["x-switchboard-cache-hit"] == "true"
    assert plain.get_json()["choices"][0]["message"]["content"] == text(first_text)
    assert len(upstream_calls()) == 1


def test_text_completions_hit_and_replay_as_stream(cached):
    client = cached()
    body = {"model": "demo", "prompt": "say something", "max_tokens": 20}
    first = post(client, body, path="/v1/completions")
    assert first.headers["x-switchboard-cache-hit"] == "false"
    again = post(client, dict(body, stream=True), path="/v1/completions")
    assert again.headers["x-switchboard-cache-hit"] == "true"
    events = [json.loads(line[6:]) for line in again.get_data(as_text=True).splitlines()
              if line.startswith("data: {")]
    assert all(e["object"] == "text_completion" for e in events)
    assert "".join(e["choices"][0]["text"] for e in events) == \
        first.get_json()["choices"][0]["text"]
    assert events[-1]["choices"][0]["finish_reason"] == first.get_json()["choices"][0][
        "finish_reason"]


@responses.activate
def test_foreign_data_under_the_namespace_is_a_miss(cached):
    chat_upstream()
    client = cached(namespace="shared")
    key = post(client).headers["x-switchboard-cache-key"]
    store = client.application.extensions["switchboard.cache"].store
    for junk in (b"garbage", b"123\nnot json", b"123\n[1,2]"):
        store.set_many([(f"shared:{key}", junk)], 60)
        resp = post(client, dict(CHAT, cache={"no-store": True}))
        assert resp.status_code == 200 and resp.headers["x-switchboard-cache-hit"] == "false"


@responses.activate
def test_embeddings_count_mismatch(cached):
    two = {"object": "list", "model": EMB, "usage": {"prompt_tokens": 1, "total_tokens": 1},
           "data": [{"object": "embedding", "index": i, "embedding": [0.1]} for i in range(2)]}
    responses.post(f"{UPSTREAM}/embeddings", json=two)
    client = cached()
    # asked exactly what the client sent: the provider's answer is passed on, nothing stored
    assert post(client, {"model": EMB, "input": ["a"]}, path="/v1/embeddings").status_code == 200
    responses.post(f"{UPSTREAM}/embeddings", json=dict(two, data=two["data"][:1]))
    post(client, {"model": EMB, "input": ["b"]}, path="/v1/embeddings")
    # "b" cached, "c" and "d" asked for, one embedding comes back: cannot be reassembled
    resp = post(client, {"model": EMB, "input": ["b", "c", "d"]}, path="/v1/embeddings")
    assert resp.status_code == 502


def test_a_body_too_deep_to_key_is_a_400(cached):
    deep = []
    for _ in range(300):
        deep = [deep]
    resp = post(cached(), {"model": "demo", "messages": [{"role": "user", "content": "x"}],
                           "vendor": deep})
    assert resp.status_code == 400 and "nested too deeply" in resp.get_json()["error"]["message"]
