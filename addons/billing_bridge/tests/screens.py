"""Screens opened in a real browser (headless Chromium), as a user sees them."""

import base64
import os
import unittest
from concurrent.futures import CancelledError
from pathlib import Path

from odoo.tests.common import ChromeBrowser, _find_executable

from .skips import skip_or_fail

NO_BROWSER = (
    "no Chrome or Chromium found in PATH: the browser tests are skipped. Install the "
    "Debian package chromium (scripts/test does it when it runs as root)."
)
SCREEN_SIZE = "1366x768"
SETTLE_MS = 1000


def require_browser():
    try:
        _find_executable()  # the lookup Odoo's own browser tests use
    except unittest.SkipTest:
        skip_or_fail(NO_BROWSER)


class ScreenMixin:
    """For ``HttpCase``: open a screen, wait until it shows, save it when asked to.

    Set BB_SCREENSHOTS to a folder (the README's are in docs/screenshots) to save the
    screens there as ``<name>.png``.
    """

    browser_size = SCREEN_SIZE

    def open_screen(self, name, url, ready_selector, login, only_for_screenshots=False):
        """Open ``url`` as ``login`` and fail unless ``ready_selector`` shows.

        ``only_for_screenshots``: skip the screen when no screenshot is asked for.
        """
        folder = os.environ.get("BB_SCREENSHOTS")
        if only_for_screenshots and not folder:
            return
        # Ready when the selector shows and nothing loads; then let charts finish drawing.
        ready = (f"document.querySelector({ready_selector!r})"
                 " && !document.querySelector('.o_loading_indicator, .o_blockUI')"
                 f" && new Promise((resolve) => setTimeout(() => resolve(true), {SETTLE_MS}))")
        browser = ChromeBrowser(self)
        try:
            self.authenticate(login, login, browser=browser)  # test users: password = login
            browser.navigate_to(f"{self.base_url()}{url}", wait_stop=True)
            self.assertTrue(browser._wait_ready(ready, timeout=30),
                            f"{ready_selector} never showed on {url}")
            self.assertFalse(_browser_errors(browser), f"JavaScript errors on {url}")
            shot = browser._websocket_request("Page.captureScreenshot", timeout=30) \
                if folder else None
        finally:
            browser.stop()
            self._wait_remaining_requests()
        if shot:
            path = Path(folder) / f"{name}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(shot["data"]))


def _browser_errors(browser):
    """The page's console errors and uncaught exceptions so far (Odoo's browser records
    them, but only its tour and browser_js runners look)."""
    result = browser._result
    if browser.had_failure:
        return True
    try:
        return result.done() and result.exception() is not None
    except CancelledError:
        return False
