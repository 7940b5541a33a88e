"""The switch's exceptions, one tree: every error it raises on purpose is a ``GongjiError``.

Each keeps the builtin base its callers catch (``ValueError`` for a bad file or amount,
``RuntimeError`` for the store), so ``except ValueError`` and ``except GongjiError`` both work.
A protocol violation (``RequestRejected``) carries the response code to answer with.

    GongjiError
    ├── ConfigError                     start-up settings (bad broker URL, unusable --access dir...)
    ├── DataFileError (ValueError)      a policy or fault-rule file: PolicyFileError, FaultFileError
    ├── AmountError (ValueError)        switch/core/money.py: not an amount in fen
    ├── StoreError (RuntimeError)       switch/store/base.py: the ledger cannot be read or written
    └── RequestRejected                 answered without reaching the core: code, err_msg, errors
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the core imports this module: importing the core here would be a cycle
    from switch.core.codes import Code

__all__ = ["ConfigError", "DataFileError", "GongjiError", "RequestRejected", "json_kind"]


class GongjiError(Exception):
    """Base of every error the switch raises on purpose."""


class ConfigError(GongjiError):
    """A start-up setting that cannot work (bad broker URL, unreadable policy file...)."""


class DataFileError(GongjiError, ValueError):
    """A data file written by people (policies, fault rules) that cannot be used; the message names it."""


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


def json_kind(value: Any) -> str:
    """What a decoded JSON value is, in the wire's words: "a number", "null", not Python's ``int``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return "a number"
