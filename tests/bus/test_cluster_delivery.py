"""Acceptance (issue 11): SIGKILL the daemon delivering to a slow receiver mid-run: a
survivor takes the receiver over from Kafka and sends what was pending; nothing is lost,
and what reaches the receiver twice is only what the dead daemon had begun sending and
could not record (counted: ``newsmon_deliveries_resent_total``)."""

from __future__ import annotations

import time
from pathlib import Path

from feedserver import FeedServer
from support.daemon import Daemon, until
from test_cluster_stories import (
    PHASES,
    STORIES,
    duplicates,
    metric,
    port_of,
    scenario,
)

SLOW = 0.4  # seconds the receiver takes to answer each request


def took_over(daemon: Daemon, after: int, receiver: str) -> bool:
    """Whether ``daemon`` logged taking over ``receiver`` in its log after char ``after``."""
    return any(
        "takeover role=delivery" in line
        and receiver in line.split("receivers=")[-1].split(" ")[0].split(",")
        for line in daemon.log()[after:].splitlines()
    )


def holder(daemons: list[Daemon], receiver: str) -> Daemon | None:
    """The one running daemon whose last delivery assignment holds ``receiver``."""
    found = []
    for d in daemons:
        lines = [line for line in d.log().splitlines()
                 if "partitions_assigned role=delivery" in line]  # fmt: skip
        if d.running and lines and receiver in lines[-1].split("receivers=")[-1].split(","):
            found.append(d)
    return found[0] if len(found) == 1 else None


async def test_sigkill_of_the_slow_receivers_owner_loses_nothing_and_counts_its_window(
    tmp_path: Path, feed_server: FeedServer, kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with scenario(tmp_path, feed_server, kafka_bootstrap, topic_prefix, delay=SLOW) as s:
        hook = s.hooks[0]
        for n in range(3):
            await s.start(n)
        await s.run_phases([1, 2])
        await until(lambda: len(s.receivers.alerts(hook)) >= 8, "the first alerts sent", 90)
        await until(lambda: holder(s.daemons, hook) is not None, "one owner of the receiver")
        victim = holder(s.daemons, hook)
        assert victim is not None
        survivors = [d for d in s.daemons if d is not victim]
        marks = {id(d): len(d.log()) for d in survivors}
        sent_before = len(s.receivers.alerts(hook))
        killed = time.monotonic()
        await victim.kill()

        await until(lambda: any(took_over(d, marks[id(d)], hook) for d in survivors),
                    "a survivor taking the receiver over", 120)  # fmt: skip
        takeover = time.monotonic() - killed
        await s.run_phases(range(3, PHASES + 1))
        await until(s.everything_posted, "every story posted to every receiver", 180)
        resent = sum(
            [await metric(port_of(d), "newsmon_deliveries_resent_total") for d in survivors]
        )
        await s.stop_all()

        got = s.receivers.alerts(hook, None)
        after = [t for name, _, t in s.receivers.got if name == hook and t > killed]
        posts = s.receivers.alerts(hook)
        repeated = sum(n - 1 for n in duplicates(got).values())
        in_files = sum(n - 1 for n in duplicates(s.file_alerts()).values())
        print(
            f"\nSIGKILL of {hook}'s owner after {sent_before} of {STORIES} posts:"
            f" takeover (kill -> survivor's log) {takeover:.1f}s, first send after the kill"
            f" {(min(after) - killed) if after else float('nan'):.1f}s; {len(posts)} posts for"
            f" {len({a['story_id'] for a in posts})} stories, {repeated} repeated"
            f" (and {in_files} by the file receiver),"
            f" resent (counted) {resent:g}"
        )
        assert {a["story_id"] for a in posts} == {a["story_id"] for a in s.posted()["desk-file"]}
        assert len({a["story_id"] for a in posts}) == STORIES  # 0 lost
        assert repeated + in_files <= resent  # a repeat only where the window is, and counted
