"""Exports and the network page in a real headless Chromium: real downloads, real clicks."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from signalering.link.network import build_networks

from .conftest import Live
from .test_browser import browser, log_in, nothing_ran, screenshots  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def downloads_to(browser: WebDriver) -> Path:  # noqa: F811
    """A fresh folder the browser saves downloads into."""
    folder = Path(tempfile.mkdtemp(prefix="signalering-downloads-"))
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
    )
    return folder


def downloaded(folder: Path, name: str, timeout: float = 20) -> Path:
    """Wait until ``name`` is completely downloaded into ``folder``."""
    deadline = time.monotonic() + timeout
    target = folder / name
    while time.monotonic() < deadline:
        if target.exists() and not list(folder.glob("*.crdownload")) and target.stat().st_size:
            return target
        time.sleep(0.1)
    raise AssertionError(f"{name} was not downloaded; folder has {list(folder.iterdir())}")


def test_analyst_exports_selected_queue_posts_as_a_csv_download_that_is_audited(
    browser: WebDriver,  # noqa: F811
    live: Live,
) -> None:
    log_in(browser, live, "anna")
    folder = downloads_to(browser)
    ids = live.review.ids
    browser.get(f"{live.url}/queue?status=all")
    chosen = [ids["101"], ids["201"]]
    for pk in chosen:
        browser.find_element(By.CSS_SELECTOR, f"#row-{pk} input[name=ids]").click()
    Select(browser.find_element(By.CSS_SELECTOR, "#export-form select[name=fmt]")).select_by_value(
        "csv"
    )
    browser.find_element(By.ID, "export-submit").click()
    rows = list(
        csv.DictReader(io.StringIO(downloaded(folder, "signalering-export.csv").read_text()))
    )
    assert [int(r["id"]) for r in rows] == sorted(chosen)
    assert "+218912345678" in {r["phones"] for r in rows}
    # The hostile author arrives as text, and nothing ran in the page while exporting.
    hostile = next(r for r in rows if int(r["id"]) == ids["201"])
    assert "onerror" in hostile["author"] and not hostile["author"].startswith(("=", "+", "@"))
    nothing_ran(browser)
    entry = live.review.store.audit_log(limit=1)[0]
    assert (entry["user"], entry["action"]) == ("anna", "export.csv")
    assert entry["target"] == f"posts:{','.join(map(str, sorted(chosen)))}"


def test_analyst_follows_a_post_to_its_network_and_exports_the_network_as_json(
    browser: WebDriver,  # noqa: F811
    live: Live,
    screenshots: Path,  # noqa: F811
) -> None:
    store = live.review.store
    ids = live.review.ids
    networks = build_networks(store, encoder=None)
    net = next(n for n in networks if str(ids["101"]) in map(str, n["post_ids"]))
    members = sorted(int(i) for i in net["post_ids"])
    assert ids["105"] in members  # the repost with the same WhatsApp number

    log_in(browser, live, "anna")
    browser.get(f"{live.url}/posts/{ids['101']}")
    browser.find_element(By.ID, "network-link").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "network-timeline")))
    assert browser.current_url.endswith(f"/networks/{net['id']}")
    browser.save_screenshot(str(screenshots / "network.png"))

    contacts = browser.find_element(By.ID, "network-contacts").text
    assert "+218912345678" in contacts
    timeline = browser.find_elements(By.CSS_SELECTOR, "#network-timeline tr td.snippet a")
    linked = [int((a.get_attribute("href") or "").rsplit("/", 1)[1]) for a in timeline]
    assert sorted(linked) == members
    posted = [store.get(pk) for pk in linked]
    times = [p.posted_at or p.fetched_at for p in posted if p is not None]
    assert times == sorted(times), "the timeline runs oldest first"
    entry = next(e for e in store.audit_log(limit=5) if e["action"] == "view.contacts")
    assert entry["target"] == f"network:{net['id']}"

    folder = downloads_to(browser)
    form = browser.find_element(By.ID, "network-export")
    Select(form.find_element(By.NAME, "fmt")).select_by_value("json")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    records = json.loads(downloaded(folder, "signalering-export.json").read_text())
    assert sorted(int(r["id"]) for r in records) == members
    assert any("+218912345678" in json.dumps(r["entities"]) for r in records)
    entry = store.audit_log(limit=1)[0]
    assert (entry["user"], entry["action"]) == ("anna", "export.json")

    # A campaign user cannot open the network page (its contacts are in clear).
    log_in(browser, live, "carla")
    browser.get(f"{live.url}/networks/{net['id']}")
    assert "+218912345678" not in browser.page_source
    assert "403" in browser.page_source or "no access" in browser.page_source
