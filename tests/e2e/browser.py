"""A headless Debian Chromium driven by selenium, for the dashboard's browser tests."""
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WIDTH, HEIGHT = 1440, 1000


def chrome():
    """A headless Chromium at 1440 px wide with its console log readable; skips without it."""
    webdriver = pytest.importorskip("selenium.webdriver")
    binary = CHROMIUM if shutil.which(CHROMIUM) else shutil.which("chromium")
    driver_path = CHROMEDRIVER if shutil.which(CHROMEDRIVER) else shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("chromium and chromium-driver are not installed (apt-get install them)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={WIDTH},{HEIGHT}", "--disable-extensions",
                "--no-first-run", "--disable-background-networking"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=driver_path)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    return driver


def console_errors(driver):
    """SEVERE entries the pages wrote to the browser console since the last call."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def charts(driver):
    """(width, height) of every chart (svg / canvas) drawn on the page."""
    from selenium.webdriver.common.by import By
    return [(el.size["width"], el.size["height"])
            for el in driver.find_elements(By.CSS_SELECTOR, "svg.chart, canvas")]
