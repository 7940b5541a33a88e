"""The HTTP door's Server-Sent Event frames: the event's type as the SSE event name, read in place or parsed."""

from __future__ import annotations

from switch.doors.http import _frame
from switch.wire.envelope import encode


def test_a_service_event_is_framed_under_its_type() -> None:
    """The service's compact encoding (type first) gives ``event: <type>`` and the JSON as data, unchanged."""
    event = encode({"type": "window.opened", "at": "2026-11-25T10:00:00.000+08:00", "data": {"psn_no": "DR"}})
    assert _frame(event) == b"event: window.opened\ndata: " + event + b"\n\n"


def test_a_type_with_an_escape_or_another_layout_is_parsed() -> None:
    """An escaped quote in the type, a type not first, a type not a string, bytes not JSON: as JSON says."""
    assert _frame(b'{"type":"a\\"b"}').startswith(b'event: a"b\n')
    assert _frame(b'{"at":1,"type":"window.used"}').startswith(b"event: window.used\n")
    assert _frame(b'{"type":5}').startswith(b"event: event\n")
    assert _frame(b'{"type":"cut') == b'event: event\ndata: {"type":"cut\n\n'
    assert _frame('{"type":"窗口"}'.encode()).startswith("event: 窗口\n".encode())
