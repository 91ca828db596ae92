"""Generate the student versions of the exercises and of the notebooks
(`make student-versions`; `--check` only compares, for `make test`).

exercises/source/NAME/NAME.ipynb  ->  exercises/release/NAME/NAME.ipynb
notebooks/NN-NAME.ipynb           ->  notebooks/student/NN-NAME.ipynb

A notebook's student copy is the notebook with every output and execution count
cleared, so that a reader can make each prediction before any answer is on the page
(as fastbook's `clean/` copies serve its book). A note under its title links back to
the copy with outputs; relative links that leave the notebooks folder get one more
`../`, and the index's links to the student copies point to their siblings.

For the exercises:

The same steps as nbgrader's `generate_assignment` preprocessors, without needing nbgrader
(which stays in the instructors' extra):
- LockCells: read-only cells and test cells become undeletable and uneditable; solution
  cells undeletable.
- ClearSolutions: code between `### BEGIN SOLUTION` and `### END SOLUTION` becomes
  `# YOUR CODE HERE` / `raise NotImplementedError()` at the same indentation; a written
  answer becomes "YOUR ANSWER HERE".
- ClearHiddenTests: lines between `### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS` go.
- ClearOutput: no outputs, no execution counts.
nbgrader's checksums are left out: they serve its own database, and instructors who use
nbgrader generate their release with it (INSTRUCTORS.md)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCE, RELEASE = ROOT / "exercises" / "source", ROOT / "exercises" / "release"
NOTEBOOKS = ROOT / "notebooks"
STUDENT = NOTEBOOKS / "student"
STUDENT_NOTE = ("> **This copy has no outputs.** Run each cell in turn (*Shift+Enter*), and "
                "write your guess into each `prediction` before the cell that settles it. "
                "The same notebook with every output: [{name}](../{name}).")
CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
TEXT_STUB = "YOUR ANSWER HERE"


def _between(lines, begin, end, replace):
    """Lines with every begin..end region (markers included) replaced by replace(indent)."""
    out, inside = [], False
    for line in lines:
        if re.match(rf"^\s*{re.escape(begin)}\s*$", line):
            if inside:
                raise ValueError(f"nested {begin!r}")
            inside = True
            out += replace(line[:len(line) - len(line.lstrip())])
        elif re.match(rf"^\s*{re.escape(end)}\s*$", line):
            if not inside:
                raise ValueError(f"{end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{begin!r} without {end!r}")
    return out


def student_version(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(source)      # a copy
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        lines = cell.source.split("\n")
        if grading.get("solution"):
            if cell.cell_type == "code":
                if "### BEGIN SOLUTION" not in cell.source:
                    raise ValueError(f"solution cell {grading.get('grade_id')} has no "
                                     f"solution markers")
                lines = _between(lines, "### BEGIN SOLUTION", "### END SOLUTION",
                                 lambda indent: [indent + stub for stub in CODE_STUB])
            else:
                lines = [TEXT_STUB]
        lines = _between(lines, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS", lambda indent: [])
        cell.source = "\n".join(lines).rstrip("\n")
        if grading.get("locked") or (grading.get("grade") and not grading.get("solution")):
            cell.metadata["deletable"], cell.metadata["editable"] = False, False
        elif grading.get("solution"):
            cell.metadata["deletable"] = False
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def student_copy(notebook: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """A notebook of the series without its outputs, its links fixed for the
    `student/` folder, and a note under its title."""
    nb = nbformat.from_dict(notebook)    # a copy
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown":
            # ](../x) -> ](../../x); the index's ](student/x) -> ](x)
            cell.source = re.sub(r"\]\(\.\./", "](../../", cell.source)
            cell.source = re.sub(r"\]\(student/", "](", cell.source)
    title = nb.cells[0]
    if title.cell_type != "markdown" or not title.source.startswith("# "):
        raise ValueError(f"{name}: the first cell must be the title (markdown '# ...')")
    heading, _, rest = title.source.partition("\n")
    title.source = "\n".join([heading, "", STUDENT_NOTE.format(name=name), rest]).rstrip("\n")
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def expected_files() -> dict[Path, str]:
    """Release path -> the text it must have, for every source notebook."""
    files = {}
    for path in sorted(SOURCE.glob("*/*.ipynb")):
        target = RELEASE / path.parent.name / path.name
        files[target] = render(student_version(nbformat.read(path, as_version=4)))
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        files[STUDENT / path.name] = render(student_copy(nbformat.read(path, as_version=4),
                                                         path.name))
    return files


def generated_files() -> list[Path]:
    """What is on disk in the folders this script writes."""
    return sorted(RELEASE.glob("*/*.ipynb")) + sorted(STUDENT.glob("*.ipynb"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only compare with the committed student versions")
    args = parser.parse_args(argv)
    files = expected_files()
    stale = [p for p, text in files.items()
             if not p.is_file() or p.read_text(encoding="utf-8") != text]
    extra = [p for p in generated_files() if p not in files]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}")
        for path in extra:
            print(f"no source for: {path.relative_to(ROOT)}")
        if stale or extra:
            print("run `make student-versions` and commit the result")
            return 1
        print(f"{len(files)} student versions are current")
        return 0
    for path in extra:
        path.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
