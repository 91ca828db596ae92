"""scripts/nbgrader_run.py sorts nbgrader's log: expected lines are counted, failures
make `make nbgrader` exit 1 (even where nbgrader itself exits 0), the rest is shown.
Here on log lines as nbgrader 0.9 writes them, without nbgrader; the instructor tests
(tests/test_nbgrader.py) run it on nbgrader itself."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import nbgrader_run  # noqa: E402

HIDDEN = {"ex1-adam-moments-tests"}


def test_hidden_test_cells_are_read_from_the_sources(tmp_path):
    (tmp_path / "source").symlink_to(ROOT / "exercises" / "source")
    cells = nbgrader_run.hidden_test_cells(tmp_path)
    assert {"ex1-adam-moments-tests", "ex3-adagrad-pure-tests", "ex4-loss-tests"} <= cells
    assert "ex2-stability-tests" not in cells          # a check cell without hidden tests


def test_expected_lines_are_counted():
    log = ["[AutogradeApp | INFO] Converting notebook x.ipynb",
           "[AutogradeApp | WARNING] Attribute 'checksum' for cell ex1-adam-moments-tests has "
           "changed! (should be: 1, got: 2)",
           "[CollectApp | WARNING] ",
           "    /x/exchange/inbound/bob+ex1 claims to be submitted by bob but is owned by root; "
           "cheating attempt?",
           "    you may disable this warning by unsetting the option CollectApp.check_owner"]
    expected, failures, others = nbgrader_run.classify(log, HIDDEN)
    assert failures == [] and others == []
    assert sum(expected.values()) == 2


def test_errors_and_silent_failures_fail():
    log = ["[AutogradeApp | ERROR] There was an error processing assignment 'ex1' for "
           "student 'bob'",
           "[SubmitApp | WARNING] Possible missing notebooks and/or extra notebooks submitted "
           "for assignment ex1:",
           "[CollectApp | WARNING] No submissions of 'ex9' for course 'c' to collect",
           "[AutogradeApp | WARNING] Skipping unknown notebook: /x/renamed.ipynb"]
    _, failures, _ = nbgrader_run.classify(log, HIDDEN)
    assert len(failures) == 4
    assert failures[0].startswith("ERROR")


def test_a_checksum_change_on_a_cell_without_hidden_tests_is_shown():
    log = ["[AutogradeApp | WARNING] Attribute 'checksum' for cell ex2-stability-tests has "
           "changed! (should be: 1, got: 2)",
           "[AutogradeApp | WARNING] Something nbgrader has never said before"]
    expected, failures, others = nbgrader_run.classify(log, HIDDEN)
    assert not expected and not failures
    assert "locked cell was edited" in others[0] and "never said" in others[1]


def test_a_folder_without_a_course_is_refused(tmp_path, capsys):
    assert nbgrader_run.main([str(tmp_path), "autograde", "ex1-adam-update"]) == 2
    assert "make course" in capsys.readouterr().err
    assert nbgrader_run.main([str(tmp_path)]) == 2
