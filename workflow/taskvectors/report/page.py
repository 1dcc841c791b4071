"""The page's building blocks (sections of paragraphs, figures and tables) and where they go.

A section is data for the template: it never holds HTML except what the template escapes. Every
figure and table also leaves its data behind as ``data/<name>.csv`` beside the page, and every
figure as ``figures/<name>.png``; the page itself embeds the PNGs, so it works as a single file.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

CONDITIONS = ("baseline", "tv", "icl")


@dataclass
class Cell:
    """One table cell: its text, and optionally an accuracy bar behind it (``bar`` in [0, 1])."""

    text: str
    bar: float | None = None
    kind: str | None = None  # baseline / tv / icl: which colour the bar takes
    cls: str = ""
    title: str = ""
    chips: list[str] | None = None  # rendered as token chips instead of text


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
    """Writes figures and data files beside the page and hands back what the page embeds."""

    def __init__(self, reports_dir: Path) -> None:
        self.root = Path(reports_dir)
        for sub in ("figures", "data"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def data(self, name: str, frame: pd.DataFrame) -> str:
        """Write ``data/<name>.csv`` and return its relative path."""
        relative = f"data/{name}.csv"
        frame.to_csv(self.root / relative, index=False, float_format="%.6g")
        return relative

    def figure(self, name: str, fig, title: str, caption: str, frame: pd.DataFrame) -> Figure:
        """Save a matplotlib figure as ``figures/<name>.png`` (and its data) and close it."""
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        png = buffer.getvalue()
        relative = f"figures/{name}.png"
        (self.root / relative).write_bytes(png)
        src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        return Figure(name, title, caption, src, relative, self.data(name, frame))


def fmt(value: Any, digits: int = 2) -> str:
    """A number for a table: fixed digits, an en dash for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def accuracy_cell(value: Any, kind: str | None = None, cls: str = "") -> Cell:
    """A cell showing an accuracy with a proportional bar in the condition's colour."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return Cell(fmt(value), bar=None if missing else float(value), kind=kind, cls=cls)
