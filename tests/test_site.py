"""The static site (`make test-site`): built from the committed notebooks, then every page
opened in headless Chromium, served from 127.0.0.1 as a campus web server would.

Per page: no console error; no request to another host (each is blocked and recorded:
the site must read offline); every link within the site answers 200 and every anchor it
names exists; every image has alt text and loads, and each figure's is the one its
notebook stores; all math is typeset by the site's own MathJax, with no TeX error;
notebook pages link to Binder and to their .ipynb; and axe-core, under its WCAG 2.1 A and
AA rules, finds nothing serious or critical (on two pages also in dark mode and at a
phone's width). Besides: the site has exactly one page per notebook and exercise (the
copies without outputs are downloads, not pages), search finds a page, and nothing of
the solutions or of the hidden tests is anywhere in it. The findings of every page,
minor ones included, go to build/site-report/report.json.

Needs the site's environment (.venv-site: `make test-site` creates it, and the npm
packages in site/node_modules), Chromium (Debian's, /usr/bin/chromium, or
BROWSER_TEST_CHROMIUM) and Playwright. Where they are missing the test is skipped with a
message; with SITE_TEST_REQUIRED, BROWSER_TEST_REQUIRED or CI set it fails instead. A
missing .venv-site fails only with SITE_TEST_REQUIRED: `make test`, which does not
create it, collects this file too."""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import pytest
from chromium import CHROMIUM, launched, record_console_errors

ROOT = Path(__file__).resolve().parents[1]
SITE_VENV_PYTHON = ROOT / ".venv-site" / "bin" / "python"
OUTPUT = ROOT / "build" / "site"
REPORT = ROOT / "build" / "site-report" / "report.json"
AXE = ROOT / "site" / "node_modules" / "axe-core" / "axe.min.js"
MATHJAX = ROOT / "site" / "node_modules" / "mathjax" / "package.json"


def _set(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


SITE_REQUIRED = _set("SITE_TEST_REQUIRED")
REQUIRED = SITE_REQUIRED or _set("BROWSER_TEST_REQUIRED") or _set("CI")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = {"serious", "critical"}
SECRET_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                  "hidden_checks")

NOTEBOOKS = sorted(p.relative_to(ROOT).with_suffix("").as_posix()
                   for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
EXERCISES = sorted(p.relative_to(ROOT).with_suffix("").as_posix()
                   for p in (ROOT / "exercises" / "release").glob("*/*.ipynb"))
# Every HTML file the site should have: a page per notebook and exercise, Sphinx's search
# and index pages, and index.html (a redirect to the series' index).
PAGES = [f"{name}.html" for name in NOTEBOOKS + EXERCISES] + ["search.html", "genindex.html"]


def _repository() -> str:
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]["urls"]["Repository"].rstrip("/")


def _skip_or_fail(missing: str | None) -> None:
    if missing:
        if REQUIRED:
            pytest.fail(f"the site test must run here, but {missing}")
        pytest.skip(f"site test skipped: {missing}")


def _missing_for_the_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (`pip install -e '.[test]'`)"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return (f"no Chromium at {CHROMIUM} (Debian/Ubuntu: `sudo apt-get install chromium`, "
                f"or point BROWSER_TEST_CHROMIUM at one)")
    if not AXE.is_file():
        return f"no axe-core at {AXE.relative_to(ROOT)} (run `npm ci` in site/; `make site` does)"
    return None


@pytest.fixture(scope="module")
def site():
    """Build the site from the current notebooks (incremental: only what changed)."""
    if not SITE_VENV_PYTHON.is_file():
        message = ("the site's environment .venv-site is missing: run `make test-site`, "
                   "which creates it")
        if SITE_REQUIRED:
            pytest.fail(message)
        pytest.skip(f"site test skipped: {message}")
    if not MATHJAX.is_file():
        _skip_or_fail("MathJax is not installed in site/node_modules: `make test-site` runs "
                      "`npm ci` there" + ("" if shutil.which("npm") else
                                          " (npm is missing: `sudo apt-get install npm`)"))
    started = time.perf_counter()
    built = subprocess.run([str(SITE_VENV_PYTHON), str(ROOT / "scripts" / "build_site.py")],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, f"the site did not build:\n{built.stdout}\n{built.stderr}"
    print(built.stdout.strip(), f"(build step of the test: {time.perf_counter() - started:.0f} s)")
    return OUTPUT


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # quiet: the test reports its own findings
        pass


@pytest.fixture(scope="module")
def server(site):
    """The built site over HTTP on 127.0.0.1, on a free port, stopped after the module."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def report():
    """Findings per page, written to build/site-report/report.json after the module."""
    findings: dict[str, dict] = {}
    yield findings
    if findings:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps({"axe_tags": AXE_TAGS, "pages": findings}, indent=1,
                                     sort_keys=True), encoding="utf-8")


@pytest.fixture(scope="module")
def browser(server):
    _skip_or_fail(_missing_for_the_browser())
    with launched() as chromium:
        yield chromium


@pytest.fixture
def page(browser, server):
    """A page whose console errors and requests to other hosts are recorded; those
    requests are blocked, as behind a firewall."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    origin = urlsplit(server).netloc
    page = context.new_page()
    page.other_hosts = []
    record_console_errors(page)

    def only_this_host(route):
        if urlsplit(route.request.url).netloc == origin:
            route.continue_()
        else:
            page.other_hosts.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_host)
    try:
        yield page
    finally:
        context.close()


@functools.cache
def _fetch(url: str) -> tuple[int, str]:
    """Status and (for HTML) text of a URL of the local server; cached across pages."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read()
            kind = response.headers.get_content_type()
            return response.status, body.decode("utf-8", "replace") if kind == "text/html" else ""
    except urllib.error.HTTPError as error:
        return error.code, ""


def _ids(text: str) -> set[str]:
    return {html.unescape(m) for m in re.findall(r"""\bid=["']([^"']+)["']""", text)}


def _broken_links(page, server: str) -> list[str]:
    """Links to the site itself that do not answer 200, or name an anchor that is absent."""
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    here = urldefrag(page.url)[0]
    here_ids = set(page.eval_on_selector_all("[id]", "nodes => nodes.map(n => n.id)"))
    broken = []
    for href in sorted(set(hrefs)):
        if not href.startswith(server):
            continue
        target, fragment = urldefrag(href)
        status, text = _fetch(target)
        if status != 200:
            broken.append(f"{href}: HTTP {status}")
            continue
        fragment = unquote(fragment)
        if fragment and fragment not in (here_ids if target == here else _ids(text)):
            broken.append(f"{href}: no element with id {fragment!r}")
    return broken


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""(tags) => axe.run(document, {
        runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})""", AXE_TAGS)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [{"target": n["target"], "html": n["html"][:300]} for n in v["nodes"]]}
            for v in result["violations"]]


def _stored_alt_texts(notebook: Path) -> list[str]:
    """The alt text of each PNG output, in order, as the notebook stores it."""
    content = json.loads(notebook.read_text(encoding="utf-8"))
    return [output.get("metadata", {}).get("image/png", {}).get("alt", "")
            for cell in content["cells"] for output in cell.get("outputs", [])
            if "image/png" in output.get("data", {})]


def _wait_for_math(page) -> None:
    """Until MathJax has typeset the page (its startup promise resolves), where it loads."""
    if not page.locator("script[src*='mathjax/']").count():
        return
    page.wait_for_function("() => !!(window.MathJax && MathJax.startup && "
                           "MathJax.startup.promise)", timeout=30_000)
    page.evaluate("() => MathJax.startup.promise.then(() => true)")


def test_the_site_has_a_page_for_each_notebook_and_exercise_and_no_other(site):
    # (_static holds the themes' template macros as .html files: not pages.)
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                   if p.relative_to(site).parts[0] != "_static")
    assert pages == sorted(PAGES + ["index.html"])
    # The series' index is the landing page.
    assert "notebooks/00-index.html" in (site / "index.html").read_text(encoding="utf-8")


def test_every_page_states_both_licences(site):
    """README's two licences, on every page of the site: CC BY 4.0 for the text and
    figures, MIT for the code (the theme's copyright line alone would say neither)."""
    pages = sorted(p for p in site.rglob("*.html") if "_static" not in p.parts)
    missing = [p.relative_to(site).as_posix() for p in pages
               if p.name != "index.html" and not all(
                   words in p.read_text(encoding="utf-8")
                   for words in ("creativecommons.org/licenses/by/4.0/\">CC BY 4.0</a>",
                                 "Text and figures", "MIT licence</a>"))]
    assert pages and missing == []


def test_no_solution_or_hidden_test_is_published(site):
    leaks = []
    for path in sorted(site.rglob("*")):
        relative = path.relative_to(site).as_posix()
        if "exercises/source" in relative or "grader" in path.parts:
            leaks.append(f"{relative}: an instructor's path")
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            leaks += [f"{relative}: {marker!r}" for marker in SECRET_MARKERS if marker in text]
    assert leaks == []
    # The check can fail: the exercise sources do carry the markers.
    sources = "".join(p.read_text(encoding="utf-8")
                      for p in (ROOT / "exercises" / "source").glob("*/*.ipynb"))
    assert all(marker in sources for marker in SECRET_MARKERS[:2])


def test_the_student_copies_are_downloads_not_pages(site):
    index = (site / "notebooks" / "00-index.html").read_text(encoding="utf-8")
    downloads = set(re.findall(r'href="\.\./_downloads/\w+/(\d\d-[^"/]+\.ipynb)"', index))
    # The index's table links each notebook after itself to its copy without outputs.
    expected = {f"{Path(name).name}.ipynb" for name in NOTEBOOKS
                if not Path(name).name.startswith("00-")}
    assert downloads == expected
    for name in downloads:
        copy = next((site / "_downloads").glob(f"*/{name}"))
        assert copy.read_bytes() == (ROOT / "notebooks" / "student" / name).read_bytes()


@pytest.mark.parametrize("name", PAGES)
def test_page_reads_offline_without_errors_and_is_accessible(site, server, page, report, name):
    started = time.perf_counter()
    page.goto(urljoin(server, name), wait_until="load")
    _wait_for_math(page)
    findings = report.setdefault(name, {})
    problems = []

    images = page.eval_on_selector_all("img", """images => images.map(i => ({
        src: i.getAttribute('src'), alt: (i.getAttribute('alt') || '').trim(),
        loaded: i.complete && i.naturalWidth > 0}))""")
    problems += [f"an image without alt text: {i['src']}" for i in images if not i["alt"]]
    problems += [f"an image that did not load: {i['src']}" for i in images if not i["loaded"]]

    findings["math"] = page.locator(".math").count()
    untypeset = page.locator(".math:not(:has(mjx-container))")
    problems += [f"math left as TeX: {untypeset.nth(i).inner_text()[:80]}"
                 for i in range(min(untypeset.count(), 5))]
    problems += [f"a TeX error: {page.locator('mjx-merror').nth(i).inner_text()}"
                 for i in range(page.locator("mjx-merror").count())]

    notebook = name.removesuffix(".html")
    if notebook in NOTEBOOKS + EXERCISES:
        # Each figure says what the notebook stored for it (helpers.plotting.show_figure).
        shown = page.eval_on_selector_all(".cell_output img", "images => images.map(i => i.alt)")
        if shown != _stored_alt_texts(ROOT / f"{notebook}.ipynb"):
            problems.append(f"the figures' alt texts {shown} are not those the notebook stores")
        # On a 1280 px window each figure shows at the width it was drawn for (at most 850
        # CSS px, where its smallest text is 9 px), not scaled down by the page's columns.
        sizes = page.eval_on_selector_all(".cell_output img[width]", """images => images.map(
            i => [Number(i.getAttribute('width')), i.getBoundingClientRect().width])""")
        problems += [f"a figure drawn {drawn} px wide shows {shown_px:.0f} px wide"
                     for drawn, shown_px in sizes if shown_px < min(drawn, 850) - 1]
        binder = (f"https://mybinder.org/v2/gh/{_repository().removeprefix('https://github.com/')}"
                  f"/HEAD?urlpath=lab/tree/{notebook}.ipynb")
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        if binder not in hrefs:
            problems.append(f"no Binder link {binder}")
        if urljoin(server, f"_sources/{notebook}.ipynb") not in hrefs:
            problems.append(f"no download link to _sources/{notebook}.ipynb")

    broken = _broken_links(page, server)
    violations = _axe(page)
    findings.update(images=len(images), broken_links=broken, axe_violations=violations,
                    console_errors=page.console_errors, other_hosts=page.other_hosts,
                    seconds=round(time.perf_counter() - started, 2))
    problems += [f"broken link: {b}" for b in broken]
    problems += [f"request to another host: {url}" for url in page.other_hosts]
    problems += [f"browser console: {text[:300]}" for text in page.console_errors]
    problems += [f"axe {v['impact']} {v['id']} ({v['help']}): {len(v['nodes'])} nodes, e.g. "
                 f"{v['nodes'][0]['target']}" for v in violations
                 if v["impact"] in BLOCKING_IMPACTS]
    assert problems == []


@pytest.mark.parametrize("name", ["notebooks/00-index.html", "notebooks/08-inside-adam.html"])
def test_dark_mode_and_a_phone_screen_are_accessible_too(site, server, browser, report, name):
    """Two pages (the landing page, a page dense with math and figures) as a reader whose
    system asks for dark colours, and on a phone's width."""
    problems = []
    for scheme, width in (("dark", 1280), ("light", 390)):
        context = browser.new_context(viewport={"width": width, "height": 850},
                                      color_scheme=scheme)
        try:
            page = context.new_page()
            page.goto(urljoin(server, name), wait_until="load")
            _wait_for_math(page)
            violations = _axe(page)
        finally:
            context.close()
        report.setdefault(f"{name} ({scheme}, {width} px)", {})["axe_violations"] = violations
        problems += [f"{scheme}, {width} px: axe {v['impact']} {v['id']} ({v['help']}): "
                     f"{v['nodes'][0]['target']}" for v in violations
                     if v["impact"] in BLOCKING_IMPACTS]
    assert problems == []


def test_index_html_leads_to_the_series_index(server, page):
    page.goto(server)
    page.wait_for_url("**/notebooks/00-index.html", timeout=10_000)
    assert page.get_by_role("heading", level=1).first.inner_text().startswith("SGD")


def test_search_finds_the_notebook_on_adam(server, page):
    page.goto(urljoin(server, "search.html?q=AdaGrad"))
    results = page.locator("#search-results li")
    results.first.wait_for(timeout=30_000)
    found = page.eval_on_selector_all("#search-results li a",
                                      "links => links.map(a => a.getAttribute('href'))")
    assert any("03-adam" in href for href in found), found
    assert page.console_errors == [] and page.other_hosts == []
