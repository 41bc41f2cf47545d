"""The files in deploy/ stay true: the example config loads, gunicorn settings match the CLI."""
import pathlib
import runpy

from app.cli import GUNICORN_DEFAULTS
from app.config import load_config

DEPLOY = pathlib.Path(__file__).parent.parent / "deploy"


def test_example_config_loads(monkeypatch):
    for name in ("OPENAI_API_KEY", "GROQ_API_KEY", "SWITCHBOARD_MASTER_KEY"):
        monkeypatch.setenv(name, "set-in-test")
    settings = load_config(DEPLOY / "config.example.yaml")
    assert [d.provider for d in settings.by_name["llama3"]] == ["groq", "hosted_vllm"]


def test_gunicorn_conf_uses_the_cli_settings(monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_WORKERS", "3")
    monkeypatch.setattr("gevent.monkey.patch_all", lambda: None)
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert conf["workers"] == 3 and conf["bind"] == ["127.0.0.1:8000"]
    for key, value in GUNICORN_DEFAULTS.items():
        assert conf[key] == value
