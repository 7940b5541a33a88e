"""The browser tests' fixtures: one chromium per session, a real switch per test, the studio page on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support.brokers import free_port
from tests.support.studio import Studio, launch
from tests.support.switches import SwitchProcess


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium per module: Playwright's sync API runs an event loop of its own while it is open, and
    it must be closed before the asyncio tests of other modules run theirs."""
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def switch_url(tmp_path: Path) -> Iterator[str]:
    """``gongji-switch serve`` as a subprocess on a frozen virtual clock; its HTTP door's base URL."""
    process = SwitchProcess("--clock", "virtual", "--listen", f"127.0.0.1:{free_port()}",
                            "--db", str(tmp_path / "ledger.db")).start()
    try:
        yield process.http_url
    finally:
        process.terminate()


@pytest.fixture
def studio(browser: Browser, switch_url: str, tmp_path: Path) -> Iterator[Studio]:
    """The page on that switch with the demo's families loaded (by the page, through admin.load)."""
    page = Studio(browser, switch_url + "/", tmp_path)
    page.load_demo()
    yield page
    page.page.close()
    assert page.errors == []
