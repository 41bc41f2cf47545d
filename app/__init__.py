"""Switchboard: one OpenAI-compatible endpoint in front of every LLM provider.

This module stays import-light on purpose: the ``switchboard`` command imports the package in
gunicorn's arbiter, which must not load ssl (Flask, requests) before gevent patches it.
"""
import os
import time


def settings_from_env():
    """The gateway config named by the environment (what the CLI and wsgi.py pass on)."""
    from app.config import load_config, single_model_config
    path = os.environ.get("SWITCHBOARD_CONFIG")
    if path:
        return load_config(path)
    model = os.environ.get("SWITCHBOARD_MODEL")
    return load_config(single_model_config(model) if model else None)


def create_app(config=None):
    """Build the app: defaults, then the config (Settings, mapping, path or env), then init parts.

    ``config`` may be a ``Settings``, a LiteLLM-format mapping, a YAML path, or None to use
    ``SWITCHBOARD_CONFIG`` / ``SWITCHBOARD_MODEL`` from the environment (default: the mock demo).
    """
    from app import accesslog, errors, gateway, http, keys, kv, observability, router, store
    from app.cache import stage as cache
    from app.config import Settings, load_config
    from app.flask_app import SyncFlask
    from app.health.views import READY
    from app.views import BLUEPRINTS

    if isinstance(config, Settings):
        settings = config
    else:
        settings = settings_from_env() if config is None else load_config(config)
    app = SyncFlask(__name__)
    app.config.update(
        SWITCHBOARD_MASTER_KEY=settings.master_key,
        SWITCHBOARD_STARTED=int(time.time()),
        MAX_CONTENT_LENGTH=int(settings.max_request_size_mb * 1024 * 1024),
    )
    app.extensions["switchboard.settings"] = settings
    errors.init_app(app)
    http.init_app(app)
    kv.init_app(app, settings)
    store.init_app(app, settings)
    router.init_app(app, settings, http.session_of(app), http.guarded_session_of(app))
    accesslog.init_app(app, settings.access_log)
    observability.init_app(app, settings)
    keys.init_app(app, settings)
    cache.init_app(app, settings, observability.of(app).metrics.registry)
    gateway.init_app(app)
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    from app import ui
    ui.init_app(app, settings)
    app.extensions[READY] = True
    return app
