"""The pooled outbound HTTP session: one per worker process, built in init_app.

requests resolves the proxy environment (HTTP(S)_PROXY, NO_PROXY, netrc, CA bundle variables) on
every call when ``trust_env`` is on, which costs about a quarter of a relay's CPU. We look once at
start-up: with no proxy configured we turn it off and pin the CA bundle; with a proxy we keep
requests' own handling so NO_PROXY stays correct.
"""
import os
import urllib.request

import requests
from requests.adapters import HTTPAdapter

EXTENSION = "switchboard.http"


def build_session(pool_size=1000):
    """A keep-alive session whose pool fits the gevent worker's connection count."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if not urllib.request.getproxies():
        session.trust_env = False
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
    return session


def init_app(app):
    """Attach the worker's session to the app."""
    app.extensions[EXTENSION] = build_session(app.config.get("SWITCHBOARD_POOL_SIZE", 1000))


def session_of(app):
    """The session built for this app."""
    return app.extensions[EXTENSION]
