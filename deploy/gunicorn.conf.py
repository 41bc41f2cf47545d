"""Gunicorn settings for ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

The same settings the ``switchboard`` command uses (app.cli.GUNICORN_DEFAULTS), so both ways of
starting behave alike. Environment knobs: SWITCHBOARD_BIND (default 127.0.0.1:8000, or
unix:/run/switchboard/switchboard.sock), SWITCHBOARD_WORKERS (default: one per CPU) and
SWITCHBOARD_CONFIG (the config.yaml the workers load).
"""
# Patch before gunicorn or the app import ssl, exactly as the switchboard command does.
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402

from app.cli import GUNICORN_DEFAULTS  # noqa: E402

globals().update(GUNICORN_DEFAULTS)
bind = [os.environ.get("SWITCHBOARD_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("SWITCHBOARD_WORKERS", os.cpu_count() or 1))
proc_name = "switchboard"
