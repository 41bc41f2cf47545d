"""Gunicorn settings for ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

The same settings and hooks the ``switchboard`` command uses (app.cli.GUNICORN_DEFAULTS, with
the hooks in app/lifecycle.py), so both ways of starting behave alike. Environment knobs:

    SWITCHBOARD_CONFIG    the config.yaml the workers load (re-read on every SIGHUP)
    SWITCHBOARD_BIND      127.0.0.1:8000 (default) or unix:/run/switchboard/switchboard.sock
    SWITCHBOARD_WORKERS   default: one per CPU this process may run on
    SWITCHBOARD_ENV_FILE  a systemd EnvironmentFile (provider keys) read again on every SIGHUP,
                          so ``systemctl reload`` hands rotated keys to the new workers

Anything else can be overridden without editing this file through gunicorn's own
GUNICORN_CMD_ARGS, e.g. ``GUNICORN_CMD_ARGS="--graceful-timeout 300"``.

Logging: the app writes one JSON line per request to stdout (or to general_settings.access_log)
with request id, model, status, latency and usage, so gunicorn's access log stays off; its
error log (starts, reloads, worker exits) goes to stderr. Under systemd both land in the journal.
"""
# Patch before gunicorn or the app import ssl, exactly as the switchboard command does.
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402

from app import lifecycle  # noqa: E402
from app.cli import GUNICORN_DEFAULTS  # noqa: E402


def _cpu_count():
    """CPUs this process may use (honours taskset/cgroup cpusets), at least 1."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


globals().update(GUNICORN_DEFAULTS)
bind = [os.environ.get("SWITCHBOARD_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("SWITCHBOARD_WORKERS") or _cpu_count())
raw_env = lifecycle.read_env_file(os.environ.get("SWITCHBOARD_ENV_FILE"))
proc_name = "switchboard"
