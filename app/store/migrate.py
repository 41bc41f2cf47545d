"""Run Alembic migrations under a lock; ``switchboard db upgrade`` and start-up both use it.

Several heads are allowed on purpose: each feature's migrations form their own branch from the
base revision, and ``upgrade("heads")`` applies them all.
"""
import contextlib
import fcntl
import pathlib

MIGRATIONS = pathlib.Path(__file__).parent / "migrations"
# pg_advisory_lock key: any constant shared by every instance of the gateway.
_PG_LOCK = 0x5377_6974_6368  # "Switch"


def alembic_config(connection):
    """An Alembic Config pointing at our migrations and reusing ``connection``."""
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def pending(connection):
    """True when the database is behind the migration scripts."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    script = ScriptDirectory.from_config(alembic_config(connection))
    current = set(MigrationContext.configure(connection).get_current_heads())
    return current != set(script.get_heads())


def upgrade(engine):
    """Bring the schema to the latest revision (no-op when it is there already)."""
    from alembic import command
    with _lock(engine), engine.begin() as conn:
        if pending(conn):
            command.upgrade(alembic_config(conn), "heads")


@contextlib.contextmanager
def _lock(engine):
    """Serialise migrations across processes and instances."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({_PG_LOCK})")
            conn.commit()
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_PG_LOCK})")
                conn.commit()
        return
    path = engine.url.database
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrate-lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
