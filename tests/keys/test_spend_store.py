"""app/store/spend.py: spend totals of keys follow their budget windows."""
import datetime as dt

import pytest

from app.keys.durations import from_ms, to_ms
from app.store import Store
from app.store import keys as rows
from app.store.schema import spend_logs
from app.store.spend import logs, write_batch


def _row(request_id, start):
    return {"request_id": request_id, "api_key": "a" * 64, "spend": 0.5, "start_time": start,
            "end_time": start, "status": "success", "metadata": {}}


def test_charges_add_in_a_window_and_restart_in_the_next(sqlite_url):
    store = Store(sqlite_url)
    store.ensure_schema()
    now = from_ms(to_ms(dt.datetime.now(dt.timezone.utc)))
    end1, end2 = now + dt.timedelta(seconds=5), now + dt.timedelta(seconds=10)
    rows.create(store.engine, "key", {"token": "a" * 64, "models": [], "metadata": {},
                                      "spend": 0.0, "blocked": False, "created_at": now,
                                      "updated_at": now, "budget_reset_at": end1})
    charge = {("key", "a" * 64, end1): 0.5}
    write_batch(store.engine, [_row("r1", now)], charge)
    write_batch(store.engine, [_row("r2", now)], charge)
    assert rows.get(store.engine, "key", "a" * 64)["spend"] == 1.0
    write_batch(store.engine, [_row("r3", now)], {("key", "a" * 64, end2): 0.25})
    got = rows.get(store.engine, "key", "a" * 64)
    assert got["spend"] == 0.25 and to_ms(got["budget_reset_at"]) == to_ms(end2)
    write_batch(store.engine, [], {("key", "a" * 64, end1): 9.0})  # a late batch: ignored
    assert rows.get(store.engine, "key", "a" * 64)["spend"] == 0.25
    assert [r["request_id"] for r in logs(store.engine, api_key="a" * 64)] == ["r1", "r2", "r3"]
    store.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request):
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def test_rows_are_written_as_sqlalchemys_own_insert_writes_them(any_url):
    store = Store(any_url)
    store.ensure_schema()
    start = dt.datetime(2026, 12, 8, 1, 2, 3, 456789, tzinfo=dt.timezone.utc)
    full = {**_row("x", start), "call_type": "chat", "key_alias": "alias", "team_id": "t",
            "user_id": "u", "end_user": "e", "model": "m", "model_group": "g",
            "model_id": "d", "provider": "openai", "prompt_tokens": 3, "completion_tokens": 4,
            "total_tokens": 7, "latency_ms": 1.5, "status_code": 200, "cache_hit": True,
            "error_message": "none", "metadata": {"tags": ["a"], "n": 1},
            "messages": [{"role": "user", "content": "hi"}], "response": {"id": "x"}}
    minimal = {"request_id": "y", "start_time": start, "end_time": start, "status": "failure"}
    tag = any_url.rsplit("/", 1)[-1][-8:]  # the pg database is shared by the session
    ours = [{**r, "request_id": f"{tag}-ours-{r['request_id']}"} for r in (full, minimal)]
    theirs = [{**r, "request_id": f"{tag}-theirs-{r['request_id']}"} for r in (full, minimal)]
    write_batch(store.engine, ours, {})
    with store.engine.begin() as conn:
        for row in theirs:  # one at a time: each row its own column set, as SQLAlchemy needs
            conn.execute(spend_logs.insert(), row)
    got = {r["request_id"]: r for r in logs(store.engine, limit=100000)}
    for a, b in zip(ours, theirs, strict=True):
        mine, ref = dict(got[a["request_id"]]), dict(got[b["request_id"]])
        for r in (mine, ref):
            r.pop("id"), r.pop("request_id")
        assert mine == ref
    assert got[ours[1]["request_id"]]["metadata"] == {} and got[ours[1]["request_id"]]["spend"] == 0
    store.dispose()
