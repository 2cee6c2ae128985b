from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from feedserver import FeedServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per reason tests were skipped, even under -q: a test that skips for
    want of a tool (Debian's prometheus, systemd-analyze) must never pass unseen."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in sorted(reasons.items()):
        terminalreporter.write_line(f"skipped {count} test{'s' * (count != 1)}: {reason}")
