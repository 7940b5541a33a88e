"""The topic names of the protocol, the id pattern they carry, and the default root: written here once.

Requests arrive on ``{root}/pos/{terminal_id}/req``, ``{root}/app/{psn_no}/req`` and
``{root}/admin/req``; each is answered on the same topic ending in ``resp``; every event goes to
the operators' ``{root}/events`` and, for each terminal and person it concerns, to
``{root}/events/pos/{terminal_id}`` and ``{root}/events/app/{psn_no}``. Every door, tool and client
builds and reads topics with these functions. The switch's liveness probes
(``switch/doors/liveness.py``) travel on ``gongji-switch-probe/{root}``, outside the root, so a
subscriber of ``{root}/#`` sees only the protocol.
"""

from __future__ import annotations

import re

from switch.errors import ConfigError

__all__ = ["CHANNELS", "DEFAULT_ROOT", "ID_PATTERN", "ID_RULE", "ROUTED", "checked_root", "events_topic",
           "is_events_topic", "parse_request_topic", "probe_topic", "request_filters", "request_topic",
           "response_topic", "root_problem", "valid_id"]

DEFAULT_ROOT = "gongji/v1"
CHANNELS = ("pos", "app", "admin")
ROUTED = ("pos", "app")  # the channels whose topics name their sender
# Terminal ids, psn_no in topics, msgids of scenario steps, broker user names: one pattern for all.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
ID_RULE = "1-64 characters of A-Za-z0-9_-"
_ID = re.compile(ID_PATTERN)


def valid_id(value: str) -> bool:
    return _ID.match(value) is not None


def root_problem(root: str) -> str | None:
    """Why ``root`` cannot be a topic root (every topic and filter is built under it), or None when it can.

    One trailing ``/`` is allowed (``gongji/v1/`` is ``gongji/v1``: the switch drops it where it builds topics).
    """
    root = root[:-1] if root.endswith("/") and len(root) > 1 else root
    if not root:
        return "it is empty"
    if "\0" in root:
        return "it contains NUL, which no MQTT topic may"
    wildcards = [c for c in "#+" if c in root]
    if wildcards:
        named = " and ".join(repr(c) for c in wildcards)
        kind = "are MQTT wildcards" if len(wildcards) > 1 else "is an MQTT wildcard"
        return f"{named} {kind}, not allowed in a topic"
    if root.startswith("$"):
        return "a topic starting with '$' is the broker's own ($SYS), never delivered to '#' subscribers"
    if "" in root.split("/"):
        return "it has an empty level (a leading, trailing or doubled '/')"
    return None


def checked_root(root: str) -> str:
    """``root`` without a trailing ``/`` when it can be a topic root; else ConfigError, one line naming
    --topic-root and why."""
    problem = root_problem(root)
    if problem is not None:
        raise ConfigError(f"--topic-root {root!r}: {problem}")
    return root[:-1] if root.endswith("/") else root


def _topic(root: str, channel: str, sender: str | None, direction: str) -> str:
    if channel == "admin":
        return f"{root}/admin/{direction}"
    return f"{root}/{channel}/{sender}/{direction}"


def request_topic(root: str, channel: str, sender: str | None = None) -> str:
    """Where ``sender`` publishes its requests (``sender`` is ignored on the admin channel)."""
    return _topic(root, channel, sender, "req")


def response_topic(root: str, channel: str, sender: str | None = None) -> str:
    """Where the answers to ``sender``'s requests are published."""
    return _topic(root, channel, sender, "resp")


def events_topic(root: str, channel: str | None = None, recipient: str | None = None) -> str:
    """The operators' events topic, or with ``channel`` and ``recipient`` one terminal's or one app's own."""
    if channel is None:
        return f"{root}/events"
    return f"{root}/events/{channel}/{recipient}"


def is_events_topic(root: str, topic: str) -> bool:
    """Whether ``topic`` is one of the events topics under ``root`` (the operators' or a recipient's)."""
    return topic == f"{root}/events" or topic.startswith(f"{root}/events/")


def probe_topic(root: str) -> str:
    """Where the switch publishes, and hears back, the probes that show its session still hears."""
    return f"gongji-switch-probe/{root}"


def request_filters(root: str) -> list[str]:
    """The subscriptions that hear every request under ``root``."""
    return [f"{root}/{channel}/+/req" for channel in ROUTED] + [f"{root}/admin/req"]


def parse_request_topic(root: str, topic: str) -> tuple[str, str] | None:
    """(channel, sender) of a request topic under ``root``, the sender not yet checked; None for any other.

    The admin channel's sender is ``admin``.
    """
    if not topic.startswith(root + "/"):
        return None
    rest = topic[len(root) + 1:].split("/")
    if rest == ["admin", "req"]:
        return "admin", "admin"
    if len(rest) == 3 and rest[0] in ROUTED and rest[2] == "req":
        return rest[0], rest[1]
    return None
