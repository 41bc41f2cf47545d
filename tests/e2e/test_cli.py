"""Starting the server: the console script, the defaults, and clear start-up failures."""
import os
import socket
import subprocess
import sys

import pytest
import requests
import yaml

from .helpers import CONSOLE_SCRIPT, free_port, model, start_gateway

HELLO = [{"role": "user", "content": "ping"}]


def run_cli(args, tmp_path, env=None, timeout=30):
    """Run ``python -m app`` to completion (it is expected to fail fast)."""
    command = [sys.executable, "-m", "app", "--host", "127.0.0.1", *args]
    env = {k: v for k, v in os.environ.items() if k != "SWITCHBOARD_E2E_MISSING"}
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=tmp_path, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{command} did not exit within {timeout}s")


def write_config(tmp_path, config):
    """Write a config (dict or raw YAML text) and return its path."""
    path = tmp_path / "config.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return path


def assert_clean_failure(result, *needles):
    """Non-zero exit, a one-line message on stderr naming every needle, no traceback."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    result = run_cli(["--config", str(missing), "--port", str(free_port())], tmp_path)

    assert_clean_failure(result, "nope.yaml")


def test_invalid_yaml(tmp_path):
    path = write_config(tmp_path, "model_list: [\n  - model_name: x\n   bad: : indent\n")
    result = run_cli(["--config", str(path), "--port", str(free_port())], tmp_path)

    assert_clean_failure(result, "config.yaml")


@pytest.mark.parametrize("config,key_path", [
    ({"model_list": [{"model_name": "x", "litellm_params": {"api_key": "k"}}]},
     "model_list[0].litellm_params.model"),
    ({"model_list": [model("ok", "mock/ok"), {"litellm_params": {"model": "mock/x"}}]},
     "model_list[1].model_name"),
    ({"model_list": "not a list"}, "model_list"),
    ({"model_list": [model("x", "mock/x")], "litellm_settings": {"num_retries": "many"}},
     "litellm_settings.num_retries"),
])
def test_invalid_config_names_the_key_path(tmp_path, config, key_path):
    path = write_config(tmp_path, config)
    result = run_cli(["--config", str(path), "--port", str(free_port())], tmp_path)

    assert_clean_failure(result, key_path)


def test_missing_environment_variable(tmp_path):
    config = {"model_list": [model("x", "openai/gpt-4o",
                                   api_key="os.environ/SWITCHBOARD_E2E_MISSING")]}
    path = write_config(tmp_path, config)
    result = run_cli(["--config", str(path), "--port", str(free_port())], tmp_path)

    assert_clean_failure(result, "SWITCHBOARD_E2E_MISSING")


def test_port_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        path = write_config(tmp_path, {"model_list": [model("demo", "mock/demo")]})
        result = run_cli(["--config", str(path), "--port", str(port)], tmp_path)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    assert str(port) in result.stderr
    assert "in use" in result.stderr.lower() or "already" in result.stderr.lower()


@pytest.mark.parametrize("command", [[str(CONSOLE_SCRIPT)], [sys.executable, "-m", "app"]])
def test_help(command):
    result = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL)

    assert result.returncode == 0, result.stderr
    for option in ("--config", "--model", "--host", "--port", "--workers", "--debug"):
        assert option in result.stdout


@pytest.fixture(scope="module")
def bare_gateway(tmp_path_factory):
    """`switchboard` from the console script, with no --config at all."""
    gw = start_gateway(tmp_path_factory.mktemp("gw-bare"), console_script=True)
    yield gw
    gw.stop()


def test_no_config_serves_the_demo_model(bare_gateway):
    with bare_gateway.client() as client:
        response = client.chat.completions.create(model="demo", messages=HELLO)
        ids = [m.id for m in client.models.list()]

    assert "ping" in response.choices[0].message.content
    assert "demo" in ids


def test_prints_the_listening_url(bare_gateway):
    output = bare_gateway.stdout() + bare_gateway.stderr()
    assert f"http://127.0.0.1:{bare_gateway.port}" in output


def test_model_flag_serves_that_model(tmp_path):
    gw = start_gateway(tmp_path, extra_args=["--model", "mock/solo"])
    try:
        with gw.client() as client:
            ids = [m.id for m in client.models.list()]
            response = client.chat.completions.create(model=ids[0], messages=HELLO)
    finally:
        gw.stop()

    assert "ping" in response.choices[0].message.content
    assert any("solo" in i for i in ids), ids


def test_several_workers(tmp_path):
    gw = start_gateway(tmp_path, config={"model_list": [model("demo", "mock/demo")]},
                       extra_args=["--workers", "2"])
    try:
        with gw.client() as client:
            replies = {client.chat.completions.create(model="demo", messages=HELLO)
                       .choices[0].message.content for _ in range(4)}
    finally:
        gw.stop()

    assert len(replies) == 1 and "ping" in replies.pop()


def test_sigterm_stops_the_server(tmp_path):
    gw = start_gateway(tmp_path, config={"model_list": [model("demo", "mock/demo")]})
    gw.stop()

    assert gw.proc.returncode in (0, -15)
    with pytest.raises(requests.ConnectionError):
        requests.get(gw.url + "/health/liveliness", timeout=2)
