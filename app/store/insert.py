"""INSERTs on the request path and in the spend batches: the statement compiled once per table
and dialect, each row's values converted with the columns' own bind processors in one pass.

``conn.execute(table.insert(), rows)`` runs SQLAlchemy's generic parameter machinery per row
(about half of a spend row's cost on SQLite); ``Insert.one`` also skips the Connection and
Transaction objects for a single row in its own transaction (a stored response). The values
written are the same: a key missing from a row takes the column's default, and None is NULL.
"""
from sqlalchemy import Integer
from sqlalchemy.exc import DBAPIError

_cache = {}


def insert_for(table, dialect):
    """The (cached) Insert of ``table`` for ``dialect``."""
    key = (table.name, dialect.name)
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = Insert(table, dialect)
    return found


class Insert:
    """One table's INSERT for one dialect."""

    def __init__(self, table, dialect):
        columns = [c for c in table.columns
                   if not (c.primary_key and isinstance(c.type, Integer))]  # autoincrement ids
        compiled = table.insert().compile(dialect=dialect, column_keys=[c.name for c in columns])
        self.sql = compiled.string
        self.positional = compiled.positional
        by_name = {c.name: c for c in columns}
        names = compiled.positiontup if compiled.positional else [c.name for c in columns]
        self.names = names
        self.fields = [(name, by_name[name].type.dialect_impl(dialect).bind_processor(dialect),
                        _default(by_name[name])) for name in names]

    def params(self, rows):
        """The DBAPI parameters of ``rows`` (tuples, or dicts for named paramstyles)."""
        fields = self.fields
        # None is NULL whatever the type (a JSON column would otherwise hold JSON null).
        params = [tuple([(proc(value) if proc is not None and value is not None else value)
                         for name, proc, default in fields
                         for value in (row.get(name, default),)])
                  for row in rows]
        if not self.positional:
            params = [dict(zip(self.names, p, strict=True)) for p in params]
        return params

    def many(self, conn, rows):
        """Insert ``rows`` on an open SQLAlchemy connection (the caller's transaction)."""
        conn.exec_driver_sql(self.sql, self.params(rows))

    def one(self, engine, row):
        """Insert one row in its own transaction, on a pooled DBAPI connection."""
        [params] = self.params([row])
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(self.sql, params)
            finally:
                cursor.close()
            raw.commit()
        except engine.dialect.loaded_dbapi.Error as exc:
            _rollback(raw)
            raise DBAPIError.instance(self.sql, params, exc,
                                      engine.dialect.loaded_dbapi.Error) from exc
        finally:
            raw.close()  # back to the pool


def _rollback(raw):
    try:
        raw.rollback()
    except Exception:  # noqa: BLE001 - a broken connection: the pool discards it
        pass


def _default(column):
    default = column.default
    if default is None:
        return None
    return default.arg({}) if callable(default.arg) else default.arg
