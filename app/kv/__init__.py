"""The one Redis client of a worker, shared by the router, keys/limits and the cache.

Every Redis call goes through ``KV.run``: it is time-limited (``socket_timeout``, a few ms to
tens of ms, never the 2 s a request may take) and guarded by a circuit breaker. The first
failure opens the breaker: later calls return their fallback at once without touching the
network, one log line says Redis is down, and a background greenlet pings until Redis answers
again (every ``probe_interval`` seconds), then closes the breaker and logs that sharing resumed.
Callers pass the fallback they can serve with (usually "use the in-process state"), so a dead or
hung Redis never becomes a 5xx or a hang.

Atomic rules live as Lua files in ``app/kv/scripts/<name>.lua`` and run with ``KV.script``
(redis-py's ``register_script``: EVALSHA, loading the script on NOSCRIPT). A line
``-- include: <file>`` inlines ``scripts/<file>.lua`` there (Redis scripts cannot import).

One ``KV`` per distinct connection (URL + db) per worker: ``connect(app, url)`` returns the
shared one. ``kv_of(app)`` is the one named by ``router_settings`` (or ``REDIS_URL``), which
the router and the key limits use; the cache may name its own (``cache_params``).
"""
import logging
import pathlib
import threading
import time
from urllib.parse import quote

log = logging.getLogger("switchboard.kv")

EXTENSION = "switchboard.kv"
SCRIPTS = pathlib.Path(__file__).parent / "scripts"
# Bounds on the request path: a refused connection fails in microseconds, a silent one here.
SOCKET_TIMEOUT = 0.05
CONNECT_TIMEOUT = 0.05
_INCLUDE = "-- include: "


def script_text(name):
    """The text of ``scripts/<name>.lua`` with its ``-- include: <file>`` lines inlined."""
    lines = (SCRIPTS / f"{name}.lua").read_text().splitlines(keepends=True)
    return "".join(script_text(line[len(_INCLUDE):].strip()) if line.startswith(_INCLUDE)
                   else line for line in lines)
PROBE_INTERVAL = 1.0
POOL_SIZE = 256


class KVUnavailableError(Exception):
    """Redis is down or slow right now (the breaker is open or the call failed)."""


class KV:
    """A pooled redis-py client behind a circuit breaker; safe to share by greenlets."""

    def __init__(self, url, socket_timeout=SOCKET_TIMEOUT, probe_interval=PROBE_INTERVAL,
                 label="redis"):
        import redis

        self.url = url
        self.label = label
        self.probe_interval = probe_interval
        self._errors = (redis.RedisError, OSError)
        self.pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=POOL_SIZE, timeout=socket_timeout,
            socket_timeout=socket_timeout,
            # A longer configured timeout covers connecting too (a busy worker may take more
            # than 50 ms to see a connect complete when hundreds open at once).
            socket_connect_timeout=max(CONNECT_TIMEOUT, socket_timeout),
            health_check_interval=0)
        self.redis = redis.Redis(connection_pool=self.pool)
        self._scripts = {}
        self._lock = threading.Lock()
        self._open_since = None  # monotonic time the breaker opened, None when closed
        self._prober = None
        self.failures = 0  # calls that failed (for /metrics)

    @property
    def available(self):
        """True while the breaker is closed (Redis answered the last time we asked)."""
        return self._open_since is None

    def run(self, fn, fallback=KVUnavailableError):
        """``fn(redis_client)``; on any Redis failure (or an open breaker) the fallback.

        ``fallback`` is a value to return, or an exception class to raise (the default).
        """
        if self._open_since is None:
            try:
                return fn(self.redis)
            except self._errors as exc:
                self._trip(exc)
        if isinstance(fallback, type) and issubclass(fallback, BaseException):
            raise fallback(f"{self.label} unavailable")
        return fallback

    def script(self, name, keys=(), args=(), fallback=KVUnavailableError):
        """Run ``scripts/<name>.lua`` atomically with ``keys``/``args``; fallback as ``run``."""
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.redis.register_script(script_text(name))
        return self.run(lambda r: script(keys=list(keys), args=list(args)), fallback)

    def _trip(self, exc):
        with self._lock:
            self.failures += 1
            if self._open_since is not None:
                return
            self._open_since = time.monotonic()
            log.warning("%s unreachable (%s); serving with local state until it answers",
                        self.label, type(exc).__name__)
            self._prober = threading.Thread(target=self._probe, name="kv-probe", daemon=True)
            self._prober.start()

    def _probe(self):
        while self._open_since is not None:
            time.sleep(self.probe_interval)
            try:
                self.redis.ping()
            except self._errors:
                continue
            with self._lock:
                down = time.monotonic() - self._open_since
                self._open_since = None
            log.warning("%s is back after %.1f s; shared state resumes", self.label, down)

    def close(self):
        """Stop probing and drop the pool's connections."""
        self._open_since = None
        self.pool.disconnect()


def redis_url(host=None, port=None, password=None, db=None, url=None, username=None, ssl=False):
    """One URL from LiteLLM's split settings (``redis_host``/``redis_port``/...), or ``url``."""
    if url:
        if db is not None and "/" not in url.split("://", 1)[-1].split("?", 1)[0]:
            return f"{url.rstrip('/')}/{int(db)}"
        return url
    if not host:
        return None
    auth = ""
    if password:
        auth = f"{quote(username or '', safe='')}:{quote(str(password), safe='')}@"
    scheme = "rediss" if ssl else "redis"
    return f"{scheme}://{auth}{host}:{int(port or 6379)}/{int(db or 0)}"


def settings_url(settings, environ):
    """The Redis URL shared by router and limits: ``router_settings``, else ``REDIS_*`` env."""
    rs = settings.router_settings
    url = redis_url(host=rs.get("redis_host"), port=rs.get("redis_port"),
                    password=rs.get("redis_password"), db=rs.get("redis_db"),
                    url=rs.get("redis_url"))
    if url:
        return url
    return redis_url(host=environ.get("REDIS_HOST"), port=environ.get("REDIS_PORT"),
                     password=environ.get("REDIS_PASSWORD"), url=environ.get("REDIS_URL"),
                     username=environ.get("REDIS_USERNAME"))


def connect(app, url, socket_timeout=None, label="redis"):
    """The worker's shared ``KV`` for ``url`` (created on first use); None when url is None."""
    if not url:
        return None
    clients = app.extensions.setdefault(EXTENSION + ".all", {})
    client = clients.get(url)
    if client is None:
        client = clients[url] = KV(url, socket_timeout or SOCKET_TIMEOUT, label=label)
    return client


def init_app(app, settings, environ=None):
    """Build the router/limits client from the settings (None when Redis is not configured)."""
    import os
    environ = os.environ if environ is None else environ
    timeout = settings.router_settings.get("redis_socket_timeout")
    app.extensions[EXTENSION] = connect(app, settings_url(settings, environ), timeout)


def kv_of(app):
    """The shared client of the router and the limits, or None without Redis."""
    return app.extensions.get(EXTENSION)


def close_all(app):
    """Close every client of this app (worker exit)."""
    for client in app.extensions.get(EXTENSION + ".all", {}).values():
        client.close()
