"""``gongji-terminal demo --web`` as a subprocess: the URL printed, the families loaded, a story."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from switch.web import demo_data
from tests.support.studio import Studio
from tests.support.switches import ROOT


@pytest.fixture
def demo_web() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The command on a free HTTP port and a frozen clock; (process, the URL it printed)."""
    process = subprocess.Popen([sys.executable, "-m", "terminal", "demo", "--web", "--http", "127.0.0.1:0",
                                "--speed", "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        assert line.startswith("gongji studio: http://127.0.0.1:"), line
        yield process, line.split()[2]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_demo_web_prints_the_url_serves_the_page_and_stops_on_ctrl_c(
        demo_web: tuple[subprocess.Popen[str], str]) -> None:
    """The page is HTML at /, demo.json is the package's, unknown studio files are 404; SIGINT exits 0."""
    process, url = demo_web
    status, kind, body = get(url)
    assert (status, kind) == (200, "text/html; charset=utf-8") and b"checkout studio" in body
    status, kind, body = get(url + "studio/demo.json")
    assert (status, json.loads(body)) == (200, json.loads(demo_data()))
    assert get(url + "studio/nothing.js")[0] == 404
    assert get(url + "csb/2102")[0] == 405  # the national paths are answered before any page is looked up
    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 0


def test_the_page_of_demo_web_has_the_families_and_plays_a_story(
        demo_web: tuple[subprocess.Popen[str], str], browser: Browser, tmp_path: Path) -> None:
    """Loaded by the command: 王建国 500.00 at 09:30; story 2 ends ✓ with the holder at 420.00."""
    _, url = demo_web
    studio = Studio(browser, url, tmp_path)
    studio.wait_balance("D001", "500.00")
    expect(studio.page.locator("#clock-now")).to_contain_text("09:30:00")
    studio.page.select_option("#story-select", "1")
    for step in range(1, 4):
        studio.page.click("#story-next")
        expect(studio.page.locator("#story-step")).to_contain_text(f"{step} / 3")
        studio.page.wait_for_selector("#story-panel[data-busy=no]")
    expect(studio.page.locator("#story-step")).to_have_text("3 / 3 · 故事结束 the end ✓")
    studio.wait_balance("D001", "420.00")
    studio.shot("demo-web")
    assert studio.errors == []


def test_demo_web_on_a_taken_port_says_what_to_pass_in_one_line() -> None:
    """--http on a port in use: one line naming the port and a free one to pass instead, and exit status 2."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "terminal", "demo", "--web", "--http", f"127.0.0.1:{port}"],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout.startswith(f"gongji-terminal demo: cannot start the switch: 127.0.0.1:{port} is taken")
    assert "pass --http 127.0.0.1:" in done.stdout and done.stdout.count("\n") == 1
