"""What an instructor needs to adopt the series: licences, citation, changelog, and one
repository address. These files are read by people and by GitHub; the tests keep them
true to pyproject.toml and to each other."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import repository_address  # noqa: E402

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
CITATION = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
CHANGELOG = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\] — (\d{4}-\d{2}-\d{2})$", re.M)
REQUIRED = any(os.environ.get(name, "").lower() in ("1", "true", "yes")
               for name in ("BROWSER_TEST_REQUIRED", "CI"))


def test_the_code_licence_is_the_mit_licence_pyproject_names():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert PYPROJECT["license"] == "MIT"
    assert text.startswith("MIT License\n\nCopyright (c) 2026 ")
    assert "Permission is hereby granted, free of charge" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text


def test_the_text_licence_is_the_full_cc_by_4_legal_code():
    text = (ROOT / "LICENSES" / "CC-BY-4.0.txt").read_text(encoding="utf-8")
    assert text.startswith("Creative Commons Attribution 4.0 International")
    for section in range(1, 9):
        assert f"Section {section} – " in text, f"section {section} missing"


def test_readme_states_both_licences_and_what_each_covers():
    section = README.split("## Licence", 1)[1].split("\n## ", 1)[0]
    assert "[MIT licence](LICENSE)" in section and "CC BY 4.0" in section
    assert "LICENSES/CC-BY-4.0.txt" in section
    assert "data/README.md" in section          # the corpus has its own terms


def test_citation_agrees_with_pyproject_and_the_changelog():
    assert CITATION["cff-version"] == "1.2.0"
    assert CITATION["version"] == PYPROJECT["version"]
    assert sorted(CITATION["license"]) == ["CC-BY-4.0", "MIT"]
    assert CITATION["repository-code"] == PYPROJECT["urls"]["Repository"]
    newest_version, newest_date = RELEASE.search(CHANGELOG).groups()
    assert newest_version == PYPROJECT["version"], "CHANGELOG's newest release is not pyproject's"
    assert str(CITATION["date-released"]) == newest_date
    assert CITATION["title"] in README.splitlines()[0]


def test_the_changelog_lists_releases_newest_first():
    releases = [tuple(int(n) for n in v.split(".")) for v, _ in RELEASE.findall(CHANGELOG)]
    assert releases, "CHANGELOG.md has no release heading like '## [1.0.0] — 2026-11-26'"
    assert releases == sorted(releases, reverse=True)
    assert "## [Unreleased]" in CHANGELOG.split(RELEASE.search(CHANGELOG).group(0))[0]


def _cffconvert() -> str | None:
    for candidate in (ROOT / ".venv-site" / "bin" / "cffconvert", shutil.which("cffconvert")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return None


def test_citation_is_valid_against_the_cff_schema():
    tool = _cffconvert()
    if tool is None:
        message = "cffconvert not found (it is in the site's environment: `make site`)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run([tool, "--validate", "-i", str(ROOT / "CITATION.cff")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid according to schema version 1.2.0" in result.stdout


def test_every_file_names_the_one_repository_address():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "repository_address.py"),
                             "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    name = repository_address.configured_name()
    for relative in repository_address.FILES:
        assert name in (ROOT / relative).read_text(encoding="utf-8"), relative
    assert "pyproject.toml" in README and "make repository-address" in README


def test_the_address_is_rewritten_everywhere_it_is_linked():
    text = ("[b](https://mybinder.org/v2/gh/OWNER/REPO/HEAD?urlpath=lab/tree/x.ipynb) "
            "<https://github.com/OWNER/REPO/tree/v1.0.0>\nrepository-code: "
            "\"https://github.com/OWNER/REPO\"\n")
    rewritten = repository_address.rewrite(text, "someone/sgd-series")
    assert repository_address.stated_names(text) == {"OWNER/REPO"}
    assert repository_address.stated_names(rewritten) == {"someone/sgd-series"}
    assert "v2/gh/someone/sgd-series/HEAD?urlpath" in rewritten
    assert "\"https://github.com/someone/sgd-series\"" in rewritten


def test_a_malformed_address_in_pyproject_is_refused(tmp_path):
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\nname = "x"\n[project.urls]\nRepository = "gitlab.com/a/b"\n')
    with pytest.raises(ValueError, match="Repository is 'gitlab.com/a/b'"):
        repository_address.configured_name(bad)
