"""Headless Chromium for the browser tests (tests/test_browser.py, tests/test_site.py):
Debian's binary, driven by Playwright for Python, never a downloaded browser."""

from __future__ import annotations

import os
from contextlib import contextmanager

CHROMIUM = os.environ.get("BROWSER_TEST_CHROMIUM", "/usr/bin/chromium")
# Flags for a closed network (Chromium otherwise keeps trying to reach Google's servers)
# and for running as root (no sandbox).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@contextmanager
def launched():
    """A headless Chromium, closed (with Playwright) however the test ends."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def record_console_errors(page) -> list:
    """The page's console errors and uncaught exceptions, as they happen, in
    ``page.console_errors`` (returned too)."""
    page.console_errors = []
    page.on("console", lambda message: message.type == "error"
            and page.console_errors.append(message.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    return page.console_errors
