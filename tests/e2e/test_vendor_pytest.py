"""A vendor's own ``pytest scenarios/`` outside this repository: no pytest-asyncio deprecation warning."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"


def _vendor_run(project: Path) -> str:
    (project / "scenarios").mkdir()
    shutil.copy(LIBRARY / "dongying" / "window_edge_300s.yaml", project / "scenarios")
    done = subprocess.run([sys.executable, "-m", "pytest", "scenarios/", "-p", "no:cacheprovider"], cwd=project,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_a_folder_with_only_scenarios_runs_without_warnings(tmp_path: Path) -> None:
    """No ini file at all: the scenario passes, no PytestDeprecationWarning, the loop scope is function."""
    out = _vendor_run(tmp_path)
    assert "PytestDeprecationWarning" not in out and "warning" not in out.lower()
    assert "asyncio_default_fixture_loop_scope=function" in out
    assert "1 passed" in out


def test_a_vendors_own_loop_scope_is_kept(tmp_path: Path) -> None:
    """A project that sets asyncio_default_fixture_loop_scope keeps its own value."""
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = module\n")
    out = _vendor_run(tmp_path)
    assert "asyncio_default_fixture_loop_scope=module" in out and "1 passed" in out
