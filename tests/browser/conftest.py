"""Real headless Chromium (Debian's package, driven by Playwright) against the proxy on loopback.

Chromium is skipped with a message when absent, except under ``CI=true`` where ``.ci/run``
installs it; how it is launched (the flags that keep it off the network) is in ``chromium.py``,
shared with the tracker benchmark.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.browser.chromium import CHROMIUM_FLAGS, chromium_binary


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = chromium_binary()
    if not os.access(path, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium is required under CI but {path} is missing")
        pytest.skip("Chromium not installed (apt-get install chromium); browser tests skipped")
    return path


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            await launched.close()
