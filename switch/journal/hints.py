"""The traffic journal: every message heard under the topic root, what was answered, and why not.

Strategy: the adapter only appends a ``Heard`` to an in-memory list (no parsing, no I/O on the
hot path); the store writes the list inside the next group-commit transaction, or on its own
when the switch is idle, and that is where the payloads are parsed and the hints worked out.
Every hint answers the question a vendor asks when their POS "only gets timeouts".
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from switch.errors import json_kind
from switch.wire.topics import (
    CHANNELS,
    ID_RULE,
    is_events_topic,
    parse_request_topic,
    request_topic,
    valid_id,
)

__all__ = ["DEFAULT_MAX_ROWS", "PAYLOAD_LIMIT", "Heard", "Journal", "JournalWriter", "looks_like_request",
           "row_of", "stray_hint"]

DEFAULT_MAX_ROWS = 100_000
PAYLOAD_LIMIT = 4096  # bytes of each payload kept; enough for any settlement, not for a 64 KiB admin.load


@dataclass(frozen=True, slots=True)
class Heard:
    """One message under the root as it arrived, and the answers published for it."""

    received: float  # wall clock (unix seconds): "the last 5 minutes" means real minutes
    switch_time: str | None  # the switch's clock, which a virtual clock sets apart
    topic: str
    channel: str | None
    sender: str | None
    payload: bytes
    answers: tuple[bytes, ...] = ()
    took_ms: float | None = None
    hint: str | None = None  # set at once for messages no request handler saw
    # (sender, infno, msgid) of a request answered OK, as the service read it: its row needs no JSON parsed
    said: tuple[str, str, str] | None = None


class Journal:
    """The buffer between the adapter and the store, and the journal's bound."""

    def __init__(self, max_rows: int = DEFAULT_MAX_ROWS, payload_limit: int = PAYLOAD_LIMIT) -> None:
        if max_rows < 1:
            raise ValueError("a journal keeps at least one row")
        self.max_rows = max_rows
        self.payload_limit = payload_limit
        self._pending: list[Heard] = []
        self._since_prune = 0

    def record(self, heard: Heard) -> None:
        self._pending.append(heard)

    def take(self) -> list[Heard]:
        taken, self._pending = self._pending, []
        self._since_prune += len(taken)
        return taken

    @property
    def pending(self) -> int:
        return len(self._pending)

    def prune_due(self) -> bool:
        """Prune once a tenth of the bound was written since the last time: cheap, and never far over."""
        return self._since_prune >= max(1, self.max_rows // 10)

    def pruned(self) -> None:
        self._since_prune = 0


@runtime_checkable
class JournalWriter(Protocol):
    """A store that keeps the journal: it writes the buffer with its batches and on ``write_journal``."""

    journal: Journal | None

    async def write_journal(self) -> None: ...


# --- what went wrong --------------------------------------------------------------------------


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        return None


def looks_like_request(payload: bytes) -> bool:
    """A request envelope (msgid or infno and input), not an answer (those carry inf_refmsgid)."""
    body = _json(payload)
    return isinstance(body, dict) and "inf_refmsgid" not in body and ("msgid" in body or "infno" in body)


def _req_topic(root: str, channel: str, sender: str | None) -> str:
    return request_topic(root, channel, sender or "{id}")


def _guess(root: str, parts: list[str]) -> tuple[str | None, str | None, str | None]:
    """(channel, sender, the topic probably meant) for a topic the switch does not serve."""
    words = [p for p in parts if p]
    if not words:
        return None, None, None
    match = difflib.get_close_matches(words[0].lower(), CHANNELS, n=1, cutoff=0.5)
    if not match:
        return None, None, None
    channel = match[0]
    if channel == "admin":
        return channel, "admin", _req_topic(root, channel, None)
    named = len(words) > 1 and valid_id(words[1]) and words[1].lower() not in ("req", "resp")
    sender = words[1] if named else None
    return channel, sender, _req_topic(root, channel, sender)


def stray_hint(root: str, topic: str, payload: bytes) -> tuple[str, str | None, str | None] | None:
    """(hint, channel, sender) for a message under ``root`` that no request handler will answer, else None.

    None for the topics the switch serves (requests are journaled by their handler), for its own
    answers and for events.
    """
    if not topic.startswith(root + "/"):
        return None
    parts = topic[len(root) + 1:].split("/")
    if is_events_topic(root, topic) or parse_request_topic(root, topic) is not None:
        return None
    resp = parts == ["admin", "resp"] or (
        len(parts) == 3 and parts[0] in ("pos", "app") and parts[2] == "resp")
    if resp:
        # Answers on resp topics are ours (they carry inf_refmsgid); only a request there is a mistake.
        if b'"inf_refmsgid"' in payload or not looks_like_request(payload):
            return None
        owner = "admin" if parts[0] == "admin" else parts[1]
        return (f"a request was published on the answer topic {topic}; the switch reads requests only on "
                f"{_req_topic(root, parts[0], owner)} and answers on {topic}", parts[0], owner)
    channel, sender, meant = _guess(root, parts)
    served = f"{root}/pos/{{terminal_id}}/req, {root}/app/{{psn_no}}/req and {root}/admin/req"
    if meant is not None and "{id}" not in meant:
        hint = f"no switch listens on {topic}: did you mean {meant}? (it serves {served})"
    elif channel is not None:
        hint = f"no switch listens on {topic}: {channel} requests go to {meant} with the sender's id"
    else:
        hint = f"no switch listens on {topic}; it serves {served}"
    if not looks_like_request(payload):
        hint += "; the payload is not a request envelope either"
    return hint, channel, sender


def _answer_hint(heard: Heard, answer: dict[str, Any] | None) -> str | None:
    if not heard.answers:
        # A dropped request left no record and a dropped answer did; the journal cannot tell which.
        return ("the switch published no answer (a fault rule dropped the request or its answer, or the switch "
                "stopped first); send it again with the same msgid: an answer that was recorded comes back as "
                "it was, otherwise the request is handled afresh")
    if answer is None:
        return None
    hint = None
    if _topic_refused(answer):
        hint = (f"the topic id {heard.sender!r} in {heard.topic} is not {ID_RULE}, so the request was refused "
                "without being read; publish under an id of that form")
    elif answer.get("inf_refmsgid") is None and "refmsg_time" not in answer:
        hint = (f"{_why_no_msgid(heard.payload)}, so the answer carries inf_refmsgid null: a client waiting "
                "for its msgid never matches it")
    elif answer.get("code") not in ("OK", None):
        hint = str(answer.get("err_msg") or answer.get("code"))
    if len(heard.answers) > 1:
        hint = f"answered {len(heard.answers)} times" + (f"; {hint}" if hint else "")
    return hint


def _topic_refused(answer: dict[str, Any]) -> bool:
    """The answer refuses the topic's id (``errors[0].loc == ["topic"]``), not the payload."""
    output = answer.get("output")
    errors = output.get("errors") if isinstance(output, dict) else None
    return (answer.get("code") == "INVALID_REQUEST" and isinstance(errors, list) and bool(errors)
            and isinstance(errors[0], dict) and errors[0].get("loc") == ["topic"])


def _why_no_msgid(payload: bytes) -> str:
    body = _json(payload)
    if body is None:
        return "the payload is not UTF-8 JSON"
    if not isinstance(body, dict):
        return "the payload is not a JSON object"
    if "msgid" not in body:
        return "the request has no msgid"
    msgid = body["msgid"]
    if not isinstance(msgid, str):
        return f"the msgid is {json_kind(msgid)}, not a string"
    return f"the msgid is {len(msgid)} characters; 1-64 are allowed"


def row_of(heard: Heard, limit: int = PAYLOAD_LIMIT) -> tuple[Any, ...]:
    """The journal row of a message: ids and outcome read from the payloads, payloads cut to ``limit``."""
    if heard.said is not None and len(heard.answers) == 1 and heard.hint is None:
        # Answered OK once, its ids as the service read them (a national sender is its fixmedins_code): the
        # same row as below without two JSON parses, most of what the journal cost a busy switch. Anything
        # else is worked out from the payloads.
        said, sent = heard.said, heard.answers[0]
        return (heard.received, heard.switch_time, heard.topic, heard.channel, heard.sender or said[0], said[1],
                said[2], "OK", 1, heard.took_ms, None, heard.payload[:limit], len(heard.payload), sent[:limit],
                len(sent))
    request = _json(heard.payload)
    answer = _json(heard.answers[0]) if heard.answers else None
    answer = answer if isinstance(answer, dict) else None
    request = request if isinstance(request, dict) else {}
    infno = (answer or {}).get("infno") or request.get("infno")
    # A national answer's inf_refmsgid is the platform's own id, not the request's msgid.
    national = answer is not None and "refmsg_time" in answer
    msgid = request.get("msgid") if national else (answer or {}).get("inf_refmsgid") or request.get("msgid")
    # The HTTP door's national paths leave the sender to the envelope's fixmedins_code.
    sender = heard.sender or request.get("fixmedins_code")
    hint = heard.hint if heard.hint is not None else _answer_hint(heard, answer)
    response = heard.answers[0] if heard.answers else None
    return (heard.received, heard.switch_time, heard.topic, heard.channel, sender if isinstance(sender, str) else None,
            infno if isinstance(infno, str) else None, msgid if isinstance(msgid, str) else None,
            (answer or {}).get("code"), len(heard.answers), heard.took_ms, hint,
            heard.payload[:limit], len(heard.payload),
            None if response is None else response[:limit], None if response is None else len(response))
