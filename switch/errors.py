"""The switch's exceptions: a protocol violation carries the code and details to answer with."""

from __future__ import annotations

from typing import Any

from switch.core.codes import Code

__all__ = ["ConfigError", "GongjiError", "RequestRejected"]


class GongjiError(Exception):
    """Base of every error the switch raises on purpose."""


class ConfigError(GongjiError):
    """A start-up setting that cannot work (bad broker URL, unreadable policy file...)."""


class RequestRejected(GongjiError):
    """A request answered without reaching the core: the code, message and errors to send."""

    def __init__(self, code: Code, err_msg: str, msgid: str | None = None, infno: str | None = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(err_msg)
        self.code = code
        self.err_msg = err_msg
        self.msgid = msgid
        self.infno = infno
        self.errors = errors
