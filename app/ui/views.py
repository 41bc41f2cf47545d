"""Dashboard pages over spend logs and the router: login, overview, logs, spend, models."""
import csv
import datetime as dt
import io

from flask import Response, current_app, g, redirect, render_template, request, session

from app.store import store_of
from app.store import reports
from app.ui import auth, bp, charts
from app.ui.auth import login_required

PER_PAGE = 50
SPEND_DIMENSIONS = ("key", "team", "model")


def _engine():
    store = store_of(current_app)
    store.ensure_schema()
    return store.engine


def _own_key():
    """The key a read-only session is limited to (None for an admin: everything)."""
    user = g.ui_user
    return None if user["admin"] else user["token"]


def _range():
    value = request.args.get("range", "1d")
    return value if value in reports.RANGES else "1d"


@bp.get("/")
def root():
    """The gateway's front page is the dashboard."""
    return redirect("/ui")


@bp.route("/ui/login", methods=["GET", "POST"])
def login():
    """One form, one password field; a wrong key gets the form back with one generic message.

    (200, not 401: the browser would log a failed page load as a console error.)
    """
    if request.method == "GET":
        return render_template("login.html", error=None)
    limiter = current_app.extensions["switchboard.ui"]
    addr = auth.client_address()
    if limiter.blocked(addr):
        return render_template("login.html", error="Too many attempts; wait a few minutes "
                               "and try again."), 429
    fields = auth.authenticate(request.form.get("key", "").strip())
    if fields is None:
        limiter.failed(addr)
        return render_template("login.html", error="Invalid key.")
    auth.start_session(fields)
    target = request.args.get("next", "")
    return redirect(target if target.startswith("/ui") and "//" not in target else "/ui")


@bp.post("/ui/logout")
def logout():
    """End the session (a POST form with the CSRF token)."""
    session.clear()
    return redirect("/ui/login")


@bp.get("/ui")
@login_required()
def overview():
    """Requests/min, error rate, latency, tokens and spend over time; top spenders."""
    engine, key, name = _engine(), _own_key(), _range()
    points = reports.overview(engine, name, api_key=key)
    times = [p["t"] for p in points]
    since = dt.datetime.fromtimestamp(times[0], dt.timezone.utc)
    money_axis = lambda v: charts.money(v)  # noqa: E731
    graphs = [
        ("Requests per minute", charts.line_chart(
            "Requests per minute", times, [("req/min", [p["rpm"] for p in points])],
            charts.compact)),
        ("Error rate", charts.line_chart(
            "Error rate", times, [("errors %", [p["error_rate"] * 100 for p in points])],
            lambda v: f"{v:.3g}%")),
        ("Latency p50 / p95 (ms)", charts.line_chart(
            "Latency", times, [("p50", [p["p50"] for p in points]),
                               ("p95", [p["p95"] for p in points])], charts.compact)),
        ("Tokens", charts.line_chart(
            "Tokens", times, [("tokens", [p["tokens"] for p in points])], charts.compact)),
        ("Spend", charts.line_chart(
            "Spend", times, [("spend", [p["spend"] for p in points])], money_axis)),
    ]
    tops = [(title, charts.bar_chart(title, [(r["name"], r["spend"]) for r in rows],
                                     charts.money))
            for title, rows in _tops(engine, since, key)]
    totals = {k: sum(p[k] for p in points) for k in ("requests", "errors", "tokens", "spend")}
    return render_template("overview.html", graphs=graphs, tops=tops, totals=totals,
                           range=name, ranges=list(reports.RANGES))


def _tops(engine, since, key):
    titles = {"model": "Top models by spend", "key": "Top keys by spend",
              "team": "Top teams by spend"}
    dims = ("model",) if key is not None else ("model", "key", "team")
    found = reports.tops(engine, dims, since, api_key=key)
    return [(titles[d], found[d]) for d in dims]


def _log_filters():
    args = request.args
    filters = {name: args.get(name) or None for name in ("api_key", "team_id", "model", "status")}
    if filters["status"] not in (None, "success", "failure"):
        filters["status"] = None
    hours = args.get("hours", "")
    if hours.isdigit() and int(hours) > 0:
        filters["since"] = reports.utcnow() - dt.timedelta(hours=int(hours))
    if _own_key() is not None:
        filters["api_key"] = _own_key()
    return filters


@bp.get("/ui/logs")
@login_required()
def logs():
    """Recent requests, newest first, filtered by key, team, model, status and time."""
    engine = _engine()
    filters = _log_filters()
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and int(page) > 0 else 1
    rows, more = reports.recent_logs(engine, filters, page, PER_PAGE)
    choices = reports.filter_choices(engine, api_key=_own_key())
    choices["models"] = sorted(current_app.extensions["switchboard.settings"].by_name)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("logs.html", rows=rows, more=more, page=page, choices=choices,
                           args=args, query=_query(args))


def _query(args):
    from urllib.parse import urlencode
    return urlencode({k: v for k, v in args.items() if v})


@bp.get("/ui/logs/<int:log_id>")
@login_required()
def log_detail(log_id):
    """One request: metadata and error; message contents only when the config stores them."""
    row = reports.log_detail(_engine(), log_id, api_key=_own_key())
    if row is None:
        return render_template("error.html", title="Not found",
                               message="No such request in the logs."), 404
    show = current_app.extensions["switchboard.settings"].general_settings.get(
        "store_prompts_in_spend_logs") is True
    from app.accesslog import redact
    row["metadata"] = redact(row.get("metadata") or {})
    row.pop("api_key", None)   # never a key, not even its hash
    return render_template("log_detail.html", row=row, show_messages=show)


@bp.get("/ui/spend")
@login_required()
def spend():
    """Spend per day by key, team or model, with a chart and a CSV download."""
    dim = request.args.get("by", "key")
    dim = dim if dim in SPEND_DIMENSIONS else "key"
    days = _days()
    data = reports.spend_summary(_engine(), dim, days, api_key=_own_key())
    items = data["items"]
    daily = charts.column_chart("Spend per day", data["days"], data["totals"], charts.money)
    by_item = charts.bar_chart(f"Spend by {dim}", [(i["name"], i["spend"]) for i in items],
                               charts.money)
    daily_rows = list(zip(data["days"], data["totals"], strict=True))[::-1]
    return render_template("spend.html", dim=dim, days=days, daily_rows=daily_rows, items=items,
                           daily=daily, by_item=by_item, total=sum(data["totals"]))


def _days():
    days = request.args.get("days", "30")
    return min(int(days), 90) if days.isdigit() and int(days) > 0 else 30


@bp.get("/ui/spend.csv")
@login_required()
def spend_csv():
    """The spend table as CSV (day, id, name, spend, requests, tokens)."""
    dim = request.args.get("by", "key")
    dim = dim if dim in SPEND_DIMENSIONS else "key"
    data = reports.spend_by_day(_engine(), dim, _days(), api_key=_own_key())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", dim if dim != "key" else "key_alias", "spend_usd", "requests",
                     "tokens"])
    for row in data["rows"]:
        day = dt.datetime.fromtimestamp(row["day"], dt.timezone.utc).date().isoformat()
        writer.writerow([day, row["name"], f"{row['spend']:.6f}", row["requests"],
                         row["tokens"]])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="spend-by-{dim}.csv"'})
