"""The store package: URL resolution, migrations on SQLite and PostgreSQL, concurrent starts."""
import subprocess
import sys
import textwrap

import sqlalchemy as sa

from app import store
from app.config import load_config


def _settings(**general):
    return load_config({"model_list": [{"model_name": "m", "litellm_params": {"model": "mock/m"}}],
                        "general_settings": general})


def test_database_url_order(tmp_path):
    env = {"SWITCHBOARD_DATA_DIR": str(tmp_path)}
    assert store.database_url(_settings(), env) == f"sqlite:///{tmp_path}/switchboard.db"
    assert store.database_url(_settings(), {**env, "DATABASE_URL": "postgresql://x/y"}) \
        == "postgresql://x/y"
    assert store.database_url(_settings(database_url="sqlite:////a.db"), env) == "sqlite:////a.db"
    assert store.engine_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"


def _version_rows(url):
    engine = store.make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    return rows


def test_upgrade_creates_schema_on_sqlite(sqlite_url):
    s = store.Store(sqlite_url)
    s.ensure_schema()
    s.ensure_schema()
    from app.store.migrate import pending
    with s.engine.connect() as conn:
        assert not pending(conn)
    assert _version_rows(sqlite_url)


def _race(url, n=4):
    code = textwrap.dedent(f"""
        from app import store
        store.Store({url!r}).ensure_schema()
        print("ok")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(n)]
    return [p.communicate(timeout=60) + (p.returncode,) for p in procs]


def test_concurrent_starts_on_empty_sqlite(sqlite_url):
    for _out, err, rc in _race(sqlite_url):
        assert rc == 0, err
    assert _version_rows(sqlite_url)


def test_concurrent_starts_on_empty_postgres(pg_url):
    for _out, err, rc in _race(pg_url):
        assert rc == 0, err
    assert _version_rows(pg_url)
