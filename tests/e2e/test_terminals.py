"""Terminals end to end: a frozen switch process forces a reversal; swipe and demo run as subprocesses."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from terminal.clients.admin import Admin
from terminal.clients.pos import Card, Step, Terminal
from tests.support.brokers import free_port
from tests.support.families import DONGYING, cert
from tests.support.switches import ROOT, InProcessSwitch, SwitchProcess

pytestmark = pytest.mark.e2e


async def test_unanswered_settlement_is_reversed_never_resent(broker_url: str, topic_root: str,
                                                              tmp_path: Path) -> None:
    """Switch SIGSTOPped under a 2102: the terminal sends 2601 (one msgid, with backoff) until answered."""
    switch = SwitchProcess("--broker", broker_url, "--db", str(tmp_path / "ledger.db"), "--clock", "virtual",
                           "--topic-root", topic_root, "--log-level", "WARNING").start()
    assert switch.proc is not None
    pid = switch.proc.pid
    sent: list[tuple[str, str]] = []

    def freeze_then_thaw(step: Step) -> None:
        if step.kind == "send":
            sent.append((str(step.infno), str(step.msgid)))
            if step.infno == "2102":
                os.kill(pid, signal.SIGSTOP)  # the settlement reaches a switch that cannot answer
        if step.kind == "timeout" and step.infno == "2601":
            os.kill(pid, signal.SIGCONT)  # the first reversal went unanswered too; now let it work

    try:
        async with Admin(broker_url, root=topic_root) as admin:
            await admin.load(**DONGYING)
            async with Terminal(broker_url, "T1", "P37050000001", root=topic_root,
                                state_dir=tmp_path / "state", timeout=1.0, reversal_backoff=(0.2, 1.0),
                                on_step=freeze_then_thaw) as till:
                swipe = await till.swipe(Card("01", cert("DH"), "DH"), "50.00")
            assert swipe.status == "reversed" and swipe.answer is not None
            out = swipe.answer["output"]
            assert (swipe.answer["code"], out["reversed"], out["omsgid"]) == ("OK", True, swipe.msgid)
            assert out["setlinfo"]["acct_pay"] == "-50.00" and out["setlinfo"]["balc"] == "500.00"
            settlements = [m for infno, m in sent if infno == "2102"]
            reversals = [m for infno, m in sent if infno == "2601"]
            assert settlements == [swipe.msgid], "a settlement must never be re-sent"
            assert len(reversals) >= 2 and len(set(reversals)) == 1
            assert await admin.balances("DH") == {"DH": "500.00", "DR": "0.00", "DE": "30.00"}
            assert (await admin.audit())["ok"] is True
            assert till.state.pending() == []
    finally:
        os.kill(pid, signal.SIGCONT)
        switch.terminate()


async def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "terminal", *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "COLUMNS": "120", **(env or {})})
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def receipt_rows(text: str) -> dict[str, str]:
    """The label → amount rows of a printed receipt or decline panel."""
    rows = {}
    for line in text.splitlines():
        cells = [c for c in re.split(r"\s{2,}", line.strip().strip("│").strip()) if c]
        if len(cells) == 2:
            rows[cells[0].strip()] = cells[1].strip()
    return rows


async def test_swipe_prints_receipts_declines_and_refusals(live: InProcessSwitch, tmp_path: Path) -> None:
    """gongji-terminal swipe: a receipt with exact amounts (exit 0), prompt and window end (1), refusals."""
    env = {"GONGJI_STATE_DIR": str(tmp_path)}
    base = ("swipe", "--broker", live.url, "--root", live.root, "--terminal", "T1",
            "--fixmedins", "P37050000001")
    async with Admin(live.url, root=live.root) as admin:
        await admin.load(**DONGYING)
        code, out, err = await _run(*base, "--cert", cert("DH"), "--amount", "50", env=env)
        assert code == 0, out + err
        rows = receipt_rows(out)
        assert (rows["total 总费用"], rows["own account 个人账户"], rows["family 家庭共济"],
                rows["cash 现金"], rows["balance after 余额"]) == ("50.00", "50.00", "0.00", "0.00", "450.00")

        ends = live.clock.now() + timedelta(minutes=5)
        code, out, err = await _run(*base, "--psn", "DR", "--cert", cert("DR"), "--amount", "80.00", env=env)
        assert code == 1, out + err
        assert "您存在有效的家庭共济绑定关系,5分钟内再次刷卡,可以走家庭共济消费" in out
        assert f"POOLING_AVAILABLE: swipe again before {ends:%H:%M:%S}" in out
        assert receipt_rows(out)["shortfall 差额"] == "80.00"

        code, out, err = await _run(*base, "--psn", "DR", "--cert", cert("DR"), "--amount", "80.00", env=env)
        assert code == 0, out + err
        rows = receipt_rows(out)
        assert (rows["family 家庭共济 测试DH (DH)"], rows["cash 现金"], rows["balance after 余额"]) == (
            "80.00", "0.00", "0.00")

        code, out, err = await _run(*base, "--clinic", "--no-account", "--cert", cert("DE"),
                                    "--amount", "100", env=env)
        assert code == 0, out + err
        rows = receipt_rows(out)
        assert (rows["fund 统筹基金"], rows["own account 个人账户"], rows["cash 现金"]) == (
            "50.00", "0.00", "50.00")

        code, out, err = await _run(*base, "--psn", "DE", "--cert", cert("DR"), "--amount", "1", env=env)
        assert code == 1 and "CERT_MISMATCH" in out
        assert await admin.balances("DH") == {"DH": "370.00", "DR": "0.00", "DE": "30.00"}


async def test_swipe_refuses_bad_amount_and_unreachable_broker(tmp_path: Path) -> None:
    """Bad input and a dead broker are clear errors with exit status 2, and nothing is sent."""
    code, _, err = await _run("swipe", "--cert", "QRX", "--amount", "1.234")
    assert code == 2 and "at most two decimals" in err
    code, _, err = await _run("swipe", "--broker", "mqtt://127.0.0.1:1", "--cert", "QRX", "--amount", "1",
                              env={"GONGJI_STATE_DIR": str(tmp_path)})
    assert code == 2 and "cannot reach the broker" in err


@pytest.mark.parametrize("external", [False, True], ids=["embedded", "mosquitto"])
async def test_demo_fast_plays_every_story_and_audits(external: bool, mosquitto_url: str,
                                                       topic_root: str) -> None:
    """gongji-terminal demo --fast: all stories come out exactly, final balances printed, audit ok, exit 0."""
    extra = ("--broker", mosquitto_url, "--root", topic_root) if external else ()
    code, out, err = await _run("demo", "--fast", *extra)
    assert code == 0, out + err
    assert "admin.audit: ok (4 settlements checked)" in out
    assert "demo: all stories came out as expected" in out
    final = out[out.index("final balances"):]
    assert re.search(r"D001 .* 500\.00 +433\.50", final) and re.search(r"Z001 .* 200\.00 +154\.50", final)
    assert re.search(r"D003 .* 30\.00 +0\.00", final)
    for story in ("own account first", "swipe again inside the window", "the window runs out",
                  "automatic pooling", "refund restores"):
        assert story in out


async def test_readme_swipe_against_the_demo_left_running(tmp_path: Path) -> None:
    """README path: demo --fast --stay serves on; swipe is declined (1), then pooled (0); over the HTTP door it
    names, the same till's own-account swipe settles; SIGTERM exits 0."""
    url = f"mqtt://127.0.0.1:{free_port()}"
    http = f"127.0.0.1:{free_port()}"
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "terminal", "demo", "--fast", "--stay", "--listen", url[len("mqtt://"):],
        "--http", http, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "120"})
    assert demo.stdout is not None
    try:
        seen = ""
        while "swipe --http" not in seen:  # "stays up", then the commands to try, the HTTP door's last
            line = await asyncio.wait_for(demo.stdout.readline(), 30)
            assert line, f"demo ended early:\n{seen}"
            seen += line.decode()
        swipe = ("swipe", "--broker", url, "--fixmedins", "P37050200001", "--cert", "QR-D002",
                 "--amount", "80.00")
        env = {"GONGJI_STATE_DIR": str(tmp_path)}
        code, out, err = await _run(*swipe, env=env)
        assert code == 1 and "POOLING_AVAILABLE" in out, out + err
        code, out, err = await _run(*swipe, env=env)
        assert code == 0, out + err
        assert receipt_rows(out)["family 家庭共济 王建国 (D001)"] == "80.00"
        assert f"HTTP door http://{http}" in seen
        assert f"gongji-terminal swipe --http http://{http} --fixmedins P37050200001" in seen
        code, out, err = await _run("swipe", "--http", f"http://{http}", "--fixmedins", "P37050200001", "--cert",
                                    "QR-D001", "--amount", "20.00", env=env)
        assert code == 0 and receipt_rows(out)["own account 个人账户"] == "20.00", out + err
    finally:
        demo.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(demo.wait(), 20) == 0
