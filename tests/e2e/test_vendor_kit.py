"""The vendor kit against the switch as a real process: the documented mosquitto session, and the journal."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.brokers import free_port
from tests.support.switches import ROOT, SwitchProcess

REFERENCE = ROOT / "docs" / "reference.md"


def tool(name: str) -> str:
    """A mosquitto command-line tool; missing is a failure (``apt-get install mosquitto-clients``)."""
    path = shutil.which(name)
    assert path is not None, f"{name} is not installed: apt-get install mosquitto-clients (.ci/run does this)"
    return path


def worked_example() -> tuple[list[str], list[str], list[tuple[str, list[str]]]]:
    """The serve and mosquitto_sub commands, and each step's mosquitto_pub command with the lines it shows."""
    text = REFERENCE.read_text(encoding="utf-8").split("## Worked example", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(sh|text)\n(.*?)```", text, re.S)
    setup = [shlex.split(line, comments=True) for line in blocks[0][1].splitlines()]
    serve = next(words for words in setup if words[:2] == ["gongji-switch", "serve"])
    sub = next(words for words in setup if words[:1] == ["mosquitto_sub"])
    pubs, shows = blocks[1::2], blocks[2::2]
    steps = [(pub.strip(), shown.strip().splitlines())
             for (_, pub), (_, shown) in zip(pubs, shows, strict=True)]
    return serve, sub, steps


PROBE = "gongji/v1/probe {}"


def local(command: str, port: int) -> str:
    """A documented mosquitto_pub line, aimed at the test's port, with the installed binary."""
    return command.replace("-p 1883", f"-p {port}").replace("mosquitto_pub", tool("mosquitto_pub"), 1)


def pump(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    for line in process.stdout or ():
        lines.put(line.rstrip("\n"))


def next_line(lines: queue.Queue[str]) -> str:
    """The next line mosquitto_sub printed, skipping late copies of the probe."""
    while (line := lines.get(timeout=10)) == PROBE:
        pass
    return line


def wait_until_subscribed(port: int, lines: queue.Queue[str]) -> None:
    """Publish a probe until mosquitto_sub prints it, so no step's message is missed (nothing is retained)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        subprocess.run([tool("mosquitto_pub"), "-h", "127.0.0.1", "-p", str(port), "-t", "gongji/v1/probe",
                        "-m", "{}"], check=True, timeout=10)
        try:
            while lines.get(timeout=0.3) != PROBE:
                pass
            return
        except queue.Empty:
            continue
    raise AssertionError("mosquitto_sub never printed the probe")


def readme_tries() -> list[tuple[str, str, str]]:
    """The mosquitto_pub lines of README.md and protocol.md, with the request and the start of its answer."""
    tries = []
    for doc in (ROOT / "README.md", ROOT / "docs" / "protocol.md"):
        for line in doc.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("mosquitto_pub"):
                words = shlex.split(line.strip(), comments=True)
                topic, payload = words[words.index("-t") + 1], words[words.index("-m") + 1]
                msgid = json.loads(payload)["msgid"]
                answer = (f'{topic.removesuffix("/req")}/resp '
                          f'{{"infno":"admin.state","inf_refmsgid":"{msgid}","infcode":0,"code":"OK"')
                tries.append((line.strip(), f"{topic} {payload}", answer))
    assert len(tries) == 2, tries
    return tries


@contextmanager
def switch_process(args: list[str]) -> Iterator[SwitchProcess]:
    switch = SwitchProcess(*args).start()
    try:
        yield switch
    finally:
        switch.terminate()


def test_documented_mosquitto_session_works_against_the_switch_process(tmp_path: Path) -> None:
    """The reference's worked example, run as written, prints the lines shown; README's try is answered."""
    serve, sub, steps = worked_example()
    assert [pub.split()[0] for pub, _ in steps] == ["mosquitto_pub"] * 5
    port = free_port()
    args = serve[2:]
    args[args.index("--db") + 1] = str(tmp_path / "demo.db")
    with switch_process([*args, "--listen", f"127.0.0.1:{port}"]):
        sub[0], sub[sub.index("-p") + 1] = tool("mosquitto_sub"), str(port)
        watcher = subprocess.Popen(sub, stdout=subprocess.PIPE, text=True, encoding="utf-8")
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=pump, args=(watcher, lines), daemon=True).start()
        try:
            wait_until_subscribed(port, lines)
            for pub, shown in steps:
                subprocess.run(local(pub, port), shell=True, check=True, timeout=10)
                printed = [next_line(lines) for _ in shown]
                assert sorted(printed) == sorted(shown), pub
                assert printed[:2] == shown[:2]  # the request, then its answer
            for pub, request, answer_start in readme_tries():
                subprocess.run(local(pub, port), shell=True, check=True, timeout=10)
                assert next_line(lines) == request
                assert next_line(lines).startswith(answer_start)
        finally:
            watcher.terminate()
            watcher.wait(5)


def test_journal_command_explains_a_typo_sent_to_the_switch_process(tmp_path: Path) -> None:
    """A request mosquitto_pub sends to pos/T1/request shows in ``gongji-switch journal`` with the fix."""
    port, db = free_port(), tmp_path / "typo.db"
    with switch_process(["--listen", f"127.0.0.1:{port}", "--db", str(db), "--topic-root", "lab/v1"]):
        subprocess.run([tool("mosquitto_pub"), "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t",
                        "lab/v1/pos/T1/request", "-m", '{"infno": "1101", "msgid": "T1-9", "input": {}}'],
                       check=True, timeout=10)
        deadline = time.monotonic() + 10
        while True:
            out = subprocess.run([sys.executable, "-m", "switch", "journal", "--db", str(db), "--terminal",
                                  "T1"], cwd=ROOT, env={**os.environ, "COLUMNS": "300"}, capture_output=True,
                                 text=True, timeout=30)
            if "T1-9" in out.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    assert out.returncode == 0, out.stderr
    assert "lab/v1/pos/T1/request" in out.stdout and "no answer" in out.stdout
    assert "did you mean lab/v1/pos/T1/req?" in out.stdout
