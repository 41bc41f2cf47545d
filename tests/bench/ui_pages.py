"""Dashboard page times over a big spend_logs table in PostgreSQL.

    python tests/bench/ui_pages.py [--rows 100000] [--runs 7] [--dsn postgresql://postgres@127.0.0.1:5432]
                                   [--sqlite]

Creates a scratch database (dropped at the end), seeds ``--rows`` spend_logs rows spread over
the last 30 days (200 keys, 20 teams, 10 models, 5 % failures), then renders every dashboard
page in-process (Flask test client, logged in with the master key: the admin view, which reads
every row) and prints the median and worst of ``--runs`` renders after one warm-up. The pages
must stay under 300 ms each (issue 13). ``--sqlite`` runs the same on an SQLite file instead.
Not part of the test suite (pytest collects nothing here).
"""
import argparse
import datetime as dt
import os
import pathlib
import random
import statistics
import sys
import tempfile
import time
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

PAGES = ("/ui", "/ui?range=1h", "/ui?range=7d", "/ui?range=30d", "/ui/logs",
         "/ui/logs?status=failure", "/ui/logs?model=model-3&hours=24", "/ui/spend",
         "/ui/spend?by=team", "/ui/spend?by=model", "/ui/spend.csv", "/ui/models", "/ui/keys")
MASTER = "sk-bench-master"
UTC = dt.timezone.utc


def rows(count, seed=7):
    """``count`` spend_logs rows over the last 30 days."""
    from tests.ui.seed import log_row
    rnd = random.Random(seed)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    keys = [(f"{i:064x}", f"key-{i}", f"team-{i % 20}") for i in range(200)]
    out = []
    for n in range(count):
        token, alias, team = rnd.choice(keys)
        failed = rnd.random() < 0.05
        tokens = rnd.randint(20, 2000)
        out.append(log_row(n, now - dt.timedelta(seconds=rnd.randint(0, 30 * 86400)),
                           api_key=token, key_alias=alias, team_id=team,
                           model_group=f"model-{rnd.randint(0, 9)}",
                           spend=0.0 if failed else tokens * 2e-6, total_tokens=tokens,
                           latency_ms=rnd.lognormvariate(5.5, 0.6),
                           status="failure" if failed else "success",
                           status_code=502 if failed else 200))
    return out


def create_pg(dsn):
    """A scratch database; returns its URL."""
    import psycopg
    name = f"switchboard_ui_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(f"{dsn}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{dsn}/{name}", name


def drop_pg(dsn, name):
    """Drop the scratch database."""
    import psycopg
    with psycopg.connect(f"{dsn}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(url, count, runs):
    """Seed, then time every page; returns [(page, median ms, max ms, bytes)]."""
    from app import create_app
    from tests.conftest import base_config
    from tests.ui.conftest import login
    from tests.ui.seed import seed_logs
    app = create_app(base_config(master_key=MASTER, database_url=url))
    store = app.extensions["switchboard.store"]
    store.ensure_schema()
    t0 = time.perf_counter()
    seed_logs(store.engine, rows(count))
    if store.dialect == "postgresql":
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE spend_logs")
    print(f"seeded {count} rows in {time.perf_counter() - t0:.1f} s ({store.dialect})")
    client = app.test_client()
    login(client, MASTER)
    results = []
    for page in PAGES:
        client.get(page)   # warm-up
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            resp = client.get(page)
            times.append((time.perf_counter() - start) * 1000)
            assert resp.status_code == 200, (page, resp.status_code)
        results.append((page, statistics.median(times), max(times), len(resp.data)))
    store.dispose()
    return results


def main():
    """Parse the flags, run, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("SWITCHBOARD_DATA_DIR", tempfile.mkdtemp(prefix="ui-bench-"))
    if args.sqlite:
        url, name = f"sqlite:///{tempfile.mkdtemp(prefix='ui-bench-')}/bench.db", None
    else:
        url, name = create_pg(args.dsn)
    try:
        results = measure(url, args.rows, args.runs)
    finally:
        if name:
            drop_pg(args.dsn, name)
    print(f"{'page':40} {'median ms':>10} {'max ms':>8} {'bytes':>8}")
    for page, median, worst, size in results:
        flag = "" if median < 300 else "  SLOW"
        print(f"{page:40} {median:10.1f} {worst:8.1f} {size:8}{flag}")
    print(f"slowest median: {max(r[1] for r in results):.1f} ms")


if __name__ == "__main__":
    main()
