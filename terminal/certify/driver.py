"""Who works the till during a run: a cashier at the keyboard, or a driver program speaking JSON lines.

The driver protocol (docs/certify.md): the run writes one JSON object per line to the driver's stdin
and reads one per line from its stdout. First ``{"type": "hello", ...}`` (where the switch is, the
till's ids), answered ``{"type": "ready"}``; then per case ``{"type": "case", ...}``, answered
``{"type": "result", "case": ..., ...}`` once the till is done with it; last ``{"type": "bye"}``.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from pathlib import Path
from typing import Any, Protocol

from terminal.errors import TerminalError

__all__ = ["Cashier", "DriverError", "DriverProcess", "Worker"]

LINE_LIMIT = 1 << 20


class DriverError(TerminalError):
    """The driver program failed the protocol (it exited, was silent too long, or wrote no JSON object), or
    no driver was given and nobody is at the keyboard."""


class Worker(Protocol):
    async def start(self, hello: dict[str, Any]) -> None: ...

    async def play(self, instruction: dict[str, Any]) -> dict[str, Any]: ...

    async def stop(self) -> None: ...


class DriverProcess:
    """``--driver CMD``: a subprocess; its stderr goes to ``log``."""

    def __init__(self, command: str, log: Path, timeout: float = 120.0) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise DriverError("--driver: empty command")
        self.log = log
        self.timeout = timeout
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self, hello: dict[str, Any]) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as err:
            try:
                self._proc = await asyncio.create_subprocess_exec(
                    *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err,
                    limit=LINE_LIMIT)
            except OSError as exc:
                raise DriverError(f"--driver {self.argv[0]}: cannot start it: {exc.strerror or exc}") from None
        answer = await self._exchange(hello)
        if answer.get("type") != "ready":
            raise DriverError(f"driver answered the hello with {json.dumps(answer, ensure_ascii=False)[:200]}, "
                              f"not {{\"type\": \"ready\"}}")

    async def play(self, instruction: dict[str, Any]) -> dict[str, Any]:
        answer = await self._exchange(instruction)
        if answer.get("type") != "result":
            raise DriverError(f"driver answered case {instruction.get('case')} with type {answer.get('type')!r}, "
                              f"not \"result\"")
        return answer

    async def _exchange(self, message: dict[str, Any]) -> dict[str, Any]:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
            await proc.stdin.drain()
            line = await asyncio.wait_for(proc.stdout.readline(), self.timeout)
        except TimeoutError:
            raise DriverError(f"driver wrote no answer to {_what(message)} within {self.timeout:g} s") from None
        except (BrokenPipeError, ConnectionResetError):
            line = b""
        if not line:
            code = await proc.wait()
            raise DriverError(f"driver exited (status {code}) during {_what(message)}; "
                              f"its stderr: {self._last_words()}")
        try:
            answer = json.loads(line)
        except ValueError:
            raise DriverError(f"driver wrote a line that is not JSON: {line[:120]!r}") from None
        if not isinstance(answer, dict):
            raise DriverError(f"driver wrote JSON that is not an object: {line[:120]!r}")
        return answer

    def _last_words(self) -> str:
        lines = [x for x in self.log.read_text(errors="replace").splitlines() if x.strip()]
        return lines[-1][:200] if lines else "(empty)"

    async def stop(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        try:
            assert proc.stdin is not None
            proc.stdin.write(b'{"type": "bye"}\n')
            await proc.stdin.drain()
            proc.stdin.close()
            await asyncio.wait_for(proc.wait(), 10)
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            proc.kill()
            await proc.wait()


class Cashier:
    """A person at the till: each case's prompt on the screen, Enter when done, and its questions."""

    async def start(self, hello: dict[str, Any]) -> None:
        print(f"Point the till at {hello['switch']} as {hello['sender_kind']} {hello['sender']}.")

    async def play(self, instruction: dict[str, Any]) -> dict[str, Any]:
        print(f"\n▶ {instruction['case']}: {instruction['prompt']}")
        if instruction.get("expect"):
            print(f"  (armed: {instruction['expect']}; do what the till does)")
        await asyncio.to_thread(_ask, "  press Enter when the till is done ")
        result: dict[str, Any] = {"type": "result", "case": instruction["case"]}
        if "receipts" in instruction.get("asks", []):
            text = await asyncio.to_thread(_ask, "  how many receipts did the till print for this sale? ")
            result["receipts"] = int(text) if text.strip().isdigit() else text.strip()
        return result

    async def stop(self) -> None:
        return None


def _what(message: dict[str, Any]) -> str:
    return f"case {message['case']}" if "case" in message else f"the {message.get('type')}"


def _ask(question: str) -> str:
    sys.stdout.write(question)
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:  # at its end (</dev/null, CI): nobody will ever press Enter, and a till left alone is no verdict
        raise DriverError("no cashier at the keyboard (stdin is at its end): pass --driver CMD to run unattended "
                          "(see docs/certify.md)")
    return line.strip()
