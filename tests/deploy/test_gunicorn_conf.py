"""deploy/gunicorn.conf.py's environment knobs (the shared settings: tests/test_deploy.py)."""
import os
import runpy

import pytest

from .conftest import DEPLOY


@pytest.fixture
def load_conf(monkeypatch):
    """Run the config file as gunicorn does, with gevent's patch stubbed out."""
    monkeypatch.setattr("gevent.monkey.patch_all", lambda: None)
    for name in ("SWITCHBOARD_BIND", "SWITCHBOARD_WORKERS", "SWITCHBOARD_ENV_FILE"):
        monkeypatch.delenv(name, raising=False)
    return lambda: runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))


def test_defaults(load_conf):
    conf = load_conf()

    assert conf["bind"] == ["127.0.0.1:8000"]
    assert conf["workers"] == len(os.sched_getaffinity(0))
    assert conf["raw_env"] == [] and conf["proc_name"] == "switchboard"
    assert conf["keepalive"] > 30  # nginx's upstream keepalive_timeout in deploy/nginx


def test_unix_socket_and_env_file(load_conf, monkeypatch, tmp_path):
    env_file = tmp_path / "switchboard.env"
    env_file.write_text("OPENAI_API_KEY=sk-rotated\n")
    monkeypatch.setenv("SWITCHBOARD_BIND", "unix:/run/switchboard/switchboard.sock")
    monkeypatch.setenv("SWITCHBOARD_ENV_FILE", str(env_file))
    conf = load_conf()

    assert conf["bind"] == ["unix:/run/switchboard/switchboard.sock"]
    assert conf["raw_env"] == ["OPENAI_API_KEY=sk-rotated"]
