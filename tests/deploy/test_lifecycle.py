"""SIGTERM drains (streams finish, readiness 503, exit 0); the hooks in app/lifecycle.py."""
import signal
import subprocess
import sys
import threading
import time
import types

import pytest
import requests
import yaml

from app import create_app, lifecycle
from tests.e2e.helpers import UPSTREAM_KEY, model, sse_events

from .conftest import start_gunicorn

WORDS = " ".join(f"word{n}" for n in range(20))


@pytest.fixture
def draining(tmp_path, fake_upstream):
    """A one-worker gateway from deploy/gunicorn.conf.py, to be stopped by the test."""
    fake_upstream.reset()
    config = {"model_list": [model("gpt-3.5-turbo", "openai/gpt-3.5-turbo",
                                   api_base=fake_upstream.base, api_key=UPSTREAM_KEY)]}
    gateway = start_gunicorn(tmp_path, config)
    yield gateway
    gateway.stop()
    fake_upstream.reset()


def read_stream(url, events, first_event):
    """POST a streamed chat; collect its SSE data payloads; set first_event on the first one."""
    body = {"model": "gpt-3.5-turbo", "stream": True,
            "messages": [{"role": "user", "content": WORDS}]}
    with requests.post(url + "/v1/chat/completions", json=body, stream=True, timeout=30) as r:
        for block in r.iter_lines(delimiter=b"\n\n"):
            events.extend(sse_events(block.decode() + "\n\n"))
            first_event.set()


def poll_readiness(session, url, until):
    """Readiness answers (status codes, or 'refused') until the event is set."""
    seen = []
    while not until.is_set():
        try:
            seen.append(session.get(url + "/health/readiness", timeout=2).status_code)
        except requests.ConnectionError:
            seen.append("refused")
        except requests.Timeout:
            seen.append("timeout")
        time.sleep(0.02)
    return seen


def test_sigterm_lets_the_stream_finish_reports_503_and_exits_0(draining, fake_upstream):
    fake_upstream.script({"stream_delay_ms": 250})  # 7 pauses: about 1.75 s of streaming
    events, first_event, stream_done = [], threading.Event(), threading.Event()
    reader = threading.Thread(target=lambda: (read_stream(draining.url, events, first_event),
                                              stream_done.set()))
    with requests.Session() as session:
        assert session.get(draining.url + "/health/readiness", timeout=2).status_code == 200
        reader.start()
        assert first_event.wait(10)
        draining.proc.send_signal(signal.SIGTERM)
        seen = poll_readiness(session, draining.url, stream_done)
        reader.join(10)

    # The in-flight stream completed normally.
    assert events[-1] == "[DONE]" and len(events) == 8, events  # role, 5 pieces, stop, DONE
    # Readiness: 503 from the draining worker (on the kept-alive connection, and on any
    # connection accepted before the worker closed its listener), then connections refused.
    # Never 200 again once it said 503.
    assert 503 in seen, seen
    assert 200 not in seen[seen.index(503):], seen
    assert seen[-1] == "refused", seen
    assert draining.proc.wait(timeout=15) == 0
    assert "Worker graceful timeout" not in draining.stderr()


def test_sigterm_does_not_wait_for_idle_kept_alive_connections(draining):
    with requests.Session() as session:
        assert session.get(draining.url + "/health/readiness", timeout=2).status_code == 200
        # The connection now idles in the worker; gunicorn alone would wait for its
        # keepalive (75 s) or graceful_timeout before exiting.
        started = time.monotonic()
        draining.proc.send_signal(signal.SIGTERM)
        code = draining.proc.wait(timeout=15)

    assert code == 0 and time.monotonic() - started < 5
    assert "graceful timeout" not in draining.stderr()


def test_readiness_follows_the_worker():
    app = create_app({"model_list": [model("demo", "mock/demo")]})
    worker = types.SimpleNamespace(wsgi=app, alive=True)
    lifecycle.post_worker_init(worker)
    client = app.test_client()

    assert client.get("/health/readiness").status_code == 200
    worker.alive = False  # what gunicorn's SIGTERM handler does
    response = client.get("/health/readiness")
    assert response.status_code == 503 and response.get_json()["status"] == "not ready"


@pytest.mark.parametrize("address,url", [
    (("0.0.0.0", 8000), "http://127.0.0.1:8000"),
    (("10.1.2.3", 80), "http://10.1.2.3:80"),
    (("::1", 8000, 0, 0), "http://[::1]:8000"),
    ("/run/switchboard/switchboard.sock", "unix:/run/switchboard/switchboard.sock"),
])
def test_listening_url(address, url):
    listener = types.SimpleNamespace(getsockname=lambda: address)
    assert lifecycle.listening_url(listener) == url


def test_read_env_file(tmp_path):
    path = tmp_path / "switchboard.env"
    path.write_text("# keys\n\nOPENAI_API_KEY=sk-a=b\n; old\nQUOTED = \"with space\"\n"
                    "SINGLE='x'\nnot a pair\n")

    assert lifecycle.read_env_file(str(path)) == \
        ["OPENAI_API_KEY=sk-a=b", "QUOTED=with space", "SINGLE=x"]
    assert lifecycle.read_env_file(None) == []


def test_forget_app_modules():
    modules = {"app": 1, "app.cli": 2, "wsgi": 3, "apple": 4, "flask": 5}
    lifecycle.forget_app_modules(modules)
    assert modules == {"apple": 4, "flask": 5}


@pytest.mark.parametrize("config,code,message", [
    ({"model_list": [model("demo", "mock/demo")]}, 0, "config ok (1 models)"),
    ({"model_list": [{"model_name": "x"}]}, 1, "switchboard: bad config: model_list[0]"),
])
def test_check_config_command(tmp_path, config, code, message):
    """``python -m app.lifecycle``: what systemd runs before start and before every reload."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run([sys.executable, "-m", "app.lifecycle"], capture_output=True,
                            text=True, timeout=60, env={"SWITCHBOARD_CONFIG": str(path)})

    assert result.returncode == code
    assert message in result.stdout + result.stderr and "Traceback" not in result.stderr
