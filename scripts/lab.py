"""Start JupyterLab the way the series is meant to be read: ``make lab`` runs this.

It serves the repository's root (so that the index's links to ``../exercises/…``, and
README.md, INSTRUCTORS.md and data/README.md in the file browser, all resolve) and opens
``notebooks/00-index.ipynb``. It listens on 127.0.0.1 only, with the token Jupyter
generates (the URL it prints carries it).

It also turns off JupyterLab's news pop-up ("Would you like to receive official Jupyter
news?"), which would cover the index on first start and asks to reach the internet: a
default in the environment's ``share/jupyter/lab/settings/overrides.json``, which a
student can still change in Settings. Binder's postBuild runs ``--settings-only``.
tests/test_browser.py starts JupyterLab with ``lab_command`` and ``write_settings`` from
here, so the test opens the series exactly as this serves it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_PAGE = "notebooks/00-index.ipynb"
# JupyterLab's notification plugin: "false" = never fetch news, and never ask.
NEWS_OFF = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}


def overrides_file(prefix: str | Path = sys.prefix) -> Path:
    """Where JupyterLab reads an environment's default settings."""
    return Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def write_settings(prefix: str | Path = sys.prefix) -> Path:
    """Merge ``NEWS_OFF`` into the environment's overrides.json, keeping other entries."""
    path = overrides_file(prefix)
    settings = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if not isinstance(settings, dict):
        raise TypeError(f"{path} does not hold a JSON object; fix or remove it")
    for plugin, values in NEWS_OFF.items():
        settings.setdefault(plugin, {}).update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return path


def lab_command(root: str | Path = ROOT, *extra: str) -> list[str]:
    """The command line: JupyterLab on ``root``, opening the index, local only."""
    command = [sys.executable, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.root_dir={Path(root).resolve()}",
               f"--LabApp.default_url=/lab/tree/{FIRST_PAGE}"]
    # Some lab machines and containers run as root; Jupyter refuses without this flag.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command + list(extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start JupyterLab on the series' index.")
    parser.add_argument("--settings-only", action="store_true",
                        help="only write the environment's JupyterLab defaults (Binder)")
    args, extra = parser.parse_known_args(argv)
    write_settings()
    if args.settings_only:
        return 0
    command = lab_command(ROOT, *extra)
    os.execv(command[0], command)
    return 0   # not reached


if __name__ == "__main__":
    sys.exit(main())
