"""Bad options of gongji-switch's commands: one line naming the option and why, exit status 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.brokers import free_port
from tests.support.switches import ROOT

pytestmark = pytest.mark.e2e


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "switch", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def _refused(done: subprocess.CompletedProcess[str]) -> str:
    """The one line of a refusal (exit status 2), without a traceback."""
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stdout + done.stderr
    assert "Traceback" not in lines[0]
    return lines[0]


def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run("serve", "--listen", f"127.0.0.1:{free_port()}", "--http", "off", "--db",
                str(tmp_path / "ledger.db"), *args)


BAD_ROOTS = [("#bad/", "'#' is an MQTT wildcard"), ("a+b", "'+' is an MQTT wildcard"),
             ("a/#/b", "'#' is an MQTT wildcard"), ("a//b", "empty level"), ("/a", "empty level"),
             ("a//", "empty level"), ("/", "empty level"), ("$SYS/x", "'$'"), ("", "empty")]


@pytest.mark.parametrize(("root", "why"), BAD_ROOTS, ids=[root or "empty" for root, _ in BAD_ROOTS])
def test_a_topic_root_no_topic_can_have_is_refused_by_every_command(tmp_path: Path, root: str, why: str) -> None:
    """serve, mosquitto-config and asyncapi refuse it at once, naming --topic-root; mosquitto-config writes nothing."""
    line = _refused(_serve(tmp_path, "--topic-root", root))
    assert line.startswith(f"gongji-switch: --topic-root {root!r}: ") and why in line, line
    assert not (tmp_path / "ledger.db").exists()
    line = _refused(_run("mosquitto-config", str(tmp_path / "acl"), "--topic-root", root))
    assert line.startswith(f"gongji-switch: --topic-root {root!r}: ") and why in line, line
    assert not (tmp_path / "acl").exists()
    line = _refused(_run("asyncapi", "--topic-root", root))
    assert line.startswith(f"gongji-switch asyncapi: --topic-root {root!r}: ") and why in line, line


def test_one_trailing_slash_is_dropped_from_a_topic_root(tmp_path: Path) -> None:
    """gongji/v1/ is gongji/v1: the contract's addresses and the ACL have no empty level."""
    done = _run("asyncapi", "--topic-root", "g/v1/")
    assert done.returncode == 0 and '"g/v1/pos/{terminal_id}/req"' in done.stdout and "g/v1//" not in done.stdout
    done = _run("mosquitto-config", str(tmp_path / "acl"), "--topic-root", "g/v1/", "--terminal", "T1")
    assert done.returncode == 0, done.stdout + done.stderr
    acl = (tmp_path / "acl" / "acl").read_text(encoding="utf-8")
    assert "topic write g/v1/pos/T1/req" in acl and "g/v1//" not in acl


BAD_CLOCKS = [
    (["--clock-speed", "-3"], "--clock-speed: Input should be greater than or equal to 0, not -3"),
    (["--clock-speed", "1e30"], "--clock-speed: Input should be less than or equal to 10000"),
    (["--clock-start", "2026-11-25T10:00"], "--clock-start: 2026-11-25 10:00:00 has no time zone"),
    (["--clock-start", "1999-12-31T00:00+08:00"], "--clock-start: 1999-12-31T00:00:00+08:00 is outside"),
    (["--clock-start", "2199-12-31T23:00+08:00", "--clock-speed", "100"], "--clock-speed: at speed 100"),
]


@pytest.mark.parametrize(("options", "says"), BAD_CLOCKS, ids=["negative", "1e30", "no zone", "1999", "too fast"])
def test_clock_options_follow_admin_clocks_rules(tmp_path: Path, options: list[str], says: str) -> None:
    """--clock-start and --clock-speed are refused where admin.clock would refuse them: one line, exit 2."""
    line = _refused(_serve(tmp_path, "--clock", "virtual", "--broker", f"mqtt://127.0.0.1:{free_port()}", *options))
    assert line.startswith(f"gongji-switch: {says}"), line


@pytest.mark.parametrize("options", [["--clock-start", "2026-11-25T10:00+08:00"], ["--clock-speed", "60"],
                                     ["--clock", "system", "--clock-speed", "0"]],
                         ids=["start", "speed", "explicit system"])
def test_clock_options_without_a_virtual_clock_are_refused(tmp_path: Path, options: list[str]) -> None:
    """--clock-start or --clock-speed on the system clock would be ignored: one line naming the option and what to
    add, exit 2, before the ledger is created."""
    line = _refused(_serve(tmp_path, *options))
    option = next(o for o in options if o.startswith("--clock-"))
    assert line == (f"gongji-switch: {option} sets a virtual clock, and this switch runs the system clock: "
                    "add --clock virtual"), line
    assert list(tmp_path.iterdir()) == []


def test_a_port_out_of_range_says_cannot_start_once(tmp_path: Path) -> None:
    """--listen 127.0.0.1:99999: one line that says "cannot start the embedded broker on ..." once, exit 2."""
    line = _refused(_run("serve", "--listen", "127.0.0.1:99999", "--http", "off", "--db", str(tmp_path / "l.db")))
    assert line.startswith("gongji-switch: cannot start the embedded broker on 127.0.0.1:99999: "), line
    assert line.count("cannot start") == 1 and "0-65535" in line, line


@pytest.mark.parametrize("limit", ["0", "-3", "1001"])
def test_journal_limit_has_the_http_doors_bounds(tmp_path: Path, limit: str) -> None:
    """journal --limit outside 1..1000 (GET /gongji/v1/journal?limit= answers 400 there) is one line, exit 2."""
    line = _refused(_run("journal", "--db", str(tmp_path / "j.db"), f"--limit={limit}"))
    assert line == f"gongji-switch journal: --limit {limit}: expected a whole number from 1 to 1000", line


def test_files_where_directories_belong_and_bad_accounts_are_one_line(tmp_path: Path) -> None:
    """mosquitto-config and schemas given a file for DIR, a --listen that is no address, a terminal given
    twice: one line each, exit 2, nothing written (these were tracebacks or silently wrong files)."""
    a_file = tmp_path / "afile"
    a_file.write_text("x", encoding="utf-8")
    line = _refused(_run("mosquitto-config", str(a_file), "--terminal", "T1"))
    assert line == f"gongji-switch: {a_file} is a file: mosquitto-config writes a directory of files; name a directory"
    line = _refused(_run("schemas", str(a_file)))
    assert line == f"gongji-switch schemas: {a_file} is a file: the schemas are written into a directory; name one"
    assert a_file.read_text(encoding="utf-8") == "x"
    line = _refused(_run("mosquitto-config", str(tmp_path / "acl"), "--terminal", "T1", "--listen", "nonsense"))
    assert line == "gongji-switch: --listen 'nonsense': expected HOST:PORT, the address mosquitto listens on"
    line = _refused(_run("mosquitto-config", str(tmp_path / "acl"), "--terminal", "T1", "--terminal", "T1"))
    assert line == "gongji-switch: --terminal 'T1' is given twice"
    assert not (tmp_path / "acl").exists()
