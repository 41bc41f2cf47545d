"""SIGHUP under load: new workers with the re-read config and keys, and no request fails."""
import signal
import time

import pytest
import requests

from tests.e2e.helpers import model, text_of_stream, wait_for

from .conftest import Load, start_gunicorn, write_config

HELLO = [{"role": "user", "content": "reload me please"}]


def config_with(fake_base, *extra_names):
    """gpt-3.5-turbo on the fake (key from the env file), plus mock models named extra_names."""
    models = [model("gpt-3.5-turbo", "openai/gpt-3.5-turbo", api_base=fake_base,
                    api_key="os.environ/ROTATED_KEY")]
    models += [model(name, "mock/demo") for name in extra_names]
    return {"model_list": models, "litellm_settings": {"num_retries": 0}}


@pytest.fixture
def reloading(tmp_path, fake_upstream):
    """A one-worker gateway whose provider key comes from SWITCHBOARD_ENV_FILE."""
    env_file = tmp_path / "switchboard.env"
    env_file.write_text("# provider keys\nROTATED_KEY=sk-first\n")
    fake_upstream.reset()
    gateway = start_gunicorn(tmp_path / "gw", config_with(fake_upstream.base),
                             env={"SWITCHBOARD_ENV_FILE": str(env_file),
                                  "ROTATED_KEY": "sk-first"})
    yield gateway, env_file
    gateway.stop()
    fake_upstream.reset()


def model_ids(gateway):
    """The served model names, or None while the gateway cannot answer."""
    try:
        return {m["id"] for m in requests.get(gateway.url + "/v1/models", timeout=2)
                .json()["data"]}
    except requests.RequestException:
        return None


def keys_seen(fake):
    """The Authorization headers the fake upstream received."""
    return {r["headers"].get("authorization") for r in fake.requests("/chat/completions")}


def test_hup_reloads_config_and_keys_with_zero_failures(reloading, fake_upstream):
    gateway, env_file = reloading
    with Load(gateway.client, HELLO) as load:
        assert wait_for(lambda: len(load.done) >= 20, timeout=10)
        for generation, key in ((1, "sk-second"), (2, "sk-third")):
            names = [f"added-{n}" for n in range(1, generation + 1)]
            write_config(gateway.config_path, config_with(fake_upstream.base, *names))
            env_file.write_text(f"ROTATED_KEY={key}\n")
            before = len(load.done)
            gateway.proc.send_signal(signal.SIGHUP)
            assert wait_for(lambda: set(names) <= (model_ids(gateway) or set()), timeout=15), \
                gateway.stderr()
            assert wait_for(lambda: f"Bearer {key}" in keys_seen(fake_upstream), timeout=10)
            assert wait_for(lambda: len(load.done) >= before + 20, timeout=10)

    assert load.failures == [], gateway.stderr()
    assert set(load.done) == {"echo: reload me please"}
    assert {"Bearer sk-first", "Bearer sk-second", "Bearer sk-third"} <= keys_seen(fake_upstream)
    assert gateway.proc.poll() is None
    assert gateway.stderr().count("Handling signal: hup") == 2


def test_stream_in_flight_during_hup_completes(reloading, fake_upstream):
    gateway, _ = reloading
    fake_upstream.script({"stream_delay_ms": 300})
    with gateway.client() as client, client.chat.completions.create(
            model="gpt-3.5-turbo", messages=HELLO, stream=True) as stream:
        chunks = [next(stream)]
        gateway.proc.send_signal(signal.SIGHUP)
        started = time.monotonic()
        chunks += list(stream)

    assert text_of_stream(chunks) == "echo: reload me please"
    assert time.monotonic() - started > 0.5  # the old worker kept streaming after the HUP
    assert wait_for(lambda: model_ids(gateway) is not None, timeout=10)

