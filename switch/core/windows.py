"""Window expiry: the sweeper's decision to announce windows that passed their end unused."""

from __future__ import annotations

from datetime import datetime

from switch.core.codes import Code
from switch.core.model import CloseWindow, Decision, Effect, Event, State, iso

__all__ = ["expire_windows"]


def expire_windows(state: State, now: datetime) -> Decision:
    """Close every window with ``now >= expires_at`` (the window is half-open) and say so."""
    effects: list[Effect] = []
    events: list[Event] = []
    for w in state.windows.values():
        if now >= w.expires_at:
            effects.append(CloseWindow(w.psn_no, w.fixmedins_code))
            events.append(Event("window.expired", now, {
                "psn_no": w.psn_no, "fixmedins_code": w.fixmedins_code, "holder_psn_no": w.holder,
                "opened_at": iso(w.opened_at), "expires_at": iso(w.expires_at)}))
    return Decision(code=Code.OK, effects=tuple(effects), events=tuple(events))
