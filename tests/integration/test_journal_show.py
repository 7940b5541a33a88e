"""``gongji-switch journal`` at 80 columns, in a pipe and on a terminal: topics and JSON whole, switch-clock times."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from switch.journal.hints import Heard
from switch.journal.show import Filters, print_journal
from switch.journal.table import INSERT_SQL, JOURNAL_SCHEMA, read_journal, rows_of

ROOT = Path(__file__).resolve().parents[2]
SWITCH_TIME = "2026-11-25T10:04:59.999+08:00"  # a virtual clock: nowhere near the host's time
TYPO = (b'{"infno": "2102", "msgid": "T1-7", "input": {"druginfo": {"psn_no": "DR", "mdtrt_cert_type": "01", '
        b'"mdtrt_cert_no": "QRDR", "medfee_sumamt": "80.00", "acct_used_flag": "1"}}}')
PROMPT = "您存在有效的家庭共济绑定关系,5分钟内再次刷卡,可以走家庭共济消费"
DECLINED = json.dumps({"infno": "2102", "inf_refmsgid": "T1-8", "infcode": -1, "code": "POOLING_AVAILABLE",
                       "err_msg": PROMPT, "respond_time": SWITCH_TIME,
                       "output": {"psn_no": "DR", "shortfall": "80.00", "mulaid_psn_no": "DH"}},
                      ensure_ascii=False).encode()


def _journal_db(tmp_path: Path) -> Path:
    """A ledger file with a request on a misspelt topic and a declined settlement, as the switch writes them."""
    path = tmp_path / "gongji.db"
    db = sqlite3.connect(path)
    db.executescript(JOURNAL_SCHEMA)
    hint = ("no switch listens on gongji/v1/pos/T1/request: did you mean gongji/v1/pos/T1/req? (it serves "
            "gongji/v1/pos/{terminal_id}/req, gongji/v1/app/{psn_no}/req and gongji/v1/admin/req)")
    heard_at = time.time() - 60  # a minute ago on the host
    db.executemany(INSERT_SQL, rows_of([
        Heard(heard_at, SWITCH_TIME, "gongji/v1/pos/T1/request", "pos", "T1", TYPO, hint=hint),
        Heard(heard_at, SWITCH_TIME, "gongji/v1/pos/T1/req", "pos", "T1", TYPO.replace(b"T1-7", b"T1-8"),
              (DECLINED,), 4.2)], 4096))
    db.commit()
    db.close()
    return path


def _journal(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "switch", "journal", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)


def test_piped_at_80_columns_topics_json_and_prompt_stay_whole(tmp_path: Path) -> None:
    """In a pipe at COLUMNS=80: each hint, payload and prompt is one whole line; times are the switch clock's."""
    done = _journal("--db", str(_journal_db(tmp_path)), "--payloads")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (f"traffic journal of {tmp_path / 'gongji.db'} (2 rows) · times on the switch clock, "
                        "2026-11-25, UTC+08:00")
    assert lines[1] == "#1  10:04:59.999  no answer  2102  T1-7"
    assert lines[3].strip().startswith("no switch listens on gongji/v1/pos/T1/request: did you mean "
                                       "gongji/v1/pos/T1/req? (it serves gongji/v1/pos/{terminal_id}/req,")
    assert lines[4] == "#2  10:04:59.999  POOLING_AVAILABLE 4.2 ms  2102  T1-8"
    assert lines[6].strip() == PROMPT
    payloads = [json.loads(line) for line in lines if line.startswith("  {")]
    assert [p.get("msgid") or p.get("inf_refmsgid") for p in payloads] == ["T1-7", "T1-8", "T1-8"]
    assert payloads[2]["err_msg"] == PROMPT


def test_on_an_80_column_terminal_hints_wrap_between_words_only(tmp_path: Path) -> None:
    """On a terminal 80 wide the hint wraps, but every topic it names stays whole on one line."""
    console = Console(width=80, force_terminal=True, color_system=None, record=True)
    rows = read_journal(_journal_db(tmp_path))
    print_journal(console, rows, Path("gongji.db"), Filters())
    lines = console.export_text().splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    for topic in ("gongji/v1/pos/T1/request:", "gongji/v1/pos/T1/req?", "gongji/v1/pos/{terminal_id}/req,",
                  "gongji/v1/app/{psn_no}/req", "gongji/v1/admin/req)"):
        assert any(topic in line for line in lines), topic


def test_one_row_and_no_rows_are_said_in_words(tmp_path: Path) -> None:
    """--msgid of one message says "(1 row)"; an empty --since says "no messages ... since" instead of a table."""
    db = _journal_db(tmp_path)
    one = _journal("--db", str(db), "--msgid", "T1-8")
    assert "(1 row) · times on the switch clock" in one.stdout.splitlines()[0]
    none = _journal("--db", str(db), "--terminal", "T1", "--since", "30s")
    assert none.returncode == 0
    line, = none.stdout.splitlines()
    assert line.startswith("no messages from T1 since ") and line.endswith(
        f"(the last 30s, host clock) in the traffic journal of {db}")
