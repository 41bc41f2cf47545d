"""``switchboard db upgrade`` and ``switchboard keys ...`` against a running gateway."""
import subprocess

import pytest

from tests.e2e.helpers import CONSOLE_SCRIPT, MASTER_KEY, start_gateway

pytestmark = pytest.mark.e2e


def run(*args, env=None):
    import os
    done = subprocess.run([str(CONSOLE_SCRIPT), *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})
    return done.returncode, done.stdout + done.stderr


def test_db_upgrade_creates_the_schema(tmp_path, sqlite_url):
    import sqlite3

    import yaml
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"model_list": [{"model_name": "demo", "litellm_params": {
        "model": "mock/demo"}}], "general_settings": {"database_url": sqlite_url}}))
    code, out = run("db", "upgrade", "--config", str(path))
    assert code == 0, out
    with sqlite3.connect(sqlite_url.split(":///", 1)[1]) as db:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert {"keys", "teams", "users", "spend_logs"} <= names


def test_keys_commands(tmp_path):
    config = {"model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
              "general_settings": {"master_key": MASTER_KEY}}
    gw = start_gateway(tmp_path, config, env={"SWITCHBOARD_DATA_DIR": str(tmp_path / "d")})
    env = {"SWITCHBOARD_MASTER_KEY": MASTER_KEY}
    try:
        code, out = run("keys", "--url", gw.url, "generate", "--alias", "ops", "--rpm", "5",
                        env=env)
        assert code == 0, out
        raw = out.split()[1]
        assert raw.startswith("sk-") and "ops" in out
        code, out = run("keys", "--url", gw.url, "list", env=env)
        assert code == 0 and "ops" in out and raw not in out
        assert run("keys", "--url", gw.url, "block", raw, env=env)[0] == 0
        code, out = run("keys", "--url", gw.url, "info", raw, env=env)
        assert '"blocked": true' in out
        code, out = run("keys", "--url", gw.url, "update", raw, "--tpm", "9", env=env)
        assert code == 0 and "9" in out
        assert run("keys", "--url", gw.url, "delete", raw, env=env) == (0, "deleted 1 key(s)\n")
        code, out = run("keys", "--url", gw.url, "list", env={})
        assert code != 0 and "SWITCHBOARD_MASTER_KEY" in out
    finally:
        gw.stop()
