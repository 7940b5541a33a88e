"""The checkout studio in a real browser: Debian's chromium driven by Playwright, against a real switch."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, expect

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "Studio", "launch"]

CHROMIUM = Path("/usr/bin/chromium")
# Headless, as root in a container, with nothing reaching out to the network behind the test's back.
# Generous waits: the suite shares two cores with broker and switch processes, and a page's step is a few
# requests and an event; a wait that runs out is still a failure, named with what was awaited.
WAIT_MS = 20_000
expect.set_options(timeout=WAIT_MS)
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def launch(playwright: Playwright) -> Browser:
    """Debian's chromium (Playwright's own browser download is never used); missing, the test fails saying so."""
    if not CHROMIUM.exists():
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM}: apt-get install chromium "
                    "(make test installs it)", pytrace=False)
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


class Studio:
    """The page at ``url`` on a 1280×720 screen, with the moves a presenter makes; screenshots go to ``shots``."""

    def __init__(self, browser: Browser, url: str, shots: Path) -> None:
        self.page: Page = browser.new_page(viewport={"width": 1280, "height": 720})
        self.page.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.shots = shots
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready=yes]")

    def load_demo(self) -> None:
        self.page.click("#load-demo")
        self.page.wait_for_selector('[data-balance="D003"]')
        self.page.wait_for_selector("#load-demo:enabled")

    def till(self, terminal_id: str) -> Locator:
        return self.page.locator(f'[data-till="{terminal_id}"]')

    def screen(self, terminal_id: str) -> Locator:
        return self.till(terminal_id).locator(".screen")

    def swipe(self, terminal_id: str, psn_no: str, amount: str, card: str | None = None) -> None:
        """Choose the patient (and a card, by default the patient's own), type the amount, press Swipe."""
        till = self.till(terminal_id)
        till.locator(".patient").select_option(psn_no)
        if card is not None:
            till.locator(".card").select_option(card)
        till.locator(".amount").fill(amount)
        till.locator(".swipe").click()
        self.page.wait_for_selector(f'[data-till="{terminal_id}"] .screen:not(.busy):not(.idle)')

    def balance(self, psn_no: str) -> str:
        return self.page.locator(f'[data-balance="{psn_no}"]').inner_text()

    def wait_balance(self, psn_no: str, value: str) -> None:
        self.page.wait_for_function(
            "([psn, value]) => document.querySelector(`[data-balance=\"${psn}\"]`)?.textContent === value",
            arg=[psn_no, value])

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path
