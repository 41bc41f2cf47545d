"""The pooled outbound HTTP sessions: built once per worker process in init_app.

requests resolves the proxy environment (HTTP(S)_PROXY, NO_PROXY, netrc, CA bundle variables) on
every call when ``trust_env`` is on, which costs about a quarter of a relay's CPU. We look once at
start-up: with no proxy configured we turn it off and pin the CA bundle; with a proxy we keep
requests' own handling so NO_PROXY stays correct.

A second, *guarded* session serves client-chosen ``api_base`` values: its connections check the
address they actually connected to, so a name that passed the policy check and then re-resolves
to a private address (DNS rebinding) is refused before a byte is sent.
"""
import http.cookiejar
import ipaddress
import os
import urllib.request

import requests
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from app.overrides import is_public_address

EXTENSION = "switchboard.http"
GUARDED = "switchboard.http.guarded"
_NO_PROXIES = {}
_REJECT_COOKIES = http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
_NO_COOKIES = RequestsCookieJar(policy=_REJECT_COOKIES)
_URL_CACHE_MAX = 4096
_urls = {}


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
    # One session serves every client: never keep a cookie one upstream answer set.
    session.cookies.set_policy(_REJECT_COOKIES)
    if not urllib.request.getproxies():
        session.trust_env = False
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
    return session


def post(session, url, data, headers, timeout, stream=False):
    """POST ``data`` through the session's pool without redirects.

    ``Session.request`` merges session headers, cookies, hooks and the proxy environment into
    every call (about 170 us of CPU each here, a third of a relayed call); our headers are
    already complete and cookies are never kept, so the request is prepared directly and handed
    to ``Session.send``. Proxies are still resolved per URL when the environment has any.
    """
    req = PreparedRequest()
    req.method = "POST"
    req.url = _prepared_url(url)
    req.headers = CaseInsensitiveDict(headers)
    req.headers["Content-Length"] = str(len(data))
    req.body = data
    req.hooks = {"response": []}
    req._cookies = _NO_COOKIES  # read (copied) only if the upstream answers with a redirect
    # A CA bundle path makes requests stat it on every call; plain http has nothing to verify.
    verify = True if req.url.startswith("http:") else session.verify
    if session.trust_env:
        return session.send(req, timeout=timeout, stream=stream, allow_redirects=False,
                            verify=verify)
    return session.send(req, timeout=timeout, stream=stream, allow_redirects=False,
                        proxies=_NO_PROXIES, verify=verify)


def _prepared_url(url):
    # requests' URL normalisation (IDNA hosts, re-quoting) costs ~20 us; bases repeat, so cache.
    prepared = _urls.get(url)
    if prepared is None:
        probe = PreparedRequest()
        probe.prepare_url(url, None)
        prepared = probe.url
        if len(_urls) >= _URL_CACHE_MAX:
            _urls.clear()
        _urls[url] = prepared
    return prepared


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
