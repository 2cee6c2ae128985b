"""ParsePool's worker protocol: a socket per worker process, frames both ways.

(The deadlines, a runaway's kill and admission are in test_parse.py.)"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from monitor.config import FeedConfig
from monitor.errors import ParseError
from monitor.sources.parse import parse_and_normalise
from monitor.sources.pool import ParsePool
from monitor.sources.worker import dumps

FIXTURES = Path(__file__).parent.parent / "fixtures"
FEED = FeedConfig(url="https://feeds.example/defence.xml", name="defence")
SEEN = datetime(2024, 3, 2, 12, 0, tzinfo=UTC)


def test_items_travel_by_their_fields_and_arrive_equal() -> None:
    parsed = parse_and_normalise((FIXTURES / "feeds" / "rss2.xml").read_bytes(), {}, FEED, SEEN)
    assert parsed.items
    assert pickle.loads(dumps(parsed)) == parsed
    assert b"_dataclass_setstate" not in dumps(parsed)


async def test_an_answer_bigger_than_one_read_arrives_whole() -> None:
    async with ParsePool(workers=1) as pool:
        big = await pool.run(partial(bytes, 3_000_000))  # type: ignore[arg-type]
        assert big == bytes(3_000_000)
        assert await pool.run(partial(len, "after")) == 5  # type: ignore[arg-type]


async def test_jobs_on_two_workers_each_get_their_own_answer() -> None:
    async with ParsePool(workers=2) as pool:
        jobs = [pool.run(partial(str, n)) for n in range(40)]  # type: ignore[arg-type]
        assert await asyncio.gather(*jobs) == [str(n) for n in range(40)]


async def test_a_worker_killed_while_idle_costs_one_parse_crash_then_recovers() -> None:
    async with ParsePool(workers=1) as pool:
        assert await pool.run(partial(int, "1")) == 1  # type: ignore[arg-type]
        (worker,) = pool._live
        assert worker.process is not None and worker.process.pid is not None
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join(10)
        with pytest.raises(ParseError) as caught:
            await pool.run(partial(int, "2"))  # type: ignore[arg-type]
        assert caught.value.reason == "parse_crash"
        assert await pool.run(partial(int, "3")) == 3  # type: ignore[arg-type]


async def test_a_jobs_own_error_comes_back_as_itself() -> None:
    async with ParsePool(workers=1) as pool:
        with pytest.raises(ValueError, match="invalid literal"):
            await pool.run(partial(int, "x"))  # type: ignore[arg-type]
        with pytest.raises(ParseError) as caught:
            await pool.run(partial(_memory_error))  # type: ignore[arg-type]
        assert caught.value.reason == "parse_crash" and "out of memory" in str(caught.value)
        assert await pool.run(partial(int, "4")) == 4  # type: ignore[arg-type]


def _memory_error() -> None:
    raise MemoryError


async def test_the_workers_end_with_the_pool() -> None:
    async with ParsePool(workers=2) as pool:
        await asyncio.gather(*(pool.run(partial(int, "5")) for _ in range(4)))  # type: ignore[arg-type]
        processes = [w.process for w in pool._live if w.process is not None]
        assert len(processes) == 2 and all(p.is_alive() for p in processes)
    assert not any(p.is_alive() for p in processes)


async def test_a_worker_that_has_not_started_is_started_by_its_first_job_only() -> None:
    async with ParsePool(workers=3) as pool:
        assert await pool.run(partial(int, "6")) == 6  # type: ignore[arg-type]
        started = [w for w in pool._live if w.process is not None]
        assert len(started) == 1
