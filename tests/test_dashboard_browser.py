"""The dashboard in headless Chromium, served by a real `airflow api-server` on loopback.

Airflow's simple auth manager (the 3.3 default) with one viewer account from a passwords file;
the browser signs in through Airflow's own login page. Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import axe_core_python
import httpx
import pytest
from conftest import REPO, free_port
from expected import TAKAICHI
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from newswatch import pipeline, watchdog
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = REPO / "var" / "screenshots"
USER, PASSWORD = "analyst", "newswatch-test-password"
AXE = Path(axe_core_python.__file__).with_name("axe.min.js")


@pytest.fixture
def airflow_url(
    settings: Settings, news_day: SampleDay, airflow_db: str, tmp_path: Path
) -> Iterator[str]:
    """`airflow api-server` on a free loopback port, loading plugins/, over the filled store;
    Broken Times has failed three polls in a row, so the watchdog has a finding to show."""
    pipeline.run_once(get_settings())
    for _ in range(watchdog.FAILING_AFTER - 1):
        pipeline.run_once(get_settings(), force=["Broken Times"])
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    env = {
        **os.environ,
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple."
        "simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": "newswatch-dashboard-test-secret",
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "api-server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("airflow")), "api-server", "--host", "127.0.0.1"]
            + ["--port", str(port), "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the workers stop with it
        )
    try:
        _wait_until_healthy(base, server, log)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _wait_until_healthy(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"airflow api-server exited with {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"airflow api-server did not answer within 60 s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[webdriver.Chrome]:
    """Debian's headless Chromium through its chromedriver; nothing is downloaded."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: `make test` installs them "
            "(apt-get install -y chromium chromium-driver)"
        )
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never fetch a driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: webdriver.Chrome, css: str, seconds: float = 20) -> None:
    WebDriverWait(driver, seconds).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def shot(driver: webdriver.Chrome, name: str, width: int = 1280) -> None:
    """A full-page screenshot: the viewport stretched to the page's height for the picture (a
    phone's when narrower than 640 px)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    viewport(driver, width, 900)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    viewport(driver, width, min(height, 4000))
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def check_page(driver: webdriver.Chrome, name: str) -> None:
    """The page passes axe-core's rules (names on controls, contrast, landmarks …) and fits a
    390-pixel phone without scrolling sideways; screenshots at 1280 and 390 pixels."""
    driver.execute_script(AXE.read_text())
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations))"
        ".catch(e => done([{id: 'axe-error', help: String(e), nodes: []}]));"
    )
    problems = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} elements: "
        f"{[n.get('target') for n in v['nodes'][:3]]} {v['nodes'][0].get('failureSummary', '')[:200] if v['nodes'] else ''})"
        for v in result
    ]
    assert problems == [], (name, problems)
    shot(driver, name)
    viewport(driver, 390, 844)
    try:
        wide = driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert wide[0] <= wide[1], (name, "overflows a 390 px screen", wide)
        driver.save_screenshot(str(SCREENSHOTS / f"{name}-390.png"))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def viewport(driver: webdriver.Chrome, width: int, height: int) -> None:
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 640}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def body_colour(driver: webdriver.Chrome) -> str:
    return str(driver.execute_script("return getComputedStyle(document.body).backgroundColor"))


def wait_for_colour(driver: webdriver.Chrome, colour: str) -> None:
    WebDriverWait(driver, 5).until(lambda d: body_colour(d) == colour)


def texts(driver: webdriver.Chrome, css: str) -> list[str]:
    return [element.text for element in driver.find_elements(By.CSS_SELECTOR, css)]


def sign_in(driver: webdriver.Chrome, url: str, ready: str, picture: str | None = None) -> None:
    """Open a dashboard page anonymously: Airflow's login page, which brings the browser back."""
    driver.get(url)
    wait_for(driver, "input[name=username]")
    assert "/auth/login" in driver.current_url
    if picture:
        shot(driver, picture)
    driver.find_element(By.NAME, "username").send_keys(USER)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, ready)
    assert driver.current_url == url


def refuses_anonymous_and_bad_tokens(airflow_url: str) -> None:
    """Without a valid Airflow token every page sends the caller to Airflow's login."""
    for headers in [{}, {"Authorization": "Bearer not-a-jwt"}]:
        response = httpx.get(f"{airflow_url}/newswatch/search?q=x", headers=headers)
        assert response.status_code == 303, headers
        assert response.headers["location"].startswith("/auth/login?next=")
    plugins = httpx.get(
        f"{airflow_url}/api/v2/plugins", headers={"Authorization": f"Bearer {_token(airflow_url)}"}
    ).json()["plugins"]
    (view,) = [v for plugin in plugins for v in plugin["external_views"]]
    # Relative, so Airflow's UI resolves it under its base URL (sub-path included).
    assert view["href"] == "newswatch/" and view["url_route"] == "newswatch"
    # The stylesheet is public: it holds nothing from the store.
    assert httpx.get(f"{airflow_url}/newswatch/static/dashboard.css").status_code == 200


def _token(airflow_url: str) -> str:
    body = {"username": USER, "password": PASSWORD}
    response = httpx.post(f"{airflow_url}/auth/token", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["access_token"])


def test_dashboard_pages_behind_airflow_login(airflow_url: str, browser: webdriver.Chrome) -> None:
    refuses_anonymous_and_bad_tokens(airflow_url)  # one API server per test keeps this fast

    sign_in(browser, f"{airflow_url}/newswatch/", "section#stories", "00-login")

    # Stories first: each story once, with its topics as chips and whether it was alerted.
    cards = texts(browser, "#stories li.story")
    assert len(cards) == 4 and sum(TAKAICHI in card for card in cards) == 1
    summit = next(card for card in cards if TAKAICHI in card)
    assert "AloJapan, Asia Wire" in summit and "Alerted to analyst@example.com" in summit
    check_page(browser, "01-stories")

    # A topic chip filters the list by that topic.
    browser.find_element(By.LINK_TEXT, "Tariffs").click()
    WebDriverWait(browser, 10).until(ec.url_contains("topic=tariffs"))
    wait_for(browser, "section#stories")
    filtered = texts(browser, "#stories li.story")
    assert len(filtered) == 2 and any(TAKAICHI in card for card in filtered)
    shot(browser, "02-stories-filtered-by-topic")

    # One story a page: the next-page link keeps the topic filter and shows the other story.
    browser.get(f"{browser.current_url}&size=1")
    wait_for(browser, "nav.pager a[rel=next]")
    first_page = texts(browser, "#stories li.story")
    browser.find_element(By.CSS_SELECTOR, "nav.pager a[rel=next]").click()
    WebDriverWait(browser, 10).until(ec.url_contains("page=2"))
    wait_for(browser, "nav.pager a[rel=prev]")
    assert "topic=tariffs" in browser.current_url
    second_page = texts(browser, "#stories li.story")
    assert len(first_page) == len(second_page) == 1 and first_page != second_page
    assert browser.find_elements(By.CSS_SELECTOR, "nav.pager a[rel=next]") == []

    # A story's page: every copy, every match, who was told.
    browser.get(f"{airflow_url}/newswatch/")
    wait_for(browser, "section#stories")
    browser.find_element(By.LINK_TEXT, TAKAICHI).click()
    wait_for(browser, "section#copies")
    assert len(texts(browser, "#copies tr.copy")) == 2
    assert "analyst@example.com" in browser.find_element(By.ID, "deliveries").text
    check_page(browser, "02b-story")

    browser.find_element(By.LINK_TEXT, "Hits per day").click()
    wait_for(browser, "figure.chart svg")
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg g.series")) == 5
    assert "Tariffs" in browser.find_element(By.CSS_SELECTOR, "table.numbers").text
    check_page(browser, "03-hits-per-day")

    browser.find_element(By.LINK_TEXT, "Feed health").click()
    wait_for(browser, "table.feeds")
    failing = texts(browser, "tr.feed.failing")
    assert len(failing) == 1 and "Broken Times" in failing[0] and "HTTP 500" in failing[0]
    (finding,) = texts(browser, "tr.feed.failing p.finding")
    assert finding.startswith(f"{watchdog.KIND_LABELS[watchdog.Kind.FAILING]}: ")
    assert "1 of 3 feeds need attention" in browser.find_element(By.CSS_SELECTOR, ".summary").text
    check_page(browser, "04-feed-health")

    browser.find_element(By.LINK_TEXT, "Search").click()
    wait_for(browser, "input[name=q]")
    browser.find_element(By.NAME, "q").send_keys("rare earth\n")
    wait_for(browser, "li.hit")
    hits = texts(browser, "li.hit > a")  # the story, not its "read it" link
    assert (
        hits[0] == "China tightens export controls on rare earth magnets" and len(hits) == 2
    )  # the summit story once, though its lead and its copy both matched
    assert "rare" in texts(browser, "li.hit mark")
    check_page(browser, "05-search")

    # Inside Airflow's own UI: the navigation entry opens the dashboard in Airflow's frame.
    browser.get(f"{airflow_url}/plugin/newswatch")
    wait_for(browser, "iframe")
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    wait_for(browser, "section#stories")
    # Framed by Airflow: no second header bar, only our tabs under Airflow's own header.
    assert browser.find_elements(By.CSS_SELECTOR, "body.embedded") != []
    assert browser.find_elements(By.CSS_SELECTOR, "header .brand") == []
    # Airflow's own light/dark choice (a class on its <html>) is followed at once.
    for theme, background in [("dark", "rgb(17, 20, 24)"), ("light", "rgb(250, 250, 250)")]:
        browser.switch_to.default_content()
        browser.execute_script(
            "const c = document.documentElement.classList;"
            "c.remove('light', 'dark'); c.add(arguments[0]);",
            theme,
        )
        browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
        wait_for_colour(browser, background)
        assert browser.execute_script("return document.documentElement.dataset.theme") == theme
    browser.switch_to.default_content()
    time.sleep(0.5)  # let the surrounding UI finish drawing before the picture
    browser.save_screenshot(str(SCREENSHOTS / "06-inside-airflow-ui.png"))


def test_rule_editor_previews_as_the_editor_types(
    airflow_url: str, browser: webdriver.Chrome
) -> None:
    sign_in(browser, f"{airflow_url}/newswatch/rules", "input[name=q]")
    # A page load would drop this: the preview must come without one.
    browser.execute_script("window.notReloaded = true")
    query = browser.find_element(By.NAME, "q")
    query.send_keys("tariff AND (")
    wait_for(browser, "#preview .query-error")
    assert (
        "position 12: the query ends inside parentheses"
        in browser.find_element(By.CSS_SELECTOR, "#preview .error").text
    )
    assert browser.find_element(By.CSS_SELECTOR, ".query-shown .at").get_attribute("title") == (
        "position 12"
    )
    check_page(browser, "rules-error")

    query.send_keys(Keys.BACKSPACE * 6 + " OR Seoul")
    wait_for(browser, "#preview li.hit")
    Select(browser.find_element(By.NAME, "topic")).select_by_value("tariffs")
    wait_for(browser, "#preview li.hit .change.gained")
    changes = {
        row.find_element(By.TAG_NAME, "a").text: row.find_element(By.CLASS_NAME, "change").text
        for row in browser.find_elements(By.CSS_SELECTOR, "#preview li.hit")
    }
    assert changes == {
        TAKAICHI: "kept",
        "Japan eyes late-March Takaichi trip to U.S. for Trump summit": "kept",
        "Toyota warns U.S. tariffs will cut profit by $9 billion": "kept",
        "Seoul raises defence spending for fourth year": "gained",
    }
    assert "tariff" in texts(browser, "#preview li.hit mark")
    assert "query: tariff OR Seoul" in browser.find_element(By.CSS_SELECTOR, "pre.yaml").text
    assert browser.execute_script("return window.notReloaded") is True
    assert browser.current_url.endswith("rules?q=tariff+OR+Seoul&topic=tariffs&days=30")

    check_page(browser, "rules-results")  # axe-core, and no sideways scrolling at 390 px

    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    background = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 20, 24)"  # --bg of the dark palette
    check_page(browser, "rules-results-dark")  # axe-core's contrast rule in the dark too
