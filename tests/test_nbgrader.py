"""The exercise sources as nbgrader itself reads them (`make test-instructor`; skipped
where nbgrader is not installed, which is the student environment).

nbgrader's own `generate_assignment` must accept every source and produce the same
student cells as scripts/make_student_versions.py; its validator must pass the sources
and fail the empty student versions."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader", reason="nbgrader is an instructor tool: `make test-instructor`")

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "exercises" / "source").glob("*/*.ipynb"))


def make_course(folder):
    """The course `make course` creates (scripts/make_course.py)."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_course.py"), str(folder)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture(scope="module")
def nbgrader_release(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("course"))
    # nbgrader runs the `alembic` command of its environment: put that on the PATH.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for path in SOURCES:
        done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment",
                               path.parent.name, "--force", "--create"],
                              cwd=course, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return course / "release"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_nbgrader_makes_the_same_student_version(nbgrader_release, path):
    theirs = nbformat.read(nbgrader_release / path.parent.name / path.name, as_version=4)
    release = ROOT / "exercises" / "release" / path.parent.name / path.name
    ours = nbformat.read(release, as_version=4)
    assert [c.source for c in theirs.cells] == [c.source for c in ours.cells]
    for mine, its in zip(ours.cells, theirs.cells):
        for key in ("deletable", "editable"):
            assert mine.metadata.get(key, True) == its.metadata.get(key, True), \
                (key, mine.source[:40])
        assert mine.metadata.get("nbgrader", {}).get("grade_id") == \
            its.metadata.get("nbgrader", {}).get("grade_id")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_nbgrader_validates_sources_and_fails_empty_student_versions(path):
    from nbgrader.validator import Validator
    assert Validator().validate(str(path)) == {}
    student = ROOT / "exercises" / "release" / path.parent.name / path.name
    assert Validator().validate(str(student)).get("failed"), "empty solutions must fail"


def test_make_course_writes_a_config_nbgrader_reads(tmp_path):
    course = make_course(tmp_path / "c")
    assert sorted(p.name for p in (course / "source").iterdir()) == \
        sorted(p.parent.name for p in SOURCES)
    code = ("from traitlets.config.loader import PyFileConfigLoader\n"
            "from nbgrader.coursedir import CourseDirectory\n"
            "from nbgrader.converters import GenerateFeedback\n"
            "config = PyFileConfigLoader('nbgrader_config.py', path='.').load_config()\n"
            "course = CourseDirectory(config=config)\n"
            "print(course.course_id, course.root)\n"
            "print([p if isinstance(p, str) else p.__name__ "
            "for p in GenerateFeedback(config=config).preprocessors])\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=course, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"sgd-frequency-bias {course}" in done.stdout
    assert "ClearHiddenTests" in done.stdout
    again = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_course.py"),
                            str(course)], capture_output=True, text=True)
    assert again.returncode == 1 and "already holds a course" in again.stderr


# --- the whole pipeline, as an instructor runs it ------------------------------------------
# Three fake students per exercise, submitted through the local exchange: `correct` (the
# source's solutions), `mistake` (one realistic slip, below), `untouched` (the release as
# fetched). Every nbgrader step goes through scripts/nbgrader_run.py, as `make nbgrader`
# does, so a step that logs an error fails here.

MISTAKES = {   # exercise: (cell, what the correct solution says, what the slip says)
    "ex1-adam-update": ("ex1-adam-step",                                # no bias correction
                        "m_hat = m / (1 - beta1 ** t)\n    v_hat = v / (1 - beta2 ** t)",
                        "m_hat = m\n    v_hat = v"),
    "ex2-predict-and-diverge": ("ex2-stability", "return 2 / np.linalg", "return 1 / np.linalg"),
    "ex3-adagrad-and-a-hard-world": ("ex3-adagrad", "sum_sq = state + g * g",
                                     "state += g * g\n    sum_sq = state"),   # in place
    "ex4-softmax-gradient-on-shakespeare": (
        "ex4-gradient", "np.add.at(grad, previous, probabilities)\n"
        "    np.add.at(grad, (previous, following), -1.0)",
        "grad[previous] += probabilities\n    grad[previous, following] -= 1.0"),
}
STUDENTS = ("correct", "mistake", "untouched")


def nbgrader_run(folder, *args, expect_ok=True):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "nbgrader_run.py"),
                           str(folder), *args], capture_output=True, text=True)
    if expect_ok:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def solved(source_cell_text: str) -> str:
    """A solution cell as a student who got it right would leave it: the source's code
    without nbgrader's markers."""
    return "\n".join(line for line in source_cell_text.split("\n")
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def fill_in(path: Path, assignment: str, student: str):
    """Turn a fetched (empty) notebook into the given student's submission."""
    if student == "untouched":
        return
    source = nbformat.read(ROOT / "exercises" / "source" / assignment / path.name, as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = solved(answers[grade_id])
            cell_id, right, wrong = MISTAKES[assignment]
            if student == "mistake" and grade_id == cell_id:
                assert right in cell.source, (assignment, right)
                cell.source = cell.source.replace(right, wrong)
    nbformat.write(nb, path)


def autograded_points(assignment: str) -> float:
    """Points of the code cells nbgrader grades by itself (written answers wait for a
    person, and score 0 until then)."""
    source = next((ROOT / "exercises" / "source" / assignment).glob("*.ipynb"))
    return sum(c.metadata["nbgrader"]["points"] for c in nbformat.read(source, 4).cells
               if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code")


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("pipeline") / "course")
    exchange = ["--course", "sgd-frequency-bias", f"--Exchange.root={course / 'exchange'}"]
    assignments = [p.parent.name for p in SOURCES]
    for assignment in assignments:
        nbgrader_run(course, "generate_assignment", assignment, "--create")
        nbgrader_run(course, "release_assignment", assignment)
    for student in STUDENTS:
        home = tmp_path_factory.mktemp(student)
        for assignment in assignments:
            nbgrader_run(home, "fetch_assignment", assignment, *exchange)
            for path in (home / assignment).glob("*.ipynb"):
                fill_in(path, assignment, student)
            nbgrader_run(home, "submit", assignment, "--student", student, *exchange)
    logs = {}
    for assignment in assignments:
        # All fake students are this one OS user: nbgrader's owner check would warn.
        nbgrader_run(course, "collect", assignment, "--CollectApp.check_owner=False")
        logs[assignment] = nbgrader_run(course, "autograde", assignment).stdout
        nbgrader_run(course, "generate_feedback", assignment)
    nbgrader_run(course, "export")
    with open(course / "grades.csv", newline="") as handle:
        grades = {(row["assignment"], row["student_id"]): row for row in csv.DictReader(handle)}
    return course, grades, logs


def documented_scores() -> dict:
    """INSTRUCTORS.md's table of what the pipeline grades: assignment -> (correct, with
    the slip, untouched, written answers). The test holds the text to the results."""
    text = (ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(ex\d-[\w-]+)` \| [^|]+ \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$",
                      text, flags=re.MULTILINE)
    return {name: tuple(float(v) for v in values) for name, *values in rows}


@pytest.mark.parametrize("assignment", [p.parent.name for p in SOURCES])
def test_pipeline_scores_full_partial_and_zero(graded_course, assignment):
    _, grades, _ = graded_course
    full = autograded_points(assignment)
    scores = {student: float(grades[assignment, student]["score"]) for student in STUDENTS}
    assert scores["correct"] == full, scores
    assert 0 < scores["mistake"] < full, scores
    assert scores["mistake"] >= full / 2, f"one slip should cost less than half: {scores}"
    assert scores["untouched"] == 0, scores
    written = float(grades[assignment, "correct"]["max_score"]) - full
    assert documented_scores()[assignment] == (scores["correct"], scores["mistake"],
                                               scores["untouched"], written), \
        "INSTRUCTORS.md's table of pipeline scores differs from what nbgrader gave"


@pytest.mark.parametrize("assignment", [p.parent.name for p in SOURCES])
def test_pipeline_feedback_shows_no_hidden_test(graded_course, assignment):
    import html
    course, _, _ = graded_course
    source = next((ROOT / "exercises" / "source" / assignment).glob("*.ipynb"))
    hidden, visible = [], []
    for cell in nbformat.read(source, 4).cells:
        if "### BEGIN HIDDEN TESTS" in cell.source:
            before, _, rest = cell.source.partition("### BEGIN HIDDEN TESTS")
            hidden += [line.strip() for line in rest.partition("### END HIDDEN TESTS")[0]
                       .split("\n") if len(line.strip()) > 20]
            visible += [line.strip() for line in before.split("\n") if len(line.strip()) > 20]
    assert hidden and visible
    for student in STUDENTS:
        page = course / "feedback" / student / assignment / f"{assignment}.html"
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        # The visible checks are there (so the search below can find code in this page) …
        assert all(line in text for line in visible), (student, visible[0])
        # … and no line of a hidden test is.
        assert not [line for line in hidden if line in text], (student, assignment)


def test_pipeline_logs_only_expected_warnings(graded_course):
    _, _, logs = graded_course
    for assignment, log in logs.items():
        assert "READ THIS" not in log, (assignment, log[-2000:])
        assert "checksum of a test cell with hidden tests" in log, assignment


def test_nbgrader_run_fails_loudly(graded_course, tmp_path):
    course, _, _ = graded_course
    assignment = SOURCES[0].parent.name
    exchange = ["--course", "sgd-frequency-bias", f"--Exchange.root={course / 'exchange'}"]
    nbgrader_run(tmp_path, "fetch_assignment", assignment, *exchange)
    notebook = next((tmp_path / assignment).glob("*.ipynb"))
    notebook.rename(notebook.with_name("my-answers.ipynb"))        # a renamed notebook
    done = nbgrader_run(tmp_path, "submit", assignment, "--student", "renamer", *exchange,
                        expect_ok=False)
    assert done.returncode == 1 and "lacks an assignment notebook" in done.stderr
    done = nbgrader_run(course, "autograde", "no-such-exercise", expect_ok=False)
    assert done.returncode != 0 and "FAILED" in done.stderr
    done = nbgrader_run(tmp_path / "nowhere", "autograde", assignment, expect_ok=False)
    assert done.returncode == 2 and "make course" in done.stderr
