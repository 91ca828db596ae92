"""Small tables that print the same text everywhere and render as Markdown in Jupyter.

The plain-text form is what nbval compares, so it uses fixed formats only (no pandas,
whose HTML changes between releases)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: str = ""          # one of "l"/"r" per column; default: first left, rest right

    def __post_init__(self):
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"each row must have {len(self.columns)} cells, "
                                 f"got {len(row)}: {row}")

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
    """A table from column names and rows of already formatted strings."""
    return Table(tuple(columns), tuple(tuple(str(c) for c in r) for r in rows), align)
