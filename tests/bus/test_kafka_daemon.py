"""The daemon end to end with `bus: kafka`, and a SIGKILL between consuming and committing."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from feedserver import FeedServer
from kafka import KafkaConsumer, TopicPartition
from support.config import write_config
from support.daemon import newsmon
from support.samples import EXPECTED, serve_samples
from support.samples import read_alerts as alerts
from test_kafka import kafka_config

from monitor.bus.kafka import consumer_kwargs
from monitor.config import BusConfig

pytestmark = pytest.mark.kafka


def bus_yaml(bootstrap: str, prefix: str, commit_interval: str = "200ms") -> str:
    return (
        f"bus: {{kind: kafka, bootstrap_servers: ['{bootstrap}'], topic_prefix: {prefix},"
        f" group_id: {prefix}, partitions: 3, session_timeout: 6s, heartbeat_interval: 1s,"
        f" max_poll_interval: 10s, commit_interval: {commit_interval}}}"
    )


@asynccontextmanager
async def running(config: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """`newsmon run -c config`, logging to config.log (a pipe nobody reads could fill and
    stall it); SIGKILLed on the way out if still running, so a failed test leaves none."""
    with open(config.with_suffix(".log"), "ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor.cli", "run", "-c", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def sigterm(proc: asyncio.subprocess.Process, config: Path) -> None:
    """SIGTERM: the daemon drains and exits 0 (else fail with the end of its log)."""
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.wait(), 60)
    log = config.with_suffix(".log").read_text(encoding="utf-8", errors="replace")
    assert proc.returncode == 0, log[-3000:]


def offsets(config: BusConfig, topic: str, group: str | None) -> int:
    """Records in ``topic`` (group None), or the offsets ``group`` committed on it."""
    c = KafkaConsumer(**consumer_kwargs(config, f"{config.group_id}.{group}" if group else None))
    try:
        parts = [TopicPartition(f"{config.topic_prefix}.{topic}", p) for p in range(3)]
        if group is not None:
            return sum(c.committed(tp) or 0 for tp in parts)
        c.assign(parts)  # Tansu's ListOffsets(latest) is off for batched records: read them
        c.seek_to_beginning()
        n = 0
        while batch := c.poll(1000):
            n += sum(len(records) for records in batch.values())
        return n
    finally:
        c.close(autocommit=False)


async def test_once_with_kafka_writes_exactly_the_expected_alerts(
    tmp_path: Path, feed_server: FeedServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    extra = bus_yaml(kafka_bootstrap, topic_prefix)
    config = write_config(tmp_path, serve_samples(feed_server), extra=extra)
    code, _, err = await newsmon("run", "-c", str(config), "--once")
    assert code == 0, err
    got = alerts(tmp_path)
    assert {a["title"]: a["rules"] for a in got} == EXPECTED
    assert len(got) == len(EXPECTED)
    bus = kafka_config(kafka_bootstrap, topic_prefix)
    assert offsets(bus, "items", "rules") == offsets(bus, "items", None) > 0
    assert offsets(bus, "matches", "alerts") == offsets(bus, "matches", None) > 0


async def test_sigkill_before_commit_then_restart_delivers_everything_once(
    tmp_path: Path, feed_server: FeedServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    feeds = serve_samples(feed_server)
    slow = write_config(tmp_path, feeds, extra=bus_yaml(kafka_bootstrap, topic_prefix, "1h"))
    async with running(slow) as proc:
        # killed once every alert is out and in the sent log, its items consumed and never
        # committed. Not earlier: between a receiver taking an alert and the sent mark's
        # commit a crash sends that alert again (the one window deliver.py documents),
        # and a kill at the first alert seen landed there once in CI (7 alerts for 6)
        async with asyncio.timeout(60):
            while not (
                {a["title"] for a in alerts(tmp_path)} >= EXPECTED.keys()
                and {a["alert_id"] for a in alerts(tmp_path)} <= sent_ids(tmp_path)
            ):
                await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    bus = kafka_config(kafka_bootstrap, topic_prefix)
    assert offsets(bus, "items", None) > 0
    assert offsets(bus, "items", "rules") == 0  # consumed, never committed

    config = write_config(tmp_path, feeds, extra=bus_yaml(kafka_bootstrap, topic_prefix))
    async with running(config) as proc:
        await until_all_out(tmp_path, bus)
        await sigterm(proc, config)
    got = alerts(tmp_path)
    assert {a["title"]: a["rules"] for a in got} == EXPECTED
    again = {k: n for k, n in Counter(a["alert_id"] for a in got).items() if n > 1}
    assert len(got) == len(EXPECTED), again  # redelivered, absorbed by the sent log


def sent_ids(tmp_path: Path) -> set[str]:
    """The alert ids in the daemon's sent log (its state file, read beside it)."""
    path = tmp_path / "state.db"
    if not path.exists():
        return set()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {str(r[0]) for r in db.execute("SELECT alert_id FROM sent_alerts")}
    except sqlite3.OperationalError:  # the schema not made yet
        return set()
    finally:
        db.close()


async def until_all_out(tmp_path: Path, bus: BusConfig) -> None:
    """Every expected alert written and both stages committed up to what their topic holds
    now: items the killed daemon published but had not yet marked seen are published again
    (a crash republishes rather than loses), so no count taken before the restart is final."""
    async with asyncio.timeout(90):
        while not (
            {a["title"] for a in alerts(tmp_path)} >= EXPECTED.keys()
            and offsets(bus, "items", "rules") == offsets(bus, "items", None)
            and offsets(bus, "matches", "alerts") == offsets(bus, "matches", None)
        ):
            await asyncio.sleep(0.5)
