"""`pip install .` (not editable) gives a package that works on its own, away from the
checkout: the corpus of notebook 12 and the runs file of notebook 13 travel inside it
(as helpers/data/), byte for byte the checkout's, and nothing else of the repository
does (exercises/grader/ above all).

The package is installed with pip into a temporary folder (``--target``), from a copy
of the checkout so that the build leaves nothing in it, and then imported by a fresh
interpreter that sees only that folder and the third-party packages: no checkout on its
path, no editable-install hook."""

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_FILES = {"shakespeare-plays.txt.gz", "next-word-runs.json", "README.md"}
# Not copied: environments, caches, downloads and build outputs (none is part of what
# pip builds, and a stale build/ could slip old files into the wheel).
SKIPPED_AT_TOP = {"build", "dist", "course"}
SKIPPED_ANYWHERE = {"__pycache__", ".ipynb_checkpoints", "node_modules"}


def copy_checkout(destination: Path) -> Path:
    def skipped(folder, names):
        top = Path(folder) == ROOT
        return {name for name in names
                if name in SKIPPED_ANYWHERE
                or (top and (name.startswith(".") or name in SKIPPED_AT_TOP
                             or name.endswith(".egg-info")))}
    return Path(shutil.copytree(ROOT, destination, ignore=skipped))


def build_isolation_flags() -> list[str]:
    """``--no-build-isolation`` when this environment already holds the build backend the
    project asks for (no download, so the test works offline); otherwise pip builds in an
    isolated environment of its own, as `pip install .` does for a user."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement
    with open(ROOT / "pyproject.toml", "rb") as file:
        requires = tomllib.load(file)["build-system"]["requires"]
    for requirement in map(Requirement, requires):
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            return []
        if not requirement.specifier.contains(installed, prereleases=True):
            return []
    return ["--no-build-isolation"]


CHECK = """
    import hashlib, json, sys
    target, *dependencies = sys.argv[1:]
    sys.path[:0] = [target]         # the installed copy, then the third-party packages
    sys.path += dependencies        # (added as plain folders: no .pth, no editable hook)
    import helpers
    from helpers import corpus
    plays = corpus.read_plays()
    runs = corpus.read_next_word_runs()
    print(json.dumps({
        "helpers": helpers.__file__,
        "modules": sorted(m.__file__ for name, m in list(sys.modules.items())
                          if name.split(".")[0] == "helpers" and getattr(m, "__file__", None)),
        "path": sys.path,
        "corpus_file": str(corpus.CORPUS_FILE),
        "corpus": hashlib.sha256(corpus.CORPUS_FILE.read_bytes()).hexdigest(),
        "runs": hashlib.sha256(corpus.NEXT_WORD_RUNS_FILE.read_bytes()).hexdigest(),
        "plays": len(plays), "words": sum(map(len, plays.values())),
        "runs_keys": sorted(runs),
    }))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package as `pip install .` installs it, in a folder of its own."""
    work = tmp_path_factory.mktemp("install")
    source = copy_checkout(work / "source")
    target = work / "site"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
               *build_isolation_flags(), "--target", str(target), str(source)]
    done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"
    return target


def third_party_paths() -> list[str]:
    """This interpreter's import path without the checkout: the folders (and zips) that
    hold the dependencies, the ones .pth files added included."""
    kept = []
    for entry in sys.path:
        path = Path(entry).resolve() if entry else None
        if path is None or not path.exists() or (path / "helpers").exists():
            continue        # the current folder, an editable hook's placeholder, a checkout
        if path == ROOT or path.is_relative_to(ROOT / "tests"):
            continue
        kept.append(str(path))
    return kept


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_installed_package_reads_its_own_copy_of_the_data(installed):
    done = subprocess.run([sys.executable, "-I", "-S", "-c", textwrap.dedent(CHECK),
                           str(installed), *third_party_paths()],
                          cwd=installed.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    # Imported from the installed copy, never from the checkout.
    assert Path(seen["helpers"]).is_relative_to(installed), seen["helpers"]
    assert all(Path(file).is_relative_to(installed) for file in seen["modules"]), seen["modules"]
    assert not [entry for entry in seen["path"]
                if entry and (Path(entry) == ROOT or (Path(entry) / "helpers").exists())
                and Path(entry) != installed], seen["path"]
    assert Path(seen["corpus_file"]) == installed / "helpers" / "data" / "shakespeare-plays.txt.gz"
    # The same bytes as the checkout's files, hence the same plays and runs.
    assert seen["corpus"] == sha256(ROOT / "data" / "shakespeare-plays.txt.gz")
    assert seen["runs"] == sha256(ROOT / "data" / "next-word-runs.json")
    assert seen["plays"] == 37 and seen["words"] == 801_679      # data/README.md's numbers
    assert {"setup", "record_steps", "tuning", "runs"} <= set(seen["runs_keys"])


def test_the_install_holds_the_package_and_its_data_only(installed):
    top = {path.name for path in installed.iterdir()}
    assert top == {"helpers", "sgd_frequency_bias-" + version() + ".dist-info"}, top
    assert {path.name for path in (installed / "helpers" / "data").iterdir()} == DATA_FILES
    installed_files = {path.relative_to(installed).as_posix()
                       for path in installed.rglob("*") if path.is_file()}
    assert not [name for name in installed_files
                if "grader" in name or name.startswith(("exercises", "tests", "scripts"))]
    # Every module of the checkout's package, and its style file, is there.
    for path in (ROOT / "helpers").glob("*"):
        if path.suffix in (".py", ".mplstyle"):
            assert f"helpers/{path.name}" in installed_files, path.name


def version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]["version"]
