"""Stored Responses API responses: save, read and delete by id for their owner; purge expired.

An owner is ``(api_key, team_id)``: the creator's key hash (None for the master key or no key)
and team. A row is visible to the same key, or to any key of its team; expired rows are never
served and are deleted lazily (at most once an hour per process, on a save).
"""
import time
from datetime import datetime, timedelta, timezone

import orjson
import sqlalchemy as sa

from app.store.insert import insert_for
from app.store.schema import responses

PURGE_EVERY = 3600.0
_last_purge = [0.0]


def _now():
    return datetime.now(timezone.utc)


def _visible(response_id, owner):
    api_key, team_id = owner
    mine = responses.c.api_key.is_(None) if api_key is None else responses.c.api_key == api_key
    if team_id is not None:
        mine = sa.or_(mine, responses.c.team_id == team_id)
    return sa.and_(responses.c.id == response_id, responses.c.expires_at > _now(), mine)


def _text(value):
    return orjson.dumps(value).decode()


def save(engine, owner, response, context, input_items, retention_days):
    """Insert one finished response (with its replay context and input items)."""
    now = _now()
    row = {"id": response["id"], "api_key": owner[0], "team_id": owner[1],
           "model": response.get("model"), "status": response.get("status") or "completed",
           "created_at": now, "expires_at": now + timedelta(days=retention_days),
           "context": _text(context), "input_items": _text(input_items),
           "response": _text(response)}
    insert_for(responses, engine.dialect).one(engine, row)
    if time.monotonic() - _last_purge[0] > PURGE_EVERY:
        _last_purge[0] = time.monotonic()
        purge_expired(engine)


def load(engine, response_id, owner):
    """The stored row (context, input_items, response) visible to ``owner``, or None."""
    query = sa.select(responses.c.context, responses.c.input_items, responses.c.response) \
        .where(_visible(response_id, owner))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return {key: orjson.loads(value) for key, value in row._mapping.items()}


def delete(engine, response_id, owner):
    """Delete one response visible to ``owner``; True when there was one."""
    with engine.begin() as conn:
        return conn.execute(responses.delete().where(_visible(response_id, owner))).rowcount > 0


def purge_expired(engine):
    """Delete every expired response; returns how many."""
    with engine.begin() as conn:
        return conn.execute(responses.delete().where(responses.c.expires_at <= _now())).rowcount
