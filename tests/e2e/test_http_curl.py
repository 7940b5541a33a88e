"""The reference's curl session against the switch as a real process: every command prints what the page shows."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from switch.kit.curl import BASE
from switch.kit.examples import START
from tests.support.brokers import free_port
from tests.support.switches import ROOT, SwitchProcess

pytestmark = pytest.mark.e2e
REFERENCE = ROOT / "docs" / "reference.md"
# The last 10 digits of the platform's inf_refmsgid are a sequence from real time: the page says so.
_SEQUENCE = re.compile(r'("inf_refmsgid":"[0-9]{20})[0-9]{10}"')


def curl_session() -> list[tuple[str, str]]:
    """(command, the exact answer shown) for each step of the reference's HTTP section."""
    text = REFERENCE.read_text(encoding="utf-8").split("## The same window over HTTP, with curl", 1)[1]
    text = text.split("\n## ", 1)[0]
    blocks = re.findall(r"```(sh|json)\n(.*?)```", text, re.S)
    assert [kind for kind, _ in blocks] == ["sh", "json"] * (len(blocks) // 2) and blocks
    return [(command.strip(), shown.strip()) for (_, command), (_, shown) in zip(blocks[::2], blocks[1::2],
                                                                                 strict=True)]


def test_the_reference_curl_session_prints_what_it_shows(tmp_path: Path) -> None:
    """Each documented curl command, run against `gongji-switch serve`, prints the documented answer exactly."""
    curl = shutil.which("curl")
    assert curl is not None, "curl is not installed"
    port = free_port()
    switch = SwitchProcess("--clock", "virtual", "--clock-start", START.isoformat(), "--db",
                           str(tmp_path / "demo.db"), "--listen", f"127.0.0.1:{free_port()}",
                           "--http", f"127.0.0.1:{port}").start()
    try:
        steps = curl_session()
        assert len(steps) == 7
        printed = []
        for command, shown in steps:
            assert command.startswith(f"curl -s {BASE}/")
            local = command.replace(BASE, f"http://127.0.0.1:{port}").replace("curl", curl, 1)
            done = subprocess.run(["sh", "-c", local], capture_output=True, text=True, timeout=30)
            assert done.returncode == 0, done.stderr
            assert _SEQUENCE.sub(r'\1"', done.stdout) == _SEQUENCE.sub(r'\1"', shown), command
            printed.append(done.stdout)
        assert printed[6] == printed[5]  # the retry gets the first answer, inf_refmsgid included
    finally:
        assert switch.terminate() == 0


def test_the_readme_curl_lines_work(tmp_path: Path) -> None:
    """The README's quick-start curl lines against `gongji-switch serve`: the load is OK and DH's card reads 500.00."""
    curl = shutil.which("curl")
    assert curl is not None, "curl is not installed"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = [line for line in readme.splitlines() if line.startswith("curl -s ") and "/events" not in line]
    assert len(lines) == 2, lines
    port = free_port()
    switch = SwitchProcess("--db", str(tmp_path / "l.db"), "--listen", f"127.0.0.1:{free_port()}",
                           "--http", f"127.0.0.1:{port}").start()
    try:
        answers = []
        for line in lines:
            local = line.replace(BASE, f"http://127.0.0.1:{port}").replace("curl", curl, 1)
            done = subprocess.run(["sh", "-c", local], capture_output=True, text=True, timeout=30)
            answers.append(json.loads(done.stdout))
    finally:
        assert switch.terminate() == 0
    assert (answers[0]["code"], answers[0]["output"]) == ("OK", {"people": 1, "bindings": 0})
    assert (answers[1]["infcode"], answers[1]["inf_refmsgid"][:6]) == (0, "370500")
    assert answers[1]["output"]["insuinfo"][0]["balc"] == "500.00"
