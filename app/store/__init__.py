"""The gateway's database: one engine per worker, one schema, Alembic migrations beside it.

    general_settings.database_url, else env DATABASE_URL, else an embedded SQLite file
    (``<data dir>/switchboard.db``; data dir = SWITCHBOARD_DATA_DIR, else systemd's
    STATE_DIRECTORY, else $XDG_DATA_HOME/switchboard, else ~/.local/share/switchboard).

``postgresql://`` URLs use psycopg 3; ``sqlite:///relative`` / ``sqlite:////absolute`` the
stdlib driver. The schema is brought up to date once per process by ``Store.ensure_schema()``
(at start when a feature needs the database, or at first use), under a lock so that several
workers or instances starting at once against an empty database all come up.

Features keep their queries in small modules of this package named for what they answer
(``keys.py``, ``spend.py``, ``responses.py``); views never hold SQL.
"""
import logging
import os
import pathlib
import threading

log = logging.getLogger("switchboard.store")

EXTENSION = "switchboard.store"


def data_dir(environ=None):
    """Where the embedded SQLite file lives by default."""
    env = os.environ if environ is None else environ
    for name in ("SWITCHBOARD_DATA_DIR", "STATE_DIRECTORY"):
        if env.get(name):
            return pathlib.Path(env[name].split(":")[0])
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return pathlib.Path(base) / "switchboard"


def database_url(settings, environ=None):
    """The configured database URL, else the embedded SQLite default."""
    env = os.environ if environ is None else environ
    url = settings.general_settings.get("database_url") or env.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{data_dir(env) / 'switchboard.db'}"


def engine_url(url):
    """SQLAlchemy's spelling of ``url``: PostgreSQL goes through psycopg 3."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url, pool_size=20):
    """An engine for ``url`` with bounded waits (a dead database fails fast, never hangs).

    JSON columns are written with orjson (several times faster than the json module on the
    spend-row path; the same JSON, written without spaces).
    """
    from sqlalchemy import create_engine, event

    url = engine_url(url)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5},
                               pool_size=pool_size, max_overflow=pool_size, pool_timeout=5,
                               json_serializer=_json)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_timeout=5,
                         pool_pre_ping=True, connect_args={"connect_timeout": 3},
                         json_serializer=_json)


def _json(value):
    import orjson
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _sqlite_pragmas(dbapi_conn, _record):
    # WAL: readers don't block the writer; busy_timeout: writers from other workers queue.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


class Store:
    """The worker's engine plus a once-only schema upgrade."""

    def __init__(self, url):
        self.url = url
        self.engine = make_engine(url)
        self._ready = False
        self._lock = threading.Lock()

    @property
    def dialect(self):
        """``postgresql`` or ``sqlite``."""
        return self.engine.dialect.name

    def ensure_schema(self):
        """Apply pending migrations once per process (cheap after the first call)."""
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                from app.store.migrate import upgrade
                upgrade(self.engine)
                self._ready = True

    def dispose(self):
        """Close pooled connections (worker exit)."""
        self.engine.dispose()


def init_app(app, settings, environ=None):
    """Attach the worker's Store (no connection is opened until it is used)."""
    app.extensions[EXTENSION] = Store(database_url(settings, environ))


def store_of(app):
    """The app's Store."""
    return app.extensions[EXTENSION]
