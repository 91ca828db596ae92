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


def cells_of(path):
    return load(path)["cells"]


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if int(p.name[:2]) not in (0, 10)],
                         ids=lambda p: p.name)
def test_a_prediction_is_asked_for_before_the_cell_that_settles_it(path):
    cells = cells_of(path)
    ask = next((k for k, c in enumerate(cells) if c["cell_type"] == "markdown"
                and "**Predict first.**" in source(c)), None)
    assert ask is not None, "a **Predict first.** prompt"
    guess = next(k for k, c in enumerate(cells) if k > ask and c["cell_type"] == "code")
    assert re.search(r"^prediction = None\b", source(cells[guess]), re.M), \
        "the cell after the prompt holds `prediction = None` for the reader to fill in"
    settle = [k for k, c in enumerate(cells) if c["cell_type"] == "code"
              and "compare_prediction(prediction" in source(c)]
    assert settle and settle[0] > guess, "a later cell compares the guess with the measurement"


@pytest.mark.parametrize("path", NOTEBOOKS[1:], ids=lambda p: p.name)
def test_every_notebook_that_draws_batches_says_which_stream(path):
    text = "\n".join(source(c) for c in cells_of(path))
    draws = any(name in text for name in ("make_rng(", "sweep(", "reference_runs(", "Explorer(",
                                           "minibatch_rng("))
    if draws:
        assert "helpers/streams.py" in text or "series' stream" in text, \
            "say which random stream the notebook's seeds index"


CITATIONS = {  # who, where the idea is used (at least one notebook cites it there)
    "Kingma": "03", "Duchi": "03", "Tieleman": "03", "Balles": "03", "Goh": "07",
    "Bernstein": "08", "Kunstner": "11", "Zhang": "07", "Mnih": "13",
}


def test_the_index_lists_references_and_each_is_cited_where_it_is_used():
    index = "\n".join(source(c) for c in cells_of(NOTEBOOK_DIR / "00-index.ipynb"))
    references = index[index.index("## References"):]
    for author, number in CITATIONS.items():
        assert author in references, f"{author} missing from the index's references"
        notebook = next(p for p in NOTEBOOKS if p.name.startswith(number))
        text = "\n".join(source(c) for c in cells_of(notebook) if c["cell_type"] == "markdown")
        assert author in text, f"{author} should be cited in {notebook.name}, where it is used"


STUDENT_DIR = NOTEBOOK_DIR / "student"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_has_a_copy_without_outputs_that_links_back(path):
    # `make student-versions` writes them and tests/test_exercises.py checks they are
    # current; here: what a student working without answers relies on.
    copy = STUDENT_DIR / path.name
    assert copy.is_file(), "no copy without outputs: run `make student-versions`"
    nb = load(copy)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert [source(c) for c in code] == [source(c) for c in load(path)["cells"]
                                        if c["cell_type"] == "code"], "the same code"
    title = source(nb["cells"][0])
    assert title.startswith("# ") and f"](../{path.name})" in title, "a link back"
    text = "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    for target in re.findall(r"\]\(([^)#]+\.ipynb)\)", text):
        assert (STUDENT_DIR / target).resolve().is_file(), f"{copy.name} links to {target}"


def test_the_index_and_the_readme_reach_the_copies_in_one_click():
    index = "\n".join(source(c) for c in load(NOTEBOOK_DIR / "00-index.ipynb")["cells"])
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS[1:]:
        assert f"(student/{path.name})" in index, f"00-index does not link student/{path.name}"
    assert "(notebooks/student/00-index.ipynb)" in readme
    assert "urlpath=lab/tree/notebooks/student/00-index.ipynb" in readme


def test_compare_prediction_and_progress_print_lines_that_fit_the_column(capsys):
    from helpers import compare_prediction, progress
    from helpers.notebook_setup import PRINT_WIDTH
    compare_prediction(None, 0.1402, "thalweg's final weight at batch 1024 (mean of 40 seeds)")
    compare_prediction(0.5, 0.1402, "thalweg's final weight at batch 1024 (mean of 40 seeds), "
                       "a long description of what was measured")
    list(progress(range(60), "tuning on seeds 100 and 101"))
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= PRINT_WIDTH
    assert any("measured 0.1402." in line for line in lines)
    assert lines[-1].endswith("58, 59 - done.")
