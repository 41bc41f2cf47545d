"""Real PostgreSQL and Redis for the tests: one database / Redis db number per test session.

Without the servers (a laptop), tests that need them skip and say why; under ``CI=true`` a
missing server fails them instead, so CI cannot pass by skipping.
"""
import os
import socket
import uuid

import pytest

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
PG_DSN = "postgresql://postgres@127.0.0.1:5432"
# Claims in Redis db 0 so concurrent test sessions on one machine get different db numbers.
_CLAIM = "switchboard-tests:claim:{}"


def _reachable(host, port):
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def require(service, host, port):
    """Skip (or fail under CI) when ``service`` is not listening on host:port."""
    if _reachable(host, port):
        return
    reason = f"{service} is not running on {host}:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: these tests must run)")
    pytest.skip(reason)


def claim_redis_db():
    """A Redis db number (1-15) no other live test session holds, flushed."""
    import redis
    r0 = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    for db in range(15, 0, -1):
        if r0.set(_CLAIM.format(db), token, nx=True, ex=3 * 3600):
            redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db).flushdb()
            return db, token
    pytest.fail("every Redis db number 1-15 is claimed by another test session")


def release_redis_db(db, token):
    """Flush the db and give the number back."""
    import redis
    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db).flushdb()
    r0 = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
    if r0.get(_CLAIM.format(db)) == token.encode():
        r0.delete(_CLAIM.format(db))


@pytest.fixture(scope="session")
def redis_url():
    """redis://127.0.0.1:6379/<n>, a db number of this session's own (flushed before/after)."""
    require("Redis", REDIS_HOST, REDIS_PORT)
    db, token = claim_redis_db()
    yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    release_redis_db(db, token)


@pytest.fixture
def redis_clean(redis_url):
    """The session's Redis URL, flushed before the test."""
    import redis
    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


@pytest.fixture(scope="session")
def pg_url():
    """postgresql://... of a database created for this session and dropped after it."""
    require("PostgreSQL", "127.0.0.1", 5432)
    import psycopg
    name = f"switchboard_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(f"{PG_DSN}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_DSN}/{name}"
    with psycopg.connect(f"{PG_DSN}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path):
    """sqlite:////abs/path of a fresh file."""
    return f"sqlite:///{tmp_path / 'switchboard.db'}"
