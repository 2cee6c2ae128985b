from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from feedserver import FeedServer
from kafka_broker import ApacheKafka, Tansu, external, new_broker

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


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One broker for the session: KAFKA_BOOTSTRAP_SERVERS if set, else one started here:
    Apache Kafka, or Tansu with NEWSMON_TEST_BROKER=tansu (tests/kafka_broker.py)."""
    if (servers := external()) is not None:
        yield servers
        return
    with new_broker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker.bootstrap


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[ApacheKafka | Tansu]:
    """A private broker for a test that pauses, stops or restarts it (started; closed after).
    Of the kind NEWSMON_TEST_BROKER names, whatever KAFKA_BOOTSTRAP_SERVERS says."""
    with new_broker(tmp_path / "kafka") as broker:
        yield broker
