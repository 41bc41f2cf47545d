"""The pooled outbound HTTP sessions: built once per worker process in init_app.

requests resolves the proxy environment (HTTP(S)_PROXY, NO_PROXY, netrc, CA bundle variables) on
every call when ``trust_env`` is on, which costs about a quarter of a relay's CPU. We look once at
start-up: with no proxy configured we turn it off and pin the CA bundle; with a proxy we keep
requests' own handling so NO_PROXY stays correct.

A second, *guarded* session serves client-chosen ``api_base`` values: its connections check the
address they actually connected to, so a name that passed the policy check and then re-resolves
to a private address (DNS rebinding) is refused before a byte is sent.
"""
import ipaddress
import os
import urllib.request

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from app.overrides import is_public_address

EXTENSION = "switchboard.http"
GUARDED = "switchboard.http.guarded"


class _PeerCheck:
    """Mixin: refuse a connection whose peer is not a public address."""

    def _new_conn(self):
        sock = super()._new_conn()
        peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
        if not is_public_address(peer):
            sock.close()
            raise NewConnectionError(self, "refused: api_base resolved to a non-public address")
        return sock


class _GuardedHTTPConnection(_PeerCheck, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_PeerCheck, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool,
                                                   "https": _GuardedHTTPSPool}


def build_session(pool_size=1000, adapter_class=HTTPAdapter):
    """A keep-alive session whose pool fits the gevent worker's connection count."""
    session = requests.Session()
    adapter = adapter_class(pool_connections=16, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if not urllib.request.getproxies():
        session.trust_env = False
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
    return session


def init_app(app):
    """Attach the worker's sessions to the app."""
    size = app.config.get("SWITCHBOARD_POOL_SIZE", 1000)
    app.extensions[EXTENSION] = build_session(size)
    app.extensions[GUARDED] = build_session(64, _GuardedAdapter)


def session_of(app):
    """The session built for this app."""
    return app.extensions[EXTENSION]


def guarded_session_of(app):
    """The session for client-chosen API bases."""
    return app.extensions[GUARDED]
