"""The terminal side's exceptions: one tree under the project's ``GongjiError``.

Each keeps the builtin base its callers catch (a missing answer is still a ``TimeoutError``).

    GongjiError (switch/errors.py)
    └── TerminalError
        ├── NoAnswer (TimeoutError)          terminal/clients/mqtt.py: no answer in time
        │   └── ConnectionEnded              terminal/clients/mqtt.py: HTTP: the switch closed the connection first
        ├── Refused                          terminal/clients/mqtt.py: the switch answered a failure code
        ├── Unreachable (ConnectionError)    terminal/clients/http.py: nothing answers at an HTTP URL
        ├── HttpStatus                       terminal/clients/http.py: a URL answered 404, 405, 413...
        ├── ScenarioError (ValueError)       terminal/scenarios/format.py: a scenario file that cannot be used
        └── ReferenceError_ (LookupError)    terminal/scenarios/match.py: a ``${step.path}`` naming nothing
"""

from __future__ import annotations

from switch.errors import GongjiError

__all__ = ["TerminalError"]


class TerminalError(GongjiError):
    """Base of every error the terminals, scenario runner and load tools raise on purpose."""
