"""The admin dashboard at /ui: server-rendered pages over the keys store, spend logs and router.

    GET /            -> redirect to /ui (when the dashboard is on)
    /ui/login        master key (admin) or a virtual key (read-only: its own usage)
    /ui, /ui/keys, /ui/teams, /ui/users, /ui/models, /ui/logs, /ui/spend

``general_settings.ui: false`` turns it off. Pages authenticate with the session cookie (see
``auth``), not the API's bearer header; every POST carries a CSRF token.
"""
import datetime as dt
import os

from flask import Blueprint, g, request

from app.ui import auth, charts

bp = Blueprint("ui", __name__, template_folder="templates", static_folder="static",
               static_url_path="/ui/static")
EXTENSION = "switchboard.ui"
# Everything from our own origin; inline style attributes only (the budget bars' widths).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


def enabled(settings):
    """Whether general_settings turns the dashboard on (default: on)."""
    return settings.general_settings.get("ui", True) is not False


def _datetime(value):
    if not value:
        return "—"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _daydate(epoch):
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).date().isoformat()


def _context():
    return {"csrf_token": auth.csrf_token, "user": g.get("ui_user")}


def init_app(app, settings, environ=None):
    """Register the dashboard (unless turned off): session cookie, ProxyFix, blueprint."""
    if not enabled(settings):
        return
    from app.kv import kv_of
    from app.ui import admin, org, views  # noqa: F401  (routes register on bp)

    env = os.environ if environ is None else environ
    app.secret_key = auth.secret_key(app.config["SWITCHBOARD_MASTER_KEY"], env)
    app.session_interface = auth.Sessions()
    app.config.update(SESSION_COOKIE_NAME="switchboard_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax",
                      PERMANENT_SESSION_LIFETIME=dt.timedelta(seconds=auth.SESSION_SECONDS))
    # The nginx site sends X-Forwarded-Proto: https behind TLS; only the scheme is trusted.
    app.wsgi_app = auth.UIProxyFix(app.wsgi_app)
    app.extensions[EXTENSION] = auth.LoginLimiter(kv_of(app))
    app.jinja_env.filters.update(money=charts.money, compact=charts.compact, when=_datetime,
                                   daydate=_daydate)
    app.register_blueprint(bp)


@bp.app_context_processor
def _inject():
    return _context()


@bp.before_request
def _guard():
    if request.endpoint == "ui.static":
        return None
    auth.load_principal()
    return auth.check_csrf()


@bp.after_request
def _headers(resp):
    # Pages show spend and keys: never cached by a browser or proxy; never framed.
    if request.endpoint != "ui.static":
        resp.headers.setdefault("Cache-Control", "no-store")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    return resp
