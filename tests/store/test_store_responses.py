"""app/store/responses.py on SQLite and PostgreSQL: owners, expiry, lazy purge, delete."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app import store
from app.store import responses as stored
from app.store.schema import responses as table

MASTER = (None, None)
KEY_A = ("a" * 64, None)
KEY_B_TEAM = ("b" * 64, "team-1")
KEY_C_TEAM = ("c" * 64, "team-1")


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    db = store.Store(url)
    db.ensure_schema()
    with db.engine.begin() as conn:
        conn.execute(table.delete())
    yield db.engine
    db.dispose()


def response(rid, text="hi"):
    return {"id": rid, "object": "response", "model": "m", "status": "completed",
            "output": [{"type": "message", "role": "assistant",
                        "content": [{"type": "output_text", "text": text}]}]}


def test_round_trip_and_owners(engine):
    items = [{"id": "msg_1", "type": "message", "role": "user", "content": "q"}]
    context = [{"type": "message", "role": "user", "content": "earlier"}]
    stored.save(engine, MASTER, response("resp_m"), context, items, 30)
    stored.save(engine, KEY_A, response("resp_a"), [], items, 30)
    stored.save(engine, KEY_B_TEAM, response("resp_b"), [], items, 30)
    row = stored.load(engine, "resp_m", MASTER)
    assert row["context"] == context and row["input_items"] == items
    assert row["response"]["output"][0]["content"][0]["text"] == "hi"
    assert stored.load(engine, "resp_m", KEY_A) is None           # master's is not a key's
    assert stored.load(engine, "resp_a", MASTER) is None          # nor the other way round
    assert stored.load(engine, "resp_a", KEY_B_TEAM) is None
    assert stored.load(engine, "resp_b", KEY_C_TEAM) is not None  # same team
    assert not stored.delete(engine, "resp_a", KEY_B_TEAM)
    assert stored.delete(engine, "resp_a", KEY_A)
    assert stored.load(engine, "resp_a", KEY_A) is None
    assert not stored.delete(engine, "resp_a", KEY_A)


def test_expired_rows_are_not_served_and_purged(engine):
    stored.save(engine, MASTER, response("resp_old"), [], [], 30)
    stored.save(engine, MASTER, response("resp_new"), [], [], 30)
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.id == "resp_old").values(expires_at=past))
    assert stored.load(engine, "resp_old", MASTER) is None
    assert stored.purge_expired(engine) == 1
    with engine.connect() as conn:
        ids = conn.execute(sa.select(table.c.id)).scalars().all()
    assert ids == ["resp_new"]


def test_retention_sets_expiry(engine):
    stored.save(engine, MASTER, response("resp_short"), [], [], 0.5)
    with engine.connect() as conn:
        row = conn.execute(sa.select(table.c.created_at, table.c.expires_at)).first()
    assert row.expires_at - row.created_at == timedelta(hours=12)


def test_a_failed_save_is_a_sqlalchemy_error_and_frees_its_connection(engine):
    stored.save(engine, MASTER, response("resp_dup"), [], [], 30)
    for _ in range(45):  # more than pool + overflow (20 + 20): a leak would exhaust it
        with pytest.raises(sa.exc.IntegrityError):
            stored.save(engine, MASTER, response("resp_dup", "again"), [], [], 30)
    assert stored.load(engine, "resp_dup", MASTER)["response"]["output"][0]["content"][0][
        "text"] == "hi"
    stored.save(engine, MASTER, response("resp_next"), [], [], 30)
    assert stored.load(engine, "resp_next", MASTER) is not None
