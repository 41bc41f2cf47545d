"""The langfuse sink against a real local HTTP receiver, field by field against the ingestion
schema (POST /api/public/ingestion, basic auth, {batch: [{id, timestamp, type, body}]})."""
import base64
import re
import uuid

import orjson
import pytest

from app import http
from app.observability import events
from app.observability.sinks.langfuse import LangfuseSink, from_settings, ingestion_events

from obs_receiver import Receiver

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SEED_META = {"generation_name": "seed-gen", "generation_id": "gen-seed-1",
             "trace_id": "trace-seed-1", "trace_user_id": "user-7"}


@pytest.fixture
def receiver():
    r = Receiver(status=207, body=b'{"successes": [], "errors": []}')
    yield r
    r.close()


@pytest.fixture
def session():
    s = http.build_session(4)
    yield s
    s.close()


def event(**changes):
    base = {"id": "req-1", "request_id": "req-1", "type": "success", "call_type": "chat",
            "stream": False, "start_time": 1700000000.25, "end_time": 1700000001.5,
            "completion_start_time": None, "latency_ms": 1250.0, "ttft_ms": None,
            "route": "/chat/completions", "model": "gpt-3.5-turbo", "model_id": "dep1",
            "provider": "openai", "upstream_model": "gpt-3.5-turbo", "status": 200,
            "model_parameters": {"temperature": 0.2, "max_tokens": 20},
            "messages": [{"role": "user", "content": "this is a test request"}],
            "response": {"role": "assistant", "content": "hi"},
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
            "usage_estimated": False, "cost": 8e-06, "metadata": dict(SEED_META),
            "tags": ["team-a"], "error": None, "attempted_retries": 0}
    base.update(changes)
    return base


def test_posts_one_trace_and_one_generation_with_the_client_ids(receiver, session):
    sink = LangfuseSink(session, "pk-lf-1", "sk-lf-1", receiver.url)
    sink.send([event()])
    [(path, headers, body, _raw)] = receiver.posts
    assert path == "/api/public/ingestion"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"pk-lf-1:sk-lf-1").decode()
    assert headers["Content-Type"] == "application/json"
    assert set(body) == {"batch", "metadata"}
    trace, generation = body["batch"]
    for envelope in (trace, generation):
        assert set(envelope) == {"id", "timestamp", "type", "body"}
        uuid.UUID(envelope["id"])
        assert ISO.match(envelope["timestamp"])
    assert trace["type"] == "trace-create"
    assert trace["body"] == {
        "id": "trace-seed-1", "timestamp": "2023-11-14T22:13:20.250Z", "name": "seed-gen",
        "userId": "user-7", "tags": ["team-a"],
        "input": [{"role": "user", "content": "this is a test request"}],
        "output": {"role": "assistant", "content": "hi"}}
    assert generation["type"] == "generation-create"
    g = generation["body"]
    assert g["id"] == "gen-seed-1" and g["traceId"] == "trace-seed-1"
    assert g["name"] == "seed-gen"
    assert g["startTime"] == "2023-11-14T22:13:20.250Z"
    assert g["endTime"] == "2023-11-14T22:13:21.500Z"
    assert "completionStartTime" not in g
    assert g["model"] == "gpt-3.5-turbo"
    assert g["modelParameters"] == {"temperature": 0.2, "max_tokens": 20}
    assert g["input"] == [{"role": "user", "content": "this is a test request"}]
    assert g["output"] == {"role": "assistant", "content": "hi"}
    assert g["usageDetails"] == {"input": 10, "output": 2, "total": 12}
    assert g["costDetails"] == {"total": 8e-06}
    assert g["level"] == "DEFAULT" and "statusMessage" not in g
    assert g["metadata"]["request_id"] == "req-1" and g["metadata"]["model_id"] == "dep1"
    assert set(g) <= {"id", "traceId", "name", "startTime", "endTime", "completionStartTime",
                      "model", "modelParameters", "input", "output", "usageDetails",
                      "costDetails", "metadata", "level", "statusMessage", "version",
                      "parentObservationId"}


def test_all_litellm_metadata_keys_are_mapped():
    meta = {"trace_id": "t", "trace_name": "tn", "trace_user_id": "u", "session_id": "s",
            "trace_version": "tv", "trace_release": "r", "trace_metadata": {"k": 1},
            "tags": ["x"], "generation_id": "g", "generation_name": "gn",
            "parent_observation_id": "p", "version": "v2", "team": "search"}
    trace, generation = ingestion_events(event(metadata=meta, tags=["y", "x"]))
    t, g = trace["body"], generation["body"]
    assert (t["id"], t["name"], t["userId"], t["sessionId"]) == ("t", "tn", "u", "s")
    assert (t["version"], t["release"], t["metadata"]) == ("tv", "r", {"k": 1})
    assert t["tags"] == ["x", "y"]
    assert (g["id"], g["name"], g["parentObservationId"], g["version"]) == ("g", "gn", "p", "v2")
    assert g["metadata"]["team"] == "search"
    assert "trace_id" not in g["metadata"]


def test_existing_trace_id_adds_a_generation_only():
    [generation] = ingestion_events(event(metadata={"existing_trace_id": "old-trace"}))
    assert generation["type"] == "generation-create"
    assert generation["body"]["traceId"] == "old-trace"


def test_defaults_without_metadata_and_failure_level():
    failed = event(metadata={}, type="failure", status=429, response=None, usage=None,
                   cost=None, error={"type": "rate_limit_error", "code": None,
                                     "message": "slow down"})
    trace, generation = ingestion_events(failed)
    assert trace["body"]["id"] == "req-1" and trace["body"]["name"] == "switchboard-chat"
    g = generation["body"]
    assert g["traceId"] == "req-1" and g["name"] == "switchboard-chat"
    assert g["level"] == "ERROR" and g["statusMessage"] == "slow down"
    assert "usageDetails" not in g and "costDetails" not in g and "output" not in g


def test_stream_events_carry_the_completion_start_time():
    [_, generation] = ingestion_events(event(stream=True, completion_start_time=1700000000.5))
    assert generation["body"]["completionStartTime"] == "2023-11-14T22:13:20.500Z"


def test_masked_messages_are_not_sent(receiver, session):
    masked = event(messages=events.REDACTED, response=events.REDACTED)
    LangfuseSink(session, "pk", "sk", receiver.url).send([masked])
    raw = receiver.posts[0][3]
    assert b"this is a test request" not in raw and b'"hi"' not in raw


def test_big_batches_are_split_under_the_size_limit(receiver, session, monkeypatch):
    monkeypatch.setattr("app.observability.sinks.langfuse.MAX_BATCH_BYTES", 5000)
    sink = LangfuseSink(session, "pk", "sk", receiver.url)
    batch = [event(request_id=f"r{i}", messages="x" * 1500) for i in range(6)]
    sink.send(batch)
    assert batch == [] and len(receiver.posts) > 1
    sent = [e["body"]["id"] for p in receiver.bodies() for e in p["batch"]
            if e["type"] == "trace-create"]
    assert sent == ["trace-seed-1"] * 6


@pytest.mark.parametrize("status,error", [(500, ConnectionError), (401, Exception)])
def test_errors_raise_so_the_queue_retries_or_drops(session, status, error):
    receiver = Receiver(status=status, body=b'{"message": "no"}')
    try:
        with pytest.raises(error):
            LangfuseSink(session, "pk", "sk", receiver.url).send([event()])
    finally:
        receiver.close()


def test_207_with_rejected_events_is_logged_not_retried(session, caplog):
    body = orjson.dumps({"successes": [], "errors": [{"id": "x", "status": 400,
                                                      "message": "Invalid request data"}]})
    receiver = Receiver(status=207, body=body)
    try:
        batch = [event()]
        LangfuseSink(session, "pk", "sk", receiver.url).send(batch)
        assert batch == [] and "rejected" in caplog.text
    finally:
        receiver.close()


def test_keys_come_from_the_environment_or_the_config(monkeypatch, session):
    from app.config import load_config
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-env")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-env")
    monkeypatch.setenv("LANGFUSE_HOST", "langfuse.internal:3000")
    settings = load_config({"model_list": [{"model_name": "m", "litellm_params": {
        "model": "mock/m"}}]})
    sink = from_settings(settings, session)
    assert sink.url == "https://langfuse.internal:3000/api/public/ingestion"
    settings.general_settings["langfuse"] = {"public_key": "a", "secret_key": "b",
                                             "host": "http://h:1"}
    sink = from_settings(settings, session)
    assert sink.url == "http://h:1/api/public/ingestion"
    assert sink.headers["Authorization"] == "Basic " + base64.b64encode(b"a:b").decode()
    monkeypatch.delenv("LANGFUSE_SECRET_KEY")
    settings.general_settings.clear()
    assert from_settings(settings, session) is None
