"""Aggregates over spend_logs for the dashboard: time series, percentiles, top lists, logs.

Every query is bounded by ``start_time`` (and, for a virtual key's view, by ``api_key``), so it
runs on the indexes of spend_logs (start_time, (api_key, start_time), (team_id, start_time),
(model_group, start_time)). SQLAlchemy Core only; the one dialect difference is percentiles:
PostgreSQL computes them (``percentile_cont``), SQLite hands the latencies back to Python.
"""
import contextlib
import datetime as dt
import math

import sqlalchemy as sa

from app.store.schema import keys, spend_logs, teams

T = spend_logs  # short: every query below reads its columns

# Range name -> (length, bucket width), both in seconds.
RANGES = {"1h": (3600, 60), "1d": (86400, 900), "7d": (7 * 86400, 3600),
          "30d": (30 * 86400, 6 * 3600)}
DAY = 86400
QUANTILES = (0.5, 0.95)
DIMENSIONS = {"key": T.c.api_key, "team": T.c.team_id, "model": T.c.model_group}


def utcnow():
    """Now, timezone-aware UTC (the one clock of the reports)."""
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value):
    """A datetime from either dialect as aware UTC (SQLite hands back naive UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)


def _bucket(engine, step):
    """start_time // step (epoch seconds) as an integer, the cheap way for each dialect."""
    if engine.dialect.name == "postgresql":
        # date_part is double precision: several times cheaper than EXTRACT's numeric.
        # Literals, not bound parameters: the expression must render identically wherever it
        # appears (SELECT list, GROUPING SETS).
        epoch = sa.func.date_part(sa.literal_column("'epoch'"), T.c.start_time)
        return sa.cast(sa.func.floor(epoch / sa.literal_column(str(int(step)))), sa.BigInteger)
    # SQLite: extract(epoch) compiles to CAST(STRFTIME('%s', ...) AS INTEGER).
    return sa.cast(sa.extract("epoch", T.c.start_time), sa.BigInteger) // step


@contextlib.contextmanager
def _reading(engine):
    """A connection for one report; on PostgreSQL with room to hash its groups in memory.

    The planner cannot estimate how few time buckets there are and, at the default 4 MB
    work_mem, sorts 100k rows on disk instead of hashing a few hundred groups.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")   # this transaction only
        yield conn


def _scope(since, until=None, api_key=None):
    """WHERE clauses for a time window, optionally one key's rows only."""
    clauses = [T.c.start_time >= since]
    if until is not None:
        clauses.append(T.c.start_time < until)
    if api_key is not None:
        clauses.append(T.c.api_key == api_key)
    return clauses


def _window(range_name, now):
    length, step = RANGES[range_name]
    start = (int(now.timestamp()) // step + 1) * step - length
    return start, step, length // step


def overview(engine, range_name="1d", api_key=None, now=None):
    """Time series for the overview charts: one point per bucket, empty buckets included.

    Each point: ``t`` (bucket start, epoch s), requests, errors, error_rate, rpm, tokens, spend,
    p50, p95 (latency ms, None without data).
    """
    now = now or utcnow()
    start, step, count = _window(range_name, now)
    since = dt.datetime.fromtimestamp(start, dt.timezone.utc)
    bucket = _bucket(engine, step)
    failed = sa.case((T.c.status != "success", 1), else_=0)
    cols = [bucket.label("b"), sa.func.count().label("n"), sa.func.sum(failed).label("err"),
            sa.func.sum(T.c.total_tokens).label("tok"), sa.func.sum(T.c.spend).label("spend")]
    pg = engine.dialect.name == "postgresql"
    if pg:
        cols += [sa.func.percentile_cont(q).within_group(T.c.latency_ms).label(name)
                 for q, name in ((0.5, "p50"), (0.95, "p95"))]
    query = sa.select(*cols).where(*_scope(since, api_key=api_key)).group_by(sa.text("1"))
    with _reading(engine) as conn:
        rows = {int(r.b): r for r in conn.execute(query)}
        pct = {b: (r.p50, r.p95) for b, r in rows.items()} if pg \
            else _percentiles_py(conn, bucket, since, api_key)
    return [_point(start // step + i, step, rows.get(start // step + i), pct)
            for i in range(count)]


def _percentiles_py(conn, bucket, since, api_key):
    # SQLite has no percentile_cont. (Ranking in SQL with window functions was measured
    # slower than sorting here.)
    query = sa.select(bucket.label("b"), T.c.latency_ms).where(
        *_scope(since, api_key=api_key), T.c.latency_ms.is_not(None))
    grouped = {}
    for b, latency in conn.execute(query):
        grouped.setdefault(int(b), []).append(latency)
    return {b: tuple(percentile(v, q) for q in QUANTILES) for b, v in grouped.items()}


def percentile(values, q):
    """Linear-interpolated percentile (PostgreSQL's percentile_cont) of ``values``."""
    values = sorted(values)
    if not values:
        return None
    pos = (len(values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def _point(b, step, row, pct):
    n = int(row.n) if row else 0
    err = int(row.err or 0) if row else 0
    p50, p95 = pct.get(b, (None, None))
    return {"t": b * step, "requests": n, "errors": err,
            "error_rate": (err / n) if n else 0.0, "rpm": n / (step / 60),
            "tokens": int(row.tok or 0) if row else 0,
            "spend": float(row.spend or 0) if row else 0.0,
            "p50": float(p50) if p50 is not None else None,
            "p95": float(p95) if p95 is not None else None}


def tops(engine, dimensions, since, limit=8, api_key=None):
    """``{dimension: top(...)}`` for several dimensions; one scan on PostgreSQL."""
    if engine.dialect.name != "postgresql" or len(dimensions) < 2:
        return {d: top(engine, d, since, limit, api_key) for d in dimensions}
    cols = [DIMENSIONS[d] for d in dimensions]
    query = (sa.select(*cols, sa.func.max(T.c.key_alias).label("alias"),
                       sa.func.sum(T.c.spend).label("spend"), sa.func.count().label("n"),
                       sa.func.sum(T.c.total_tokens).label("tok"),
                       *[sa.func.grouping(c).label(f"g{i}") for i, c in enumerate(cols)])
             .where(*_scope(since, api_key=api_key))
             .group_by(sa.func.grouping_sets(*[sa.tuple_(c) for c in cols])))
    found = {d: [] for d in dimensions}
    with _reading(engine) as conn:
        for r in conn.execute(query):
            i = next(i for i in range(len(cols)) if getattr(r, f"g{i}") == 0)
            dim, ident = dimensions[i], r[i]
            name = r.alias if dim == "key" else ident
            found[dim].append({"id": ident, "name": _name(dim, ident, name),
                               "spend": float(r.spend or 0), "requests": int(r.n),
                               "tokens": int(r.tok or 0)})
    return {d: sorted(rows, key=lambda x: (-x["spend"], -x["requests"]))[:limit]
            for d, rows in found.items()}


def top(engine, dimension, since, limit=8, api_key=None):
    """The ``limit`` biggest spenders of a dimension (key/team/model) since ``since``.

    Rows: name (alias for keys), id, spend, requests, tokens; biggest spend first.
    """
    col = DIMENSIONS[dimension]
    label = sa.func.max(T.c.key_alias) if dimension == "key" else sa.func.max(col)
    query = (sa.select(col.label("id"), label.label("name"),
                       sa.func.sum(T.c.spend).label("spend"), sa.func.count().label("n"),
                       sa.func.sum(T.c.total_tokens).label("tok"))
             .where(*_scope(since, api_key=api_key)).group_by(col)
             .order_by(sa.desc("spend"), sa.desc("n")).limit(limit))
    with _reading(engine) as conn:
        return [{"id": r.id, "name": _name(dimension, r.id, r.name), "spend": float(r.spend or 0),
                 "requests": int(r.n), "tokens": int(r.tok or 0)} for r in conn.execute(query)]


def _name(dimension, ident, name):
    if dimension == "key":
        return name or ("master key" if ident is None else "key " + ident[:8])
    return name or "(none)"


def spend_by_day(engine, dimension, days=30, api_key=None, now=None, limit=200):
    """Spend per UTC day and per key/team/model over the last ``days`` days.

    Returns ``{"days": [epoch of each day], "rows": [{"day", "id", "name", "spend",
    "requests", "tokens"}], "totals": [spend per day]}`` (rows newest day first).
    """
    now = now or utcnow()
    first = (int(now.timestamp()) // DAY - days + 1) * DAY
    since = dt.datetime.fromtimestamp(first, dt.timezone.utc)
    col = DIMENSIONS[dimension]
    day = _bucket(engine, DAY).label("day")
    name = sa.func.max(T.c.key_alias if dimension == "key" else col)
    query = (sa.select(day, col.label("id"), name.label("name"),
                       sa.func.sum(T.c.spend).label("spend"), sa.func.count().label("n"),
                       sa.func.sum(T.c.total_tokens).label("tok"))
             .where(*_scope(since, api_key=api_key)).group_by(sa.text("1"), col)
             .order_by(sa.desc("day"), sa.desc("spend")).limit(limit * days))
    with _reading(engine) as conn:
        rows = [{"day": int(r.day) * DAY, "id": r.id, "name": _name(dimension, r.id, r.name),
                 "spend": float(r.spend or 0), "requests": int(r.n), "tokens": int(r.tok or 0)}
                for r in conn.execute(query)]
    day_list = [first + i * DAY for i in range(days)]
    totals = {d: 0.0 for d in day_list}
    for row in rows:
        totals[row["day"]] = totals.get(row["day"], 0.0) + row["spend"]
    return {"days": day_list, "rows": rows, "totals": [totals[d] for d in day_list]}


def spend_summary(engine, dimension, days=30, api_key=None, now=None):
    """Spend per UTC day and per key/team/model (totals only, for the Spend page).

    Returns ``{"days": [epoch of each day], "totals": [spend per day], "items": [{"id",
    "name", "spend", "requests", "tokens"}, biggest first]}``; one scan on PostgreSQL.
    """
    if engine.dialect.name != "postgresql":
        return _summary_of(spend_by_day(engine, dimension, days, api_key, now, limit=10**6))
    now = now or utcnow()
    first = (int(now.timestamp()) // DAY - days + 1) * DAY
    since = dt.datetime.fromtimestamp(first, dt.timezone.utc)
    col, day = DIMENSIONS[dimension], _bucket(engine, DAY)
    name = sa.func.max(T.c.key_alias if dimension == "key" else col)
    query = (sa.select(day.label("day"), col.label("id"), name.label("name"),
                       sa.func.sum(T.c.spend).label("spend"), sa.func.count().label("n"),
                       sa.func.sum(T.c.total_tokens).label("tok"),
                       sa.func.grouping(day).label("g"))
             .where(*_scope(since, api_key=api_key))
             .group_by(sa.func.grouping_sets(sa.tuple_(day), sa.tuple_(col))))
    totals, items = {}, []
    with _reading(engine) as conn:
        for r in conn.execute(query):
            if r.g == 0:
                totals[int(r.day) * DAY] = float(r.spend or 0)
            else:
                items.append({"id": r.id, "name": _name(dimension, r.id, r.name),
                              "spend": float(r.spend or 0), "requests": int(r.n),
                              "tokens": int(r.tok or 0)})
    day_list = [first + i * DAY for i in range(days)]
    return {"days": day_list, "totals": [totals.get(d, 0.0) for d in day_list],
            "items": sorted(items, key=lambda i: (-i["spend"], -i["requests"]))}


def _summary_of(data):
    per_item = {}
    for row in data["rows"]:
        item = per_item.setdefault(row["id"], {"id": row["id"], "name": row["name"],
                                               "spend": 0.0, "requests": 0, "tokens": 0})
        for field in ("spend", "requests", "tokens"):
            item[field] += row[field]
    items = sorted(per_item.values(), key=lambda i: (-i["spend"], -i["requests"]))
    return {"days": data["days"], "totals": data["totals"], "items": items}


LOG_COLUMNS = (T.c.id, T.c.request_id, T.c.call_type, T.c.key_alias, T.c.api_key, T.c.team_id,
               T.c.user_id, T.c.model, T.c.model_group, T.c.model_id, T.c.provider, T.c.spend,
               T.c.prompt_tokens, T.c.completion_tokens, T.c.total_tokens, T.c.start_time,
               T.c.latency_ms, T.c.status, T.c.status_code, T.c.cache_hit, T.c.error_message)


def recent_logs(engine, filters=None, page=1, per_page=50):
    """One page of spend_logs rows, newest first, with ``filters``.

    ``filters`` keys (all optional): api_key, team_id, model (group), status ("success" /
    "failure"), since, until (datetimes). Returns (rows as dicts, has_more).
    """
    f = filters or {}
    clauses = []
    for name, col in (("api_key", T.c.api_key), ("team_id", T.c.team_id),
                      ("model", T.c.model_group), ("status", T.c.status)):
        if f.get(name):
            clauses.append(col == f[name])
    if f.get("since"):
        clauses.append(T.c.start_time >= f["since"])
    if f.get("until"):
        clauses.append(T.c.start_time < f["until"])
    query = (sa.select(*LOG_COLUMNS).where(*clauses)
             .order_by(T.c.start_time.desc(), T.c.id.desc())
             .limit(per_page + 1).offset((max(page, 1) - 1) * per_page))
    with engine.connect() as conn:
        rows = [_log_row(r._mapping) for r in conn.execute(query)]
    return rows[:per_page], len(rows) > per_page


def log_detail(engine, log_id, api_key=None):
    """One spend_logs row with its metadata, error and (stored) messages; None if not visible."""
    query = sa.select(T).where(T.c.id == log_id)
    if api_key is not None:
        query = query.where(T.c.api_key == api_key)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return _log_row(row._mapping) if row else None


def _log_row(mapping):
    row = dict(mapping)
    row["start_time"] = as_utc(row.get("start_time"))
    if "end_time" in row:
        row["end_time"] = as_utc(row["end_time"])
    return row


def filter_choices(engine, api_key=None):
    """Keys (token, alias) and teams to filter the logs by, from the keys and teams tables."""
    query = sa.select(keys.c.token, keys.c.key_alias, keys.c.key_name).order_by(
        keys.c.key_alias).limit(1000)
    if api_key is not None:
        query = query.where(keys.c.token == api_key)
    with engine.connect() as conn:
        key_rows = conn.execute(query).all()
        team_ids = conn.execute(sa.select(teams.c.team_id).order_by(teams.c.team_id)
                                .limit(1000)).scalars().all() if api_key is None else []
    return {"key_options": [(t, a or n or t[:8]) for t, a, n in key_rows], "teams": team_ids}
