"""What ``gongji-switch serve`` says while its broker is not there, refuses its login, or its session is taken over.

It keeps trying (a switch survives a broker restart), and says the real cause once per change of cause, not at
every retry: nothing listening at host:port, the login refused with the broker's code and what to check, the
client-id hint only when the session is closed again right after each reconnect. Real mosquitto, real processes.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiomqtt
import pytest

from tests.support.brokers import MosquittoProcess, free_port
from tests.support.switches import ROOT, SwitchProcess

pytestmark = pytest.mark.e2e

REFUSED_HINT = "Is the broker running, and is that its host and port? Retrying until it answers"
CLIENT_ID_HINT = "another client is probably using the client id"


def warnings(switch: SwitchProcess) -> list[str]:
    """What the switch said about its broker: its warning lines (the retries themselves are DEBUG)."""
    return [line.split(" WARNING ", 1)[1].strip() for line in list(switch.stderr_lines) if " WARNING " in line]


def wait_for(check: Callable[[], bool], seconds: float, what: str, switch: SwitchProcess) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {seconds} s; stderr:\n{''.join(switch.stderr_lines)}")
        time.sleep(0.05)


def serve(tmp_path: Path, broker: str, *args: str) -> SwitchProcess:
    return SwitchProcess("--broker", broker, "--db", str(tmp_path / "ledger.db"), "--clock", "virtual",
                         "--http", "off", *args).launch()


def test_no_broker_is_one_line_naming_host_and_port_and_the_switch_connects_when_it_comes(tmp_path: Path,
                                                                                       topic_root: str) -> None:
    """Nothing at 127.0.0.1:PORT: one line, 'connection refused' at that address, however many retries (four or
    more in 4 s), no client-id hint. mosquitto started there: the switch is ready and says it reached the broker.
    mosquitto stopped: one line that the broker closed the connection, one that it is refused again."""
    port = free_port()
    switch = serve(tmp_path, f"mqtt://127.0.0.1:{port}", "--topic-root", topic_root)
    broker = None
    try:
        refused = (f"gongji.mqtt: cannot reach the broker at 127.0.0.1:{port}: connection refused. {REFUSED_HINT}")
        wait_for(lambda: bool(warnings(switch)), 10, "no warning", switch)
        time.sleep(4)  # backoff 0.2, 0.4, 0.8, 1.6 s: at least four more tries
        assert warnings(switch) == [refused]
        assert not any("stray watcher" in line for line in switch.stderr_lines), switch.stderr_lines

        broker = MosquittoProcess(port=port).start()
        assert switch.ready.wait(15), switch.stderr_lines
        reached = f"gongji.mqtt: connected to the broker at 127.0.0.1:{port} again"
        wait_for(lambda: reached in warnings(switch), 5, "no word that the broker is reached", switch)

        broker.stop()
        broker = None
        wait_for(lambda: len(warnings(switch)) >= 4, 10, "no word of the lost broker", switch)
        time.sleep(3)
        said = warnings(switch)
        assert said[:2] == [refused, reached] and len(said) == 4, said
        assert said[2].startswith(f"gongji.mqtt: the broker at 127.0.0.1:{port} closed the connection ("), said
        assert said[3] == refused
        assert not any(CLIENT_ID_HINT in line or "client id" in line for line in said), said
    finally:
        if broker is not None:
            broker.stop()
        assert switch.terminate() == 0


@pytest.fixture
def secured_mosquitto() -> Iterator[tuple[MosquittoProcess, str]]:
    """mosquitto with the accounts of ``gongji-switch mosquitto-config`` (password file and ACL); its topic root."""
    # Started as root, mosquitto reads its files as user "mosquitto": pytest's tmp_path (0700) is out of reach.
    home = Path(tempfile.mkdtemp(prefix="gongji-trouble-"))
    home.chmod(0o755)
    port = free_port()
    done = subprocess.run([sys.executable, "-m", "switch", "mosquitto-config", str(home / "access"), "--listen",
                           f"127.0.0.1:{port}", "--topic-root", "trouble/v1"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    broker = MosquittoProcess(extra_config=(home / "access" / "mosquitto.conf").read_text(), port=port).start()
    yield broker, "trouble/v1"
    broker.stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize(("login", "says"), [
    ("gongji-switch:wrong@", "refused the login of user 'gongji-switch': not authorised (CONNACK code 5); check "
     "the user name and password the switch logs in with (--broker mqtt://USER:PASSWORD@HOST:PORT, or its user in "
     "--access DIR's users.yaml) and that the broker's password file and ACL have that user. Retrying until it "
     "accepts"),
    ("", "refused an anonymous login: not authorised (CONNACK code 5); the broker wants a login: pass --broker "
     "mqtt://USER:PASSWORD@HOST:PORT, or --access DIR. Retrying until it accepts"),
], ids=["wrong password", "no login"])
def test_a_refused_login_is_one_line_with_the_brokers_reason_and_what_to_check(
        tmp_path: Path, secured_mosquitto: tuple[MosquittoProcess, str], login: str, says: str) -> None:
    """mosquitto refuses the switch's login: one line naming the broker's address, its code and reason, and what to
    check — not 'unreachable', not the client-id hint — for all the retries of 4 s; the switch is still trying."""
    broker, root = secured_mosquitto
    switch = serve(tmp_path, f"mqtt://{login}127.0.0.1:{broker.port}", "--topic-root", root)
    try:
        wait_for(lambda: bool(warnings(switch)), 10, "no warning", switch)
        time.sleep(4)
        assert warnings(switch) == [f"gongji.mqtt: the broker at 127.0.0.1:{broker.port} {says}"]
        assert switch.proc is not None and switch.proc.poll() is None and not switch.ready.is_set()
    finally:
        assert switch.terminate() == 0


async def test_a_session_closed_again_right_after_each_reconnect_names_the_client_id(tmp_path: Path,
                                                                                     topic_root: str) -> None:
    """Another client that keeps connecting under the switch's client id (mosquitto closes the older connection
    each time): the first loss is 'closed the connection' without the hint; the one right after reconnecting
    names the client id, once, however often it goes on."""
    broker = MosquittoProcess().start()
    switch = serve(tmp_path, broker.url, "--topic-root", topic_root)
    try:
        assert switch.ready.wait(15), switch.stderr_lines
        switch_id = f"gongji-switch-{topic_root.replace('/', '-')}"
        for _ in range(4):
            try:
                async with aiomqtt.Client("127.0.0.1", broker.port, identifier=switch_id, clean_session=False):
                    await asyncio.sleep(0.8)  # the switch reconnects meanwhile and takes its session back
            except aiomqtt.MqttError:
                pass
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)
        said = warnings(switch)
        assert said[0].startswith(f"gongji.mqtt: the broker at 127.0.0.1:{broker.port} closed the connection ("), said
        assert CLIENT_ID_HINT not in said[0]
        hinted = [line for line in said if CLIENT_ID_HINT in line]
        assert len(hinted) == 1 and f"{CLIENT_ID_HINT} {switch_id!r}" in hinted[0], said
        assert len(said) == 2, said
    finally:
        try:
            assert switch.terminate() == 0
        finally:
            broker.stop()
