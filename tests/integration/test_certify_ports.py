"""certify's own switch: a port another program takes between being found free and being bound is not the end."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from terminal.certify import session
from terminal.certify.session import Options, target


async def test_a_port_taken_meanwhile_is_tried_again_with_another(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The first port found free is taken by the time the embedded broker binds it: the switch starts on the next."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        first = taken.getsockname()[1]
        tried: list[int] = []
        find = session._free_port

        def free_port() -> int:
            tried.append(first if not tried else find())
            return tried[-1]

        monkeypatch.setattr(session, "_free_port", free_port)
        async with target(Options(workdir=tmp_path)) as switch:
            assert switch.till_url == f"mqtt://127.0.0.1:{tried[-1]}"
            assert (await switch.admin.clock())["now"].startswith("2026-")
    assert len(tried) == 2 and tried[0] == first != tried[1]
