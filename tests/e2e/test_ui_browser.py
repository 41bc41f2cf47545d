"""The dashboard in a real browser (headless Debian Chromium via selenium) against the real
server: login, every page with its charts, no console errors, screenshots, the refusals."""
import datetime as dt
import re

import openai
import pytest
import requests

from app.store import Store
from tests.e2e.browser import charts, chrome, console_errors
from tests.e2e.helpers import MASTER_KEY, model, start_gateway, wait_for
from tests.ui.seed import UTC, log_row, seed_logs

PAGES = ("/ui", "/ui/keys", "/ui/teams", "/ui/users", "/ui/models", "/ui/logs", "/ui/spend",
         "/ui/spend?by=model", "/ui?range=7d")


@pytest.fixture(scope="module")
def ui_gateway(tmp_path_factory, fake_upstream, closed_port):
    """A gateway with a master key, a working model, a failing one and seeded spend rows."""
    work = tmp_path_factory.mktemp("gw-ui")
    url = f"sqlite:///{work / 'ui.db'}"
    store = Store(url)
    store.ensure_schema()
    now = dt.datetime.now(UTC).replace(microsecond=0)
    seed_logs(store.engine, [
        log_row(i, now - dt.timedelta(minutes=3 * i), api_key="a" * 64, key_alias="seeded",
                spend=0.002 * (i % 4), latency_ms=50.0 + i) for i in range(40)]
        + [log_row(90, now, status="failure", status_code=502, spend=0.0,
                   error_message="connection refused", model_group="unreachable")])
    store.dispose()
    config = {
        "model_list": [
            model("gpt-3.5-turbo", "openai/gpt-3.5-turbo", api_base=fake_upstream.base,
                  api_key="sk-upstream"),
            model("unreachable", "openai/gpt-3.5-turbo", api_key="sk-upstream",
                  api_base=f"http://127.0.0.1:{closed_port}/v1"),
        ],
        "litellm_settings": {"num_retries": 0},
        "general_settings": {"master_key": MASTER_KEY, "database_url": url,
                             "access_log": "off"},
    }
    gw = start_gateway(work, config, env={"SWITCHBOARD_DATA_DIR": str(work)})
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def driver():
    """One headless Chromium for the module."""
    d = chrome()
    yield d
    d.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Where screenshots go (printed by each test that takes one)."""
    return tmp_path_factory.mktemp("ui-screenshots")


def log_in(driver, gw, key):
    """Fill the login form with ``key`` and submit it."""
    from selenium.webdriver.common.by import By
    driver.delete_all_cookies()
    driver.get(gw.url + "/")
    field = driver.find_element(By.CSS_SELECTOR, 'input[type="password"]')
    field.send_keys(key)
    field.submit()
    # submit() does not wait for the answer: wait for the page it brings (else the next get()
    # can race the session cookie)
    assert wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, 'form[action="/ui/logout"]')
                    or "Invalid key." in driver.page_source, timeout=10)


def test_wrong_login_is_refused(ui_gateway, driver):
    from selenium.webdriver.common.by import By
    log_in(driver, ui_gateway, MASTER_KEY + "x")
    assert "Invalid key." in driver.page_source
    assert not driver.find_elements(By.CSS_SELECTOR, 'a[href="/ui/keys"]')
    assert console_errors(driver) == []


def test_every_page_draws_without_console_errors(ui_gateway, driver, shots, capsys):
    log_in(driver, ui_gateway, MASTER_KEY)
    assert driver.current_url.endswith("/ui")
    for path in PAGES:
        driver.get(ui_gateway.url + path)
        assert "Log in" not in driver.title, path
        assert console_errors(driver) == [], path
        drawn = charts(driver)
        if path.startswith(("/ui?", "/ui/spend")) or path == "/ui":
            assert drawn and all(w >= 150 and h >= 50 for w, h in drawn), (path, drawn)
        name = re.sub(r"\W+", "_", path.strip("/")) or "root"
        target = shots / f"{name}.png"
        driver.save_screenshot(str(target))
        with capsys.disabled():
            print(f"\nscreenshot {path}: {target}", end="")
    driver.get(ui_gateway.url + "/ui/logs")
    assert "seeded" in driver.page_source and "connection refused" not in driver.page_source


def test_keyboard_reaches_the_navigation(ui_gateway, driver):
    from selenium.webdriver.common.keys import Keys
    log_in(driver, ui_gateway, MASTER_KEY)
    body = driver.switch_to.active_element
    for _ in range(3):
        body.send_keys(Keys.TAB)
        body = driver.switch_to.active_element
    assert body.tag_name == "a" and body.get_attribute("href").startswith(ui_gateway.url + "/ui")


def test_post_without_csrf_token_is_refused(ui_gateway):
    session = requests.Session()
    session.get(ui_gateway.url + "/ui/login", timeout=5)
    resp = session.post(ui_gateway.url + "/ui/login", data={"key": MASTER_KEY},
                        allow_redirects=False, timeout=5)
    assert resp.status_code == 400 and "CSRF" in resp.text
    resp = session.post(ui_gateway.url + "/ui/logout", allow_redirects=False, timeout=5)
    assert resp.status_code == 400


def test_api_still_needs_the_master_key(ui_gateway):
    assert requests.get(ui_gateway.url + "/v1/models", timeout=5).status_code == 401
    with ui_gateway.client(api_key=MASTER_KEY) as client:
        assert {m.id for m in client.models.list()} == {"gpt-3.5-turbo", "unreachable"}


def _page_has(driver, url, *needles):
    driver.get(url)
    return all(n in driver.page_source for n in needles)


def test_full_flow_key_created_in_the_ui_shows_up_in_logs_keys_and_charts(
        ui_gateway, driver, shots, fake, capsys):
    from selenium.webdriver.common.by import By
    log_in(driver, ui_gateway, MASTER_KEY)
    driver.get(ui_gateway.url + "/ui/keys")
    form = driver.find_element(By.CSS_SELECTOR, 'form[action="/ui/keys"][method="post"]')
    form.find_element(By.NAME, "key_alias").send_keys("browser-key")
    form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
    # click() does not wait for the page the form brings (seen racing under a loaded CI run)
    [shown] = wait_for(lambda: driver.find_elements(By.ID, "raw-key"), timeout=10)
    raw = shown.text
    assert raw.startswith("sk-")
    driver.find_element(By.CSS_SELECTOR, "button.copy").click()
    with ui_gateway.client(api_key=raw) as client:
        reply = client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hello"}])
        assert reply.choices[0].message.content
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model="unreachable",
                                           messages=[{"role": "user", "content": "x"}])
    logs = ui_gateway.url + "/ui/logs"
    assert wait_for(lambda: _page_has(driver, logs, '<td class="alias">browser-key</td>',
                                      '<tr class="failure">'), timeout=8)
    driver.save_screenshot(str(shots / "flow_logs.png"))
    with capsys.disabled():
        print(f"\nscreenshot flow logs: {shots / 'flow_logs.png'}", end="")

    def key_spend():
        driver.get(ui_gateway.url + "/ui/keys?q=browser-key")
        cells = driver.find_elements(By.CSS_SELECTOR, "td .money")
        return cells and re.fullmatch(r"\$\d+\.\d{2,}", cells[0].text) \
            and cells[0].text not in ("$0.00",) and cells[0].text
    assert wait_for(key_spend, timeout=8)
    driver.get(ui_gateway.url + "/ui/spend?by=key")
    chart = driver.find_elements(By.CSS_SELECTOR, "svg.chart")[1]
    assert "browser-key" in chart.get_attribute("innerHTML")
    driver.get(ui_gateway.url + "/ui")
    assert "browser-key" in driver.page_source
    assert console_errors(driver) == []
    driver.save_screenshot(str(shots / "flow_overview.png"))
    with capsys.disabled():
        print(f"\nscreenshot flow overview: {shots / 'flow_overview.png'}", end="")
