"""One ledger file, one switch: a second `serve` on the same --db refuses to start and names the holder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from terminal.clients.mqtt import SwitchClient
from tests.support.brokers import free_port
from tests.support.families import ZIBO
from tests.support.switches import ROOT, SwitchProcess

pytestmark = pytest.mark.e2e


def serve_args(db: Path, root: str) -> list[str]:
    return [sys.executable, "-m", "switch", "serve", "--listen", f"127.0.0.1:{free_port()}", "--db", str(db),
            "--topic-root", root, "--clock", "virtual"]


async def test_a_second_switch_on_the_same_ledger_refuses_to_start(tmp_path: Path, topic_root: str) -> None:
    """The second serve exits 2 with one line naming the file and the first's pid; the first keeps serving."""
    db = tmp_path / "ledger.db"
    first = SwitchProcess(*serve_args(db, topic_root)[4:]).start()
    try:
        assert first.proc is not None
        second = subprocess.run(serve_args(db, topic_root + "-b"), cwd=ROOT, capture_output=True, text=True,
                                timeout=60)
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in second.stderr, second.stderr
        assert str(db) in lines[0] and f"pid {first.proc.pid}, started 20" in lines[0], lines[0]
        journal = subprocess.run([sys.executable, "-m", "switch", "journal", "--db", str(db)], cwd=ROOT,
                                 capture_output=True, text=True, timeout=60)
        assert journal.returncode == 0, journal.stderr
        url = first.ready_line.split("broker ")[1].split(" ")[0]
        async with SwitchClient(url, "admin", root=topic_root, timeout=10) as admin:
            assert (await admin.call("admin.load", ZIBO)) == {"people": 2, "bindings": 1}
    finally:
        first.kill()
    again = SwitchProcess(*serve_args(db, topic_root)[4:]).start()  # SIGKILL released the lock
    assert again.terminate() == 0
