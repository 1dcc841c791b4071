"""The page's building blocks (sections of paragraphs, figures and tables) and where they go.

A section is data for the template: it never holds HTML except what the template escapes. Every
figure and table also leaves its data behind as ``data/<name>.csv`` beside the page, and every
figure as ``figures/<name>.png``; the page itself embeds the PNGs, so it works as a single file.
"""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass
class Cell:
    """One table cell: its text, and optionally an accuracy bar behind it (``bar`` in [0, 1]),
    the value's interval in smaller type, and a badge (e.g. a baseline flag)."""

    text: str
    bar: float | None = None
    kind: str | None = None  # baseline / tv / icl / gd / majority / copy: the bar's colour
    cls: str = ""
    title: str = ""
    chips: list[str] | None = None  # rendered as token chips instead of text
    interval: str = ""  # "[0.48, 0.74]", shown after the value
    badge: str = ""  # a short flag shown after the text


@dataclass
class Row:
    cells: list[Cell]
    group: str | None = None  # a family/model header row spanning the table when set
    cls: str = ""


@dataclass
class Table:
    name: str
    caption: str
    columns: list[str]
    rows: list[Row]
    data: str | None = None  # relative path of the CSV
    numeric_from: int = 1  # columns from this index on are right-aligned
    narrow: bool = False  # as wide as its content rather than the page
    compact: bool = False  # smaller type and padding, for wide tables

    @property
    def body_rows(self) -> list[Row]:
        return [row for row in self.rows if row.group is None]


@dataclass
class Figure:
    name: str
    title: str
    caption: str
    src: str  # data: URI embedding the PNG
    file: str  # figures/<name>.png, relative to the page
    data: str | None = None
    wide: bool = True


@dataclass
class Block:
    kind: str  # "p", "note", "figure", "table", "list", "code", "kv"
    value: Any


@dataclass
class Section:
    id: str
    title: str
    lead: str = ""
    blocks: list[Block] = field(default_factory=list)

    def p(self, text: str) -> None:
        self.blocks.append(Block("p", text))

    def note(self, text: str) -> None:
        self.blocks.append(Block("note", text))

    def verdict(self, text: str) -> None:
        """A conclusion the score tables state in words (shown highlighted)."""
        self.blocks.append(Block("verdict", text))

    def add(self, item: Figure | Table) -> None:
        self.blocks.append(Block("figure" if isinstance(item, Figure) else "table", item))

    def list(self, items: list[str]) -> None:
        self.blocks.append(Block("list", items))

    def code(self, text: str) -> None:
        self.blocks.append(Block("code", text))

    def heading(self, text: str) -> None:
        self.blocks.append(Block("h3", text))

    @property
    def figures(self) -> list[Figure]:
        return [b.value for b in self.blocks if b.kind == "figure"]

    @property
    def tables(self) -> list[Table]:
        return [b.value for b in self.blocks if b.kind == "table"]


class Output:
    """Writes figures and data files into their folders and hands back what the page embeds
    (links are relative to the page's folder)."""

    def __init__(self, page: Path, figures_dir: Path, data_dir: Path) -> None:
        self.page_dir = Path(page).parent
        self.figures_dir, self.data_dir = Path(figures_dir), Path(data_dir)
        for folder in (self.page_dir, self.figures_dir, self.data_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def _link(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.page_dir)).as_posix()

    def data(self, name: str, frame: pd.DataFrame) -> str:
        """Write ``<data_dir>/<name>.csv`` and return its path relative to the page."""
        path = self.data_dir / f"{name}.csv"
        frame.to_csv(path, index=False, float_format="%.6g")
        return self._link(path)

    def figure(self, name: str, fig, title: str, caption: str, frame: pd.DataFrame) -> Figure:
        """Save a matplotlib figure as ``<figures_dir>/<name>.png`` (and its data), close it."""
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        png = buffer.getvalue()
        path = self.figures_dir / f"{name}.png"
        path.write_bytes(png)
        src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        return Figure(name, title, caption, src, self._link(path), self.data(name, frame))


def missing(value: Any) -> bool:
    """True for None, NaN and pandas' NA."""
    return value is None or bool(pd.isna(value))


def fmt(value: Any, digits: int = 2, signed: bool = False) -> str:
    """A number for a table: fixed digits (a sign when ``signed``), an en dash for missing."""
    if missing(value):
        return "–"
    if isinstance(value, float | int) and not isinstance(value, bool):
        if isinstance(value, int) and not signed:
            return str(value)
        return f"{float(value):+.{digits}f}" if signed else f"{float(value):.{digits}f}"
    return str(value)


def fmt_interval(low: Any, high: Any, digits: int = 2, signed: bool = False) -> str:
    """``[0.48, 0.74]``, or an empty string when the interval is missing."""
    if missing(low) or missing(high):
        return ""
    return f"[{fmt(float(low), digits, signed)}, {fmt(float(high), digits, signed)}]"


def with_interval(value: Any, low: Any, high: Any, digits: int = 2, signed: bool = False) -> str:
    """``0.62 [0.48, 0.74]`` (plain text, for sentences and CSVs)."""
    interval = fmt_interval(low, high, digits, signed)
    return fmt(value, digits, signed) + (f" {interval}" if interval else "")


def accuracy_cell(
    value: Any, kind: str | None = None, low: Any = None, high: Any = None, cls: str = ""
) -> Cell:
    """An accuracy with a proportional bar in the condition's colour and its interval."""
    bar = None if missing(value) else min(max(float(value), 0.0), 1.0)
    return Cell(fmt(value), bar=bar, kind=kind, cls=cls, interval=fmt_interval(low, high))


def interval_cell(value: float, low: float, high: float, condition: str) -> Cell:
    """A compact number with its interval in the condition's colour (no bar)."""
    return Cell(fmt(value), cls=f"cond {condition}", interval=fmt_interval(low, high))


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """``1 task``, ``2 tasks``, ``0 tasks``."""
    return f"{n} {noun if n == 1 else plural_form or noun + 's'}"


def layer_text(layer: Any) -> str:
    """``L7``, or ``no best layer`` when the table has none."""
    return "no best layer" if missing(layer) else f"L{int(layer)}"
