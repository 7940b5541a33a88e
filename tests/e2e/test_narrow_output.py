"""``run`` and ``demo`` piped at 80 columns: exchanged JSON and the pooling prompt beside its code stay whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = [sys.executable, "-c", "import sys; from terminal.cli import main; sys.exit(main())"]
PROMPT = "您存在有效的家庭共济绑定关系,5分钟内再次刷卡,可以走家庭共济消费"
FAILING = """\
name: expects the holder to pay at once
pos: {terminal: T1, fixmedins_code: P37050000001}
people:
  - {psn_no: DH, insuplc_admdvs: "370500", balc: "500.00"}
  - {psn_no: DR, insuplc_admdvs: "370500", insutype: "390"}
bindings:
  - {holder_psn_no: DH, relative_psn_no: DR, rltn: child}
steps:
  - {name: first, settle: {psn_no: DR, amount: "80.00"}, expect: {code: OK}}
"""


def _terminal(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(ROOT)}
    return subprocess.run([*TERMINAL, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_run_failure_keeps_every_exchanged_message_whole(tmp_path: Path) -> None:
    """A failed scenario at 80 columns: each exchanged message is one line of JSON that parses, prompt included."""
    scenario = tmp_path / "scenarios" / "at_once.yaml"
    scenario.parent.mkdir()
    scenario.write_text(FAILING, encoding="utf-8")
    done = _terminal("run", str(scenario))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert f"✗ expects the holder to pay at once  ({scenario})" in lines
    assert "  - code: expected \"OK\", got \"POOLING_AVAILABLE\"" in lines
    exchanged = [json.loads(line[line.index("{"):]) for line in lines if line.startswith("    + ")]
    settle = next(m for m in exchanged if m.get("inf_refmsgid", "").endswith("-001"))
    assert (settle["code"], settle["err_msg"], settle["output"]["shortfall"]) == ("POOLING_AVAILABLE", PROMPT,
                                                                                 "80.00")
    assert exchanged[0]["msgid"] == settle["inf_refmsgid"]  # the request, whole, before its answer


def test_piped_demo_keeps_the_prompt_beside_its_code() -> None:
    """demo --fast into a pipe at 80 columns: "2102 ← POOLING_AVAILABLE <prompt>" is one line."""
    done = _terminal("demo", "--fast")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"  YD-POS-01  2102 ← POOLING_AVAILABLE {PROMPT}" in done.stdout.splitlines()
