"""The series in a real browser: JupyterLab in headless Chromium, driven by Playwright.

Every notebook is opened and run top to bottom as a student would (Run All); no cell may
show an error, widgets must render (never "Error displaying widget"), and the browser
console must stay free of errors. In the explorer (10) a slider is moved with the
keyboard and the image and the readout must change. Screenshots go to
``build/browser/`` (an artifact for CI).

JupyterLab is started as `make lab` starts it (scripts/lab.py: the repository's root,
opening the index, no news pop-up), on 127.0.0.1, a free port, a random token, a
temporary home and a copy of what `make lab` serves, laid out as in the repository (so
the browser's autosave never touches the committed files). The index's links, and those
of its copy without outputs, are followed there. JupyterLab is shut down, kernels
included, even when the test fails.

Needs Chromium (Debian's ``chromium`` at /usr/bin/chromium, or BROWSER_TEST_CHROMIUM)
and Playwright for Python (in the test extra). On a machine without them the test is
skipped with a message; in CI (.ci/run sets BROWSER_TEST_REQUIRED=1) it fails instead,
because CI must run it."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from chromium import CHROMIUM, launched, record_console_errors

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import lab  # noqa: E402  (scripts/lab.py: how `make lab` starts JupyterLab)

# Besides the notebooks, student copies and exercises: the files the index and README
# point readers to, so that links to them resolve in the copy as in the repository.
SERVED_FILES = ("README.md", "INSTRUCTORS.md", "CONTRIBUTING.md", "LICENSE",
                "data/README.md")
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
ARTIFACTS = ROOT / "build" / "browser"
# .ci/run sets BROWSER_TEST_REQUIRED; many CI services set CI=true.
REQUIRED = any(os.environ.get(name, "").lower() in ("1", "true", "yes")
               for name in ("BROWSER_TEST_REQUIRED", "CI"))
HOW_TO_ENABLE = ("to run it: install Chromium (Debian/Ubuntu: `sudo apt-get install chromium`; "
                 "or point BROWSER_TEST_CHROMIUM at a Chromium binary) and Playwright "
                 "(`pip install -e '.[test]'`, which `make test` does)")
CELL_TIMEOUT_MS = 120_000
# The open notebook's kernel, through the application object JupyterLab exposes.
KERNEL_IDLE = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
                   && panel.sessionContext.session.kernel;
    return !!kernel && kernel.status === 'idle';
}"""


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM}"
    return None


def _served_copy(root: Path) -> Path:
    """A copy of what `make lab` serves, laid out as in the repository (the browser's
    autosave then never touches the committed files). The series' notebooks lose their
    outputs and execution counts: what the page shows is then what the browser's own run
    produced, and "every cell has a count" means "all ran"."""
    for relative in SERVED_FILES:
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / relative, target)
    shutil.copytree(ROOT / "notebooks" / "student", root / "notebooks" / "student")
    shutil.copytree(ROOT / "exercises" / "release", root / "exercises" / "release")
    for notebook in NOTEBOOKS:
        content = json.loads(notebook.read_text(encoding="utf-8"))
        for cell in content["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], None
        (root / "notebooks" / notebook.name).write_text(json.dumps(content), encoding="utf-8")
    return root


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, timeout: float = 2.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    missing = _missing()
    if missing:
        if REQUIRED:
            pytest.fail(f"the browser test must run in CI, but {missing}; {HOW_TO_ENABLE}")
        pytest.skip(f"browser test skipped: {missing}; {HOW_TO_ENABLE}")
    home = tmp_path_factory.mktemp("jupyter-home")
    root = _served_copy(tmp_path_factory.mktemp("series"))
    # The same defaults `make lab` writes into the environment (no news pop-up).
    lab.write_settings()
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTER_PLATFORM_DIRS="1")
    # `make lab`'s own command line (scripts/lab.py), on a free port with a known token.
    command = lab.lab_command(root, "--no-browser", f"--port={port}", "--port-retries=0",
                              f"--IdentityProvider.token={token}",
                              "--LabApp.expose_app_in_browser=True",
                              "--ServerApp.open_browser=False")
    log = open(home / "jupyterlab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"{base}/api/status?token={token}")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                log = (home / "jupyterlab.log").read_text()[-3000:]
                pytest.fail("JupyterLab did not start:\n" + log)
            time.sleep(0.3)
        yield {"base": base, "token": token, "log": home / "jupyterlab.log"}
    finally:
        _shut_down(server, base, token)
        log.close()


def _shut_down(server, base, token):
    """Kernels first (through the API), then the server; killed if it will not stop."""
    try:
        _, body = _get(f"{base}/api/kernels?token={token}")
        for kernel in json.loads(body):
            request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}?token={token}",
                                             method="DELETE")
            urllib.request.urlopen(request, timeout=10).close()
    except OSError:
        pass
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(jupyterlab):
    with launched() as chromium:
        yield chromium


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    record_console_errors(page)
    try:
        yield page
    finally:
        context.close()


def _open_and_run_all(page, jupyterlab, name: str) -> None:
    # ?reset: a fresh workspace, so no notebook of an earlier test is restored beside it.
    page.goto(f"{jupyterlab['base']}/lab/tree/{name}?reset&token={jupyterlab['token']}")
    page.wait_for_function("(name) => { const w = window.jupyterapp && "
                           "window.jupyterapp.shell.currentWidget; return !!w && !!w.context "
                           "&& w.context.path === name && !!w.node.querySelector('.jp-Cell'); }",
                           arg=name, timeout=60_000)
    # The kernel must be ready before Run All, or the first cells wait in a queue.
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    # Done when every code cell shows an execution count: "[12]:", not "[*]:" or "[ ]:".
    page.wait_for_function(r"""() => {
        const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
        return prompts.length > 0 && prompts.every(p => /\[\d+\]/.test(p.textContent));
    }""", timeout=CELL_TIMEOUT_MS)
    page.wait_for_function(KERNEL_IDLE, timeout=CELL_TIMEOUT_MS)


def _problems(page) -> list[str]:
    problems = []
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    for i in range(errors.count()):
        problems.append("a cell shows an error or stderr: " + errors.nth(i).inner_text()[:500])
    if page.get_by_text("Error displaying widget").count():
        problems.append("a widget failed to render: 'Error displaying widget'")
    problems += [f"browser console: {text[:300]}" for text in page.console_errors]
    return problems


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_jupyterlab_without_errors(jupyterlab, page, notebook):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        _open_and_run_all(page, jupyterlab, f"notebooks/{notebook.name}")
        figures = page.locator(".jp-OutputArea-output img").count()
        assert _problems(page) == []
        source = notebook.read_text(encoding="utf-8")
        if '"image/png"' in source:
            assert figures > 0, "the notebook draws figures, but none rendered in the browser"
    finally:
        page.screenshot(path=str(ARTIFACTS / f"{notebook.stem}.png"), full_page=False)


def test_explorer_slider_changes_the_image_and_the_readout(jupyterlab, page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        _open_and_run_all(page, jupyterlab, "notebooks/10-explorer.ipynb")
        widget = page.locator(".jp-OutputArea-output .widget-vbox").first
        widget.wait_for(timeout=30_000)
        image = widget.locator(".widget-image").first
        readout = widget.locator(".widget-html").first
        image.wait_for(timeout=30_000)
        # The readout was set by the last cell that moved the explorer; reset first so
        # that the slider starts from the reference.
        widget.get_by_role("button", name="Reset to the reference").click()
        page.wait_for_function("(el) => el.textContent.includes('(3,000 steps)')",
                               arg=readout.element_handle(), timeout=30_000)
        source_before = image.get_attribute("src")
        text_before = readout.inner_text()
        handle = widget.locator(".widget-slider .noUi-handle").first   # the learning rate
        handle.focus()
        for _ in range(6):
            handle.press("ArrowRight")
        page.wait_for_function("([el, before]) => el.getAttribute('src') !== before",
                               arg=[image.element_handle(), source_before], timeout=30_000)
        page.wait_for_function("([el, before]) => el.textContent !== before",
                               arg=[readout.element_handle(), text_before], timeout=30_000)
        text_after = readout.inner_text()
        assert re.search(r"thalweg \(p = 0\.001\) reaches 0\.5", text_after), text_after
        assert _problems(page) == []
    finally:
        if page.locator(".widget-image").count():
            page.locator(".widget-image").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "10-explorer-slider.png"), full_page=False)


# The index's links as JupyterLab renders them: it resolves a relative link against the
# notebook's folder into `<server>/files/<path from the served root>?…`, and opens that
# path in the application when the link is clicked.
LINK_PATHS = r"""(base) => [...document.querySelectorAll('.jp-RenderedMarkdown a[href]')]
    .map(a => a.href).filter(h => h.startsWith(base + '/files/'))
    .map(h => decodeURIComponent(h.slice(base.length + '/files/'.length).split(/[?#]/)[0]))"""


@pytest.mark.parametrize("index", ["notebooks/00-index.ipynb",
                                   "notebooks/student/00-index.ipynb"])
def test_the_index_opens_first_and_every_link_resolves(jupyterlab, page, index):
    """`make lab`'s first page is the index; each of its links opens a file that exists
    where `make lab` serves the series (the exercises' `../exercises/…` included), and no
    news pop-up covers the page."""
    base, token = jupyterlab["base"], jupyterlab["token"]
    try:
        if index == "notebooks/00-index.ipynb":
            page.goto(f"{base}/?reset&token={token}")         # the server's default page
        else:
            page.goto(f"{base}/lab/tree/{index}?reset&token={token}")
        page.wait_for_function("(name) => { const w = window.jupyterapp && "
                               "window.jupyterapp.shell.currentWidget; return !!w && "
                               "!!w.context && w.context.path === name && "
                               "!!w.node.querySelector('.jp-RenderedMarkdown a'); }",
                               arg=index, timeout=60_000)
        # Markdown cells render as the notebook settles: wait for the index's links.
        page.wait_for_function(f"(base) => ({LINK_PATHS})(base).length >= 14", arg=base,
                               timeout=60_000)
        targets = sorted(set(page.evaluate(LINK_PATHS, base)))
        assert len(targets) >= 14, f"too few links found in {index}: {targets}"
        missing = []
        for target in targets:
            try:
                status, _ = _get(f"{base}/api/contents/{target}?content=0&token={token}")
            except OSError as error:
                status = getattr(error, "code", error)
            if status != 200:
                missing.append(f"{target}: {status}")
        assert missing == [], f"links in {index} that do not resolve: {missing}"
        exercises = [t for t in targets if t.startswith("exercises/release/")]
        if index == "notebooks/00-index.ipynb":
            assert len(exercises) == 4, f"the index should link the four exercises: {targets}"
        # Clicking a link opens the file inside JupyterLab (not a 404 page).
        if exercises:
            page.locator(".jp-RenderedMarkdown a[href*='ex1-adam-update']").first.click()
            page.wait_for_function("(name) => { const w = window.jupyterapp.shell"
                                   ".currentWidget; return !!w && !!w.context && "
                                   "w.context.path === name; }", arg=exercises[0],
                                   timeout=60_000)
        assert page.get_by_text("receive official Jupyter news").count() == 0
        assert _problems(page) == []
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"index-links-{index.count('/')}.png"))
