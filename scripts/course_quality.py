"""What a reader meets in each notebook of the series, measured (`make quality` prints
it; tests/test_course_quality.py holds every notebook to it).

- **Figures legible where they are read.** JupyterLab's notebook column shows an image
  at most about 850 CSS px wide. Every figure output states its shown width in its
  metadata (at most 850) and carries alt text of at least six words (nbconvert and site
  builders turn ``{"image/png": {"alt": ...}}`` into ``<img alt>``). The text size at
  that width is checked where the figure is made (``helpers.plotting.show_figure``).
- **Printed lines that do not wrap.** A printed line wider than the column wraps at its
  edge, mid-number; text outputs stay within ``MAX_LINE`` characters.
- **Prose that leaves the numbers to tables and figures.** Markdown words and numbers
  per notebook, counted without LaTeX, code spans and link targets, numbers spelled as
  words included.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))

COLUMN_WIDTH_PX = 850
MIN_ALT_WORDS = 6
# JupyterLab's code font is 13 px, about 7.8 px a character: 850 px hold about 108.
MAX_LINE = 100
# Budgets of markdown per notebook (issues 16 and 17): the index has a little more to say.
WORD_BUDGET = {"00": 1200}
DEFAULT_WORD_BUDGET = 1000
NUMBER_BUDGET: dict[str, int] = {}
DEFAULT_NUMBER_BUDGET = 45

NUMBER_WORDS = (r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
                r"forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|million)\b")


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def markdown_text(nb: dict) -> str:
    """The prose a reader reads: LaTeX, code spans and link targets taken out."""
    md = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    md = re.sub(r"\$\$.*?\$\$", " ", md, flags=re.S)
    md = re.sub(r"\$[^$\n]*\$", " ", md)
    md = re.sub(r"\]\([^)]*\)", "]", md)
    return re.sub(r"`[^`]*`", " ", md)


def count_words(text: str) -> int:
    return len(re.findall(r"[A-Za-z']+", text))


def count_numbers(text: str) -> int:
    digits = re.findall(r"(?<![\w.])\d+(?:[.,]\d+)*(?!\w)", text)
    return len(digits) + len(re.findall(NUMBER_WORDS, text, flags=re.I))


def figures(nb: dict):
    """(cell index, shown width, pixel width, alt text) of every image output."""
    for index, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" not in data:
                continue
            png = base64.b64decode(data["image/png"])
            pixels = struct.unpack(">I", png[16:20])[0]
            meta = (output.get("metadata") or {}).get("image/png") or {}
            yield index, float(meta.get("width") or pixels), pixels, str(meta.get("alt", ""))


def text_lines(nb: dict):
    """(cell index, line) of every line a reader sees as plain text: printed output, and
    results that have no richer form (a table shows as Markdown, not as its text)."""
    for index, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                text = "".join(output["text"])
            elif output["output_type"] in ("execute_result", "display_data"):
                data = output.get("data", {})
                if set(data) != {"text/plain"}:
                    continue
                text = "".join(data["text/plain"])
            else:
                continue
            for line in text.splitlines():
                yield index, line


def problems(path: Path) -> list[str]:
    """Everything in one notebook that breaks the rules above."""
    nb = load(path)
    found = []
    for index, width, _, alt in figures(nb):
        if width > COLUMN_WIDTH_PX:
            found.append(f"cell {index}: a figure shown {width:.0f} px wide (at most "
                         f"{COLUMN_WIDTH_PX}): show it with helpers.plotting.show_figure")
        if len(alt.split()) < MIN_ALT_WORDS:
            found.append(f"cell {index}: a figure without alt text (show_figure(fig, alt=...))")
    for index, line in text_lines(nb):
        if len(line) > MAX_LINE:
            found.append(f"cell {index}: a printed line of {len(line)} characters (at most "
                         f"{MAX_LINE}, or it wraps mid-number): {line[:60]!r}...")
    number = path.name[:2]
    text = markdown_text(nb)
    words, numbers = count_words(text), count_numbers(text)
    budget = WORD_BUDGET.get(number, DEFAULT_WORD_BUDGET)
    if words > budget:
        found.append(f"{words} words of markdown (at most {budget})")
    number_budget = NUMBER_BUDGET.get(number, DEFAULT_NUMBER_BUDGET)
    if number != "00" and numbers > number_budget:
        found.append(f"{numbers} numbers in markdown (at most {number_budget}): move them "
                     f"to tables and figures")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, default=NOTEBOOKS)
    args = parser.parse_args(argv)
    bad = 0
    print(f"{'notebook':<36} {'words':>6} {'numbers':>8} {'figures':>8}  problems")
    for path in args.notebooks:
        nb = load(path)
        text = markdown_text(nb)
        found = problems(path)
        bad += bool(found)
        print(f"{path.name:<36} {count_words(text):>6} {count_numbers(text):>8} "
              f"{len(list(figures(nb))):>8}  {len(found)}")
        for problem in found:
            print(f"    {problem}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
