"""The traffic journal as people read it: a table on a wide screen, a block per message otherwise.

Topics and JSON are what people copy from it, so neither is ever broken inside: the narrow layout
wraps hints between words only, and in a pipe every line is written whole. Times are the switch
clock's (a virtual clock sets them apart from the host's), with the zone said once in the header.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from switch.journal.table import JournalRow

__all__ = ["WIDE", "Filters", "print_journal"]

WIDE = 150  # columns from which the table leaves the hints room to read; below it, one block per message


@dataclass(frozen=True, slots=True)
class Filters:
    """What the rows were chosen by, to say so when none matched."""

    terminal: str | None = None
    msgid: str | None = None
    since: str | None = None  # as given: "5m"
    since_at: float | None = None  # unix seconds


def print_journal(console: Console, rows: list[JournalRow], db: Path, filters: Filters,
                  payloads: bool = False) -> None:
    """The rows under a header naming the clock and zone; 'no messages ...' in one line when there are none."""
    if not rows:
        console.print(_nothing(db, filters), soft_wrap=True, markup=False, highlight=False)
        return
    times = [_switch_time(row) for row in rows]
    zones = {f"{at:%z}" for at, _ in times}
    dates = {at.date() for at, _ in times}
    one_zone = zones.pop() if len(zones) == 1 else None
    one_date = next(iter(dates)) if len(dates) == 1 else None
    host = any(from_host for _, from_host in times)
    clock = "the switch clock" + (" (the host's where the switch's was not kept)" if host else "")
    where = ", ".join(filter(None, [f"{one_date}" if one_date else None, _zone(one_zone) if one_zone else None]))
    header = (f"traffic journal of {db} ({len(rows)} {'row' if len(rows) == 1 else 'rows'}) · times on {clock}"
              + (f", {where}" if where else ""))
    shape = ("%H:%M:%S.%f" if one_date else "%Y-%m-%d %H:%M:%S.%f")
    stamps = [at.strftime(shape)[:-3] + ("" if one_zone else _zone(f"{at:%z}", short=True)) for at, _ in times]
    if console.width >= WIDE:
        console.print(_table(rows, stamps, header))
    else:
        console.print(Text(header, style="bold"), soft_wrap=not console.is_terminal)
        for row, stamp in zip(rows, stamps, strict=True):
            _block(console, row, stamp)
    if payloads:
        for row in rows:
            console.print(Text(f"#{row.id} {row.topic}", style="bold"), soft_wrap=True)
            # JSON is copied from here: one whole line each, whatever the width (the terminal may fold it).
            console.print(_payload(row.request, row.request_size), soft_wrap=True, markup=False, highlight=False)
            if row.response is not None:
                console.print(_payload(row.response, row.response_size or 0), soft_wrap=True, markup=False,
                              highlight=False)


def _nothing(db: Path, filters: Filters) -> str:
    parts = [f"from {filters.terminal}" if filters.terminal else "", f"with msgid {filters.msgid}"
             if filters.msgid else ""]
    if filters.since_at is not None:
        at = datetime.fromtimestamp(filters.since_at).astimezone()
        parts.append(f"since {at:%Y-%m-%d %H:%M:%S} {_zone(f'{at:%z}')} (the last {filters.since}, host clock)")
    return " ".join(["no messages", *filter(None, parts), f"in the traffic journal of {db}"])


def _switch_time(row: JournalRow) -> tuple[datetime, bool]:
    """The switch clock's time of the row (and False), or the host's with its zone (and True)."""
    if row.switch_time:
        try:
            return datetime.fromisoformat(row.switch_time), False
        except ValueError:
            pass
    return datetime.fromtimestamp(row.received).astimezone(), True


def _zone(offset: str, short: bool = False) -> str:
    """+0800 as UTC+08:00 (or +08:00 beside a time)."""
    text = f"{offset[:3]}:{offset[3:5]}" if len(offset) >= 5 else offset
    return f" {text}" if short else f"UTC{text}"


def _code(row: JournalRow) -> Text:
    style = "green" if row.code == "OK" else "magenta" if row.code is None else "yellow"
    return Text(row.code or ("no answer" if row.answers == 0 else "?"), style=style)


def _table(rows: list[JournalRow], stamps: list[str], header: str) -> Table:
    table = Table(title=header, title_justify="left")
    for name in ("#", "time", "topic", "infno", "msgid", "code", "ms", "what went wrong"):
        table.add_column(name, style="dim" if name == "#" else None, justify="right" if name in ("#", "ms") else "left",
                         no_wrap=name != "what went wrong")
    for row, stamp in zip(rows, stamps, strict=True):
        table.add_row(str(row.id), stamp, row.topic, row.infno or "", row.msgid or "", _code(row),
                      "" if row.took_ms is None else f"{row.took_ms:.1f}", Text(row.hint or "", style="red"))
    return table


def _block(console: Console, row: JournalRow, stamp: str) -> None:
    """#id time code ms infno msgid, then the topic, then the hint wrapped between words (whole in a pipe)."""
    took = "" if row.took_ms is None else f" {row.took_ms:.1f} ms"
    first = Text.assemble((f"#{row.id}", "dim"), f"  {stamp}  ", _code(row), took,
                          f"  {row.infno or '-'}  {row.msgid or '-'}")
    console.print(first, soft_wrap=True)
    console.print(f"    {row.topic}", soft_wrap=True, markup=False, highlight=False)
    if row.hint:
        hint = Text(row.hint, style="red")
        if console.is_terminal:
            console.print(Padding(hint, (0, 0, 0, 4)))
        else:
            console.print(Text("    ") + hint, soft_wrap=True)


def _payload(data: bytes, size: int) -> str:
    text = data.decode(errors="replace")
    return f"  {text}" + (f" … ({size} bytes, {len(data)} kept)" if size > len(data) else "")
