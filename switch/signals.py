"""SIGINT and SIGTERM as an asyncio event: how every long-running command of the project stops."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

__all__ = ["stop_on_signals", "until_signalled"]

_STOPPING = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[asyncio.Event]:
    """SIGINT and SIGTERM set ``stop`` while the block runs; the handlers are removed after it."""
    loop = asyncio.get_running_loop()
    for sig in _STOPPING:
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in _STOPPING:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def until_signalled() -> None:
    """Wait for SIGINT or SIGTERM."""
    with stop_on_signals(asyncio.Event()) as stop:
        await stop.wait()
