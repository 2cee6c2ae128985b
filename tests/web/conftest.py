from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


expect.set_options(timeout=60_000)  # ms: generous, the machine is shared (never a speed test)


def chromium() -> str:
    """Debian's chromium; skips locally, fails in CI (CI=1), naming the package."""
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path is None:
        message = "chromium not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium (the system one: Playwright downloads nothing)."""
    path = chromium()
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=path, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where a test saves its screenshots (under its tmp dir; never in git)."""
    path = tmp_path / "screenshots"
    path.mkdir()
    return path
