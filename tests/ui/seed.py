"""Seed spend_logs and keys rows straight into the store (the dashboard reads, never writes)."""
import datetime as dt
import hashlib

import sqlalchemy as sa

from app.store.schema import keys, spend_logs

UTC = dt.timezone.utc


def log_row(n=0, at=None, **over):
    """One spend_logs row (a successful chat call by default) at ``at`` (aware UTC)."""
    at = at or dt.datetime.now(UTC).replace(microsecond=0)
    row = {"request_id": f"chatcmpl-{n}", "call_type": "chat", "api_key": None,
           "key_alias": None, "team_id": None, "user_id": None, "end_user": None,
           "model": "gpt-3.5-turbo", "model_group": "gpt-3.5-turbo", "model_id": "dep-1",
           "provider": "openai", "spend": 0.001, "prompt_tokens": 10, "completion_tokens": 5,
           "total_tokens": 15, "start_time": at, "end_time": at + dt.timedelta(seconds=1),
           "latency_ms": 100.0, "status": "success", "status_code": 200, "cache_hit": False,
           "error_message": None, "metadata": {}, "messages": None, "response": None}
    row.update(over)
    return row


def token_of(raw):
    """The stored form of a raw virtual key."""
    return hashlib.sha256(raw.encode()).hexdigest()


def key_row(raw, alias, **over):
    """One keys row for ``raw``."""
    now = dt.datetime.now(UTC)
    row = {"token": token_of(raw), "key_name": "sk-..." + raw[-4:], "key_alias": alias,
           "models": [], "spend": 0.0, "blocked": False, "metadata": {}, "created_at": now,
           "updated_at": now}
    row.update(over)
    return row


def insert(engine, table, rows, chunk=5000):
    """Insert rows in chunks."""
    with engine.begin() as conn:
        for i in range(0, len(rows), chunk):
            conn.execute(sa.insert(table), rows[i:i + chunk])


def seed_logs(engine, rows):
    """Insert spend_logs rows."""
    insert(engine, spend_logs, rows)


def seed_keys(engine, rows):
    """Insert keys rows."""
    insert(engine, keys, rows)
