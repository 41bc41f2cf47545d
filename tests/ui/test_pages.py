"""Every dashboard page for an admin, on SQLite and PostgreSQL, over seeded spend rows."""
import datetime as dt
import re

import pytest

from tests.ui.conftest import csrf_of, login, make_ui_app
from tests.ui.seed import UTC, log_row, seed_logs
from tests.ui.test_auth import PAGES

KEY_A = "a" * 64


@pytest.fixture
def seeded(db_url):
    """An admin client on ``db_url`` with 30 calls of key "alpha" and 3 failures."""
    app = make_ui_app(db_url, store_prompts_in_spend_logs=False)
    store = app.extensions["switchboard.store"]
    store.ensure_schema()
    now = dt.datetime.now(UTC).replace(microsecond=0)
    rows = [log_row(i, now - dt.timedelta(minutes=i), api_key=KEY_A, key_alias="alpha",
                    team_id="team-x", spend=0.0123, messages=[{"role": "user",
                                                               "content": "secret words"}])
            for i in range(30)]
    rows += [log_row(100 + i, now - dt.timedelta(seconds=5 + i), status="failure",
                     status_code=502, spend=0.0, error_message="upstream unreachable",
                     model_group="demo") for i in range(3)]
    seed_logs(store.engine, rows)
    client = app.test_client()
    login(client)
    yield app, client
    store.dispose()


def _svgs(html):
    return re.findall(r'<svg class="chart"[^>]*viewBox="0 0 (\d+) (\d+)"', html)


def test_every_admin_page_renders_and_every_link_answers(seeded):
    _, client = seeded
    seen, todo = set(), list(PAGES)
    while todo:
        path = todo.pop()
        if path in seen or len(seen) > 60:
            continue
        seen.add(path)
        with client.get(path) as resp:
            assert resp.status_code < 400, (path, resp.status_code)
            if resp.mimetype == "text/html":
                for href in re.findall(r'href="(/[^"]*)"', resp.text):
                    todo.append(href.replace("&amp;", "&"))
    assert "/ui/spend.csv?by=key&days=30" in seen
    assert any(p.startswith("/ui/logs/") for p in seen)


def test_overview_draws_charts_with_the_seeded_traffic(seeded):
    _, client = seeded
    html = client.get("/ui?range=1h").text
    assert len(_svgs(html)) >= 7 and "<polyline" in html
    assert "<strong>33</strong> requests" in html and "<strong>3</strong> errors" in html
    assert "alpha" in html and "team-x" in html          # top keys / teams bars
    assert client.get("/ui?range=30d").status_code == 200
    assert client.get("/ui?range=bogus").status_code == 200


def test_logs_newest_first_with_alias_failures_and_pages(seeded):
    _, client = seeded
    html = client.get("/ui/logs").text
    rows = re.findall(r"<tr class=\"(success|failure)\">", html)
    assert len(rows) == 33 and rows[:4] == ["success"] + ["failure"] * 3
    assert html.count('<td class="alias">alpha</td>') == 30
    assert "$0.01" in html and "502" in html
    failed = client.get("/ui/logs?status=failure").text
    assert failed.count('<tr class="failure">') == 3 and 'class="success"' not in failed
    only_key = client.get(f"/ui/logs?api_key={KEY_A}&hours=1").text
    assert only_key.count('<tr class="success">') == 30
    assert client.get("/ui/logs?model=demo").text.count("<tr class=") == 3
    assert client.get("/ui/logs?team_id=team-x").text.count("<tr class=") == 30


def test_log_detail_shows_metadata_and_error_never_messages_or_keys(seeded):
    app, client = seeded
    html = client.get("/ui/logs").text
    ids = re.findall(r'href="/ui/logs/(\d+)"', html)
    failure = client.get(f"/ui/logs/{ids[1]}").text
    assert "upstream unreachable" in failure
    success = client.get(f"/ui/logs/{ids[-1]}").text
    assert "secret words" not in success and "store_prompts_in_spend_logs" in success
    assert KEY_A not in success
    app.extensions["switchboard.settings"].general_settings["store_prompts_in_spend_logs"] = True
    assert "secret words" in client.get(f"/ui/logs/{ids[-1]}").text
    assert client.get("/ui/logs/999999").status_code == 404


def test_spend_page_chart_and_csv(seeded):
    _, client = seeded
    html = client.get("/ui/spend").text
    assert len(_svgs(html)) == 2 and "alpha" in html and "$0.37" in html
    assert re.search(r'<a [^>]*href="/ui/spend.csv[^"]*"[^>]*>Download CSV</a>', html)
    csv = client.get("/ui/spend.csv?by=key&days=30")
    assert csv.mimetype == "text/csv"
    lines = csv.text.strip().splitlines()
    assert lines[0] == "day,key_alias,spend_usd,requests,tokens"
    assert sum(float(line.split(",")[2]) for line in lines[1:]) == pytest.approx(0.369)
    assert "team-x" in client.get("/ui/spend?by=team").text
    assert "demo" in client.get("/ui/spend.csv?by=model").text


def test_models_page_shows_live_router_state_and_checks_now(ui_app, admin):
    from app.router import router_of
    html = admin.get("/ui/models").text
    assert "gpt-3.5-turbo" in html and "demo" in html and "healthy" in html
    groups = {g["model_name"]: g for g in router_of(ui_app).status()["groups"]}
    dep = groups["demo"]["deployments"][0]["id"]
    assert f'name="model_id" value="{dep}"' in html
    resp = admin.post("/ui/models/check", data={"model_id": dep, "csrf_token": csrf_of(html)})
    assert resp.status_code == 200 and f"Check of <code>{dep}</code>" in resp.text
    assert "healthy in" in resp.text  # the mock deployment really answered


def test_models_page_uses_router_status_and_check_health(ui_app, admin):
    from app.router import router_of
    router = router_of(ui_app)
    status = {"groups": [{"model_name": "gpt-3.5-turbo", "deployments": [{
        "id": "dep-9", "provider": "openai", "model": "gpt-3.5-turbo", "api_base": None,
        "healthy": False, "cooldown_remaining": 42.0, "cooldown_reason": "429 from upstream",
        "in_flight": 3, "requests_this_minute": 7, "failures_this_minute": 2, "rpm_used": 7,
        "rpm_limit": 100, "tpm_used": 900, "tpm_limit": None, "latency_ms": 12.6}]}]}
    router.status = lambda: status
    router.check_health = lambda model_id: {"model_id": model_id, "healthy": True,
                                            "error": None, "latency_ms": 8.0}
    html = admin.get("/ui/models").text
    assert "cooled down" in html and "for 42 s" in html and "429 from upstream" in html
    assert "7 / 100" in html and "900 / ∞" in html and "13 ms" in html
    resp = admin.post("/ui/models/check", data={"model_id": "dep-9", "csrf_token": csrf_of(html)})
    assert "healthy in 8 ms" in resp.text
