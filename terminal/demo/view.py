"""The demo's screen: a live view of every terminal (rich Live) or plain lines for logs and CI.

Both take the same calls from the stories — a story begins, someone says something, a receipt is
shown, a terminal steps, an event arrives, balances change — so a story is written once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from terminal.clients.pos import Step, Terminal
from terminal.clients.receipt import balances_table, decline_panel, failure_panel, receipt_panel, receipt_table

__all__ = ["LiveView", "PlainView", "View"]

# Terminal steps worth a line in plain output; sends are implied by their answers.
PLAIN_STEPS = {"answer", "timeout", "wait", "reversal", "recover"}


def _clock(delta_seconds: float) -> str:
    minutes, seconds = divmod(max(int(delta_seconds + 0.999), 0), 60)
    return f"{minutes}:{seconds:02d}"


class View:
    """Plain by default; ``LiveView`` overrides the drawing."""

    def __init__(self, console: Console, beat: float = 0.0) -> None:
        self.console = console
        self.beat_seconds = beat
        self.terminals: list[Terminal] = []
        self.people: list[dict[str, Any]] = []
        self.start_balances: dict[str, str] = {}

    def __enter__(self) -> View:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def story(self, number: int, title: str) -> None:
        self.console.print(Rule(f"story {number} · {title}", align="left"))

    def say(self, text: str | Text) -> None:
        self.console.print(text)

    def receipt(self, till: Terminal, setlinfo: dict[str, Any], holder_name: str | None = None) -> None:
        self.console.print(receipt_panel(setlinfo, till.name, holder_name))

    def declined(self, till: Terminal, answer: dict[str, Any]) -> None:
        self.console.print(decline_panel(answer, till.name))

    def refused(self, till: Terminal, answer: dict[str, Any]) -> None:
        self.console.print(failure_panel(answer, till.name))

    def on_step(self, step: Step) -> None:
        if step.kind in PLAIN_STEPS:
            self.console.print(Text.assemble("  ", (step.terminal, "dim"), "  ", step.text))

    def on_event(self, event: dict[str, Any]) -> None:
        return None

    def balances(self, people: list[dict[str, Any]]) -> None:
        self.people = people

    async def beat(self, factor: float = 1.0) -> None:
        """A pause for the audience (none in plain/fast runs)."""
        if self.beat_seconds:
            await asyncio.sleep(self.beat_seconds * factor)


PlainView = View


class LiveView(View):
    """Terminals side by side with their screens and countdowns, the story, balances and the event feed."""

    def __init__(self, console: Console, beat: float, header: Callable[[], str],
                 now: Callable[[], datetime]) -> None:
        super().__init__(console, beat)
        self.header = header
        self.now = now
        self.title = ""
        self.lines: deque[Text] = deque(maxlen=7)
        self.events: deque[str] = deque(maxlen=6)
        self.shown: dict[str, RenderableType] = {}
        self.steps: dict[str, deque[str]] = {}
        # "ellipsis": a terminal too short for the view loses its bottom lines, never repeats frames.
        self._live = Live(self, console=console, refresh_per_second=8, vertical_overflow="ellipsis")

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)

    def story(self, number: int, title: str) -> None:
        self.title = f"story {number} · {title}"
        self.lines.clear()
        self.shown.clear()

    def say(self, text: str | Text) -> None:
        self.lines.append(Text.from_markup(text) if isinstance(text, str) else text)

    def receipt(self, till: Terminal, setlinfo: dict[str, Any], holder_name: str | None = None) -> None:
        refund = str(setlinfo.get("medfee_sumamt", "")).startswith("-")
        self.shown[till.terminal_id] = Group(
            Text(f"{'REFUND 退费 ' if refund else ''}{setlinfo.get('setl_id')} · {setlinfo.get('psn_name')}",
                 style="bold yellow" if refund else "bold green"),
            receipt_table(setlinfo, holder_name, compact=True))

    def declined(self, till: Terminal, answer: dict[str, Any]) -> None:
        return None  # the terminal's own prompt and countdown are on its panel

    def refused(self, till: Terminal, answer: dict[str, Any]) -> None:
        self.shown[till.terminal_id] = Text(f"{answer.get('code')}: {answer.get('err_msg')}",
                                            style="bold red")

    def on_step(self, step: Step) -> None:
        if step.kind in PLAIN_STEPS or step.kind == "send":
            self.steps.setdefault(step.terminal, deque(maxlen=3)).append(step.text)

    def on_event(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        who = data.get("psn_no") or data.get("relative_psn_no") or ""
        extra = data.get("setl_id") or data.get("expires_at", "")[11:19]
        self.events.append(f"{event.get('at', '')[11:19]}  {event.get('type')}  {who} {extra}")

    # --- drawing ---------------------------------------------------------------------------------

    def _terminal_panel(self, t: Terminal) -> Panel:
        parts: list[RenderableType] = [Text(f"{t.fixmedins_code} · {t.kind}", style="dim")]
        parts += [Text(line, style="dim", overflow="ellipsis", no_wrap=True)
                  for line in self.steps.get(t.terminal_id, [])]
        if t.prompt is not None:
            parts.append(Text(t.prompt.text, style="bold yellow", overflow="fold"))
            parts.append(Text(f"shortfall {t.prompt.shortfall} → holder {t.prompt.holder}", style="yellow"))
            left = t.time.until(t.prompt.expires_at)
            if left is not None:
                seconds = left.total_seconds()
                bar = Table.grid(padding=(0, 1))
                bar.add_row(ProgressBar(total=t.prompt.window_seconds, completed=seconds, width=20,
                                        complete_style="yellow"),
                            Text(f"{_clock(seconds)} left" if seconds else "window closed",
                                 style="bold yellow" if seconds else "red"))
                parts += [bar, Text(f"window ends {t.prompt.expires_at:%H:%M:%S}", style="dim")]
            if t.waiting_until is not None and (again := t.time.until(t.waiting_until)) is not None:
                parts.append(Text(f"cashier swipes again in {_clock(again.total_seconds())}",
                                  style="bold cyan"))
        elif (shown := self.shown.get(t.terminal_id)) is not None:
            parts.append(shown)
        return Panel(Group(*parts), title=f"[bold]{t.name}[/bold] {t.terminal_id}", box=box.ROUNDED)

    def __rich__(self) -> RenderableType:
        top = Table.grid(padding=(0, 3))
        top.add_column(ratio=1)
        top.add_column(no_wrap=True)
        story = Group(Text(self.title, style="bold"), *self.lines)
        balances = balances_table(self.people, self.start_balances, compact=True) if self.people else ""
        top.add_row(story, balances)
        terminals = Table.grid(padding=(0, 1), expand=True)
        for _ in self.terminals:
            terminals.add_column(ratio=1)
        terminals.add_row(*[self._terminal_panel(t) for t in self.terminals])
        feed = Table(title="events", box=None, show_header=False, title_justify="left",
                     title_style="dim")
        for line in self.events:
            feed.add_row(Text(line, style="dim"))
        return Group(Text(self.header(), style="bold magenta"), top, terminals, feed)
