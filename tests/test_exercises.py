"""The course assignments: nbgrader format, student versions current, sources pass
their own tests, student versions run top to bottom and fail only with plain-word check
messages, and a deliberately wrong solution is caught by the visible checks."""

import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import make_student_versions as generator  # noqa: E402

SOURCES = sorted((ROOT / "exercises" / "source").glob("*/*.ipynb"))
RELEASES = sorted((ROOT / "exercises" / "release").glob("*/*.ipynb"))


def execute(nb, allow_errors=False):
    NotebookClient(nb, timeout=180, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    return nb


def errors(nb):
    return [(cell.metadata.get("nbgrader", {}).get("grade_id"), output)
            for cell in nb.cells for output in cell.get("outputs", [])
            if output.output_type == "error"]


def test_there_are_four_assignments_with_student_versions():
    assert len(SOURCES) >= 4
    assert [p.parent.name for p in RELEASES] == [p.parent.name for p in SOURCES]


def test_committed_student_versions_are_current():
    stale = [str(path.relative_to(ROOT)) for path, text in generator.expected_files().items()
             if not path.is_file() or path.read_text(encoding="utf-8") != text]
    assert stale == [], "run `make student-versions` and commit: " + ", ".join(stale)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_source_is_in_nbgrader_format(path):
    nb = nbformat.read(path, as_version=4)
    ids, points = set(), 0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            # A free cell: the student writes a guess there, nobody grades it, nbgrader
            # leaves it as submitted. Only `prediction = …` cells may be free.
            assert cell.cell_type == "code" and cell.source.startswith("prediction = None"), \
                f"a cell without nbgrader metadata: {cell.source[:60]!r}"
            continue
        assert meta["schema_version"] == 3
        assert meta["grade_id"] not in ids, f"duplicate grade_id {meta['grade_id']}"
        ids.add(meta["grade_id"])
        assert {"grade", "solution", "locked"} <= set(meta)
        if meta["grade"]:
            assert meta["points"] > 0, meta["grade_id"]
            points += meta["points"]
        if meta["solution"] and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        if meta["solution"]:
            assert not meta["locked"], "students must be able to edit solution cells"
        if meta["grade"] and not meta["solution"]:
            assert meta["locked"] and cell.cell_type == "code"
        if "HIDDEN TESTS" in cell.source:
            assert meta["grade"] and not meta["solution"]
    header = nb.cells[0].source
    stated = int(re.search(r"\*\*Points:\*\* (\d+)", header).group(1))
    assert stated == points, f"the header says {stated} points, the grade cells give {points}"
    assert "**Expected time:**" in header and "**You will**" in header
    for part, part_points in re.findall(r"## Part (\w) .*\((\d+) points?\)",
                                        "\n".join(c.source for c in nb.cells)):
        assert f"{part} {part_points}" in header, f"part {part}: {part_points} points"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_source_passes_its_own_tests(path):
    nb = execute(nbformat.read(path, as_version=4))
    assert errors(nb) == []
    passed = [o.text for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
              for o in c.get("outputs", []) if o.output_type == "stream"]
    assert passed, "the test cells print what they verified"


@pytest.mark.parametrize("path", RELEASES, ids=lambda p: p.parent.name)
def test_student_version_runs_and_fails_only_with_plain_messages(path):
    nb = nbformat.read(path, as_version=4)
    assert "### BEGIN SOLUTION" not in nbformat.writes(nb)
    assert "HIDDEN TESTS" not in nbformat.writes(nb)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    nb = execute(nb, allow_errors=True)
    failures = errors(nb)
    graded = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    assert {grade_id for grade_id, _ in failures} <= graded, "only check cells may fail"
    assert failures, "an empty student version must not pass its checks"
    for grade_id, output in failures:
        assert output.ename == "CheckFailed", (grade_id, output.ename, output.evalue)
        assert "is not written yet" in output.evalue and "Replace" in output.evalue
        assert len(output.traceback) <= 2, "a message, not a traceback through helpers"


def test_a_wrong_solution_is_caught_by_the_visible_check():
    path = next(p for p in RELEASES if p.parent.name == "ex1-adam-update")
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "ex1-adam-step")
    # Adam without bias correction: a common first attempt.
    cell.source = cell.source.replace(
        "    # YOUR CODE HERE\n    raise NotImplementedError()",
        "    m = beta1 * m + (1 - beta1) * g\n    v = beta2 * v + (1 - beta2) * g * g\n"
        "    return w - lr * m / (np.sqrt(v) + eps), m, v")
    nb = execute(nb, allow_errors=True)
    failures = dict(errors(nb))
    assert "ex1-adam-update-tests" in failures
    message = failures["ex1-adam-update-tests"].evalue
    assert "without* bias correction" in message and "1 - beta1**t" in message
    # Partial credit: the moments and the stacked runs are right, and their cells pass.
    assert "ex1-adam-moments-tests" not in failures
    assert "ex1-adam-stacked-tests" not in failures
