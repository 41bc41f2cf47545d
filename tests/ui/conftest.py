"""Fixtures for the dashboard tests: a migrated store on SQLite and on PostgreSQL, an app."""
import re

import pytest

from app import create_app
from app.store import Store
from tests.conftest import base_config

MASTER = "sk-master-ui"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """A fresh database URL of each dialect (PostgreSQL skips without the server)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return _fresh_pg(request.getfixturevalue("pg_url"))


def _fresh_pg(url):
    # pg_url is one database per session: empty its tables so each test starts clean.
    import sqlalchemy as sa
    store = Store(url)
    store.ensure_schema()
    with store.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE spend_logs, keys, teams, users RESTART IDENTITY"))
    store.dispose()
    return url


@pytest.fixture
def store(db_url):
    """A migrated Store."""
    s = Store(db_url)
    s.ensure_schema()
    yield s
    s.dispose()


def make_ui_app(url, **general):
    """The gateway with a master key and the dashboard on, on the database ``url``."""
    return create_app(base_config(master_key=MASTER, database_url=url, **general))


@pytest.fixture
def ui_app(sqlite_url):
    """The dashboard app on a fresh SQLite file."""
    app = make_ui_app(sqlite_url)
    yield app
    app.extensions["switchboard.store"].dispose()


def csrf_of(html):
    """The CSRF token in a page's first form."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, key=MASTER):
    """Log ``client`` in with ``key``; returns the login response."""
    token = csrf_of(client.get("/ui/login").text)
    return client.post("/ui/login", data={"key": key, "csrf_token": token})


@pytest.fixture
def admin(ui_app):
    """A test client logged in with the master key."""
    client = ui_app.test_client()
    assert login(client).status_code == 302
    return client
