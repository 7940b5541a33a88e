"""docs/reference.md is generated from the code: the committed copy must be what the code renders now."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from switch.cli import main
from switch.kit.reference import render
from tests.support.switches import ROOT


def test_committed_reference_is_current() -> None:
    """The committed docs/reference.md equals a fresh render; `gongji-switch reference` regenerates it."""
    committed = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == render(), "docs/reference.md is stale: run `gongji-switch reference`"


def test_reference_check_flags_a_stale_file_and_regenerating_fixes_it(tmp_path: Path) -> None:
    """`reference --check` exits 1 on a stale file and writes nothing; `reference PATH` makes it current."""
    target = tmp_path / "reference.md"
    target.write_text("# old\n", encoding="utf-8")
    assert main(["reference", str(target), "--check"]) == 1
    assert target.read_text(encoding="utf-8") == "# old\n"
    assert main(["reference", str(target)]) == 0
    assert main(["reference", str(target), "--check"]) == 0
    assert "| `POOLING_AVAILABLE` | -1 |" in target.read_text(encoding="utf-8")


def test_readme_and_protocol_point_to_the_reference() -> None:
    """A new user finds the reference, the worked example and the journal from the README and protocol.md."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    protocol = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    assert "docs/reference.md" in readme and "gongji-switch journal" in readme and "mosquitto_sub" in readme
    assert "(reference.md)" in protocol and "gongji-switch asyncapi" in protocol


def test_reference_outside_the_repository_is_one_line(tmp_path: Path) -> None:
    """Run from elsewhere: no path checks the checkout's docs/reference.md; an unwritable path is one line, exit 2."""
    def reference(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "switch", "reference", *args], cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                              timeout=60)

    done = reference("--check")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    done = reference()
    assert (done.returncode, done.stdout) == (0, f"{ROOT / 'docs' / 'reference.md'}: unchanged\n")
    done = reference("nowhere/reference.md")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("gongji-switch reference: cannot write nowhere/reference.md: No such file or "
                           "directory\n")
    assert not (tmp_path / "nowhere").exists()
