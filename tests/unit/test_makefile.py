"""The Makefile's promises: make test and make quick run the documented commands; a missing mosquitto is one line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make") or "make"


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MAKE, "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_without_mosquitto_or_a_way_to_install_it_make_says_what_to_install(tmp_path: Path) -> None:
    """No mosquitto and no apt-get on PATH: one line naming the two Debian packages, and make fails."""
    done = _make("-s", "mosquitto", f"PATH={tmp_path}")
    assert done.returncode != 0
    assert done.stdout == ("the tests need Debian's mosquitto and mosquitto-clients: install them (apt-get install "
                           "mosquitto mosquitto-clients) and run make test again\n")


def test_test_and_quick_run_the_readme_commands() -> None:
    """make test is the full pytest run; make quick is the unit tests and the scenario library."""
    full = _make("-n", "test").stdout.splitlines()
    quick = _make("-n", "quick").stdout.splitlines()
    assert full[-1].strip() == ".venv/bin/python -m pytest -q -p no:cacheprovider"
    assert quick[-1].strip() == ".venv/bin/python -m pytest -q -p no:cacheprovider tests/unit scenarios"
    assert "gongji-terminal demo" in _make("-n", "demo").stdout
