"""The shape every notebook of the series promises: name, goals, set-up cell, summary,
links that resolve, committed outputs from a clean top-to-bottom run."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell):
    return "".join(cell["source"])


def test_series_is_numbered_from_the_index():
    names = [p.name for p in NOTEBOOKS]
    assert names[0] == "00-index.ipynb"
    numbers = [int(n[:2]) for n in names]
    assert numbers == list(range(len(names))), names
    for name in names:
        assert re.fullmatch(r"\d\d-[a-z0-9]+(-[a-z0-9]+)*\.ipynb", name), name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_opening_and_closing(path):
    cells = load(path)["cells"]
    assert cells[0]["cell_type"] == "markdown" and source(cells[0]).startswith("# ")
    if path.name != "00-index.ipynb":
        assert "**You will learn to**" in source(cells[0]), "learning goals at the top"
    first_code = next(c for c in cells if c["cell_type"] == "code")
    assert "setup_notebook()" in source(first_code), "first code cell sets up style and seed"
    markdown = [source(c) for c in cells if c["cell_type"] == "markdown"]
    assert any(m.lstrip().startswith("## Summary") or "\n## Summary" in m for m in markdown[-3:])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_links_resolve_and_neighbours_are_linked(path):
    text = "\n".join(source(c) for c in load(path)["cells"] if c["cell_type"] == "markdown")
    targets = re.findall(r"\]\(([^)#]+\.ipynb)\)", text)
    for target in targets:
        assert (NOTEBOOK_DIR / target).is_file(), f"{path.name} links to missing {target}"
    index = NOTEBOOKS.index(path)
    if index > 0:
        assert NOTEBOOKS[index - 1].name in targets, "link to the previous notebook"
    if index + 1 < len(NOTEBOOKS):
        assert NOTEBOOKS[index + 1].name in targets, "link to the next notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_outputs_come_from_a_clean_run(path):
    nb = load(path)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    for cell in code:
        for output in cell["outputs"]:
            assert output["output_type"] != "error", source(cell)[:80]
            assert output.get("name") != "stderr", f"stderr in {path.name}: {output.get('text')}"
    assert "widgets" not in nb["metadata"], "strip widget state (make notebooks does)"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_index_and_readme_list_every_notebook():
    index = "\n".join(source(c) for c in load(NOTEBOOK_DIR / "00-index.ipynb")["cells"])
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS[1:]:
        assert f"({path.name})" in index, f"00-index does not link {path.name}"
        assert f"(notebooks/{path.name})" in readme, f"README does not link {path.name}"
    assert "urlpath=lab/tree/notebooks/00-index.ipynb" in readme
