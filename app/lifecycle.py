"""Gunicorn hooks shared by ``switchboard`` and ``gunicorn -c deploy/gunicorn.conf.py``.

What happens under operations (gunicorn's own signal handling, plus these hooks):

    SIGHUP   the arbiter re-reads its settings (and, from deploy/gunicorn.conf.py, the env file
             named by SWITCHBOARD_ENV_FILE), starts new workers that load the config and the app
             code from disk again, then sends SIGTERM to the old ones.
    SIGTERM  to the arbiter: it closes the listener and sends SIGTERM to every worker.
             to a worker: it stops accepting, serves what is in flight (streams included) for
             up to graceful_timeout, then exits; /health/readiness answers 503 meanwhile.

Kept import-light like ``app/__init__`` (gevent is imported inside the hooks, nothing imports
ssl): the arbiter imports this module.
``python -m app.lifecycle`` checks the config named by the environment (systemd runs it before
start and reload, so a broken config never takes the running workers down).
"""
import os
import sys

from app.sockets import pending_bytes

# app.extensions key: a callable telling whether this worker still accepts new work.
SERVING = "switchboard.serving"


def listening_url(listener):
    """A clickable address for a gunicorn listener (0.0.0.0 and :: shown as 127.0.0.1)."""
    address = listener.getsockname()
    if isinstance(address, (str, bytes)):
        return f"unix:{os.fsdecode(address)}"
    host, port = address[:2]
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def when_ready(server):
    """Arbiter: say where we listen, once the sockets are bound."""
    urls = ", ".join(listening_url(listener) for listener in server.LISTENERS)
    print(f"Switchboard listening on {urls}", flush=True)


def forget_app_modules(modules=None):
    """Drop the ``app`` package from ``modules`` (default sys.modules) so it is imported anew."""
    modules = sys.modules if modules is None else modules
    for name in [n for n in modules if n in ("app", "wsgi") or n.startswith("app.")]:
        del modules[name]


def post_fork(server, worker):
    """Worker, before loading the app: use the code on disk, not what the arbiter imported.

    The arbiter imported ``app`` (for these settings) when it started; without this, workers
    started by a reload after an upgrade would mix that old package with new modules.
    """
    forget_app_modules()


def post_worker_init(worker):
    """Worker, app loaded: readiness follows the worker (503 while it drains); idle close."""
    extensions = getattr(worker.wsgi, "extensions", None)
    if extensions is not None:
        extensions[SERVING] = lambda: worker.alive
    if hasattr(worker, "timeout_ctx") and hasattr(worker, "handle"):
        IdleConnections(worker).install()


# Seconds a kept-alive connection must have been quiet before a draining worker closes it.
IDLE_GRACE = 0.5


class IdleConnections:
    """Ends a draining worker's idle kept-alive connections at once instead of after keepalive.

    gunicorn's gevent worker waits for in-flight work before exiting, and a connection idling
    between two requests counts as in flight until its keepalive (75 s) passes: nginx's pooled
    connections would hold every stop and reload that long. Here the wait for a connection's
    next request is gunicorn's own silent keepalive timeout, which the drain ends early, only
    for connections that already served a request, have been quiet for IDLE_GRACE and have no
    bytes of a new one waiting.
    """

    def __init__(self, worker):
        import weakref

        import gevent
        self.worker = worker
        self.keepalive = worker.cfg.keepalive
        self.timeout, self.current = gevent.Timeout, gevent.getcurrent
        self.waits = set()
        self.served = weakref.WeakSet()  # greenlets past their connection's first request
        self.clients = weakref.WeakKeyDictionary()  # greenlet -> its client socket

    def install(self):
        """Take over the worker's keepalive wait; watch for the drain."""
        import gevent
        handle = self.worker.handle

        def handle_connection(listener, client, addr):
            self.clients[self.current()] = client
            return handle(listener, client, addr)

        self.worker.handle = handle_connection
        self.worker.timeout_ctx = lambda: _KeepaliveWait(self)
        gevent.spawn(self.watch)

    def watch(self):
        """Once the worker stops accepting, close connections as they have idled a moment.

        A connection that has just served a request is usually about to carry the next one
        (clients and nginx reuse them back to back); closing it then would race that request.
        Left alone, its next request is served with ``Connection: close`` (gunicorn does that
        while the worker stops), so only connections quiet for IDLE_GRACE are closed here.
        """
        import time

        import gevent
        while self.worker.alive:
            gevent.sleep(0.25)
        while True:
            now = time.monotonic()
            for wait in list(self.waits):
                if wait.idle and now - wait.since >= IDLE_GRACE:
                    self.close_if_idle(wait)
            gevent.sleep(0.05)

    def close_if_idle(self, wait):
        """End ``wait`` from the hub, as a timer would, unless bytes of a request are waiting."""
        from gevent import get_hub
        get_hub().loop.run_callback(wait.expire_if_idle)


class _KeepaliveWait:
    """``with`` block around reading a connection's next request (gunicorn's timeout_ctx)."""

    def __init__(self, connections):
        import time
        self.connections = connections
        self.greenlet = connections.current()
        self.idle = self.greenlet in connections.served
        self.since = time.monotonic()
        self.timeout = connections.timeout(connections.keepalive, False)  # silent, as gunicorn's

    def __enter__(self):
        self.connections.served.add(self.greenlet)
        self.connections.waits.add(self)
        self.timeout.start()
        return self

    def __exit__(self, typ, value, tb):
        self.connections.waits.discard(self)
        return self.timeout.__exit__(typ, value, tb)

    def expire_if_idle(self):
        """The keepalive timeout, now, unless a request has started to arrive; gunicorn then
        closes the connection quietly. Checked at the last moment to keep the race with a
        request on its way as short as it can be."""
        client = self.connections.clients.get(self.greenlet)
        if self in self.connections.waits and not pending_bytes(client):
            self.greenlet.throw(self.timeout)


def worker_exit(server, worker):
    """Worker, on the way out: close the access log file and flush what Python still buffers."""
    extensions = getattr(getattr(worker, "wsgi", None), "extensions", None) or {}
    for flush in extensions.get("switchboard.on_exit", ()):  # e.g. queued spend rows
        flush()
    access_log = extensions.get("switchboard.accesslog")
    if access_log is not None:
        access_log.close()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()


def read_env_file(path):
    """``NAME=value`` lines of a systemd EnvironmentFile, as gunicorn's ``raw_env`` list.

    Read by deploy/gunicorn.conf.py each time the arbiter loads it (start and every SIGHUP), so
    a rotated provider key in that file reaches the new workers with ``systemctl reload``.
    Blank lines and ``#``/``;`` comments are skipped; one pair of surrounding quotes is removed.
    """
    if not path:
        return []
    pairs = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if not line or line[0] in "#;" or "=" not in line:
                continue
            name, value = (part.strip() for part in line.split("=", 1))
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            pairs.append(f"{name}={value}")
    return pairs


def check_config():
    """Load the config the workers would load; 0 if it is good, else print why and return 1."""
    from app import settings_from_env
    from app.config import ConfigError
    try:
        settings = settings_from_env()
    except ConfigError as exc:
        print(f"switchboard: bad config: {exc}", file=sys.stderr)
        return 1
    print(f"switchboard: config ok ({len(settings.by_name)} models)")
    return 0


if __name__ == "__main__":
    sys.exit(check_config())
