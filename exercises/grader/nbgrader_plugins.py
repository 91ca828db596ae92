"""nbgrader plugins of this course (instructor-only). `make course` copies this folder to
``<course>/grader/`` and its ``nbgrader_config.py`` puts that folder on ``sys.path`` and
grades with ``GradingExecute`` in place of nbgrader's ``Execute``.

``GradingExecute`` is nbgrader's ``Execute`` with three changes, so that one bad cell
costs that cell and not the whole submission:

- the kernel starts with ``grading_kernel_startup.py``, which makes ``exit()`` and
  ``quit()`` raise an error in their cell instead of ending the kernel;
- when the kernel dies in a cell (``os._exit``, a segfault, a killed process), or a cell
  runs past the time-out and cannot be interrupted, the notebook is run again in a fresh
  kernel without that cell, which gets an error output instead (0 points if it is
  graded); at most ``max_crashes`` times, after which that cell and the ones after it are
  left unrun; nbgrader then grades every cell and writes feedback as usual (without this,
  nbgrader drops the whole submission: "Removing failed assignment");
- a cell that times out, or ends the kernel, is logged as a WARNING in a fixed form that
  ``scripts/nbgrader_run.py`` reads to name the student, e.g. ``STUDENT-LEVEL: student
  'alice', assignment 'ex1-adam-update': cell 'ex1-run' timed out after 120 s; …``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer

STARTUP_FILE = Path(__file__).resolve().with_name("grading_kernel_startup.py")
MARK = "STUDENT-LEVEL"


def cell_name(cell, index: int) -> str:
    """How the log names a cell: its grade_id, or its position when it has none (a cell the
    student added)."""
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return f"cell '{grade_id}'" if grade_id else f"cell #{index + 1} (no grade_id)"


def error_output(ename: str, text: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=text,
                        traceback=[f"{ename}: {text}"])


class GradingExecute(Execute):
    """nbgrader's Execute that survives exit(), a crash and a time-out in one cell."""

    max_crashes = Integer(3, help="How many times a notebook may end the kernel (each time "
                                  "it is run again without that cell) before the rest of it "
                                  "is left unrun.").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        if not any(arg.startswith("--IPKernelApp.exec_files") for arg in self.extra_arguments):
            self.extra_arguments = [*self.extra_arguments,
                                    f"--IPKernelApp.exec_files={json.dumps([str(STARTUP_FILE)])}"]
        original = copy.deepcopy(nb)
        self._not_run: dict[int, tuple[str, str]] = {}    # cell index -> (ename, text)
        crashes = 0
        while True:
            self._index = None
            try:
                return super().preprocess(nb, resources, km)
            except (DeadKernelError, CellTimeoutError) as error:
                index = self._index                # the cell running when the kernel died
                if index is None:                  # died before any cell: nbgrader's error
                    raise
                cell = nb.cells[index]
                crashes += 1
                if isinstance(error, CellTimeoutError):
                    what = (f"ran past the {self.timeout} s time-out and could not be "
                            f"interrupted")
                else:
                    what = "ended the kernel (os._exit, a crash, or a killed process)"
                if crashes > self.max_crashes:
                    # Keep this run's outputs up to the cell; leave it and the rest unrun.
                    later = [i for i in range(index, len(nb.cells))
                             if nb.cells[i].cell_type == "code"]
                    for i in later:
                        text = (f"this cell {what} (the notebook ended the kernel "
                                f"{crashes} times)" if i == index else
                                f"a cell above this one ended the kernel {crashes} times")
                        nb.cells[i].outputs = [error_output(
                            "CellNotRun", f"{text}; so that the cells before it could be "
                                          f"graded, this cell and the ones after it were not "
                                          f"run, and they score 0 if graded")]
                        nb.cells[i].execution_count = None
                    self._warn(resources, f"{cell_name(cell, index)} {what} (the kernel "
                                          f"ended {crashes} times in this notebook); it and "
                                          f"the {len(later) - 1} code cells after it were "
                                          f"not run (0 points if graded), the cells before "
                                          f"it were graded")
                    return nb, self.resources
                self._not_run[index] = ("CellNotRun", (
                    f"this cell {what}; to grade the rest of the notebook it was not run "
                    f"again, and it scores 0 if it is graded"))
                self._warn(resources, f"{cell_name(cell, index)} {what}; the notebook was "
                                      f"run again without it (it scores 0 if graded), the "
                                      f"other cells were graded")
                nb = copy.deepcopy(original)

    def preprocess_cell(self, cell, resources, index):
        if index in self._not_run:
            cell.outputs = [error_output(*self._not_run[index])]
            cell.execution_count = None
            return cell, self.resources
        self._index = index
        return super().preprocess_cell(cell, resources, index)

    async def _async_handle_timeout(self, timeout, cell=None):
        if cell is not None and self._index is not None:
            text = (f"this cell ran longer than the {timeout} s time-out and was interrupted; "
                    f"it scores 0 if it is graded")
            self.error_on_timeout = {"ename": "CellTimeoutError", "evalue": text,
                                     "traceback": [f"CellTimeoutError: {text}"]}
            self._warn(self.resources, f"{cell_name(cell, self._index)} timed out after "
                                       f"{timeout} s; it was interrupted (0 points if graded), "
                                       f"the other cells were graded")
        return await super()._async_handle_timeout(timeout, cell)

    def _warn(self, resources, text: str) -> None:
        about = (resources or {}).get("nbgrader", {})
        self.log.warning("%s: student '%s', assignment '%s': %s", MARK,
                         about.get("student", "?"), about.get("assignment", "?"), text)
