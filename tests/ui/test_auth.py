"""Dashboard access: login, wrong key, CSRF, cookie flags, logout, expiry, rate limit, ui: false."""
import time

from tests.ui.conftest import MASTER, csrf_of, login, make_ui_app

PAGES = ("/ui", "/ui/keys", "/ui/teams", "/ui/users", "/ui/models", "/ui/logs", "/ui/spend")


def _cookie(resp):
    return next(c for c in resp.headers.get_all("Set-Cookie")
                if c.startswith("switchboard_session="))


def test_root_redirects_to_the_dashboard_and_pages_need_a_login(ui_app):
    client = ui_app.test_client()
    assert client.get("/").headers["Location"] == "/ui"
    for page in PAGES:
        resp = client.get(page)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/ui/login")


def test_login_page_has_one_password_field_and_a_csrf_field(ui_app):
    html = ui_app.test_client().get("/ui/login").text
    assert html.count('type="password"') == 1
    assert 'name="csrf_token"' in html and 'method="post"' in html
    assert 'rel="icon" href="/ui/static/favicon.svg"' in html


def test_master_key_login_renews_the_session_with_safe_cookie_flags(ui_app):
    client = ui_app.test_client()
    before = client.get("/ui/login")
    token_before = csrf_of(before.text)
    resp = client.post("/ui/login", data={"key": MASTER, "csrf_token": token_before})
    assert resp.status_code == 302 and resp.headers["Location"] == "/ui"
    cookie = _cookie(resp)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert MASTER not in cookie
    assert _cookie(before).split(";")[0] != cookie.split(";")[0]
    page = client.get("/ui")
    assert page.status_code == 200 and 'href="/ui/keys"' in page.text
    assert csrf_of(page.text) != token_before   # a new CSRF token after login


def test_cookie_is_secure_behind_tls(ui_app):
    client = ui_app.test_client()
    headers = {"X-Forwarded-Proto": "https"}
    token = csrf_of(client.get("/ui/login", headers=headers).text)
    resp = client.post("/ui/login", data={"key": MASTER, "csrf_token": token},
                       headers=headers)
    assert "; Secure" in _cookie(resp)


def test_wrong_key_is_refused_generically(ui_app):
    client = ui_app.test_client()
    resp = login(client, "sk-master-uiX")
    assert resp.status_code == 200
    assert "Invalid key." in resp.text and 'href="/ui/keys"' not in resp.text
    assert client.get("/ui").status_code == 302


def test_post_without_csrf_token_is_refused(ui_app):
    client = ui_app.test_client()
    client.get("/ui/login")
    resp = client.post("/ui/login", data={"key": MASTER})
    assert resp.status_code == 400 and "CSRF" in resp.text
    assert login(client).status_code == 302
    for path in ("/ui/logout", "/ui/models/check", "/ui/keys"):
        resp = client.post(path, data={"model_id": "x", "key_alias": "a"})
        assert resp.status_code == 400 and "CSRF" in resp.text, path
    resp = client.post("/ui/logout", data={"csrf_token": "forged"})
    assert resp.status_code == 400
    assert client.get("/ui").status_code == 200   # still logged in


def test_logout_is_a_post_and_ends_the_session(admin):
    page = admin.get("/ui").text
    assert 'action="/ui/logout"' in page and 'href="/ui/logout"' not in page
    resp = admin.post("/ui/logout", data={"csrf_token": csrf_of(page)})
    assert resp.status_code == 302
    assert admin.get("/ui").status_code == 302


def test_session_expires(ui_app, monkeypatch):
    client = ui_app.test_client()
    login(client)
    assert client.get("/ui").status_code == 200
    later = time.time() + 13 * 3600
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/ui").status_code == 302


def test_failed_logins_are_rate_limited(ui_app):
    client = ui_app.test_client()
    for _ in range(10):
        assert "Invalid key." in login(client, "nope").text
    assert login(client, "nope").status_code == 429
    assert login(client).status_code == 429   # even the right key waits out the window
    other = ui_app.test_client()
    token = csrf_of(other.get("/ui/login").text)
    resp = other.post("/ui/login", data={"key": MASTER, "csrf_token": token},
                      environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert resp.status_code == 302


def test_behind_the_local_proxy_each_client_has_its_own_limit(ui_app):
    proxied = ui_app.test_client()
    for _ in range(11):
        token = csrf_of(proxied.get("/ui/login").text)
        resp = proxied.post("/ui/login", data={"key": "nope", "csrf_token": token},
                            headers={"X-Forwarded-For": "203.0.113.7"})
    assert resp.status_code == 429
    other = ui_app.test_client()
    token = csrf_of(other.get("/ui/login").text)
    resp = other.post("/ui/login", data={"key": MASTER, "csrf_token": token},
                      headers={"X-Forwarded-For": "203.0.113.8"})
    assert resp.status_code == 302
    spoofed = ui_app.test_client()   # a remote peer's X-Forwarded-For is not trusted
    token = csrf_of(spoofed.get("/ui/login").text)
    resp = spoofed.post("/ui/login", data={"key": "nope", "csrf_token": token},
                        headers={"X-Forwarded-For": "203.0.113.7"},
                        environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert resp.status_code == 200


def test_pages_allow_nothing_from_another_origin(admin):
    csp = admin.get("/ui").headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp


def test_rate_limit_shared_through_redis(sqlite_url, redis_clean):
    app = make_ui_app(sqlite_url)
    from app import kv
    from app.ui.auth import LoginLimiter
    limiter = LoginLimiter(kv.connect(app, redis_clean, 0.5))
    for _ in range(10):
        limiter.failed("1.2.3.4")
    assert limiter.blocked("1.2.3.4") and not limiter.blocked("1.2.3.5")
    twin = LoginLimiter(kv.connect(app, redis_clean, 0.5))   # another worker
    assert twin.blocked("1.2.3.4")
    assert not twin.local


def test_ui_false_turns_the_dashboard_off(sqlite_url):
    app = make_ui_app(sqlite_url, ui=False)
    client = app.test_client()
    assert client.get("/ui/login").status_code in (401, 404)
    assert client.get("/").status_code in (401, 404)


def test_api_auth_is_unchanged(ui_app):
    client = ui_app.test_client()
    assert client.get("/v1/models").status_code == 401
    resp = client.get("/v1/models", headers={"Authorization": f"Bearer {MASTER}"})
    assert resp.status_code == 200


def test_login_page_says_when_no_master_key_is_set():
    from app import create_app
    app = create_app({"model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
                      "general_settings": {"access_log": "off"}})
    html = app.test_client().get("/ui/login").text
    assert "no master key" in html and "general_settings.master_key" in html
    keyed = create_app({"model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
                        "general_settings": {"access_log": "off", "master_key": "sk-m"}})
    assert "no master key" not in keyed.test_client().get("/ui/login").text
