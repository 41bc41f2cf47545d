"""Keys, teams and users pages over app.keys.manage, and the read-only virtual-key view."""
import datetime as dt
import re


from tests.ui.conftest import csrf_of, login
from tests.ui.seed import UTC, log_row, seed_logs, token_of


def _create(admin, alias, **fields):
    page = admin.get("/ui/keys").text
    assert re.search(r'<form method="post" action="/ui/keys"', page)
    resp = admin.post("/ui/keys", data={"key_alias": alias, "csrf_token": csrf_of(page),
                                        **fields})
    assert resp.status_code == 200, resp.text
    raw = re.search(r'<code id="raw-key">([^<]+)</code>', resp.text).group(1)
    assert 'class="copy"' in resp.text
    return raw


def _token_in(html, alias):
    row = next(r for r in html.split("<tr>") if f'<td class="alias">{alias}</td>' in r)
    return re.search(r'/ui/keys/([0-9a-f]{64})/edit', row).group(1), row


def test_create_shows_the_raw_key_once_and_lists_alias_and_spend(admin):
    raw = _create(admin, "ui-made", max_budget="10", models="gpt-3.5-turbo")
    assert raw.startswith("sk-")
    listing = admin.get("/ui/keys").text
    assert raw not in listing
    token, row = _token_in(listing, "ui-made")
    assert token == token_of(raw)
    assert "$0.00" in row and "of $10.00" in row and "gpt-3.5-turbo" in row


def test_edit_block_regenerate_delete(admin):
    _create(admin, "victim")
    page = admin.get("/ui/keys").text
    token, _ = _token_in(page, "victim")
    csrf = csrf_of(page)
    edit = admin.get(f"/ui/keys/{token}/edit")
    assert edit.status_code == 200 and 'name="rpm_limit"' in edit.text
    admin.post(f"/ui/keys/{token}/edit", data={"csrf_token": csrf, "rpm_limit": "7",
                                               "models": "demo"})
    _, row = _token_in(admin.get("/ui/keys").text, "victim")
    assert "rpm 7" in row and "demo" in row
    admin.post(f"/ui/keys/{token}/block", data={"csrf_token": csrf, "blocked": "1"})
    assert "blocked" in _token_in(admin.get("/ui/keys").text, "victim")[1]
    admin.post(f"/ui/keys/{token}/block", data={"csrf_token": csrf, "blocked": "0"})
    assert "active" in _token_in(admin.get("/ui/keys").text, "victim")[1]
    regen = admin.post(f"/ui/keys/{token}/regenerate", data={"csrf_token": csrf})
    new_raw = re.search(r'<code id="raw-key">([^<]+)</code>', regen.text).group(1)
    token, _ = _token_in(admin.get("/ui/keys").text, "victim")
    assert token == token_of(new_raw)
    confirm = admin.post(f"/ui/keys/{token}/delete", data={"csrf_token": csrf})
    assert 'name="confirm" value="yes"' in confirm.text
    assert "victim" in admin.get("/ui/keys").text            # not deleted yet
    admin.post(f"/ui/keys/{token}/delete", data={"csrf_token": csrf, "confirm": "yes"})
    assert '<td class="alias">victim</td>' not in admin.get("/ui/keys").text


def test_keys_search_and_sort(admin):
    for alias in ("zeta", "alpha", "mid"):
        _create(admin, alias)
    html = admin.get("/ui/keys?sort=key_alias&dir=asc").text
    order = re.findall(r'<td class="alias">([^<]+)</td>', html)
    assert order == sorted(order)
    assert re.findall(r'<td class="alias">([^<]+)</td>',
                      admin.get("/ui/keys?q=zet").text) == ["zeta"]


def test_teams_and_users_pages(admin):
    page = admin.get("/ui/teams").text
    admin.post("/ui/teams", data={"csrf_token": csrf_of(page), "team_alias": "red team",
                                  "max_budget": "5"})
    html = admin.get("/ui/teams").text
    assert "red team" in html and "of $5.00" in html
    page = admin.get("/ui/users").text
    admin.post("/ui/users", data={"csrf_token": csrf_of(page), "user_id": "ann",
                                  "user_email": "ann@example.com"})
    assert "ann@example.com" in admin.get("/ui/users").text


def test_virtual_key_sees_only_its_own_usage(ui_app, admin):
    raw = _create(admin, "reader")
    _create(admin, "other")
    store = ui_app.extensions["switchboard.store"]
    now = dt.datetime.now(UTC).replace(microsecond=0)
    seed_logs(store.engine, [log_row(1, now, api_key=token_of(raw), key_alias="reader"),
                             log_row(2, now, api_key="f" * 64, key_alias="other")])
    client = ui_app.test_client()
    assert login(client, raw).status_code == 302
    home = client.get("/ui").text
    assert 'href="/ui/teams"' not in home and "read-only" in home
    for page in ("/ui", "/ui/keys", "/ui/logs", "/ui/spend", "/ui/spend.csv"):
        resp = client.get(page)
        assert resp.status_code == 200, page
        assert "other" not in resp.text, page
    assert '<td class="alias">reader</td>' in client.get("/ui/logs").text
    for page in ("/ui/teams", "/ui/users", "/ui/models"):
        assert client.get(page).status_code == 403
    csrf = csrf_of(home)
    assert client.post("/ui/keys", data={"csrf_token": csrf, "key_alias": "x"}).status_code \
        == 403
    token = token_of(raw)
    admin.post(f"/ui/keys/{token}/block", data={"csrf_token": csrf_of(admin.get("/ui").text),
                                                "blocked": "1"})
    assert client.get("/ui").status_code == 302     # a blocked key's session ends
