"""The web desk on Kafka (issue 11): the stories live in their owners' ``:memory:`` views,
yet every daemon's ``/api/stories`` lists every story, whoever owns its desk: each daemon
follows ``<prefix>.stories`` into its own state file (monitor.cluster.stories_view)."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from feedserver import FeedServer
from support.daemon import until
from test_cluster_stories import PHASES, STORIES, port_of, scenario
from test_cluster_stories_update import until_async

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


async def listed(port: int) -> set[str]:
    """The story ids daemon at ``port`` lists (every page of them)."""
    timeout = aiohttp.ClientTimeout(total=10)
    url = f"http://127.0.0.1:{port}/api/stories"
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, params={"limit": "500"}) as r,
    ):
        assert r.status == 200, await r.text()
        body = json.loads(await r.text())
    return {s["story_id"] for s in body["stories"]}


async def test_every_daemon_lists_every_story_whoever_owns_it(
    tmp_path: Path, feed_server: FeedServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with scenario(tmp_path, feed_server, kafka_bootstrap, topic_prefix) as s:
        for n in range(2):
            await s.start(n)
        await s.run_phases(range(1, PHASES + 1))
        await until(s.everything_posted, "every story posted", 120)
        posted = {a["story_id"] for a in s.posted()["desk-file"]}
        assert len(posted) == STORIES
        ports = [port_of(d) for d in s.daemons]

        async def both_list_them() -> bool:
            return all([posted <= await listed(p) for p in ports])

        await until_async(both_list_them, "every story listed by both daemons", 60)
        one = sorted(posted)[0]
        for port in ports:  # a story's page, its members from the changelog too
            url = f"http://127.0.0.1:{port}/api/stories/{one}"
            async with aiohttp.ClientSession() as session, session.get(url) as r:
                assert r.status == 200
                assert json.loads(await r.text())["members"]
        await s.stop_all()
