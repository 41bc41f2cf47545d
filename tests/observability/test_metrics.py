"""GET /metrics: counts, histograms, auth, and the multiprocess helpers."""
import os
import re
import subprocess
import sys
import tempfile
import textwrap

import pytest

from app import create_app, observability
from app.observability import metrics

HELLO = [{"role": "user", "content": "count me"}]


def config(**lit):
    return {"model_list": [
        {"model_name": "demo", "litellm_params": {"model": "mock/demo"}},
        {"model_name": "priced", "litellm_params": {"model": "mock/priced",
                                                     "input_cost_per_token": 1e-6,
                                                     "output_cost_per_token": 1e-6}}],
        "litellm_settings": lit,
        "general_settings": {"access_log": "off", "master_key": "sk-master-m"}}


AUTH = {"Authorization": "Bearer sk-master-m"}


def sample(text, name, **labels):
    """The value of one sample of the exposition text (0 when absent); label order is free."""
    want = {k: str(v) for k, v in labels.items()}
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, rest = head.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if metric == name and found == want:
            return float(value)
    return 0.0


@pytest.fixture
def client():
    app = create_app(config())
    yield app.test_client()
    observability.shutdown(app)


def test_requests_tokens_cost_and_latency_are_counted(client):
    for _ in range(3):
        assert client.post("/v1/chat/completions", headers=AUTH,
                           json={"model": "priced", "messages": HELLO}).status_code == 200
    stream = client.post("/v1/chat/completions", headers=AUTH,
                         json={"model": "demo", "messages": HELLO, "stream": True})
    stream.get_data()
    stream.close()
    client.post("/v1/chat/completions", headers=AUTH,
                json={"model": "demo", "messages": HELLO, "mock_response":
                      "litellm.RateLimitError"})
    client.post("/v1/chat/completions", headers=AUTH, json={"model": "nope", "messages": HELLO})
    resp = client.get("/metrics")  # open by default, even with a master key
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    text = resp.get_data(as_text=True)
    assert sample(text, "switchboard_requests_total", model="priced", provider="mock",
                  status="200") == 3
    assert sample(text, "switchboard_requests_total", model="demo", provider="mock",
                  status="200") == 1
    assert sample(text, "switchboard_requests_total", model="demo", provider="mock",
                  status="429") == 1
    assert sample(text, "switchboard_requests_total", model="unknown", provider="none",
                  status="404") == 1
    assert sample(text, "switchboard_upstream_errors_total", provider="mock",
                  type="rate_limit") == 1
    assert sample(text, "switchboard_request_duration_seconds_count", model="priced") == 3
    assert sample(text, "switchboard_time_to_first_token_seconds_count", model="demo") == 1
    tokens_in = sample(text, "switchboard_tokens_total", model="priced", direction="input")
    tokens_out = sample(text, "switchboard_tokens_total", model="priced", direction="output")
    assert tokens_in > 0 and tokens_out > 0
    assert sample(text, "switchboard_cost_usd_total", model="priced") == pytest.approx(
        (tokens_in + tokens_out) * 1e-6)
    assert sample(text, "switchboard_in_flight_requests") == 0


def test_metrics_can_require_the_master_key():
    app = create_app(config(require_auth_for_metrics_endpoint=True))
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers=AUTH).status_code == 200


def test_prepare_dir_and_child_exit_in_multiprocess_mode(tmp_path):
    """In a fresh interpreter (prometheus_client reads the variable at import)."""
    script = textwrap.dedent(f"""
        import os, types
        from app.observability import metrics
        stale = os.path.join({str(tmp_path)!r}, "counter_1.db")
        os.makedirs({str(tmp_path)!r}, exist_ok=True)
        open(stale, "w").close()
        path = metrics.prepare_multiprocess_dir({str(tmp_path)!r})
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == path and not os.path.exists(stale)
        m = metrics.Metrics()
        assert m.multiprocess
        m.in_flight.inc()
        m.observe("demo", "mock", 200, 0.01, (3, 4), 0.5)
        text = m.render()[0].decode()
        assert 'switchboard_requests_total{{model="demo",provider="mock",status="200"}} 1.0' \\
            in text, text
        assert "switchboard_in_flight_requests 1.0" in text
        metrics.child_exit(None, types.SimpleNamespace(pid=os.getpid()))
        assert not [n for n in os.listdir(path) if n.startswith("gauge_livesum")]
        print("ok")
    """)
    env = {k: v for k, v in os.environ.items() if k != metrics.ENV}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=os.getcwd(), timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_a_gunicorn_worker_without_the_variable_shares_a_per_arbiter_dir(tmp_path):
    script = textwrap.dedent("""
        import os
        from app.observability import metrics
        path = metrics.ensure_multiprocess_dir()
        assert path == metrics.default_dir(os.getppid()), path
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == path and os.path.isdir(path)
        assert not os.path.exists(metrics.default_dir(2 ** 22 + 1))  # a dead arbiter's
        print("ok")
    """)
    os.makedirs(metrics.default_dir(2 ** 22 + 1).replace(tempfile.gettempdir(), str(tmp_path)))
    env = {k: v for k, v in os.environ.items() if k != metrics.ENV}
    env.update(SERVER_SOFTWARE="gunicorn/23.0.0", TMPDIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_outside_gunicorn_metrics_stay_in_process(monkeypatch):
    monkeypatch.delenv(metrics.ENV, raising=False)
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    assert metrics.ensure_multiprocess_dir() is None
