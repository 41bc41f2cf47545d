"""WSGI entry point: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

The config file comes from ``SWITCHBOARD_CONFIG`` (or one model from ``SWITCHBOARD_MODEL``);
with neither, the gateway serves the built-in ``demo`` mock model.
"""
from app import create_app

app = create_app()
