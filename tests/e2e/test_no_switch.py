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
            f"with that --topic-root?")


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
