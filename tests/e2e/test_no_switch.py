"""A broker with no switch under the topic root: load and swipe say so in one line within seconds, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

TERMINAL = [sys.executable, "-c", "import sys; from terminal.cli import main; sys.exit(main())"]


def _run(*args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run([*TERMINAL, *args], capture_output=True, text=True, timeout=60)
    return done.returncode, (done.stdout + done.stderr).strip(), time.monotonic() - started


def _expected(command: str, url: str, root: str) -> str:
    return (f"gongji-terminal {command}: no switch answered on {url} under {root}: is a switch running there "
            f"with that topic root (--root here, --topic-root on the switch)?")


def test_load_against_a_broker_without_a_switch(mosquitto_url: str, topic_root: str) -> None:
    """load --broker: one line naming broker and root after a few seconds, not a 120 s progress bar."""
    status, out, took = _run("load", "--broker", mosquitto_url, "--root", topic_root, "--count", "5",
                             "--people", "10", "--families", "2")
    assert (status, out) == (2, _expected("load", mosquitto_url, topic_root))
    assert took < 15


def test_swipe_against_a_broker_without_a_switch(mosquitto_url: str, topic_root: str, tmp_path: Path) -> None:
    """swipe: the same one line (no "no answer" per try) and exit 2 within seconds; nothing is owed after."""
    status, out, took = _run("swipe", "--broker", mosquitto_url, "--root", topic_root, "--cert", "QR-D002",
                             "--amount", "80.00", "--state-dir", str(tmp_path))
    assert (status, out) == (2, _expected("swipe", mosquitto_url, topic_root))
    assert took < 15
    assert json.loads((tmp_path / "POS-01.json").read_text())["pending"] == []


def test_load_with_no_broker_there_names_the_broker() -> None:
    """load --broker where nothing listens: one line naming the broker URL, as swipe and run say it, exit 2."""
    status, out, _ = _run("load", "--broker", "mqtt://127.0.0.1:9", "--count", "5", "--people", "10",
                          "--families", "2")
    assert (status, out) == (2, "gongji-terminal load: cannot reach the broker mqtt://127.0.0.1:9: "
                                "[Errno 111] Connection refused")


@pytest.mark.parametrize("command", [("swipe", "--cert", "QRX", "--amount", "1"), ("run", "scenarios/platform"),
                                     ("load", "--count", "5")], ids=["swipe", "run", "load"])
def test_an_http_url_as_broker_is_refused_at_once(command: tuple[str, ...], tmp_path: Path) -> None:
    """--broker http://... is the HTTP door's URL: refused before anything is sent, naming --http, exit 2."""
    name, *rest = command
    status, out, took = _run(name, "--broker", "http://127.0.0.1:9", *rest, "--state-dir", str(tmp_path)) \
        if name == "swipe" else _run(name, "--broker", "http://127.0.0.1:9", *rest)
    assert (status, out) == (2, f"gongji-terminal {name}: --broker http://127.0.0.1:9 is an HTTP URL, not a "
                                "broker's (mqtt://HOST:PORT): for the switch's HTTP door pass --http "
                                "http://127.0.0.1:9")
    assert took < 15
