"""Build the series' static site (`make site`): build/site/index.html and one page per
notebook, from the committed notebooks and their outputs, never re-executed.

1. Copies what is published into build/site-src, laid out as in the repository (so the
   notebooks' relative links and the Binder links name the same paths): the notebooks
   notebooks/NN-*.ipynb, their copies without outputs notebooks/student/*.ipynb (downloads,
   not pages) and the students' exercises exercises/release/*/*.ipynb. Nothing else:
   exercises/source/ (solutions) and exercises/grader/ (hidden tests) never reach it.
2. Copies MathJax 3's files (site/node_modules, from `npm ci` in site/) into
   build/site-mathjax, which Sphinx serves as _static/mathjax.
3. Runs Sphinx with site/conf.py, warnings as errors.
4. Refuses the result if any file of it carries a solution or hidden-test marker.

Runs in .venv-site (the site's own environment, pyproject.toml's `site` extra)."""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
STAGE = ROOT / "build" / "site-src"
MATHJAX_STAGE = ROOT / "build" / "site-mathjax"
DOCTREES = ROOT / "build" / "site-doctrees"
# MyST-NB writes the outputs' images here first (beside the output folder; not settable).
JUPYTER_EXECUTE = ROOT / "build" / "jupyter_execute"
OUTPUT = ROOT / "build" / "site"
MATHJAX = SITE / "node_modules" / "mathjax"
# What the published site takes from the repository (globs relative to its root).
PUBLISHED = ("notebooks/[0-9][0-9]-*.ipynb", "notebooks/student/[0-9][0-9]-*.ipynb",
             "exercises/release/*/*.ipynb")
# MathJax's combined TeX-to-HTML component and what it loads on demand: its fonts, the TeX
# extensions that \require or autoload pulls in, and what its menu offers (the SVG
# renderer; the accessibility tools, whose explorer reads MathML and speaks with the speech
# rules). Not served: the other combined builds, which the site never loads.
MATHJAX_FILES = ("tex-chtml.js", "output/chtml/fonts/woff-v2", "output/svg.js", "output/svg",
                 "input/tex/extensions", "input/mml.js", "input/mml", "a11y", "ui",
                 "sre/mathmaps")
# Text that only a solution or an instructor's file contains.
SECRET_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                  "hidden_checks")


def published_files() -> list[Path]:
    """The repository's files that the site publishes, relative to its root."""
    files = sorted({path.relative_to(ROOT) for pattern in PUBLISHED
                    for path in ROOT.glob(pattern)})
    if not any(path.parts[0] == "notebooks" and path.parent.name != "student"
               for path in files):
        raise FileNotFoundError(f"no notebooks matching notebooks/NN-*.ipynb under {ROOT}")
    return files


def _sync(files: dict[Path, Path], folder: Path) -> None:
    """Make ``folder`` hold exactly ``files`` (destination relative to folder -> source).
    Unchanged files keep their time stamps, so Sphinx re-reads only what changed; a changed
    one is written now (not with its source's time, which may be older than the last
    build), so Sphinx sees it as new."""
    for relative, source in files.items():
        destination = folder / relative
        if destination.is_file() and filecmp.cmp(source, destination, shallow=False):
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    if folder.is_dir():
        for path in sorted(folder.rglob("*"), reverse=True):
            if path.is_file() and path.relative_to(folder) not in files:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()


def stage_sources() -> list[Path]:
    files = published_files()
    _sync({path: ROOT / path for path in files}, STAGE)
    return files


def stage_mathjax() -> None:
    """MathJax's files as `npm ci` installed them, checked against the lock file."""
    lock = json.loads((SITE / "package-lock.json").read_text(encoding="utf-8"))
    wanted = lock["packages"]["node_modules/mathjax"]["version"]
    manifest = MATHJAX / "package.json"
    installed = (json.loads(manifest.read_text(encoding="utf-8"))["version"]
                 if manifest.is_file() else None)
    if installed != wanted:
        raise FileNotFoundError(
            f"MathJax {wanted} (site/package-lock.json) is not installed in "
            f"site/node_modules (found: {installed}); run `npm ci` in site/ "
            f"(`make site` does)")
    files = {}
    for name in MATHJAX_FILES:
        source = MATHJAX / "es5" / name
        if not source.exists():
            raise FileNotFoundError(f"MathJax {wanted} has no es5/{name}")
        paths = [source] if source.is_file() else sorted(p for p in source.rglob("*")
                                                          if p.is_file())
        for path in paths:
            files[Path("mathjax") / path.relative_to(MATHJAX / "es5")] = path
    files[Path("mathjax") / "LICENSE"] = MATHJAX / "LICENSE"
    _sync(files, MATHJAX_STAGE)


def secrets_in(folder: Path) -> list[str]:
    """Files under folder that carry a solution or hidden-test marker, or name the
    instructors' folders."""
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if "exercises/source" in relative or "grader" in path.parts:
            found.append(f"{relative}: an instructor's path")
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        found += [f"{relative}: {marker!r}" for marker in SECRET_MARKERS if marker in text]
    return found


def build(fresh: bool = False) -> None:
    started = time.perf_counter()
    files = stage_sources()
    stage_mathjax()
    if fresh:
        for folder in (OUTPUT, DOCTREES, JUPYTER_EXECUTE):
            shutil.rmtree(folder, ignore_errors=True)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(SITE),
               "-d", str(DOCTREES), "-W", "--keep-going", "-q",
               str(STAGE), str(OUTPUT)]
    result = subprocess.run(command, cwd=ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(f"Sphinx failed (exit {result.returncode}): {' '.join(command)}")
    leaked = secrets_in(OUTPUT)
    if leaked:
        raise SystemExit("the built site carries what only instructors may see:\n  "
                         + "\n  ".join(leaked))
    pages = len(list(OUTPUT.rglob("*.html")))
    size = sum(path.stat().st_size for path in OUTPUT.rglob("*") if path.is_file())
    print(f"site: {len(files)} notebooks published, {pages} HTML files, "
          f"{size / 1e6:.1f} MB in {OUTPUT.relative_to(ROOT)}/ "
          f"({time.perf_counter() - started:.0f} s); open {OUTPUT.relative_to(ROOT)}/index.html")


def site_requirements() -> list[str]:
    """pyproject.toml's `site` extra: what .venv-site installs (the Makefile asks)."""
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]["optional-dependencies"]["site"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fresh", action="store_true",
                        help="rebuild every page (default: only what changed)")
    parser.add_argument("--requirements", action="store_true",
                        help="print the site's Python requirements (pyproject.toml's `site` "
                             "extra), one a line, and build nothing")
    args = parser.parse_args(argv)
    if args.requirements:
        print("\n".join(site_requirements()))
    else:
        build(fresh=args.fresh)


if __name__ == "__main__":
    main()
