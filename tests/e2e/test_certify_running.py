"""The conformance run against a switch that runs already, a cashier at the keyboard, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.support.brokers import free_port
from tests.support.switches import SwitchProcess

ROOT = Path(__file__).resolve().parents[2]
DRIVER = f"{sys.executable} -m terminal.certify.reference_driver --timeout 2"


def certify(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "terminal", "certify", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120)


def verdicts(out: Path) -> dict[str, str]:
    suite = ET.parse(out / "junit.xml").getroot()
    return {c.get("name", ""): "fail" if c.find("failure") is not None else "pass" for c in suite.iter("testcase")}


@pytest.fixture(scope="module")
def switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SwitchProcess, Path, str]]:
    db = tmp_path_factory.mktemp("running") / "ledger.db"
    broker = f"mqtt://127.0.0.1:{(port := free_port())}"
    proc = SwitchProcess("--clock", "virtual", "--db", str(db), "--listen", f"127.0.0.1:{port}").start()
    yield proc, db, broker
    proc.terminate()


def test_running_switch_over_both_doors(switch: tuple[SwitchProcess, Path, str], tmp_path: Path) -> None:
    """Against a running switch process (its journal read from --db) the reference till passes over HTTP, then MQTT."""
    proc, db, broker = switch
    over_http = certify("--door", "http", "--http", proc.http_url, "--db", str(db), "--driver", DRIVER,
                        "--case", "cancel", "--case", "reconcile", "--out", str(tmp_path / "http"))
    assert over_http.returncode == 0, over_http.stdout + over_http.stderr
    assert verdicts(tmp_path / "http") == {"cancel": "pass", "reconcile": "pass"}
    # a second run on the same switch loads the population again, bindings included
    over_mqtt = certify("--door", "mqtt", "--broker", broker, "--db", str(db), "--driver", DRIVER,
                        "--case", "swipe-again", "--case", "msgids", "--out", str(tmp_path / "mqtt"))
    assert over_mqtt.returncode == 0, over_mqtt.stdout + over_mqtt.stderr
    assert verdicts(tmp_path / "mqtt") == {"swipe-again": "pass", "msgids": "pass"}


def test_running_switch_without_its_ledger_over_both_doors(switch: tuple[SwitchProcess, Path, str],
                                                           tmp_path: Path) -> None:
    """Without --db the run reads the journal through the switch's HTTP door: the reference till passes on both."""
    proc, _, broker = switch
    over_http = certify("--door", "http", "--http", proc.http_url, "--driver", DRIVER,
                        "--case", "card-read", "--case", "dropped-answer", "--out", str(tmp_path / "http"))
    assert over_http.returncode == 0, over_http.stdout + over_http.stderr
    assert verdicts(tmp_path / "http") == {"card-read": "pass", "dropped-answer": "pass"}
    over_mqtt = certify("--door", "mqtt", "--broker", broker, "--switch-http", proc.http_url, "--driver", DRIVER,
                        "--case", "cancel", "--case", "duplicate-answer", "--case", "msgids",
                        "--out", str(tmp_path / "mqtt"))
    assert over_mqtt.returncode == 0, over_mqtt.stdout + over_mqtt.stderr
    assert verdicts(tmp_path / "mqtt") == {"cancel": "pass", "duplicate-answer": "pass", "msgids": "pass"}


def test_the_journal_door_off_or_a_refused_token_is_one_line(switch: tuple[SwitchProcess, Path, str],
                                                             tmp_path: Path) -> None:
    """No HTTP door at --switch-http, or a wrong token for the journal: exit 2, one line; the right token passes."""
    _, _, broker = switch
    off = certify("--door", "mqtt", "--broker", broker, "--switch-http", "http://127.0.0.1:9", "--driver", DRIVER,
                  "--out", str(tmp_path / "off"))
    assert (off.returncode, off.stderr) == (
        2, "gongji-terminal certify: cannot reach the switch's traffic journal at http://127.0.0.1:9/gongji/v1/journal"
           ": Connect call failed ('127.0.0.1', 9) (is the switch's HTTP door on? pass its URL with --switch-http, "
           "or its ledger with --db)\n"), off.stdout
    port = free_port()
    guarded = SwitchProcess("--clock", "virtual", "--db", str(tmp_path / "g.db"), "--listen", f"127.0.0.1:{port}",
                            "--admin-token", "s3cret").start()
    try:
        refused = certify("--door", "http", "--http", guarded.http_url, "--token", "nope", "--driver", DRIVER,
                          "--out", str(tmp_path / "refused"))
        allowed = certify("--door", "http", "--http", guarded.http_url, "--token", "s3cret", "--driver", DRIVER,
                          "--case", "card-read", "--out", str(tmp_path / "allowed"))
    finally:
        guarded.terminate()
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert (refused.returncode, refused.stderr) == (
        2, f"gongji-terminal certify: the switch's traffic journal at {guarded.http_url}/gongji/v1/journal refused: "
           "admin token wrong: the bearer token is not the one this switch was started with (--admin-token) "
           "(pass the switch's admin token with --token)\n"), refused.stdout


def test_a_cashier_who_does_nothing_fails_the_case(tmp_path: Path) -> None:
    """Without --driver the prompt asks the cashier; pressing Enter without a sale fails card-read, exit 1."""
    done = certify("--case", "card-read", "--out", str(tmp_path), stdin="\n")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "▶ card-read: sell 30.00 to 张伟 with their own card (QR QRCZ0001ZHANGWEI)" in done.stdout
    assert "FAIL card-read: no pre-settlement or settlement was sent" in done.stdout
    assert "QRCZ0004ZHAOLI" in done.stdout  # the cards table
    assert verdicts(tmp_path) == {"card-read": "fail"}


def test_no_cashier_and_no_driver_is_one_line(tmp_path: Path) -> None:
    """Without --driver and stdin at its end (CI, </dev/null) nobody can press Enter: exit 2, one line, no verdict."""
    done = certify("--case", "card-read", "--out", str(tmp_path), stdin="")
    assert (done.returncode, done.stderr) == (
        2, "gongji-terminal certify: no cashier at the keyboard (stdin is at its end): pass --driver CMD to run "
           "unattended (see docs/certify.md)\n"), done.stdout
    assert "FAIL" not in done.stdout and not (tmp_path / "junit.xml").exists()


@pytest.mark.parametrize(("args", "line"), [
    (["--case", "nope"], "gongji-terminal certify: --case 'nope': no such case (one of cancel, card-read, "
     "clinic-chain, dropped-answer, duplicate-answer, late-answer, msgids, reconcile, swipe-again)"),
    (["--http", "http://127.0.0.1:9", "--door", "http"],
     "gongji-terminal certify: cannot reach the switch's traffic journal at http://127.0.0.1:9/gongji/v1/journal: "
     "Connect call failed ('127.0.0.1', 9) (is the switch's HTTP door on? pass its URL with --http, or its "
     "ledger with --db)"),
    (["--driver", "false"], "gongji-terminal certify: driver exited (status 1) during the hello; its stderr: (empty)"),
    (["--late-after", "0"], "gongji-terminal certify: --late-after must be more than 0 seconds"),
    (["--broker", "mqtt://127.0.0.1:9", "--db", "ledger.db"],
     "gongji-terminal certify: cannot reach the broker mqtt://127.0.0.1:9: [Errno 111] Connection refused"),
])
def test_errors_are_one_line(tmp_path: Path, args: list[str], line: str) -> None:
    """Each mistake is exit 2 and one line on stderr naming it."""
    done = certify(*args, "--out", str(tmp_path))
    assert (done.returncode, done.stderr) == (2, line + "\n"), done.stdout


def admin_state(http_url: str) -> dict[str, object]:
    """admin.state over the switch's HTTP door: who is loaded."""
    body = json.dumps({"infno": "admin.state", "msgid": f"check-{time.monotonic_ns()}", "input": {}}).encode()
    request = urllib.request.Request(f"{http_url}/gongji/v1/admin", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        output: dict[str, object] = json.loads(answer.read())["output"]
    return output


@pytest.mark.parametrize("door", ["http", "mqtt"])
def test_a_switch_on_the_system_clock_is_refused_before_anything_is_loaded(tmp_path: Path, door: str) -> None:
    """A running switch whose clock is not virtual is one line (each case needs a day of its own), said before
    the test population is loaded, the cards printed or the driver started: the switch is left as it was."""
    port = free_port()
    proc = SwitchProcess("--db", str(tmp_path / "sys.db"), "--listen", f"127.0.0.1:{port}").start()
    try:
        target = ("--http", proc.http_url) if door == "http" else ("--broker", f"mqtt://127.0.0.1:{port}")
        done = certify("--door", door, *target, "--db", str(tmp_path / "sys.db"), "--driver", DRIVER,
                       "--out", str(tmp_path / "out"))
        people = admin_state(proc.http_url)["people"]
    finally:
        proc.terminate()
    assert (done.returncode, done.stderr) == (2, "gongji-terminal certify: the switch's clock is not virtual: start it "
                                                 "with --clock virtual (each case runs on a day of its own)\n")
    assert people == [], "certify loaded its people on a switch it then refused"
    assert "QRCZ0001" not in done.stdout and not (tmp_path / "out" / "driver.log").exists(), done.stdout
