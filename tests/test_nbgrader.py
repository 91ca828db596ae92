"""The exercise sources as nbgrader itself reads them (`make test-instructor`; skipped
where nbgrader is not installed, which is the student environment).

nbgrader's own `generate_assignment` must accept every source and produce the same
student cells as scripts/make_student_versions.py; its validator must pass the sources
and fail the empty student versions."""

import os
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
        assert mine.metadata["nbgrader"]["grade_id"] == its.metadata["nbgrader"]["grade_id"]


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
