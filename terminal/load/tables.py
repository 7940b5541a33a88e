"""Figures as tables: one list of rows printed for people (rich) or pasted into the README (Markdown)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Grid", "verdict"]


def verdict(ok: bool) -> str:
    return "yes" if ok else "no"


@dataclass
class Grid:
    """A titled table of strings; the first column is left-aligned, the others right-aligned."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    note: str = ""  # one line under the table: how it was measured

    def add(self, *cells: str) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: a row of {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(cells)

    def rich(self) -> Any:
        from rich.table import Table

        table = Table(title=self.title, title_justify="left", caption=self.note or None, caption_justify="left")
        for i, column in enumerate(self.columns):
            table.add_column(column, justify="left" if i == 0 else "right")
        for row in self.rows:
            table.add_row(*(_coloured(cell) for cell in row))
        return table

    def markdown(self) -> str:
        """A GitHub table under a bold title, the note after it in italics."""
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.columns) + " |",
                 "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.columns))) + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in self.rows]
        if self.note:
            lines += ["", f"*{self.note}*"]
        return "\n".join(lines)


def _coloured(cell: str) -> str:
    return {"yes": "[green]yes[/]", "no": "[red]no[/]"}.get(cell, cell)
