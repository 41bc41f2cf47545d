"""Spend logs: batch insert with the spend totals of keys, teams and users; log queries."""
import datetime as dt

from sqlalchemy import and_, func, or_, select, update

from app.store.insert import insert_for
from app.store.schema import keys, spend_logs, teams, users

_TOTALS = {"key": (keys, keys.c.token), "team": (teams, teams.c.team_id),
           "user": (users, users.c.user_id)}


def write_batch(engine, rows, charges):
    """Insert spend rows and add ``charges`` {(kind, id, window end or None): usd} in one tx."""
    with engine.begin() as conn:
        if rows:
            insert_for(spend_logs, conn.dialect).many(conn, rows)
        for (kind, ident, reset_at), usd in charges.items():
            _charge(conn, kind, ident, reset_at, usd)


def _charge(conn, kind, ident, reset_at, usd):
    table, pk = _TOTALS[kind]
    values = {"spend": table.c.spend + usd}
    if kind == "key":
        values["last_used"] = dt.datetime.now(dt.timezone.utc)
    if reset_at is None:
        conn.execute(update(table).where(pk == ident).values(**values))
        return
    # Same window: add; a later window: start again from this charge.
    same = table.c.budget_reset_at == reset_at
    conn.execute(update(table).where(pk == ident).where(
        or_(table.c.budget_reset_at.is_(None), table.c.budget_reset_at <= reset_at))
        .values(spend=_case(same, table.c.spend + usd, usd), budget_reset_at=reset_at,
                **{k: v for k, v in values.items() if k != "spend"}))


def _case(cond, then, other):
    from sqlalchemy import case
    return case((cond, then), else_=other)


def logs(engine, api_key=None, request_id=None, user_id=None, team_id=None, start=None,
         end=None, limit=1000):
    """Spend rows matching the filters, oldest first (at most ``limit``)."""
    query = select(spend_logs)
    conds = []
    for column, value in ((spend_logs.c.api_key, api_key), (spend_logs.c.request_id, request_id),
                          (spend_logs.c.user_id, user_id), (spend_logs.c.team_id, team_id)):
        if value is not None:
            conds.append(column == value)
    if start is not None:
        conds.append(spend_logs.c.start_time >= start)
    if end is not None:
        conds.append(spend_logs.c.start_time < end)
    if conds:
        query = query.where(and_(*conds))
    query = query.order_by(spend_logs.c.start_time, spend_logs.c.id).limit(limit)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query).all()]


def report(engine, group, start=None, end=None):
    """[(day, group value, spend, requests, tokens)] between ``start`` and ``end``."""
    column = {"team": spend_logs.c.team_id, "key": spend_logs.c.api_key,
              "model": spend_logs.c.model_group, "user": spend_logs.c.user_id}[group]
    day = func.date(spend_logs.c.start_time) if engine.dialect.name == "sqlite" \
        else func.to_char(spend_logs.c.start_time, "YYYY-MM-DD")
    query = select(day.label("day"), column.label("name"), func.sum(spend_logs.c.spend),
                   func.count(), func.sum(spend_logs.c.total_tokens))
    if start is not None:
        query = query.where(spend_logs.c.start_time >= start)
    if end is not None:
        query = query.where(spend_logs.c.start_time < end)
    query = query.group_by(day, column).order_by(day, column)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query).all()]
