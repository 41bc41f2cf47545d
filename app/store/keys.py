"""Queries on keys, teams and users (rows as dicts; datetimes aware UTC)."""
from sqlalchemy import delete, insert, select, update

from app.store.schema import keys, teams, users

TABLES = {"key": (keys, keys.c.token), "team": (teams, teams.c.team_id),
          "user": (users, users.c.user_id)}


def _row(row):
    return None if row is None else dict(row._mapping)


def get(engine, kind, ident):
    """One key (by hash), team or user row, or None."""
    table, pk = TABLES[kind]
    with engine.connect() as conn:
        return _row(conn.execute(select(table).where(pk == ident)).first())


def get_many(engine, kind, idents):
    """Rows by id, as {id: row} (one query)."""
    table, pk = TABLES[kind]
    if not idents:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(pk.in_(list(idents)))).all()
    return {getattr(r, pk.name): _row(r) for r in rows}


def list_rows(engine, kind, **where):
    """Every row of a kind, optionally filtered by column equality, oldest first."""
    table, _pk = TABLES[kind]
    query = select(table).order_by(table.c.created_at)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(query).all()]


def create(engine, kind, values, conn=None):
    """Insert one row (in ``conn``'s transaction when given)."""
    table, _pk = TABLES[kind]
    if conn is not None:
        conn.execute(insert(table).values(**values))
        return
    with engine.begin() as conn:
        conn.execute(insert(table).values(**values))


def change(engine, kind, ident, values):
    """Update one row; False when it does not exist."""
    table, pk = TABLES[kind]
    with engine.begin() as conn:
        return conn.execute(update(table).where(pk == ident).values(**values)).rowcount > 0


def remove(engine, kind, idents):
    """Delete rows by id; the ids that existed."""
    table, pk = TABLES[kind]
    with engine.begin() as conn:
        found = [getattr(r, pk.name) for r in conn.execute(
            select(pk).where(pk.in_(list(idents)))).all()]
        conn.execute(delete(table).where(pk.in_(found)))
    return found


def rekey(engine, old, new, values):
    """Give a key a new hash (regenerate) keeping its settings; False when it is gone."""
    with engine.begin() as conn:
        return conn.execute(update(keys).where(keys.c.token == old)
                            .values(token=new, **values)).rowcount > 0
