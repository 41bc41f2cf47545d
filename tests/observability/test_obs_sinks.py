"""The webhook, jsonl and stdout sinks."""
import json
import os

import pytest

from app import http
from app.config import load_config
from app.observability.sinks import webhook
from app.observability.sinks.base import PermanentError
from app.observability.sinks.jsonl import JsonlSink
from app.observability.sinks.stdout import StdoutSink

from obs_receiver import Receiver


@pytest.fixture
def session():
    s = http.build_session(4)
    yield s
    s.close()


def settings(**general):
    return load_config({"model_list": [{"model_name": "m", "litellm_params": {
        "model": "mock/m"}}], "general_settings": general})


def test_webhook_posts_each_event_with_the_configured_headers(session):
    receiver = Receiver()
    try:
        sink = webhook.from_settings(settings(webhook={
            "url": receiver.url + "/hook", "headers": {"X-Token": "hook-secret"}}), session)
        batch = [{"id": "a"}, {"id": "b"}]
        sink.send(batch)
        assert batch == []
        assert [p[0] for p in receiver.posts] == ["/hook", "/hook"]
        assert receiver.bodies() == [{"id": "a"}, {"id": "b"}]
        assert receiver.posts[0][1]["X-Token"] == "hook-secret"
    finally:
        receiver.close()


def test_webhook_batch_mode_posts_an_array(session):
    receiver = Receiver()
    try:
        sink = webhook.from_settings(settings(webhook={"url": receiver.url, "batch": True}),
                                     session)
        sink.send([{"id": "a"}, {"id": "b"}])
        assert receiver.bodies() == [[{"id": "a"}, {"id": "b"}]]
    finally:
        receiver.close()


def test_webhook_from_litellm_generic_logger_environment(monkeypatch, session):
    monkeypatch.setenv("GENERIC_LOGGER_ENDPOINT", "http://127.0.0.1:9/x")
    monkeypatch.setenv("GENERIC_LOGGER_HEADERS", "Authorization=Bearer abc, X-Team=ml")
    sink = webhook.from_settings(settings(), session)
    assert sink.url == "http://127.0.0.1:9/x"
    assert sink.headers == {"Authorization": "Bearer abc", "X-Team": "ml"}


def test_webhook_without_url_is_off(session, caplog):
    assert webhook.from_settings(settings(), session) is None
    assert "webhook" in caplog.text


def test_webhook_failures_keep_undelivered_events_for_the_retry(session):
    receiver = Receiver(status=503)
    try:
        sink = webhook.from_settings(settings(webhook={"url": receiver.url}), session)
        batch = [{"id": "a"}]
        with pytest.raises(ConnectionError):
            sink.send(batch)
        assert batch == [{"id": "a"}]
        receiver.status = 400
        with pytest.raises(PermanentError):
            sink.send(batch)
    finally:
        receiver.close()


def test_webhook_to_a_closed_port_raises_a_connection_error(session):
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sink = webhook.WebhookSink(session, f"http://127.0.0.1:{port}/")
        with pytest.raises(ConnectionError):
            sink.send([{"id": "a"}])


def test_jsonl_appends_lines_and_rotates_by_size(tmp_path):
    path = tmp_path / "logs" / "events.jsonl"
    sink = JsonlSink(str(path), max_bytes=200, backups=2)
    try:
        for i in range(12):
            sink.send([{"id": i, "pad": "x" * 40}])
    finally:
        sink.close()
    files = sorted(p.name for p in path.parent.iterdir() if not p.name.endswith(".lock"))
    assert files == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    ids = []
    for name in ("events.jsonl.2", "events.jsonl.1", "events.jsonl"):
        lines = (path.parent / name).read_text().splitlines()
        assert all(len(line) < 200 for line in lines)
        ids += [json.loads(line)["id"] for line in lines]
    assert ids == sorted(ids) and ids[-1] == 11 and len(ids) < 12  # oldest rotated away
    assert os.path.getsize(path) <= 200


def test_jsonl_reopens_a_file_another_worker_rotated(tmp_path):
    path = tmp_path / "e.jsonl"
    first, second = JsonlSink(str(path), 10**6), JsonlSink(str(path), 10**6)
    try:
        first.send([{"n": 1}])
        second.send([{"n": 2}])
        os.replace(path, str(path) + ".1")  # as if another worker rotated
        first.send([{"n": 3}])
        second.send([{"n": 4}])
    finally:
        first.close()
        second.close()
    assert [json.loads(x)["n"] for x in path.read_text().splitlines()] == [3, 4]


def test_jsonl_settings_accept_a_plain_path(tmp_path):
    from app.observability.sinks import jsonl
    sink = jsonl.from_settings(settings(jsonl=str(tmp_path / "a.jsonl")), None)
    assert sink.path == str(tmp_path / "a.jsonl") and sink.max_bytes == 100 * 1024 * 1024
    sink = jsonl.from_settings(settings(jsonl={"path": str(tmp_path / "b.jsonl"), "max_mb": 1,
                                               "backups": 0}), None)
    assert sink.max_bytes == 1024 * 1024 and sink.backups == 0


def test_stdout_sink_writes_json_lines(tmp_path):
    target = tmp_path / "out"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT)
    try:
        StdoutSink(fd).send([{"id": "a"}, {"id": "b"}])
    finally:
        os.close(fd)
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    assert lines == [{"callback_event": {"id": "a"}}, {"callback_event": {"id": "b"}}]
