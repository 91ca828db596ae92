"""Sphinx configuration of the series' static site (`make site`).

Built by scripts/build_site.py from build/site-src, a copy of what is published, laid out
as in the repository: notebooks/NN-*.ipynb with their committed outputs (never executed
here), the copies without outputs in notebooks/student/ (download links only) and the
students' exercises in exercises/release/. Sphinx + MyST-NB, with sphinx-book-theme
for its Binder and download buttons; everything a page loads is served from the site
itself (MathJax 3 from site/node_modules, no web fonts), so it reads offline.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import tomllib
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from docutils import nodes
from sphinx import addnodes
from sphinx.util import logging

SITE = Path(__file__).resolve().parent
ROOT = SITE.parent
# Where scripts/build_site.py puts MathJax's files (as mathjax/...): served as _static/mathjax.
MATHJAX_STAGE = ROOT / "build" / "site-mathjax"
# The copies without outputs: linked from the index as downloads, not pages of their own.
STUDENT_COPIES = "notebooks/student"

logger = logging.getLogger(__name__)


def repository_url() -> str:
    """The repository's address, from its one place: [project.urls] in pyproject.toml."""
    with open(ROOT / "pyproject.toml", "rb") as file:
        project = tomllib.load(file)["project"]
    url = project.get("urls", {}).get("Repository")
    parts = urlsplit(url.rstrip("/") if isinstance(url, str) else "")
    if parts.scheme != "https" or parts.netloc != "github.com" or parts.path.count("/") != 2:
        raise ValueError(f"pyproject.toml: [project.urls] Repository must be "
                         f"'https://github.com/OWNER/REPO' (Binder's links are built from it), "
                         f"got {url!r}")
    return url.rstrip("/")


if not (MATHJAX_STAGE / "mathjax" / "tex-chtml.js").is_file():
    raise FileNotFoundError(f"no MathJax in {MATHJAX_STAGE}: build the site with `make site` "
                            f"(scripts/build_site.py copies it there from site/node_modules)")


REPOSITORY = repository_url()
# The version the Binder and repository links open: HEAD, or the tag a course teaches
# from (CHANGELOG.md: `SITE_REF=v1.0.0 make site`).
GIT_REF = os.environ.get("SITE_REF", "HEAD")
if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}", GIT_REF) or ".." in GIT_REF:
    raise ValueError(f"SITE_REF must be a git branch, tag or commit such as 'v1.0.0', "
                     f"got {GIT_REF!r}")

project = "SGD's frequency bias, and how Adam fixes it"
author = "the series' authors"
copyright = "2026, the series' authors"
# Two licences (README, "Licence"), said on every page; the full texts are LICENSE and
# LICENSES/CC-BY-4.0.txt in the repository (links, not resources: the page loads nothing).
LICENCE_FOOTER = (
    "<p>Text and figures: "
    '<a href="https://creativecommons.org/licenses/by/4.0/">CC BY 4.0</a>. '
    "Code (the helpers package, scripts, the notebooks' code cells): "
    '<a href="https://opensource.org/license/mit">MIT licence</a>.</p>')
language = "en"

extensions = ["myst_nb", "sphinx_external_toc"]
external_toc_path = str(SITE / "_toc.yml")
# Anything in the source folder that the table of contents does not name is no page
# (the student copies, which the index links to as downloads).
external_toc_exclude_missing = True

# The committed outputs are the site's outputs: nothing is re-executed.
nb_execution_mode = "off"
# Outputs in Markdown (the tables of helpers.make_table) are parsed like the notebooks'
# own text, tables included (CommonMark, MyST-NB's default, has none).
nb_render_markdown_format = "myst"
myst_enable_extensions = ["dollarmath"]

html_theme = "sphinx_book_theme"
html_title = "SGD's frequency bias, and how Adam fixes it"
html_static_path = [str(MATHJAX_STAGE), "_static"]
html_css_files = ["series.css"]
# Without an icon of its own, every browser asks the server for /favicon.ico (a 404).
html_favicon = "favicon.svg"
# Overrides of the theme's templates, each for an accessibility finding it names.
templates_path = ["_templates"]
# The download button serves the notebook itself (_sources/<page>.ipynb), not a .txt copy.
html_sourcelink_suffix = ""
html_show_sphinx = False
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": GIT_REF,
    # The source folder mirrors the repository, so a page's path is its path there.
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "launch_buttons": {
        "binderhub_url": "https://mybinder.org",
        "notebook_interface": "jupyterlab",
    },
    "home_page_in_toc": True,
    "extra_footer": LICENCE_FOOTER,
    # No right-hand "contents" column: the figures need that width (site/_static/series.css);
    # a page's sections are in the left navigation.
    "secondary_sidebar_items": [],
    "show_toc_level": 2,
}
# Light or dark as the reader's system asks (unset, the theme says so in the console).
html_context = {"default_mode": "auto"}

# MathJax 3 from the site itself (pinned in site/package-lock.json): no CDN.
mathjax_path = "mathjax/tex-chtml.js"


def _png_alt_texts(notebook: Path) -> dict[str, str]:
    """Alt text of each PNG output, keyed as MyST-NB names the image file (sha256 of
    its bytes). helpers.plotting.show_figure stores it in the output's metadata,
    ``metadata["image/png"]["alt"]``, which MyST-NB does not read."""
    alts: dict[str, str] = {}
    content = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in content.get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get("image/png")
            if data is None:
                continue
            if isinstance(data, list):
                data = "".join(data)
            try:
                digest = hashlib.sha256(base64.b64decode(data)).hexdigest()
            except binascii.Error:
                continue
            alt = output.get("metadata", {}).get("image/png", {}).get("alt", "")
            if alts.get(digest, alt) != alt:
                logger.warning(f"{notebook}: one image carries two alt texts: "
                               f"{alts[digest]!r} and {alt!r}")
            alts[digest] = alt
    return alts


def add_figure_alt_text(app, doctree) -> None:
    """Give each notebook figure its alt text: ``<img alt>`` is what screen readers say."""
    source = Path(app.env.doc2path(app.env.docname))
    if source.suffix != ".ipynb":
        return
    alts = _png_alt_texts(source)
    for image in doctree.findall(nodes.image):
        digest = PurePosixPath(image["uri"]).stem
        if digest not in alts:
            continue
        if alts[digest].strip():
            image["alt"] = alts[digest]
        else:
            logger.warning(f"a figure in {source.name} has no alt text: draw it with "
                           f"helpers.plotting.show_figure(fig, alt=...)",
                           location=image)


def student_copies_as_downloads(app, doctree) -> None:
    """The index's links to the copies without outputs (notebooks/student/*.ipynb): these
    are not pages, so MyST leaves them as references to documents that do not exist;
    make them downloads of the notebook file instead."""
    env = app.env
    for reference in list(doctree.findall(addnodes.pending_xref)):
        if reference.get("refdomain") != "doc" or reference.get("reftype") != "myst":
            continue
        target = reference["reftarget"]
        if target in env.found_docs or not target.startswith(STUDENT_COPIES + "/"):
            continue
        path = Path(app.srcdir, target + ".ipynb")
        if not path.is_file():
            continue
        download = addnodes.download_reference(
            "", "", refdomain=None, reftype="myst", refexplicit=True,
            refdoc=env.docname, reftarget="/" + target + ".ipynb")
        download.extend(reference.children)
        reference.replace_self(download)


def setup(app):
    # Before Sphinx's own collectors (priority 500), which register the download files.
    app.connect("doctree-read", student_copies_as_downloads, priority=400)
    app.connect("doctree-read", add_figure_alt_text)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
