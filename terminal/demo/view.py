"""The demo's screen: a live view of every terminal (rich Live) or plain lines for logs and CI.

Both take the same calls from the stories — a story begins, someone says something, a receipt is
shown, a terminal steps, an event arrives, balances change — so a story is written once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType
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


# The smallest terminal the live view fits; below it says so instead (``--no-live`` prints plain lines).
MIN_WIDTH, MIN_HEIGHT = 60, 18
# Panels side by side need about this width; narrower (or too short) terminals get the stacked layout.
WIDE_WIDTH = 120


def _clock(delta_seconds: float) -> str:
    minutes, seconds = divmod(max(int(delta_seconds + 0.999), 0), 60)
    return f"{minutes}:{seconds:02d}"


class View:
    """Plain by default; ``LiveView`` overrides the drawing."""

    def __init__(self, console: Console, beat: float = 0.0) -> None:
        self.console = console
        if not console.is_terminal:
            # Into a pipe or a log, every line goes whole: a prompt stays beside its code, for grep too.
            console.soft_wrap = True
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
    """The story, balances, every terminal's screen with its countdown, and the event feed.

    At 120 columns and enough lines the terminals stand side by side; on a smaller terminal (80×24)
    the view stacks: the terminal in play as a full-width panel, the others one line each, the story
    and the events cut to the lines left.
    """

    def __init__(self, console: Console, beat: float, header: Callable[[], str],
                 now: Callable[[], datetime]) -> None:
        super().__init__(console, beat)
        self.header = header
        self.now = now
        self.title = ""
        self.lines: deque[Text] = deque(maxlen=7)
        self.events: deque[str] = deque(maxlen=6)
        # What each terminal's screen shows after its last answer: ("receipt", setlinfo, holder name)
        # or ("refused", answer, None).
        self.shown: dict[str, tuple[str, dict[str, Any], str | None]] = {}
        self.steps: dict[str, deque[str]] = {}
        self.focus: str | None = None  # the terminal in play: the full panel of the stacked layout
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
        self.shown[till.terminal_id] = ("receipt", setlinfo, holder_name)
        self.focus = till.terminal_id

    def declined(self, till: Terminal, answer: dict[str, Any]) -> None:
        self.focus = till.terminal_id  # the terminal's own prompt and countdown are on its panel

    def refused(self, till: Terminal, answer: dict[str, Any]) -> None:
        self.shown[till.terminal_id] = ("refused", answer, None)
        self.focus = till.terminal_id

    def on_step(self, step: Step) -> None:
        if step.kind in PLAIN_STEPS or step.kind == "send":
            self.steps.setdefault(step.terminal, deque(maxlen=3)).append(step.text)
            self.focus = step.terminal

    def on_event(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        who = data.get("psn_no") or data.get("relative_psn_no") or ""
        extra = data.get("setl_id") or data.get("expires_at", "")[11:19]
        self.events.append(f"{event.get('at', '')[11:19]}  {event.get('type')}  {who} {extra}")

    # --- drawing ---------------------------------------------------------------------------------

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterable[RenderableType]:
        width, height = options.size
        if width < MIN_WIDTH or height < MIN_HEIGHT:
            yield Text(f"The live demo needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT} (this one is "
                       f"{width}×{height}): make it larger, or run with --no-live for plain lines.",
                       style="bold yellow")
            return
        unbounded = options.reset_height()
        if width >= WIDE_WIDTH:
            wide = self._wide()
            if len(console.render_lines(wide, unbounded, pad=False)) <= height:
                yield wide
                return
        yield from self._stacked(console, unbounded, height)

    def _wide(self) -> RenderableType:
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

    def _stacked(self, console: Console, options: ConsoleOptions, height: int) -> list[RenderableType]:
        """One column: what must stay (header, balances, the terminals) first; story and events get the rest."""
        focused = self._focused()
        fixed: list[RenderableType] = [Text(self.header(), style="bold magenta"),
                                       Text(self.title, style="bold", no_wrap=True, overflow="ellipsis"),
                                       self._balance_line(options.max_width)]
        tills: list[RenderableType] = [self._terminal_panel(t, stacked=True) if t is focused
                                       else self._till_line(t) for t in self.terminals]
        used = sum(len(console.render_lines(part, options, pad=False)) for part in [*fixed, *tills])
        room = max(height - used, 0)
        story: list[Text] = []
        for line in self.lines:
            story.extend(line.wrap(console, options.max_width))
        story = story[-min(room, 6):] if room else []
        room -= len(story)
        events = [Text(line, style="dim", no_wrap=True, overflow="ellipsis")
                  for line in (list(self.events)[-room:] if room > 0 else [])]
        return [*fixed[:2], *story, fixed[2], *tills, *events]

    def _focused(self) -> Terminal | None:
        """A terminal counting down a pooling window, else the one that acted last."""
        by_id = {t.terminal_id: t for t in self.terminals}
        prompted = [t for t in self.terminals if t.prompt is not None]
        if prompted:
            return by_id.get(self.focus or "") if by_id.get(self.focus or "") in prompted else prompted[0]
        return by_id.get(self.focus or "") or (self.terminals[0] if self.terminals else None)

    def _balance_line(self, width: int) -> Text:
        """Every personal account in one line, a changed one as before→now; without names when narrow."""
        for named in (True, False):
            line = Text("balances", style="dim")
            for p in self.people:
                if p.get("insutype") != "310":
                    continue  # residents have no personal account
                before = self.start_balances.get(p["psn_no"], p["balc"])
                line.append(f"  {p['psn_no']} " + (f"{p.get('psn_name', '')} " if named else ""))
                if before != p["balc"]:
                    line.append(f"{before}→", style="dim")
                line.append(p["balc"], style="bold yellow" if before != p["balc"] else "bold")
            if line.cell_len <= width:
                break
        return line

    def _till_line(self, t: Terminal) -> Text:
        """A terminal not in play, in one line: its prompt's countdown, its last receipt or refusal."""
        kind, data, _ = self.shown.get(t.terminal_id, ("", {}, None))
        if t.prompt is not None:
            left = t.time.until(t.prompt.expires_at)
            status = Text(f"POOLING_AVAILABLE · {_clock(left.total_seconds()) if left else '?'} left",
                          style="yellow")
        elif kind == "receipt":
            status = Text(f"{data.get('setl_id')} · {data.get('psn_name')} · {data.get('medfee_sumamt')}",
                          style="green")
        elif kind == "refused":
            status = Text(f"{data.get('code')}: {data.get('err_msg')}", style="red")
        else:
            status = Text(t.status_line, style="dim")
        line = Text.assemble((f"{t.terminal_id} ", "bold"), f"{t.name}  ", status)
        line.no_wrap, line.overflow = True, "ellipsis"
        return line

    def _terminal_panel(self, t: Terminal, stacked: bool = False) -> Panel:
        steps = list(self.steps.get(t.terminal_id, []))
        parts: list[RenderableType] = [] if stacked else [Text(f"{t.fixmedins_code} · {t.kind}", style="dim")]
        parts += [Text(line, style="dim", overflow="ellipsis", no_wrap=True)
                  for line in (steps[-2:] if stacked else steps)]
        if t.prompt is not None:
            parts += self._prompt(t, stacked)
        elif t.terminal_id in self.shown:
            parts.append(self._shown(*self.shown[t.terminal_id], stacked=stacked))
        title = f"[bold]{t.name}[/bold] {t.terminal_id}" + (f" · {t.fixmedins_code} {t.kind}" if stacked else "")
        return Panel(Group(*parts), title=title, title_align="left" if stacked else "center", box=box.ROUNDED)

    def _prompt(self, t: Terminal, stacked: bool) -> list[RenderableType]:
        """The pooling prompt, the shortfall, the window's countdown and when the cashier swipes again."""
        assert t.prompt is not None
        prompt = t.prompt
        parts: list[RenderableType] = [Text(prompt.text, style="bold yellow", overflow="fold")]
        ends = f"window ends {prompt.expires_at:%H:%M:%S}"
        parts.append(Text(f"shortfall {prompt.shortfall} → holder {prompt.holder}"
                          + (f" · {ends}" if stacked else ""), style="yellow"))
        again = t.time.until(t.waiting_until) if t.waiting_until is not None else None
        again_text = None
        if again is not None:
            again_text = Text(("· " if stacked else "") + f"cashier swipes again in {_clock(again.total_seconds())}",
                              style="bold cyan")
        left = t.time.until(prompt.expires_at)
        if left is not None:
            seconds = left.total_seconds()
            bar = Table.grid(padding=(0, 1))
            cells: list[RenderableType] = [
                ProgressBar(total=prompt.window_seconds, completed=seconds, width=20, complete_style="yellow"),
                Text(f"{_clock(seconds)} left" if seconds else "window closed",
                     style="bold yellow" if seconds else "red")]
            if stacked and again_text is not None:
                cells.append(again_text)
                again_text = None
            bar.add_row(*cells)
            parts.append(bar)
            if not stacked:
                parts.append(Text(ends, style="dim"))
        if again_text is not None:
            parts.append(again_text)
        return parts

    @staticmethod
    def _shown(kind: str, data: dict[str, Any], holder_name: str | None, stacked: bool) -> RenderableType:
        if kind == "refused":
            return Text(f"{data.get('code')}: {data.get('err_msg')}", style="bold red")
        refund = str(data.get("medfee_sumamt", "")).startswith("-")
        head = Text(f"{'REFUND 退费 ' if refund else ''}{data.get('setl_id')} · {data.get('psn_name')}",
                    style="bold yellow" if refund else "bold green")
        return Group(head, _receipt_grid(data) if stacked else receipt_table(data, holder_name, compact=True))


def _receipt_grid(setlinfo: dict[str, Any]) -> Table:
    """The compact receipt in two pairs a row: three lines instead of six."""
    holder = setlinfo.get("mulaid_psn_no") or ""
    pairs = [("total 总费用", setlinfo["medfee_sumamt"]), ("fund 统筹", setlinfo["fund_pay_sumamt"]),
             ("own 个人账户", setlinfo["acct_pay"]), (f"family 共济 {holder}".rstrip(), setlinfo["acct_mulaid_pay"]),
             ("cash 现金", setlinfo["psn_cash_pay"]), ("balance 余额", setlinfo["balc"])]
    grid = Table.grid(padding=(0, 1))
    for _ in range(2):
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(justify="right", style="bold", no_wrap=True, min_width=10)
    for (a, x), (b, y) in zip(pairs[::2], pairs[1::2], strict=True):
        grid.add_row(f" {a}", x, f"   {b}", y)
    return grid
