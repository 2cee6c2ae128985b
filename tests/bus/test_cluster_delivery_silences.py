"""Silences in kafka mode: ``newsmon silence add|list|expire`` read and write the
``<prefix>.silences`` topic, and every daemon of the group honours what is there from its
first send (a fresh daemon loads the topic before it sends anything)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from feedserver import FeedServer
from support.daemon import newsmon, until
from test_cluster_stories import PHASES, STORIES, scenario

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


async def test_a_silence_added_with_the_cli_mutes_every_daemons_receivers(
    tmp_path: Path, feed_server: FeedServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with scenario(tmp_path, feed_server, kafka_bootstrap, topic_prefix, hooks=2) as s:
        config = s.config(9)  # any daemon's config names the same topics
        code, out, err = await newsmon("silence", "add", "-c", str(config), "-m", "rule=naval",
                                       "--for", "1h", "--comment", "drill")  # fmt: skip
        assert code == 0, err
        silence_id = out.strip()
        code, out, err = await newsmon("silence", "list", "-c", str(config), "--json")
        assert code == 0, err
        (listed,) = [json.loads(line) for line in out.splitlines()]
        assert (listed["silence_id"], listed["matchers"], listed["active"]) == (
            silence_id, ["rule=naval"], True)  # fmt: skip

        for n in range(2):
            await s.start(n)
        await s.run_phases(range(1, PHASES + 1))
        muted = STORIES * (len(s.hooks) + 1)  # every story, at every receiver
        await until(lambda: s.logs().count("alert_muted") >= muted, "every alert muted", 120)
        await s.stop_all()
        assert [a for h in s.hooks for a in s.receivers.alerts(h, None)] == []
        assert s.file_alerts() == []
        assert s.logs().count(f"silence={silence_id}") == muted

        code, _, err = await newsmon("silence", "expire", "-c", str(config), silence_id)
        assert code == 0, err
        code, out, _ = await newsmon("silence", "list", "-c", str(config))
        assert out == ""  # over: listed with --all only
        code, out, _ = await newsmon("silence", "list", "-c", str(config), "--all")
        assert silence_id in out and " over " in out
