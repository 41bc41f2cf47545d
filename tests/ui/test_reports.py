"""Aggregates over spend_logs, on SQLite and PostgreSQL, against rows seeded by hand."""
import datetime as dt

import pytest

from app.store import reports
from tests.ui.seed import UTC, log_row, seed_logs

NOW = dt.datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)


def _at(minutes_ago):
    return NOW - dt.timedelta(minutes=minutes_ago)


def test_overview_buckets_counts_errors_and_percentiles(store):
    rows = [log_row(i, _at(0.5), latency_ms=float(10 * (i + 1))) for i in range(5)]
    rows += [log_row(9, _at(0.5), status="failure", status_code=500, spend=0.0,
                     latency_ms=None, total_tokens=0)]
    rows += [log_row(10, _at(5), spend=0.5, total_tokens=100, latency_ms=40.0)]
    rows += [log_row(11, _at(120))]          # outside the hour
    seed_logs(store.engine, rows)
    points = reports.overview(store.engine, "1h", now=NOW)
    assert len(points) == 60
    last = points[-1]
    assert last["requests"] == 6 and last["errors"] == 1
    assert abs(last["error_rate"] - 1 / 6) < 1e-9
    assert last["p50"] == 30.0 and abs(last["p95"] - 48.0) < 1e-9
    five = [p for p in points if p["requests"] == 1]
    assert len(five) == 1 and five[0]["spend"] == 0.5 and five[0]["tokens"] == 100
    assert sum(p["requests"] for p in points) == 7
    assert all(p["p50"] is None for p in points if not p["requests"])


def test_overview_limits_to_one_key(store):
    seed_logs(store.engine, [log_row(1, _at(1), api_key="a" * 64),
                             log_row(2, _at(1), api_key="b" * 64)])
    points = reports.overview(store.engine, "1d", api_key="a" * 64, now=NOW)
    assert sum(p["requests"] for p in points) == 1
    assert len(points) == 96


def test_top_spenders(store):
    seed_logs(store.engine, [
        log_row(1, _at(1), api_key="a" * 64, key_alias="alpha", spend=1.0, team_id="t1"),
        log_row(2, _at(2), api_key="a" * 64, key_alias="alpha", spend=2.0, team_id="t1"),
        log_row(3, _at(3), api_key="b" * 64, key_alias="beta", spend=5.0, model_group="m2"),
        log_row(4, _at(4), spend=0.25),  # master key
        log_row(5, _at(60 * 48), api_key="c" * 64, key_alias="old", spend=100.0),
    ])
    since = NOW - dt.timedelta(days=1)
    keys = reports.top(store.engine, "key", since)
    assert [(k["name"], k["spend"], k["requests"]) for k in keys] == [
        ("beta", 5.0, 1), ("alpha", 3.0, 2), ("master key", 0.25, 1)]
    models = reports.top(store.engine, "model", since)
    assert [m["name"] for m in models] == ["m2", "gpt-3.5-turbo"]
    teams = reports.top(store.engine, "team", since)
    assert teams[0]["name"] == "(none)" and teams[1] == {
        "id": "t1", "name": "t1", "spend": 3.0, "requests": 2, "tokens": 30}


def test_spend_by_day(store):
    day0 = NOW.replace(hour=1)
    seed_logs(store.engine, [
        log_row(1, day0, api_key="a" * 64, key_alias="alpha", spend=1.5),
        log_row(2, day0 - dt.timedelta(days=1), api_key="a" * 64, key_alias="alpha", spend=2.0),
        log_row(3, day0 - dt.timedelta(days=1), api_key="b" * 64, key_alias="beta", spend=0.5),
        log_row(4, day0 - dt.timedelta(days=40), spend=9.0),
    ])
    data = reports.spend_by_day(store.engine, "key", days=7, now=NOW)
    assert len(data["days"]) == 7 and data["totals"][-1] == 1.5 and data["totals"][-2] == 2.5
    assert sum(data["totals"]) == 4.0
    first = data["rows"][0]
    assert first["name"] == "alpha" and first["spend"] == 1.5
    assert dt.datetime.fromtimestamp(first["day"], UTC).date() == NOW.date()


def test_recent_logs_newest_first_with_filters(store):
    rows = [log_row(i, _at(i + 1), api_key="a" * 64 if i % 2 else None, key_alias="alpha")
            for i in range(25)]
    rows.append(log_row(99, _at(0.2), status="failure", status_code=429,
                        error_message="rate limited", team_id="t9"))
    seed_logs(store.engine, rows)
    page, more = reports.recent_logs(store.engine, {}, 1, 10)
    assert more and len(page) == 10 and page[0]["request_id"] == "chatcmpl-99"
    times = [r["start_time"] for r in page]
    assert times == sorted(times, reverse=True)
    page3, more = reports.recent_logs(store.engine, {}, 3, 10)
    assert len(page3) == 6 and not more
    mine, _ = reports.recent_logs(store.engine, {"api_key": "a" * 64}, 1, 50)
    assert len(mine) == 12
    failed, _ = reports.recent_logs(store.engine, {"status": "failure", "team_id": "t9"})
    assert [r["error_message"] for r in failed] == ["rate limited"]
    recent, _ = reports.recent_logs(store.engine, {"since": _at(3)}, 1, 50)
    assert len(recent) == 4  # minutes 1, 2, 3 (the edge is included) and the failure
    detail = reports.log_detail(store.engine, failed[0]["id"])
    assert detail["status_code"] == 429
    assert reports.log_detail(store.engine, failed[0]["id"], api_key="a" * 64) is None


def test_percentile_matches_percentile_cont():
    assert reports.percentile([1, 2, 3, 4], 0.5) == 2.5
    assert reports.percentile([10], 0.95) == 10
    assert reports.percentile([], 0.5) is None


def test_tops_in_one_scan_match_each_top(store):
    seed_logs(store.engine, [
        log_row(i, _at(i), api_key=f"{i % 3:064x}", key_alias=f"k{i % 3}", team_id=f"t{i % 2}",
                model_group=f"m{i % 4}", spend=0.25 * i) for i in range(1, 25)])
    since = NOW - dt.timedelta(days=1)
    both = reports.tops(store.engine, ("model", "key", "team"), since, limit=3)
    for dim in ("model", "key", "team"):
        assert both[dim] == reports.top(store.engine, dim, since, limit=3)
    assert [r["name"] for r in both["key"]] == ["k0", "k2", "k1"]   # 27, 25, 23


def test_spend_summary_matches_spend_by_day(store):
    seed_logs(store.engine, [
        log_row(i, NOW - dt.timedelta(hours=7 * i), api_key=f"{i % 3:064x}",
                key_alias=f"k{i % 3}", spend=0.25 * i, team_id="t") for i in range(1, 40)])
    for dim in ("key", "team", "model"):
        full = reports.spend_by_day(store.engine, dim, days=7, now=NOW)
        summary = reports.spend_summary(store.engine, dim, days=7, now=NOW)
        assert summary["days"] == full["days"] and summary["totals"] == full["totals"]
        per_item = {}
        for row in full["rows"]:
            per_item[row["name"]] = per_item.get(row["name"], 0) + row["spend"]
        assert {i["name"]: i["spend"] for i in summary["items"]} == per_item
        assert [i["spend"] for i in summary["items"]] == sorted(per_item.values(), reverse=True)


def test_latency_percentiles_match_percentile_cont_on_random_data(store):
    import random
    rnd = random.Random(5)
    rows, expected = [], {}
    for minute in range(1, 6):
        lat = [round(rnd.uniform(5, 900), 3) for _ in range(rnd.randint(1, 40))]
        rows += [log_row(len(rows) + i, _at(minute), latency_ms=v) for i, v in enumerate(lat)]
        expected[minute] = (reports.percentile(lat, 0.5), reports.percentile(lat, 0.95))
    seed_logs(store.engine, rows)
    points = reports.overview(store.engine, "1h", now=NOW)
    for minute, (p50, p95) in expected.items():
        point = points[-1 - minute]
        assert point["p50"] == pytest.approx(p50) and point["p95"] == pytest.approx(p95)
