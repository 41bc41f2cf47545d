"""Dashboard sessions: login with the master key or a virtual key, CSRF, expiry, rate limit.

The session is Flask's signed cookie holding who logged in (``role`` "admin" or "key", and for
a key its sha256 ``token``, never the raw key), a CSRF token and an absolute expiry. A virtual
key's session is re-checked against the keys store on every page, so blocking or deleting the
key ends it.
"""
import functools
import hashlib
import hmac
import secrets
import threading
import time

from flask import current_app, g, redirect, render_template, request, session
from flask.sessions import SecureCookieSessionInterface

SESSION_SECONDS = 12 * 3600
LOGIN_WINDOW = 300          # seconds
LOGIN_ATTEMPTS = 10         # failed attempts per client address per window
CSRF_FIELD = "csrf_token"


class Sessions(SecureCookieSessionInterface):
    """Flask's signed cookie, ``Secure`` exactly when the request came over TLS.

    ``request.is_secure`` follows X-Forwarded-Proto (ProxyFix), so behind the nginx site with
    TLS the cookie is Secure, and plain http://127.0.0.1 still works.
    """

    def get_cookie_secure(self, app):
        """Secure behind TLS only."""
        return bool(request) and request.is_secure

    def open_session(self, app, request):
        """The signed session on dashboard paths; an empty one (never saved) for the API."""
        if not request.path.startswith(UI_PREFIX):
            return None  # Flask then uses its null session: no cookie parsing, no signing
        return super().open_session(app, request)


UI_PREFIX = "/ui"


class UIProxyFix:
    """werkzeug's ProxyFix (scheme only) for dashboard paths; the API path skips the work.

    Only the dashboard needs the client's scheme (its cookie is Secure behind TLS).
    """

    def __init__(self, wsgi_app):
        from werkzeug.middleware.proxy_fix import ProxyFix
        self.plain = wsgi_app
        self.fixed = ProxyFix(wsgi_app, x_for=0, x_proto=1, x_host=0)

    def __call__(self, environ, start_response):
        """Apply ProxyFix when the path is the dashboard's."""
        if environ.get("PATH_INFO", "").startswith(UI_PREFIX):
            return self.fixed(environ, start_response)
        return self.plain(environ, start_response)


def secret_key(master_key, environ):
    """The session signing key: shared by every worker and instance with the same config."""
    explicit = environ.get("SWITCHBOARD_SECRET_KEY")
    if explicit:
        return explicit.encode()
    if master_key:
        return hmac.new(master_key, b"switchboard ui session v1", hashlib.sha256).digest()
    return secrets.token_bytes(32)  # no master key: sessions last for this worker only


def csrf_token():
    """The session's CSRF token (made on first use); templates put it in every POST form."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf():
    """Refuse a POST whose form lacks the session's CSRF token (400 naming CSRF)."""
    if request.method != "POST":
        return None
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get("csrf", "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        return render_template("error.html", title="CSRF check failed",
                               message="CSRF token missing or invalid: reload the page and "
                                       "try again."), 400
    return None


class LoginLimiter:
    """Failed logins per client address per window: Redis when configured, else this worker."""

    def __init__(self, kv=None):
        self.kv = kv
        self.local = {}
        self.lock = threading.Lock()

    def blocked(self, addr):
        """True while ``addr`` has used up its failed attempts."""
        if self.kv is not None:
            count = self.kv.run(lambda r: r.get(self._key(addr)), fallback=None)
            if count is not None:
                return int(count) >= LOGIN_ATTEMPTS
        with self.lock:
            start, count = self.local.get(addr, (0, 0))
            return time.monotonic() - start < LOGIN_WINDOW and count >= LOGIN_ATTEMPTS

    def failed(self, addr):
        """Count one failed attempt (INCR + EXPIRE in one transaction: no read-then-write)."""
        if self.kv is not None:
            def bump(r):
                pipe = r.pipeline(transaction=True)
                pipe.incr(self._key(addr))
                pipe.expire(self._key(addr), LOGIN_WINDOW, nx=True)
                pipe.execute()
                return True
            if self.kv.run(bump, fallback=False):
                return
        with self.lock:
            start, count = self.local.get(addr, (0, 0))
            if time.monotonic() - start >= LOGIN_WINDOW:
                start, count = time.monotonic(), 0
            self.local[addr] = (start, count + 1)

    @staticmethod
    def _key(addr):
        # The address hashed: no client IP in Redis key names.
        return "ui:login:" + hashlib.sha256(str(addr).encode()).hexdigest()[:32]


def client_address():
    """Who is trying to log in: the peer, or behind a local proxy (the nginx site) the address
    that proxy appended to X-Forwarded-For (only a local peer is trusted to set it)."""
    addr = request.remote_addr or "-"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if addr in ("127.0.0.1", "::1") and forwarded:
        return forwarded.rsplit(",", 1)[-1].strip() or addr
    return addr


def authenticate(raw):
    """The session fields for a master or virtual key, or None."""
    master = current_app.config["SWITCHBOARD_MASTER_KEY"]
    if master is not None and hmac.compare_digest(raw.encode(), master):
        return {"role": "admin", "name": "admin"}
    try:
        from app.keys.manage import check_key
    except ImportError:
        return None
    info = check_key(current_app, raw)
    if not info:
        return None
    token = info.get("token_id") or info.get("token") or hashlib.sha256(raw.encode()).hexdigest()
    return {"role": "key", "token": token,
            "name": info.get("key_alias") or info.get("key_name") or token[:8]}


def start_session(fields):
    """A fresh session (new CSRF token, new expiry) for a successful login."""
    session.clear()
    session.permanent = True
    session.update(fields)
    session["exp"] = int(time.time()) + SESSION_SECONDS
    session["csrf"] = secrets.token_urlsafe(32)


def load_principal():
    """Set ``g.ui_user`` from the session (None when absent, expired or the key is gone)."""
    g.ui_user = None
    if not session.get("role") or session.get("exp", 0) < time.time():
        return
    if session["role"] == "key" and not _key_still_usable(session.get("token")):
        session.clear()
        return
    g.ui_user = {"role": session["role"], "name": session.get("name"),
                 "token": session.get("token"), "admin": session["role"] == "admin"}


def _key_still_usable(token):
    try:
        from app.keys.manage import key_info
    except ImportError:
        return False
    from app import errors
    try:
        info = key_info(current_app, token)
    except errors.SwitchboardError:
        return False
    info = info.get("info", info) if isinstance(info, dict) else {}
    return bool(info) and not info.get("blocked")


def login_required(admin=False):
    """Decorator: a logged-in user (an admin when ``admin``), else the login page / 403."""
    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            user = g.get("ui_user")
            if user is None:
                return redirect("/ui/login?next=" + request.path)
            if admin and not user["admin"]:
                return render_template("error.html", title="Admins only",
                                       message="This page needs the master key."), 403
            return view(*args, **kwargs)
        return inner
    return wrap
