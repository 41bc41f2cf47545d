"""deploy/systemd: the unit passes systemd-analyze verify and agrees with the gunicorn settings."""
import re
import subprocess
import sys
from pathlib import Path

from app.cli import GUNICORN_DEFAULTS

from .conftest import DEPLOY, REPO, require_tool

UNIT = DEPLOY / "systemd" / "switchboard.service"


def unit_settings():
    """The [Service] section as {key: [values]} (systemd keys may repeat)."""
    settings = {}
    for line in UNIT.read_text().splitlines():
        match = re.match(r"^(\w+)=(.*)$", line)
        if match:
            settings.setdefault(match[1], []).append(match[2])
    return settings


def test_systemd_analyze_verify(tmp_path):
    # Not installed by .ci/run (it comes with systemd); where it exists, it always runs.
    systemd_analyze = require_tool("systemd-analyze", installed_by_ci=False)
    # The unit names /opt/switchboard; point it at this checkout and venv so the executables
    # it names exist here, as they will on the VM.
    venv = Path(sys.executable).parent.parent
    text = UNIT.read_text().replace("/opt/switchboard/venv", str(venv)) \
        .replace("/opt/switchboard", str(REPO))
    unit = tmp_path / "switchboard.service"
    unit.write_text(text)
    result = subprocess.run([systemd_analyze, "verify", str(unit)], capture_output=True,
                            text=True, timeout=60)

    # verify exits 0 on unknown keys and bad values too: it only prints them. Lines about
    # other units (the host's own) are not ours.
    ours = [line for line in (result.stdout + result.stderr).splitlines()
            if "switchboard" in line]
    assert result.returncode == 0 and ours == [], result.stdout + result.stderr


def test_unit_matches_the_gunicorn_settings():
    settings = unit_settings()

    assert settings["ExecReload"][-1] == "/bin/kill -HUP $MAINPID"
    assert "deploy/gunicorn.conf.py wsgi:app" in settings["ExecStart"][0]
    assert settings["KillMode"] == ["mixed"]  # SIGTERM to the arbiter, which drains
    assert int(settings["TimeoutStopSec"][0]) > GUNICORN_DEFAULTS["graceful_timeout"]
    for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                       ("Restart", "on-failure"), ("User", "switchboard")):
        assert settings[key] == [value], key
    assert settings["EnvironmentFile"] and settings["LimitNOFILE"] and settings["ReadWritePaths"]


def test_env_example_is_a_valid_environment_file():
    from app.lifecycle import read_env_file
    pairs = read_env_file(str(DEPLOY / "systemd" / "switchboard.env.example"))

    assert "OPENAI_API_KEY=sk-..." in pairs and all("=" in p for p in pairs)


def test_nginx_keepalive_is_shorter_than_gunicorns():
    site = (DEPLOY / "nginx" / "switchboard.conf").read_text()
    nginx_idle = int(re.search(r"^\s*keepalive_timeout (\d+)s;", site, re.M)[1])

    assert nginx_idle < GUNICORN_DEFAULTS["keepalive"]

