"""The alert and digest emails as a reader sees them: their HTML parts in headless Chromium at
a desktop mail pane (600 px) and a phone (390 px), light and dark, and as a client that drops
<style> shows them. Nothing may scroll sideways, links must look like links and marked words
stay readable in the dark scheme. Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import REPO
from email_views import (
    NOW,
    SENDER,
    TAKAICHI_HITS,
    alert,
    digest_story,
    sample_digest,
    watch_report,
)
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from newswatch.delivery.messages.alert import render_alert
from newswatch.delivery.messages.digest import render_digest
from newswatch.delivery.messages.watch import watch_email
from newswatch.records import Digest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = REPO / "var" / "screenshots"
WIDTHS = (600, 390)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """Debian's headless Chromium through its chromedriver; nothing is downloaded."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: `make test` installs them "
            "(apt-get install -y chromium chromium-driver)"
        )
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never fetch a driver
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        profile = tmp_path_factory.mktemp("chromium-profile")
        for flag in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
        ]:
            options.add_argument(flag)
        driver = webdriver.Chrome(
            service=Service(executable_path=str(CHROMEDRIVER)), options=options
        )
    try:
        yield driver
    finally:
        driver.quit()


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def open_at(driver: webdriver.Chrome, page: Path, width: int, dark: bool = False) -> None:
    """`page` in a viewport `width` CSS pixels wide, as a phone's or a mail pane's."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 500},
    )
    scheme = "dark" if dark else "light"
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )
    driver.get(page.as_uri())


def assert_no_sideways_scroll(driver: webdriver.Chrome, width: int) -> None:
    scroll, inner = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert inner == width
    assert scroll <= inner, f"the page is {scroll} px wide in a {inner} px window"


def shot(driver: webdriver.Chrome, name: str, width: int) -> Path:
    """A full-page screenshot: the viewport stretched to the page's height for the picture."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": width,
            "height": min(height, 6000),
            "deviceScaleFactor": 1,
            "mobile": width < 500,
        },
    )
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    return path


def colours(driver: webdriver.Chrome, css: str) -> tuple[str, str]:
    """The computed text colour of the element and the background colour of its card."""
    element = driver.find_element(By.CSS_SELECTOR, css)
    text = element.value_of_css_property("color")
    card = driver.find_element(By.CSS_SELECTOR, "td.card").value_of_css_property("background-color")
    return text, card


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two computed `rgba(r, g, b, a)` colours."""

    def luminance(colour: str) -> float:
        r, g, b = (int(n) / 255 for n in re.findall(r"[\d.]+", colour)[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def css(driver: webdriver.Chrome, selector: str, prop: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, selector).value_of_css_property(prop))


def long_digest() -> Digest:
    """The sample morning and nine more stories: ten in full, four on a line each."""
    extra = [
        digest_story(f"Story {n} on {hit.title} and what it means for the region", 1, 13 + n, hit)
        for n, hit in enumerate(TAKAICHI_HITS * 2)
    ][:9]
    view = sample_digest()
    return replace(view, stories=[*view.stories, *extra])


MESSAGES = {
    "alert": lambda: render_alert(alert(), SENDER, NOW),
    "digest": lambda: render_digest(sample_digest(), SENDER, NOW),
    "digest-more": lambda: render_digest(long_digest(), SENDER, NOW),
    "watch": lambda: watch_email(watch_report(), SENDER, ["ops@news.example"], NOW),
}
# In the dark scheme, what must still read as a link in the link colour (#93c5fd); the
# operator's report has one link, its button.
LINKS = {
    "alert": "a.outlet-name",
    "digest": "a.read-link",
    "digest-more": "p.more a",
    "watch": None,
}
DARK_LINK = "rgba(147, 197, 253, 1)"


@pytest.mark.parametrize("name", list(MESSAGES))
def test_email_reads_at_mail_pane_and_phone_widths_in_light_and_dark(
    name: str, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    html = html_of(MESSAGES[name]())
    page = tmp_path / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    for width in WIDTHS:
        open_at(browser, page, width)
        assert_no_sideways_scroll(browser, width)
        light = colours(browser, ".title")
        assert light[0] != light[1]
        assert shot(browser, f"{name}-{width}", width).stat().st_size > 0

    for width in WIDTHS:
        open_at(browser, page, width, dark=True)
        assert browser.execute_script("return matchMedia('(prefers-color-scheme: dark)').matches")
        assert_no_sideways_scroll(browser, width)
        dark = colours(browser, ".title")
        assert dark[0] != dark[1] and dark != light, (dark, light)
        body = browser.find_element(By.TAG_NAME, "body").value_of_css_property("background-color")
        assert body != "rgba(255, 255, 255, 1)"
        # A link keeps the link colour (not the title's) and is readable on the card.
        selector = LINKS[name]
        if selector:
            link = css(browser, selector, "color")
            assert link == DARK_LINK != dark[0], (link, dark[0])
            assert contrast(link, dark[1]) >= 4.5
        for button in browser.find_elements(By.CSS_SELECTOR, "a.button"):
            cell = css(browser, "td.button-cell", "background-color")
            assert contrast(button.value_of_css_property("color"), cell) >= 4.5
        mark = browser.find_elements(By.TAG_NAME, "mark")
        if mark:
            ink, paper = (mark[0].value_of_css_property(p) for p in ("color", "background-color"))
            assert 4.5 <= contrast(ink, paper) and contrast(paper, dark[1]) < 3  # soft, readable
        assert shot(browser, f"{name}-{width}-dark", width).stat().st_size > 0

    # A client that drops <style> keeps only the inline styles: still one column, and dates
    # and times still never break at their hyphens.
    bare = tmp_path / f"{name}-nostyle.html"
    bare.write_text(re.sub(r"<style.*?</style>", "", html, flags=re.S), encoding="utf-8")
    open_at(browser, bare, 390)
    assert_no_sideways_scroll(browser, 390)
    times = browser.find_elements(By.CSS_SELECTOR, ".time")
    assert times and all(t.value_of_css_property("white-space") == "nowrap" for t in times)
    assert shot(browser, f"{name}-390-nostyle", 390).stat().st_size > 0
