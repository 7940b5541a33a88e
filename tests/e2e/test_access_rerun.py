"""``gongji-switch mosquitto-config DIR`` run again on DIR: the accounts already there keep their passwords.

A re-run that wrote new passwords for everyone would lock every deployed terminal out of the broker.
Real command lines, a real mosquitto reading the files, real logins.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest
import yaml

from tests.support.brokers import MosquittoProcess, free_port
from tests.support.switches import ROOT

pytestmark = pytest.mark.e2e


def config(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "switch", "mosquitto-config", str(directory), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})


def passwords(directory: Path) -> dict[str, str]:
    data = yaml.safe_load((directory / "users.yaml").read_text(encoding="utf-8"))
    return {u["name"]: u["password"] for u in data["users"]}


def said(done: subprocess.CompletedProcess[str], label: str) -> str:
    """The names on the ``label:`` line of the command's summary."""
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith(f"{label}: ")]
    assert len(lines) == 1, done.stdout
    return lines[0].removeprefix(f"{label}: ")


async def logs_in(port: int, user: str, password: str) -> bool:
    try:
        async with aiomqtt.Client("127.0.0.1", port, username=user, password=password, identifier=user, timeout=5):
            return True
    except aiomqtt.MqttError:
        return False


async def until(port: int, user: str, password: str, accepted: bool) -> None:
    """Wait (a reload takes mosquitto a moment) until the login of ``user`` is ``accepted`` or refused."""
    for _ in range(50):
        if await logs_in(port, user, password) is accepted:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{user}'s login still {'refused' if accepted else 'accepted'} after 5 s")


@pytest.fixture
def home() -> Iterator[Path]:
    # Started as root, mosquitto reads its files as user "mosquitto": pytest's tmp_path (0700) is out of reach.
    path = Path(tempfile.mkdtemp(prefix="gongji-rerun-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_a_rerun_keeps_every_password_and_adds_only_the_new_accounts(home: Path) -> None:
    """T1 configured and logged in; a re-run naming only T2 keeps T1 (same password, still accepted by mosquitto
    after SIGHUP), creates T2 and says which it kept and which it created; --new-passwords then gives everyone a
    new one, and T1's old password is refused."""
    port, directory = free_port(), home / "access"
    first = config(directory, "--terminal", "T1@P37050000001", "--topic-root", "shop/v1",
                   "--listen", f"127.0.0.1:{port}")
    assert said(first, "created") == "gongji-switch, admin, T1"
    before = passwords(directory)
    broker = MosquittoProcess(extra_config=(directory / "mosquitto.conf").read_text(), port=port).start()
    try:
        assert broker.proc is not None
        await until(port, "T1", before["T1"], accepted=True)

        again = config(directory, "--terminal", "T2")  # the topic root and address are the files' own
        assert said(again, "kept (same password)") == "gongji-switch, admin, T1"
        assert said(again, "created") == "T2"
        assert "new password:" not in again.stdout and "SIGHUP" in again.stdout
        after = passwords(directory)
        assert {name: after[name] for name in before} == before and set(after) == {*before, "T2"}
        assert "user T1\ntopic write shop/v1/pos/T1/req" in (directory / "acl").read_text(encoding="utf-8")
        assert yaml.safe_load((directory / "users.yaml").read_text(encoding="utf-8"))["users"][2] == {
            "name": "T1", "role": "pos", "password": before["T1"], "fixmedins_code": "P37050000001"}
        broker.proc.send_signal(signal.SIGHUP)
        await until(port, "T2", after["T2"], accepted=True)
        assert await logs_in(port, "T1", before["T1"]), "the deployed terminal's password must still work"

        renewed = config(directory, "--new-passwords", "--admin-password", "admin-pw")
        assert said(renewed, "new password").startswith("gongji-switch, admin, T1, T2 (each needs its new one")
        assert "kept (same password):" not in renewed.stdout and "created:" not in renewed.stdout
        fresh = passwords(directory)
        assert fresh["admin"] == "admin-pw" and all(fresh[name] != after[name] for name in after)
        broker.proc.send_signal(signal.SIGHUP)
        await until(port, "T1", before["T1"], accepted=False)
        assert await logs_in(port, "T1", fresh["T1"])
    finally:
        broker.stop()


def test_what_a_rerun_cannot_keep_is_refused_in_one_line_and_nothing_is_written(home: Path) -> None:
    """An account named again in another role, a users.yaml that is not YAML, or a password file whose users.yaml
    is gone: one line saying what to do, exit 2, the files as they were; --new-passwords starts anew."""
    directory = home / "access"
    assert config(directory, "--terminal", "T1").returncode == 0
    written = {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}

    def refused(*args: str) -> str:
        done = config(directory, *args)
        lines = (done.stdout + done.stderr).strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in lines[0], done.stdout + done.stderr
        assert {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()} == written
        return lines[0]

    users = directory / "users.yaml"
    assert refused("--app", "T1") == (
        f"gongji-switch: 'T1' is a terminal account in {users}, not a member-app one: one account has one role "
        "(remove it from that file first to change its role)")
    good = written["users.yaml"]
    users.write_text("users: [\n", encoding="utf-8")
    written["users.yaml"] = users.read_bytes()
    assert refused("--terminal", "T2") == (
        f"gongji-switch: {users}: not valid YAML: line 2, column 1: while parsing a flow node expected the node "
        "content, but found '<stream end>'; mend it, or pass --new-passwords to give every account a new password")
    users.unlink()
    del written["users.yaml"]
    assert refused("--terminal", "T2") == (
        f"gongji-switch: {directory / 'passwd'} is there but {users}, which holds its passwords, is not: put it "
        "back, or pass --new-passwords to give every account a new password")
    anew = config(directory, "--terminal", "T2", "--new-passwords")
    assert said(anew, "created") == "gongji-switch, admin, T2" and set(passwords(directory)) == {
        "gongji-switch", "admin", "T2"}
    assert good != users.read_bytes()
