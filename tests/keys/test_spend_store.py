"""app/store/spend.py: spend totals of keys follow their budget windows."""
import datetime as dt

from app.keys.durations import from_ms, to_ms
from app.store import Store
from app.store import keys as rows
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
