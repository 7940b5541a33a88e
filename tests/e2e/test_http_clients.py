"""The terminal commands over HTTP against gongji-switch serve as a subprocess: swipe, run, the pytest plugin, load."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from terminal.clients.admin import HttpAdmin
from tests.support.brokers import free_port
from tests.support.families import DONGYING, cert
from tests.support.switches import ROOT, SwitchProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(tmp_path: Path) -> Iterator[SwitchProcess]:
    """gongji-switch serve on a virtual clock, its embedded broker and HTTP door on free ports."""
    switch = SwitchProcess("--listen", f"127.0.0.1:{free_port()}", "--db", str(tmp_path / "ledger.db"),
                           "--clock", "virtual", "--log-level", "WARNING").start()
    try:
        yield switch
    finally:
        assert switch.terminate() == 0


async def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "120", **(env or {})})
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_swipe_over_http_prints_the_receipt_and_the_prompt(served: SwitchProcess, tmp_path: Path) -> None:
    """swipe --http: own account settles (exit 0, 450.00 after), a relative gets the prompt (exit 1), pooled next."""
    env = {"GONGJI_STATE_DIR": str(tmp_path / "state")}
    base = ("terminal", "swipe", "--http", served.http_url, "--terminal", "T1", "--fixmedins", "P37050000001")
    async with HttpAdmin(served.http_url) as admin:
        await admin.load(**DONGYING)
        ends = datetime.fromisoformat((await admin.clock())["now"]) + timedelta(minutes=5)
        code, out, err = await _run(*base, "--cert", cert("DH"), "--amount", "50", env=env)
        assert code == 0, out + err
        assert "SETL0000000001" in out and "450.00" in out
        code, out, err = await _run(*base, "--cert", cert("DR"), "--amount", "80.00", env=env)
        assert code == 1 and f"POOLING_AVAILABLE: swipe again before {ends:%H:%M:%S}" in out, out + err
        code, out, err = await _run(*base, "--cert", cert("DR"), "--amount", "80.00", env=env)
        assert code == 0 and "SETL0000000002" in out, out + err
        assert await admin.balances("DH") == {"DH": "370.00", "DR": "0.00", "DE": "30.00"}
        assert (await admin.audit())["ok"] is True
    counter = json.loads((tmp_path / "state" / "P37050000001.national.json").read_text())
    assert counter["seq"] >= 1 and len(counter["time"]) == 14


async def test_swipe_over_http_says_the_switch_closed_the_connection_or_did_not_answer_in_time(
        served: SwitchProcess, tmp_path: Path) -> None:
    """The 2102's answer dropped (the door closes the connection): 'the switch closed the connection without an
    answer'; delayed past --timeout: 'no answer within 1 s'; either way reversed, exit 3, nothing charged. Every
    card read dropped: one line naming the closed connection, exit 2 (not 'no switch answered')."""
    env = {"GONGJI_STATE_DIR": str(tmp_path / "state")}
    base = ("terminal", "swipe", "--http", served.http_url, "--terminal", "T1", "--fixmedins", "P37050000001",
            "--cert", cert("DH"), "--amount", "10", "--timeout", "1")
    closed, late = "the switch closed the connection without an answer", "no answer within 1 s"
    async with HttpAdmin(served.http_url) as admin:
        await admin.load(**DONGYING)
        for fault, says, not_said in (({"action": "drop_response"}, closed, late),
                                      ({"action": "delay_response", "delay_ms": [3000, 3000]}, late, closed)):
            await admin.call("admin.faults", {"rules": [{"match": {"infno": "2102"}, **fault, "times": 1}]})
            code, out, err = await _run(*base, env=env)
            assert code == 3 and "nothing was charged" in out, out + err
            settlement = [line for line in err.splitlines() if line.startswith("2102 ")]
            assert len(settlement) == 1 and settlement[0].endswith(f": {says}"), err
            assert not_said not in err, err
            assert (await admin.balances("DH"))["DH"] == "500.00"
        await admin.call("admin.faults", {"rules": [{"match": {"infno": "1101"}, "action": "drop_response"}]})
        code, out, err = await _run(*base, env=env)
    said = [line for line in (out + err).splitlines() if line.strip()]
    assert code == 2 and len(said) == 1, out + err
    assert said[0] == (f"gongji-terminal swipe: {closed} (POST {served.http_url}/fsi/api/rsfComIfsService/callService)"
                       ", at each try: is that gongji-switch's HTTP door, and is no fault rule dropping the card "
                       "read's answers (admin.faults)?")


async def test_run_over_http_passes_the_platform_scenarios(served: SwitchProcess, tmp_path: Path) -> None:
    """run --http URL scenarios/platform: every one passes on the running switch's HTTP door (exit 0)."""
    code, out, err = await _run("terminal", "run", "--http", served.http_url, "scenarios/platform",
                                "--junitxml", str(tmp_path / "junit.xml"))
    assert code == 0, out + err
    junit = (tmp_path / "junit.xml").read_text()
    assert 'tests="4"' in junit and 'failures="0"' in junit


async def test_the_pytest_plugin_runs_scenarios_over_http(served: SwitchProcess) -> None:
    """pytest --gongji-http URL: the platform scenarios pass; a doors: [mqtt] one is skipped with its reason."""
    code, out, err = await _run("pytest", "scenarios/platform", "scenarios/flows/reversal.yaml", "-p",
                                "no:cacheprovider", "-q", "-rs", "--gongji-http", served.http_url)
    assert code == 0, out + err
    assert "4 passed, 1 skipped" in out and "runs on the mqtt door only" in out


async def test_load_over_http_balances_its_books(served: SwitchProcess) -> None:
    """load --http URL: every checkout kind over kept-alive connections, no timeouts, audit ok, counts match."""
    code, out, err = await _run("terminal", "load", "--http", served.http_url, "--terminals", "6",
                                "--per-connection", "3", "--count", "60", "--people", "60", "--families", "12",
                                "--full-checkout", "--json")
    assert code == 0, out + err
    result = json.loads(out)
    assert result["broker"] == f"HTTP door {served.http_url}" and result["connections"] == 6
    stats = result["stats"]
    assert (stats["timeouts"], stats["unexpected"]) == (0, {})
    assert sum(stats["checkouts"].values()) == 60 and set(stats["checkouts"]) == {
        "own", "retry", "auto", "cancel", "reversal"}
    assert result["audit"]["ok"] is True and result["counts_match"] is True
    assert result["counts"]["settled"] == stats["settled"] - stats["undone"] > 0


async def test_load_with_http_alone_starts_its_own_switch_and_drives_its_http_door() -> None:
    """load --http (no URL): a switch of its own with an HTTP door, a connection a till, audit ok, counts match,
    the journal off as in every load run here; --echo with it is refused in one line (exit 2)."""
    code, out, err = await _run("terminal", "load", "--http", "--terminals", "4", "--count", "40", "--people", "40",
                                "--families", "8", "--json", timeout=120)
    assert code == 0, out + err
    result = json.loads(out)
    assert result["broker"] == "HTTP door of a switch started here (its broker: mosquitto)"
    assert result["connections"] == 4 and set(result["cpu_percent"]) == {"mosquitto", "switch", "load generator"}
    stats = result["stats"]
    assert (stats["timeouts"], stats["unexpected"]) == (0, {}) and sum(stats["checkouts"].values()) == 40
    assert result["audit"]["ok"] is True and result["counts_match"] is True
    assert result["counts"]["settled"] == stats["settled"] - stats["undone"] > 0 and "journal_rows" not in result
    code, out, err = await _run("terminal", "load", "--http", "--echo", "--count", "5", timeout=30)
    said = [line for line in (out + err).splitlines() if line.strip()]
    assert code == 2 and len(said) == 1 and "--http alone starts a switch" in said[0], out + err


@pytest.mark.parametrize("command", [("swipe", "--cert", "QRX", "--amount", "1"), ("run", "scenarios/platform"),
                                     ("load", "--count", "5")], ids=["swipe", "run", "load"])
async def test_nothing_at_the_url_is_one_line_and_exit_2(command: tuple[str, ...], tmp_path: Path) -> None:
    """Nothing listening at --http URL: exit 2 and one line naming the URL, within seconds."""
    url = f"http://127.0.0.1:{closed_port()}"
    name, *rest = command
    code, out, err = await _run("terminal", name, "--http", url, *rest, env={"GONGJI_STATE_DIR": str(tmp_path)},
                                timeout=30)
    said = [line for line in (out + err).splitlines() if line.strip()]
    assert code == 2 and len(said) == 1, out + err
    assert f"nothing answers at {url}: Connection refused" in said[0]


async def test_a_missing_or_wrong_admin_token_names_the_option_to_pass(tmp_path: Path) -> None:
    """A switch with --admin-token: run says a wrong --token is wrong, the pytest plugin names --gongji-token,
    load over HTTP names --admin-token (no topic root there); each exit 2 (pytest: the items fail)."""
    port = free_port()
    switch = SwitchProcess("--listen", f"127.0.0.1:{port}", "--db", str(tmp_path / "ledger.db"), "--clock",
                           "virtual", "--admin-token", "s3cret", "--log-level", "WARNING").start()
    url, broker = switch.http_url, f"mqtt://127.0.0.1:{port}"
    wrong = "admin token wrong: the one given with --token is not the one the switch was started with (its " \
            "--admin-token)"
    missing = "the switch requires an admin token: pass --gongji-token (the switch's --admin-token)"
    try:
        runs = await asyncio.gather(
            _run("terminal", "run", "--http", url, "--token", "WRONG", "scenarios/platform", timeout=60),
            _run("terminal", "run", "--broker", broker, "--token", "WRONG", "scenarios/platform", timeout=60),
            _run("pytest", "scenarios/platform", "-p", "no:cacheprovider", "-q", "--gongji-http", url, timeout=60),
            _run("pytest", "scenarios/platform", "-p", "no:cacheprovider", "-q", "--gongji-broker", broker,
                 timeout=60),
            _run("terminal", "load", "--http", url, "--count", "5", "--people", "10", "--families", "2",
                 timeout=60))
    finally:
        assert switch.terminate() == 0
    for code, out, err in runs[:2]:
        assert code == 2 and f"gongji-terminal run: {wrong}" in out, out + err
    for code, out, err in runs[2:4]:
        assert code == 1 and missing in out and "pass --token" not in out, out + err
    code, out, err = runs[4]
    assert (code, err.strip()) == (2, f"gongji-terminal load: the switch at {url} requires its admin token: pass "
                                      "it with --admin-token (the switch's --admin-token)"), out + err


async def test_a_scenario_step_whose_answer_the_door_dropped_says_the_connection_closed(
        served: SwitchProcess, tmp_path: Path) -> None:
    """run --http: a step whose answer a drop_response rule dropped fails naming the closed connection at once,
    not 'got no answer within 5 s' after waiting out its timeout."""
    scenario = tmp_path / "dropped.yaml"
    scenario.write_text("""name: dropped answer
pos: {terminal: T1, fixmedins_code: P37050000001}
people:
  - {psn_no: DH, insuplc_admdvs: "370500", balc: "500.00"}
steps:
  - name: fault
    infno: admin.faults
    input: {rules: [{match: {infno: "2102"}, action: drop_response, times: 1}]}
    expect: {code: OK}
  - name: sale
    settle: {psn_no: DH, amount: "10.00"}
    expect: {code: OK}
""", encoding="utf-8")
    code, out, err = await _run("terminal", "run", "--http", served.http_url, "--timeout", "5", str(scenario))
    assert code == 1, out + err
    assert "the switch closed the connection without an answer" in out + err, out + err
    assert "got no answer within" not in out + err
