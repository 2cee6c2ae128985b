"""The web desk in kafka mode: its actions go where the group looks.

A silence made (and expired) through one daemon's API is published to
``<prefix>.silences`` and honoured by the daemon that delivers to the receiver, another
one; a retry is taken by the daemon delivering to the alert's receiver (its outbox
writes the requeue to the delivery changelog) and refused by the others. Two daemons
on Apache Kafka, the receivers real HTTP servers; the assertions are on what reached them.
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from feedserver import FeedServer
from support.daemon import Daemon, until
from test_cluster_stories import STORIES, Receivers, Scenario, headline, port_of, scenario

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ASSIGNED = re.compile(r"partitions_assigned role=delivery partitions=\[[^\]]*\] receivers=(\S*)")
EARLY = {i for i in range(STORIES) if i % 3 < 2}  # first seen in phases 1-2
LATE = {i for i in range(STORIES) if i % 3 == 2}  # first seen in phase 3


async def call(daemon: Daemon, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """``method path`` on the daemon's API (loopback: no token; a POST is JSON)."""
    url = f"http://127.0.0.1:{port_of(daemon)}{path}"
    timeout = aiohttp.ClientTimeout(total=60)
    async with (aiohttp.ClientSession(timeout=timeout) as session,
                session.request(method, url, json=body) as r):  # fmt: skip
        return r.status, await r.json()


async def ready(daemon: Daemon) -> bool:
    url = f"http://127.0.0.1:{port_of(daemon)}/readyz"
    try:
        async with (aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
                    session.get(url) as r):  # fmt: skip
            return r.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 120) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not await check():
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise TimeoutError(f"gave up waiting for {what} after {timeout:g}s") from None


def delivering(daemon: Daemon) -> set[str]:
    """The receivers the daemon's delivery role was last given (its log says)."""
    found = ASSIGNED.findall(daemon.log())
    return set(filter(None, found[-1].split(","))) if found else set()


async def owner_and_other(s: Scenario, receiver: str) -> tuple[Daemon, Daemon]:
    """Both daemons ready and the group settled: (the one delivering to ``receiver``,
    the other)."""
    d0, d1 = s.daemons

    async def settled() -> bool:
        return (all([await ready(d) for d in (d0, d1)])
                and (receiver in delivering(d0)) != (receiver in delivering(d1)))  # fmt: skip

    await eventually(settled, f"both daemons ready, {receiver} delivered by one")
    return (d0, d1) if receiver in delivering(d0) else (d1, d0)


def titled(alert: dict[str, Any], stories: set[int]) -> bool:
    return any(headline(i)[0] in alert["title"] for i in stories)


async def muted_posts(daemon: Daemon, receiver: str) -> set[str]:
    """Story ids whose first alert to ``receiver`` the daemon's outbox holds as muted."""
    _, got = await call(daemon, "GET", f"/api/alerts?state=muted&receiver={receiver}&limit=1000")
    return {a["story_id"] for a in got["alerts"] if a["kind"] == "alert"}


async def listed(daemon: Daemon, silence_id: str) -> bool:
    _, got = await call(daemon, "GET", "/api/silences")  # those in force
    return silence_id in {s["silence_id"] for s in got["silences"]}


async def test_a_silence_made_on_one_daemons_desk_mutes_what_another_daemon_delivers(
    tmp_path: Path, feed_server: FeedServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with scenario(tmp_path, feed_server, kafka_bootstrap, topic_prefix) as s:
        (hook,) = s.hooks
        for n in range(2):
            await s.start(n)
        owner, desk = await owner_and_other(s, hook)
        silence = {"matchers": ["rule=naval"], "duration": "1h", "author": "ana",
                   "comment": "drill"}  # fmt: skip
        status, made = await call(desk, "POST", "/api/silences", silence)
        assert (status, made["state"]) == (201, "active"), made
        silence_id = made["silence_id"]
        assert await listed(desk, silence_id)  # the desk's next page shows it
        await eventually(lambda: listed(owner, silence_id), "the owner to load the silence")

        await s.run_phases(range(1, 3))  # the stories first seen in phases 1-2

        async def all_muted() -> bool:
            return len(await muted_posts(owner, hook)) >= len(EARLY)

        await eventually(all_muted, f"{len(EARLY)} first alerts muted at {hook}")
        assert s.receivers.alerts(hook, None) == []  # no alert, no update went out
        # the daemon delivering to the receiver muted them, with the silence made elsewhere
        assert re.search(rf"alert_muted receiver={hook} .*silence={silence_id}", owner.log())
        muted = await muted_posts(owner, hook)

        status, gone = await call(desk, "DELETE", f"/api/silences/{silence_id}")
        assert (status, gone["state"]) == (200, "expired"), gone
        assert not await listed(desk, silence_id)

        async def expired_there() -> bool:
            return not await listed(owner, silence_id)

        await eventually(expired_there, "the owner to see the silence expired")
        await s.run_phases(range(3, 5))  # the stories first seen in phase 3
        await until(lambda: len({a["story_id"] for a in s.receivers.alerts(hook)}) >= len(LATE),
                    f"the new stories posted to {hook}", 120)  # fmt: skip
        await s.stop_all()
        posts = s.receivers.alerts(hook)
        assert len({a["story_id"] for a in posts}) == len(LATE)
        assert not {a["story_id"] for a in posts} & muted
        assert all(titled(a, LATE) and not titled(a, EARLY) for a in posts), posts


class Refusing(Receivers):
    """Webhook receivers that answer 400 (given up on at once: dead) while ``refuse``."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse = True
        self.refused = 0

    async def _handle(self, request: web.Request) -> web.Response:
        if self.refuse:
            await request.read()
            self.refused += 1
            return web.Response(status=400, text="bad channel")
        return await super()._handle(request)


async def test_a_dead_alert_is_retried_by_the_daemon_delivering_to_its_receiver_only(
    tmp_path: Path, feed_server: FeedServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with Refusing() as receivers:
        s = Scenario(tmp_path, feed_server, receivers, kafka_bootstrap, topic_prefix)
        try:
            await _retry_scenario(s, receivers)
        finally:
            await asyncio.gather(*(d.stop(signal.SIGKILL) for d in s.daemons))


async def _retry_scenario(s: Scenario, receivers: Refusing) -> None:
    (hook,) = s.hooks
    for n in range(2):
        await s.start(n)
    owner, other = await owner_and_other(s, hook)
    await s.run_phases(range(1, 2))
    early = {i for i in range(STORIES) if i % 3 == 0}  # first seen in phase 1

    async def dead() -> bool:
        _, got = await call(owner, "GET", f"/api/alerts?state=dead&receiver={hook}")
        return len([a for a in got["alerts"] if a["kind"] == "alert"]) >= len(early)

    await eventually(dead, f"{len(early)} first alerts dead at {hook}")
    _, got = await call(owner, "GET", f"/api/alerts?state=dead&receiver={hook}")
    first = next(a for a in got["alerts"] if a["kind"] == "alert")
    assert first["retryable"] and receivers.alerts(hook, None) == []

    status, refused = await call(other, "POST", f"/api/alerts/{first['alert_id']}/retry", {})
    assert status in (404, 409) and "kafka mode" in refused["message"], refused
    receivers.refuse = False
    status, retried = await call(owner, "POST", f"/api/alerts/{first['alert_id']}/retry", {})
    assert (status, retried["state"]) == (200, "pending"), retried
    await until(lambda: receivers.alerts(hook), f"the retried alert at {hook}", 60)
    await s.stop_all()
    (sent,) = receivers.alerts(hook, None)  # that one only: the other dead ones stay dead
    assert sent["alert_id"] == first["alert_id"] and titled(sent, early)
