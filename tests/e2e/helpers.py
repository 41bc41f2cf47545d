"""Helpers for the end-to-end tests: process control, the fake upstream handle, assertions."""
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
import requests
import yaml

HERE = Path(__file__).resolve().parent
FAKES = HERE.parent / "fakes"
FAKE_SCRIPT = FAKES / "fake_openai.py"
CONSOLE_SCRIPT = Path(sys.executable).parent / "switchboard"
READY_TIMEOUT = 20

# Secrets the gateways are configured with; the access-log tests look for leaks.
FAKE_KEY = "sk-fake-key-from-env"
SECTION_KEY = "sk-from-env-section"
UPSTREAM_KEY = "sk-upstream"
MASTER_KEY = "sk-master"


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def model(name, litellm_model, **params):
    """One model_list entry."""
    return {"model_name": name, "litellm_params": {"model": litellm_model, **params}}


def stop_process(proc):
    """SIGTERM, wait, then SIGKILL; always reaps the child."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def run_fake(script=FAKE_SCRIPT):
    """Run a fake provider (a tests/fakes/ script) on a free port; yield a handle on it."""
    proc = subprocess.Popen([sys.executable, str(FAKES / script), "--port", "0"],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("LISTENING "), f"{script} did not start: {line!r}"
        yield FakeUpstream(int(line.split()[1]))
    finally:
        stop_process(proc)
        proc.stdout.close()


def fake_fixtures(script, name, scope="module"):
    """Fixtures for a fake provider: ``name`` (its process, one per ``scope``) and ``fake`` (that
    process with nothing recorded or queued, for each test). Assign both in the test module."""
    @pytest.fixture(scope=scope, name=name)
    def process():
        with run_fake(script) as upstream:
            yield upstream

    @pytest.fixture(name="fake")
    def fresh(request):
        upstream = request.getfixturevalue(name)
        upstream.reset()
        yield upstream
        upstream.reset()

    return process, fresh


class FakeUpstream:
    """Handle on a fake provider process: its URLs, recorded requests, streams and scripts."""

    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}"
        self.base = self.url + "/v1"

    def requests(self, path=None):
        """Recorded API requests, optionally only those whose path ends with ``path``."""
        recorded = requests.get(self.url + "/_fake/requests", timeout=5).json()
        return [r for r in recorded if path is None or r["path"].endswith(path)]

    def streams(self):
        """Per stream served: {"sent", "total", "cut"} (cut: the reader closed early)."""
        return requests.get(self.url + "/_fake/streams", timeout=5).json()

    def reset(self):
        """Forget recorded requests and queued scripts."""
        requests.post(self.url + "/_fake/reset", timeout=5).raise_for_status()

    def script(self, *behaviours):
        """Queue behaviours for the next API requests (see fake_openai's docstring)."""
        response = requests.post(self.url + "/_fake/script", json=list(behaviours), timeout=5)
        response.raise_for_status()


class Gateway:
    """A running gateway process; stdout and stderr go to files the tests can read."""

    def __init__(self, proc, port, stdout_path, stderr_path):
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path

    def client(self, api_key="anything", **kwargs):
        """An openai.OpenAI client for this gateway; use it in a ``with`` block."""
        kwargs.setdefault("base_url", self.url + "/v1")
        kwargs.setdefault("timeout", 30)
        return openai.OpenAI(api_key=api_key, max_retries=0, **kwargs)

    def stdout(self):
        """Everything the process printed on stdout so far."""
        return self.stdout_path.read_text(errors="replace")

    def stderr(self):
        """Everything the process printed on stderr so far."""
        return self.stderr_path.read_text(errors="replace")

    def log_record(self, request_id):
        """The access-log record of one request, once written."""
        [record] = wait_for(lambda: [r for r in self.log_records()
                                     if r.get("request_id") == request_id])
        return record

    def log_records(self):
        """The JSON objects among the stdout lines (the access log)."""
        records = []
        for line in self.stdout().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def stop(self):
        """Terminate the process."""
        stop_process(self.proc)


def wait_ready(gateway, timeout=READY_TIMEOUT):
    """Poll /health/readiness until 200; fail with the process's stderr otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gateway.proc.poll() is not None:
            pytest.fail(f"gateway exited with {gateway.proc.returncode}:\n{gateway.stderr()}")
        try:
            if requests.get(gateway.url + "/health/readiness", timeout=1).status_code == 200:
                return
        except requests.RequestException:  # refused, or a worker still booting
            pass
        time.sleep(0.05)
    gateway.stop()
    pytest.fail(f"gateway not ready after {timeout}s:\n{gateway.stderr()}")


def launch(workdir, args, env=None):
    """Start a command with stdout/stderr in files under workdir; returns (proc, out, err)."""
    workdir.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = workdir / "stdout.log", workdir / "stderr.log"
    # The child keeps its own copies of the descriptors; ours close when the block ends.
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, cwd=workdir)
    return proc, stdout_path, stderr_path


def start_gateway(workdir, config=None, env=None, console_script=False, extra_args=()):
    """Write config (a dict) to workdir, start the gateway on a free port, wait until ready."""
    port = free_port()
    command = [str(CONSOLE_SCRIPT)] if console_script else [sys.executable, "-m", "app"]
    args = command + ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", *extra_args]
    if config is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        args += ["--config", str(path)]
    proc, stdout_path, stderr_path = launch(workdir, args, env)
    gateway = Gateway(proc, port, stdout_path, stderr_path)
    wait_ready(gateway)
    return gateway


def assert_error_body(response, status, param=None, code=None):
    """The response is an OpenAI error object with this status (and param / code if given)."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    if param is not None:
        assert error["param"] == param, error
    if code is not None:
        assert error["code"] == code, error
    return error


def sse_events(text):
    """The ``data:`` payloads of an SSE body, in order (comment lines ignored)."""
    events = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        data = [line[len("data:"):].lstrip() for line in lines if line.startswith("data:")]
        if data:
            events.append("\n".join(data))
    return events


def clear_of_minute_edge(margin=5.0):
    """Wait out the end of this minute if it is ``margin`` s away: rpm/tpm limits count per
    calendar minute, so calls that straddle its end are counted in two windows."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.05)


def wait_for(predicate, timeout=5.0):
    """Poll predicate() until it returns something truthy; returns that (or the last falsy)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def metric(text, name, **labels):
    """Sum of the samples of ``name`` (with these labels) in a Prometheus exposition.

    Raises if there is none, so an assertion on a missing series cannot pass by reading 0.
    """
    samples = []
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if (series == name or series.startswith(name + "{")) \
                and all(f'{k}="{v}"' in series for k, v in labels.items()):
            samples.append(float(value))
    assert samples, f"no {name} {labels} in the metrics"
    return sum(samples)


def text_of_stream(chunks):
    """The concatenated delta contents of chat.completion.chunk objects."""
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def chat_chunk(delta, finish_reason=None):
    """One chat.completion.chunk as an upstream sends it, as JSON text (for fake scripts)."""
    return json.dumps({"id": "chatcmpl-scripted", "object": "chat.completion.chunk",
                       "created": 1700000000, "model": "gpt-3.5-turbo",
                       "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                    "finish_reason": finish_reason}]})
