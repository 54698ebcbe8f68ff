"""The review app in a real headless Chromium (Selenium + Debian's chromium-driver).

Screenshots of the queue, a post page and the campaign view go to a temp folder
whose path is printed (run with -s to see it).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from .conftest import PASSWORD, Live

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def screenshots() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="signalering-screenshots-"))
    print(f"\nscreenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def log_in(browser: WebDriver, live: Live, name: str) -> None:
    browser.delete_all_cookies()
    browser.get(f"{live.url}/login")
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "logout")))


def highlighted_runs(text: str, evidence: list[dict]) -> list[str]:
    """The runs of ``text`` covered by evidence offsets (overlapping spans joined)."""
    covered = [False] * len(text)
    for span in evidence:
        for i in range(span["start"], span["end"]):
            covered[i] = True
    runs, current = [], ""
    for char, hit in zip(text, covered, strict=True):
        if hit:
            current += char
        elif current:
            runs.append(current)
            current = ""
    return runs + ([current] if current else [])


def nothing_ran(browser: WebDriver) -> None:
    """No planted script ran: the flag stays unset and no alert is open."""
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018


def test_analyst_confirms_a_highlighted_post_and_the_admin_reads_it_in_the_audit_log(
    browser: WebDriver, live: Live, screenshots: Path
) -> None:
    log_in(browser, live, "anna")
    assert browser.current_url.endswith("/queue")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.queue-row")
    assert rows, "flagged posts are in the queue"
    browser.save_screenshot(str(screenshots / "queue.png"))

    # Keyboard: j selects the first row, Enter opens it.
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("j")
    first = rows[0].get_attribute("id")
    assert "selected" in browser.find_element(By.ID, first).get_attribute("class")
    body.send_keys("\ue007")  # Enter
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "post-text")))
    pk = int(browser.current_url.rsplit("/", 1)[1])
    assert f"row-{pk}" == first

    post = live.review.store.get(pk)
    assert post is not None and post.evidence
    marks = browser.find_elements(By.CSS_SELECTOR, "#post-text mark.evidence")
    marked = [m.get_attribute("textContent") for m in marks]
    assert marked == highlighted_runs(post.text, post.evidence)
    browser.save_screenshot(str(screenshots / "post.png"))

    # Keyboard: c confirms.
    browser.find_element(By.TAG_NAME, "body").send_keys("c")
    WebDriverWait(browser, 10).until(lambda b: not b.current_url.endswith(f"/posts/{pk}"))
    assert [d["action"] for d in live.review.store.decisions(pk)] == ["confirm"]

    browser.get(f"{live.url}/queue")
    assert not browser.find_elements(By.ID, f"row-{pk}")
    # The audit log oversees the analysts: an analyst has no link to it and cannot open it.
    assert not browser.find_elements(By.ID, "nav-audit")
    browser.get(f"{live.url}/audit")
    assert not browser.find_elements(By.ID, "audit")
    log_in(browser, live, "root")
    browser.find_element(By.ID, "nav-audit").click()
    audit = browser.find_element(By.ID, "audit").text
    assert "decision.confirm" in audit and f"post:{pk}" in audit and "anna" in audit


def test_campaign_user_sees_aggregates_and_cannot_reach_any_raw_contact(
    browser: WebDriver, live: Live, screenshots: Path
) -> None:
    log_in(browser, live, "carla")
    assert browser.current_url.endswith("/campaign")
    browser.save_screenshot(str(screenshots / "campaign.png"))
    assert browser.find_elements(By.CSS_SELECTOR, "#contacts td.pseudonym")
    assert browser.find_elements(By.CSS_SELECTOR, "#per-week td")
    assert not browser.find_elements(By.ID, "nav-queue")
    pages = [browser.page_source]
    pk = live.review.ids["101"]
    for path in ("/queue", f"/posts/{pk}", "/audit", f"/api/posts/{pk}", "/api/queue"):
        browser.get(f"{live.url}{path}")
        assert "403" in browser.page_source or "no access" in browser.page_source, path
        pages.append(browser.page_source)
    browser.get(f"{live.url}/api/aggregates")
    pages.append(browser.page_source)
    text = "\n".join(pages)
    for raw in (
        "+218912345678",
        "+218 91 234 5678",
        "Abu Rihla",
        "zuwara_trips",
        "channel_uk_pass",
    ):
        assert raw not in text, raw


def test_hostile_posts_show_literally_and_nothing_in_them_executes(
    browser: WebDriver, live: Live, screenshots: Path
) -> None:
    log_in(browser, live, "anna")
    ids = live.review.ids
    browser.get(f"{live.url}/queue?status=all&source=tg-hostile")
    nothing_ran(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "tr.queue-row"), "hostile offers are flagged"
    assert "<script>" in browser.find_element(By.ID, "queue").text

    browser.get(f"{live.url}/posts/{ids['201']}")
    nothing_ran(browser)
    text = browser.find_element(By.ID, "post-text").text
    assert "<script>window.__pwned=1</script>" in text
    assert "<img src=x onerror=window.__pwned=1>" in browser.find_element(By.TAG_NAME, "aside").text
    assert not browser.find_elements(By.CSS_SELECTOR, "main script, main img")

    browser.get(f"{live.url}/posts/{ids['202']}")
    nothing_ran(browser)
    assert 'onerror="window.__pwned=1"' in browser.find_element(By.ID, "post-text").text
    # The javascript: URL is shown as text, never as a link.
    assert not browser.find_elements(By.ID, "source-link")
    assert "javascript:window.__pwned=1" in browser.find_element(By.ID, "source-link-text").text
    hrefs = [a.get_attribute("href") or "" for a in browser.find_elements(By.TAG_NAME, "a")]
    assert not [h for h in hrefs if h.lower().startswith("javascript:")]

    browser.get(f"{live.url}/posts/{ids['203']}")
    nothing_ran(browser)
    shown = browser.find_element(By.ID, "post-text").text
    # The right-to-left override is made visible and cannot flip "exe.live" into "evil.exe".
    assert "[U+202E]exe.live[U+202C]" in shown
    assert '<a href="javascript:window.__pwned=1">click</a>' in shown
    browser.save_screenshot(str(screenshots / "hostile-post.png"))
    for link in browser.find_elements(By.CSS_SELECTOR, "main a"):
        assert not (link.get_attribute("href") or "").lower().startswith("javascript:")
    nothing_ran(browser)


def test_arabic_post_reads_right_to_left_with_highlights_on_the_right_words(
    browser: WebDriver, live: Live, screenshots: Path
) -> None:
    log_in(browser, live, "anna")
    pk = live.review.ids["102"]
    post = live.review.store.get(pk)
    assert post is not None and post.evidence
    browser.get(f"{live.url}/posts/{pk}")
    element = browser.find_element(By.ID, "post-text")
    assert element.get_attribute("dir") == "auto"
    assert (
        browser.execute_script("return getComputedStyle(arguments[0]).direction", element) == "rtl"
    )
    assert element.text.strip() == post.text
    marked = [m.get_attribute("textContent") for m in element.find_elements(By.TAG_NAME, "mark")]
    assert marked == highlighted_runs(post.text, post.evidence)
    for span in post.evidence:
        assert any(span["text"] in run for run in marked), span
    browser.save_screenshot(str(screenshots / "post-arabic.png"))


def test_interface_switches_from_dutch_to_english(browser: WebDriver, live: Live) -> None:
    log_in(browser, live, "anna")
    assert browser.find_element(By.ID, "nav-queue").text == "Wachtrij"
    browser.find_element(By.ID, "lang-en").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "nav-queue").text == "Queue")
