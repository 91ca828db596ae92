"""environment.yml (Binder, conda) and pyproject.toml (pip, make) must name the same
runtime packages, and each conda pin must satisfy pyproject's range."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONDA_ONLY = {"python", "pip"}     # the interpreter and the installer, not dependencies


def conda_pins():
    pins = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        match = re.match(r"^\s*-\s*([A-Za-z0-9_.-]+)=([0-9.]+)\s*(#.*)?$", line)
        if match:
            pins[match.group(1).lower()] = (match.group(2), match.group(3))
    return pins


def pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = {}
    for spec in project["dependencies"]:
        name = re.match(r"^[A-Za-z0-9_.-]+", spec).group(0).lower()
        requirements[name] = spec
    return project, requirements


def version_tuple(text):
    return tuple(int(x) for x in text.split("."))


def satisfies(version, spec):
    for op, bound in re.findall(r"(>=|<=|==|<|>)\s*([0-9.]+)", spec):
        v, b = version_tuple(version), version_tuple(bound)
        width = max(len(v), len(b))
        v, b = v + (0,) * (width - len(v)), b + (0,) * (width - len(b))
        if not {"<": v < b, "<=": v <= b, ">": v > b, ">=": v >= b, "==": v == b}[op]:
            return False
    return True


def test_same_runtime_packages():
    _, requirements = pyproject_requirements()
    assert set(conda_pins()) - CONDA_ONLY == set(requirements)


@pytest.mark.parametrize("name", sorted(pyproject_requirements()[1]))
def test_conda_pin_satisfies_pyproject(name):
    version, _ = conda_pins()[name]
    assert satisfies(version, pyproject_requirements()[1][name]), (name, version)


def test_every_conda_pin_is_major_minor_and_commented():
    for name, (version, comment) in conda_pins().items():
        assert len(version.split(".")) == 2, f"{name}={version}: pin major.minor"
        assert comment and len(comment) > 5, f"{name}: say what needs it"


def test_python_pin_meets_requires_python():
    project, _ = pyproject_requirements()
    python = conda_pins()["python"][0]
    assert satisfies(python, project["requires-python"])


def test_binder_configuration_lives_at_the_root():
    # A binder/ folder would make repo2docker ignore environment.yml and postBuild here.
    assert not (ROOT / "binder").exists() and not (ROOT / ".binder").exists()
    post_build = ROOT / "postBuild"
    assert post_build.stat().st_mode & 0o111, "postBuild must be executable"
    assert "pip install --no-deps -e ." in post_build.read_text()
