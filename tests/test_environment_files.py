"""The stacks the series promises, kept in step:

- environment.yml (Binder, conda) takes only Python and pip from conda and installs
  requirements-pinned.txt, the exact versions `make` installs into .venv: the stack Binder
  builds is the stack CI runs every notebook with;
- requirements-pinned.txt covers pyproject.toml's runtime dependencies, inside their ranges;
- requirements-oldest.txt is pyproject.toml's lower bounds, exactly: `make test-oldest`
  runs every notebook with them under strict nbval (CI runs it), so the bounds are true.
"""

import importlib.metadata as metadata
import os
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
IN_CI = any(os.environ.get(name, "").lower() in ("1", "true", "yes")
            for name in ("BROWSER_TEST_REQUIRED", "CI"))


def runtime_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonical(Requirement(spec).name): Requirement(spec)
            for spec in project["dependencies"]}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(filename: str) -> dict[str, str]:
    found = {}
    for line in (ROOT / filename).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9][0-9A-Za-z.+!-]*)", line)
        assert match, f"{filename}: {line!r} is not an exact pin name==version"
        found[canonical(match.group(1))] = match.group(2)
    return found


def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def test_binder_takes_python_and_pip_from_conda_and_the_pinned_file_for_the_rest():
    dependencies = environment()["dependencies"]
    conda = [d for d in dependencies if isinstance(d, str)]
    assert sorted(d.split("=")[0] for d in conda) == ["pip", "python"]
    pip_sections = [d["pip"] for d in dependencies if isinstance(d, dict)]
    assert pip_sections == [["-r requirements-pinned.txt"]]


def test_binder_python_is_the_one_the_project_supports_and_ci_runs():
    python = next(d for d in environment()["dependencies"]
                  if isinstance(d, str) and d.startswith("python="))
    version = python.split("=", 1)[1]
    assert re.fullmatch(r"3\.\d+", version), "pin Python to major.minor"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert f">={version}" == project["requires-python"], (
        "Binder's Python should be the oldest the project supports, the one CI's machine has")
    if IN_CI:
        assert version == f"{sys.version_info.major}.{sys.version_info.minor}", (
            f"CI runs Python {sys.version_info.major}.{sys.version_info.minor}, but Binder "
            f"installs {version}: the stack Binder builds must be one CI tests")


def test_every_runtime_dependency_is_pinned_within_its_range():
    pinned = pins("requirements-pinned.txt")
    for name, requirement in runtime_requirements().items():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        assert name in pinned, f"{name} is a runtime dependency but not pinned"
        assert Version(pinned[name]) in requirement.specifier, (name, pinned[name])


def test_the_makefile_installs_the_pinned_file_into_the_test_environment():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet -r requirements-pinned.txt" in makefile
    assert re.search(r"^\$\(STAMP\):.*requirements-pinned\.txt", makefile, re.M)


@pytest.mark.skipif(not IN_CI, reason="only in CI, where .venv is built from the pins")
def test_ci_runs_exactly_the_pinned_versions():
    if not sys.prefix.endswith(".venv"):
        pytest.skip(f"not the project's .venv ({sys.prefix})")
    wrong = []
    for name, version in pins("requirements-pinned.txt").items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed")
            continue
        if Version(installed) != Version(version):
            wrong.append(f"{name}: {installed} installed, {version} pinned")
    assert wrong == []


@pytest.mark.skipif(not IN_CI, reason="only in CI, where .venv is built from the pins")
def test_everything_the_runtime_needs_is_pinned():
    """What the runtime packages pull in, extras included (jsonschema[format-nongpl]
    brings nine packages of its own), is all in the file: nothing Binder installs is left
    to whatever version is newest that day."""
    if not sys.prefix.endswith(".venv"):
        pytest.skip(f"not the project's .venv ({sys.prefix})")
    sys.path.insert(0, str(ROOT / "scripts"))
    import pin_environment
    needed = set(pin_environment.closure(pin_environment.runtime_roots()))
    assert needed - set(pins("requirements-pinned.txt")) == set()


def test_the_oldest_set_is_exactly_pyprojects_lower_bounds():
    oldest = pins("requirements-oldest.txt")
    lower = {}
    for name, requirement in runtime_requirements().items():
        bounds = [s.version for s in requirement.specifier if s.operator == ">="]
        assert len(bounds) == 1, f"{name}: give one lower bound (>=)"
        lower[name] = bounds[0]
    assert oldest == lower


def test_the_oldest_set_is_checked_in_ci():
    assert "make test-oldest" in (ROOT / ".ci" / "run").read_text()
