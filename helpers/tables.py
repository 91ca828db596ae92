"""Small tables that print the same text everywhere and render as Markdown in Jupyter.

The plain-text form is what nbval compares, so it uses fixed formats only (no pandas,
whose HTML changes between releases)."""

from __future__ import annotations

from dataclasses import dataclass

from .validation import shown


def _sequence(name: str, value) -> tuple:
    """A list or tuple (or other iterable) as a tuple; a lone string is refused, not read
    letter by letter."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a list, got the single string {value!r}; write "
                        f"[{value!r}] for one")
    try:
        return tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a list, got {shown(value)}") from None


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: str = ""          # one of "l"/"r" per column; default: first left, rest right

    def __post_init__(self):
        if not isinstance(self.columns, tuple) or not isinstance(self.rows, tuple):
            raise TypeError(f"columns and rows must be tuples (make_table builds them from "
                            f"lists), got {type(self.columns).__name__} and "
                            f"{type(self.rows).__name__}")
        for k, column in enumerate(self.columns):
            if not isinstance(column, str):
                raise TypeError(f"each column name must be a string, got {shown(column)} in "
                                f"column {k}")
        for row in self.rows:
            if not isinstance(row, tuple):
                raise TypeError(f"each row must be a tuple of strings, got {shown(row)}")
            if len(row) != len(self.columns):
                raise ValueError(f"each row must have {len(self.columns)} cells, "
                                 f"got {len(row)}: {row}")
            for cell in row:
                if not isinstance(cell, str):
                    raise TypeError(f"each cell must be a string (make_table formats them), "
                                    f"got {shown(cell)} in row {row}")
        if not isinstance(self.align, str):
            raise TypeError(f"align must be a string of 'l' and 'r', one per column, got "
                            f"{shown(self.align)}")
        if self.align and (len(self.align) != len(self.columns)
                           or set(self.align) - {"l", "r"}):
            raise ValueError(f"align must be '' (the default) or one letter per column, 'l' "
                             f"(left) or 'r' (right): {len(self.columns)} letters here, got "
                             f"{self.align!r}")

    def _aligns(self) -> str:
        return self.align or "l" + "r" * (len(self.columns) - 1)

    def __str__(self) -> str:
        cells = [self.columns] + [tuple(r) for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        aligns = self._aligns()

        def line(row):
            return "  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                             for c, w, a in zip(row, widths, aligns)).rstrip()

        rule = "  ".join("-" * w for w in widths)
        return "\n".join([line(self.columns), rule] + [line(r) for r in self.rows])

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))

    def _repr_markdown_(self) -> str:
        marks = {"l": ":--", "r": "--:"}

        def line(cells):
            # A bare "|" inside a cell (e.g. "|w-1|") would end the cell early.
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        rule = "| " + " | ".join(marks[a] for a in self._aligns()) + " |"
        return "\n".join([line(self.columns), rule] + [line(row) for row in self.rows])


def make_table(columns, rows, align: str = "") -> Table:
    """A table from column names and rows of already formatted strings. ``align``: one
    letter per column, ``l`` or ``r``; by default the first column left, the rest right."""
    columns = _sequence("columns", columns)
    rows = tuple(_sequence("each row", row) for row in _sequence("rows", rows))
    return Table(columns, tuple(tuple(str(c) for c in r) for r in rows), align)
